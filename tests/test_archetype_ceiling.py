"""bench/archetype_ceiling.py: its model form is the movie world's, and its fit is a maximum."""

import itertools

import numpy as np
import pytest
import torch

from bench.archetype_ceiling import encode, fit, log_joint, true_parameters
from movie_dlvm import MovieWorld


@pytest.fixture(scope="module")
def tiny():
    return MovieWorld(n_per_genre=2, genres=["Action", "Romance"])  # 4 movies: 6^4 possible rows


@pytest.fixture(scope="module")
def every_row(tiny):
    return np.array(list(itertools.product(range(6), repeat=tiny.n_movies)), dtype=float)  # (1296, 4)


def test_form_at_the_true_parameters_is_the_worlds_log_joint(tiny, every_row):
    with torch.no_grad():
        ours = log_joint(true_parameters(tiny), *encode(every_row), tiny).numpy()
    np.testing.assert_allclose(ours, tiny.log_joint(every_row), atol=1e-9)


def test_fit_raises_the_training_likelihood_and_keeps_the_form_normalised(tiny, every_row):
    train = tiny.sample(300, np.random.default_rng(0))
    params = true_parameters(tiny)
    rows = encode(train.x)
    with torch.no_grad():
        at_truth = float(torch.logsumexp(log_joint(params, *rows, tiny), 1).mean())
    fitted = fit(params, *rows, tiny, max_iter=100)
    assert fitted > at_truth + 0.01  # 300 users: the maximum sits measurably above the truth
    with torch.no_grad():
        total = torch.logsumexp(log_joint(params, *encode(every_row), tiny).flatten(), 0)
    assert float(total) == pytest.approx(0.0, abs=1e-6)  # still a distribution over rows


def test_shrinking_pulls_each_archetype_towards_the_movies_mean(tiny):
    rows = encode(tiny.sample(300, np.random.default_rng(1)).x)

    def spread_after(shrink):
        params = true_parameters(tiny)
        fit(params, *rows, tiny, max_iter=100, shrink=shrink)
        return sum(
            float(((params[k] - params[k].mean(0)) ** 2).sum().detach()) for k in ("watch", "location")
        )

    free, shrunk, tight = spread_after(None), spread_after(1.0), spread_after(0.01)
    assert tight < 0.01 * free  # a very narrow prior leaves the archetypes almost alike
    assert tight < shrunk < free
