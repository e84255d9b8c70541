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


def save_model(path, model, config):
    """state_dict plus a JSON-safe config: loadable with torch.load(..., weights_only=True)."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "config": config}, tmp)


def load_model_file(path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def versions():
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
