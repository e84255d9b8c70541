"""HVAE: a VAE with two stochastic layers, the top one z2 the 2-D code the figures show.

    generative   p(z2) = N(0, I),  p(z1 | z2) = N(mu(z2), diag sigma^2(z2)),  p(x | z1) decoder + head
    inference    bottom-up: q(z1 | x) q(z2 | z1) (Burda, Grosse, Salakhutdinov 2016)
                 ladder:    q(z2 | x) from a deterministic bottom-up pass, then q(z1 | x, z2) the
                            precision-weighted combination of the bottom-up estimate and p(z1 | z2)
                            (Sønderby et al. 2016, "Ladder Variational Autoencoders", eq. 18-19)

p(z1 | z2) with a mean and variance that are networks of z2 makes p(z1), and so p(x), a continuous
mixture richer than one Gaussian layer. It needs KL warm-up (--anneal-epochs), which Sønderby et al.
2016 found crucial for models with several stochastic layers: at beta = 1 from the first update, the
cuisine's HVAEs used their top layer in 1 run of 30 (both inferences, lower_dim 2, 4, 8, 5 seeds) and
20 collapsed to independent features. The ladder has an exit the bottom-up q lacks: a vague bottom-up
estimate or a tight p(z1 | z2) makes q(z1 | x, z2) = p(z1 | z2) at no KL cost, and then the bottom-up
estimate's weight, and its gradient, vanish.
"""

import torch
from torch import nn

from common.elbo import LOG_2PI, diagonal_normal_log_prob, gaussian_kl
from common.heads import HEADS, make_scaling
from common.models import Model
from common.networks import encoder_decoder, mean_parts, mlp

INFERENCE = ("ladder", "bottom-up")


