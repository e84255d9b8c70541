"""Priors p(z) for the VAE's continuous latent: the standard normal, and the VampPrior.

The VampPrior (Tomczak and Welling 2018, eq. 9) is the mixture of the encoder's own posteriors at K
learned pseudo-inputs u_k:

    p(z) = (1/K) sum_k q(z | u_k)

so the prior is where the encoder puts data, not a fixed ball the posteriors must squeeze into. Its KL
term has no closed form: the VAE uses the Monte Carlo term log q(z | x) - log p(z) at its sample of z,
and the importance-sampled NLL uses this exact mixture density.
"""

import math

import torch
from torch import nn

from common.elbo import LOG_2PI, diagonal_normal_log_prob


class StandardNormal(nn.Module):
    """p(z) = N(0, I)."""

    kind = "normal"

    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z, encode=None):
        """log N(z | 0, I), (...,) for z (..., Z)."""
        return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)

    def sample(self, n, encode, device):
        """n draws, (n, Z)."""
        return torch.randn(n, self.latent_dim, device=device)


class VampPrior(StandardNormal):
    """p(z) = (1/K) sum_k q(z | u_k), the pseudo-inputs u (K, D) learned with the model. `encode` maps
    rows as the encoder sees them (already scaled) to q(z | .)'s (mu, log_var), each (K, Z)."""

    kind = "vamp"

    def __init__(self, latent_dim, n_features, n_pseudo):
        super().__init__(latent_dim)
        # Until start_from_rows puts training rows here: small values around the scaled data's centre.
        self.pseudo_inputs = nn.Parameter(0.01 * torch.randn(n_pseudo, n_features))

    @torch.no_grad()
    def start_from_rows(self, scaled_rows):
        """Pseudo-inputs start as K random training rows (as scaled for the encoder): the prior then starts
        as the mixture of posteriors at real data, not at noise the encoder has never seen."""
        pick = torch.randperm(len(scaled_rows), device=scaled_rows.device)[: len(self.pseudo_inputs)]
        self.pseudo_inputs[: len(pick)] = scaled_rows[pick]

    def log_prob(self, z, encode):
        """log (1/K) sum_k N(z | mu_k, diag sigma_k^2), (...,) for z (..., Z)."""
        mu, log_var = encode(self.pseudo_inputs)  # (K, Z) each
        per_component = diagonal_normal_log_prob(z[..., None, :], mu, log_var)  # (..., K)
        return torch.logsumexp(per_component, dim=-1) - math.log(len(mu))

    def sample(self, n, encode, device):
        mu, log_var = encode(self.pseudo_inputs)
        k = torch.randint(len(mu), (n,), device=mu.device)
        return mu[k] + torch.exp(0.5 * log_var[k]) * torch.randn_like(mu[k])
