"""Command-line flags shared by every demo: declaration, validation in one place, device choice.

Only the standard library is imported here, so `python disease_dlvm.py --help` stays fast: torch,
matplotlib, sklearn and pandas are imported by the pipeline after the arguments are known.
"""

import argparse
import functools
import json
import math
import os
import shutil
import sys
import tempfile

MIN_FREE_BYTES = 50 * 2**20  # a run folder needs a few MB; refuse before training on a full disk
RESUME_MAY_CHANGE = ("quiet", "visualize", "interpret", "device", "iw_samples")  # flags --resume allows


# Flags that not every demo has, and the demos that do: a flag given to the wrong demo is then
# refused with where it belongs, not only "unrecognized" (a test keeps this in step with the parsers).
DEMO_ONLY_FLAGS = {
    **dict.fromkeys(("--samples", "--data", "--label-column", "--drop-columns"), ("disease", "cuisine")),
    "--distinct-rows": ("disease",),
    **dict.fromkeys(("--standardize", "--conditional", "--generate", "--count"), ("cuisine",)),
    **dict.fromkeys(
        ("--users", "--movies", "--likelihood", "--ratings", "--titles", "--folds", "--dropout")
        + ("--anneal-steps", "--ease-lambda", "--ease-max-items", "--mixture-components"),
        ("movie",),
    ),
}


def other_demos_flags(tokens, demo):
    """' (--generate is a flag of cuisine_dlvm.py)' for the tokens that are other demos' flags, or ''."""
    notes = {}  # one note per flag, in the order given
    for token in tokens:
        flag = token.split("=", 1)[0]
        owners = DEMO_ONLY_FLAGS.get(flag)
        if owners and demo not in owners:
            notes[flag] = f"{flag} is a flag of {' and '.join(f'{d}_dlvm.py' for d in owners)}"
    return f" ({'; '.join(notes.values())})" if notes else ""


