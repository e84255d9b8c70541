"""One run of a demo, from checked options to a finished run folder, as named stages:

    data      the world's sample (or the --data table) split into training and held-out rows, and the
              classical mixture fitted on the training rows (a baseline, and the gmvae's start)
    model     trained (best of --restarts), continued (--resume) or loaded (--load): common/fitting.py
    recover   each held-out row's cluster, scored against the true cause and the Bayes-optimal classifier
    figures   handed to a second process (common/speed/painter.py), drawn while this one goes on
    score     held-out likelihood against the world's, reconstruction, baselines, the demo's own numbers
    write     the run folder, through its one writer (common/runio.py), then a summary

run() returns a Result: the exit code (0 done, 1 diverged, 130 interrupted), the model and its metrics.
Bad input found on the way raises UsageError (one line, exit 2). Heavy libraries are imported inside
the functions, after the command line has been parsed.
"""

import sys
import time
from dataclasses import dataclass

from common.cli import UsageError

MAX_UPDATES_PER_EPOCH = 1000  # above it the default batch doubles (fitted_batch_size)
HISTORY_COLUMNS = ["epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "test_elbo"]


@dataclass
class Result:
    """What a run produced: its exit code and, when it got that far, the model and the metrics."""

    code: int
    model: object = None
    metrics: dict | None = None


@dataclass
class Data:
    """The data stage's output: the rows, as samples and as tensors on the device."""

    world: object  # the demo's world, or a TableWorld standing in for it with --data
    train: object  # common.world.Sample: x (n, D), labels (n,), factors
    test: object
    x_train: object  # (n, D) float32 tensor on the device
    x_test: object
    x_fit: object  # what the model trains on: x_train, with the one-hot class for a model trained with labels
    x_valid: object
    mixture: object  # the classical latent class model fitted on the training rows
    n_mixture: int  # its components


@dataclass
class Demo:
    """What a demo adds to a run. figures(folder, draw=, world=, model=, test=, device=) sends its figures
    to draw(plot, path, *args) (plot importable, its arguments plain numbers); metrics(folder=, model=,
    train=, test=, mixture=, device=) returns its own numbers for metrics.json; summary(metrics) returns
    more lines for the printed summary."""

    figures: object = None
    metrics: object = None
    summary: object = None


def run(world, args, demo=None):
    """Run the demo of `args` on `world`; return a Result."""
    import numpy as np
    import torch

    from common import fitting, runio
    from common.speed.allocator import keep_freed_memory
    from common.speed.painter import Painter
    from common.train import Diverged, Interrupted, StopRequest, device_for

    started = time.perf_counter()
    device, demo = device_for(args.device), demo or Demo()
    keep_freed_memory()  # common/speed/allocator.py: page faults cost 10-15% of a gmvae's step
    torch.manual_seed(args.seed)  # the one seeding block: torch for the model, numpy for the data
    data = load_data(world, args, np.random.default_rng(args.seed), device)
    checkpoint = fitting.checked_checkpoint(args, data.world)
    folder = runio.RunFolder(args.out)
    config = args.config(demo=data.world.name, device=device)
    folder.begin(config)
    report = metrics_head(args, data)
    stopped = lambda *state, **how: interrupted(folder, args, data, config, report, *state, **how)  # noqa: E731

    with Painter(args.visualize) as painter, StopRequest() as stop:
        train_started = time.perf_counter()
        try:
            model, history, state, selection = fitting.model(args, data, checkpoint, stop)
        except Diverged as err:  # the model holds the last good weights: keep them, say what to try
            return diverged(folder, args, data, config, report, err)
        except Interrupted as err:
            return stopped(err.model, err.history, err.state)
        train_seconds = time.perf_counter() - train_started
        report.update(selection)
        if stop.requested:  # the signal came after the last batch: keep the trained model, skip the rest
            return stopped(model, history, state)
        try:  # a second Ctrl-C or SIGTERM here (the first lets the evaluation finish) keeps the model
            z_test, clusters = recover(args, data, model, report)
            if args.visualize and not stop.requested:
                with torch.random.fork_rng(
                    devices=[] if device == "cpu" else None
                ):  # the run's draws untouched
                    draw_figures(
                        painter.draw, folder, data, model, history, z_test, clusters, report, device, demo
                    )
            score(args, data, model, report, device, folder, demo)
            interpret_seconds = None
            if args.interpret:
                draw = painter.draw if args.visualize and not stop.requested else None
                interpret_seconds = interpret(folder, data, model, z_test, clusters, report, device, draw)
        except KeyboardInterrupt:
            painter.cancel()
            return stopped(model, history, state, evaluating=True)

        if args.save_data:
            write_data(folder, data)
        painter.cancel() if stop.requested else painter.finish()  # figures sent to the worker are finished
        report["timing"] = {
            "train_seconds": train_seconds,
            "total_seconds": time.perf_counter() - started,
            "samples_per_second": len(data.train)
            * len(history or [])
            * args.restarts
            / max(train_seconds, 1e-9),
        }
        if interpret_seconds is not None:  # the cost of --interpret, figures not included
            report["timing"]["interpret_seconds"] = interpret_seconds
        if stop.requested:
            report["status"] = "interrupted"
        save(folder, args, data, config, report, model, history, state)
    if stop.requested:
        print(
            f"{args.prog}: interrupted; the evaluated run is in {args.out}, figures not all drawn",
            file=sys.stderr,
        )
        return Result(130, model, report)
    if not args.quiet:
        print(summary(report, data.world, args.out, demo.summary(report) if demo.summary else ()))
    return Result(0, model, report)


# ---- data ----------------------------------------------------------------------------------------------


def fitted_batch_size(n_rows, preferred):
    """--batch-size when not given: `preferred`, but at least 8 steps per epoch on small tables (never
    fewer than 16 rows), and doubled on big data until an epoch takes at most MAX_UPDATES_PER_EPOCH steps
    (docs/speed.md: a million rows train as well in batches of 1024, in three quarters of the time)."""
    batch = min(preferred, max(16, n_rows // 8))
    while n_rows > MAX_UPDATES_PER_EPOCH * batch:
        batch *= 2
    return batch


def load_data(world, args, rng, device):
    """The rows to learn from, split; the world (a TableWorld for --data); the classical mixture."""
    import torch

    from common.baselines import fit_mixture
    from common.model_table import model_class
    from common.speed.threads import limit_threads
    from common.world import split

    world, rows = read_rows(world, args, rng)
    limit_threads(device, world.n_features, args.hidden_dim)
    if args.clusters is None and world.n_classes == 0:  # a table without labels: let the data say K
        args.clusters = "auto"
    train, test = split(rows, args.test_fraction, rng)
    check_sizes(args, world, len(train), len(rows))
    if "batch_size" not in args.given:
        args.batch_size = fitted_batch_size(len(train), args.batch_size)
    if getattr(args, "standardize", False):  # an option of the demos with real-valued tables
        train, test = standardized(train, test)
    x_train = torch.as_tensor(train.x, dtype=torch.float32, device=device)
    x_test = torch.as_tensor(test.x, dtype=torch.float32, device=device)
    x_fit, x_valid = x_train, x_test
    if model_class(args.model).trained_with_labels:  # rows that carry their class
        from common.models import with_labels

        x_fit = with_labels(x_train, torch.as_tensor(train.labels, device=device), world.n_classes)
        x_valid = with_labels(x_test, torch.as_tensor(test.labels, device=device), world.n_classes)
    n_mixture = world.n_classes or (args.clusters if isinstance(args.clusters, int) else 4)
    mixture = fit_mixture(train.x, n_mixture, world.likelihood, args.seed)
    return Data(world, train, test, x_train, x_test, x_fit, x_valid, mixture, n_mixture)


def read_rows(world, args, rng):
    """(world, rows): a sample of the world, or the --data table with a TableWorld in its place."""
    if getattr(args, "data", None) is None:  # an option of the demos that read tables
        return world, world.sample(args.samples, rng)
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
        raise UsageError("--data", str(err)) from None
    table_world = TableWorld(table, world)
    return table_world, table_world.rows()


def check_sizes(args, world, n, n_rows):
    """A mixture of K components needs K training rows: a K (--clusters, or the classes of a label
    column) beyond the `n` rows the split leaves for training is refused, before any work."""
    if isinstance(args.clusters, int) and args.clusters > n:
        raise UsageError(
            "--clusters",
            f"{args.clusters} clusters need at least as many training rows; these data leave {n}; "
            f"use at most {n}",
        )
    needed = max(2, world.n_classes)
    if n >= needed:
        return
    if not world.has_truth and world.n_classes > n_rows / 2:  # as many classes as rows: ids
        raise UsageError(
            "--label-column",
            f"{args.label_column!r} has {world.n_classes} classes, more than the {n} training rows (an id "
            "column? leave it out with --drop-columns)",
        )
    raise UsageError(
        "--test-fraction",
        f"{args.test_fraction} leaves {n} of the {n_rows} rows for training; {needed} clusters need at "
        f"least {needed}; hold out fewer rows",
    )


def standardized(train, test):
    """z-scores with the training rows' mean and sd (the held-out rows never inform the scaling)."""
    from common.world import Sample

    mean, sd = train.x.mean(0), train.x.std(0)
    sd[sd == 0] = 1.0
    return tuple(Sample((part.x - mean) / sd, part.labels, part.factors) for part in (train, test))


def metrics_head(args, data):
    """metrics.json's first keys: what ran on what."""
    world = data.world
    head = {
        "demo": world.name,
        "model": args.model,
        "argv": args.argv,
        "seed": args.seed,
        "status": "completed",
    }
    head["data"] = {
        "source": "synthetic" if world.has_truth else f"csv: {args.data}",
        "n_train": len(data.train),
        "n_test": len(data.test),
        "n_features": world.n_features,
        "n_classes": world.n_classes,
    }
    if args.load is not None:
        head["loaded_from"] = args.load
    if args.resume is not None:
        head["resumed_with"] = args.resumed_with
    return head


# ---- recover, figures, score, interpret -----------------------------------------------------------------


def recover(args, data, model, report):
    """Latent codes of the held-out rows and each one's cluster; recovery of the hidden cause beside the
    Bayes-optimal classifier that knows the world. Returns (codes (n, Z), clusters (n,))."""
    import numpy as np

    from common import evaluate

    world, test = data.world, data.test
    report["test"] = {}  # filled in by score(), after the figures are on their way: it keeps its place
    z_test = evaluate.latent_codes(model, data.x_test)
    if not model.cluster_latent:  # a continuous latent: a Gaussian mixture on its codes
        clusters = latent_clusters(args, world, model, data.x_train, z_test, report)
    else:  # the model's own discrete latent: argmax q(y | x)
        if not model.trained_with_labels:
            report["clusters"] = evaluate.cluster_usage(model, data.x_train)
        clusters = evaluate.cluster_assignments(model, data.x_test)
    if world.n_classes == 0:
        return z_test, clusters
    method = model.recovery_method or "Gaussian mixture on latent means"
    report["recovery"] = {**evaluate.recovery(test.labels, clusters), "method": method}
    if world.has_truth:
        report["recovery"].update(evaluate.bayes_recovery(world, test))
    if model.trained_with_labels:  # classification, not discovery: no matching of clusters to classes
        report["recovery"].update(supervised=True, accuracy=float(np.mean(clusters == test.labels)))
    elif model.cluster_latent:  # the class each cluster stands for, matched on held-out rows
        matched = evaluate.cluster_to_class(test.labels, clusters)
        report["clusters"]["matched_class"] = [
            world.class_names[matched[c]] if matched.get(c, -1) >= 0 else None
            for c in range(model.n_clusters)
        ]
    return z_test, clusters


def latent_clusters(args, world, model, x_train, z_test, report):
    """Clusters of a model without a discrete latent: a Gaussian mixture fitted on its training codes,
    with K = --clusters, the world's classes, or by BIC (--clusters auto: `model_selection` in metrics)."""
    from common import evaluate

    z_train = evaluate.latent_codes(model, x_train)
    if args.clusters == "auto":
        n_fit, report["model_selection"] = evaluate.select_latent_clusters(
            z_train, world.n_classes, args.seed
        )
    else:
        n_fit = args.clusters or max(world.n_classes, 2)
    return evaluate.latent_clusters(z_train, z_test, n_fit, args.seed)


def draw_figures(draw, folder, data, model, history, z_test, clusters, report, device, demo):
    """Every figure of the run, the demo's own after the shared ones (common/figures.py)."""
    from common import figures

    figures.draw_shared(draw, folder, data, model, history, z_test, clusters, report, device)
    if demo.figures is not None:
        demo.figures(folder, draw=draw, world=data.world, model=model, test=data.test, device=device)


def score(args, data, model, report, device, folder, demo):
    """Held-out likelihood (against the world's exact one), reconstruction, baselines, the demo's numbers."""
    from common import evaluate

    world = data.world
    if model.has_likelihood:
        report["test"] = evaluate.held_out_likelihood(model, data.x_test, args.iw_samples)
        if world.has_truth:
            true_nll = float(-world.reference_log_prob(data.test.x).mean())  # what the likelihood covers
            report["test"].update(true_nll=true_nll, nll_gap=report["test"]["nll"] - true_nll)
    recon = evaluate.reconstruction(model, data.x_test, world.feature_names, world.likelihood)
    if recon:  # one held-out row, or no feature with both values in them: nothing to score
        report["test"]["recon"] = recon
    report["baselines"] = evaluate.baselines(
        data.train, data.test, data.n_mixture, world.likelihood, args.seed, mixture=data.mixture,
        labelled=world.n_classes > 0,
    )  # fmt: skip
    if demo.metrics is not None:
        report.update(demo.metrics(folder=folder, model=model, train=data.train, test=data.test,
                                   mixture=data.mixture, device=device))  # fmt: skip


def interpret(folder, data, model, z_test, clusters, report, device, draw):
    """--interpret: what each latent dimension means (common/interpret.py), in interpret.csv and, with a
    `draw`, its figures. Returns its seconds, figures not included."""
    from common import figures
    from common.interpret import interpret, names_of_clusters

    started = time.perf_counter()
    names = names_of_clusters(data.world, model, data.test, clusters)
    table, report["interpret"], traversals = interpret(model, data.world, data.test, z_test, device, names)
    folder.write_csv("interpret.csv", table)
    seconds = time.perf_counter() - started
    if draw is not None:
        figures.interpretation(draw, folder, data.world, report["interpret"], traversals)
    return seconds


# ---- write ----------------------------------------------------------------------------------------------


def save(folder, args, data, config, report, model, history, state):
    """The run folder of a run that got as far as a model, finished or stopped."""
    from common.model_table import model_config

    world = data.world
    folder.save(
        config=config,
        metrics=report,
        history=history,
        history_columns=HISTORY_COLUMNS,
        model=model,
        model_config=model_config(args, world.n_features, world.likelihood, model.n_clusters),
        training=state,
    )


def diverged(folder, args, data, config, report, err):
    """The loss became NaN or infinite: keep the last good weights and say what to try."""
    report.update(status="diverged", epoch=err.epoch)
    save(folder, args, data, config, report, err.model, err.history, None)
    beta = f" or --beta (now {args.beta})" if args.beta > 1 else ""
    print(
        f"{args.prog}: error: training diverged in epoch {err.epoch} (the loss became NaN or infinite); "
        f"try a lower --lr (now {args.lr}){beta}",
        file=sys.stderr,
    )
    return Result(1, err.model, report)


def interrupted(folder, args, data, config, report, model, history, state, evaluating=False):
    """Ctrl-C or SIGTERM: keep the model of the last complete epoch (or, during the evaluation, the
    trained model and the numbers so far), with the training state --resume continues from."""
    report["status"] = "interrupted"
    if evaluating:
        if not report.get("test"):  # its placeholder, still empty
            report.pop("test", None)
        report["evaluation"] = "incomplete"
    if state is not None or not evaluating:  # a loaded model has no training state
        report["epochs_completed"] = state["epoch"] if state else 0
    save(folder, args, data, config, report, model, history, state)
    if evaluating:
        message = (
            f"interrupted during the evaluation; the trained model is in {args.out} (evaluate it with: "
            f"python {args.prog} --load {folder.file('model.pt')})"
        )
    else:
        resume = (
            "" if getattr(args, "data", None) else f"; continue with: python {args.prog} --resume {args.out}"
        )
        message = (
            f"interrupted after epoch {report['epochs_completed']} of {args.epochs}; model.pt and "
            f"metrics.json saved in {args.out}{resume}"
        )
    print(f"{args.prog}: {message}", file=sys.stderr)
    return Result(130, model, report)


def write_data(folder, data):
    """--save-data: train.csv and test.csv (features, the true class, the continuous factors), world.json."""
    import pandas as pd

    world = data.world
    for name, part in (("train", data.train), ("test", data.test)):
        frame = pd.DataFrame(part.x, columns=world.feature_names)
        if world.likelihood == "bernoulli":
            frame = frame.astype(int)
        if world.n_classes:
            frame[world.class_noun] = [world.class_names[k] for k in part.labels]
        for factor, values in part.factors.items():
            frame[factor] = values
        folder.write_csv(f"{name}.csv", frame)
    folder.write_json("world.json", world.to_dict())


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
