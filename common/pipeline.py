"""One run of a demo, from validated arguments to a finished run folder:

    data (world sample or --data table) -> split -> model (train | --resume | --load)
        -> evaluate against the truth -> figures -> run folder -> summary

The demo scripts own their world and their extra figures; everything else happens here, once.
Heavy libraries are imported inside the functions, after the command line has been parsed.
Exit codes: 0 done, 1 training diverged, 2 bad input, 130 interrupted (Ctrl-C or SIGTERM).
"""

import os
import sys
import time

MAX_UPDATES_PER_EPOCH = 1000  # above it the default batch doubles (default_batch_size)


def default_batch_size(n_rows, preferred):
    """The batch size when --batch-size is not given: `preferred`, but at least 8 steps per epoch on
    small tables (never fewer than 16 rows), and on big data doubled until an epoch takes at most
    MAX_UPDATES_PER_EPOCH steps. Measured on a million disease rows, 5 epochs, seeds 0-2 (README):
    batch 256 takes 78 s, 1024 takes 60 s, with the same NLL gap (<= 0.001) and ARI (0.999 of Bayes)."""
    batch = min(preferred, max(16, n_rows // 8))
    while n_rows > MAX_UPDATES_PER_EPOCH * batch:
        batch *= 2
    return batch


def run(world, args, parser, extra_figures=None, extra_metrics=None, extra_summary=None):
    """Run the demo described by `args` on `world`; return the process exit code.

    extra_metrics(model=, train=, test=, mixture=, device=), when given, returns a dict of the demo's own
    numbers for metrics.json; extra_figures(out, draw=, world=, model=, test=, z_test=, device=) sends its
    figures to draw(plot, *args) (common.speed.painter: plot must be importable, its arguments plain numbers);
    extra_summary(metrics) returns more lines for the printed summary.
    """
    started = time.perf_counter()
    import numpy as np
    import torch

    from common import cli, evaluate, figures, runio
    from common.baselines import fit_mixture
    from common.speed.allocator import keep_freed_memory
    from common.speed.painter import Painter
    from common.train import Diverged, Interrupted, StopRequest
    from common.world import split

    device = cli.resolve_device(parser, args.device)
    cli.limit_threads(device, world.n_features, args.hidden_dim)
    keep_freed_memory()  # common/speed/allocator.py: 10-15% of a GMVAE's step went to page faults
    if args.noise == "flip" and world.likelihood != "bernoulli":
        parser.error("argument --noise: flip needs binary features; use dropout")
    torch.manual_seed(args.seed)  # the one seeding block: torch for the model, numpy for the data
    rng = np.random.default_rng(args.seed)

    world, data = _data(world, args, parser, rng)
    if args.clusters is None and world.n_classes == 0:  # a table without labels: let the data say K
        args.clusters = "auto"
    train, test = split(data, args.test_fraction, rng)
    _check_sizes(parser, args, world, train, len(data))
    if args.batch_size is None:
        args.batch_size = default_batch_size(len(train), args.default_batch_size)
    if getattr(args, "standardize", False):
        train, test = _standardized(train, test)
    checkpoint = _checkpoint(world, args, parser)
    x_train = torch.as_tensor(train.x, dtype=torch.float32, device=device)
    x_test = torch.as_tensor(test.x, dtype=torch.float32, device=device)
    x_fit, x_valid = x_train, x_test
    if args.model == "cvae":  # a conditional model trains on rows that carry their label
        from common.models import with_labels

        x_fit = with_labels(x_train, torch.as_tensor(train.labels, device=device), world.n_classes)
        x_valid = with_labels(x_test, torch.as_tensor(test.labels, device=device), world.n_classes)
    # config.json goes in with the run's other files. Into an empty folder it goes now as well, to say
    # what the folder is for; over an earlier run it waits, so that a run failing before it has
    # anything to save leaves the earlier run's files consistent (not its metrics under new flags).
    run_config = {**vars(args), "demo": world.name, "device": device}
    if not os.path.exists(path(args, "metrics.json")):
        runio.write_json(path(args, "config.json"), run_config)

    labelled = world.n_classes > 0
    metrics = {
        "demo": world.name,
        "model": args.model,
        "argv": args.argv,
        "seed": args.seed,
        "status": "completed",
        "data": {
            "source": "synthetic" if world.has_truth else f"csv: {args.data}",
            "n_train": len(train),
            "n_test": len(test),
            "n_features": world.n_features,
            "n_classes": world.n_classes,
        },
    }
    if args.load:
        metrics["loaded_from"] = args.load
    if args.resume:
        metrics["resumed_with"] = args.resumed_with

    # The classical mixture is both a baseline and the gmvae's starting point: fit it once.
    n_mixture = world.n_classes if labelled else (args.clusters if isinstance(args.clusters, int) else 4)
    mixture = fit_mixture(train.x, n_mixture, world.likelihood, args.seed)

    with Painter(args.visualize) as painter, StopRequest() as stop:
        train_started = time.perf_counter()
        try:
            model, history, state, metrics_extra = _model(
                args, world, train, x_fit, x_valid, mixture, checkpoint, stop
            )
        except Diverged as err:
            # The model holds the last good weights: keep them and say what went wrong and what to try.
            _save_stopped(
                args,
                world,
                err.model,
                err.history,
                None,
                metrics,
                run_config,
                status="diverged",
                epoch=err.epoch,
            )
            print(
                f"{parser.prog}: error: training diverged in epoch {err.epoch} (the loss became NaN or "
                f"infinite); try a lower --lr (now {args.lr})"
                + (f" or --beta (now {args.beta})" if args.beta > 1 else ""),
                file=sys.stderr,
            )
            return 1
        except Interrupted as err:
            return _interrupted(args, world, err.model, err.history, err.state, metrics, run_config, parser)
        train_seconds = time.perf_counter() - train_started
        metrics.update(metrics_extra)
        if stop.requested:  # the signal came after the last batch: keep the trained model, skip the rest
            return _interrupted(args, world, model, history, state, metrics, run_config, parser)

        try:  # a second Ctrl-C or SIGTERM here (the first lets the evaluation finish) keeps the model
            # Recovery of the hidden cause, beside the Bayes-optimal classifier that knows the world.
            metrics["test"] = {}  # filled below, after the figures are on their way: it keeps its place
            z_test = evaluate.latent_codes(model, x_test)
            clusters, method = _clusters(args, world, model, x_train, x_test, z_test, metrics)
            if labelled:
                metrics["recovery"] = {**evaluate.recovery(test.labels, clusters), "method": method}
                if world.has_truth:
                    metrics["recovery"].update(evaluate.bayes_recovery(world, test))
                if model.kind == "gmvae":  # the class each cluster stands for, by matching on held-out rows
                    matched = evaluate.cluster_to_class(test.labels, clusters)
                    metrics["clusters"]["matched_class"] = [
                        world.class_names[matched[c]] if matched.get(c, -1) >= 0 else None
                        for c in range(model.n_clusters)
                    ]
                if model.kind == "cvae":  # classification, not discovery: no matching of clusters to classes
                    metrics["recovery"].update(
                        supervised=True, accuracy=float(np.mean(clusters == test.labels))
                    )

            # The figures go to the painter's second process now, to be drawn while this one evaluates.
            # Their own random draws (generated rows, decoded clusters) leave the run's stream untouched.
            if args.visualize and not stop.requested:
                with torch.random.fork_rng(devices=[] if device == "cpu" else None):
                    figures.shared(
                        painter.draw,
                        args.out,
                        world,
                        model,
                        history,
                        test,
                        z_test,
                        clusters,
                        metrics,
                        device,
                        train=train,
                    )
                    if extra_figures is not None:
                        extra_figures(
                            args.out,
                            draw=painter.draw,
                            world=world,
                            model=model,
                            test=test,
                            z_test=z_test,
                            device=device,
                        )

            # Held-out likelihood, against the world's exact log-likelihood when there is a world.
            if model.has_likelihood:
                metrics["test"] = evaluate.held_out_likelihood(model, x_test, args.iw_samples)
                if world.has_truth:
                    true_nll = float(-world.reference_log_prob(test.x).mean())  # what the likelihood covers
                    metrics["test"].update(true_nll=true_nll, nll_gap=metrics["test"]["nll"] - true_nll)
            recon = evaluate.reconstruction(model, x_test, world.feature_names, world.likelihood)
            if recon:  # one held-out row, or no feature with both values in them: nothing to score
                metrics["test"]["recon"] = recon
            metrics["baselines"] = evaluate.baselines(
                train, test, n_mixture, world.likelihood, args.seed, mixture=mixture, labelled=labelled
            )
            if extra_metrics is not None:
                metrics.update(
                    extra_metrics(model=model, train=train, test=test, mixture=mixture, device=device)
                )

            interpret_seconds = None
            if args.interpret:
                from common.interpret import interpret

                interpret_started = time.perf_counter()
                names = _cluster_names(world, model, test, clusters)
                table, metrics["interpret"], traversals = interpret(model, world, test, z_test, device, names)
                runio.write_csv(path(args, "interpret.csv"), table)
                interpret_seconds = time.perf_counter() - interpret_started
                if args.visualize and not stop.requested:
                    figures.interpretation(painter.draw, args.out, world, metrics["interpret"], traversals)
        except KeyboardInterrupt:
            painter.cancel()
            return _interrupted_evaluation(args, world, model, history, state, metrics, run_config, parser)

        runio.write_json(path(args, "config.json"), run_config)
        _write_history(args.out, history)
        runio.save_model(path(args, "model.pt"), model, model_config(args, world, model), state)
        if args.save_data:
            _write_data(args.out, world, train, test)
        if stop.requested:
            painter.cancel()  # figures not yet sent to the worker are dropped; those sent are finished
        else:
            painter.finish()

        metrics["timing"] = {
            "train_seconds": train_seconds,
            "total_seconds": time.perf_counter() - started,
            "samples_per_second": len(train) * len(history or []) * args.restarts / max(train_seconds, 1e-9),
        }
        if interpret_seconds is not None:  # the cost of --interpret, figures not included
            metrics["timing"]["interpret_seconds"] = interpret_seconds
        metrics["versions"] = runio.versions()
        if stop.requested:
            metrics["status"] = "interrupted"
        runio.write_json(path(args, "metrics.json"), metrics)
    if stop.requested:
        print(
            f"{parser.prog}: interrupted; the evaluated run is in {args.out}, figures not all drawn",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        print(summary(metrics, world, args.out, extra_summary(metrics) if extra_summary else ()))
    return 0


def path(args, name):
    return os.path.join(args.out, name)


def _data(world, args, parser, rng):
    """The rows to learn from: a sample of the world, or the --data table (then a TableWorld)."""
    if not getattr(args, "data", None):
        return world, world.sample(args.samples, rng)
    written = {"history.csv"} | ({"interpret.csv"} if args.interpret else set())
    written |= {"train.csv", "test.csv"} if args.save_data else set()
    if os.path.realpath(args.data) in {os.path.realpath(path(args, name)) for name in written}:
        parser.error(
            f"argument --data: the run would write its own {os.path.basename(args.data)} over your table "
            f"{args.data}; choose another --out"
        )
    from common.tabular import TableError, load_table
    from common.world import TableWorld

    try:
        table = load_table(
            args.data,
            binary=world.likelihood == "bernoulli",
            label_column=args.label_column,
            drop_columns=args.drop_columns,
        )
    except TableError as err:
        parser.error(f"argument --data: {err}")
    table_world = TableWorld(table, world)
    return table_world, table_world.rows()


def _check_sizes(parser, args, world, train, n_rows):
    """A mixture of K components needs K training rows: refuse, before any work, a K (--clusters, or
    the classes of a label column) beyond the rows the split leaves for training."""
    n = len(train)
    if isinstance(args.clusters, int) and args.clusters > n:
        parser.error(
            f"argument --clusters: {args.clusters} clusters need at least as many training rows; "
            f"these data leave {n}; use at most {n}"
        )
    needed = max(2, world.n_classes)
    if n >= needed:
        return
    if getattr(args, "data", None) and world.n_classes > n_rows / 2:  # as many classes as rows: ids
        parser.error(
            f"argument --label-column: {args.label_column!r} has {world.n_classes} classes, more than "
            f"the {n} training rows (an id column? leave it out with --drop-columns)"
        )
    parser.error(
        f"argument --test-fraction: {args.test_fraction} leaves {n} of the {n_rows} rows for training; "
        f"{needed} clusters need at least {needed}; hold out fewer rows"
    )


def _standardized(train, test):
    """z-scores with the training rows' mean and sd (the test rows never inform the scaling)."""
    from common.world import Sample

    mean, sd = train.x.mean(0), train.x.std(0)
    sd[sd == 0] = 1.0

    def scale(part):
        return Sample((part.x - mean) / sd, part.labels, part.factors)

    return scale(train), scale(test)


def _checkpoint(world, args, parser):
    """model.pt of --load or --resume, checked against this demo and these data before any training."""
    if not (args.load or args.resume):
        return None
    from common import cli, runio

    flag, file = ("--load", args.load) if args.load else ("--resume", os.path.join(args.resume, "model.pt"))
    try:
        checkpoint = runio.load_model_file(file, demo=world.name)
    except runio.CheckpointError as err:
        parser.error(f"argument {flag}: {err}")
    config = checkpoint["config"]
    if config.get("n_features") != world.n_features or config.get("likelihood") != world.likelihood:
        parser.error(
            f"argument {flag}: {file} models {config.get('n_features')} {config.get('likelihood')} features; "
            f"these data have {world.n_features} {world.likelihood} features"
        )
    from common.models import build_model

    try:  # the weights must fit the model their config describes
        build_model(config).load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        parser.error(f"argument {flag}: {file} does not hold a usable model ({reason})")
    if args.load:  # the file says which model it holds: metrics, config.json and figures name that one
        # Flags that describe another model than the file's are refused, not silently overridden.
        held = {
            "--model": config["model"],
            "--latent-dim": config["latent_dim"],
            "--hidden-dim": config["hidden_dim"],
        }
        asked = dict(zip(held, cli.typed(args.argv, *held).values(), strict=True))
        if getattr(args, "conditional", False):  # cuisine's --conditional asks for the cvae
            held["--conditional"], asked["--conditional"] = config["model"], "cvae"
        for flag, value in asked.items():
            if value is not None and value != str(held[flag]):
                parser.error(
                    f"argument {flag}: {args.load} holds a {config['model']} model with --latent-dim "
                    f"{config['latent_dim']} and --hidden-dim {config['hidden_dim']}; drop {flag}"
                )
        args.model = config["model"]
        args.latent_dim, args.hidden_dim = config["latent_dim"], config["hidden_dim"]
    if args.resume:
        done = checkpoint.get("training", {}).get("epoch")
        if done is None:
            parser.error(f"argument --resume: {file} has no training state to continue from")
        if done >= args.epochs:
            parser.error(f"argument --resume: {args.resume} already finished all {args.epochs} epochs")
    return checkpoint


def _model(args, world, train, x_train, x_test, mixture, checkpoint, stop):
    """The model of this run: loaded (--load), continued (--resume) or trained (best of --restarts).

    Returns (model, history, training state, extra metrics); history is None for a loaded model
    whose run folder has no history.csv.
    """
    import numpy as np

    from common.models import build_model

    if args.load:  # _checkpoint has checked that the weights fit
        model = build_model(checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
        model.to(x_train.device).eval()
        return model, _read_history(os.path.dirname(args.load)), checkpoint.get("training"), {}

    extra = {}
    if checkpoint is not None:  # --resume: the saved model, K and training state
        n_clusters = checkpoint["config"].get("n_clusters")
    elif args.clusters == "auto" and args.model == "gmvae":
        n_clusters, extra["model_selection"] = select_clusters(
            args, world, train, mixture, x_train.device, stop
        )
    else:
        n_clusters = args.clusters if isinstance(args.clusters, int) else len(mixture.weights_)
    model, history, state, scores = train_model(
        args, world, x_train, x_test, n_clusters, mixture, checkpoint, stop
    )
    if args.restarts > 1:
        extra["restarts"] = {"train_elbo": scores, "kept": int(np.argmax(scores))}
    model.eval()
    return model, history, state, extra


def _clusters(args, world, model, x_train, x_test, z_test, metrics):
    """Each held-out row's recovered cluster and how it was found: argmax q(y|x) for the gmvae, else
    a Gaussian mixture on the latent codes. Adds `clusters` / `model_selection` to metrics."""
    from common import evaluate

    if model.kind == "gmvae":
        metrics["clusters"] = evaluate.cluster_usage(model, x_train)
        return evaluate.cluster_assignments(model, x_test), "argmax q(y|x)"
    if model.kind == "cvae":  # y is the class itself (seen in training): p(y | x) by Bayes' rule
        return evaluate.cluster_assignments(model, x_test), "argmax p(y|x), trained with labels"
    z_train = evaluate.latent_codes(model, x_train)
    if args.clusters == "auto":
        n_fit, metrics["model_selection"] = evaluate.select_latent_clusters(
            z_train, world.n_classes, args.seed
        )
    else:
        n_fit = args.clusters or max(world.n_classes, 2)
    return evaluate.latent_clusters(z_train, z_test, n_fit, args.seed), "Gaussian mixture on latent means"


def _cluster_names(world, model, test, clusters):
    """gmvae clusters named by the class they match on held-out rows, when there are classes."""
    from common import evaluate

    if model.kind == "cvae":  # its y is the class
        return list(world.class_names)
    if model.kind != "gmvae":
        return None
    if world.n_classes == 0:
        return [f"cluster {c + 1}" for c in range(model.n_clusters)]
    mapping = evaluate.cluster_to_class(test.labels, clusters)
    return evaluate.cluster_names(world.class_names, mapping, model.n_clusters)


def _interrupted(args, world, model, history, state, metrics, run_config, parser):
    epochs_done = state["epoch"] if state else 0
    _save_stopped(
        args,
        world,
        model,
        history,
        state,
        metrics,
        run_config,
        status="interrupted",
        epochs_completed=epochs_done,
    )
    resume = (
        "" if getattr(args, "data", None) else f"; continue with: python {parser.prog} --resume {args.out}"
    )
    print(
        f"{parser.prog}: interrupted after epoch {epochs_done} of {args.epochs}; model.pt and metrics.json "
        f"saved in {args.out}{resume}",
        file=sys.stderr,
    )
    return 130


def _interrupted_evaluation(args, world, model, history, state, metrics, run_config, parser):
    """A second signal during the evaluation: keep the trained model, and the numbers so far."""
    if not metrics.get("test"):  # its placeholder, still empty
        metrics.pop("test", None)
    done = {"epochs_completed": state["epoch"]} if state else {}  # a loaded model has no training state
    status = {"status": "interrupted", "evaluation": "incomplete", **done}
    _save_stopped(args, world, model, history, state, metrics, run_config, **status)
    print(
        f"{parser.prog}: interrupted during the evaluation; the trained model is in {args.out} "
        f"(evaluate it with: python {parser.prog} --load {path(args, 'model.pt')})",
        file=sys.stderr,
    )
    return 130


def _save_stopped(args, world, model, history, state, metrics, run_config, **status):
    """Write what a stopped run has: its config, history, the last good weights (with the state to
    resume), metrics."""
    from common import runio

    runio.write_json(path(args, "config.json"), run_config)
    _write_history(args.out, history)
    runio.save_model(path(args, "model.pt"), model, model_config(args, world, model), state)
    metrics.update(status, versions=runio.versions())
    runio.write_json(path(args, "metrics.json"), metrics)


def model_config(args, world, model):
    """Everything build_model needs, as plain JSON-safe values (stored inside model.pt)."""
    return {
        "demo": world.name,
        "model": args.model,
        "n_features": world.n_features,
        "likelihood": world.likelihood,
        "latent_dim": args.latent_dim,
        "hidden_dim": args.hidden_dim,
        "n_clusters": getattr(model, "n_clusters", None),
        "corruption": args.corruption,
        "noise": args.noise,
    }


def train_model(args, world, x_train, x_valid, n_clusters, mixture, checkpoint=None, stop=None):
    """Build and fit the model of `args` (best of --restarts); the gmvae starts from the mixture.
    With a --resume checkpoint, its model continues from the saved training state."""
    from common.baselines import ObservedPatternMixture, fit_mixture
    from common.models import build_model
    from common.train import fit_restarts, warm_start

    config = model_config(args, world, None) | {"n_clusters": n_clusters}
    device = x_train.device
    distinct_rows = getattr(args, "distinct_rows", "off") == "on"  # a flag of the disease demo

    def prepare(model):
        model.scale.fit(x_train[:, : world.n_features])  # standardise real features with the training rows
        if model.kind == "gmvae":
            rows = x_train[:, : world.n_features]
            start = mixture
            if world.cluster_start == "observed pattern":
                start = ObservedPatternMixture(
                    n_clusters, random_state=args.seed, **world.cluster_start_options
                )
                start = start.fit(rows.cpu().numpy())
            elif len(mixture.weights_) != n_clusters:
                start = fit_mixture(rows.cpu().numpy(), n_clusters, world.likelihood, args.seed)
            warm_start(
                model,
                start.weights_,
                start.means_,
                rows=rows,
                responsibilities=start.predict_proba(rows.cpu().numpy()),
                distinct_rows=distinct_rows,
                **world.warm_start,
            )

    return fit_restarts(
        lambda: build_model(config).to(device),
        x_train,
        restarts=args.restarts,
        seed=args.seed,
        prepare=prepare,
        resume=checkpoint,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        anneal_epochs=args.anneal_epochs,
        x_valid=x_valid,
        quiet=args.quiet,
        stop=stop,
        distinct_rows=distinct_rows,
    )


def select_clusters(args, world, train, mixture, device, stop=None):
    """--clusters auto for the gmvae: fit each K of candidate_ks on part of the training rows and score each
    by importance-weighted NLL on the rest (--test-fraction of them). Extra components can sit unused,
    so several K tie; the one-standard-error rule keeps the smallest K whose NLL is within one
    standard error (of the paired per-row difference) of the best, and a model that leaves some of
    its components empty counts as the smaller model it is: K is the number it uses."""
    import numpy as np
    import torch

    from common.evaluate import candidate_ks, cluster_usage, log_likelihood
    from common.world import split

    fit_part, valid_part = split(train, args.test_fraction, np.random.default_rng(args.seed))
    x_fit = torch.as_tensor(fit_part.x, dtype=torch.float32, device=device)
    x_valid = torch.as_tensor(valid_part.x, dtype=torch.float32, device=device)
    ks = candidate_ks(world.n_classes, len(fit_part))
    log_px, in_use = [], []  # per validation row, for each K; components in use for each K
    for k in ks:
        model, _, _, _ = train_model(args, world, x_fit, None, k, mixture, stop=stop)
        log_px.append(log_likelihood(model, x_valid, min(args.iw_samples, 200)).cpu().numpy())
        in_use.append(cluster_usage(model, x_fit)["in_use"])
    log_px = np.array(log_px)  # (len(ks), n_valid)
    nlls = -log_px.mean(1)
    best = int(np.argmin(nlls))
    standard_errors = (log_px[best] - log_px).std(1, ddof=1) / np.sqrt(log_px.shape[1])
    within = int(np.flatnonzero(nlls <= nlls[best] + standard_errors)[0])
    chosen = max(ks[0], min(ks[within], in_use[within]))
    return chosen, {
        "k": ks,
        "nll": nlls.tolist(),
        "standard_error": standard_errors.tolist(),
        "in_use": in_use,
        "best_k": chosen,
        "criterion": "validation NLL, smallest K within one standard error of the best, or the "
        "components that model uses if fewer",
    }


HISTORY_COLUMNS = ["epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "test_elbo"]


def _write_history(out, history):
    import pandas as pd

    from common import runio

    if history is None:  # a loaded model without a history
        return
    frame = pd.DataFrame(history, columns=HISTORY_COLUMNS)
    if len(frame):  # columns a run does not fill (test_elbo without held-out rows) are left out
        frame = frame.dropna(axis=1, how="all")
    runio.write_csv(os.path.join(out, "history.csv"), frame)


def _read_history(folder):
    """history.csv of a run folder as a list of rows, or None when it has none."""
    import pandas as pd

    try:
        return pd.read_csv(os.path.join(folder, "history.csv")).to_dict("records")
    except (OSError, ValueError):
        return None


def _write_data(out, world, train, test):
    import pandas as pd

    from common import runio

    for name, part in (("train", train), ("test", test)):
        frame = pd.DataFrame(part.x, columns=world.feature_names)
        if world.likelihood == "bernoulli":
            frame = frame.astype(int)
        if world.n_classes:
            frame[world.class_noun] = [world.class_names[k] for k in part.labels]
        for factor, values in part.factors.items():
            frame[factor] = values
        runio.write_csv(os.path.join(out, f"{name}.csv"), frame)
    runio.write_json(os.path.join(out, "world.json"), world.to_dict())


def summary(metrics, world, out, extra_lines=()):
    """A few lines a person reads at the end of a run."""
    test, timing = metrics["test"], metrics["timing"]
    trained = "loaded" if "loaded_from" in metrics else f"trained in {timing['train_seconds']:.1f} s"
    lines = [
        f"{world.name}: {metrics['model']} on {metrics['data']['n_train']} training rows, "
        f"{trained} ({timing['total_seconds']:.1f} s in all)"
    ]
    if "true_nll" in test:
        lines.append(
            f"  held-out NLL {test['nll']:.4f} nats/row   world's true NLL {test['true_nll']:.4f}   "
            f"gap {test['nll_gap']:+.4f}"
        )
    elif "nll" in test:
        lines.append(
            f"  held-out NLL {test['nll']:.4f} nats/row   ELBO {test['elbo']:.4f} (no world: no true NLL)"
        )
    if "model_selection" in metrics:
        lines.append(f"  clusters chosen: K = {metrics['model_selection']['best_k']}")
    rec = metrics.get("recovery")
    scored = {name: b for name, b in metrics["baselines"].items() if "ari" in b}
    if rec:
        task = "classification (trained with labels)" if rec.get("supervised") else "recovery"
        line = f"  {world.class_noun} {task} ARI {rec['ari']:.3f}"
        if "bayes_ari" in rec:
            line += f"   Bayes-optimal {rec['bayes_ari']:.3f} ({rec['ari'] / rec['bayes_ari']:.0%} of it)"
        if scored:
            best_name, best = max(scored.items(), key=lambda item: item[1]["ari"])
            line += f"   best baseline {best_name} {best['ari']:.3f}"
        lines.append(line)
    lines += [*extra_lines, f"  results in {out}"]
    return "\n".join(lines)
