"""fit(): Adam over minibatches sliced from in-memory tensors, one history row per epoch.

No DataLoader: the data already sits in one tensor on the device, so a batch is an index slice of a
shuffled permutation. Loss parts are summed on the device and read back once per epoch, so the hot
loop never waits for a host sync. A scipy.sparse matrix (a big user-item matrix) works too: its rows
are made dense one batch at a time, never all at once.
"""

import copy
import math
import signal
import threading
import time

import torch
from tqdm.auto import tqdm

from common.elbo import MAX_ELEMENTS, beta_at, beta_at_step, widest_layer
from common.speed.optim import Adam
from common.speed.rows import repeated_binary_rows

PARTS = ("loss", "recon", "kl")
VALID_ROWS = 4096


class Diverged(Exception):
    """Training produced a non-finite loss; `model` holds the weights of the last good epoch."""

    def __init__(self, epoch, history, model):
        super().__init__(f"loss became non-finite in epoch {epoch}")
        self.epoch, self.history, self.model = epoch, history, model


def device_for(requested):
    """The device of --device: 'auto' is cuda when a GPU is present, else cpu."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def adam(model, lr):
    """Adam with the fused kernel: one update for all parameters instead of a Python loop over them
    (common/speed/optim.py: the kernel of torch.optim.Adam(fused=True) without its 1 s import of dynamo)."""
    return Adam(model.parameters(), lr=lr)


def cosine_lr(epoch, epochs, lr):
    """Learning rate of a 1-based epoch: cosine decay from lr towards 0 (Loshchilov and Hutter 2017),
    so late epochs settle into the optimum instead of rattling around it."""
    return lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))


class Interrupted(Exception):
    """Training stopped on request. `model` holds the weights after the last complete epoch and
    `state` what --resume needs to continue exactly from there."""

    def __init__(self, epoch, history, model, state):
        super().__init__(f"interrupted after epoch {epoch}")
        self.epoch, self.history, self.model, self.state = epoch, history, model, state


class StopRequest:
    """While active, SIGINT (Ctrl-C) and SIGTERM only set a flag: training finishes its batch and stops
    at a clean point. A second signal stops at once (KeyboardInterrupt); files are written atomically,
    so even then none is left half-written."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    @property
    def requested(self):
        return self.signal is not None


def _training_state(epoch, optimizer, history):
    """Everything needed to continue after `epoch` exactly as an uninterrupted run would (CPU)."""
    return {
        "epoch": epoch,
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "rng": torch.get_rng_state(),
        "history": copy.deepcopy(history),
    }


def dense_rows(x, index, device):
    """Rows `index` (a slice or index tensor) of x as a dense float32 tensor: an in-memory tensor is
    indexed as it is; a scipy.sparse matrix is densified here, one batch of rows at a time."""
    if torch.is_tensor(x):
        return x[index]
    index = index.cpu().numpy() if torch.is_tensor(index) else index
    return torch.as_tensor(x[index].toarray(), dtype=torch.float32, device=device)


def batch_rows(x, index, repeats, device):
    """(rows, weights, which) of the batch of x's rows `index`: without `repeats` those rows, no weights,
    which = index; with repeats = repeated_binary_rows(x) (fit's distinct_rows, when at most half the
    rows are distinct), its distinct rows once each, weighted by their counts in the batch, which =
    their positions among the distinct rows. The loss and its expected gradient are those of the rows
    themselves, but equal rows in a batch share one draw of z, so the gradient is noisier: off by default
    (docs/speed.md). An autoencoder draws nothing: its training is the same either way."""
    if repeats is None:
        return dense_rows(x, index, device), None, index
    which, counts = torch.unique(repeats[1][index], return_counts=True)
    return repeats[0][which], counts.to(torch.float32), which


