"""A mixture-prior model's start: the classical mixture's clusters, before the ELBO refines them.

Trained from a random start, two components of a mixture prior can merge early or one can stay empty;
started at the classical mixture fitted by EM on the same rows (common/baselines.py), every cluster
begins where the mixture put it (docs/models.md).
"""

import math

import torch

from common.speed.rows import repeated_binary_rows
from common.train import adam, batch_rows


def warm_start(
    model,
    weights,
    means,
    *,
    steps=100,
    batch_size=256,
    lr=3e-3,
    rows=None,
    responsibilities=None,
    epochs=10,
    max_held_steps=320,
    kl_warmup=False,
    distinct_rows=False,
):
    """Start a GMVAE at a fitted mixture: weights (K,), mean profiles (K, D), and with training `rows`
    (n, D; a tensor or a scipy.sparse matrix) its `responsibilities` (n, K).

    p(y) is set to the mixture's weights and, for `steps` updates, the decoder is taught to map
    z ~ p(z | y) to component y's mean profile, so that the first q(y | x) are close to the mixture's.
    Then the model trains for `epochs` (at most `max_held_steps` updates) with q(y | x) held at the
    responsibilities: encoder and decoder learn each component's shape before q(y | x) is set free.
    kl_warmup raises the KL weight from 0 to 1 over the first half of those updates and skips the first
    stage (which rewards a decoder that ignores z): with the clusters given, a decoder otherwise explains
    every row by its cluster before the encoder says anything, and z stays unused (docs/movie.md).
    distinct_rows: as common.train.fit's, when equal rows have equal responsibilities.
    """
    device = model.prior_logits.device
    with torch.no_grad():
        model.prior_logits.copy_(torch.log(torch.as_tensor(weights, dtype=torch.float32, device=device)))
    optimizer = adam(model, lr)
    if not kl_warmup:
        decode_to_means(model, optimizer, means, steps, batch_size)
    if rows is not None:
        n_updates = min(max_held_steps, epochs * math.ceil(rows.shape[0] / batch_size))
        train_held(model, optimizer, rows, responsibilities, n_updates, batch_size, kl_warmup, distinct_rows)


def decode_to_means(model, optimizer, means, steps, batch_size):
    """Teach the decoder to map z ~ p(z | y) to component y's mean profile, (K, D)."""
    device = model.prior_logits.device
    targets = model.scale(torch.as_tensor(means, dtype=torch.float32, device=device))  # (K, D), as decoded
    for _ in range(steps):
        _, prior_mu, prior_log_var = model.prior()
        z = prior_mu + torch.exp(0.5 * prior_log_var) * torch.randn(
            batch_size, *prior_mu.shape, device=device
        )
        decoded = model.head.mean(model.decode(z))  # (B, K, D)
        loss = (decoded - targets).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def train_held(model, optimizer, rows, responsibilities, n_updates, batch_size, kl_warmup, distinct_rows):
    """n_updates of the ELBO with q(y | x) held at `responsibilities` (n, K), passes over the rows in
    random order cut short at the last update; with kl_warmup the KL weight rises from 0 to 1 over the
    first half of them."""
    device = model.prior_logits.device
    held = torch.as_tensor(responsibilities, dtype=torch.float32, device=device)  # (n, K)
    repeats = repeated_binary_rows(rows) if distinct_rows else None
    held_of = held  # responsibilities of what batch_rows' `which` indexes
    if repeats is not None:
        held_of = torch.zeros(len(repeats[0]), held.shape[1], device=device).index_copy_(0, repeats[1], held)
        if not torch.allclose(held_of[repeats[1]], held):  # not a function of the row: use every row
            repeats, held_of = None, held
    step = 0
    while step < n_updates:  # one pass over the rows per round
        order = torch.randperm(rows.shape[0], device=device)
        for first in range(0, min(rows.shape[0], (n_updates - step) * batch_size), batch_size):
            step += 1
            xb, weights, which = batch_rows(rows, order[first : first + batch_size], repeats, device)
            beta = min(1.0, 2 * step / n_updates) if kl_warmup else 1.0
            loss = model.loss_parts(xb, beta=beta, responsibilities=held_of[which], weights=weights)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
