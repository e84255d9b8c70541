"""HVAE (common/hvae.py): its KL terms, importance weights and log p(x) against independent references."""

import itertools

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal

from common.elbo import importance_weighted
from common.hvae import HVAE
from common.train import evaluate_loss, fit
from common.world import split
from disease_dlvm import DiseaseWorld

INFERENCES = ("ladder", "bottom-up")
ALL_ROWS = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)))  # every binary row of 3 features


def _model(inference, n_features=6, latent_dim=2, lower_dim=3, spread=2.0):
    """An untrained HVAE with weights scaled by `spread`, so that q and p differ by a few nats."""
    torch.manual_seed(0)
    model = HVAE(n_features, latent_dim=latent_dim, hidden_dim=16, lower_dim=lower_dim, inference=inference)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(spread)
    return model


def _gaussian(mu_log_var):
    mu, log_var = mu_log_var
    return Independent(Normal(mu, (0.5 * log_var).exp()), 1)


def _reference_draw(model, x):
    """log q(z1, z2 | x) - log p(z1, z2) at one z ~ q(z1, z2 | x) per row of x, (B,): from
    torch.distributions and the papers' formulas, sharing only the networks with the model."""
    (mu_hat, log_var_hat), d1 = model.bottom_up(x)
    if model.inference == "bottom-up":  # q(z1 | x) q(z2 | z1)
        q1 = _gaussian((mu_hat, log_var_hat))
        z1 = q1.sample()
        q2 = _gaussian(model.upper(z1).chunk(2, dim=-1))
        z2 = q2.sample()
        p1 = _gaussian(model.prior_z1(z2))
    else:  # q(z2 | x) q(z1 | x, z2), the precision-weighted combination (Sønderby et al. 2016, eq. 18-19)
        q2 = _gaussian(model.upper(d1).chunk(2, dim=-1))
        z2 = q2.sample()
        prior_mu, prior_log_var = model.prior_z1(z2)
        precision_hat, precision_p = (-log_var_hat).exp(), (-prior_log_var).exp()
        var = 1 / (precision_hat + precision_p)
        mu = (mu_hat * precision_hat + prior_mu * precision_p) * var
        q1 = Independent(Normal(mu, var.sqrt()), 1)
        z1 = q1.sample()
        p1 = _gaussian((prior_mu, prior_log_var))
    p2 = Independent(Normal(torch.zeros_like(z2), torch.ones_like(z2)), 1)
    return q2.log_prob(z2) + q1.log_prob(z1) - p2.log_prob(z2) - p1.log_prob(z1)


@pytest.mark.parametrize("inference", INFERENCES)
def test_kl_terms_match_monte_carlo(inference):
    model = _model(inference)
    x = torch.bernoulli(torch.full((4, 6), 0.4), generator=torch.Generator().manual_seed(1))
    many = x.repeat(20_000, 1)  # every row 20,000 times: the model's draws average out
    torch.manual_seed(2)
    with torch.no_grad():
        kl = model.loss_parts(many)["kl"]
        log_ratio = _reference_draw(model, many)
    reference, se = log_ratio.mean(), log_ratio.std() / len(many) ** 0.5
    assert reference > 0.5  # a KL worth checking
    # The model's estimate has less noise than the reference (closed forms for parts of it): 3 reference SEs.
    assert abs(kl - reference) < 3 * se, (float(kl), float(reference), float(se))


