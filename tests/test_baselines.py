"""The Bernoulli mixture fitted by EM, and the recovery scores, against direct computation and sklearn."""

import numpy as np
import pytest
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
    direct = BernoulliMixture(6, random_state=0).fit(patterns.astype(float), sample_weight=counts)
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
