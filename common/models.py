"""The model family's core: VAE (with its priors and flow posteriors), mixture-prior VAE (GMVAE) and
conditional VAE (CVAE). The other members have their own modules (common/model_table.py lists them all):
the hierarchical VAE (common/hvae.py), the VQ-VAE (common/vqvae.py), the AE and DAE
(common/autoencoders.py). The likelihood heads, which score a row given the decoder's output, are in
common/heads.py.

Every model answers the same questions, so training, evaluation and plots never ask which it is
(Model lists what each can say about itself; common/model_table.py lists the family):
- loss_parts(x, beta)   -> {"loss", "recon", "kl"}: batch means, loss = recon + beta * kl
- embed(x)              -> (B, Z) a deterministic latent code (the posterior mean)
- decode_mean(z)        -> (B, D) expected features given z
- reconstruct(x)        -> (B, D) expected features of x encoded and decoded
Latent variable models (has_likelihood = True) also give
- log_weights(x, S)     -> (B, S) log p(x, z_s) - log q(z_s | x), for importance sampling
- sample(n)             -> (n, D) new rows from the model
and the GMVAE, whose latent includes the discrete cause, gives cluster_probs(x) = q(y | x); the CVAE is
a GMVAE whose y is known while training.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from common.elbo import (
    LOG_2PI,
    MAX_ELEMENTS,
    diagonal_normal_log_prob,
    gaussian_kl,
    iw_loss_parts,
    widest_layer,
)
from common.flows import Flow
from common.heads import HEADS, ObservedUnits, make_scaling
from common.networks import encoder_decoder, mean_parts, mlp, row_mean
from common.priors import StandardNormal, VampPrior


class Model(ObservedUnits, nn.Module):
    """What every model of the family can say about itself: the pipeline asks these, never its name.
    The defaults are a plain VAE's."""

    has_likelihood = True  # log_weights(x, S) and sample(n): a density to score and to draw from
    cluster_latent = False  # a discrete latent y: cluster_probs(x) = q(y | x) over n_clusters clusters
    n_clusters = None
    trained_with_labels = False  # learns from rows' classes (with_labels): its clusters are the classes
    decodes_z_alone = True  # decode_mean(z) needs no class (False: p(z | y) is the same for every y)
    starts_from_mixture = False  # warm-started from the classical mixture (common/fitting.py)
    recovery_method = None  # how a row's cluster is read off the model; None: a Gaussian mixture on its codes
    kl_term = "KL(q(z|x) || p(z))"  # its KL term, for training.png; None: no KL (an autoencoder)
    decode_rule = None  # how decode_mean(z) picks a discrete latent, for decoded.png; None: it has none
    prior_picture = None  # clusters.png's title: what the cluster latent's prior looks like in z
    train_samples = 1  # --iw-train: K > 1 trains on the K-sample importance-weighted bound

    def objective(self, x, beta=1.0, weights=None):
        """What training minimises: the ELBO's loss_parts, or with train_samples K > 1 the IWAE bound."""
        if self.train_samples == 1:
            return self.loss_parts(x, beta=beta, weights=weights)
        return iw_loss_parts(self, x, self.train_samples, beta, weights)

    def start_from_rows(self, rows):
        """Called once before training with the training rows (after scale.fit): a data-dependent start
        for models that have one (the VampPrior's pseudo-inputs, the VQ-VAE's codebook)."""


