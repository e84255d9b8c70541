"""Top-K ranking metrics of Mult-VAE and the two baselines every recommender should beat.

Metrics follow Liang et al., "Variational Autoencoders for Collaborative Filtering", WWW 2018, Sec. 4.2
(and the reference code dawenl/vae_cf), for one held-out user with target set T and ranking w(1), w(2)..:

    Recall@K = sum_{r<=K} [w(r) in T] / min(K, |T|)
    DCG@K    = sum_{r<=K} [w(r) in T] / log2(r + 1),   NDCG@K = DCG@K / (sum_{r<=min(K,|T|)} 1 / log2(r + 1))

Items the user gave the model (the fold-in input) are never recommended: their scores become -inf.
Users without targets get NaN and are left out of the means. Note that Recall@K so normalised is not
monotone in K while K < |T| (one hit at rank 1 gives 1/1, then 1/2 at K = 2); from K >= |T| on it is.

Baselines: item popularity, and EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
WWW 2019), the closed-form linear item-item model: P = (X^T X + lambda I)^-1, B = I - P / diag(P).
"""

import numpy as np

# Steck (2019), Sec. 4: lambda = 500 was best on ML-20M (1000 on Netflix, 200 on MSD); Cornac's default.
EASE_LAMBDA = 500.0


def _dense(matrix):
    """A (n, I) numpy array from a dense array or any scipy.sparse matrix."""
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def mask_seen(scores, seen):
    """A float copy of scores (n, I) with every item in `seen` (n, I) (the fold-in input) set to -inf."""
    scores = np.array(scores, dtype=np.float64)  # a copy: the caller's scores stay as they were
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; a ranking needs every item to have a score")
    if seen is not None:
        scores[_dense(seen) > 0] = -np.inf
    return scores


def top_k(scores, k):
    """Indices of the k highest scores of each row, best first, (n, k); argpartition keeps it O(I)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (n, k) the top k, unordered
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _hits(scores, targets, k, seen):
    """Which of the top-k items of each user are targets, (n, k) bool, and |T| per user, (n,)."""
    relevant = _dense(targets) > 0  # (n, I)
    ranked = top_k(mask_seen(scores, seen), k)  # (n, k)
    return np.take_along_axis(relevant, ranked, axis=1), relevant.sum(axis=1)


def _per_user(values, n_targets):
    return np.where(n_targets > 0, values, np.nan)


def recall_at_k(scores, targets, k, seen=None):
    """Recall@K per user, (n,): hits in the top K / min(K, |T|); NaN when the user has no target."""
    hits, n_targets = _hits(scores, targets, k, seen)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _per_user(hits.sum(axis=1) / np.minimum(k, n_targets), n_targets)


def ndcg_at_k(scores, targets, k, seen=None):
    """NDCG@K per user with binary relevance, (n,); NaN when the user has no target."""
    hits, n_targets = _hits(scores, targets, k, seen)
    discount = 1 / np.log2(np.arange(2, hits.shape[1] + 2))  # (k,) 1 / log2(r + 1) for rank r = 1..k
    dcg = hits @ discount  # (n,)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])  # ideal[m] = DCG of m hits at the top
    idcg = ideal[np.minimum(n_targets, hits.shape[1])]  # (n,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _per_user(dcg / idcg, n_targets)


def recall_curve(scores, targets, ks=range(1, 101), seen=None):
    """Mean Recall@K over users with targets, for every K in ks, (len(ks),): one ranking for all K."""
    ks = np.asarray(list(ks))
    hits, n_targets = _hits(scores, targets, int(ks.max()), seen)
    keep = n_targets > 0
    cumulative = np.cumsum(hits[keep], axis=1)  # (n_kept, K_max) hits within the top K
    found = cumulative[:, np.minimum(ks, hits.shape[1]) - 1]  # (n_kept, len(ks))
    return (found / np.minimum(ks[None, :], n_targets[keep, None])).mean(axis=0)


def ranking_metrics(scores, targets, seen=None, ndcg_ks=(100,), recall_ks=(20, 50)):
    """The `ranking` numbers of metrics.json, means over users with at least one target."""
    metrics = {f"ndcg@{k}": float(np.nanmean(ndcg_at_k(scores, targets, k, seen))) for k in ndcg_ks}
    metrics |= {f"recall@{k}": float(np.nanmean(recall_at_k(scores, targets, k, seen))) for k in recall_ks}
    return metrics


def popularity_scores(train, n_users):
    """Every user gets the same scores: how many training users liked each item, (n_users, I)."""
    counts = np.asarray(train.sum(axis=0), dtype=np.float64).ravel()  # (I,)
    return np.tile(counts, (n_users, 1))


def ease_memory_bytes(n_items):
    """Peak memory of ease_weights: the Gram matrix, the inverse and numpy's working copy, float64."""
    return 3 * 8 * n_items**2


def ease_weights(train, lam=EASE_LAMBDA, batch_size=4096):
    """EASE item-item weights B, (I, I), zero diagonal (Steck 2019, eq. 8).

    B minimises ||X - X B||^2 + lam ||B||^2 subject to diag(B) = 0; the Lagrangian gives
    B = I - P diagMat(1 / diag(P)) with P = (X^T X + lam I)^-1.
    """
    n_items = train.shape[1]
    gram = np.zeros((n_items, n_items))  # (I, I) X^T X, built from dense row blocks: BLAS speed
    for start in range(0, train.shape[0], batch_size):
        block = _dense(train[start : start + batch_size]).astype(np.float64)  # (b, I)
        gram += block.T @ block
    gram[np.diag_indices(n_items)] += lam
    weights = np.linalg.inv(gram)  # P
    del gram
    weights /= -np.diag(weights)  # column j divided by -P_jj
    weights[np.diag_indices(n_items)] = 0.0
    return weights


def ease_scores(train, fold_in, lam=EASE_LAMBDA):
    """EASE scores of the held-out users from their fold-in items, (n_heldout, I)."""
    return np.asarray(fold_in @ ease_weights(train, lam))