class HVAE(Model):
    """Two Gaussian layers z2 -> z1 -> x; latent_dim is the top layer's size, lower_dim z1's.

    Every network (encoder trunk, q(z2 | .), p(z1 | z2), decoder) is an MLP of hidden_layers layers
    of hidden_dim units. The defaults, bottom-up inference and lower_dim 8, had the best held-out NLL
    summed over the disease and cuisine worlds (demo defaults, KL warm-up over 10 epochs, 5 seeds): 0.046
    and 0.18 nats above the true NLL, against 0.07 and 0.32 for the VAE and 0.065 and 0.21 for the
    ladder; the top layer carried over 0.1 nats per row in 8 of 10 runs (the ladder's too). Without
    warm-up on the disease the ladder kept its top layer (5 of 5 runs, bottom-up 1 of 5), but neither
    beat the VAE there (0.104 and 0.117 against 0.095).
    """

    kind = "hvae"
    kl_term = "KL(q(z1, z2|x) || p(z1, z2))"

    def __init__(self, n_features, latent_dim=2, hidden_dim=64, likelihood="bernoulli", hidden_layers=2,
                 lower_dim=8, inference="bottom-up"):  # fmt: skip
        super().__init__()
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {INFERENCE}, not {inference!r}")
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.latent_dim, self.lower_dim, self.inference = latent_dim, lower_dim, inference
        # encoder: x -> (mu, log_var) of z1 (q(z1 | x), or the ladder's bottom-up estimate of z1)
        self.encoder, self.decoder = encoder_decoder(
            n_features, 2 * lower_dim, lower_dim, hidden_dim, self.head.params_per_feature, hidden_layers
        )
        hidden = [hidden_dim] * hidden_layers
        # q(z2 | .): the ladder reads the encoder's last hidden layer d1, bottom-up reads the sample z1.
        upper_in = hidden_dim if inference == "ladder" else lower_dim
        self.upper = nn.Sequential(mlp([upper_in, *hidden]), nn.Linear(hidden_dim, 2 * latent_dim))
        self.prior_net = nn.Sequential(mlp([latent_dim, *hidden]), nn.Linear(hidden_dim, 2 * lower_dim))

    def prior_z1(self, z2):
        """p(z1 | z2): mu, log_var, each (..., lower_dim)."""
        return self.prior_net(z2).chunk(2, dim=-1)

    def bottom_up(self, x):
        """The encoder's Gaussian on z1, (mu, log_var) each (B, lower_dim), and its last hidden layer d1."""
        d1 = self.encoder[:-1](self.scale(x))
        return self.encoder[-1](d1).chunk(2, dim=-1), d1

    def _draw(self, x, n_samples):
        """S reparameterised draws per row of z ~ q(z1, z2 | x) with the Gaussians that score them:
        z1, z2 and (mu, log_var) of q1 = q(z1 | .), q2 = q(z2 | .), p1 = p(z1 | z2), all (B, S, .)."""
        (mu_hat, log_var_hat), d1 = self.bottom_up(x)
        if self.inference == "bottom-up":
            q1 = (mu_hat[:, None], log_var_hat[:, None])
            z1 = _reparameterise(*q1, n_samples)
            q2 = self.upper(z1).chunk(2, dim=-1)
            z2 = q2[0] + torch.exp(0.5 * q2[1]) * torch.randn_like(q2[0])
            return z1, z2, q1, q2, self.prior_z1(z2)
        mu2, log_var2 = self.upper(d1).chunk(2, dim=-1)
        q2 = (mu2[:, None], log_var2[:, None])
        z2 = _reparameterise(*q2, n_samples)
        p1 = self.prior_z1(z2)
        q1 = precision_weighted(mu_hat[:, None], log_var_hat[:, None], *p1)
        z1 = q1[0] + torch.exp(0.5 * q1[1]) * torch.randn_like(q1[0])
        return z1, z2, q1, q2, p1

    def loss_parts(self, x, beta=1.0, weights=None):
        z1, z2, q1, q2, p1 = self._draw(x, 1)  # (B, 1, .)
        recon = -self.log_lik(self.decoder(z1), x[:, None])
        if self.inference == "ladder":  # both KL terms in closed form, the z1 one given the sampled z2
            kl = gaussian_kl(*q2) + gaussian_kl(*q1, *p1)
        else:  # q(z1 | x) against p(z1 | z2) with z2 drawn given z1: no closed form, one sample
            kl = gaussian_kl(*q2) + diagonal_normal_log_prob(z1, *q1) - diagonal_normal_log_prob(z1, *p1)
        return mean_parts(recon[:, 0], kl[:, 0], beta, weights)

    def log_weight_terms(self, x, n_samples):
        """log p(x | z1_s) and log p(z1_s, z2_s) - log q(z1_s, z2_s | x), each (B, S), z_s ~ q(z | x)."""
        z1, z2, q1, q2, p1 = self._draw(x, n_samples)
        log_lik = self.log_lik(self.decoder(z1), x[:, None])
        log_prior = -0.5 * (LOG_2PI + z2.pow(2)).sum(-1) + diagonal_normal_log_prob(z1, *p1)
        log_q = diagonal_normal_log_prob(z2, *q2) + diagonal_normal_log_prob(z1, *q1)
        return log_lik, log_prior - log_q

    def log_weights(self, x, n_samples):
        log_lik, log_ratio = self.log_weight_terms(x, n_samples)
        return log_lik + log_ratio

    def embed(self, x):
        """The mean of q(z2 | x), (B, latent_dim); bottom-up: of q(z2 | z1) at z1 = the mean of q(z1 | x)."""
        (mu_hat, _), d1 = self.bottom_up(x)
        return self.upper(d1 if self.inference == "ladder" else mu_hat).chunk(2, dim=-1)[0]

    def z1_mean(self, x):
        """The mean of q(z1 | x), the ladder's at z2 = embed(x), (B, lower_dim): what x is decoded from."""
        (mu_hat, log_var_hat), d1 = self.bottom_up(x)
        if self.inference == "bottom-up":
            return mu_hat
        prior_mu, prior_log_var = self.prior_z1(self.upper(d1).chunk(2, dim=-1)[0])
        return precision_weighted(mu_hat, log_var_hat, prior_mu, prior_log_var)[0]

    def decode_mean(self, z):
        """Expected features at z2 = z (n, latent_dim), through the mean of p(z1 | z2), (n, D)."""
        return self.head_mean(self.decoder(self.prior_z1(z)[0]))

    def reconstruct(self, x):
        """Decoded from the mean of z1 given x, (B, D): z1 holds more of x than its 2-D summary z2 does."""
        return self.head_mean(self.decoder(self.z1_mean(x)))

    def sample(self, n):
        device = next(self.parameters()).device
        mu, log_var = self.prior_z1(torch.randn(n, self.latent_dim, device=device))
        return self.head_sample(self.decoder(mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)))


def _reparameterise(mu, log_var, n_samples):
    """n_samples draws from N(mu, diag exp(log_var)) with mu, log_var (B, 1, Z): (B, S, Z)."""
    eps = torch.randn(mu.shape[0], n_samples, mu.shape[-1], device=mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


def precision_weighted(mu_a, log_var_a, mu_b, log_var_b):
    """The product of two Gaussians, normalised: precisions add, means average by precision
    (Sønderby et al. 2016, eq. 18-19). In log-variances, stable for any scale: (mu, log_var)."""
    log_var = -torch.logaddexp(-log_var_a, -log_var_b)
    weight_a = torch.sigmoid(log_var_b - log_var_a)  # share of a's precision in the sum
    return weight_a * mu_a + (1 - weight_a) * mu_b, log_var
