"""The run folder: metrics.json, history.csv, config.json, model.pt, data files and figures.

RunFolder is the one writer of a run's files, whatever the run (finished, interrupted, diverged,
resumed, evaluated with --load, a recommender's folds). Every file is written to a temporary name in
the same folder and renamed into place (an atomic operation on POSIX), so a reader never sees a
half-written file, even if the run is killed. A run's files go to a staging folder that replaces the
run folder as a whole at its end (common/staging.py). docs/run-folder.md describes every file.
"""

import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager

MIN_FREE_BYTES = 50 * 2**20  # a run folder needs a few MB; refuse before training on a full disk


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds."""
    folder, name = os.path.split(os.path.abspath(path))
    suffix = os.path.splitext(name)[1]  # keep the extension: savefig and to_csv read it
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp{suffix}")  # created by the writer, umask applies
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, obj):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2, allow_nan=False)
        f.write("\n")


def write_csv(path, frame):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_figure(fig, path):
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def save_model(path, model, config, training=None, data=None):
    """state_dict plus a JSON-safe config, the training state (epoch, optimizer, RNG, history) that
    --resume continues from and the data settings the model was trained on (common/saved_run.py): tensors
    and plain values only, loadable with weights_only=True."""
    import torch

    checkpoint = {"state_dict": model.state_dict(), "config": config}
    if training is not None:
        checkpoint["training"] = training
    if data is not None:
        checkpoint["data"] = data
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


class CheckpointError(ValueError):
    """A model.pt that cannot be used, with a one-line reason."""


def load_model_file(path, demo=None):
    """Load a model.pt with torch.load(weights_only=True): tensors and plain values only, so a file
    that would need to unpickle arbitrary objects (and could run code) is refused, not executed.
    With `demo`, a checkpoint written by another demo is refused too."""
    import pickle

    import torch

    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # torch.save writes a zip archive
                raise CheckpointError(
                    f"{path} is not a model.pt (not a PyTorch checkpoint); give a run's model.pt"
                )
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder; give the model.pt inside it") from None
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise CheckpointError(
                f"{path} holds Python objects that would have to be unpickled (which can run code); "
                "refused. A model.pt of these demos holds only tensors and plain values"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt)") from None
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied") from None
    except Exception:  # noqa: BLE001  a truncated or garbled file fails anywhere in torch.load (OSError, KeyError...)
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt)") from None
    if (
        not isinstance(checkpoint, dict)
        or not {"state_dict", "config"} <= set(checkpoint)
        or not isinstance(checkpoint["config"], dict)
    ):
        raise CheckpointError(
            f"{path} is a PyTorch file but not a model.pt of these demos (no state_dict and config)"
        )
    written_by = checkpoint["config"].get("demo")
    if demo is not None and written_by != demo:
        raise CheckpointError(
            f"{path} was written by the {written_by} demo; load it with {written_by}_dlvm.py"
        )
    broken = non_finite(checkpoint["state_dict"])
    if broken:  # a run keeps the last good epoch's weights, so this file was damaged since
        named = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
        raise CheckpointError(
            f"{path} holds NaN or infinite weights ({named}); it cannot be evaluated or continued: give "
            "another model.pt, or retrain"
        )
    return checkpoint


def non_finite(state_dict):
    """The names of the tensors of a state_dict that hold a NaN or an infinity."""
    import torch

    if not isinstance(state_dict, dict):
        return []
    return [
        name
        for name, value in state_dict.items()
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()
    ]


_begun = []  # RunFolders between begin() and end(); end_all() ends those a demo's main left open
ended = []  # (out, whether its new run was put in place) of each RunFolder ended in this process


def end_all():
    """End every run folder still staged (common/entry.py entry_point, when a demo's main returns)."""
    for folder in list(_begun):
        folder.end()


class RunFolder:
    """The files of one run for folder `out`; metrics.json, which says how the run ended, goes last.
    From begin() to end() they are written to a staging folder beside `out` (`path`), which end() puts
    in the place of `out`'s earlier run, as a whole, once metrics.json is there."""

    def __init__(self, out):
        self.out = out
        self.path = out  # where the files go: the staging folder between begin() and end()
        self.staged = None

    def file(self, name):
        return os.path.join(self.path, name)

    def write_json(self, name, obj):
        write_json(self.file(name), obj)

    def write_csv(self, name, frame):
        write_csv(self.file(name), frame)

    def begin(self, config):
        """Stage the run (locking `out` if the command line has not) and write config.json first."""
        from common import staging
        from common.cli import UsageError

        try:
            self.staged = self.path = staging.stage(self.out)
        except staging.Busy as busy:
            raise UsageError("--out", str(busy)) from None
        _begun.append(self)
        self.save_config(config)

    def end(self):
        """The staged run in the place of `out`'s earlier one if it got as far as metrics.json (finished,
        interrupted or diverged); else `out` as it was. Nothing to do for a folder not begun."""
        from common import staging

        if self.staged is None:
            return
        staged, self.staged, self.path = self.staged, None, self.out
        _begun.remove(self)
        if not os.path.exists(os.path.join(staged, "metrics.json")):
            staging.discard(staged)
            ended.append((self.out, False))
            return
        for name in os.listdir(staged):  # a figure worker ended mid-write leaves its temporary file
            if name.startswith(".") and ".tmp" in name:
                os.remove(os.path.join(staged, name))
        staging.replace(self.out, staged)
        ended.append((self.out, True))

    def save_config(self, config):
        self.write_json("config.json", config)

    def save_history(self, history, columns):
        """history.csv, one row per epoch: `columns`, less those no row fills (test_elbo without
        held-out rows). None: a loaded model without a history; nothing is written."""
        import pandas as pd

        if history is None:
            return
        frame = pd.DataFrame(history, columns=columns)
        if len(frame):
            frame = frame.dropna(axis=1, how="all")
        self.write_csv("history.csv", frame)

    def save_model(self, model, config, training=None, data=None):
        save_model(self.file("model.pt"), model, config, training, data)

    def save_metrics(self, metrics):
        """metrics.json, with the versions of what computed them."""
        metrics["versions"] = versions()
        self.write_json("metrics.json", metrics)

    def save(self, *, config, metrics, history=None, history_columns=None, model=None, model_config=None,
             training=None):  # fmt: skip
        """Everything a run has, finished or stopped, in an order that leaves the folder describing one run
        at every moment: config, history, model (with the state --resume continues from), metrics."""
        self.save_config(config)
        self.save_history(history, history_columns)
        if model is not None:  # with the data it was trained on, from the run's options
            from common.saved_run import data_record

            self.save_model(model, model_config, training, data_record(config))
        self.save_metrics(metrics)


def check_out_dir(path, demo=None, overwrite=False):
    """--out, checked before anything runs: UsageError when the folder cannot be written, or, when `demo`
    is given (a run, which replaces the folder as a whole), holds another demo's run or files of no run."""
    from common.cli import UsageError

    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--out", f"{path!r} is a file; give a folder path")
    previous = os.path.join(path, "config.json")
    held = [n for n in os.listdir(path) if not n.startswith(".")] if demo and os.path.isdir(path) else []
    if held and not {"config.json", "metrics.json"} & set(held):  # `--out results` would delete every run
        raise UsageError(
            "--out",
            f"{path!r} holds files but no run (no metrics.json or config.json), and a run replaces its "
            "folder as a whole; choose a new or empty folder",
        )
    if demo is not None and os.path.exists(previous) and not overwrite:
        try:
            with open(previous) as f:
                other = json.load(f).get("demo")
        except (OSError, ValueError, AttributeError):
            other = "unknown"
        if other != demo:
            raise UsageError(
                "--out",
                f"{path!r} holds a run of the {other} demo; choose another folder or pass --overwrite",
            )
    # A run writes beside --out (its staging folder) and creates --out only when it has a run to put
    # there: a run stopped in its first second leaves no empty folder behind.
    where = os.path.dirname(os.path.realpath(path)) if demo is not None else path
    try:
        os.makedirs(where, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where, prefix=".write-test-"):
            pass
    except OSError as err:
        reason = err.strerror
        if isinstance(err, FileExistsError | NotADirectoryError):  # makedirs met a file on the way
            reason = f"{_file_on_the_way(where)} is a file, not a folder"
        raise UsageError("--out", f"cannot write to {path!r} ({reason}); choose another folder") from None
    free = shutil.disk_usage(where).free
    if free < MIN_FREE_BYTES:
        raise UsageError("--out", f"only {free / 2**20:.1f} MB free on the disk of {path!r}; free some space")


def _file_on_the_way(folder):
    """The deepest existing part of `folder`'s path (a file where a folder should be)."""
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return folder


def versions():
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
