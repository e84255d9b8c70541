"""Scoring a recommender: its item scores for held-out users, and the rankings' metrics.

Each held-out user is shown a random 80% of their likes (fold-in); every other item is ranked and the
ranking scored on the other 20% (target) with NDCG@100, Recall@20 and Recall@50 (common/recsys/ranking.py),
for the model and, on the same users, for every baseline and reference.
"""

import numpy as np

METRICS = {"ndcg@100": ("ndcg", 100), "recall@20": ("recall", 20), "recall@50": ("recall", 50)}
CURVE_KS = np.arange(1, 101)  # Recall@K for K = 1..100 in recall_curve.png
TOP_N = 10  # recommendations per user in recommendations.csv
BLOCK = 1000  # held-out users scored at once: bounds the dense (users x items) score matrix


def score(model, matrix, device, batch_size=BLOCK):
    """Item scores, (n, I) numpy: each row's expected share of its likes on each item, as the model
    reconstructs it (no dropout): Mult-VAE decodes the posterior mean of the row's code, the gmvae
    averages its clusters' decodings by q(y | x) (GMVAE.mixed_reconstruct)."""
    import torch

    from common.train import dense_rows

    # A model with a discrete latent averages its clusters' decodings by q(y | x): a user unsure between two
    # tastes gets items of both (docs/movielens.md: ranks better than the most likely cluster alone).
    reconstruct = getattr(model, "mixed_reconstruct", model.reconstruct)
    model.eval()
    with torch.no_grad():
        blocks = [
            reconstruct(dense_rows(matrix, slice(i, i + batch_size), device)).cpu().numpy()
            for i in range(0, matrix.shape[0], batch_size)
        ]
    return np.concatenate(blocks) if blocks else np.zeros((0, matrix.shape[1]))


def embed(model, matrix, device, batch_size=BLOCK):
    """Latent means of rows, (n, Z) numpy."""
    import torch

    from common.train import dense_rows

    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                model.embed(dense_rows(matrix, slice(i, i + batch_size), device)).cpu().numpy()
                for i in range(0, matrix.shape[0], batch_size)
            ]
        )


def rank_heldout(scorers, split, block=BLOCK):
    """Per-user NDCG@100, Recall@20, Recall@50 (NaN without targets) and mean Recall@1..100 of every
    scorer {name: f(row slice of the held-out users) -> scores (b, I)}, plus each model's top 10."""
    from common.recsys.ranking import mask_seen, ndcg_at_k, recall_at_k, recall_curve, top_k

    functions = {"ndcg": ndcg_at_k, "recall": recall_at_k}
    n = split.fold_in.shape[0]
    results = {name: {m: [] for m in METRICS} | {"curve": 0.0, "top": []} for name in scorers}
    users_with_targets = 0
    for start in range(0, n, block):
        part = slice(start, start + block)
        seen, target = split.fold_in[part], split.target[part]
        kept = int((target.sum(axis=1) > 0).sum())
        users_with_targets += kept
        for name, scorer in scorers.items():
            scores = scorer(part)  # (b, I)
            result = results[name]
            for metric, (kind, k) in METRICS.items():
                result[metric].append(functions[kind](scores, target, k, seen=seen))
            if kept:
                result["curve"] = result["curve"] + kept * recall_curve(scores, target, CURVE_KS, seen=seen)
            result["top"].append(top_k(mask_seen(scores, seen), TOP_N))
    for result in results.values():
        for metric in METRICS:
            result[metric] = np.concatenate(result[metric])
        result["curve"] = result["curve"] / max(users_with_targets, 1)
        result["top"] = np.concatenate(result["top"])
    return results, users_with_targets


def ranking_summary(per_fold, ease_note, args):
    """metrics.json "ranking": the model's means over users, then over folds; sd over folds when F > 1."""

    def summarise(name):
        values = {m: [float(np.nanmean(o["results"][name][m])) for o in per_fold] for m in METRICS}
        out = {m: float(np.mean(v)) for m, v in values.items()}
        if len(per_fold) > 1:
            out["std"] = {m: float(np.std(v, ddof=1)) for m, v in values.items()}
        return out

    ranking = summarise("model")
    ranking.update(
        n_users=int(sum(o["n_users"] for o in per_fold)),
        folds=len(per_fold),
        baselines={"popularity": summarise("popularity")},
    )
    if ease_note is None:
        seconds = [o["ease_seconds"] for o in per_fold]
        ranking["baselines"]["ease"] = summarise("ease") | {
            "lambda": args.ease_lambda,
            "seconds": float(np.mean(seconds)),
        }
    else:
        ranking["baselines"]["ease"] = {"skipped": ease_note}
    ranking["baselines"]["mixture"] = summarise("mixture") | {
        "components": args.mixture_components,
        "seconds": float(np.mean([o["mixture_seconds"] for o in per_fold])),
    }
    for reference in ("oracle", "posterior"):
        if reference in per_fold[0]["results"]:
            ranking[reference] = summarise(reference)
    return ranking
