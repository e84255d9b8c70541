"""The model stage of a run: a model trained (best of --restarts), continued (--resume) or loaded (--load).
A loaded model's file also decides the options that describe it (apply_loaded, among the option checks).

A model that starts from a mixture (the gmvae: `starts_from_mixture`) begins at the classical mixture
the data stage fitted, and `--clusters auto` chooses its number of clusters by held-out likelihood.
"""

import os
import sys

from common import progress
from common.cli import UsageError

# The options that say what a saved model is, besides those of MODEL_OPTION_DEFAULTS (--load).
LOADED_ARCHITECTURE = ("model", "latent_dim", "hidden_dim", "hidden_layers")


def held_by(args, config):
    """What the model of a model.pt's `config` is: its kind, sizes and the options of its kind (a file
    saved before a setting existed has the value every model then had)."""
    from common.model_table import MODEL_OPTION_DEFAULTS

    held = {name: config.get(name, getattr(args, name)) for name in LOADED_ARCHITECTURE}
    return held | {name: config.get(name) for name in MODEL_OPTION_DEFAULTS}


def apply_loaded(args):
    """--load, among the option checks: the file must be a model.pt of this demo; it says which model it
    holds, and flags that describe another one are refused, not silently overridden."""
    from common.cli import flag_name
    from common.saved_run import read_checkpoint

    config = read_checkpoint(args.load, args.demo, "--load")["config"]
    held = held_by(args, config)
    for name, value in held.items():
        asked = name in args.given or (name == "model" and args.model_flag != "--model")  # a mode's model
        if asked and getattr(args, name) != value:
            flag = args.model_flag if name == "model" else flag_name(name)
            settings = [f"{flag_name(k)} {v}" for k, v in held.items() if k != "model" and v is not None]
            raise UsageError(
                flag, f"{args.load} holds a {held['model']} model with {', '.join(settings)}; drop {flag}"
            )
    for name, value in held.items():  # config.json then describes the model that was evaluated
        setattr(args, name, value)


def saved_checkpoint(args):
    """model.pt of --load or --resume, read and announced before the data are made; None without."""
    if args.load is None and args.resume is None:
        return None
    from common import saved_run

    flag, file = _saved_file(args)
    checkpoint = saved_run.read_checkpoint(file, args.demo, flag)
    # Printed even with --quiet, as the data stage's notes: the rows scored are not the command line's.
    print(f"{args.prog}: note: {saved_run.data_note(args, flag, checkpoint)}", file=sys.stderr)
    if flag == "--load" and (unfinished := saved_run.unfinished(file, checkpoint, args.demo)):
        done, planned = unfinished
        print(
            f"{args.prog}: note: {file} stopped after epoch {done} of {planned} (an interrupted run); "
            f"finish its training with --resume {os.path.dirname(file) or '.'}",
            file=sys.stderr,
        )
    return checkpoint


def checked_checkpoint(args, world, checkpoint):
    """The saved_checkpoint, checked against these data before any training; None without."""
    if checkpoint is None:
        return None
    from common.model_table import build_model

    flag, file = _saved_file(args)
    config = checkpoint["config"]
    if config.get("n_features") != world.n_features or config.get("likelihood") != world.likelihood:
        raise UsageError(
            flag,
            f"{file} models {config.get('n_features')} {config.get('likelihood')} features; these data "
            f"have {world.n_features} {world.likelihood} features",
        )
    try:  # the weights must fit the model their config describes
        build_model(config).load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(flag, f"{file} does not hold a usable model ({reason})") from None
    return checkpoint


def _saved_file(args):
    return ("--load", args.load) if args.load else ("--resume", os.path.join(args.resume, "model.pt"))


def model(args, data, checkpoint, stop):
    """The model of this run: loaded (--load), continued (--resume) or trained (best of --restarts).

    Returns (model, history, training state, metrics of the choices made: `model_selection` for
    --clusters auto, `restarts` for --restarts > 1); history is None for a loaded model whose run folder
    has no history.csv.
    """
    import numpy as np

    from common.model_table import build_model, model_class

    if args.load is not None:
        loaded = build_model(checkpoint["config"])
        loaded.load_state_dict(checkpoint["state_dict"])
        loaded.to(data.x_train.device).eval()
        from common.saved_run import unfinished

        stopped = unfinished(args.load, checkpoint, args.demo)  # metrics.json keeps the note's fact
        choices = {}
        if stopped:
            choices["loaded_unfinished"] = {"epochs_completed": stopped[0], "epochs": stopped[1]}
        return loaded, read_history(os.path.dirname(args.load)), checkpoint.get("training"), choices

    choices = {}
    if checkpoint is not None:  # --resume: the saved model, K and training state
        n_clusters = checkpoint["config"].get("n_clusters")
    elif args.clusters == "auto" and model_class(args.model).cluster_latent:
        n_clusters, choices["model_selection"] = select_clusters(args, data, stop)
    else:
        n_clusters = args.clusters if isinstance(args.clusters, int) else len(data.mixture.weights_)
    trained, history, state, scores = train(
        args, data, data.x_fit, data.x_valid, n_clusters, checkpoint, stop
    )
    if args.restarts > 1:
        choices["restarts"] = {"train_elbo": scores, "kept": int(np.argmax(scores))}
    trained.eval()
    return trained, history, state, choices


