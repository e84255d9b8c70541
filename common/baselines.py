"""Classical latent variable models the VAEs are measured against.

k-means and the Gaussian mixture come from scikit-learn. scikit-learn has no mixture of Bernoullis or
of categoricals, the classical latent class models for binary and for rating data, so they are written
here with the same interface (fit / predict / predict_proba / score_samples / score).
"""

import numpy as np
from scipy.special import logsumexp

from common.speed.rows import unique_rows


class _EMMixture:
    """What the mixtures here share: EM from `n_init` random soft starts, each run until a pass gains
    less than `tol` nats of mean (or `weight`ed mean) log-likelihood per row, and the best start kept
    (weights_, theta_, lower_bound_). A subclass gives _m_step(data, resp) and _log_joint(data) -> (n, K);
    `pseudo_count` is what its M-step adds to every count (a MAP estimate: no parameter reaches 0)."""

    def __init__(self, n_components, n_init, max_iter, tol, pseudo_count, random_state):
        self.n_components = n_components
        self.n_init, self.max_iter, self.tol = n_init, max_iter, tol
        self.pseudo_count = pseudo_count
        self.random_state = random_state

    def _em(self, data, n_rows, weight=None):
        rng = np.random.default_rng(self.random_state)
        best = None
        for _ in range(self.n_init):
            resp = rng.dirichlet(np.ones(self.n_components), size=n_rows)  # random soft start
            previous = -np.inf
            for _ in range(self.max_iter):
                self._m_step(data, resp if weight is None else resp * weight[:, None])
                log_joint = self._log_joint(data)
                log_px = logsumexp(log_joint, axis=1)
                resp = np.exp(log_joint - log_px[:, None])
                mean_ll = float(log_px.mean() if weight is None else np.average(log_px, weights=weight))
                if mean_ll - previous < self.tol:
                    break
                previous = mean_ll
            if best is None or mean_ll > best[0]:
                best = (mean_ll, self.weights_.copy(), self.theta_.copy())
        self.lower_bound_, self.weights_, self.theta_ = best
        return self

    def _posterior(self, data):
        """p(k | row), (n, K)."""
        log_joint = self._log_joint(data)
        return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))


class BernoulliMixture(_EMMixture):
    """p(x) = sum_k pi_k prod_d theta_kd^x_d (1 - theta_kd)^(1 - x_d), fitted by EM.

    The M-step adds `pseudo_count` successes and failures per parameter (a Beta prior, MAP estimate)
    so that no theta reaches 0 or 1 and held-out log-likelihoods stay finite. The best of `n_init`
    random starts (by training log-likelihood) is kept.
    """

    def __init__(self, n_components, n_init=5, max_iter=500, tol=1e-7, pseudo_count=0.01, random_state=0):
        super().__init__(n_components, n_init, max_iter, tol, pseudo_count, random_state)

    def _log_joint(self, x):
        """log pi_k + log p(x | k) per row and component, (n, K)."""
        log_theta, log_1m_theta = np.log(self.theta_), np.log1p(-self.theta_)
        return np.log(self.weights_) + x @ log_theta.T + (1 - x) @ log_1m_theta.T

    def fit(self, x, sample_weight=None):
        """EM on rows x (n, D); `sample_weight` (n,) counts repeated rows, so (unique rows, counts)
        fits exactly the same model as the full table, much faster on binary data."""
        x = np.asarray(x, dtype=np.float64)
        weight = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return self._em(x, len(x), weight)

    def _m_step(self, x, resp):
        """MAP updates from (weighted) responsibilities resp (n, K)."""
        counts = resp.sum(0)  # (K,)
        a = self.pseudo_count
        self.theta_ = (resp.T @ x + a) / (counts[:, None] + 2 * a)
        self.weights_ = (counts + a) / (counts.sum() + a * self.n_components)

    @property
    def means_(self):
        """Mean profile of each component, (K, D): the same name as sklearn's GaussianMixture."""
        return self.theta_

    def score_samples(self, x):
        return logsumexp(self._log_joint(np.asarray(x, dtype=np.float64)), axis=1)

    def score(self, x):
        return float(self.score_samples(x).mean())

    def predict_proba(self, x):
        return self._posterior(np.asarray(x, dtype=np.float64))

    def predict(self, x):
        return self.predict_proba(x).argmax(1)