class DemoParser(argparse.ArgumentParser):
    """argparse with a one-line error: `prog: error: <what and how to fix>`, exit code 2."""

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an unrecognized flag that belongs to another demo says which one."""
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            hint = other_demos_flags(extras, getattr(self, "demo", None))
            self.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return args

    def error(self, message):
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")  # a value may hold a line break
        self.exit(2, f"{self.prog}: error: {one_line}\n")


class _Peek(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def typed(argv, *flags):
    """{dest: value, or None when not given} of `flags` as the command line gives them (abbreviated,
    or as --flag=value), read before the full parse; all None when argv does not parse (the full
    parser then reports the problem). Tells a typed value from a default."""
    peek = _Peek(add_help=False)
    for flag in flags:
        peek.add_argument(flag)
    try:
        return vars(peek.parse_known_args(argv)[0])
    except ValueError:
        return dict.fromkeys(vars(peek.parse_known_args([])[0]))


class Interval:
    """A numeric constraint used as an argparse `type` (after sklearn's `Interval`).

    Interval(int, 1, None) accepts integers >= 1; Interval(float, 0, 1, closed="neither") accepts
    numbers strictly between 0 and 1. A bad value raises ArgumentTypeError, which argparse turns into
    `argument --flag: <message>`, so the message names the flag, the value and the valid range.
    """

    def __init__(self, kind, low, high, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def __str__(self):
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{left}{low}, {high}{right}"

    def __call__(self, text):
        noun = "an integer" if self.kind is int else "a number"
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; use {noun} in {self}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not finite; use {noun} in {self}")
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; use {noun} in {self}")
        return value

    def contains(self, value):
        below = self.low is not None and (
            value < self.low or (value == self.low and self.closed in ("neither", "right"))
        )
        above = self.high is not None and (
            value > self.high or (value == self.high and self.closed in ("neither", "left"))
        )
        return not (below or above)


MODEL_CHOICES = ("vae", "gmvae", "ae", "dae")  # kept in step with common.models.MODELS (a test checks)
POSITIVE_INT = Interval(int, 1, None)
NON_NEGATIVE_INT = Interval(int, 0, None)
NON_NEGATIVE = Interval(float, 0, None)
POSITIVE = Interval(float, 0, None, closed="neither")
OPEN_FRACTION = Interval(float, 0, 1, closed="neither")
CORRUPTION = Interval(float, 0, 1, closed="left")
SEED = Interval(int, 0, 2**32 - 1)  # the baselines' scikit-learn random_state takes 32-bit seeds only


def clusters_type(text):
    """--clusters: an integer K >= 2, or 'auto' (choose K by held-out likelihood, or BIC for the
    mixture fitted on the codes of models without a cluster latent)."""
    if text == "auto":
        return text
    try:
        return Interval(int, 2, None)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of clusters; use an integer >= 2 or auto"
        ) from None


def build_parser(demo, description, epilog=None):
    """The parser every demo starts from; the demo then adds its data-size flags."""
    parser = DemoParser(
        prog=f"{demo}_dlvm.py",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.demo = demo
    return parser


def add_data_flags(parser, binary):
    """--data and its companions: the demo's model on a CSV table of your own instead of the world."""
    kind = "0/1 columns (yes/no features)" if binary else "numeric columns"
    group = parser.add_argument_group("your own data")
    group.add_argument(
        "--data",
        metavar="FILE.csv",
        help=f"train on a CSV table with a header row and {kind} instead of the synthetic world; "
        "there is no truth then, so truth-based metrics are left out (default: the world)",
    )
    group.add_argument(
        "--label-column",
        metavar="NAME",
        help="with --data: a column of known classes, never shown to the model, used to colour the plots "
        "and score recovery (default: none)",
    )
    group.add_argument(
        "--drop-columns",
        nargs="+",
        default=[],
        metavar="NAME",
        help="with --data: columns to ignore, e.g. ids (default: none)",
    )
    if not binary:
        group.add_argument(
            "--standardize",
            action="store_true",
            help="with --data: scale every column to mean 0 and sd 1 (training rows' statistics) before "
            "the model and the baselines see it; likelihoods are then per standardised unit (default: off)",
        )
    return parser


def add_shared_flags(parser, demo, defaults=None, shown=None):
    """Flags every demo has. `defaults` overrides per demo (e.g. {"epochs": 80}); `shown`, what a help
    text gives as the default where the demo fills it in from other flags (e.g. cuisine's
    --anneal-epochs, longer with --conditional).

    Every help text ends with its default, so a user never has to read the code to know it.
    """
    d = {
        "model": "vae",
        "epochs": 50,
        "batch_size": 256,
        "lr": 5e-3,
        "latent_dim": 2,
        "hidden_dim": 64,
        "beta": 1.0,
        "test_fraction": 0.2,
        "iw_samples": 1000,
        "seed": 0,
        "restarts": 1,
        "anneal_epochs": 0,
    }
    d.update(defaults or {})
    shown = {**d, **(shown or {})}
    parser.set_defaults(default_batch_size=d["batch_size"])

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default=d["model"],
        help="vae: Gaussian latent; gmvae: mixture prior with a discrete cluster latent; ae / dae: "
        f"deterministic (denoising) autoencoder baselines (default: {d['model']})",
    )
    model.add_argument(
        "--latent-dim",
        type=POSITIVE_INT,
        default=d["latent_dim"],
        metavar="Z",
        help=f"size of the continuous latent z (default: {d['latent_dim']})",
    )
    model.add_argument(
        "--hidden-dim",
        type=POSITIVE_INT,
        default=d["hidden_dim"],
        metavar="H",
        help=f"width of the two hidden layers of encoder and decoder (default: {d['hidden_dim']})",
    )
    model.add_argument(
        "--clusters",
        type=clusters_type,
        default=None,
        metavar="K",
        help="number of clusters: the gmvae's categories, or the Gaussian mixture fitted on the codes of "
        "the other models; 'auto' tries K = 2 .. 2 x the true number and keeps, for the gmvae, the "
        "smallest K within one standard error of the best held-out likelihood, for the other models "
        "the K of the lowest BIC (default: the world's number of classes; auto for --data without "
        "--label-column)",
    )
    model.add_argument(
        "--beta",
        type=NON_NEGATIVE,
        default=d["beta"],
        help=f"weight of the KL term in the ELBO; 1 is the true ELBO, >1 a beta-VAE (default: {d['beta']})",
    )
    model.add_argument(
        "--anneal-epochs",
        type=NON_NEGATIVE_INT,
        default=d["anneal_epochs"],
        metavar="N",
        help="raise beta linearly from 0 to --beta over the first N epochs (KL annealing); 0 is off "
        f"(default: {shown['anneal_epochs']})",
    )
    model.add_argument(
        "--corruption",
        type=CORRUPTION,
        default=None,
        metavar="P",
        help="dae only: share of inputs corrupted during training, in [0, 1) (default: 0.2)",
    )
    model.add_argument(
        "--noise",
        choices=["dropout", "flip"],
        default=None,
        help="dae only: how inputs are corrupted; flip (binary data only) flips bits (default: dropout)",
    )

    train = parser.add_argument_group("training")
    train.add_argument(
        "--epochs",
        type=POSITIVE_INT,
        default=d["epochs"],
        help=f"passes over the training rows (default: {d['epochs']})",
    )
    train.add_argument(
        "--batch-size",
        type=POSITIVE_INT,
        default=None,
        metavar="B",
        help=f"rows per gradient step (default: {d['batch_size']}; an eighth of the training rows when "
        "that is smaller, so that small tables still get several steps per epoch; doubled on big data "
        "until an epoch is at most 1000 steps)",
    )
    if demo == "disease":  # the demo of 0/1 rows, which repeat
        train.add_argument(
            "--distinct-rows",
            choices=["on", "off"],
            default="off",
            help="on: when at most half the training rows are distinct, each batch computes each distinct "
            "row once, weighted by its count: the same batches, loss and expected gradient, less work, "
            "but equal rows in a batch share one draw of z, so the gradient is noisier (default: off)",
        )
    train.add_argument(
        "--lr",
        type=POSITIVE,
        default=d["lr"],
        help=f"Adam learning rate at the start; it decays to 0 along a cosine (default: {d['lr']})",
    )
    train.add_argument(
        "--restarts",
        type=POSITIVE_INT,
        default=d["restarts"],
        metavar="R",
        help="train R models from different random starts and keep the best training ELBO "
        f"(default: {d['restarts']})",
    )
    train.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where to train; auto picks cuda when a GPU is present (default: auto)",
    )
    train.add_argument(
        "--seed",
        type=SEED,
        default=d["seed"],
        help=f"seed of the world, the split, the model and the baselines, in {SEED} (default: {d['seed']})",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar and no summary (default: off)")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its model.pt (weights, optimizer state, epoch) with its "
        "config.json; only " + ", ".join(f"--{f.replace('_', '-')}" for f in RESUME_MAY_CHANGE) + " may be "
        "given besides (default: off)",
    )
    train.add_argument(
        "--load",
        metavar="MODEL.pt",
        help="skip training: evaluate and plot the model saved in a run folder's model.pt (default: off)",
    )

    evaluation = parser.add_argument_group("data and evaluation")
    evaluation.add_argument(
        "--test-fraction",
        type=OPEN_FRACTION,
        default=d["test_fraction"],
        metavar="F",
        help=f"share of rows held out for evaluation, in (0, 1) (default: {d['test_fraction']})",
    )
    evaluation.add_argument(
        "--iw-samples",
        type=POSITIVE_INT,
        default=d["iw_samples"],
        metavar="S",
        help=f"importance samples per row for the held-out log-likelihood (default: {d['iw_samples']})",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        default=os.path.join("results", demo),
        metavar="DIR",
        help=f"run folder for metrics, history, config, model and figures (default: results/{demo})",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="allow --out to be a folder holding another demo's run (default: off)",
    )
    output.add_argument(
        "--visualize", action="store_true", help="write the figures as PNG files (default: off)"
    )
    output.add_argument(
        "--interpret",
        action="store_true",
        help="decode the latent space: traversals, magnitude of change per factor and mutual information "
        "with the true factors, in interpret.csv and metrics.json (default: off)",
    )
    output.add_argument(
        "--save-data",
        action="store_true",
        help="also write train.csv, test.csv and world.json (the movie demo's implicit mode: its likes in "
        "train.csv and test.csv, no world.json) (default: off)",
    )
    return parser