@pytest.mark.parametrize("inference", INFERENCES)
def test_log_weights_estimate_the_elbo_of_loss_parts(inference):
    model = _model(inference)
    x = torch.bernoulli(torch.full((4, 6), 0.4), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(3)
    with torch.no_grad():
        log_lik, log_ratio = model.log_weight_terms(x, 50_000)  # (4, S) each
        parts = model.loss_parts(x.repeat(50_000, 1), beta=1.0)
        torch.manual_seed(4)
        first = model.log_weights(x, 10)
        torch.manual_seed(4)
        torch.testing.assert_close(first, sum(model.log_weight_terms(x, 10)))
    assert log_lik.shape == log_ratio.shape == (4, 50_000)
    n = log_lik.numel()
    for term, part in (
        (log_lik, parts["recon"]),
        (log_ratio, parts["kl"]),
        (log_lik + log_ratio, parts["loss"]),
    ):
        assert abs(term.mean() + part) < 3 * term.std() / n**0.5 + 1e-4, (float(term.mean()), float(part))


def _exact_log_px(model, x):
    """log p(x) = log integral integral p(x | z1) p(z1 | z2) N(z2 | 0, 1) dz1 dz2, two trapezoidal rules
    on a grid (latent_dim = lower_dim = 1); p(x | z1) needs the decoder at the grid's z1 only."""
    grid = torch.linspace(-10, 10, 2001)
    with torch.no_grad():
        lik = model.log_lik(model.decoder(grid[:, None]), x[:, None]).double().exp()  # (n, G) over z1
        mu, log_var = (t[:, 0].double() for t in model.prior_z1(grid[:, None]))  # (G,) over z2
        g = grid.double()
        p_z1_z2 = Normal(mu[:, None], (0.5 * log_var[:, None]).exp()).log_prob(g).exp()  # (z2, z1)
        p_z1 = torch.trapezoid(Normal(0.0, 1.0).log_prob(g).exp()[:, None] * p_z1_z2, g, dim=0)  # (z1,)
        return torch.trapezoid(lik * p_z1, g, dim=-1).log()


@pytest.mark.parametrize("inference", INFERENCES)
def test_importance_weighted_log_px_matches_numerical_integration(inference):
    model = _model(inference, n_features=3, latent_dim=1, lower_dim=1, spread=1.2)
    # Proposals wider than the posterior: a q narrower than p(z1 | z2) or N(0, 1) gives heavy-tailed
    # weights (infinite variance), whose estimate converges too slowly for a test.
    with torch.no_grad():
        model.encoder[-1].bias[1:] += 2.0  # log-variance of q(z1 | x) / of the bottom-up estimate
        model.upper[-1].bias[1:] += 1.0  # log-variance of q(z2 | .)
    exact = _exact_log_px(model, ALL_ROWS)
    torch.testing.assert_close(exact.exp().sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.manual_seed(5)
    estimate = importance_weighted(model, ALL_ROWS, 50_000)
    error, se = (estimate.log_px - exact).abs(), estimate.variance(50_000).sqrt()
    assert torch.all(error < 4 * se + 1e-3) and torch.all(error < 0.02), (error, se)
    assert torch.all(estimate.elbo <= exact + 0.01)  # the ELBO is a lower bound


@pytest.mark.parametrize("inference", INFERENCES)
def test_training_improves_the_held_out_elbo(inference):
    world = DiseaseWorld()
    rng = np.random.default_rng(0)
    train, test = split(world.sample(1000, rng), 0.2, rng)
    x, x_test = torch.as_tensor(train.x), torch.as_tensor(test.x)
    torch.manual_seed(0)
    model = HVAE(x.shape[1], inference=inference)
    model.scale.fit(x)
    before = -evaluate_loss(model, x_test)["loss"]
    fit(model, x, epochs=6, batch_size=50, lr=5e-3, beta=1.0, quiet=True)
    after = -evaluate_loss(model, x_test)["loss"]
    true_log_px = float(world.reference_log_prob(test.x).mean())
    assert after > before + 1.0, (before, after)  # from about 12 log 2 = 8.3 nats towards log p(x)
    assert after < true_log_px + 0.05  # a lower bound


@pytest.mark.parametrize("inference", INFERENCES)
def test_shapes_and_support(inference):
    model = _model(inference)
    x = torch.bernoulli(torch.full((5, 6), 0.5))
    with torch.no_grad():
        rows = model.sample(100)
        assert rows.shape == (100, 6)
        assert set(rows.unique().tolist()) <= {0.0, 1.0}
        z = model.embed(x)
        assert z.shape == (5, 2)
        torch.testing.assert_close(model.embed(x), z)  # deterministic
        for expected in (model.decode_mean(z), model.reconstruct(x)):
            assert expected.shape == (5, 6)
            assert torch.all((expected >= 0) & (expected <= 1))
    with pytest.raises(ValueError, match="inference"):
        HVAE(6, inference="top-down")


def test_gaussian_rows_come_back_in_original_units():
    torch.manual_seed(0)
    x = 10 + 3 * torch.randn(500, 4)
    model = HVAE(4, hidden_dim=8, likelihood="gaussian")
    model.scale.fit(x)
    with torch.no_grad():
        rows = model.sample(2000)
        log_lik, log_ratio = model.log_weight_terms(x[:8], 3)
    assert rows.shape == (2000, 4) and log_lik.shape == log_ratio.shape == (8, 3)
    assert abs(float(rows.mean()) - 10) < 2  # standardised inside the model, not on the model's scale
