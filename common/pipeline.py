"""One run of a demo, from validated arguments to a finished run folder:

    world.sample -> split -> (choose K) -> train (restarts) -> evaluate -> figures -> run folder -> summary

The demo scripts own their world and their extra figures; everything else happens here, once.
Heavy libraries are imported inside the functions, after the command line has been parsed.
"""

import os
import sys
import time


def run(world, args, parser, extra_figures=None, extra_metrics=None, extra_summary=None):
    """Run the demo described by `args` on `world`; return the process exit code.

    extra_metrics(model=, train=, test=, mixture=, device=), when given, returns a dict of the demo's own
    numbers for metrics.json; extra_figures(out, world=, model=, test=, z_test=, device=) draws its figures;
    extra_summary(metrics) returns more lines for the printed summary.
    """
    started = time.perf_counter()
    import numpy as np
    import torch

    from common import cli, evaluate, runio
    from common.baselines import fit_mixture
    from common.train import Diverged
    from common.world import split

    device = cli.resolve_device(parser, args.device)
    if args.noise == "flip" and world.likelihood != "bernoulli":
        parser.error("argument --noise: flip needs binary features; use dropout")
    torch.manual_seed(args.seed)  # the one seeding block: torch for the model, numpy for the data
    rng = np.random.default_rng(args.seed)

    data = world.sample(args.samples, rng)
    train, test = split(data, args.test_fraction, rng)
    x_train = torch.as_tensor(train.x, dtype=torch.float32, device=device)
    x_test = torch.as_tensor(test.x, dtype=torch.float32, device=device)
    runio.write_json(
        os.path.join(args.out, "config.json"), {**vars(args), "demo": world.name, "device": device}
    )
    metrics = {
        "demo": world.name,
        "model": args.model,
        "argv": args.argv,
        "seed": args.seed,
        "status": "completed",
        "data": {
            "source": "synthetic",
            "n_train": len(train),
            "n_test": len(test),
            "n_features": world.n_features,
            "n_classes": world.n_classes,
        },
    }

    # The classical mixture is both a baseline and the gmvae's starting point: fit it once.
    mixture = fit_mixture(train.x, world.n_classes, world.likelihood, args.seed)
    train_started = time.perf_counter()
    try:
        if args.clusters == "auto" and args.model == "gmvae":
            n_clusters, metrics["model_selection"] = select_clusters(args, world, train, mixture, device)
        else:
            n_clusters = world.n_classes if args.clusters in (None, "auto") else args.clusters
        model, history, restart_scores = train_model(args, world, x_train, x_test, n_clusters, mixture)
    except Diverged as err:
        # The model holds the last good weights: keep them and say what went wrong and what to try.
        _write_history(args.out, err.history)
        runio.save_model(os.path.join(args.out, "model.pt"), err.model, model_config(args, world, err.model))
        metrics.update(status="diverged", epoch=err.epoch, versions=runio.versions())
        runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
        print(
            f"{parser.prog}: error: training diverged in epoch {err.epoch} (the loss became NaN or "
            f"infinite); try a lower --lr (now {args.lr})",
            file=sys.stderr,
        )
        return 1
    train_seconds = time.perf_counter() - train_started
    if args.restarts > 1:
        metrics["restarts"] = {"train_elbo": restart_scores, "kept": int(np.argmax(restart_scores))}

    # Held-out likelihood against the world's exact log-likelihood (latent variable models only).
    test_scores = {}
    if model.has_likelihood:
        test_scores = evaluate.held_out_likelihood(model, x_test, args.iw_samples)
        true_nll = float(-world.reference_log_prob(test.x).mean())  # what the likelihood covers
        test_scores.update(true_nll=true_nll, nll_gap=test_scores["nll"] - true_nll)
    test_scores["recon"] = evaluate.reconstruction(model, x_test, world.feature_names, world.likelihood)
    metrics["test"] = test_scores

    # Recovery of the hidden cause, beside the Bayes-optimal classifier that knows the world.
    z_test = evaluate.latent_codes(model, x_test)
    if model.kind == "gmvae":
        clusters, method = evaluate.cluster_assignments(model, x_test), "argmax q(y|x)"
        metrics["clusters"] = evaluate.cluster_usage(model, x_train)
    else:
        z_train = evaluate.latent_codes(model, x_train)
        n_fit = n_clusters
        if args.clusters == "auto":
            n_fit, metrics["model_selection"] = evaluate.select_latent_clusters(
                z_train, world.n_classes, args.seed
            )
        clusters = evaluate.latent_clusters(z_train, z_test, n_fit, args.seed)
        method = "Gaussian mixture on latent means"
    metrics["recovery"] = {
        **evaluate.recovery(test.labels, clusters),
        "method": method,
        **evaluate.bayes_recovery(world, test),
    }
    metrics["baselines"] = evaluate.baselines(
        train, test, world.n_classes, world.likelihood, args.seed, mixture=mixture
    )
    if extra_metrics is not None:
        metrics.update(extra_metrics(model=model, train=train, test=test, mixture=mixture, device=device))

    _write_history(args.out, history)
    runio.save_model(os.path.join(args.out, "model.pt"), model, model_config(args, world, model))
    if args.save_data:
        _write_data(args.out, world, train, test)
    if args.visualize:
        from common import figures

        figures.shared(args.out, world, model, history, test, z_test, clusters, metrics, device)
        if extra_figures is not None:
            extra_figures(args.out, world=world, model=model, test=test, z_test=z_test, device=device)

    metrics["timing"] = {
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "samples_per_second": len(train) * args.epochs * args.restarts / train_seconds,
    }
    metrics["versions"] = runio.versions()
    runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
    if not args.quiet:
        print(summary(metrics, world, args.out, extra_summary(metrics) if extra_summary else ()))
    return 0


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


