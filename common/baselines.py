"""Classical latent variable models the VAEs are measured against.

k-means and the Gaussian mixture come from scikit-learn. scikit-learn has no mixture of Bernoullis,
the classical latent class model for binary data, so it is written here with the same interface
(fit / predict / predict_proba / score_samples / score).
"""

import numpy as np
from scipy.special import logsumexp


class BernoulliMixture:
    """p(x) = sum_k pi_k prod_d theta_kd^x_d (1 - theta_kd)^(1 - x_d), fitted by EM.

    The M-step adds `pseudo_count` successes and failures per parameter (a Beta prior, MAP estimate)
    so that no theta reaches 0 or 1 and held-out log-likelihoods stay finite. The best of `n_init`
    random starts (by training log-likelihood) is kept.
    """

    def __init__(self, n_components, n_init=5, max_iter=500, tol=1e-7, pseudo_count=0.01, random_state=0):
        self.n_components = n_components
        self.n_init, self.max_iter, self.tol = n_init, max_iter, tol
        self.pseudo_count = pseudo_count
        self.random_state = random_state

    def _log_joint(self, x):
        """log pi_k + log p(x | k) per row and component, (n, K)."""
        log_theta, log_1m_theta = np.log(self.theta_), np.log1p(-self.theta_)
        return np.log(self.weights_) + x @ log_theta.T + (1 - x) @ log_1m_theta.T

    def fit(self, x, sample_weight=None):
        """EM on rows x (n, D); `sample_weight` (n,) counts repeated rows, so (unique rows, counts)
        fits exactly the same model as the full table, much faster on binary data."""
        x = np.asarray(x, dtype=np.float64)
        weight = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rng = np.random.default_rng(self.random_state)
        best = None
        for _ in range(self.n_init):
            resp = rng.dirichlet(np.ones(self.n_components), size=len(x))  # random soft start
            previous = -np.inf
            for _ in range(self.max_iter):
                self._m_step(x, resp * weight[:, None])
                log_joint = self._log_joint(x)
                log_px = logsumexp(log_joint, axis=1)
                resp = np.exp(log_joint - log_px[:, None])
                mean_ll = np.average(log_px, weights=weight)
                if mean_ll - previous < self.tol:
                    break
                previous = mean_ll
            if best is None or mean_ll > best[0]:
                best = (mean_ll, self.weights_.copy(), self.theta_.copy())
        self.lower_bound_, self.weights_, self.theta_ = best
        return self

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
        log_joint = self._log_joint(np.asarray(x, dtype=np.float64))
        return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))

    def predict(self, x):
        return self.predict_proba(x).argmax(1)


def fit_mixture(x, n_components, likelihood, seed):
    """The classical latent class model for the data: a mixture of Bernoullis for 0/1 features, a
    full-covariance Gaussian mixture for real ones, both fitted by EM. Has weights_, means_, predict."""
    if likelihood == "bernoulli":
        patterns, counts = np.unique(x, axis=0, return_counts=True)  # same fit, fewer rows
        return BernoulliMixture(n_components, random_state=seed).fit(patterns, sample_weight=counts)
    from sklearn.mixture import GaussianMixture

    # Best of 5 starts, as the Bernoulli mixture: one k-means start often lands in a poor local optimum.
    return GaussianMixture(
        n_components, covariance_type="full", reg_covar=1e-3, n_init=5, random_state=seed
    ).fit(x)
