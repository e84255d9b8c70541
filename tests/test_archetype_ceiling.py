"""bench/archetype_ceiling.py: its model form is the movie world's, and its fit is a maximum."""

import numpy as np
import pytest
import torch

from bench.archetype_ceiling import encode, fit, log_joint, true_parameters


def test_form_at_the_true_parameters_is_the_worlds_log_joint(tiny_movies, tiny_rows):
    with torch.no_grad():
        ours = log_joint(true_parameters(tiny_movies), *encode(tiny_rows), tiny_movies).numpy()
    np.testing.assert_allclose(ours, tiny_movies.log_joint(tiny_rows), atol=1e-9)


def test_fit_raises_the_training_likelihood_and_keeps_the_form_normalised(tiny_movies, tiny_rows):
    train = tiny_movies.sample(300, np.random.default_rng(0))
    params = true_parameters(tiny_movies)
    rows = encode(train.x)
    with torch.no_grad():
        at_truth = float(torch.logsumexp(log_joint(params, *rows, tiny_movies), 1).mean())
    fitted = fit(params, *rows, tiny_movies, max_iter=100)
    assert fitted > at_truth + 0.01  # 300 users: the maximum sits measurably above the truth
    with torch.no_grad():
        total = torch.logsumexp(log_joint(params, *encode(tiny_rows), tiny_movies).flatten(), 0)
    assert float(total) == pytest.approx(0.0, abs=1e-6)  # still a distribution over rows


def test_shrinking_pulls_each_archetype_towards_the_movies_mean(tiny_movies):
    rows = encode(tiny_movies.sample(300, np.random.default_rng(1)).x)

    def spread_after(shrink):
        params = true_parameters(tiny_movies)
        fit(params, *rows, tiny_movies, max_iter=100, shrink=shrink)
        return sum(
            float(((params[k] - params[k].mean(0)) ** 2).sum().detach()) for k in ("watch", "location")
        )

    free, shrunk, tight = spread_after(None), spread_after(1.0), spread_after(0.01)
    assert tight < 0.01 * free  # a very narrow prior leaves the archetypes almost alike
    assert tight < shrunk < free
