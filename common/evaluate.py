"""Measuring a trained model against the truth of its world and against classical baselines.

All likelihood figures are per row, in nats. Recovery compares clusters found without labels to the
true hidden cause: ARI and NMI (label-permutation invariant) and accuracy after the best one-to-one
matching of clusters to classes (Hungarian algorithm).
"""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from common.baselines import fit_mixture
from common.elbo import importance_weighted
from common.speed.rows import unique_rows_tensor
from common.train import evaluate_loss

# k-means and Gaussian mixtures (on raw features, or on a model's latent codes) are settled long before
# this many rows; on a million they would cost more than training the model (bench/speed.py), so
# bigger sets are subsampled. Default runs are far below it.
MAX_FIT_ROWS = 50_000


def at_most(x, n, seed):
    """x, or n of its rows drawn without replacement."""
    return x if len(x) <= n else x[np.random.default_rng(seed).choice(len(x), n, replace=False)]


def on_unique_rows(fn, x, any_repeat=False):
    """fn(x) computed once per distinct row when rows repeat a lot (at most half of them distinct:
    binary data) or, with any_repeat, when any row repeats; else on all rows, in their own order.

    Exact for deterministic fn, and exact in distribution for Monte Carlo estimates: a row's
    estimate depends only on its values. fn maps (n, D) to (n, ...).
    """
    values, inverse = per_distinct_row(fn, x, any_repeat)
    return values if inverse is None else values[inverse]


