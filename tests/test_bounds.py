"""The importance-weighted bound as a training objective (IWAE), the VampPrior's density and the Monte
Carlo error of the importance-sampled NLL, each against an independent reference."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from common import evaluate
from common.elbo import importance_weighted, iw_loss_parts
from common.model_table import build_model, model_config
from common.models import GMVAE, VAE


def _rows(n=8, d=5, seed=0):
    return torch.bernoulli(torch.full((n, d), 0.4), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("make", [lambda: VAE(5, hidden_dim=8), lambda: GMVAE(5, hidden_dim=8, n_clusters=3)])
def test_iwae_bound_with_one_sample_is_the_elbo_and_rises_with_k(make):
    torch.manual_seed(0)
    model = make().eval()
    x = _rows().repeat(4000, 1)  # many draws of each row: expectations to about 0.01 nats
    with torch.no_grad():
        elbo = -model.loss_parts(x)["loss"]
        bounds = [-iw_loss_parts(model, x, k)["loss"] for k in (1, 5, 50)]
    assert float(bounds[0]) == pytest.approx(float(elbo), abs=0.02)
    assert bounds[0] < bounds[1] < bounds[2]
    exact = float(importance_weighted(model, _rows(), 20_000).log_px.mean())
    assert float(bounds[2]) <= exact + 0.01


def test_iwae_parts_add_up_to_the_bound_and_its_gradient_is_the_bounds():
    torch.manual_seed(1)
    model = VAE(5, hidden_dim=8)
    x = _rows()
    torch.manual_seed(2)
    parts = iw_loss_parts(model, x, 7)
    torch.testing.assert_close(parts["loss"], parts["recon"] + parts["kl"])
    parts["loss"].backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(2)  # the same draws, the bound written out by hand
    log_w = model.log_weights(x, 7)
    (-(torch.logsumexp(log_w, 1) - math.log(7)).mean()).backward()
    for a, p in zip(got, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_iw_train_reaches_the_model_through_its_config():
    class Args:
        demo, model, latent_dim, hidden_dim, hidden_layers, iw_train = "t", "vae", 2, 8, 2, 4

    model = build_model(model_config(Args(), 5, "bernoulli"))
    assert model.train_samples == 4
    torch.manual_seed(0)
    x = _rows()
    torch.manual_seed(3)
    via_objective = model.objective(x)["loss"]
    torch.manual_seed(3)
    torch.testing.assert_close(via_objective, iw_loss_parts(model, x, 4)["loss"])


def test_vamp_prior_density_is_the_mixture_of_posteriors_at_the_pseudo_inputs():
    torch.manual_seed(0)
    model = VAE(5, hidden_dim=8, prior="vamp", pseudo_inputs=7)
    model.start_from_rows(_rows(20))
    mu, log_var = model.encoder(model.prior.pseudo_inputs).chunk(2, dim=-1)
    reference = MixtureSameFamily(
        Categorical(logits=torch.zeros(7)), Independent(Normal(mu, (0.5 * log_var).exp()), 1)
    )
    z = torch.randn(30, 4, 2) * 2
    with torch.no_grad():
        torch.testing.assert_close(model.prior_log_prob(z), reference.log_prob(z))
    # its pseudo-inputs started at training rows, so the prior starts where the data's posteriors are
    assert all(any(torch.equal(u, r) for r in _rows(20)) for u in model.prior.pseudo_inputs)


def test_monte_carlo_error_of_the_nll_matches_the_spread_of_repeated_estimates():
    torch.manual_seed(0)
    model = VAE(6, hidden_dim=8).eval()
    x = torch.bernoulli(torch.full((300, 6), 0.4))  # many repeats: the error of equal rows adds up
    reports = [evaluate.held_out_likelihood(model, x, 20, elbo_rows=1) for _ in range(200)]
    spread = np.std([r["nll"] for r in reports], ddof=1)
    predicted = np.median([r["nll_mc_se"] for r in reports])
    assert predicted == pytest.approx(spread, rel=0.25)
    assert 1 <= reports[0]["iw_ess"]["min"] <= reports[0]["iw_ess"]["median"] <= 20
