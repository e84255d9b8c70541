"""Likelihood heads: how a decoder's output scores a row x, log p(x | decoder output), in original units.

One head per kind of data (HEADS): 0/1 features (Bernoulli), real features (Gaussian with a learned
variance), ratings 1..C with 0 = missing (categorical or ordinal, optionally modelling which entries are
missing) and implicit feedback (multinomial). Real features are standardised inside the model
(Standardize) and every density is brought back to original units by the change of variables.
Each head gives log_prob(out, x), mean(out) and sample(out); params_per_feature is the decoder's
output size per feature.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from common.elbo import diagonal_normal_log_prob


class BernoulliHead:
    """p(x | z) = prod_d Bernoulli(x_d | sigmoid(logit_d)); the decoder outputs D logits."""

    params_per_feature = 1

    def log_prob(self, out, x):
        out, x = torch.broadcast_tensors(out, x)
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)

    def mean(self, out):
        return torch.sigmoid(out)

    def sample(self, out):
        return torch.bernoulli(torch.sigmoid(out))


class GaussianHead:
    """p(x | z) = prod_d N(x_d | m_d, s_d^2) with a learned variance per row and feature.

    The decoder outputs 2D numbers: means and raw log-variances. The log-variance is floored softly at
    LOG_VAR_MIN so that the likelihood cannot run off to infinity on a collapsed feature.
    """

    params_per_feature = 2
    LOG_VAR_MIN = -6.0

    def split(self, out):
        mean, raw = out.chunk(2, dim=-1)
        return mean, self.LOG_VAR_MIN + F.softplus(raw - self.LOG_VAR_MIN)

    def log_prob(self, out, x):
        mean, log_var = self.split(out)
        return diagonal_normal_log_prob(x, mean, log_var)

    def mean(self, out):
        return self.split(out)[0]

    def sample(self, out):
        mean, log_var = self.split(out)
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)


class CategoricalHead:
    """Features with values 1..C and 0 for missing (a star rating, or 0 = not rated); C logits per feature.

    Missing entries are ignored: p(x | z) = prod over observed d of Categorical(x_d | softmax(logits_d)),
    which assumes that whether a value is missing says nothing about it (missing at random). With
    model_missing=True, "missing" is one more outcome of each feature (a softmax over 1 + C logits), so the
    likelihood also explains which entries are observed: the right model when that is informative (people
    watch what they expect to like). mean() is the expected value of an observed entry, E[x_d | observed].
    """

    def __init__(self, n_categories=5, model_missing=False):
        self.n_categories, self.model_missing = n_categories, model_missing
        self.params_per_feature = n_categories + int(model_missing)

    def log_probs(self, out):
        """Log-probabilities of every outcome, (..., D, P): outcome 0 is "missing" when it is modelled."""
        return F.log_softmax(out.unflatten(-1, (-1, self.params_per_feature)), dim=-1)

    def log_prob(self, out, x):
        log_p = self.log_probs(out)  # (..., D, P)
        shape = torch.broadcast_shapes(log_p.shape[:-1], x.shape)  # e.g. x (B, 1, D) against S samples
        log_p, x = log_p.expand(*shape, -1), x.long().expand(shape)
        outcome = x if self.model_missing else (x - 1).clamp_min(0)  # index of x_d among the outcomes
        picked = log_p.gather(-1, outcome[..., None])[..., 0]  # (..., D)
        if not self.model_missing:
            picked = torch.where(x > 0, picked, torch.zeros_like(picked))  # missing entries add nothing
        return picked.sum(-1)

    def mean(self, out):
        logits = out.unflatten(-1, (-1, self.params_per_feature))[..., -self.n_categories :]  # (..., D, C)
        values = torch.arange(1, self.n_categories + 1, dtype=out.dtype, device=out.device)
        return torch.softmax(logits, dim=-1) @ values

    def sample(self, out):
        """Draws of every feature; without model_missing every entry comes out observed."""
        outcome = torch.distributions.Categorical(logits=self.log_probs(out)).sample()
        return (outcome if self.model_missing else outcome + 1).to(out.dtype)


class OrdinalHead(nn.Module):
    """Ordered values 1..C (star ratings) and 0 for missing, by the cumulative-logit model (McCullagh 1980):

        P(x_d <= c) = sigmoid(t_c - eta_d),   c = 1..C-1,   t_1 < t_2 < ... < t_{C-1}

    The decoder gives one location eta_d per feature: a higher eta shifts every probability towards the
    top value. The thresholds t are learned and shared by all features, so a feature costs one output
    instead of C. Missing entries are ignored unless model_missing, as in CategoricalHead; then each
    feature has a second output, the log-odds of being observed. A module: the thresholds are weights.
    """

    def __init__(self, n_categories=5, model_missing=False):
        super().__init__()
        self.n_categories, self.model_missing = n_categories, model_missing
        self.params_per_feature = 1 + int(model_missing)
        # t_1 and the log of the gaps between thresholds, so that they stay ordered: start evenly spread.
        spread = torch.linspace(-2.0, 2.0, n_categories - 1)
        self.first_threshold = nn.Parameter(spread[:1].clone())
        self.log_gaps = nn.Parameter(torch.log(spread.diff()))

    def thresholds(self):
        """(-inf, t_1, .., t_{C-1}, inf), (C + 1,)."""
        t = torch.cat([self.first_threshold, self.first_threshold + torch.cumsum(self.log_gaps.exp(), 0)])
        inf = torch.full((1,), math.inf, device=t.device)
        return torch.cat([-inf, t, inf])

    def split(self, out):
        """(log-odds of observed or None, location), each (..., D)."""
        parts = out.unflatten(-1, (-1, self.params_per_feature))
        return (parts[..., 0] if self.model_missing else None), parts[..., -1]

    def log_prob(self, out, x):
        observe, eta = self.split(out)
        t = self.thresholds()
        c = x.long().clamp_min(1)  # at x's own shape, e.g. (B, 1, D); missing entries are masked below
        upper, lower = t[c], t[c - 1]  # P(x = c) = sigmoid(upper - eta) - sigmoid(lower - eta)
        # sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)): stable in both tails, and
        # b - a = t_{c-1} - t_c does not depend on eta. Every term is finite, also for missing entries.
        # log sigmoid(a) = -softplus(-a): the same numbers, twice as fast on a CPU (torch's log_sigmoid
        # also fills a buffer for its backward), and this is most of an ordinal model's evaluation.
        gap_term = torch.log1p(-torch.exp(t[:-1] - t[1:]))[c - 1]  # per star value: no tensor of eta's size
        log_p = gap_term - F.softplus(eta - upper) - F.softplus(lower - eta)
        observed = (x > 0).to(eta.dtype)
        log_p = log_p * observed  # (..., D): missing entries add nothing
        if self.model_missing:
            log_p = log_p - F.softplus((1 - 2 * observed) * observe)  # log p(observed or not)
        return log_p.sum(-1)

    def mean(self, out):
        """E[x_d | observed] = 1 + sum_c P(x_d > c), (..., D)."""
        _, eta = self.split(out)
        return 1 + torch.sigmoid(eta[..., None] - self.thresholds()[1:-1]).sum(-1)

    def sample(self, out):
        observe, eta = self.split(out)
        below = torch.sigmoid(self.thresholds()[1:-1] - eta[..., None])  # (..., D, C-1) P(x <= c)
        x = 1 + (torch.rand_like(eta)[..., None] > below).sum(-1)  # inverse CDF
        if self.model_missing:
            x = torch.where(torch.rand_like(eta) < torch.sigmoid(observe), x, torch.zeros_like(x))
        return x.to(out.dtype)


class MultinomialHead:
    """p(x | z) = Multinomial(x | N, softmax(logits)) with N = sum_d x_d the row's own total: the
    implicit-feedback likelihood of Mult-VAE (Liang et al. 2018, eq. 2). The decoder outputs D logits;
    a softmax over all items makes items compete for a user's limited attention.
    """

    params_per_feature = 1

    def log_prob(self, out, x):
        out, x = torch.broadcast_tensors(out, x)
        n = x.sum(-1)
        # log N! / prod_d x_d! does not depend on the model; with it the number is a true log-likelihood.
        log_coefficient = torch.lgamma(n + 1) - torch.lgamma(x + 1).sum(-1)
        return log_coefficient + (x * F.log_softmax(out, dim=-1)).sum(-1)

    def mean(self, out):
        """Share of a user's items expected on each item, (..., D): the scores that rank recommendations."""
        return torch.softmax(out, dim=-1)

    def sample(self, out):
        raise NotImplementedError("a multinomial row needs its number of items N; sample per user instead")


