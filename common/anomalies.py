"""--anomalies F: how well a run finds rows from outside its world (docs/anomalies.md).

A copy of the held-out rows has a share F of them replaced by the world's anomalies (World.anomalies: the
data's look without its structure); the held-out rows themselves stay as they are, so every other number
of the run is the same with the flag as without it. Each row of the copy is scored, higher = more normal:

    model             the model's importance-sampled log p(x) (models with a likelihood)
    world             the world's exact log p(x), what a perfect density model scores (synthetic worlds)
    mixture           the classical mixture's log p(x), fitted on the training rows by the data stage
    isolation_forest  scikit-learn's IsolationForest, fitted on the training rows
    reconstruction    minus the model's reconstruction error (RECONSTRUCTION_ERROR: which, per data kind)

and each score's ranking of the rows is measured by ROC AUC and average precision (scikit-learn).
"""

import numpy as np

SCORERS = {
    "model": "model",
    "world": "world's log p(x)",
    "mixture": "mixture",
    "isolation_forest": "IsolationForest",
    "reconstruction": "reconstruction error",
}
FEW_ROWS = 20  # fewer injected (or normal) rows than this: an AUC that moves by 0.05 from one row
RECONSTRUCTION_ERROR = {
    "bernoulli": "-log p(x | decoded probabilities), summed over the features",
    "gaussian": "squared error of the decoded mean in training standard deviations, summed over the features",
    "ratings": "squared error of the decoded expected rating, averaged over the rated entries",
}


def kind_of(likelihood):
    """'bernoulli', 'gaussian' or 'ratings': which reconstruction error a likelihood head's data get."""
    return "ratings" if likelihood.startswith(("categorical", "ordinal")) else likelihood


def mixed_rows(world, test_x, train_x, share, seed):
    """(rows (n, D), injected (n,) bool): a copy of the held-out rows `test_x` with round(share * n) of them
    (at least one, never all) replaced by the world's anomalies, drawn with numpy's generator of `seed`."""
    rng = np.random.default_rng(seed)
    n = len(test_x)
    n_injected = min(max(1, round(share * n)), n - 1)
    where = rng.choice(n, n_injected, replace=False)
    rows = np.array(test_x, copy=True)
    rows[where] = world.anomalies(test_x, n_injected, rng, train_x)
    injected = np.zeros(n, dtype=bool)
    injected[where] = True
    return rows, injected


def normality_scores(model, data, rows, iw_samples, seed, device):
    """{scorer: (n,) score of each row of `rows` (n, D), higher = more normal}, for the scorers that apply:
    no model score for a model without a likelihood (an autoencoder), no world's for a table."""
    import torch
    from sklearn.ensemble import IsolationForest

    from common import evaluate

    x = torch.as_tensor(rows, dtype=torch.float32, device=device)
    scores = {}
    if model.has_likelihood:
        scores["model"] = evaluate.log_likelihood(model, x, iw_samples).cpu().numpy()
    if data.world.has_truth:
        scores["world"] = data.world.reference_log_prob(rows)
    scores["mixture"] = data.mixture.score_samples(rows)
    fit_rows = evaluate.at_most(data.train.x, evaluate.MAX_FIT_ROWS, seed)
    scores["isolation_forest"] = IsolationForest(random_state=seed).fit(fit_rows).score_samples(rows)
    scores["reconstruction"] = -reconstruction_error(model, x, data.train.x, data.world.likelihood)
    return {name: np.asarray(value, dtype=np.float64) for name, value in scores.items()}


def reconstruction_error(model, x, train_x, likelihood):
    """Each row's error through encoder and decoder means, (n,): RECONSTRUCTION_ERROR[kind_of(likelihood)]."""
    import torch

    from common import evaluate

    with torch.no_grad():
        decoded = evaluate.on_unique_rows(evaluate.batched(model.reconstruct), x).cpu().numpy()
    x = x.cpu().numpy().astype(np.float64)
    kind = kind_of(likelihood)
    if kind == "bernoulli":
        p = np.clip(decoded, 1e-6, 1 - 1e-6)
        return -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1)
    if kind == "ratings":  # 0 = not rated: only the rated entries have a rating to miss
        rated = x > 0
        return np.where(rated, (decoded - x) ** 2, 0).sum(1) / np.maximum(rated.sum(1), 1)
    sd = np.asarray(train_x).std(0)
    return (((decoded - x) / np.where(sd > 0, sd, 1)) ** 2).sum(1)


def anomaly_ranking(normality):
    """Minus a normality score, its non-finite values (a likelihood of 0, a NaN) ranked most anomalous."""
    anomaly = -np.asarray(normality, dtype=np.float64)
    finite = np.isfinite(anomaly)
    top = anomaly[finite].max() + 1 if finite.any() else 0.0
    return np.where(finite, anomaly, top)


def assessed(share, injected, scores, likelihood):
    """The `anomalies` section of metrics.json: ROC AUC and average precision of each scorer's ranking."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "share": share,
        "n_injected": int(injected.sum()),
        "n_normal": int((~injected).sum()),
        "reconstruction_error": RECONSTRUCTION_ERROR[kind_of(likelihood)],
        "scores": {
            name: {
                "roc_auc": float(roc_auc_score(injected, anomaly_ranking(s))),
                "average_precision": float(average_precision_score(injected, anomaly_ranking(s))),
            }
            for name, s in scores.items()
        },
    }


def score(job, model):
    """The score stage's anomaly step (common/pipeline.py): metrics.json's `anomalies`, computed on a mixed
    copy of the held-out rows with random draws of its own, so the run's other numbers stay as they were.
    Returns (injected (n,) bool, {scorer: (n,) normality}) for anomalies.png."""
    import torch

    args, data = job.args, job.data
    rows, injected = mixed_rows(data.world, data.test.x, data.train.x, args.anomalies, args.seed)
    with torch.random.fork_rng(devices=[] if job.device == "cpu" else None):
        torch.manual_seed(args.seed)
        scores = normality_scores(model, data, rows, args.iw_samples, args.seed, job.device)
    job.report["anomalies"] = assessed(args.anomalies, injected, scores, data.world.likelihood)
    return injected, scores


def injected_rows(section):
    """'160 rows' (or '1 row'): how many were injected, which on a small table is not share x rows."""
    return f"{section['n_injected']} row{'s' if section['n_injected'] != 1 else ''}"


def summary_line(section):
    """'  anomalies (160 of 1600 held-out rows injected): ROC AUC model 0.97  ...' for the summary."""
    aucs = "  ".join(f"{SCORERS[name]} {s['roc_auc']:.2f}" for name, s in section["scores"].items())
    n = section["n_injected"] + section["n_normal"]
    line = f"  anomalies ({section['n_injected']} of {n} held-out rows injected): ROC AUC {aucs}"
    if min(section["n_injected"], section["n_normal"]) < FEW_ROWS:
        line += f"\n    (fewer than {FEW_ROWS} injected or normal rows: these AUCs are noisy)"
    return line
