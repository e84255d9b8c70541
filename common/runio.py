"""The run folder: metrics.json, history.csv, config.json, model.pt, data files and figures.

Every file is written to a temporary name in the same folder and renamed into place (an atomic
operation on POSIX), so a reader never sees a half-written file, even if the run is killed.
"""

import json
import os
import platform
from contextlib import contextmanager


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
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
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


def versions():
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
