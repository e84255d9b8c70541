"""fit(): Adam over minibatches sliced from in-memory tensors, one history row per epoch.

No DataLoader: the data already sits in one tensor on the device, so a batch is an index slice of a
shuffled permutation. Loss parts are summed on the device and read back once per epoch, so the hot
loop never waits for a host sync. A scipy.sparse matrix (a big user-item matrix) works too: its rows
are made dense one batch at a time, never all at once.
"""

import math
import time

import torch
from tqdm.auto import tqdm

from common.elbo import beta_at, beta_at_step

PARTS = ("loss", "recon", "kl")


class Diverged(Exception):
    """Training produced a non-finite loss; `model` holds the weights of the last good epoch."""

    def __init__(self, epoch, history, model):
        super().__init__(f"loss became non-finite in epoch {epoch}")
        self.epoch, self.history, self.model = epoch, history, model


def cosine_lr(epoch, epochs, lr):
    """Learning rate of a 1-based epoch: cosine decay from lr towards 0 (Loshchilov and Hutter 2017),
    so late epochs settle into the optimum instead of rattling around it."""
    return lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))


def rows(x, index, device):
    """Rows `index` (a slice or index tensor) of x as a dense float32 tensor: an in-memory tensor is
    indexed as it is; a scipy.sparse matrix is densified here, one batch of rows at a time."""
    if torch.is_tensor(x):
        return x[index]
    index = index.cpu().numpy() if torch.is_tensor(index) else index
    return torch.as_tensor(x[index].toarray(), dtype=torch.float32, device=device)


@torch.no_grad()
def evaluate_loss(model, x, batch_size=4096):
    """Mean loss parts (beta = 1, so loss = -ELBO) over x, one sample of z per row."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(len(PARTS), device=device)
    for start in range(0, x.shape[0], batch_size):
        xb = rows(x, slice(start, start + batch_size), device)
        parts = model.loss_parts(xb, beta=1.0)
        sums += torch.stack([parts[k] for k in PARTS]) * xb.shape[0]
    model.train(was_training)
    return dict(zip(PARTS, (sums / x.shape[0]).tolist(), strict=True))


def fit(
    model,
    x_train,
    *,
    epochs,
    batch_size,
    lr,
    beta,
    anneal_epochs=0,
    anneal_steps=0,
    x_valid=None,
    quiet=False,
    on_epoch=None,
):
    """Train `model` in place; return the history, a list of one dict per epoch.

    Each row: epoch, loss, recon, kl, beta, lr, seconds (wall time of the epoch) and, with x_valid,
    test_elbo (held-out ELBO at beta = 1, one sample per row). x_train is a tensor or a scipy.sparse
    matrix. anneal_steps > 0 raises beta per update instead of per epoch (Liang et al. 2018); the row's
    beta is then the last update's. on_epoch(model), when given, returns a dict of held-out figures for
    the row. Raises Diverged (after restoring the last good weights) when the loss stops being finite.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    n = x_train.shape[0]
    history, step = [], 0
    epochs_bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=True if quiet else None)
    for epoch in epochs_bar:
        start = time.perf_counter()
        beta_now = beta_at(epoch, beta, anneal_epochs)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(epoch, epochs, lr)
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.train()
        sums = torch.zeros(len(PARTS), device=device)
        order = torch.randperm(n, device=device)
        for first in range(0, n, batch_size):
            xb = rows(x_train, order[first : first + batch_size], device)
            if anneal_steps > 0:
                step += 1
                beta_now = beta_at_step(step, beta, anneal_steps)
            parts = model.loss_parts(xb, beta=beta_now)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            optimizer.step()
            sums += torch.stack([parts[k].detach() for k in PARTS]) * xb.shape[0]
        row = {"epoch": epoch, **dict(zip(PARTS, (sums / n).tolist(), strict=True)), "beta": beta_now}
        row["lr"] = optimizer.param_groups[0]["lr"]
        if not all(math.isfinite(row[k]) for k in PARTS):
            model.load_state_dict(last_good)
            raise Diverged(epoch, history, model)
        if x_valid is not None:
            row["test_elbo"] = -evaluate_loss(model, x_valid)["loss"]
        if on_epoch is not None:
            row.update(on_epoch(model))
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        epochs_bar.set_postfix(loss=f"{row['loss']:.3f}")
    return history


def warm_start(model, weights, means, *, steps=100, batch_size=256, lr=3e-3):
    """Start a GMVAE at a fitted classical mixture (weights (K,), mean profiles (K, D)).

    p(y) is set to the mixture's weights and the decoder is taught, for a few steps, to map
    z ~ p(z | y) to component y's mean profile. The first responsibilities q(y | x) are then close to
    the mixture's, so no component starts empty and the ELBO refines a sensible clustering.
    """
    device = model.prior_logits.device
    targets = torch.as_tensor(means, dtype=torch.float32, device=device)  # (K, D)
    with torch.no_grad():
        model.prior_logits.copy_(torch.log(torch.as_tensor(weights, dtype=torch.float32, device=device)))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        _, prior_mu, prior_log_var = model.prior()
        z = prior_mu + torch.exp(0.5 * prior_log_var) * torch.randn(
            batch_size, *prior_mu.shape, device=device
        )
        decoded = model.head.mean(model.decode(z))  # (B, K, D)
        loss = (decoded - targets).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def fit_restarts(build, x_train, *, restarts, seed, prepare=None, **fit_kwargs):
    """Train `restarts` models from different random starts; keep the one with the best training ELBO.

    build() makes a fresh model, prepare(model) may warm-start it; fit_kwargs go to fit().
    Returns (model, history, training ELBO of every restart).
    """
    best, elbos = None, []
    for restart in range(restarts):
        torch.manual_seed(seed + 1000 * restart)  # restart 0 is the same as a run without restarts
        model = build()
        if prepare is not None:
            prepare(model)
        history = fit(model, x_train, **fit_kwargs)
        elbo = -sum(evaluate_loss(model, x_train)["loss"] for _ in range(3)) / 3  # averaged: less noise
        elbos.append(elbo)
        if best is None or elbo > best[0]:
            best = (elbo, model, history)
    return best[1], best[2], elbos