HEADS = {
    "bernoulli": BernoulliHead,
    "gaussian": GaussianHead,
    "categorical": CategoricalHead,
    "categorical+missing": lambda: CategoricalHead(model_missing=True),
    "ordinal": OrdinalHead,
    "ordinal+missing": lambda: OrdinalHead(model_missing=True),
    "multinomial": MultinomialHead,
}


class Standardize(nn.Module):
    """x -> (x - mean) / sd with the training rows' feature mean and sd, kept as buffers (so in model.pt).

    Real features on their own scale (flavours 0-10) train badly raw, so the encoder sees standardised
    x and the Gaussian head models standardised x. Every log-density a model reports stays in original
    units by the change of variables: log p(x) = log p(x_std) + log |dx_std / dx| = log p(x_std) - sum log sd.
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("sd", torch.ones(n_features))

    @torch.no_grad()
    def fit(self, x):
        """Set mean and sd from training rows x (n, D); a constant feature keeps sd 1."""
        sd = x.std(0, correction=0)
        self.mean.copy_(x.mean(0))
        self.sd.copy_(torch.where(sd > 0, sd, torch.ones_like(sd)))
        return self

    def forward(self, x):
        return (x - self.mean) / self.sd

    def inverse(self, x_std):
        return x_std * self.sd + self.mean

    def log_jacobian(self):
        """log |dx_std / dx|, added to a log-density of x_std to give one of x."""
        return -self.sd.log().sum()


class NoScaling(nn.Module):
    """The identity, for features modelled as they are (0/1 data): no buffers, nothing to fit."""

    def fit(self, x):
        return self

    def forward(self, x):
        return x

    def inverse(self, x_std):
        return x_std

    def log_jacobian(self):
        return 0.0


def make_scaling(likelihood, n_features):
    return Standardize(n_features) if likelihood == "gaussian" else NoScaling()


class ObservedUnits:
    """The head applied to scaled features, with results in original units (mixed into every model)."""

    def log_lik(self, out, x):
        """log p(x | decoder output) in original units; x (..., D) broadcasts against out."""
        return self.head.log_prob(out, self.scale(x)) + self.scale.log_jacobian()

    def head_mean(self, out):
        return self.scale.inverse(self.head.mean(out))

    def head_sample(self, out):
        return self.scale.inverse(self.head.sample(out))

    def reconstruct(self, x):
        """Expected features of x after encoding and decoding, (B, D)."""
        return self.decode_mean(self.embed(x))
