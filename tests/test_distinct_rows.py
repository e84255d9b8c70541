"""Training on a batch's distinct 0/1 rows weighted by their counts (fit(distinct_rows=True)): the
same loss as on the rows themselves, and used only where rows repeat."""

import pytest
import torch

from common.autoencoders import AE
from common.models import GMVAE, VAE
from common.speed.rows import repeated_binary_rows
from common.train import batch_rows, fit
from common.warm_start import warm_start


def _repeating_rows(n=200, d=5, seed=0):
    """n rows drawn from 6 patterns: far fewer distinct rows than rows."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.bernoulli(torch.full((6, d), 0.5), generator=generator)
    return patterns[torch.randint(0, 6, (n,), generator=generator)]


def _record_batch_sizes(model):
    """Wrap model.loss_parts to record how many rows each batch it computes has."""
    seen, loss_parts = [], model.loss_parts
    model.loss_parts = lambda xb, **kw: seen.append(len(xb)) or loss_parts(xb, **kw)
    return seen


def test_repeated_binary_rows_only_where_at_most_half_the_rows_are_distinct():
    x = _repeating_rows()
    unique, inverse = repeated_binary_rows(x)
    torch.testing.assert_close(unique[inverse], x, rtol=0, atol=0)
    assert len(unique) == len(torch.unique(x, dim=0))
    distinct = torch.eye(8)  # every row distinct
    assert repeated_binary_rows(distinct) is None
    assert repeated_binary_rows(torch.cat([distinct, distinct[:3]])) is None  # 8 distinct of 11 rows
    assert repeated_binary_rows(x + 0.5) is None  # not 0/1
    assert repeated_binary_rows(x.numpy()) is None  # a scipy/numpy matrix trains row by row


def test_batch_rows_are_the_batch_as_distinct_rows_and_counts():
    x = _repeating_rows()
    repeats = repeated_binary_rows(x)
    index = torch.randperm(len(x))[:64]
    rows, weights, which = batch_rows(x, index, repeats, "cpu")
    assert weights.sum().item() == 64
    assert len(rows) == len(torch.unique(x[index], dim=0))  # each distinct row of the batch once
    expanded = rows.repeat_interleave(weights.long(), dim=0)
    torch.testing.assert_close(torch.unique(expanded, dim=0, return_counts=True)[1],
                               torch.unique(x[index], dim=0, return_counts=True)[1])  # fmt: skip
    torch.testing.assert_close(repeats[0][which], rows)
    plain, no_weights, same = batch_rows(x, index, None, "cpu")
    assert no_weights is None and torch.equal(plain, x[index]) and torch.equal(same, index)


@pytest.mark.parametrize("kind", [VAE, GMVAE, AE])
def test_weighted_distinct_rows_give_the_loss_of_the_rows(kind, monkeypatch):
    # With the noise switched off (z at the posterior mean), a row's loss is a function of the row, so
    # the weighted loss over distinct rows must equal the plain mean over the rows, part by part.
    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)
    monkeypatch.setattr(torch, "randn", lambda *shape, **kw: torch.zeros(*shape, **kw))
    torch.manual_seed(0)
    model = kind(5, latent_dim=2, hidden_dim=8)
    x = _repeating_rows()
    unique, inverse = repeated_binary_rows(x)
    counts = torch.bincount(inverse).to(torch.float32)
    weighted = model.loss_parts(unique, beta=0.7, weights=counts)
    plain = model.loss_parts(x, beta=0.7)
    for part in ("loss", "recon", "kl"):
        torch.testing.assert_close(weighted[part], plain[part])


def test_autoencoder_trains_the_same_on_distinct_rows():
    # The autoencoder has no noise: the distinct-row batches give the same gradients, so the same
    # training history (up to the order of float sums), and the path is really taken.
    x = _repeating_rows(n=300)
    histories = []
    for distinct in (True, False):
        torch.manual_seed(0)
        model = AE(5, latent_dim=2, hidden_dim=8)
        seen = _record_batch_sizes(model)
        history, _ = fit(
            model, x, epochs=3, batch_size=64, lr=1e-2, beta=1.0, quiet=True, distinct_rows=distinct
        )
        histories.append([row["loss"] for row in history])
        assert max(seen) <= 6 if distinct else max(seen) == 64
    assert histories[0] == pytest.approx(histories[1], rel=1e-5)


@pytest.mark.parametrize("per_row", [False, True], ids=["function of the row", "differ on equal rows"])
def test_warm_start_uses_distinct_rows_only_when_equal_rows_have_equal_responsibilities(per_row):
    torch.manual_seed(0)
    model = GMVAE(5, latent_dim=2, hidden_dim=8, n_clusters=3)
    x = _repeating_rows()
    _, inverse = repeated_binary_rows(x)
    held = torch.softmax(torch.randn(200 if per_row else 6, 3), -1)
    held = held if per_row else held[inverse]
    seen = _record_batch_sizes(model)
    warm_start(model, [1 / 3] * 3, torch.rand(3, 5).numpy(), rows=x, responsibilities=held.numpy(),
               batch_size=50, epochs=1, distinct_rows=True)  # fmt: skip
    assert seen == [50] * 4 if per_row else max(seen) <= 6
