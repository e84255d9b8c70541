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
    which = index; with repeats = repeated_binary_rows(x), its distinct rows once each, weighted by
    their counts in the batch, which = their positions among the distinct rows."""
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
    stop=None,
    resume=None,
    on_epoch=None,
    distinct_rows=False,
):
    """Train `model` in place; return (history, state): one dict per epoch, and the training state.

    Each row: epoch, loss, recon, kl, beta, lr, seconds (wall time of the epoch) and, with x_valid,
    test_elbo (held-out ELBO at beta = 1, one sample per row, on at most VALID_ROWS of its rows: a
    curve to watch, cheap on big data; the run's final evaluation uses every held-out row).
    x_train is a tensor or a scipy.sparse matrix (densified one batch at a time).
    anneal_steps > 0 raises beta per update instead of per epoch (Liang et al. 2018); the row's beta is
    then the last update's. on_epoch(model), when given, returns a dict of held-out figures for the row.
    `resume` is a state returned earlier (or saved in model.pt): training continues after its epoch.
    distinct_rows: when at most half the training rows are distinct (0/1 data: repeated_binary_rows),
    each batch goes through the model once per distinct row, weighted by how often it occurs in the
    batch. The batches, the loss and its expected gradient are those of the rows themselves, but equal
    rows in a batch share one draw of z (or corruption), so the gradient is noisier: off by default
    (README, "Speed and scale": the disease gmvae trains 10% faster at 10,000 rows and 48% at a
    million, with held-out NLL gaps 0.003 and 0.0007 nats larger). The autoencoder draws nothing:
    its training is the same either way.
    When `stop.requested` turns true, the current batch finishes, the model goes back to the end of
    the last complete epoch and Interrupted is raised. Raises Diverged (after restoring the last
    good weights) when the loss stops being finite.
    """
    optimizer = adam(model, lr)
    device = next(model.parameters()).device
    history, first_epoch = [], 1
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        torch.set_rng_state(resume["rng"])
        history, first_epoch = list(resume["history"]), resume["epoch"] + 1
    n = x_train.shape[0]
    step = (first_epoch - 1) * math.ceil(n / batch_size)  # updates so far, for per-update annealing
    if x_valid is not None:
        x_valid = x_valid[:VALID_ROWS]  # rows are in random order already (common.world.split)
    repeats = repeated_binary_rows(x_train) if distinct_rows else None
    epochs_bar = tqdm(
        range(first_epoch, epochs + 1),
        desc="training",
        unit="epoch",
        initial=first_epoch - 1,
        total=epochs,
        disable=True if quiet else None,
    )
    for epoch in epochs_bar:
        start = time.perf_counter()
        # Snapshot at the epoch boundary: where a divergence or an interruption sends the model back.
        last_good = {k: v.detach().clone() for k, v in model.state_dict().items()}
        state = _training_state(epoch - 1, optimizer, history)
        beta_now = beta_at(epoch, beta, anneal_epochs)
        optimizer.lr = cosine_lr(epoch, epochs, lr)
        model.train()
        sums = torch.zeros(len(PARTS), device=device)
        order = torch.randperm(n, device=device)
        for first in range(0, n, batch_size):
            index = order[first : first + batch_size]
            if anneal_steps > 0:
                step += 1
                beta_now = beta_at_step(step, beta, anneal_steps)
            xb, weights, _ = batch_rows(x_train, index, repeats, device)
            parts = model.loss_parts(xb, beta=beta_now, weights=weights)
            optimizer.zero_grad()
            parts["loss"].backward()
            optimizer.step()
            sums += torch.stack([parts[k].detach() for k in PARTS]) * len(index)
            if stop is not None and stop.requested:
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
    """Start a GMVAE at a fitted classical mixture (weights (K,), mean profiles (K, D)).

    p(y) is set to the mixture's weights and the decoder is taught, for a few steps, to map
    z ~ p(z | y) to component y's mean profile. The first responsibilities q(y | x) are then close to
    the mixture's, so no component starts empty and the ELBO refines a sensible clustering.
    With training `rows` (n, D; a tensor or a scipy.sparse matrix, densified a batch at a time) and the
    mixture's `responsibilities` (n, K), the model then trains
    for `epochs` (at most `max_held_steps` updates) with q(y | x) held at them: encoder and decoder
    learn each component's shape before q(y | x) is set free (without this, two components of a
    real-valued mixture can merge early).
    kl_warmup raises the KL weight from 0 to 1 over the first half of those updates, and skips the
    first stage (decoding z ~ p(z | y) to the mean profile rewards a decoder that ignores z): with
    the clusters given, a decoder otherwise learns to explain every row by its cluster before the
    encoder says anything, and z stays unused for good (movie world: 0.01 nats of KL on z). Off by
    default: on the disease world it does not help (seeds 0-4: ARI / Bayes 0.951 against 0.960).
    distinct_rows: as fit's, when equal rows have equal responsibilities.
    """
    device = model.prior_logits.device
    targets = model.scale(torch.as_tensor(means, dtype=torch.float32, device=device))  # (K, D), as decoded
    with torch.no_grad():
        model.prior_logits.copy_(torch.log(torch.as_tensor(weights, dtype=torch.float32, device=device)))
    optimizer = adam(model, lr)
    for _ in range(0 if kl_warmup else steps):
        _, prior_mu, prior_log_var = model.prior()
        z = prior_mu + torch.exp(0.5 * prior_log_var) * torch.randn(
            batch_size, *prior_mu.shape, device=device
        )
        decoded = model.head.mean(model.decode(z))  # (B, K, D)
        loss = (decoded - targets).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if rows is None:
        return
    held = torch.as_tensor(responsibilities, dtype=torch.float32, device=device)  # (n, K)
    repeats = repeated_binary_rows(rows) if distinct_rows else None
    held_of = held  # responsibilities of what batch_rows' `which` indexes
    if repeats is not None:
        held_of = torch.zeros(len(repeats[0]), held.shape[1], device=device).index_copy_(0, repeats[1], held)
        if not torch.allclose(held_of[repeats[1]], held):  # not a function of the row: use every row
            repeats, held_of = None, held
    # At most `epochs` passes and `max_held_steps` updates: the default runs' 10 epochs (8000 rows,
    # batch 256: 320 updates), and no more on big data, where 10 passes would cost more than training.
    n_updates = min(max_held_steps, epochs * math.ceil(rows.shape[0] / batch_size))
    step = 0
    while step < n_updates:  # one pass over the rows per round, cut short at the last update
        order = torch.randperm(rows.shape[0], device=device)
        for first in range(0, min(rows.shape[0], (n_updates - step) * batch_size), batch_size):
            step += 1
            xb, weights, which = batch_rows(rows, order[first : first + batch_size], repeats, device)
            beta = min(1.0, 2 * step / n_updates) if kl_warmup else 1.0
            loss = model.loss_parts(xb, beta=beta, responsibilities=held_of[which], weights=weights)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


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
