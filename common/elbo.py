"""The evidence lower bound, its KL term, the importance-weighted bound and beta schedules.

ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x)
The training loss is recon + beta * kl, with recon = -E_q[log p(x|z)] (one reparameterised sample).
"""

import math

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


# Activations of the widest layer held at once when evaluating in chunks: 2 MB of floats, reused from
# the heap and kept in the CPU's caches; bigger chunks were slower (docs/speed.md).
MAX_ELEMENTS = 2**19


def widest_layer(model):
    """Activations per (row, sample) pair in the widest layer; models with a cluster latent (gmvae,
    cvae) evaluate every cluster y for each pair."""
    fan_out = model.n_clusters or 1
    return fan_out * max(m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


@torch.no_grad()
def importance_weighted(model, x, n_samples, max_elements=MAX_ELEMENTS):
    """Importance-weighted estimate of log p(x) per row (Burda, Grosse, Salakhutdinov 2016):

        log p(x) ~= log (1/S) sum_s w_s,   w_s = p(x, z_s) / q(z_s | x),   z_s ~ q(z | x)

    It is a lower bound in expectation that tightens to log p(x) as S grows; the mean of log w_s is
    an estimate of the ELBO and comes for free. Rows and samples are processed in chunks so that
    at most `max_elements` activations of the widest layer exist at once, whatever n and S are.
    Returns (log_px, mean_log_w), each (n,).
    """
    n = x.shape[0]
    pairs = max(1, max_elements // widest_layer(model))  # (row, sample) pairs per chunk
    samples_per_chunk = min(n_samples, pairs)
    rows_per_chunk = max(1, pairs // samples_per_chunk)
    log_px = torch.empty(n, device=x.device)
    mean_log_w = torch.empty(n, device=x.device)
    for start in range(0, n, rows_per_chunk):
        xb = x[start : start + rows_per_chunk]
        running = torch.full((xb.shape[0],), -math.inf, device=x.device)
        total = torch.zeros(xb.shape[0], device=x.device)
        for s0 in range(0, n_samples, samples_per_chunk):
            log_w = model.log_weights(xb, min(samples_per_chunk, n_samples - s0))  # (b, s)
            running = torch.logaddexp(running, torch.logsumexp(log_w, dim=1))
            total += log_w.sum(1)
        log_px[start : start + rows_per_chunk] = running - math.log(n_samples)
        mean_log_w[start : start + rows_per_chunk] = total / n_samples
    return log_px, mean_log_w
