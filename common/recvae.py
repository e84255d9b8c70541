"""RecVAE (Shenbin, Alekseev, Tutubalina, Malykh, Nikolenko 2020): Mult-VAE with a composite prior, a KL
weight that grows with the user's history, alternating updates and a denser encoder.

    encoder   x / |x| -> dropout -> 5 dense layers (each: swish, then layer norm, its input the sum of all
              earlier layers' outputs) -> q(z | x) = N(mu, diag sigma^2)
    decoder   one linear layer z -> item logits; p(x | z) = Multinomial(softmax(logits))
    prior     p(z | x) = 3/20 N(0, I) + 3/4 q_old(z | x) + 1/10 N(0, e^10 I), q_old the encoder as it was
              after the last encoder phase: the posterior cannot run far from where it was
    loss      -log p(x | z) + gamma |x| [log q(z | x) - log p(z | x)] at one sample z, |x| the user's likes
    training  each epoch: --encoder-epochs passes updating the encoder only (input dropout on), the prior's
              copy of the encoder refreshed, one pass updating the decoder only (no dropout)

As the reference code (github.com/ilya-shenbin/RecVAE, model.py and run.py), which this follows line for
line but for what the project's loop does for every model: minibatches sliced from the in-memory rows and
a cosine learning-rate decay. Its defaults on MovieLens 100K are measured in docs/movielens.md.
"""

import copy
import math
import time

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from common.elbo import LOG_2PI
from common.heads import HEADS, make_scaling
from common.models import Model
from common.networks import row_mean

LOG_MIXTURE = torch.log(torch.tensor([3 / 20, 3 / 4, 1 / 10]))  # the prior's weights: standard, old, wide
WIDE_LOG_VAR = 10.0  # the wide component's log-variance


def normal_log_prob(z, mu, log_var):
    """log N(z | mu, diag e^log_var), summed over the last axis."""
    return -0.5 * (LOG_2PI + log_var + (z - mu).pow(2) / log_var.exp()).sum(-1)


class DenseEncoder(nn.Module):
    """x -> (mu, log_var): `layers` dense layers of `hidden_dim`, each fed the sum of every earlier one's
    output, swish then layer norm (eps 0.1, as the reference)."""

    def __init__(self, n_items, hidden_dim, latent_dim, layers):
        super().__init__()
        self.linears = nn.ModuleList(
            [nn.Linear(n_items if i == 0 else hidden_dim, hidden_dim) for i in range(layers)]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(hidden_dim, eps=0.1) for _ in range(layers)])
        self.out = nn.Linear(hidden_dim, 2 * latent_dim)

    def forward(self, x, dropout):
        x = F.normalize(x, dim=-1)  # unit-length rows, as Mult-VAE
        h = F.dropout(x, p=dropout, training=self.training)
        total = 0.0  # the sum of every earlier layer's output
        for linear, norm in zip(self.linears, self.norms, strict=True):
            h = norm(F.silu(linear(h) + total))  # silu is swish
            total = total + h
        return self.out(h).chunk(2, dim=-1)


