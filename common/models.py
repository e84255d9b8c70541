"""The VAE family: MLP builder, likelihood heads and the models.

Every model answers the same questions, so training, evaluation and plots never ask which it is:
- loss_parts(x, beta)   -> {"loss", "recon", "kl"}: batch means, loss = recon + beta * kl
- log_weights(x, S)     -> (B, S) log p(x, z_s) - log q(z_s | x), for importance sampling
- embed(x)              -> (B, Z) a deterministic latent code (the posterior mean)
- decode_mean(z)        -> (B, D) expected features given z
- sample(n)             -> (n, D) new rows from the model
"""

import torch
from torch import nn
from torch.nn import functional as F

from common.elbo import LOG_2PI, diagonal_normal_log_prob, gaussian_kl


def mlp(sizes):
    """Linear + ReLU layers: mlp([8, 64, 64]) maps 8 -> 64 -> 64, ending with a ReLU."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


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


HEADS = {"bernoulli": BernoulliHead, "gaussian": GaussianHead}


class VAE(nn.Module):
    """Gaussian latent z ~ N(0, I), MLP encoder to q(z|x) = N(mu, diag sigma^2), MLP decoder to p(x|z)."""

    kind = "vae"

    def __init__(self, n_features, latent_dim=2, hidden_dim=64, likelihood="bernoulli"):
        super().__init__()
        self.head = HEADS[likelihood]()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            mlp([n_features, hidden_dim, hidden_dim]), nn.Linear(hidden_dim, 2 * latent_dim)
        )
        self.decoder = nn.Sequential(
            mlp([latent_dim, hidden_dim, hidden_dim]),
            nn.Linear(hidden_dim, n_features * self.head.params_per_feature),
        )

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=-1)  # (B, Z) each
        return mu, log_var

    def loss_parts(self, x, beta=1.0):
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # reparameterisation trick
        recon = -self.head.log_prob(self.decoder(z), x)  # (B,)
        kl = gaussian_kl(mu, log_var)  # (B,)
        return {"loss": (recon + beta * kl).mean(), "recon": recon.mean(), "kl": kl.mean()}

    def log_weights(self, x, n_samples):
        mu, log_var = self.encode(x)
        eps = torch.randn(x.shape[0], n_samples, self.latent_dim, device=x.device)  # (B, S, Z)
        z = mu[:, None] + torch.exp(0.5 * log_var)[:, None] * eps
        log_q = -0.5 * (LOG_2PI + log_var[:, None] + eps.pow(2)).sum(-1)  # log q(z|x), (B, S)
        log_prior = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)  # log N(z | 0, I), (B, S)
        log_lik = self.head.log_prob(self.decoder(z), x[:, None])  # (B, S)
        return log_lik + log_prior - log_q

    def embed(self, x):
        return self.encode(x)[0]

    def decode_mean(self, z):
        return self.head.mean(self.decoder(z))

    def sample(self, n):
        device = next(self.parameters()).device
        return self.head.sample(self.decoder(torch.randn(n, self.latent_dim, device=device)))


MODELS = {"vae": VAE}


def build_model(kind, n_features, likelihood, latent_dim, hidden_dim):
    return MODELS[kind](n_features, latent_dim=latent_dim, hidden_dim=hidden_dim, likelihood=likelihood)