class VAE(Model):
    """Gaussian latent z ~ p(z), MLP encoder to q(z|x) = N(mu, diag sigma^2), MLP decoder to p(x|z).

    p(z) is N(0, I) or, with prior="vamp", the VampPrior (common/priors.py); with flow="iaf" or
    "planar", q(z|x) is N(mu, diag sigma^2) pushed through `flow_steps` steps of a flow
    (common/flows.py). With either, the KL term is the Monte Carlo log q(z|x) - log p(z) at the sample;
    the plain VAE keeps its closed form."""

    kind = "vae"

    def __init__(
        self,
        n_features,
        latent_dim=2,
        hidden_dim=64,
        likelihood="bernoulli",
        hidden_layers=2,
        activation="relu",
        normalize_input=False,
        input_dropout=0.0,
        prior="normal",
        pseudo_inputs=50,
        flow=None,
        flow_steps=2,
    ):
        """Mult-VAE (Liang et al. 2018) is hidden_layers=1, activation="tanh", normalize_input=True and
        input_dropout=0.5: one tanh layer, rows scaled to unit length, half of each row's items dropped."""
        super().__init__()
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.latent_dim = latent_dim
        self.encoder, self.decoder = encoder_decoder(
            n_features, 2 * latent_dim, latent_dim, hidden_dim, self.head.params_per_feature,
            hidden_layers, activation, normalize_input, input_dropout,
        )  # fmt: skip
        vamp = prior == "vamp"
        self.prior = VampPrior(latent_dim, n_features, pseudo_inputs) if vamp else StandardNormal(latent_dim)
        self.flow = None if flow is None else Flow(flow, flow_steps, latent_dim, hidden_dim, hidden_dim)
        if self.flow is not None or vamp:
            self.kl_term = "log q(z|x) - log p(z), one sample"

    def encode(self, x):
        mu, log_var = self.encode_scaled(self.scale(x))
        return mu, log_var

    def encode_scaled(self, scaled):
        """q(z|.)'s base Gaussian from rows as the encoder sees them: (mu, log_var), each (B, Z)."""
        return self.encoder(scaled).chunk(2, dim=-1)

    def posterior_sample(self, x, n_samples):
        """z_s ~ q(z|x) and log q(z_s|x), (B, S, Z) and (B, S): the base Gaussian's draw, through the flow
        if there is one, whose log-determinant lowers the density: log q(z_K) = log q(z_0) - sum log|det|."""
        h = self.encoder[:-1](self.scale(x))  # the encoder's last hidden layer: the flow's context
        mu, log_var = self.encoder[-1](h).chunk(2, dim=-1)
        eps = torch.randn(x.shape[0], n_samples, self.latent_dim, device=x.device)  # (B, S, Z)
        z = mu[:, None] + torch.exp(0.5 * log_var)[:, None] * eps
        log_q = -0.5 * (LOG_2PI + log_var[:, None] + eps.pow(2)).sum(-1)  # log q(z|x), (B, S)
        if self.flow is not None:
            z, log_det = self.flow(z, h[:, None])
            log_q = log_q - log_det
        return z, log_q

    def prior_log_prob(self, z):
        """log p(z), (...,) for z (..., Z)."""
        return self.prior.log_prob(z, self.encode_scaled)

    def loss_parts(self, x, beta=1.0, weights=None):
        if self.flow is None and self.prior.kind == "normal":  # the closed form
            mu, log_var = self.encode(x)
            z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # reparameterisation trick
            kl = gaussian_kl(mu, log_var)  # (B,)
        else:
            z, log_q = self.posterior_sample(x, 1)
            z, kl = z[:, 0], (log_q - self.prior_log_prob(z))[:, 0]
        recon = -self.log_lik(self.decoder(z), x)  # (B,)
        return mean_parts(recon, kl, beta, weights)

    def log_weight_terms(self, x, n_samples):
        """log p(x | z_s) and log p(z_s) - log q(z_s | x) for z_s ~ q(z | x), each (B, S)."""
        z, log_q = self.posterior_sample(x, n_samples)
        return self.log_lik(self.decoder(z), x[:, None]), self.prior_log_prob(z) - log_q

    def log_weights(self, x, n_samples):
        log_lik, log_ratio = self.log_weight_terms(x, n_samples)
        return log_lik + log_ratio

    def start_from_rows(self, rows):
        if self.prior.kind == "vamp":
            self.prior.start_from_rows(self.scale(rows))

    def embed(self, x):
        """The posterior's mean; with a flow, the flow applied to its base Gaussian's mean."""
        if self.flow is None:
            return self.encode(x)[0]
        h = self.encoder[:-1](self.scale(x))
        return self.flow(self.encoder[-1](h).chunk(2, dim=-1)[0], h)[0]

    def decode_mean(self, z):
        return self.head_mean(self.decoder(z))

    def sample(self, n):
        device = next(self.parameters()).device
        return self.head_sample(self.decoder(self.prior.sample(n, self.encode_scaled, device)))