def per_distinct_row(fn, x, any_repeat=False):
    """(fn of the rows it was computed on, inverse): as on_unique_rows, with the values of the distinct
    rows and the index of each row's among them; inverse is None when every row was computed."""
    unique, inverse = unique_rows_tensor(x)
    if len(unique) > (len(x) - 1 if any_repeat else len(x) // 2):
        return fn(x), None
    return fn(unique), inverse


def log_likelihood(model, x, n_samples):
    """Importance-weighted estimate of log p(x) per row, (n,) tensor."""
    return on_unique_rows(lambda rows: importance_weighted(model, rows, n_samples).log_px, x)


def held_out_likelihood(model, x, n_samples, elbo_rows=200_000):
    """ELBO and importance-weighted NLL on held-out rows, with the NLL's Monte Carlo standard error and
    the effective sample size per row (docs/models.md). The ELBO averages draws of z over about
    `elbo_rows` row evaluations: 10 passes over 2000 rows, one over 200,000 (as precise, a tenth of
    the time)."""
    estimate, inverse = per_distinct_row(lambda rows: importance_weighted(model, rows, n_samples), x)
    counts = torch.ones(len(x), device=x.device) if inverse is None else torch.bincount(inverse).float()
    # Equal rows share one estimate, so their errors add up before they average out: (count * se)^2.
    mc_se = float(torch.sqrt((counts.pow(2) * estimate.variance(n_samples)).sum()) / len(x))
    log_px, ess = (v if inverse is None else v[inverse] for v in (estimate.log_px, estimate.ess))
    passes = min(10, max(1, elbo_rows // len(x)))
    elbo = np.mean([-evaluate_loss(model, x)["loss"] for _ in range(passes)])
    return {
        "elbo": float(elbo),
        "nll": float(-log_px.mean()),
        "nll_mc_se": mc_se,
        "iw_samples": n_samples,
        "iw_ess": {"median": float(ess.median()), "min": float(ess.min())},
    }


def trained_bound(model, x, elbo_rows=200_000):
    """The K-sample importance-weighted bound a model trained with --iw-train K maximised, on rows x,
    averaged over as many passes as the ELBO of held_out_likelihood (a few samples per row are noisy)."""
    k, passes = model.train_samples, min(10, max(1, elbo_rows // len(x)))
    bound = np.mean([float(log_likelihood(model, x, k).mean()) for _ in range(passes)])
    return {"iw_train": k, "iw_bound": float(bound)}


# A latent dimension whose KL against the prior, averaged over held-out rows, is below this many nats
# carries almost no information about the row: the posterior has collapsed onto the prior there.
COLLAPSED_NATS = 0.01


def latent_usage(model, x):
    """{"latent_usage": {"kl_per_dim", "inactive", "threshold"}}: each latent dimension's KL of q(z|x)
    against the prior, nats per row averaged over rows x, and the dimensions below COLLAPSED_NATS (posterior
    collapse); {} where the KL does not split by dimension (flows, the VampPrior, the hvae, the vqvae, the
    autoencoders). Its random draws (the gmvae's q(y|x)) leave the run's random state as it was."""
    with torch.random.fork_rng(devices=[] if x.device.type == "cpu" else [x.device]):
        kl = _kl_per_dimension(model, x)
    if kl is None:
        return {}
    per_dim = [float(v) for v in kl]
    inactive = [f"z{i + 1}" for i, v in enumerate(per_dim) if v < COLLAPSED_NATS]
    return {"latent_usage": {"kl_per_dim": per_dim, "inactive": inactive, "threshold": COLLAPSED_NATS}}


@torch.no_grad()
def _kl_per_dimension(model, x):
    """(Z,) mean over rows of each dimension's KL term, or None. The vae with N(0, I) and no flow: its
    closed-form KL(q(z_d|x) || N(0, 1)). The gmvae (and cvae): sum_y q(y|x) KL(q(z_d|x,y) || p(z_d|y)),
    its KL without the part about y, KL(q(y|x) || p(y))."""
    from common.elbo import gaussian_kl
    from common.models import GMVAE, VAE

    if isinstance(model, GMVAE):
        mu, log_var = model.encode(x)  # (B, K, Z)
        _, prior_mu, prior_log_var = model.prior()
        per_cluster = gaussian_kl(
            mu[..., None], log_var[..., None], prior_mu[..., None], prior_log_var[..., None]
        )  # (B, K, Z): each dimension on its own
        kl = (model.cluster_probs(x)[..., None] * per_cluster).sum(1)
    elif isinstance(model, VAE) and model.flow is None and model.prior.kind == "normal":
        mu, log_var = model.encode(x)
        kl = gaussian_kl(mu[..., None], log_var[..., None])  # (B, Z)
    else:
        return None
    return kl.mean(0).cpu().numpy()


def batched(fn, batch_size=1024):
    """fn applied to consecutive slices of its input and concatenated: bounded memory on big x."""
    return lambda x: torch.cat([fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def latent_codes(model, x):
    """model.embed over x, as a numpy array (n, Z): once per distinct row, however few repeat, so that
    equal rows share one code (the gmvae's embed samples q(y | x)): latent.png sizes their dot by them."""
    return on_unique_rows(batched(model.embed), x, any_repeat=True).cpu().numpy()


def cluster_to_class(true, pred):
    """{cluster id: class id} by the one-to-one matching that maximises agreement (Hungarian).

    Works when the numbers of clusters and classes differ; unmatched clusters map to -1.
    """
    clusters = np.unique(pred)
    overlap = np.array([[np.sum((pred == c) & (true == k)) for k in range(true.max() + 1)] for c in clusters])
    rows, cols = linear_sum_assignment(-overlap)
    mapping = dict.fromkeys(clusters.tolist(), -1)
    mapping.update({int(clusters[r]): int(c) for r, c in zip(rows, cols, strict=True)})
    return mapping


def cluster_names(class_names, mapping, n_clusters):
    """'cluster 3 ~ influenza' for a cluster matched to a class, 'cluster 5 (unmatched)' otherwise."""
    return [
        f"cluster {c + 1} ~ {class_names[mapping[c]]}"
        if mapping.get(c, -1) >= 0
        else f"cluster {c + 1} (unmatched)"
        for c in range(n_clusters)
    ]


def match_clusters(true, pred):
    """Predicted cluster ids renamed to the class ids they match best (-1 when unmatched)."""
    mapping = cluster_to_class(true, pred)
    return np.array([mapping[int(c)] for c in pred])


def recovery(true, pred):
    """ARI, NMI and matched accuracy of predicted clusters against true classes."""
    return {
        "ari": float(skm.adjusted_rand_score(true, pred)),
        "nmi": float(skm.normalized_mutual_info_score(true, pred)),
        "accuracy": float(np.mean(match_clusters(true, pred) == true)),
    }


def bayes_recovery(world, test):
    """The ceiling: classify each row by argmax of the world's exact posterior p(class | x)."""
    scores = recovery(test.labels, world.posterior(test.x).argmax(1))
    return {f"bayes_{k}": v for k, v in scores.items()}


def _latent_mixture(n_clusters, z_train, seed):
    """Full-covariance Gaussian mixture for latent codes. Binary data give many identical codes, which
    can collapse a component onto one point: regularise the covariances relative to the codes' scale."""
    reg_covar = 1e-3 * float(np.mean(np.var(z_train, axis=0))) + 1e-9
    return GaussianMixture(
        n_clusters, covariance_type="full", reg_covar=reg_covar, n_init=3, random_state=seed
    )


def latent_clusters(z_train, z_test, n_clusters, seed):
    """Clusters of latent codes: a Gaussian mixture fitted on the training codes, applied to test codes."""
    z_train = at_most(z_train, MAX_FIT_ROWS, seed).astype(np.float64)
    return _latent_mixture(n_clusters, z_train, seed).fit(z_train).predict(z_test.astype(np.float64))


@torch.no_grad()
def cluster_assignments(model, x, n_samples=64):
    """argmax q(y | x) of a gmvae, per row, (n,)."""
    probs = lambda rows: model.cluster_probs(rows, n_samples).argmax(1)  # noqa: E731
    return on_unique_rows(batched(probs), x).cpu().numpy()


def cluster_usage(model, x, n_samples=8):
    """How many of the gmvae's K components are in use: those given at least 1% of the rows.
    A few importance samples per row are enough to count shares (real-valued rows do not repeat)."""
    shares = np.bincount(cluster_assignments(model, x, n_samples), minlength=model.n_clusters) / len(x)
    return {"k": model.n_clusters, "in_use": int((shares >= 0.01).sum()), "shares": shares.round(4).tolist()}


def candidate_ks(n_classes, n_rows):
    """The K that --clusters auto tries: 2 .. 2 x the classes (up to 8 without labels), never more
    components than the rows they are fitted on."""
    return list(range(2, max(2, min(2 * (n_classes or 4), n_rows)) + 1))


def select_latent_clusters(z_train, n_classes, seed):
    """--clusters auto for models without a cluster latent: the Gaussian mixture on the latent codes
    for each of candidate_ks, chosen by BIC (sklearn), lower is better."""
    ks = candidate_ks(n_classes, len(z_train))
    z_train = at_most(z_train, MAX_FIT_ROWS, seed).astype(np.float64)
    bics = [float(_latent_mixture(k, z_train, seed).fit(z_train).bic(z_train)) for k in ks]
    best_k = ks[int(np.argmin(bics))]
    return best_k, {"k": ks, "bic": bics, "best_k": best_k, "criterion": "BIC of the latent mixture"}


def baselines(train, test, n_classes, likelihood, seed, mixture=None, labelled=True):
    """k-means and a Gaussian mixture on raw features; a Bernoulli mixture (EM) for binary data.

    Scores are recovery on the test rows (when they have labels); the mixtures also report held-out
    NLL when it is a likelihood of the same kind as the model's (a Gaussian density on 0/1 data is
    not). `mixture`, when given, is the already fitted classical mixture with n_classes components.
    """
    mixture = mixture or fit_mixture(train.x, n_classes, likelihood, seed)
    scores = (lambda pred: recovery(test.labels, pred)) if labelled else (lambda pred: {})
    out = {}
    rows = at_most(train.x, MAX_FIT_ROWS, seed)  # what k-means and the raw-feature GMM are fitted on
    if labelled:
        kmeans = KMeans(n_classes, n_init=10, random_state=seed).fit(rows)
        out["kmeans"] = scores(kmeans.predict(test.x)) | {"fit_rows": len(rows)}
    if likelihood == "gaussian":
        out["gmm"] = {**scores(mixture.predict(test.x)), "nll": float(-mixture.score(test.x))}
    else:
        if labelled:
            gmm = GaussianMixture(n_classes, covariance_type="full", reg_covar=1e-3, random_state=seed)
            out["gmm"] = scores(gmm.fit(rows).predict(test.x)) | {"fit_rows": len(rows)}
        out["mixture_em"] = {**scores(mixture.predict(test.x)), "nll": -mixture.score(test.x)}
    return out


@torch.no_grad()
def reconstruction(model, x, feature_names, likelihood):
    """How well x comes back through encoder mean and decoder mean, per feature.

    Binary features: ROC AUC of the decoded probability against the observed 0/1 (sklearn).
    Real features: R^2 of the decoded mean. Returns the mean and the per-feature scores.
    Ratings (categorical, 0 = missing): RMSE of the decoded expected rating over the observed entries.
    """
    x_hat = on_unique_rows(batched(model.reconstruct), x).cpu().numpy()  # bounded memory on big x
    x = x.cpu().numpy()
    if likelihood.startswith(("categorical", "ordinal")):
        observed = x > 0
        per_feature = {
            f: float(skm.root_mean_squared_error(x[observed[:, j], j], x_hat[observed[:, j], j]))
            for j, f in enumerate(feature_names)
            if observed[:, j].any()
        }
        rmse = skm.root_mean_squared_error(x[observed], x_hat[observed])
        return {"rmse": float(rmse), "rmse_per_feature": per_feature}
    if likelihood == "bernoulli":
        name, scorer = "auc", skm.roc_auc_score
        per_feature = {  # a feature that is constant on these rows has no AUC and is left out
            f: float(scorer(x[:, j], x_hat[:, j]))
            for j, f in enumerate(feature_names)
            if 0 < x[:, j].mean() < 1
        }
    else:
        name = "r2"  # undefined on a single row
        per_feature = {
            f: float(skm.r2_score(x[:, j], x_hat[:, j])) for j, f in enumerate(feature_names) if len(x) > 1
        }
    if not per_feature:  # nothing to score: left out, never faked
        return {}
    return {name: float(np.mean(list(per_feature.values()))), f"{name}_per_feature": per_feature}
