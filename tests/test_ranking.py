"""Ranking metrics against hand-computed examples and a per-user loop; EASE against a direct solve."""

import math

import numpy as np
import pytest
from scipy import sparse

from common.recsys.ranking import (
    ease_memory_bytes,
    ease_scores,
    ease_weights,
    mask_seen,
    ndcg_at_k,
    popularity_scores,
    ranking_metrics,
    recall_at_k,
    recall_curve,
    top_k,
)

# Three users, six items.
SCORES = np.array(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.1],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [0.3, 0.1, 0.2, 0.6, 0.5, 0.4],
    ]
)
SEEN = sparse.csr_array(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]]))
TARGETS = sparse.csr_array(np.array([[0, 1, 0, 1, 0, 1], [0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]]))
# User 0: item 0 is seen, so the ranking is 1, 2, 3, 4, 5; targets {1, 3, 5}.
#   top 3 = [1, 2, 3] -> hits at ranks 1 and 3.
#   DCG@3  = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
#   IDCG@3 = 1/log2(2) + 1/log2(3) + 1/log2(4) (min(3, |T|=3) = 3 hits) = 1 + 0.6309298 + 0.5 = 2.1309298
#   NDCG@3 = 1.5 / 2.1309298 = 0.7039180;   Recall@3 = 2 / min(3, 3) = 0.6666667
# User 1: fewer targets than K. Item 5 is seen: ranking 4, 3, 2, 1, 0; targets {2}.
#   top 3 = [4, 3, 2] -> one hit at rank 3.  DCG@3 = 1/log2(4) = 0.5
#   IDCG@3 = 1/log2(2) = 1 (min(3, |T|=1) = 1 hit)  ->  NDCG@3 = 0.5;  Recall@3 = 1 / min(3, 1) = 1
# User 2: no target -> NaN, left out of the means.
#   mean NDCG@3 = (0.7039180 + 0.5) / 2 = 0.6019590;  mean Recall@3 = (0.6666667 + 1) / 2 = 0.8333333
# K = 1: user 0 ranks item 1 first (a hit): Recall@1 = 1/1, NDCG@1 = 1; user 1 ranks item 4 first: 0, 0.


def test_metrics_of_the_hand_computed_example():
    ndcg = ndcg_at_k(SCORES, TARGETS, 3, seen=SEEN)
    recall = recall_at_k(SCORES, TARGETS, 3, seen=SEEN)
    np.testing.assert_allclose(ndcg[:2], [1.5 / (1 + 1 / math.log2(3) + 0.5), 0.5])
    np.testing.assert_allclose(ndcg[:2], [0.7039180, 0.5], atol=1e-7)
    np.testing.assert_allclose(recall[:2], [2 / 3, 1.0])
    assert np.isnan(ndcg[2]) and np.isnan(recall[2])
    np.testing.assert_allclose(ndcg_at_k(SCORES, TARGETS, 1, seen=SEEN)[:2], [1.0, 0.0])
    np.testing.assert_allclose(recall_at_k(SCORES, TARGETS, 1, seen=SEEN)[:2], [1.0, 0.0])
    metrics = ranking_metrics(SCORES, TARGETS, SEEN, ndcg_ks=(3,), recall_ks=(3,))
    assert metrics == pytest.approx({"ndcg@3": 0.6019590, "recall@3": 0.8333333})


def test_recall_curve_of_the_example_and_its_monotone_tail():
    # User 0: hits in the top K = 1, 1, 2, 2, 3 for K = 1..5; divided by min(K, 3) = 1, 2, 3, 3, 3.
    # User 1: hits = 0, 0, 1, 1, 1; divided by min(K, 1) = 1.
    curve = recall_curve(SCORES, TARGETS, ks=range(1, 6), seen=SEEN)
    expected = (np.array([1, 1 / 2, 2 / 3, 2 / 3, 1]) + np.array([0, 0, 1, 1, 1])) / 2
    np.testing.assert_allclose(curve, expected)
    # Liang's min(K, |T|) makes the curve dip while K < |T| (1.0 -> 0.5 for user 0) ...
    assert curve[1] < curve[0]
    # ... and monotone once K >= every user's |T|; on random data too.
    rng = np.random.default_rng(0)
    targets = sparse.random_array((50, 200), density=0.05, rng=rng, format="csr")
    scores = rng.random((50, 200))
    curve = recall_curve(scores, targets, ks=range(1, 201))
    largest = int((targets.toarray() > 0).sum(axis=1).max())
    assert np.all(np.diff(curve[largest - 1 :]) >= -1e-12)
    assert curve[-1] == pytest.approx(1.0)
    for k in (1, 7, 50):
        assert curve[k - 1] == pytest.approx(np.nanmean(recall_at_k(scores, targets, k)))