def parse(parser, argv=None, demo_checks=None):
    """Parse and validate everything that can be checked without heavy imports.

    demo_checks(parser, args), when given, checks a demo's own flags first; it may fill in values that
    the shared checks read (the cuisine demo's --conditional chooses the model).
    """
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.resume:
        args = resumed_args(parser, args)
    elif demo_checks is not None:  # a resumed run's flags were checked when it started
        demo_checks(parser, args)
    check_conflicts(parser, args)
    check_out_dir(parser, args.out, parser.demo, overwrite=args.overwrite or bool(args.resume))
    return args


def resumed_args(parser, args):
    """--resume RUN_DIR: the run's own configuration, with only a few presentation flags changeable."""
    changed = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and action.dest not in ("help", "resume", *RESUME_MAY_CHANGE)
        and getattr(args, action.dest) != action.default
    ]
    if changed:
        parser.error(
            f"argument --resume: continues the run as it was configured; drop {', '.join(changed)} "
            f"(allowed besides: {', '.join('--' + f.replace('_', '-') for f in RESUME_MAY_CHANGE)})"
        )
    path = os.path.join(args.resume, "config.json")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or "not valid JSON"
        parser.error(f"argument --resume: cannot read {path} ({reason}); give a run folder of this demo")
    if not isinstance(saved, dict):
        parser.error(
            f"argument --resume: {path} is not a run's configuration; give a run folder of this demo"
        )
    if saved.get("demo") != parser.demo:
        parser.error(
            f"argument --resume: {args.resume} holds a run of the {saved.get('demo')} demo; "
            f"resume it with {saved.get('demo')}_dlvm.py"
        )
    if saved.get("load"):
        parser.error(
            f"argument --resume: {args.resume} holds an evaluation of a loaded model (--load), not a "
            "training run; there is nothing to resume"
        )
    if saved.get("restarts", 1) > 1 or saved.get("clusters") == "auto":
        parser.error(
            "argument --resume: runs with --restarts > 1 or --clusters auto cannot be resumed; rerun them"
        )
    resumed = argparse.Namespace(**{a.dest: a.default for a in parser._actions if a.dest != "help"})
    for key, value in saved.items():
        if hasattr(resumed, key):
            setattr(resumed, key, value)
    for key in RESUME_MAY_CHANGE:  # given on this command line (not at its default): it wins
        if getattr(args, key) != parser.get_default(key):
            setattr(resumed, key, getattr(args, key))
    resumed.device = args.device  # where to continue is this machine's business
    resumed.resume, resumed.out, resumed.argv = args.resume, args.resume, saved.get("argv", [])
    resumed.resumed_with = args.argv
    return resumed