def train_model(args, world, x_train, x_valid, n_clusters, mixture):
    """Build and fit the model of `args` (best of --restarts); the gmvae starts from the mixture."""
    from common.baselines import fit_mixture
    from common.models import build_model
    from common.train import fit_restarts, warm_start

    config = model_config(args, world, None) | {"n_clusters": n_clusters}
    device = x_train.device

    def prepare(model):
        if model.kind == "gmvae":
            start = mixture
            if len(mixture.weights_) != n_clusters:
                start = fit_mixture(x_train.cpu().numpy(), n_clusters, world.likelihood, args.seed)
            warm_start(model, start.weights_, start.means_)

    return fit_restarts(
        lambda: build_model(config).to(device),
        x_train,
        restarts=args.restarts,
        seed=args.seed,
        prepare=prepare,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        anneal_epochs=args.anneal_epochs,
        x_valid=x_valid,
        quiet=args.quiet,
    )


def select_clusters(args, world, train, mixture, device):
    """--clusters auto for the gmvae: fit K = 2 .. 2 x true on part of the training rows and score each
    by importance-weighted NLL on the rest (--test-fraction of them). Extra components can sit unused,
    so several K tie; the one-standard-error rule keeps the smallest K whose NLL is within one
    standard error (of the paired per-row difference) of the best."""
    import numpy as np
    import torch

    from common.evaluate import cluster_usage, log_likelihood
    from common.world import split

    fit_part, valid_part = split(train, args.test_fraction, np.random.default_rng(args.seed))
    x_fit = torch.as_tensor(fit_part.x, dtype=torch.float32, device=device)
    x_valid = torch.as_tensor(valid_part.x, dtype=torch.float32, device=device)
    ks = list(range(2, 2 * world.n_classes + 1))
    log_px, in_use = [], []  # per validation row, for each K; components in use for each K
    for k in ks:
        model, _, _ = train_model(args, world, x_fit, None, k, mixture)
        log_px.append(log_likelihood(model, x_valid, min(args.iw_samples, 200)).cpu().numpy())
        in_use.append(cluster_usage(model, x_fit)["in_use"])
    log_px = np.array(log_px)  # (len(ks), n_valid)
    nlls = -log_px.mean(1)
    best = int(np.argmin(nlls))
    standard_errors = (log_px[best] - log_px).std(1, ddof=1) / np.sqrt(log_px.shape[1])
    chosen = ks[int(np.flatnonzero(nlls <= nlls[best] + standard_errors)[0])]
    return chosen, {
        "k": ks,
        "nll": nlls.tolist(),
        "standard_error": standard_errors.tolist(),
        "in_use": in_use,
        "best_k": chosen,
        "criterion": "validation NLL, smallest K within one standard error of the best",
    }


def _write_history(out, history):
    import pandas as pd

    from common import runio

    columns = ["epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "test_elbo"]
    frame = pd.DataFrame(history, columns=columns).dropna(axis=1, how="all")
    runio.write_csv(os.path.join(out, "history.csv"), frame)


def _write_data(out, world, train, test):
    import pandas as pd

    from common import runio

    for name, part in (("train", train), ("test", test)):
        frame = pd.DataFrame(part.x, columns=world.feature_names)
        if world.likelihood == "bernoulli":
            frame = frame.astype(int)
        frame[world.class_noun] = [world.class_names[k] for k in part.labels]
        for factor, values in part.factors.items():
            frame[factor] = values
        runio.write_csv(os.path.join(out, f"{name}.csv"), frame)
    runio.write_json(os.path.join(out, "world.json"), world.to_dict())


def summary(metrics, world, out, extra_lines=()):
    """A few lines a person reads at the end of a run."""
    test, rec = metrics["test"], metrics["recovery"]
    best_name, best = max(metrics["baselines"].items(), key=lambda item: item[1]["ari"])
    timing = metrics["timing"]
    lines = [
        f"{world.name}: {metrics['model']} on {metrics['data']['n_train']} training rows, "
        f"trained in {timing['train_seconds']:.1f} s ({timing['total_seconds']:.1f} s in all)"
    ]
    if "nll" in test:
        lines.append(
            f"  held-out NLL {test['nll']:.4f} nats/row   world's true NLL {test['true_nll']:.4f}   "
            f"gap {test['nll_gap']:+.4f}"
        )
    if "model_selection" in metrics:
        lines.append(
            f"  clusters chosen: K = {metrics['model_selection']['best_k']} (true {world.n_classes})"
        )
    lines += [
        f"  {world.class_noun} recovery ARI {rec['ari']:.3f}   Bayes-optimal {rec['bayes_ari']:.3f} "
        f"({rec['ari'] / rec['bayes_ari']:.0%} of it)   best baseline {best_name} {best['ari']:.3f}",
        *extra_lines,
        f"  results in {out}",
    ]
    return "\n".join(lines)