class RecVAE(Model):
    """RecVAE for implicit feedback (rows: a user's likes over the items, 0/1 or counts)."""

    kind = "recvae"
    has_likelihood = False  # the prior depends on x: no log p(x) to report, only rankings
    kl_term = "log q(z|x) - log p(z|x), the composite prior"  # weighted by gamma |x| in the loss
    kl_weight_name = "gamma x likes"  # what training.png's legend calls the weight; history's beta is gamma
    alternating = True  # trained by fit_alternating, not common.train.fit

    def __init__(
        self,
        n_features,
        latent_dim=200,
        hidden_dim=600,
        likelihood="multinomial",
        hidden_layers=5,
        input_dropout=0.5,
        gamma=0.005,
        encoder_epochs=3,
    ):
        super().__init__()
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.latent_dim, self.gamma, self.encoder_epochs = latent_dim, gamma, encoder_epochs
        self.input_dropout = input_dropout
        self.dropout = input_dropout  # this phase's: the encoder phase's, or 0 in the decoder phase
        self.encoder = DenseEncoder(n_features, hidden_dim, latent_dim, hidden_layers)
        self.old_encoder = copy.deepcopy(self.encoder).requires_grad_(False)  # the prior's q_old(z | x)
        self.decoder = nn.Linear(latent_dim, n_features)

    def encode(self, x):
        return self.encoder(x, self.dropout if self.training else 0.0)

    def prior_log_prob(self, z, x):
        """log p(z | x) of the composite prior, (B,)."""
        with torch.no_grad():
            old_mu, old_log_var = self.old_encoder(x, 0.0)
        zeros = torch.zeros_like(z)
        parts = [
            normal_log_prob(z, zeros, zeros),
            normal_log_prob(z, old_mu, old_log_var),
            normal_log_prob(z, zeros, torch.full_like(z, WIDE_LOG_VAR)),
        ]
        return torch.logsumexp(torch.stack(parts, -1) + LOG_MIXTURE.to(z), dim=-1)

    def loss_parts(self, x, beta=1.0, weights=None):
        """loss = recon + gamma |x| kl, recon = -log p(x | z) and kl = log q(z | x) - log p(z | x) at one
        z ~ q(z | x); beta is not used: the KL weight is each user's own, gamma times their likes."""
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        kl = normal_log_prob(z, mu, log_var) - self.prior_log_prob(z, x)
        recon = -self.log_lik(self.decoder(z), x)
        return {
            "loss": row_mean(recon + self.gamma * x.sum(-1) * kl, weights),
            "recon": row_mean(recon, weights),
            "kl": row_mean(kl, weights),
        }

    def update_prior(self):
        """The prior's copy of the encoder becomes the encoder as it is now."""
        self.old_encoder.load_state_dict(self.encoder.state_dict())

    def embed(self, x):
        return self.encode(x)[0]

    def decode_mean(self, z):
        return self.head_mean(self.decoder(z))


# ---- Training: alternating phases ------------------------------------------------------------------------


def phase(model, part):
    """Set the model up to train `part` ("encoder" or "decoder") only: only its parameters take gradients,
    and input dropout is on in the encoder phase only."""
    model.encoder.requires_grad_(part == "encoder")
    model.decoder.requires_grad_(part == "decoder")
    model.dropout = model.input_dropout if part == "encoder" else 0.0


def fit_alternating(model, x_train, *, epochs, batch_size, lr, quiet=False, stop=None, on_epoch=None):
    """Train a RecVAE in place, as common.train.fit trains the others; returns (history, None). An epoch is
    model.encoder_epochs passes of encoder updates, the prior refreshed, then one pass of decoder updates;
    its history row holds the last encoder pass's loss parts (with input dropout), and gamma as its
    "beta". Raises common.train's Interrupted and Diverged."""
    from common.speed.optim import Adam
    from common.train import PARTS, Diverged, Interrupted, cosine_lr, train_epoch

    optimizers = {
        "encoder": Adam(model.encoder.parameters(), lr),
        "decoder": Adam(model.decoder.parameters(), lr),
    }
    history, updates, n = [], 0, x_train.shape[0]
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=True if quiet else None)
    for epoch in bar:
        start = time.perf_counter()
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for part, passes in (("encoder", model.encoder_epochs), ("decoder", 1)):
            phase(model, part)
            optimizers[part].lr = cosine_lr(epoch, epochs, lr)
            for _ in range(passes):
                sums, updates, _ = train_epoch(
                    model, optimizers[part], x_train, batch_size, None, updates, lambda u: 1.0, stop
                )
                if sums is None:  # a stop was requested
                    model.load_state_dict(last_good)
                    raise Interrupted(epoch - 1, history, model, None)
            if part == "encoder":
                # The row's parts: the last encoder pass's. In the decoder pass the prior's copy is the
                # encoder itself, so its KL is about -log(3/4) whatever the model: nothing to watch.
                parts = sums
                model.update_prior()
        row = {"epoch": epoch, **dict(zip(PARTS, (parts / n).tolist(), strict=True)), "beta": model.gamma}
        if not all(math.isfinite(row[k]) for k in PARTS):
            model.load_state_dict(last_good)
            raise Diverged(epoch, history, model)
        row["lr"] = optimizers["decoder"].lr
        if on_epoch is not None:
            row.update(on_epoch(model))
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}")
    model.requires_grad_(True)  # as a model comes out of common.train.fit, but for the prior's copy
    model.old_encoder.requires_grad_(False)
    return history, None