def test_agrees_with_a_per_user_loop_on_random_data():
    rng = np.random.default_rng(1)
    n_users, n_items, k = 40, 120, 20
    scores = rng.standard_normal((n_users, n_items))
    seen = rng.random((n_users, n_items)) < 0.1
    targets = (rng.random((n_users, n_items)) < 0.08) & ~seen
    expected_ndcg, expected_recall = [], []
    for u in range(n_users):
        ranking = [i for i in np.argsort(-scores[u]) if not seen[u, i]][:k]  # best first, seen removed
        relevant = set(np.flatnonzero(targets[u]))
        if not relevant:
            expected_ndcg.append(np.nan), expected_recall.append(np.nan)
            continue
        dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(ranking) if i in relevant)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        expected_ndcg.append(dcg / idcg)
        expected_recall.append(len(relevant & set(ranking)) / min(k, len(relevant)))
    np.testing.assert_allclose(ndcg_at_k(scores, targets, k, seen=seen), expected_ndcg)
    np.testing.assert_allclose(recall_at_k(scores, targets, k, seen=seen), expected_recall)


def test_seen_items_are_never_recommended():
    rng = np.random.default_rng(2)
    scores = rng.random((30, 50))
    seen = rng.random((30, 50)) < 0.3
    scores[seen] += 10  # the seen items would win every ranking
    ranked = top_k(mask_seen(scores, sparse.csr_array(seen)), 20)
    assert not np.take_along_axis(seen, ranked, axis=1).any()
    original = scores.copy()
    mask_seen(scores, seen)
    np.testing.assert_array_equal(scores, original)  # the caller's scores are not touched
    with pytest.raises(ValueError, match="NaN"):
        mask_seen(np.array([[0.1, np.nan]]), None)


def test_top_k_is_sorted_and_handles_k_beyond_the_catalogue():
    ranked = top_k(np.array([[0.2, 0.9, 0.5, 0.1]]), 3)
    np.testing.assert_array_equal(ranked, [[1, 2, 0]])
    assert top_k(np.array([[0.2, 0.9]]), 100).shape == (1, 2)


def test_popularity_ranks_items_by_training_counts():
    train = sparse.csr_array(np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 1, 0, 1]]))
    scores = popularity_scores(train, 2)
    np.testing.assert_array_equal(scores, [[1, 3, 0, 2], [1, 3, 0, 2]])


def _ease_by_ridge(x, lam):
    """EASE column by column: with B_jj = 0, column j is a ridge regression of item j on the others,
    min ||x_j - X_{-j} b||^2 + lam ||b||^2, solved as least squares on [X_{-j}; sqrt(lam) I] b = [x_j; 0]."""
    n_items = x.shape[1]
    weights = np.zeros((n_items, n_items))
    for j in range(n_items):
        others = np.delete(np.arange(n_items), j)
        design = np.vstack([x[:, others], np.sqrt(lam) * np.eye(n_items - 1)])
        response = np.concatenate([x[:, j], np.zeros(n_items - 1)])
        weights[others, j] = np.linalg.lstsq(design, response, rcond=None)[0]
    return weights


def test_ease_matches_a_direct_constrained_solve():
    rng = np.random.default_rng(3)
    x = (rng.random((30, 8)) < 0.35).astype(float)
    for lam in (0.5, 5.0, 500.0):
        weights = ease_weights(sparse.csr_array(x), lam, batch_size=7)  # several Gram blocks
        np.testing.assert_allclose(weights, _ease_by_ridge(x, lam), atol=1e-10)
        assert np.all(np.diag(weights) == 0)
    fold_in = sparse.csr_array(x[:4])
    np.testing.assert_allclose(ease_scores(sparse.csr_array(x), fold_in, 5.0), x[:4] @ _ease_by_ridge(x, 5.0))


def test_ease_memory_is_three_dense_item_matrices():
    assert ease_memory_bytes(1000) == 3 * 8 * 1000 * 1000
    assert ease_memory_bytes(20_108) > 9e9  # ML-20M: too much for a laptop, so callers can skip it