class ObservedPatternMixture:
    """A mixture of Bernoullis on which entries of each row are observed (x_d > 0), for rows with 0 =
    missing: the classes of the rated set; with `liked_from`, also on which entries are at least that
    high (x_d >= liked_from: the movies a user liked), 2D yes/no features. means_ holds each
    component's mean observed value, E[x_d | observed, k] (the mean of all observed values where a
    component observes a feature never), as CategoricalMixture's.

    A start for clustering ratings: which movies a user rated does not depend on how generously they
    rate, while a mixture of the full stars spends components on generous and harsh raters. Whether a
    rated movie was liked moves with generosity too, but far less than the stars, and it says much
    about taste (docs/movie.md measures the three starts).
    """

    def __init__(self, n_components, random_state=0, liked_from=None):
        # A start, not a result: EM stops once a pass gains under 1e-4 nats a row, three times faster
        # than 1e-7 for the same clusters (docs/movie.md).
        self.patterns = BernoulliMixture(n_components, random_state=random_state, tol=1e-4)
        self.liked_from = liked_from

    def _patterns(self, x):
        """(n, D) rated, then with liked_from (n, D) liked: yes/no features."""
        x = np.asarray(x, dtype=np.float64)
        parts = [x > 0] if self.liked_from is None else [x > 0, x >= self.liked_from]
        return np.hstack(parts).astype(np.float64)

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        patterns = self._patterns(x)
        unique, _, counts = unique_rows(patterns)
        self.patterns.fit(unique, sample_weight=counts)
        resp = self.patterns.predict_proba(patterns)  # (n, K)
        rated = x > 0
        seen = resp.T @ rated  # (K, D) expected number of observed entries
        overall = x[rated].mean() if rated.any() else 0.0
        self.means_ = np.where(seen > 0, (resp.T @ x) / np.maximum(seen, 1e-12), overall)
        self.weights_ = self.patterns.weights_
        return self

    def predict_proba(self, x):
        return self.patterns.predict_proba(self._patterns(x))

    def predict(self, x):
        return self.predict_proba(x).argmax(1)


class CategoricalMixture(_EMMixture):
    """p(x) = sum_k pi_k prod_d theta_k,d[x_d] for features with values 1..C and 0 = missing, by EM.

    The latent class model of the categorical likelihood heads (common.models.CategoricalHead): with
    model_missing, 0 is one more outcome of every feature; without it, missing entries are left out of
    the product (missing at random). Pseudo-counts, restarts and the interface are BernoulliMixture's.
    means_ holds each component's expected value of an observed entry, E[x_d | observed, k], as the head's
    mean().
    """

    def __init__(
        self, n_components, n_categories=5, model_missing=False, n_init=3, max_iter=500, random_state=0
    ):
        # A row holds many features (~80 nats for 160 movies): a gain below 1e-5 nats per row changes no
        # assignment, and more restarts found the same optimum (docs/movie.md).
        super().__init__(n_components, n_init, max_iter, 1e-5, 0.01, random_state)
        self.n_categories, self.model_missing = n_categories, model_missing

    def _one_hot(self, x):
        """(n, D * P) indicators of every feature's outcome, sparse (at most one in P is set); a missing,
        unmodelled entry is all zeros. Sparse: EM's two products per iteration cost a P-th."""
        from scipy import sparse

        outcomes = np.arange(0 if self.model_missing else 1, self.n_categories + 1)  # (P,)
        x = np.asarray(x)
        return sparse.csr_array((x[:, :, None] == outcomes).reshape(len(x), -1).astype(np.float64))

    def _log_joint(self, one_hot):
        return np.log(self.weights_) + one_hot @ np.log(self.theta_).reshape(self.n_components, -1).T

    def fit(self, x):
        one_hot = self._one_hot(x)  # (n, D * P)
        self._n_features = np.asarray(x).shape[1]
        return self._em(one_hot, one_hot.shape[0])

    def _m_step(self, one_hot, resp):
        counts = (resp.T @ one_hot).reshape(self.n_components, self._n_features, -1) + self.pseudo_count
        self.theta_ = counts / counts.sum(-1, keepdims=True)  # (K, D, P) MAP estimate
        self.weights_ = (resp.sum(0) + self.pseudo_count) / (len(resp) + self.pseudo_count * len(counts))

    @property
    def means_(self):
        rated = self.theta_[..., -self.n_categories :]  # (K, D, C) outcomes 1..C
        return rated @ np.arange(1, self.n_categories + 1) / rated.sum(-1)

    def score_samples(self, x):
        return logsumexp(self._log_joint(self._one_hot(x)), axis=1)

    def score(self, x):
        return float(self.score_samples(x).mean())

    def predict_proba(self, x):
        return self._posterior(self._one_hot(x))

    def predict(self, x):
        return self.predict_proba(x).argmax(1)