@torch.no_grad()
def evaluate_loss(model, x):
    """Mean loss parts (beta = 1, so loss = -ELBO) over x, one sample of z per row. Rows go through in
    chunks of the evaluation budget (common/elbo.py: MAX_ELEMENTS activations of the widest layer):
    twice as fast as 4096-row chunks for the disease gmvae, whose rows are decoded once per cluster."""
    batch_size = max(1, MAX_ELEMENTS // widest_layer(model))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(len(PARTS), device=device)
    for start in range(0, x.shape[0], batch_size):
        xb = dense_rows(x, slice(start, start + batch_size), device)
        parts = model.loss_parts(xb, beta=1.0)
        sums += torch.stack([parts[k] for k in PARTS]) * xb.shape[0]
    model.train(was_training)
    return dict(zip(PARTS, (sums / x.shape[0]).tolist(), strict=True))


def fit(model, x_train, *, epochs, batch_size, lr, beta, anneal_epochs=0, anneal_steps=0, x_valid=None,
        quiet=False, stop=None, resume=None, on_epoch=None, distinct_rows=False):  # fmt: skip
    """Train `model` in place; return (history, state): one row per epoch, and the training state.

    A row: epoch, loss, recon, kl, beta, lr, seconds and, with x_valid, test_elbo (the held-out ELBO at
    beta = 1 on at most VALID_ROWS rows: a curve to watch; the run's evaluation uses every row). x_train
    is a tensor or a scipy.sparse matrix (densified a batch at a time). beta rises over anneal_epochs
    epochs, or per update over anneal_steps updates (Liang et al. 2018; a row's beta is then its last
    update's). on_epoch(model) adds held-out figures to each row. `resume`, a state returned earlier (and
    saved in model.pt), continues after its epoch. distinct_rows: see batch_rows (docs/speed.md).
    When `stop.requested` turns true, the batch finishes, the model goes back to the end of the last
    complete epoch and Interrupted is raised; a loss that stops being finite restores the last good
    weights and raises Diverged.
    """
    optimizer = adam(model, lr)
    history, first_epoch = [], 1
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        torch.set_rng_state(resume["rng"])
        history, first_epoch = list(resume["history"]), resume["epoch"] + 1
    n = x_train.shape[0]
    updates = (first_epoch - 1) * math.ceil(n / batch_size)  # so far, for per-update annealing
    x_valid = None if x_valid is None else x_valid[:VALID_ROWS]  # in random order already (world.split)
    repeats = repeated_binary_rows(x_train) if distinct_rows else None
    epochs_bar = tqdm(range(first_epoch, epochs + 1), desc="training", unit="epoch", initial=first_epoch - 1,
                      total=epochs, disable=True if quiet else None)  # fmt: skip
    for epoch in epochs_bar:
        start = time.perf_counter()
        # Snapshot at the epoch boundary: where a divergence or an interruption sends the model back.
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
        state = _training_state(epoch - 1, optimizer, history)
        optimizer.lr = cosine_lr(epoch, epochs, lr)
        epoch_beta = beta_at(epoch, beta, anneal_epochs)

        def beta_of(update, epoch_beta=epoch_beta):  # the KL weight of each update
            return beta_at_step(update, beta, anneal_steps) if anneal_steps > 0 else epoch_beta

        sums, updates, beta_now = train_epoch(
            model, optimizer, x_train, batch_size, repeats, updates, beta_of, stop
        )
        if sums is None:  # a stop was requested
            model.load_state_dict(last_good)
            raise Interrupted(epoch - 1, history, model, state)
        row = {"epoch": epoch, **dict(zip(PARTS, (sums / n).tolist(), strict=True)), "beta": beta_now}
        row["lr"] = optimizer.lr
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
    return history, _training_state(epochs, optimizer, history)


def train_epoch(model, optimizer, x, batch_size, repeats, updates, beta_of, stop=None):
    """One pass over the rows of x in random batches, beta_of(update number) weighting each batch's KL.
    Returns (the loss parts summed over rows (3,), updates so far, the last beta); the sums are None when
    a stop was requested (after the batch it came in)."""
    device = next(model.parameters()).device
    model.train()
    sums = torch.zeros(len(PARTS), device=device)
    order = torch.randperm(x.shape[0], device=device)
    beta = beta_of(updates)
    for first in range(0, x.shape[0], batch_size):
        index = order[first : first + batch_size]
        updates += 1
        beta = beta_of(updates)
        xb, weights, _ = batch_rows(x, index, repeats, device)
        parts = model.objective(xb, beta=beta, weights=weights)
        optimizer.zero_grad()
        # "penalty": terms trained on that are not part of the bound (the VQ-VAE's codebook terms)
        (parts["loss"] + parts["penalty"] if "penalty" in parts else parts["loss"]).backward()
        optimizer.step()
        sums += torch.stack([parts[k].detach() for k in PARTS]) * len(index)  # summed on the device: no sync
        if stop is not None and stop.requested:
            return None, updates, beta
    return sums, updates, beta


def fit_restarts(build, x_train, *, restarts, seed, prepare=None, resume=None, **fit_kwargs):
    """Train `restarts` models from different random starts; keep the one with the best training ELBO.

    build() makes a fresh model, prepare(model) may warm-start it; fit_kwargs go to fit(). With
    `resume` (model weights and training state of an interrupted single-start run) the one model
    continues instead. Returns (model, history, training state, training ELBO of every restart; none
    for a single start).
    """
    best, elbos = None, []
    for restart in range(restarts):
        torch.manual_seed(seed + 1000 * restart)  # restart 0 is the same as a run without restarts
        model = build()
        if resume is not None:
            model.load_state_dict(resume["state_dict"])
        elif prepare is not None:
            prepare(model)
        history, state = fit(model, x_train, resume=resume and resume["training"], **fit_kwargs)
        if restarts == 1:  # nothing to choose between: skip the three passes over the training rows
            return model, history, state, []
        elbo = -sum(evaluate_loss(model, x_train)["loss"] for _ in range(3)) / 3  # averaged: less noise
        elbos.append(elbo)
        if best is None or elbo > best[0]:
            best = (elbo, model, history, state)
    return best[1], best[2], best[3], elbos