def train(args, data, x_train, x_valid, n_clusters, checkpoint=None, stop=None):
    """Build and fit the model of `args` (best of --restarts); a model that starts from a mixture starts
    from the data stage's (or one with n_clusters components). With a --resume checkpoint, its model
    continues from the saved training state."""
    from common.model_table import build_model, model_config
    from common.train import fit_restarts

    world = data.world
    architecture = {}
    if data.labelled is not None:  # --labels: M2's weight of each labelled row's -log q(y | x)
        from common.semi_supervised import classification_weight

        architecture["classification_weight"] = classification_weight(
            args.label_weight, len(data.train), len(data.labelled)
        )
    config = model_config(args, world.n_features, world.likelihood, n_clusters, **architecture)
    device = x_train.device
    distinct_rows = getattr(args, "distinct_rows", "off") == "on"  # an option of the demos with 0/1 rows

    def prepare(fresh):
        rows = x_train[:, : world.n_features]  # without the one-hot class of a model trained with labels
        fresh.scale.fit(rows)  # standardise real features with the training rows
        fresh.start_from_rows(rows)  # the VampPrior's pseudo-inputs, the VQ-VAE's codebook
        if fresh.starts_from_mixture:
            progress.stage(args, f"warm start: from a classical mixture of {n_clusters} components")
            start_from_mixture(fresh, args, data, rows, n_clusters, distinct_rows)
        progress.stage(args, f"training: {args.epochs} epochs")

    if checkpoint is not None:  # prepare() is for fresh models only
        progress.stage(args, f"training: continuing to epoch {args.epochs}")
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


def start_from_mixture(model, args, data, rows, n_clusters, distinct_rows):
    """common.warm_start.warm_start from a classical mixture: the data stage's, or one of the world's own
    kind (world.cluster_start), or one with n_clusters components when K differs."""
    from common.baselines import fit_mixture, fit_observed_pattern_mixture
    from common.cache import cached
    from common.warm_start import warm_start

    world, start = data.world, data.mixture
    if world.cluster_start == "observed pattern":  # data-only work, read back by a loop's later runs
        start = cached(args, fit_observed_pattern_mixture)(
            rows.cpu().numpy(), n_clusters, args.seed, world.cluster_start_options
        )
    elif len(start.weights_) != n_clusters:
        start = cached(args, fit_mixture)(rows.cpu().numpy(), n_clusters, world.likelihood, args.seed)
    weights, means, responsibilities = start.weights_, start.means_, start.predict_proba(rows.cpu().numpy())
    if data.labelled is not None:  # --labels: component k becomes class k, named by the labelled rows
        weights, means, responsibilities = named_by_labels(data, weights, means, responsibilities)
    warm_start(
        model,
        weights,
        means,
        rows=rows,
        responsibilities=responsibilities,
        distinct_rows=distinct_rows,
        **world.warm_start,
    )


def named_by_labels(data, weights, means, responsibilities):
    """A mixture's weights (K,), means (K, D) and the training rows' responsibilities (n, K) reordered so
    that component k is class k, with the labelled rows' responsibilities their class (one-hot)."""
    import numpy as np

    from common.semi_supervised import name_components

    rows, labels = data.labelled, data.train.labels[data.labelled]
    order = name_components(responsibilities[rows], labels, data.world.n_classes)
    responsibilities = responsibilities[:, order]
    responsibilities[rows] = np.eye(data.world.n_classes)[labels]
    return np.asarray(weights)[order], np.asarray(means)[order], responsibilities


def select_clusters(args, data, stop=None):
    """--clusters auto for the gmvae: fit each K of candidate_ks on part of the training rows and score
    each by importance-weighted NLL on the rest (--test-fraction of them). Extra components can sit
    unused, so several K tie; the one-standard-error rule keeps the smallest K whose NLL is within one
    standard error (of the paired per-row difference) of the best, and a model that leaves some of its
    components empty counts as the smaller model it is: K is the number it uses."""
    import numpy as np
    import torch

    from common.evaluate import candidate_ks, cluster_usage, log_likelihood
    from common.world import split

    fit_part, valid_part = split(data.train, args.test_fraction, np.random.default_rng(args.seed))
    device = data.x_train.device
    x_fit = torch.as_tensor(fit_part.x, dtype=torch.float32, device=device)
    x_valid = torch.as_tensor(valid_part.x, dtype=torch.float32, device=device)
    ks = candidate_ks(data.world.n_classes, len(fit_part))
    log_px, in_use = [], []  # per validation row, for each K; components in use for each K
    for i, k in enumerate(ks, 1):
        progress.stage(args, f"--clusters auto: trying K = {k}, {i} of {len(ks)} ({', '.join(map(str, ks))})")
        fitted, _, _, _ = train(args, data, x_fit, None, k, stop=stop)
        log_px.append(log_likelihood(fitted, x_valid, min(args.iw_samples, 200)).cpu().numpy())
        in_use.append(cluster_usage(fitted, x_fit)["in_use"])
    log_px = np.array(log_px)  # (len(ks), n_valid)
    nlls = -log_px.mean(1)
    best = int(np.argmin(nlls))
    standard_errors = np.zeros(len(ks))  # one validation row has none: the best K, then
    if log_px.shape[1] > 1:
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


def read_history(folder):
    """history.csv of a run folder as a list of rows, or None when it has none."""
    import pandas as pd

    try:
        return pd.read_csv(os.path.join(folder, "history.csv")).to_dict("records")
    except (OSError, ValueError):
        return None