def check_conflicts(parser, args):
    """Flags that make no sense together are refused with the reason, and dae defaults filled in."""
    if args.model != "dae":
        for flag, value in (("--corruption", args.corruption), ("--noise", args.noise)):
            if value is not None:
                parser.error(f"argument {flag}: applies to --model dae only (got --model {args.model})")
    else:
        args.corruption = 0.2 if args.corruption is None else args.corruption
        args.noise = args.noise or "dropout"
    data_only = [f for f in ("label_column", "drop_columns", "standardize") if getattr(args, f, None)]
    if data_only and not getattr(args, "data", None):
        parser.error(f"argument --{data_only[0].replace('_', '-')}: applies to --data only")
    if getattr(args, "data", None) and args.resume:
        parser.error("argument --resume: runs on --data cannot be resumed; rerun them")
    if args.load and (args.resume or args.restarts > 1):
        parser.error("argument --load: evaluates a saved model, so --resume and --restarts do not apply")
    if args.anneal_epochs > args.epochs:
        parser.error(
            f"argument --anneal-epochs: {args.anneal_epochs} is more than --epochs {args.epochs}; "
            "beta would never reach --beta"
        )


def check_out_dir(parser, path, demo=None, overwrite=False):
    """Fail before training if the run folder cannot be written or holds another demo's run
    (checked when `demo` is given)."""
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"argument --out: {path!r} is a file; give a folder path")
    previous = os.path.join(path, "config.json")
    if demo is not None and os.path.exists(previous) and not overwrite:
        try:
            with open(previous) as f:
                other = json.load(f).get("demo")
        except (OSError, ValueError, AttributeError):
            other = "unknown"
        if other != demo:
            parser.error(
                f"argument --out: {path!r} holds a run of the {other} demo; choose another folder "
                "or pass --overwrite"
            )
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        parser.error(f"argument --out: cannot write to {path!r} ({err.strerror}); choose another folder")
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        parser.error(
            f"argument --out: only {free / 2**20:.1f} MB free on the disk of {path!r}; free some space"
        )


