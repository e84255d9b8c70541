"""Rating and implicit-feedback likelihood heads against torch.distributions; the sparse training path."""

import numpy as np
import pytest
import torch
from scipy import sparse
from torch.distributions import Bernoulli, Categorical, Multinomial

from common.baselines import CategoricalMixture
from common.heads import HEADS, CategoricalHead, MultinomialHead, OrdinalHead
from common.model_table import build_model
from common.train import evaluate_loss, fit


def _ratings(shape, missing=0.5, seed=0):
    """Random rows of 1..5 stars with about `missing` of them 0 (not rated)."""
    g = torch.Generator().manual_seed(seed)
    stars = torch.randint(1, 6, shape, generator=g).float()
    return torch.where(torch.rand(shape, generator=g) < missing, torch.zeros_like(stars), stars)


def test_categorical_head_scores_observed_entries_only():
    head = CategoricalHead(n_categories=5)
    logits = torch.randn(4, 7, 5)  # (B, D, C)
    x = _ratings((4, 7))
    reference = torch.where(x > 0, Categorical(logits=logits).log_prob((x - 1).clamp_min(0).long()), 0.0).sum(
        -1
    )
    torch.testing.assert_close(head.log_prob(logits.flatten(-2), x), reference)
    # Missing entries add nothing, whatever their logits say.
    changed = torch.where((x == 0)[..., None], torch.randn(4, 7, 5) * 10, logits)
    torch.testing.assert_close(head.log_prob(changed.flatten(-2), x), reference)
    assert head.log_prob(logits.flatten(-2), torch.zeros(4, 7)).abs().max() == 0


def test_categorical_head_with_missing_is_a_categorical_over_missing_and_the_stars():
    head = HEADS["categorical+missing"]()
    logits = torch.randn(3, 6, 6)  # outcome 0 = missing, 1..5 = stars
    x = _ratings((3, 6))
    torch.testing.assert_close(
        head.log_prob(logits.flatten(-2), x), Categorical(logits=logits).log_prob(x.long()).sum(-1)
    )
    # mean(): expected stars of a rated entry, the missing outcome left out.
    stars = torch.softmax(logits[..., 1:], -1) @ torch.arange(1.0, 6.0)
    torch.testing.assert_close(head.mean(logits.flatten(-2)), stars)
    draws = head.sample(logits.flatten(-2).expand(2000, -1, -1))
    assert set(draws.unique().tolist()) <= {0, 1, 2, 3, 4, 5}


def test_categorical_head_broadcasts_rows_against_samples():
    head = CategoricalHead()
    out = torch.randn(2, 9, 4 * 5)  # (B, S, D * C): S samples of z per row
    x = _ratings((2, 4))
    per_sample = head.log_prob(out, x[:, None])  # (B, S)
    assert per_sample.shape == (2, 9)
    torch.testing.assert_close(per_sample[:, 3], head.log_prob(out[:, 3], x))


def test_multinomial_head_is_torch_multinomial():
    head = MultinomialHead()
    logits = torch.randn(5, 12)
    x = torch.randint(0, 3, (5, 12)).float()
    x[:, 0] += 1  # every row has at least one item
    reference = torch.stack(
        [Multinomial(int(row.sum()), logits=lg).log_prob(row) for lg, row in zip(logits, x, strict=True)]
    )
    torch.testing.assert_close(head.log_prob(logits, x), reference)
    torch.testing.assert_close(head.mean(logits).sum(-1), torch.ones(5))


def _ordinal_reference(eta, thresholds, c):
    """P(x = c) = sigmoid(t_c - eta) - sigmoid(t_{c-1} - eta), t_0 = -inf, t_C = inf, in float64."""
    t = np.concatenate([[-np.inf], thresholds, [np.inf]])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    return sigmoid(t[c] - eta) - sigmoid(t[c - 1] - eta)


def test_ordinal_head_is_the_cumulative_logit_model():
    head = OrdinalHead(model_missing=True)
    with torch.no_grad():
        head.log_gaps.copy_(torch.log(torch.tensor([0.7, 1.9, 1.2])))
    thresholds = head.thresholds()[1:-1].detach().double().numpy()
    eta, observe = torch.tensor([-3.0, -0.4, 0.0, 1.3, 4.0]), torch.tensor([0.5, -1.0, 2.0, 0.0, -0.2])
    out = torch.stack([observe, eta], -1).flatten()  # (D * 2,): observed log-odds, location
    for c in range(6):
        rows = torch.full((1, 5), float(c))  # the same value in every feature
        log_observed = Bernoulli(logits=observe).log_prob(torch.tensor(float(c > 0)))
        stars = np.log(_ordinal_reference(eta.double().numpy(), thresholds, c)) if c else 0.0
        expected = (log_observed.double() + torch.as_tensor(stars, dtype=torch.float64)).sum()
        torch.testing.assert_close(head.log_prob(out, rows)[0].double(), expected, rtol=1e-5, atol=1e-5)
    # Far in both tails the probabilities stay positive and the gradient finite.
    far = torch.tensor([[0.0, -60.0, 0.0, 60.0]], requires_grad=True)
    log_p = head.log_prob(far, torch.tensor([[5.0, 1.0]]))
    log_p.backward()
    assert torch.isfinite(log_p).all() and torch.isfinite(far.grad).all()
    torch.testing.assert_close(
        head.mean(out[None])[0].double(),
        torch.tensor(
            [sum(c * _ordinal_reference(e, thresholds, c) for c in range(1, 6)) for e in eta.double().numpy()]
        ),
    )


