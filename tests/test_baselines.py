"""The Bernoulli mixture fitted by EM, and the recovery scores, against direct computation and sklearn."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import bernoulli
from sklearn.metrics import adjusted_rand_score

from common.baselines import BernoulliMixture
from common.evaluate import match_clusters, recovery


def _two_class_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    theta = np.array([[0.9, 0.8, 0.1, 0.2, 0.9], [0.1, 0.2, 0.9, 0.7, 0.5]])
    labels = rng.choice(2, size=n, p=[0.3, 0.7])
    return (rng.random((n, 5)) < theta[labels]).astype(float), labels, theta


def test_bernoulli_mixture_recovers_a_well_separated_mixture():
    x, labels, theta = _two_class_data()
    model = BernoulliMixture(2, random_state=0).fit(x)
    order = np.argsort(model.theta_[:, 0])[::-1]  # component with high first symptom first
    np.testing.assert_allclose(model.theta_[order], theta, atol=0.05)
    np.testing.assert_allclose(model.weights_[order], [0.3, 0.7], atol=0.03)
    assert recovery(labels, model.predict(x))["accuracy"] > 0.95


def test_score_samples_is_the_mixture_log_likelihood():
    x, _, _ = _two_class_data(n=50)
    model = BernoulliMixture(2, random_state=0).fit(x)
    per_component = np.stack([bernoulli.pmf(x, t).prod(1) for t in model.theta_], axis=1)
    np.testing.assert_allclose(model.score_samples(x), np.log(per_component @ model.weights_))
    np.testing.assert_allclose(model.predict_proba(x).sum(1), 1.0)


def test_weighted_unique_rows_fit_the_same_model_as_the_full_table():
    x, _, _ = _two_class_data(n=3000)
    full = BernoulliMixture(2, n_init=1, random_state=3).fit(x)
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    weighted = BernoulliMixture(2, n_init=1, random_state=4).fit(patterns, sample_weight=counts)
    assert weighted.score(x) == pytest.approx(full.score(x), abs=1e-4)


def test_recovery_is_permutation_invariant_and_matches_sklearn():
    true = np.array([0, 0, 1, 1, 2, 2, 2])
    renamed = np.array([2, 2, 0, 0, 1, 1, 1])
    assert recovery(true, renamed) == {"ari": 1.0, "nmi": 1.0, "accuracy": 1.0}
    noisy = np.array([2, 0, 0, 0, 1, 1, 2])
    scores = recovery(true, noisy)
    assert scores["ari"] == pytest.approx(adjusted_rand_score(true, noisy))
    # overlaps: cluster 0 = {0,1,1}, 1 = {2,2}, 2 = {0,2}; best one-to-one: 0->1, 1->2, 2->0 = 5 rows
    assert scores["accuracy"] == pytest.approx(5 / 7)


def test_match_clusters_with_more_clusters_than_classes():
    true = np.array([0, 0, 1, 1, 1])
    pred = np.array([5, 5, 7, 7, 9])  # cluster 9 has no class left to match
    np.testing.assert_array_equal(match_clusters(true, pred), [0, 0, 1, 1, -1])


def test_raw_feature_baselines_fit_on_at_most_the_row_cap_and_still_recover(monkeypatch):
    from common import evaluate
    from common.world import Sample

    x, labels, _ = _two_class_data(n=3000)
    train, test = Sample(x[:2000], labels[:2000]), Sample(x[2000:], labels[2000:])
    monkeypatch.setattr(evaluate, "MAX_FIT_ROWS", 500)
    capped = evaluate.baselines(train, test, 2, "bernoulli", seed=0)
    assert capped["kmeans"]["fit_rows"] == capped["gmm"]["fit_rows"] == 500
    assert capped["kmeans"]["ari"] > 0.5 and capped["gmm"]["ari"] > 0.5  # a well-separated mixture
    assert "fit_rows" not in capped["mixture_em"]  # the latent class model always sees every row
    monkeypatch.setattr(evaluate, "MAX_FIT_ROWS", 10**6)
    assert evaluate.baselines(train, test, 2, "bernoulli", seed=0)["gmm"]["fit_rows"] == 2000


def test_observed_pattern_mixture_clusters_which_entries_are_rated_not_the_stars():
    from common.baselines import ObservedPatternMixture
    from movie_dlvm import MovieWorld

    sample = MovieWorld(5).sample(600, np.random.default_rng(0))
    mixture = ObservedPatternMixture(6, random_state=0).fit(sample.x)
    patterns, counts = np.unique(sample.x > 0, axis=0, return_counts=True)
    direct = BernoulliMixture(6, random_state=0, tol=1e-4).fit(patterns.astype(float), sample_weight=counts)
    np.testing.assert_allclose(mixture.predict_proba(sample.x), direct.predict_proba(sample.x > 0), atol=1e-8)
    # A generous rater (every star one higher, at most 5) lands in the same cluster: the rated set decides.
    generous = np.where(sample.x > 0, np.minimum(sample.x + 1, 5), 0)
    np.testing.assert_array_equal(mixture.predict_proba(generous), mixture.predict_proba(sample.x))
    # means_ is each component's mean rating where it rates, as CategoricalMixture's.
    resp, rated = mixture.predict_proba(sample.x), sample.x > 0
    k, d = 2, int(np.argmax(rated.sum(0)))
    expected = (resp[:, k] * sample.x[:, d]).sum() / (resp[:, k] * rated[:, d]).sum()
    assert mixture.means_[k, d] == pytest.approx(expected)
    assert (
        mixture.means_.shape == (6, sample.x.shape[1])
        and ((mixture.means_ >= 1) & (mixture.means_ <= 5)).all()
    )


def _multinomial_mixture_sample(n=600, seed=0):
    """Users of two tastes over 12 items, each liking 8 items drawn from their taste's distribution."""
    rng = np.random.default_rng(seed)
    theta = np.array([[0.15] * 6 + [0.01] * 6, [0.01] * 6 + [0.15] * 6])
    theta /= theta.sum(1, keepdims=True)
    labels = rng.choice(2, size=n, p=[0.4, 0.6])
    x = np.stack([rng.multinomial(8, theta[k]) for k in labels]).astype(np.float64)
    return x, labels, np.array([0.4, 0.6]), theta


