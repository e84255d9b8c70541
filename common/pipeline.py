"""One run of a demo, from validated arguments to a finished run folder:

    world.sample -> split -> build_model -> fit -> evaluate -> figures -> run folder -> summary

The demo scripts own their world and their extra figures; everything else happens here, once.
Heavy libraries are imported inside `run`, after the command line has been parsed.
"""

import os
import sys
import time


def run(world, args, parser, extra_figures=None):
    """Run the demo described by `args` on `world`; return the process exit code."""
    started = time.perf_counter()
    import numpy as np
    import torch

    from common import cli, evaluate, runio
    from common.models import build_model
    from common.train import Diverged, fit
    from common.world import split

    device = cli.resolve_device(parser, args.device)
    torch.manual_seed(args.seed)  # the one seeding block: torch for the model, numpy for the data
    rng = np.random.default_rng(args.seed)

    data = world.sample(args.samples, rng)
    train, test = split(data, args.test_fraction, rng)
    x_train = torch.as_tensor(train.x, dtype=torch.float32, device=device)
    x_test = torch.as_tensor(test.x, dtype=torch.float32, device=device)

    model = build_model(args.model, world.n_features, world.likelihood, args.latent_dim, args.hidden_dim)
    model.to(device)
    config = {"demo": world.name, "device": device, **vars(args)}
    runio.write_json(os.path.join(args.out, "config.json"), config)
    model_config = {
        "demo": world.name,
        "model": args.model,
        "n_features": world.n_features,
        "likelihood": world.likelihood,
        "latent_dim": args.latent_dim,
        "hidden_dim": args.hidden_dim,
    }

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

    train_started = time.perf_counter()
    try:
        history = fit(
            model,
            x_train,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            beta=args.beta,
            x_valid=x_test,
            quiet=args.quiet,
        )
    except Diverged as err:
        # The model holds the last good weights: keep them and say what went wrong and what to try.
        _write_history(args.out, err.history)
        runio.save_model(os.path.join(args.out, "model.pt"), model, model_config)
        metrics.update(status="diverged", epoch=err.epoch, versions=runio.versions())
        runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
        print(
            f"{parser.prog}: error: training diverged in epoch {err.epoch} (the loss became NaN or "
            f"infinite); try a lower --lr (now {args.lr})",
            file=sys.stderr,
        )
        return 1
    train_seconds = time.perf_counter() - train_started
    model.eval()

    # Held-out likelihood against the world's exact log-likelihood.
    test_scores = evaluate.held_out_likelihood(model, x_test, args.iw_samples)
    true_nll = float(-world.log_prob(test.x).mean())
    test_scores.update(true_nll=true_nll, nll_gap=test_scores["nll"] - true_nll)
    test_scores["recon"] = evaluate.reconstruction(model, x_test, world.feature_names, world.likelihood)
    metrics["test"] = test_scores

    # Recovery of the hidden cause from the latent space, beside the Bayes-optimal classifier.
    with torch.no_grad():
        z_train = model.embed(x_train).cpu().numpy()
        z_test = model.embed(x_test).cpu().numpy()
    clusters = evaluate.latent_clusters(z_train, z_test, world.n_classes, args.seed)
    metrics["recovery"] = {
        **evaluate.recovery(test.labels, clusters),
        "method": "Gaussian mixture on latent means",
        **evaluate.bayes_recovery(world, test),
    }
    metrics["baselines"] = evaluate.baselines(train, test, world.n_classes, world.likelihood, args.seed)

    _write_history(args.out, history)
    runio.save_model(os.path.join(args.out, "model.pt"), model, model_config)
    if args.save_data:
        _write_data(args.out, world, train, test)
    if args.visualize:
        _figures(args.out, world, model, history, test, z_test, clusters, device)
        if extra_figures is not None:
            extra_figures(args.out, world=world, model=model, test=test, z_test=z_test, device=device)

    metrics["timing"] = {
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "samples_per_second": len(train) * args.epochs / train_seconds,
    }
    metrics["versions"] = runio.versions()
    runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
    if not args.quiet:
        print(summary(metrics, world, args.out))
    return 0


def _write_history(out, history):
    import pandas as pd

    from common import runio

    columns = ["epoch", "loss", "recon", "kl", "beta", "seconds", "test_elbo"]
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


def _figures(out, world, model, history, test, z_test, clusters, device):
    import numpy as np
    import torch

    from common import evaluate, plots

    def decode(z):
        with torch.no_grad():
            return model.decode_mean(torch.as_tensor(z, dtype=torch.float32, device=device)).cpu().numpy()

    path = lambda name: os.path.join(out, name)  # noqa: E731
    names = world.class_names
    plots.latent_scatter(
        path("latent.png"),
        z_test,
        test.labels,
        names,
        f"Latent means of held-out rows, coloured by true {world.class_noun}",
    )
    plots.training_curves(path("training.png"), history)
    if model.latent_dim == 2:
        plots.decoded_map(path("decoded.png"), decode, world.feature_names, world.value_label)
    else:
        plots.traversal_heatmaps(
            path("decoded.png"), decode, model.latent_dim, world.feature_names, world.value_label
        )

    # Generated rows, each weighted by the world's posterior p(class | x): if the model were perfect,
    # these weighted means would equal the true per-class feature means exactly.
    with torch.no_grad():
        generated = model.sample(max(len(test), 5000)).cpu().numpy()
    weights = world.posterior(generated)  # (n, K)
    generated_profile = (weights.T @ generated) / weights.sum(0)[:, None]
    real_profile = np.stack([test.x[test.labels == k].mean(0) for k in range(world.n_classes)])
    plots.profiles_side_by_side(
        path("generated.png"),
        real_profile,
        generated_profile,
        names,
        world.feature_names,
        (
            f"held-out rows, by true {world.class_noun}",
            f"generated by the model, weighted by p({world.class_noun} | x)",
        ),
        world.value_label,
    )
    bayes = world.posterior(test.x).argmax(1)
    plots.confusion_matrices(
        path("confusion.png"),
        {
            "model: clusters of latent means": (test.labels, evaluate.match_clusters(test.labels, clusters)),
            f"Bayes-optimal: argmax p({world.class_noun} | x)": (test.labels, bayes),
        },
        names,
    )


def summary(metrics, world, out):
    """A few lines a person reads at the end of a run."""
    test, rec = metrics["test"], metrics["recovery"]
    best_name, best = max(metrics["baselines"].items(), key=lambda item: item[1]["ari"])
    timing = metrics["timing"]
    lines = [
        f"{world.name}: {metrics['model']} on {metrics['data']['n_train']} training rows, "
        f"trained in {timing['train_seconds']:.1f} s ({timing['total_seconds']:.1f} s in all)",
        f"  held-out NLL {test['nll']:.4f} nats/row   world's true NLL {test['true_nll']:.4f}   "
        f"gap {test['nll_gap']:+.4f}",
        f"  {world.class_noun} recovery ARI {rec['ari']:.3f}   Bayes-optimal {rec['bayes_ari']:.3f}   "
        f"best baseline {best_name} {best['ari']:.3f}",
        f"  results in {out}",
    ]
    return "\n".join(lines)