class MultinomialMixture(_EMMixture):
    """p(x) = sum_k pi_k prod_i theta_ki^x_i, up to the multinomial coefficient (the same for every k):
    the classical latent class model of implicit feedback (a "mixture of unigrams", Nigam et al. 2000),
    Mult-VAE's likelihood with one discrete latent in place of its Gaussian one. Fitted by EM on a
    dense or scipy.sparse user-item matrix without densifying it; the M-step adds `pseudo_count` to
    every item's count (a symmetric Dirichlet prior, MAP), so no theta is 0. Best of `n_init` starts.
    A user's next items are ranked by p(item | x) = sum_k p(k | x) theta_k (item_scores).
    """

    def __init__(self, n_components, n_init=3, max_iter=200, tol=1e-6, pseudo_count=0.1, random_state=0):
        super().__init__(n_components, n_init, max_iter, tol, pseudo_count, random_state)

    def _log_joint(self, x):
        """log pi_k + sum_i x_i log theta_ki per row and component, (n, K)."""
        return np.log(self.weights_) + np.asarray(x @ np.log(self.theta_).T)

    def fit(self, x):
        from scipy import sparse

        x = sparse.csr_matrix(x, dtype=np.float64)
        return self._em(x, x.shape[0])

    def _m_step(self, x, resp):
        """(K, I) expected item counts of each component, plus the prior's."""
        self.weights_ = (resp.sum(0) + 1e-10) / (x.shape[0] + 1e-10 * self.n_components)
        counts = np.asarray((x.T @ resp).T) + self.pseudo_count
        self.theta_ = counts / counts.sum(1, keepdims=True)

    def predict_proba(self, x):
        return self._posterior(x)

    def item_scores(self, x):
        """p(next item | the user's items x) for every item, (n, I)."""
        return self.predict_proba(x) @ self.theta_


def fit_mixture(x, n_components, likelihood, seed):
    """The classical latent class model for the data: a mixture of Bernoullis for 0/1 features, a
    full-covariance Gaussian mixture for real ones, a mixture of categoricals for ratings (0 = missing;
    also the classical counterpart of the ordinal heads), all fitted by EM. Has weights_, means_, predict."""
    if likelihood == "bernoulli":
        patterns, _, counts = unique_rows(x)  # same fit, fewer rows
        return BernoulliMixture(n_components, random_state=seed).fit(patterns, sample_weight=counts)
    if likelihood.startswith(("categorical", "ordinal")):  # ratings: 0 = missing, 1..5 = stars
        missing = likelihood.endswith("+missing")
        return CategoricalMixture(n_components, model_missing=missing, random_state=seed).fit(x)
    from sklearn.mixture import GaussianMixture

    # Best of 5 starts, as the Bernoulli mixture: one k-means start often lands in a poor local optimum.
    return GaussianMixture(
        n_components, covariance_type="full", reg_covar=1e-3, n_init=5, random_state=seed
    ).fit(x)


def fit_observed_pattern_mixture(x, n_components, seed, options):
    """An ObservedPatternMixture of n_components fitted on x, the world's own kind of start (its options:
    world.cluster_start_options)."""
    return ObservedPatternMixture(n_components, random_state=seed, **options).fit(x)
