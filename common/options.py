"""The options every demo shares, each declared once: its default, its help text, its check.

A demo's options are a dataclass deriving from RunOptions (as CleanRL's `Args`): it adds its own fields
and may give a shared one its own default (`epochs: int = 80`, the help text staying the one declared
here). common/cli.py turns the class into the command line: `--help` shows every default the run uses,
values are checked as they are parsed and combinations by `check()`, before any work.
"""

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from typing import ClassVar

from common.cli import (
    CORRUPTION,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    OPEN_FRACTION,
    POSITIVE,
    POSITIVE_INT,
    SEED,
    UsageError,
    clusters_type,
    flag_name,
    labels_type,
    option,
    script_of,
)
from common.model_table import CHOICES, MODEL_OPTION_DEFAULTS, MODELS, models_reading

_model = functools.partial(option, group="model")


def _read_by_some(name):
    """--help's default of an option only some models read: what those models get when not told."""
    return str(MODEL_OPTION_DEFAULTS[name])


_training = functools.partial(option, group="training")
_evaluation = functools.partial(option, group="data and evaluation")
_output = functools.partial(option, group="output")
_table = functools.partial(option, group="your own data")


@dataclass
class RunOptions:
    """The options of every run: the model, its training, its evaluation and its output."""

    demo: ClassVar[str] = "demo"  # the demo's name: its run folder, its checkpoints
    description: ClassVar[str] = ""  # --help's first paragraph
    epilog: ClassVar[str | None] = None  # --help's last paragraph
    mode: ClassVar[str] = ""  # the flags that choose this class, for a demo with modes ("--likelihood ...")
    binary: ClassVar[bool] = False  # the demo's features are 0/1: --noise flip applies
    # what only changes the evaluation (or its output), never the training a --resume continues
    RESUME_MAY_CHANGE: ClassVar[tuple] = (
        "quiet", "visualize", "interpret", "device", "iw_samples", "anomalies", "cache",
    )  # fmt: skip
    REFUSED: ClassVar[dict] = {}  # shared options a mode has no use for -> why; left out of its --help

    # ---- model
    model: str = _model(
        "vae", "; ".join(f"{name}: {MODELS[name].summary}" for name in CHOICES), choices=CHOICES
    )
    latent_dim: int = _model(2, "size of the continuous latent z", type=POSITIVE_INT, metavar="Z")
    hidden_dim: int = _model(
        64, "width of the hidden layers of encoder and decoder", type=POSITIVE_INT, metavar="H"
    )
    hidden_layers: int = _model(
        2,
        "hidden layers of encoder and decoder, each --hidden-dim wide (the gmvae's encoder counts its layer "
        "on [x, y])",
        type=POSITIVE_INT,
        metavar="L",
    )
    clusters: int | str | None = _model(
        None,
        "number of clusters: the gmvae's categories, or the Gaussian mixture fitted on the codes of the "
        "other models; 'auto' tries K = 2 .. 2 x the true number and keeps, for the gmvae, the smallest K "
        "within one standard error of the best held-out likelihood, for the other models the K of the "
        "lowest BIC",
        type=clusters_type,
        metavar="K",
        shown="the world's number of classes; auto for --data without --label-column",
    )
    beta: float = _model(
        1.0, "weight of the KL term in the ELBO; 1 is the true ELBO, >1 a beta-VAE", type=NON_NEGATIVE
    )
    anneal_epochs: int = _model(
        0,
        "raise beta linearly from 0 to --beta over the first N epochs (KL annealing); 0 is off; --model hvae "
        "makes a default of 0 into 10 (at most --epochs)",
        type=NON_NEGATIVE_INT,
        metavar="N",
    )
    corruption: float | None = _model(
        None,
        "dae only: share of inputs corrupted during training, in [0, 1)",
        type=CORRUPTION,
        metavar="P",
        shown=_read_by_some("corruption"),
    )
    noise: str | None = _model(
        None,
        "dae only: how inputs are corrupted; flip (binary data only) flips bits",
        choices=("dropout", "flip"),
        shown=_read_by_some("noise"),
    )
    prior: str | None = _model(
        None,
        "vae only: the prior p(z); vamp is the VampPrior (Tomczak and Welling 2018), the mixture of the "
        "encoder's posteriors at --pseudo-inputs learned inputs",
        choices=("normal", "vamp"),
        shown=_read_by_some("prior"),
    )
    pseudo_inputs: int | None = _model(
        None,
        "--prior vamp: number of learned pseudo-inputs",
        type=POSITIVE_INT,
        metavar="K",
        shown=_read_by_some("pseudo_inputs"),
    )
    flow: str | None = _model(
        None,
        "vae only: push q(z|x) through --flow-steps steps of an inverse autoregressive flow (iaf, Kingma et "
        "al. 2016) or a planar flow (Rezende and Mohamed 2015)",
        choices=("iaf", "planar"),
        shown="off",
    )
    flow_steps: int | None = _model(
        None,
        "--flow: number of flow steps",
        type=POSITIVE_INT,
        metavar="N",
        shown=_read_by_some("flow_steps"),
    )
    lower_dim: int | None = _model(
        None,
        "hvae only: size of the lower latent layer z1 (the top layer z2, the one plotted, is --latent-dim)",
        type=POSITIVE_INT,
        metavar="Z1",
        shown=_read_by_some("lower_dim"),
    )
    iw_train: int | None = _model(
        None,
        "vae, gmvae and hvae: train on the K-sample importance-weighted bound (IWAE, Burda et al. 2016); 1 "
        "is the ELBO",
        type=POSITIVE_INT,
        metavar="K",
        shown=_read_by_some("iw_train"),
    )
    labels: int | str | None = _model(
        None,
        "gmvae only: train as M2 (Kingma et al. 2014) with the classes of N training rows, spread evenly "
        "over the classes (at least one each) and chosen by --seed, the rest unlabelled (all: every row "
        "labelled); its clusters are then the classes, scored beside Naive Bayes and logistic regression "
        "on the same rows (docs/semi-supervised.md)",
        type=labels_type,
        metavar="N",
        shown="off",
    )
    label_weight: float | None = _model(
        None,
        "--labels: weight A of the classification term -log q(y|x) of the labelled rows, alpha = A x the "
        "training rows as in the paper; 0 trains on the bound alone",
        type=NON_NEGATIVE,
        metavar="A",
        shown=_read_by_some("label_weight"),
    )

    # ---- training
    epochs: int = _training(50, "passes over the training rows", type=POSITIVE_INT)
    batch_size: int = _training(
        256,
        "rows per gradient step",
        type=POSITIVE_INT,
        metavar="B",
        shown="{default}; unless given, at most an eighth of the training rows (at least 16), so that "
        "small tables get several steps per epoch, and doubled on big data until an epoch is at most 1000 "
        "steps",
    )
    lr: float = _training(
        5e-3,
        "Adam learning rate at the start; it decays to 0 along a cosine; --model vqvae makes a default of "
        "0.005 into 0.001",
        type=POSITIVE,
    )
    restarts: int = _training(
        1,
        "train R models from different random starts and keep the best training ELBO",
        type=POSITIVE_INT,
        metavar="R",
    )
    device: str = _training(
        "auto", "where to train; auto picks cuda when a GPU is present", choices=("auto", "cpu", "cuda")
    )
    seed: int = _training(
        0, f"seed of the world, the split, the model and the baselines, in {SEED}", type=SEED
    )
    quiet: bool = _training(False, "no progress bar and no summary")
    resume: str | None = _training(
        None,
        "continue an interrupted run from its model.pt (weights, optimizer state, epoch) with its "
        "config.json; only " + ", ".join(map(flag_name, RESUME_MAY_CHANGE)) + " may be given besides",
        metavar="RUN_DIR",
        shown="off",
    )
    load: str | None = _training(
        None,
        "skip training: evaluate and plot the model saved in a run folder's model.pt",
        metavar="MODEL.pt",
        shown="off",
    )

    # ---- data and evaluation
    test_fraction: float = _evaluation(
        0.2, "share of rows held out for evaluation, in (0, 1)", type=OPEN_FRACTION, metavar="F"
    )
    iw_samples: int = _evaluation(
        1000, "importance samples per row for the held-out log-likelihood", type=POSITIVE_INT, metavar="S"
    )
    anomalies: float | None = _evaluation(
        None,
        "score how well the model finds rows from outside the world: a copy of the held-out rows with a "
        "share F of them, in (0, 1), replaced by rows that keep the data's look but not its structure "
        "(docs/anomalies.md); every other number is computed on the held-out rows as they are",
        type=OPEN_FRACTION,
        metavar="F",
        shown="off",
    )

    # ---- output
    out: str = _output(None, "run folder for metrics, history, config, model and figures", metavar="DIR")
    overwrite: bool = _output(False, "allow --out to be a folder holding another demo's run")
    visualize: bool = _output(False, "write the figures as PNG files")
    interpret: bool = _output(
        False,
        "decode the latent space: traversals, magnitude of change per factor and mutual information with "
        "the true factors, in interpret.csv and metrics.json",
    )
    save_data: bool = _output(False, "also write the rows (train.csv, test.csv) and the world (world.json)")
    cache: str = _output(
        "on",
        "keep data-only work (the classical mixture, the baselines) in .dlvm-cache beside --out, for the "
        "next run on the same rows; off neither reads nor writes it (docs/speed.md)",
        choices=("on", "off"),
    )

    # ---- filled in by the command line, not flags
    argv: list = field(default_factory=list, init=False)  # the command line, as typed
    given: frozenset = field(default=frozenset(), init=False)  # the options it gave
    resumed_with: list | None = field(default=None, init=False)  # with --resume: this command line

    def __post_init__(self):
        if self.out is None:
            self.out = os.path.join("results", self.demo)

    @property
    def prog(self):
        """The demo's script, for messages: 'disease_dlvm.py'."""
        return script_of(type(self))

    def check(self):
        """Refuse options that make no sense together, with the reason; fill in the model's defaults."""
        if self.load is not None:  # first: the saved model decides which model options apply
            from common.fitting import apply_loaded

            apply_loaded(self)
        self.check_model_options()
        if self.noise == "flip" and not self.binary:
            raise UsageError("--noise", "flip needs binary features; use dropout")
        if self.load is not None and self.restarts > 1:
            raise UsageError("--load", "evaluates a saved model, so --resume and --restarts do not apply")
        if "anneal_epochs" not in self.given:  # a default warm-up longer than a short run: all of it
            self.anneal_epochs = min(self.anneal_epochs, self.epochs)
        if self.anneal_epochs > self.epochs:
            raise UsageError(
                "--anneal-epochs",
                f"{self.anneal_epochs} is more than --epochs {self.epochs}; beta would never reach --beta",
            )
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise UsageError("--device", "'cuda' requested but no CUDA device is available; use cpu")

    def check_model_options(self):
        """Options only some models read: refused for the others, filled with their defaults for the
        models that read them (so config.json shows what ran)."""
        reads = MODELS[self.model].options
        for name, default in MODEL_OPTION_DEFAULTS.items():
            if getattr(self, name, None) is not None and name not in reads:
                readers = ", ".join(f"--model {m}" for m in models_reading(name))
                raise UsageError(
                    flag_name(name),
                    f"applies to {readers} only (got --model {self.model}); drop {flag_name(name)}",
                )
            if name in reads and getattr(self, name) is None:
                setattr(self, name, default)
        for name, value in MODELS[self.model].defaults.items():  # unless the user or the mode set it
            if name not in self.given and getattr(self, name) == getattr(RunOptions, name):
                setattr(self, name, value)
        if "pseudo_inputs" in self.given and self.prior != "vamp":
            raise UsageError("--pseudo-inputs", "applies to --prior vamp only")
        if "flow_steps" in self.given and self.flow is None:
            raise UsageError("--flow-steps", "applies to --flow iaf or planar only")
        self.check_labels(reads)
        if "pseudo_inputs" in reads and self.prior != "vamp":
            self.pseudo_inputs = None  # no pseudo-inputs without the VampPrior
        if "flow_steps" in reads and self.flow is None:
            self.flow_steps = None

    def check_labels(self, reads):
        """--labels (M2) with the options it goes with; its checks against the data are the data stage's."""
        if "label_weight" in self.given and self.labels is None:
            raise UsageError(
                "--label-weight", "applies to --labels only; add --labels N or drop --label-weight"
            )
        if self.labels is not None and (self.iw_train or 1) > 1:
            raise UsageError(
                "--iw-train", "--labels trains on M2's bound, one sample per row; drop --iw-train"
            )
        if "label_weight" in reads and self.labels is None:
            self.label_weight = None

    @property
    def model_flag(self):
        """The flag that chose the model (a demo whose own flag chooses one says so)."""
        return "--model"

    def resumable(self, folder):
        """Raise UsageError when the run in `folder` (these are its options) cannot be continued."""
        if self.load is not None:
            raise UsageError(
                "--resume",
                f"{folder} holds an evaluation of a loaded model (--load), not a training run; there is "
                "nothing to resume",
            )
        if self.restarts > 1 or self.clusters == "auto":  # read from config.json: say where, none was typed
            key = f'"restarts" is {self.restarts}' if self.restarts > 1 else "\"clusters\" is 'auto'"
            raise UsageError(
                "--resume",
                f"{os.path.join(folder, 'config.json')}: {key}, and runs with --restarts > 1 or --clusters "
                "auto cannot be resumed; rerun them",
            )
        from common.saved_run import read_checkpoint

        file = os.path.join(folder, "model.pt")
        checkpoint = read_checkpoint(file, self.demo, "--resume")
        done = checkpoint.get("training", {}).get("epoch")
        if done is None:
            raise UsageError("--resume", f"{file} has no training state to continue from")
        if done >= self.epochs:
            again = f"evaluate its model again with --load {os.path.join(folder, 'model.pt')} --out OTHER"
            raise UsageError("--resume", f"{folder} already finished all {self.epochs} epochs; {again}")

    def config(self, **resolved):
        """config.json: every option as the run used it, what was typed, and `resolved` (the device)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "given"}
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return {**values, "given": sorted(self.given), "demo": self.demo, **resolved}


@dataclass
class DataOptions(RunOptions):
    """The options of a demo that can also learn from a CSV table of your own (--data)."""

    DATA_ONLY: ClassVar[tuple] = ()  # a demo's own options that apply to --data only

    data: str | None = _table(
        None,
        "train on a CSV table with a header row and columns of this demo's kind (0/1 features for yes/no "
        "data, numbers for real ones) instead of the synthetic world; there is no truth then, so "
        "truth-based metrics are left out",
        metavar="FILE.csv",
        shown="the world",
    )
    label_column: str | None = _table(
        None,
        "with --data: a column of known classes, used to colour the plots and score recovery, never shown "
        "to the model but for the rows of --labels",
        metavar="NAME",
    )
    drop_columns: tuple = _table((), "with --data: columns to ignore, e.g. ids", nargs="+", metavar="NAME")
    # filled in by the data stage: the defaults fitted to the table (common/data.py: adapt_to_table)
    adapted_to_table: dict = field(default_factory=dict, init=False)

    def check(self):
        for name in ("label_column", "drop_columns", *self.DATA_ONLY):
            if getattr(self, name) and self.data is None:
                raise UsageError(flag_name(name), "applies to --data only")
        if self.data is not None:
            written = {"history.csv"} | ({"interpret.csv"} if self.interpret else set())
            written |= {"train.csv", "test.csv"} if self.save_data else set()
            if os.path.realpath(self.data) in {os.path.realpath(os.path.join(self.out, n)) for n in written}:
                raise UsageError(
                    "--data",
                    f"the run would write its own {os.path.basename(self.data)} over your table "
                    f"{self.data}; choose another --out",
                )
        super().check()

    def resumable(self, folder):
        if self.data is not None:
            raise UsageError("--resume", "runs on --data cannot be resumed; rerun them")
        super().resumable(folder)
