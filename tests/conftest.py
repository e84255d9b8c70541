"""Make the repository root importable (the project is run from there, not installed)."""

import os
import sys
from contextlib import contextmanager

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.speed.painter import _usable_cores as USABLE_CORES  # noqa: E402  (the real count, kept for second_process)


@pytest.fixture(scope="session", autouse=True)
def _figures_in_process():
    """Demo runs in tests draw their figures in the test process (through the worker's pickling,
    common.speed.painter): a worker for each small run would import matplotlib and seaborn again, ~1.5 s.
    Tests of the worker itself, and one run of each demo, use `second_process()`."""
    from common.speed import painter

    painter._usable_cores = lambda: 1
    yield
    painter._usable_cores = USABLE_CORES


@pytest.fixture(scope="session", autouse=True)
def _cache_key_in_a_temporary_home(tmp_path_factory):
    """The cache's signing key (common/cache.py) goes to a folder of the tests', not the user's ~/.cache;
    the demos the tests start as subprocesses inherit it."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@contextmanager
def second_process():
    """Figures in the painter's worker, as on the user's machine (when it has a second core)."""
    from common.speed import painter

    painter._usable_cores = USABLE_CORES
    try:
        yield USABLE_CORES() > 1
    finally:
        painter._usable_cores = lambda: 1


@pytest.fixture(scope="module")
def tiny_movies():
    """A movie world of 4 movies, small enough to enumerate: 6^4 possible rows (0 = not rated)."""
    from movie_dlvm import MovieWorld

    return MovieWorld(n_per_genre=2, genres=["Action", "Romance"])


@pytest.fixture(scope="module")
def tiny_rows(tiny_movies):
    """Every possible rating row of tiny_movies, (1296, 4)."""
    import itertools

    import numpy as np

    return np.array(list(itertools.product(range(6), repeat=tiny_movies.n_features)), dtype=float)


@pytest.fixture(scope="session")
def ml100k():
    """The MovieLens 100K folder (common.recsys.movielens.ml100k_folder); the test is skipped, with where
    it looked, when the files are not there."""
    from common.recsys.movielens import ml100k_folder

    folder = ml100k_folder()
    if not os.path.isfile(os.path.join(folder, "u.data")):
        pytest.skip(f"MovieLens 100K is not at {folder} (set MOVIELENS_100K to its folder)")
    return folder


@pytest.fixture(autouse=True)
def _seeded_torch():
    import torch

    torch.manual_seed(0)


def comparable_metrics(folder, drop=("timing", "seconds", "argv")):
    """A run's metrics.json without what differs between two identical runs: wall times, and argv
    (which names the run's own --out)."""
    import json

    def strip(tree):
        if isinstance(tree, dict):
            return {key: strip(value) for key, value in tree.items() if key not in drop}
        return tree

    with open(os.path.join(folder, "metrics.json")) as f:
        return strip(json.load(f))


def stop_after(monkeypatch, checks):
    """Make training see a stop request (as after Ctrl-C) from its `checks`-th batch on: fit() asks
    once per batch. In process, without a signal; monkeypatch.undo() ends it."""
    import itertools

    from common.train import StopRequest

    asked = itertools.count(1)
    monkeypatch.setattr(StopRequest, "requested", property(lambda self: next(asked) >= checks))


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
