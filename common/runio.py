"""The run folder: metrics.json, history.csv, config.json, model.pt, data files and figures.

RunFolder is the one writer of a run's files, whatever the run (finished, interrupted, diverged,
resumed, evaluated with --load, a recommender's folds). Every file is written to a temporary name in
the same folder and renamed into place (an atomic operation on POSIX), so a reader never sees a
half-written file, even if the run is killed. docs/run-folder.md describes every file.
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


def save_model(path, model, config, training=None):
    """state_dict plus a JSON-safe config, and the training state (epoch, optimizer, RNG, history) that
    --resume continues from: tensors and plain values only, loadable with weights_only=True."""
    import torch

    checkpoint = {"state_dict": model.state_dict(), "config": config}
    if training is not None:
        checkpoint["training"] = training
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
    return checkpoint


class RunFolder:
    """The files of one run in folder `path`; metrics.json, which says how the run ended, goes last."""

    def __init__(self, path):
        self.path = path

    def file(self, name):
        return os.path.join(self.path, name)

    def write_json(self, name, obj):
        write_json(self.file(name), obj)

    def write_csv(self, name, frame):
        write_csv(self.file(name), frame)

    def begin(self, config):
        """config.json into an empty folder, to say what it is for. Over an earlier run it waits for
        save_config, so that a run failing before it has anything to save (bad sizes, out of memory)
        leaves the earlier run's files describing that one run."""
        if not os.path.exists(self.file("metrics.json")):
            self.save_config(config)

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

    def save_model(self, model, config, training=None):
        save_model(self.file("model.pt"), model, config, training)

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
        if model is not None:
            self.save_model(model, model_config, training)
        self.save_metrics(metrics)


def check_out_dir(path, demo=None, overwrite=False):
    """--out, checked before anything runs: UsageError when the folder cannot be written, or holds another
    demo's run (checked when `demo` is given)."""
    from common.cli import UsageError

    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--out", f"{path!r} is a file; give a folder path")
    previous = os.path.join(path, "config.json")
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
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as err:
        raise UsageError(
            "--out", f"cannot write to {path!r} ({err.strerror}); choose another folder"
        ) from None
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise UsageError("--out", f"only {free / 2**20:.1f} MB free on the disk of {path!r}; free some space")


def versions():
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