class GMVAE(Model):
    """VAE with a discrete latent y and a Gaussian-mixture prior on z (a "GMVAE"):

        p(y) = Categorical(softmax(prior_logits)),  p(z | y) = N(m_y, diag s_y^2),  p(x | y, z) decoder
        q(z | x, y) = N(mu_y(x), diag sigma_y(x)^2),  q(y | x) = posterior responsibilities (below)

    For each row and each of the K values of y, one importance weight
        w_y = p(x | y, z_y) p(z_y | y) / q(z_y | x, y),   z_y ~ q(z | x, y)
    gives the bound log sum_y p(y) w_y <= log p(x) (in expectation), summed over y exactly: no
    sampling of y, no REINFORCE. Its optimal q(y | x) is r_y = p(y) w_y / sum_y' p(y') w_y', the
    responsibilities of an EM step, so the bound splits exactly into named parts:
        recon = -sum_y r_y log p(x | y, z_y)
        kl    =  sum_y r_y [log q(z_y | x, y) - log p(z_y | y)] + KL(r || p(y))
    The recovered cluster of a row is argmax q(y | x), estimated with more samples at evaluation.
    """

    kind = "gmvae"
    cluster_latent = True
    decode_rule = "each point decoded by the cluster whose prior p(z | y) is highest there"
    prior_picture = (
        "Latent space with the learned prior p(z | y): numbered ellipses at 1 sd (solid) and 2 sd (dotted)"
    )
    starts_from_mixture = True
    recovery_method = "argmax q(y|x)"
    kl_term = "KL(q(z, y|x) || p(z, y))"

    def __init__(
        self,
        n_features,
        latent_dim=2,
        hidden_dim=64,
        likelihood="bernoulli",
        n_clusters=2,
        hidden_layers=2,
        classification_weight=None,
    ):
        super().__init__()
        self.head = HEADS[likelihood]()
        self.scale = make_scaling(likelihood, n_features)
        self.n_features, self.latent_dim, self.n_clusters = n_features, latent_dim, n_clusters
        # --labels (M2): the weight of -log q(y | x) on each labelled row; its clusters are the classes
        self.classification_weight = classification_weight
        self.trained_with_labels = classification_weight is not None
        if self.trained_with_labels:
            self.recovery_method = "argmax q(y|x), trained with --labels (M2)"
        # q(z | x, y): a trunk on x, then one hidden layer on [h(x), onehot(y)], written as W h + V[y]
        # so that all K values of y cost one matrix product. hidden_layers counts the trunk and that layer.
        self.encoder = mlp([n_features] + [hidden_dim] * (hidden_layers - 1))
        self.posterior_from_x = nn.Linear(hidden_dim if hidden_layers > 1 else n_features, hidden_dim)
        self.posterior_from_y = nn.Parameter(torch.zeros(n_clusters, hidden_dim))
        self.posterior_out = nn.Linear(hidden_dim, 2 * latent_dim)
        self.prior_logits = nn.Parameter(torch.zeros(n_clusters))
        # Spread the component means so that no two start on top of each other.
        self.prior_mu = nn.Parameter(2.0 * torch.randn(n_clusters, latent_dim))
        self.prior_log_var = nn.Parameter(torch.zeros(n_clusters, latent_dim))
        # p(x | y, z): first layer on [z, onehot(y)] = W z + U[y], then as the VAE's decoder.
        self.decoder_from_z = nn.Linear(latent_dim, hidden_dim)
        self.decoder_from_y = nn.Parameter(torch.zeros(n_clusters, hidden_dim))
        self.decoder_rest = nn.Sequential(
            nn.ReLU(),
            mlp([hidden_dim] * hidden_layers),
            nn.Linear(hidden_dim, n_features * self.head.params_per_feature),
        )

    def encode(self, x):
        """q(z | x, y) for every y: mu, log_var, each (B, K, Z)."""
        h = self.posterior_from_x(self.encoder(self.scale(x)))  # (B, H)
        hidden = F.relu(h[:, None] + self.posterior_from_y)  # (B, K, H)
        return self.posterior_out(hidden).chunk(2, dim=-1)

    def decode(self, z, clusters=None):
        """Decoder output for z (..., K, Z) with y = 0..K-1 along the K axis, or for z (n, Z) and y (n,)."""
        y_part = self.decoder_from_y if clusters is None else self.decoder_from_y[clusters]
        return self.decoder_rest(self.decoder_from_z(z) + y_part)

    def prior(self):
        return F.log_softmax(self.prior_logits, dim=-1), self.prior_mu, self.prior_log_var

    def prior_log_joint(self, z):
        """log p(y) + log p(z | y) for z (n, Z) and every y, (n, K)."""
        log_p_y, prior_mu, prior_log_var = self.prior()
        return log_p_y + diagonal_normal_log_prob(z[:, None], prior_mu, prior_log_var)

    def prior_log_prob(self, z):
        """log p(z) = log sum_y p(y) N(z | m_y, diag s_y^2), the mixture prior's density, (n,)."""
        return torch.logsumexp(self.prior_log_joint(z), dim=-1)

    def _log_weight_parts(self, x, n_samples):
        """log p(y) (K,); for S samples per (row, y): log p(x|y,z), log p(z|y), log q(z|x,y), (B, S, K)."""
        mu, log_var = self.encode(x)
        log_p_y, prior_mu, prior_log_var = self.prior()
        eps = torch.randn(x.shape[0], n_samples, self.n_clusters, self.latent_dim, device=x.device)
        z = mu[:, None] + torch.exp(0.5 * log_var)[:, None] * eps  # (B, S, K, Z)
        log_q = -0.5 * (LOG_2PI + log_var[:, None] + eps.pow(2)).sum(-1)
        log_prior = diagonal_normal_log_prob(z, prior_mu, prior_log_var)
        log_lik = self.log_lik(self.decode(z), x[:, None, None])
        return log_p_y, log_lik, log_prior, log_q

    def loss_parts(self, x, beta=1.0, responsibilities=None, weights=None):
        """The bound above, for rows (B, D), or (B, D + K) with their class one-hot (with_labels): a labelled
        row's y is observed, so its bound is on log p(x, y); a row of K zeros has none and y is summed out.
        With a classification_weight, this is M2's objective (Kingma et al. 2014, eq. 9): "penalty" adds
        that weight times -log q(y | x) of each labelled row, the only term through which the labels teach
        q(y | x). `responsibilities` (B, K), when given, hold q(y | x) fixed (the warm start).
        `weights`: as mean_parts'."""
        x, known = x[:, : self.n_features], x[:, self.n_features :]
        log_p_y, log_lik, log_prior, log_q = self._log_weight_parts(x, 1)
        log_lik, log_prior, log_q = log_lik[:, 0], log_prior[:, 0], log_q[:, 0]  # one sample: (B, K)
        log_joint = log_p_y + log_lik + log_prior - log_q  # log p(x, y, z_y) - log q(z_y | x, y), (B, K)
        r = torch.softmax(log_joint, dim=-1) if responsibilities is None else responsibilities  # q(y | x)
        if known.shape[1]:
            r = torch.where(known.sum(-1, keepdim=True) > 0, known, r)
        recon = -(r * log_lik).sum(-1)
        kl = (r * (log_q - log_prior)).sum(-1) + (r * (torch.log(r.clamp_min(1e-30)) - log_p_y)).sum(-1)
        parts = mean_parts(recon, kl, beta, weights)
        if self.classification_weight and known.shape[1]:
            cross_entropy = -(known * torch.log_softmax(log_joint, dim=-1)).sum(-1)  # 0 if unlabelled
            parts["penalty"] = self.classification_weight * row_mean(cross_entropy, weights)
        return parts

    def log_weight_terms(self, x, n_samples):
        """log p(x | y, z_ys) and log p(y) + log p(z_ys | y) - log q(z_ys | x, y), each (B, S, K)."""
        log_p_y, log_lik, log_prior, log_q = self._log_weight_parts(x, n_samples)
        return log_lik, log_p_y + log_prior - log_q

    def log_weights(self, x, n_samples):
        """(B, S): log sum_y p(y) w_ys, exact over y, one z_ys ~ q(z | x, y) per y and sample s."""
        log_p_y, log_lik, log_prior, log_q = self._log_weight_parts(x, n_samples)
        return torch.logsumexp(log_p_y + log_lik + log_prior - log_q, dim=-1)

    def cluster_probs(self, x, n_samples=64, max_elements=MAX_ELEMENTS):
        """q(y | x) proportional to p(y) * (1/S) sum_s w_ys: the model's posterior over clusters, (B, K).
        Rows go through in chunks, as in importance_weighted: a movie batch of 1024 users would
        otherwise hold 0.5 GB tensors."""
        rows = max(1, max_elements // (n_samples * widest_layer(self)))
        return torch.cat([self._cluster_probs(x[i : i + rows], n_samples) for i in range(0, len(x), rows)])

    def _cluster_probs(self, x, n_samples):
        log_p_y, log_lik, log_prior, log_q = self._log_weight_parts(x, n_samples)
        log_px_given_y = torch.logsumexp(log_lik + log_prior - log_q, dim=1) - math.log(n_samples)
        return torch.softmax(log_p_y + log_px_given_y, dim=-1)

    def embed(self, x, n_samples=8):
        """E_q[z | x] = sum_y q(y | x) mu_y(x), (B, Z). A point for figures and decoding: q(y | x) from 8
        samples, enough for a point and much cheaper than the recovered cluster's 64 (docs/speed.md)."""
        mu, _ = self.encode(x)
        return (self.cluster_probs(x, n_samples)[..., None] * mu).sum(1)

    def reconstruct(self, x):
        """Decoded with the row's own cluster argmax q(y | x) and its mean mu_y(x), (B, D): decoding
        E_q[z | x] under the cluster whose prior is highest there can pick another cluster's decoder."""
        clusters = self.cluster_probs(x, 16).argmax(-1)  # (B,)
        mu = self.encode(x)[0][torch.arange(x.shape[0], device=x.device), clusters]  # (B, Z)
        return self.decode_mean(mu, clusters)

    def mixed_reconstruct(self, x, n_samples=16):
        """sum_y q(y | x) E[x | y, z = mu_y(x)]: every cluster's decoding of the row's mean code under
        it, averaged by q(y | x), (B, D). A user unsure between two tastes gets items of both: it ranks
        better than the most likely cluster alone (docs/movielens.md)."""
        mu, _ = self.encode(x)  # (B, K, Z)
        return (self.cluster_probs(x, n_samples)[..., None] * self.head_mean(self.decode(mu))).sum(1)

    def decode_mean(self, z, clusters=None):
        """Expected features at z (n, Z) for cluster `clusters` (n,), or, by default, under q(y | z)."""
        if clusters is None:  # the cluster whose prior component explains z best
            clusters = self.prior_log_joint(z).argmax(-1)
        return self.head_mean(self.decode(z, clusters))

    def sample(self, n, clusters=None):
        """n rows from the model; `clusters` (n,) fixes y instead of drawing it from p(y)."""
        log_p_y, prior_mu, prior_log_var = self.prior()
        if clusters is None:
            clusters = torch.multinomial(log_p_y.exp(), n, replacement=True)
        z = prior_mu[clusters] + torch.exp(0.5 * prior_log_var[clusters]) * torch.randn_like(
            prior_mu[clusters]
        )
        return self.head_sample(self.decode(z, clusters))


class CVAE(GMVAE):
    """Conditional VAE: p(x | y, z) with y the known class (one-hot, seen by encoder and decoder) and
    p(z | y) = N(0, I), so z holds only what y does not say (in the cuisine: richness and style).

    It is the GMVAE's architecture with y observed while training and p(z | y) fixed, which also makes
    it a full model of x: p(y) is learned from the label shares, and for rows without a label
    everything is the GMVAE's (log p(x) summed over y, q(y | x) = p(y | x) by Bayes' rule, sampling).
    Rows for training carry their label: the D features, then K one-hot columns (with_labels); the
    loss is then the bound on log p(x, y): recon + KL(q(z | x, y) || N(0, I)) + (-log p(y)) as kl.
    """

    kind = "cvae"
    trained_with_labels = True
    decodes_z_alone = False
    starts_from_mixture = False
    recovery_method = "argmax p(y|x), trained with labels"
    kl_term = "KL(q(z|x, y) || p(z|y))"

    def __init__(
        self, n_features, latent_dim=2, hidden_dim=64, likelihood="bernoulli", n_clusters=2, hidden_layers=2
    ):
        super().__init__(n_features, latent_dim, hidden_dim, likelihood, n_clusters, hidden_layers)
        self.trained_with_labels = True  # every training row has its class, and no classification term
        del self.prior_mu, self.prior_log_var  # fixed at N(0, I): buffers, so no gradient moves them
        self.register_buffer("prior_mu", torch.zeros(n_clusters, latent_dim))
        self.register_buffer("prior_log_var", torch.zeros(n_clusters, latent_dim))


def with_labels(x, labels, n_classes, known=None):
    """Rows for a model trained with labels: features (n, D) then one-hot labels, (n, D + K); the rows
    where the mask `known` (n,) is False get K zeros (no label: y is summed out)."""
    one_hot = F.one_hot(labels.clamp_min(0), n_classes).to(x.dtype)
    if known is not None:
        one_hot = one_hot * known[:, None].to(x.dtype)
    return torch.cat([x, one_hot], dim=1)
