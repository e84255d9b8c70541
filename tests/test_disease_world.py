"""The disease world against exact enumeration, direct integration and Bayes' rule."""

import itertools

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from disease_dlvm import DiseaseWorld


@pytest.fixture(scope="module")
def world():
    return DiseaseWorld()


@pytest.fixture(scope="module")
def all_patterns(world):
    return np.array(list(itertools.product([0, 1], repeat=world.n_features)), dtype=float)  # (2^D, D)


def _joint_by_quad(world, x, k):
    """p(x, disease k) with severity integrated by adaptive quadrature (scipy.integrate.quad)."""

    def integrand(s):
        p = expit(world.symptom_logits(np.array([k]), np.array([s]))[0])
        return np.prod(np.where(x == 1, p, 1 - p)) * stats.norm.pdf(s)

    return world.prior[k] * integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-14)[0]


def test_log_prob_sums_to_one_over_every_symptom_vector(world, all_patterns):
    assert np.exp(world.log_prob(all_patterns)).sum() == pytest.approx(1.0, abs=1e-10)


def test_log_joint_matches_adaptive_quadrature(world, all_patterns):
    rows = all_patterns[[0, 5, 300, 777, 1023]]
    for x, log_joint in zip(rows, world.log_joint(rows), strict=True):
        reference = [_joint_by_quad(world, x, k) for k in range(world.n_classes)]
        np.testing.assert_allclose(np.exp(log_joint), reference, rtol=1e-7)


def test_log_prob_agrees_with_frequencies_of_a_large_sample(world, all_patterns):
    x = world.sample(200_000, np.random.default_rng(0)).x
    codes = x @ (2 ** np.arange(world.n_features)[::-1])  # row -> index into all_patterns
    observed = np.bincount(codes.astype(int), minlength=len(all_patterns))
    expected = np.exp(world.log_prob(all_patterns)) * len(x)
    common = expected > 20  # a chi-square test needs enough expected counts per cell
    statistic = ((observed[common] - expected[common]) ** 2 / expected[common]).sum()
    assert stats.chi2.sf(statistic, df=common.sum() - 1) > 1e-3


def test_posterior_is_bayes_rule(world, all_patterns):
    rows = all_patterns[::37]
    posterior = world.posterior(rows)
    np.testing.assert_allclose(posterior.sum(1), 1.0, atol=1e-12)
    joint = np.array([[_joint_by_quad(world, x, k) for k in range(world.n_classes)] for x in rows[:4]])
    np.testing.assert_allclose(posterior[:4], joint / joint.sum(1, keepdims=True), rtol=1e-6)


def test_sample_has_the_prevalences_and_named_factors(world):
    sample = world.sample(50_000, np.random.default_rng(1))
    shares = np.bincount(sample.labels, minlength=world.n_classes) / len(sample)
    np.testing.assert_allclose(shares, world.prior, atol=0.01)
    assert set(sample.factors) == set(world.factor_names)
    assert sample.x.dtype == np.float32 and set(np.unique(sample.x)) == {0.0, 1.0}


def test_same_rng_seed_gives_the_same_sample(world):
    a = world.sample(100, np.random.default_rng(5))
    b = world.sample(100, np.random.default_rng(5))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_to_dict_names_every_parameter(world):
    d = world.to_dict()
    assert d["diseases"] == world.class_names and d["symptoms"] == world.feature_names
    assert sum(d["prevalence"].values()) == pytest.approx(1.0)
