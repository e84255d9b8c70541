"""VQ-VAE (van den Oord, Vinyals, Kavukcuoglu 2017) with a learned prior over its codes: a proper density.

The encoder maps x to z_e (Z numbers), which is snapped to the nearest of K codebook vectors e_k, and the
decoder gives p(x | e_k). With a learned categorical prior p(k) the model is a K-component mixture,

    p(x) = sum_k p(k) p(x | e_k),

exact in one pass: the decoder's output at a code does not depend on the row, so K decoder passes
serve every row. Training follows the paper (eq. 3), per row, with k(x) the code nearest z_e(x):

    recon = -log p(x | decoder(z_q)),   z_q = z_e + sg[e_k - z_e]   (straight-through: the value is e_k,
                                                                     the gradient goes to z_e)
    kl    = -log p(k(x))                (the KL of the one-hot q(k | x) to the prior: trains p(k))
    loss  = recon + beta * kl + ||sg[z_e] - e_k||^2 + commitment * ||z_e - sg[e_k]||^2

recon + kl = -log p(x, k(x)) >= -log p(x), so the reported parts are still a bound. The two codebook
terms are added in training mode only: at evaluation the loss is the bound itself. (The paper keeps p(k)
uniform while training and fits an autoregressive prior afterwards; here p(k) is learned with the rest.)
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common.elbo import MAX_ELEMENTS, widest_layer
from common.heads import HEADS, make_scaling
from common.models import Model
from common.networks import encoder_decoder, mean_parts


class VQVAE(Model):
    """K codes e_k in R^Z, a learned prior p(k), an MLP encoder x -> z_e and decoder e_k -> p(x | e_k).

    Defaults, measured on the disease world at the demo's defaults, seeds 0-9 (medians; NLL gap to the
    world's, ARI as a share of the Bayes-optimal's):
    - commitment 0.25, the paper's: 1 won on as many seeds as it lost (gap and ARI, --lr 5e-3 and 1e-3).
    - start_from_rows by k-means++: with it no code died at --lr 5e-3 or 1e-3; without it 1 to 3 of 7
      codes ended under 1% of the rows in 3 of 5 cuisine runs, and its gap fell from 0.87 to 0.68 (ARI
      0.33 to 0.43; random distinct rows: 0.74, 0.41). On the disease world starts differ less than seeds.
    - reseed off: after that start a code died only at --lr 5e-4, and re-seeding it worsened the gap in
      4 runs of 4. Without a start, at --latent-dim 8, 2 of 5 codes die and re-seeding helps (0.38 to 0.29).
    - a row's cluster is argmax p(k | x), not its nearest code: a higher ARI in 121 of 134 runs.
    The learning rate matters most: --lr 5e-3 gives gap 0.40 and ARI 0.35, --lr 1e-3 0.18 and 0.71, and
    with --restarts 3 0.13 and 0.69 (EM's mixture of K Bernoullis: 0.035 and 0.915). Only the encoder moves
    a row to another code, so a single start finds the three classes of an easy world half of the time.
    """

    kind = "vqvae"
    cluster_latent = True
    decode_rule = "each point snapped to its nearest code, then decoded"
    prior_picture = "Encoder outputs z_e(x) and the codebook: each number marks a code e_k"
    recovery_method = "argmax p(k|x) over the codebook"
    kl_term = "-log p(k(x))"  # the KL of the one-hot q(k | x) to the prior
    CODE_LOG_VAR = math.log(1e-4)  # prior()'s spread around each code: figures draw points at the code
    USAGE_DECAY = 0.99  # running share of the rows each code takes, over about the last 100 batches
    DEAD_SHARE = 0.01  # dead: below this part of a fair share 1 / K (0.1 hit small live codes too)

    def __init__(self, n_features, latent_dim=2, hidden_dim=64, likelihood="bernoulli", n_clusters=2,
                 hidden_layers=2, commitment=0.25, reseed=False):  # fmt: skip
        super().__init__()
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.latent_dim, self.n_clusters = latent_dim, n_clusters
        self.commitment, self.reseed = commitment, reseed
        self.encoder, self.decoder = encoder_decoder(
            n_features, latent_dim, latent_dim, hidden_dim, self.head.params_per_feature, hidden_layers
        )
        self.codebook = nn.Parameter(torch.randn(n_clusters, latent_dim))
        self.prior_logits = nn.Parameter(torch.zeros(n_clusters))
        self.register_buffer("usage", torch.full((n_clusters,), 1.0 / n_clusters))

    def embed(self, x):
        """z_e, the encoder's continuous output, (B, Z)."""
        return self.encoder(self.scale(x))

    @torch.no_grad()
    def nearest(self, z):
        """Index of the code nearest each z (..., Z) in Euclidean distance, (...,)."""
        return (z[..., None, :] - self.codebook).pow(2).sum(-1).argmin(-1)

    def prior(self):
        """log p(k) (K,), the codes (K, Z) and a small constant log-variance (K, Z)."""
        log_var = torch.full_like(self.codebook, self.CODE_LOG_VAR)
        return F.log_softmax(self.prior_logits, dim=-1), self.codebook, log_var

    def log_joint(self, x):
        """log p(k) + log p(x | e_k) for every code, (B, K); rows in chunks of the evaluation budget."""
        out = self.decoder(self.codebook)  # (K, D * P): the K decoder passes, shared by every row
        log_p_k, rows = self.prior()[0], max(1, MAX_ELEMENTS // widest_layer(self))
        return torch.cat([log_p_k + self.log_lik(out, x[i : i + rows, None]) for i in range(0, len(x), rows)])

    def log_px(self, x):
        """Exact log p(x) = log sum_k p(k) p(x | e_k), (B,)."""
        return torch.logsumexp(self.log_joint(x), dim=-1)

    def log_weights(self, x, n_samples):
        """The exact log p(x) repeated, (B, S): the importance-sampled NLL is exact, its error 0."""
        return self.log_px(x)[:, None].expand(-1, n_samples)

    def cluster_probs(self, x, n_samples=None):
        """The exact posterior p(k | x) = p(k) p(x | e_k) / p(x), (B, K); n_samples is not needed."""
        return torch.softmax(self.log_joint(x), dim=-1)

    def loss_parts(self, x, beta=1.0, weights=None):
        """{"loss", "recon", "kl"} as mean_parts' (`weights`: rows a row stands for), in training mode also
        "penalty", the codebook and commitment terms, which training adds to "loss" (common/train.py): the
        loss it records stays the bound."""
        z_e = self.embed(x)  # (B, Z)
        k = self.nearest(z_e)  # (B,)
        e_k = self.codebook[k]
        z_q = z_e + (e_k - z_e).detach()  # straight-through: the decoder sees e_k, z_e gets its gradient
        recon = -self.log_lik(self.decoder(z_q), x)  # (B,)
        kl = -self.prior()[0][k]
        parts = mean_parts(recon, kl, beta, weights)
        if self.training:  # the codebook learns only from this term, the encoder commits to its code
            vq = (z_e.detach() - e_k).pow(2).sum(-1) + self.commitment * (z_e - e_k.detach()).pow(2).sum(-1)
            share = torch.full_like(vq, 1 / len(vq)) if weights is None else weights / weights.sum()
            parts["penalty"] = (share * vq).sum()
            self.track_usage(k, share, z_e, recon)
        return parts

    @torch.no_grad()
    def track_usage(self, k, share, z_e, recon):
        """A running share of the rows per code (K,). With `reseed`, a code whose share fell below
        DEAD_SHARE / K (a dead code, the VQ-VAE's known failure) moves to the z_e of one of the batch's
        worst reconstructed rows (as k-means++ favours far points). No random numbers: a run in which no
        code dies is the same run as without re-seeding."""
        batch = torch.zeros_like(self.usage).index_add_(0, k, share)
        self.usage.mul_(self.USAGE_DECAY).add_((1 - self.USAGE_DECAY) * batch)
        if self.reseed:  # torch.where, not indexing by the dead codes: no wait for the device
            dead = self.usage < self.DEAD_SHARE / self.n_clusters  # (K,)
            worst = recon.topk(min(self.n_clusters, len(recon))).indices
            rows = z_e[worst.repeat(self.n_clusters)[: self.n_clusters]]  # (K, Z): code i, i-th worst row
            self.codebook.copy_(torch.where(dead[:, None], rows, self.codebook))
            self.usage.copy_(torch.where(dead, 1.0 / self.n_clusters, self.usage))

    @torch.no_grad()
    def start_from_rows(self, rows, method="kmeans++"):
        """Data-dependent start against dead codes: the codebook becomes the encoder outputs of K distinct
        training rows (n, D), chosen by k-means++ (Arthur and Vassilvitskii 2007; sklearn) weighted by how
        often each row occurs, or at random (method="random"). Random numbers come from torch's generator;
        at most MAX_FIT_ROWS rows are looked at."""
        from common.evaluate import MAX_FIT_ROWS

        rows = rows[torch.randperm(len(rows), device=rows.device)[:MAX_FIT_ROWS]]
        unique, counts = torch.unique(rows, dim=0, return_counts=True)
        z, seed = self.embed(unique), int(torch.randint(2**31 - 1, ()))
        if method == "random" or len(unique) <= self.n_clusters:  # repeats only when too few are distinct
            pick = torch.randperm(len(unique))[: self.n_clusters]
            pick = torch.cat([pick, torch.randint(len(unique), (self.n_clusters - len(pick),))])
        else:
            from sklearn.cluster import kmeans_plusplus

            z_np, weight = z.cpu().double().numpy(), counts.cpu().numpy()
            pick = kmeans_plusplus(z_np, self.n_clusters, sample_weight=weight, random_state=seed)[1]
        self.codebook.copy_(z[torch.as_tensor(np.asarray(pick), device=z.device)])
        return self

    def reconstruct(self, x):
        """Expected features of the row's most probable code, argmax p(k | x), (B, D)."""
        return self.decode_mean(None, self.cluster_probs(x).argmax(-1))

    def decode(self, z, clusters=None):
        """Decoder output of code `clusters` (n,), or of the code nearest each z (..., Z)."""
        return self.decoder(self.codebook[self.nearest(z) if clusters is None else clusters])

    def decode_mean(self, z, clusters=None):
        """Expected features of code `clusters` (n,), or of the code nearest each z (..., Z): every z is
        snapped to its code, so z itself adds nothing."""
        return self.head_mean(self.decode(z, clusters))

    def sample(self, n, clusters=None):
        """n rows (n, D): k ~ p(k) (or the given clusters (n,)), x ~ p(x | e_k)."""
        if clusters is None:
            clusters = torch.multinomial(self.prior()[0].exp(), n, replacement=True)
        return self.head_sample(self.decoder(self.codebook[clusters]))