def test_multinomial_mixture_recovers_a_known_mixture_and_beats_its_truth_on_its_sample():
    from scipy import sparse

    from common.baselines import MultinomialMixture

    x, labels, weights, theta = _multinomial_mixture_sample()
    model = MultinomialMixture(2, random_state=0).fit(sparse.csr_matrix(x))
    assert adjusted_rand_score(labels, model.predict_proba(x).argmax(1)) == 1.0
    order = np.argsort(model.weights_)  # components come in any order
    np.testing.assert_allclose(model.weights_[order], weights, atol=0.05)
    np.testing.assert_allclose(model.theta_[order], theta, atol=0.02)
    # EM climbs the likelihood: its fit explains its own sample at least as well as the truth does.
    truth = np.log(weights) + x @ np.log(theta).T
    assert model.lower_bound_ >= logsumexp(truth, axis=1).mean() - 1e-3
    dense = MultinomialMixture(2, random_state=0).fit(x)  # sparse and dense input: the same fit
    np.testing.assert_allclose(dense.theta_, model.theta_)


def test_multinomial_mixture_posterior_and_item_scores_follow_bayes_rule():
    import torch
    from torch.distributions import Multinomial

    from common.baselines import MultinomialMixture

    x, *_ = _multinomial_mixture_sample(n=200, seed=1)
    model = MultinomialMixture(3, random_state=0).fit(x)
    # p(k | x) from torch's multinomial densities (with their coefficient, which cancels) and Bayes' rule
    counts = torch.as_tensor(x)
    log_joint = torch.stack(
        [
            math.log(w) + Multinomial(total_count=8, probs=torch.as_tensor(t)).log_prob(counts)
            for w, t in zip(model.weights_, model.theta_, strict=True)
        ],
        dim=1,
    )
    expected = torch.softmax(log_joint, dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-6, atol=1e-9)
    scores = model.item_scores(x)
    np.testing.assert_allclose(scores, expected @ model.theta_, rtol=1e-6)
    np.testing.assert_allclose(scores.sum(1), 1.0)  # a distribution over the next item


def test_observed_pattern_mixture_with_liked_from_clusters_rated_and_liked_sets():
    from common.baselines import ObservedPatternMixture
    from movie_dlvm import MovieWorld

    sample = MovieWorld(5).sample(600, np.random.default_rng(1))
    mixture = ObservedPatternMixture(6, random_state=0, liked_from=4).fit(sample.x)
    both = np.hstack([sample.x > 0, sample.x >= 4]).astype(float)  # (n, 2D): rated, then liked
    patterns, counts = np.unique(both, axis=0, return_counts=True)
    direct = BernoulliMixture(6, random_state=0, tol=1e-4).fit(patterns, sample_weight=counts)
    np.testing.assert_allclose(mixture.predict_proba(sample.x), direct.predict_proba(both), atol=1e-8)
    # Only "rated" and "liked" count: 1-3 stars all read as rated, 4-5 as liked.
    coarse = np.select([sample.x >= 4, sample.x > 0], [5, 1], 0)
    np.testing.assert_array_equal(mixture.predict_proba(coarse), mixture.predict_proba(sample.x))
    assert mixture.means_.shape == (6, sample.x.shape[1])