def resolve_device(parser, requested):
    """'auto' -> cuda when available, else cpu. Imports torch, so call it after parsing."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        parser.error("argument --device: 'cuda' requested but no CUDA device is available; use cpu")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


# features x hidden width below which a CPU run uses one thread. Small matrices gain little from a
# second thread, and threads that spin waiting for each other turn a busy machine's seconds into
# minutes. Measured on this 2-core CPU, Mult-VAE [I-600-200], one fold: the synthetic world's 160
# items (96,000) trains in 32-33 s on two threads and 35 s on one, but two such runs at once take
# 161 s on two threads each against 41 s on one; ML-100K's 1447 items (868,000) gain more from the
# second thread alone (16.7 s against 22.2 s), so it keeps it.
SMALL_MODEL = 200_000


def limit_threads(device, n_features, hidden_dim):
    """One torch thread and, through threadpoolctl, one BLAS/OpenMP thread for numpy and scikit-learn
    (10 x 10 solves in the mixture baselines), when the model is small and runs on the CPU."""
    if device != "cpu" or n_features * hidden_dim >= SMALL_MODEL:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def out_of_memory_is_an_error(prog):
    """Decorator for a demo's main(argv): sizes too big for this machine (say --samples 1e9 or
    --hidden-dim 1e6, which the range checks cannot know) end with one line and exit 2, not a
    traceback; so does a second Ctrl-C or SIGTERM (the first lets the run stop cleanly; the second,
    for a user who will not wait, raises KeyboardInterrupt: common.train.StopRequest), with exit 130.
    Files already written stay whole: every write is atomic."""

    def decorate(main):
        @functools.wraps(main)
        def guarded(argv=None):
            try:
                return main(argv)
            except KeyboardInterrupt:
                print(
                    f"{prog}: interrupted; files already written are whole",
                    file=sys.stderr,
                )
                raise SystemExit(130) from None
            except MemoryError:
                pass
            except RuntimeError as err:  # torch's CPU allocator raises RuntimeError, not MemoryError
                if "can't allocate memory" not in str(err) and "not enough memory" not in str(err):
                    raise
            print(
                f"{prog}: error: out of memory: the sizes asked for (rows, --hidden-dim, --latent-dim, "
                "--iw-samples, --batch-size) do not fit in this machine's memory; try smaller ones",
                file=sys.stderr,
            )
            raise SystemExit(2)

        return guarded

    return decorate
