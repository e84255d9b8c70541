"""The ELBO's parts against independent references: torch.distributions and numerical integration."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from common.elbo import beta_at, diagonal_normal_log_prob, gaussian_kl, importance_weighted
from common.heads import BernoulliHead, GaussianHead
from common.model_table import build_model
from common.models import VAE


def test_gaussian_kl_matches_torch_distributions():
    mu, log_var = torch.randn(7, 3), torch.randn(7, 3)
    reference = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, log_var), reference)


def test_diagonal_normal_log_prob_matches_torch_distributions():
    z, mu, log_var = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    reference = Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(diagonal_normal_log_prob(z, mu, log_var), reference)


def test_heads_match_torch_distributions():
    x = torch.bernoulli(torch.full((6, 5), 0.4))
    logits = torch.randn(6, 5)
    torch.testing.assert_close(
        BernoulliHead().log_prob(logits, x), Bernoulli(logits=logits).log_prob(x).sum(-1)
    )
    head, out, y = GaussianHead(), torch.randn(6, 10), torch.randn(6, 5)
    mean, log_var = head.split(out)
    torch.testing.assert_close(head.log_prob(out, y), Normal(mean, (0.5 * log_var).exp()).log_prob(y).sum(-1))


def test_beta_schedule_rises_linearly_then_stays():
    assert [beta_at(e, 2.0, 4) for e in (1, 2, 4, 9)] == [0.5, 1.0, 2.0, 2.0]
    assert beta_at(1, 0.7, 0) == 0.7


def _exact_log_px(model, x):
    """log p(x) = log integral p(x|z) N(z) dz for a 1-D latent, by the trapezoidal rule on a fine grid."""
    grid = np.linspace(-8, 8, 4001)
    z = torch.tensor(grid, dtype=torch.float32)[:, None]
    with torch.no_grad():
        log_joint = model.head.log_prob(model.decoder(z)[None], x[:, None]) + Normal(0.0, 1.0).log_prob(
            z[:, 0]
        )
    joint = np.exp(log_joint.double().numpy())
    return np.log(np.trapezoid(joint, grid, axis=1))


def test_importance_weighted_bound_is_above_elbo_and_tends_to_exact_log_px():
    torch.manual_seed(1)
    model = VAE(n_features=4, latent_dim=1, hidden_dim=8, likelihood="bernoulli")
    x = torch.bernoulli(torch.full((6, 4), 0.5))
    exact = _exact_log_px(model, x)
    log_px_1, elbo, _ = importance_weighted(model, x, 1)
    log_px_many, elbo_many, _ = importance_weighted(model, x, 20000)
    # One sample is an ELBO estimate; many samples approach log p(x) from below and beat the ELBO.
    assert np.all(log_px_many.numpy() >= elbo_many.numpy())
    assert np.all(exact >= elbo_many.numpy() - 1e-3)
    np.testing.assert_allclose(log_px_many.numpy(), exact, atol=0.02)
    assert np.mean(exact - log_px_many.numpy()) < np.mean(exact - elbo_many.numpy())


def test_importance_weighted_is_the_same_whatever_the_chunking():
    model = VAE(n_features=3, latent_dim=2, hidden_dim=4)
    x = torch.bernoulli(torch.full((5, 3), 0.5))
    torch.manual_seed(3)
    whole, _, _ = importance_weighted(model, x, 64, max_elements=10**9)
    torch.manual_seed(3)
    # Tiny budget: one (row, sample) pair per chunk; different random draws, so compare statistically.
    chunked, _, _ = importance_weighted(model, x, 64, max_elements=8)
    np.testing.assert_allclose(chunked.numpy(), whole.numpy(), atol=0.15)
    assert math.isfinite(float(chunked.sum()))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_loss_parts_are_named_and_consistent(likelihood):
    model = VAE(n_features=4, latent_dim=2, hidden_dim=8, likelihood=likelihood)
    x = torch.bernoulli(torch.full((16, 4), 0.5))
    parts = model.loss_parts(x, beta=2.5)
    assert set(parts) == {"loss", "recon", "kl"}
    torch.testing.assert_close(parts["loss"], parts["recon"] + 2.5 * parts["kl"])


def test_evaluation_of_many_rows_never_passes_them_through_the_model_at_once():
    """Memory stays bounded: every evaluation of a gmvae (the widest: clusters x samples x hidden)
    sees bounded chunks, whatever the number of rows and importance samples."""
    from common import evaluate
    from common.models import GMVAE

    model = GMVAE(n_features=4, latent_dim=2, hidden_dim=8, n_clusters=3, likelihood="gaussian").eval()
    seen = []
    decode = model.decode
    model.decode = lambda z, clusters=None: seen.append(z.numel()) or decode(z, clusters)
    x = torch.randn(5000, 4)  # real-valued: every row distinct, so nothing is collapsed
    budget = 2**16  # activations of the widest layer per chunk
    with torch.no_grad():
        importance_weighted(model, x, 100, max_elements=budget)
        largest_iw = max(seen) // model.latent_dim * 8  # hidden activations of one call (width 8)
        seen.clear()
        evaluate.reconstruction(model, x, list("abcd"), "gaussian")
        evaluate.latent_codes(model, x)
    assert largest_iw <= budget
    assert max(seen) <= 1024 * 64 * model.n_clusters * model.latent_dim  # batches of 1024 rows


def test_equal_rows_share_one_latent_code_even_when_most_rows_are_distinct():
    """The gmvae's embed samples q(y | x), so equal rows got different codes unless fewer than half
    were distinct; latent.png sizes a dot by the rows sharing its code."""
    from common.evaluate import latent_codes

    torch.manual_seed(0)
    config = {"model": "gmvae", "n_features": 6, "likelihood": "bernoulli", "n_clusters": 3}
    model = build_model(config | {"latent_dim": 2, "hidden_dim": 8})
    distinct = torch.tensor([[int(b) for b in f"{i:06b}"] for i in range(40)], dtype=torch.float32)
    x = torch.cat([distinct, distinct[:10]])  # 50 rows, 40 distinct: more than half
    z = latent_codes(model, x)
    np.testing.assert_array_equal(z[40:], z[:10])
    assert len(np.unique(z, axis=0)) == 40
