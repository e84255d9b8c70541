"""The data stage of a run: the rows to learn from and the classical mixture fitted on them.

A sample of the world, or a CSV table (--data) with a TableWorld in the world's place, split into
training and held-out rows and checked against what the run asks of them (K clusters need K rows);
as tensors on the device; with the classical latent class model fitted on the training rows, which is
both a baseline and the gmvae's start.
"""

import math
from dataclasses import dataclass, field

from common import progress
from common.cli import UsageError

# Held-out rows needed to score recovery: the ARI compares pairs of rows, and 5 rows give 10 pairs; on
# fewer it is mostly chance (one row has no pair and always scores 1.0, two rows one pair: 1 or 0)
MIN_SCORED_ROWS = 5
MAX_UPDATES_PER_EPOCH = 1000  # above it the default batch doubles (fitted_batch_size)
# Defaults fitted to a --data table (adapt_to_table), measured with bench/real_tables.py (docs/own-data.md)
SMALL_TABLE_ROWS, SMALL_TABLE_EPOCHS = 1000, 40  # below 1000 training rows, 40 epochs: 80 overfit wine
WIDE_TABLE_FEATURES, WIDE_TABLE_LATENT = 20, 8  # above 20 real features, z of 8: 2 dims miss breast cancer


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
    labelled: object = None  # --labels: the training rows whose class the model sees, (N,) indices
    warnings: list = field(default_factory=list)  # printed, and metrics.json's `warnings`


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
    import numpy as np
    import torch

    from common.baselines import fit_mixture
    from common.cache import cached
    from common.model_table import model_class
    from common.semi_supervised import labelled_rows
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
    if getattr(args, "data", None) is not None and args.load is None:
        adapt_to_table(args, world, len(train))
    if getattr(args, "standardize", False):  # an option of the demos with real-valued tables
        train, test = standardized(train, test)
        world.value_label = "z-score"  # what the figures' colour bars and axes show
    x_train = torch.as_tensor(train.x, dtype=torch.float32, device=device)
    x_test = torch.as_tensor(test.x, dtype=torch.float32, device=device)
    x_fit, x_valid = x_train, x_test
    labelled = labelled_rows(args, world, train)
    if model_class(args.model).trained_with_labels or labelled is not None:  # rows that carry their class
        from common.models import with_labels

        known = None  # the cvae: every row's class
        if labelled is not None:  # --labels: the other rows' classes never reach the model
            known = torch.as_tensor(np.isin(np.arange(len(train)), labelled), device=device)
        x_fit = with_labels(x_train, torch.as_tensor(train.labels, device=device), world.n_classes, known)
        if labelled is None:  # the cvae: every held-out row with its class, for the bound it is trained on
            x_valid = with_labels(x_test, torch.as_tensor(test.labels, device=device), world.n_classes)
    n_mixture = world.n_classes or (args.clusters if isinstance(args.clusters, int) else 4)
    # After the checks, so that a refusal stays the run's one line
    progress.stage(
        args, f"data: {len(train)} training, {len(test)} held-out rows; classical mixture ({n_mixture})"
    )
    mixture = cached(args, fit_mixture)(train.x, n_mixture, world.likelihood, args.seed)  # common/cache.py
    warnings = table_warnings(args, world)
    return Data(world, train, test, x_train, x_test, x_fit, x_valid, mixture, n_mixture, labelled, warnings)


def table_warnings(args, world):
    """What a --data run warns about (a column that looks like a row id), printed once, even with --quiet."""
    if world.has_truth:
        return []
    from common.tabular import id_warnings

    warnings = id_warnings(world.table)
    for message in warnings:
        progress.warn(args, message)
    return warnings


def adapt_to_table(args, world, n_train):
    """The demo's defaults fitted to a --data table, where the user has not set them (their flags win):
    fewer epochs on a small table, a wider latent for many real-valued features. What changed is in
    args.adapted_to_table (config.json's `adapted_to_table`)."""
    adapted = {}
    if "epochs" not in args.given and n_train < SMALL_TABLE_ROWS and args.epochs > SMALL_TABLE_EPOCHS:
        args.epochs = SMALL_TABLE_EPOCHS
        adapted["epochs"] = {"value": args.epochs, "why": f"fewer than {SMALL_TABLE_ROWS} training rows"}
        args.anneal_epochs = min(args.anneal_epochs, args.epochs)
    wide = world.likelihood == "gaussian" and world.n_features > WIDE_TABLE_FEATURES
    if "latent_dim" not in args.given and wide and args.latent_dim < WIDE_TABLE_LATENT:
        args.latent_dim = WIDE_TABLE_LATENT
        adapted["latent_dim"] = {
            "value": args.latent_dim,
            "why": f"more than {WIDE_TABLE_FEATURES} real-valued features",
        }
    args.adapted_to_table = adapted


def read_rows(world, args, rng):
    """(world, rows): a sample of the world, or the --data table with a TableWorld in its place."""
    if getattr(args, "data", None) is None:  # an option of the demos that read tables
        return world, world.sample(args.samples, rng)
    import sys

    from common.tabular import TableError, constant_note, load_table
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
    note = constant_note(table)
    if note:  # even with --quiet: the run learns from fewer columns than the file has
        print(f"{args.prog}: note: {note}", file=sys.stderr)
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
    if getattr(args, "anomalies", None) is not None and n_rows - n < 2:
        raise UsageError("--anomalies", "needs at least 2 held-out rows, one normal and one injected")
    check_held_out(args, world, n_rows - n, n_rows)
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


def check_held_out(args, world, n_test, n_rows):
    """Recovery of the classes (a world's, or a label column's) is scored on the held-out rows: fewer
    than MIN_SCORED_ROWS is refused, rather than reported as a perfect score (one row: ARI 1.0)."""
    if world.n_classes == 0 or n_test >= MIN_SCORED_ROWS:
        return
    fraction = math.ceil(MIN_SCORED_ROWS / n_rows * 1000) / 1000  # round(n_rows * fraction) >= 5
    what = f"--label-column {args.label_column!r}" if not world.has_truth else f"the {world.class_noun}"
    other = "drop --label-column" if not world.has_truth else "draw more --samples"
    raise UsageError(
        "--test-fraction",
        f"{args.test_fraction} holds out {n_test} of the {n_rows} rows; scoring recovery of {what} needs "
        f"at least {MIN_SCORED_ROWS} (on fewer, agreement is mostly chance); use --test-fraction "
        f"{fraction} or higher, or {other}",
    )


def standardized(train, test):
    """z-scores with the training rows' mean and sd (the held-out rows never inform the scaling)."""
    from common.world import Sample

    mean, sd = train.x.mean(0), train.x.std(0)
    sd[sd == 0] = 1.0
    return tuple(Sample((part.x - mean) / sd, part.labels, part.factors) for part in (train, test))


def write_data(folder, data):
    """--save-data: train.csv and test.csv (features, the true class, the continuous factors; with --labels,
    whether the model saw the row's class), world.json."""
    import numpy as np
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
        if data.labelled is not None:
            frame["labelled"] = np.isin(np.arange(len(part)), data.labelled) & (part is data.train)
        folder.write_csv(f"{name}.csv", frame)
    folder.write_json("world.json", world.to_dict())
