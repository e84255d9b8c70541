"""The autoencoders, the family's non-probabilistic baselines: AE and its denoising twin DAE."""

import torch
from torch.nn import functional as F

from common.heads import HEADS, make_scaling
from common.models import Model
from common.networks import encoder_decoder, mean_parts


class AE(Model):
    """Deterministic autoencoder: z = f(x), p(x | z) from the decoder, loss = -log p(x | f(x)).

    The non-probabilistic baseline: no prior, so no likelihood of x and no sampling. With
    `corruption` > 0 it is a denoising autoencoder (DAE): during training the encoder sees a
    corrupted copy of x (input dropout, or bit flips for binary data) and must reconstruct the clean x.
    """

    kind = "ae"
    has_likelihood = False
    kl_term = None

    def __init__(
        self,
        n_features,
        latent_dim=2,
        hidden_dim=64,
        likelihood="bernoulli",
        corruption=0.0,
        noise="dropout",
        hidden_layers=2,
        activation="relu",
        normalize_input=False,
        input_dropout=0.0,
    ):
        """The network as the VAE's (Mult-DAE: as Mult-VAE's), with a code in place of q(z | x)."""
        super().__init__()
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.latent_dim, self.corruption, self.noise = latent_dim, corruption, noise
        self.encoder, self.decoder = encoder_decoder(
            n_features, latent_dim, latent_dim, hidden_dim, self.head.params_per_feature,
            hidden_layers, activation, normalize_input, input_dropout,
        )  # fmt: skip

    def corrupt(self, x):
        if not self.training or self.corruption == 0:
            return x
        if self.noise == "flip":  # each bit flips with probability `corruption`
            return torch.where(torch.rand_like(x) < self.corruption, 1 - x, x)
        return F.dropout(x, self.corruption)  # zero a share of inputs, rescale the rest

    def loss_parts(self, x, beta=1.0, weights=None):
        # Corrupt the scaled input: dropout then sets a feature to its training mean, not to 0.
        recon = -self.log_lik(self.decoder(self.encoder(self.corrupt(self.scale(x)))), x)  # (B,)
        return mean_parts(recon, torch.zeros_like(recon), beta, weights)

    def embed(self, x):
        return self.encoder(self.scale(x))

    def decode_mean(self, z):
        return self.head_mean(self.decoder(z))


class DAE(AE):
    kind = "dae"