@pytest.mark.parametrize("likelihood", ["categorical", "categorical+missing", "ordinal", "ordinal+missing"])
@pytest.mark.parametrize("kind", ["vae", "gmvae", "ae", "dae"])
def test_every_model_trains_on_ratings(kind, likelihood):
    config = {"model": kind, "n_features": 6, "likelihood": likelihood, "latent_dim": 2, "hidden_dim": 8}
    model = build_model(config | {"n_clusters": 3, "corruption": 0.2, "noise": "dropout"})
    x = _ratings((64, 6))
    history, _ = fit(model, x, epochs=2, batch_size=16, lr=1e-2, beta=1.0, quiet=True)
    assert np.isfinite(history[-1]["loss"])
    predicted = model.decode_mean(model.embed(x))
    assert predicted.shape == (64, 6) and (predicted >= 1).all() and (predicted <= 5).all()


def test_training_on_a_sparse_matrix_is_training_on_its_dense_rows():
    x = (torch.rand(40, 10) < 0.3).float()
    config = {"model": "vae", "n_features": 10, "likelihood": "multinomial", "latent_dim": 2, "hidden_dim": 8}
    config |= {"hidden_layers": 1, "activation": "tanh", "normalize_input": True, "input_dropout": 0.5}
    runs = []
    for data in (x, sparse.csr_array(x.numpy())):
        torch.manual_seed(1)
        model = build_model(config)
        history, _ = fit(model, data, epochs=2, batch_size=8, lr=1e-2, beta=0.2, anneal_steps=6, quiet=True)
        runs.append((history, evaluate_loss(model, data)))
    assert runs[0][0][-1]["loss"] == pytest.approx(runs[1][0][-1]["loss"])
    assert runs[0][1] == pytest.approx(runs[1][1])
    assert [row["beta"] for row in runs[0][0]] == pytest.approx([0.2 * 5 / 6, 0.2])  # 5 updates per epoch


def test_mult_vae_architecture():
    config = {
        "model": "vae",
        "n_features": 30,
        "likelihood": "multinomial",
        "latent_dim": 4,
        "hidden_dim": 12,
    }
    model = build_model(config | {"hidden_layers": 1, "activation": "tanh", "normalize_input": True})
    linear = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(30, 12), (12, 8)]  # [I-H-2Z]
    assert any(isinstance(m, torch.nn.Tanh) for m in model.decoder.modules())
    x = torch.rand(3, 30)
    torch.testing.assert_close(model.embed(x), model.embed(5 * x))  # rows are normalised first


def test_categorical_mixture_recovers_two_clear_groups():
    rng = np.random.default_rng(0)
    labels = rng.integers(2, size=400)
    stars = np.where(labels[:, None] == 0, rng.choice([1, 2], (400, 8)), rng.choice([4, 5], (400, 8)))
    x = np.where(rng.random((400, 8)) < 0.4, 0, stars)
    for missing in (False, True):
        mixture = CategoricalMixture(2, model_missing=missing, random_state=0).fit(x)
        agreement = (mixture.predict(x) == labels).mean()
        assert max(agreement, 1 - agreement) > 0.99
        if not missing:  # a user who rated nothing is certain under a model of the stars only
            assert mixture.score_samples(np.zeros((1, 8)))[0] == pytest.approx(0.0)
        assert sorted(mixture.means_.mean(1).round()) == [2.0, 4.0]  # E[stars | rated, component]


def test_ordinal_thresholds_are_weights_saved_in_model_pt(tmp_path):
    from common import runio

    config = {"model": "gmvae", "n_features": 6, "likelihood": "ordinal+missing", "latent_dim": 2}
    config |= {"hidden_dim": 8, "n_clusters": 3}
    model = build_model(config)
    fit(model, _ratings((64, 6)), epochs=2, batch_size=16, lr=5e-2, beta=1.0, quiet=True)
    assert "head.log_gaps" in model.state_dict()
    runio.save_model(tmp_path / "model.pt", model, config)
    checkpoint = runio.load_model_file(tmp_path / "model.pt")
    loaded = build_model(checkpoint["config"])
    loaded.load_state_dict(checkpoint["state_dict"])
    torch.testing.assert_close(loaded.head.thresholds(), model.head.thresholds())
    assert not torch.equal(model.head.thresholds(), OrdinalHead().thresholds())  # they were trained
