"""The evidence lower bound, its KL term, the importance-weighted bound and beta schedules.

ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x)
The training loss is recon + beta * kl, with recon = -E_q[log p(x|z)] (one reparameterised sample).
"""

import math
from typing import NamedTuple

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu, log_var, prior_mu=None, prior_log_var=None):
    """KL(N(mu, diag exp(log_var)) || N(prior_mu, diag exp(prior_log_var))), summed over the last axis.

    With the standard normal prior (the defaults) this is the closed form of Kingma and Welling
    (2014), Appendix B: -KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2). For a learned
    Gaussian prior: KL = 1/2 * sum_j (log s_j^2 - log sigma_j^2 + (sigma_j^2 + (mu_j - m_j)^2) / s_j^2 - 1).
    """
    if prior_mu is None:
        return -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(-1)
    return 0.5 * (
        prior_log_var - log_var + (log_var.exp() + (mu - prior_mu).pow(2)) * torch.exp(-prior_log_var) - 1
    ).sum(-1)


def diagonal_normal_log_prob(z, mu, log_var):
    """log N(z | mu, diag exp(log_var)) summed over the last axis; broadcasts like torch ops."""
    return -0.5 * (LOG_2PI + log_var + (z - mu).pow(2) * torch.exp(-log_var)).sum(-1)


def beta_at(epoch, beta, anneal_epochs):
    """KL weight of a 1-based epoch: rises linearly from 0 to `beta` over `anneal_epochs` epochs
    (the KL annealing of Bowman et al. 2016 and Liang et al. 2018), then stays at `beta`."""
    if anneal_epochs <= 0:
        return beta
    return beta * min(1.0, epoch / anneal_epochs)


def beta_at_step(step, beta, anneal_steps):
    """KL weight of a 1-based update: rises linearly from 0 to `beta` over `anneal_steps` updates, as
    Mult-VAE's schedule (Liang et al. 2018, Sec. 2.2.2: "anneal_cap" = beta), then stays at `beta`."""
    return beta * min(1.0, step / anneal_steps)


def iw_loss_parts(model, x, n_samples, beta=1.0, weights=None):
    """The IWAE objective (Burda, Grosse, Salakhutdinov 2016, eq. 8): minus the K-sample bound

        L_K = E[log (1/K) sum_k w_k] <= log p(x),   w_k = p(x | z_k) p(z_k)^beta / q(z_k | x)^beta

    which is the ELBO at K = 1 and rises to log p(x) with K. beta < 1 tempers the prior's share, as the
    ELBO's KL weight does while annealing. Its gradient is the ELBO's, each sample weighted by its
    normalised weight w_k / sum w; the reported parts use those weights too: recon = -sum_k w~_k log
    p(x | z_k), kl = the rest of -L_K at beta = 1. model.log_weight_terms(x, K) gives log p(x | z) and
    log p(z) - log q(z | x) per sample, (B, K, ...): trailing axes (the gmvae's clusters) are summed
    over exactly, like the samples. Returns the dict of mean_parts.
    """
    log_lik, log_ratio = (t.flatten(1) for t in model.log_weight_terms(x, n_samples))  # (B, K * ...)
    tempered = log_lik + beta * log_ratio
    bound = torch.logsumexp(tempered, dim=1) - math.log(n_samples)  # (B,)
    with torch.no_grad():
        w = torch.softmax(tempered, dim=1)
        recon = -(w * log_lik).sum(1)
        kl = -(w * log_ratio).sum(1) + (w * torch.log(w.clamp_min(1e-30))).sum(1) + math.log(n_samples)
    share = torch.full_like(bound, 1 / len(bound)) if weights is None else weights / weights.sum()
    return {"loss": -(share * bound).sum(), "recon": (share * recon).sum(), "kl": (share * kl).sum()}


# Activations of the widest layer held at once when evaluating in chunks: 2 MB of floats, reused from
# the heap and kept in the CPU's caches; bigger chunks were slower (docs/speed.md).
MAX_ELEMENTS = 2**19


def widest_layer(model):
    """Activations per (row, sample) pair in the widest layer; models with a cluster latent (gmvae,
    cvae) evaluate every cluster y for each pair."""
    fan_out = model.n_clusters or 1
    return fan_out * max(m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


class Estimate(NamedTuple):
    """An importance-sampled estimate per row, each (n,): log p(x), the mean log weight (an ELBO
    estimate) and the effective sample size (sum w)^2 / sum w^2 of the row's S weights."""

    log_px: torch.Tensor
    elbo: torch.Tensor
    ess: torch.Tensor

    def variance(self, n_samples):
        """Monte Carlo variance of each row's log p(x) estimate, by the delta method:
        Var[log mean(w)] ~= Var[w] / (S mean(w)^2) = 1 / ESS - 1 / S (0 when every weight is equal)."""
        return (1 / self.ess - 1 / n_samples).clamp_min(0)


@torch.no_grad()
def importance_weighted(model, x, n_samples, max_elements=MAX_ELEMENTS):
    """Importance-weighted estimate of log p(x) per row (Burda, Grosse, Salakhutdinov 2016):

        log p(x) ~= log (1/S) sum_s w_s,   w_s = p(x, z_s) / q(z_s | x),   z_s ~ q(z | x)

    It is a lower bound in expectation that tightens to log p(x) as S grows; the mean of log w_s is
    an estimate of the ELBO and comes for free, and so does the effective sample size, from which
    Estimate.variance gives the estimate's Monte Carlo error. Rows and samples are processed in chunks
    so that at most `max_elements` activations of the widest layer exist at once, whatever n and S are.
    """
    n = x.shape[0]
    pairs = max(1, max_elements // widest_layer(model))  # (row, sample) pairs per chunk
    samples_per_chunk = min(n_samples, pairs)
    rows_per_chunk = max(1, pairs // samples_per_chunk)
    log_px, mean_log_w, ess = (torch.empty(n, device=x.device) for _ in range(3))
    for start in range(0, n, rows_per_chunk):
        xb = x[start : start + rows_per_chunk]
        log_sum = torch.full((xb.shape[0],), -math.inf, device=x.device)  # log sum_s w_s
        log_sum_sq = log_sum.clone()  # log sum_s w_s^2
        total = torch.zeros(xb.shape[0], device=x.device)
        for s0 in range(0, n_samples, samples_per_chunk):
            log_w = model.log_weights(xb, min(samples_per_chunk, n_samples - s0))  # (b, s)
            log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_w, dim=1))
            log_sum_sq = torch.logaddexp(log_sum_sq, torch.logsumexp(2 * log_w, dim=1))
            total += log_w.sum(1)
        rows = slice(start, start + rows_per_chunk)
        log_px[rows] = log_sum - math.log(n_samples)
        mean_log_w[rows] = total / n_samples
        ess[rows] = torch.exp(2 * log_sum - log_sum_sq)
    return Estimate(log_px, mean_log_w, ess)
