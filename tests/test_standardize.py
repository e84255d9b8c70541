"""Real features are standardised inside the model; every density it reports stays in original units."""

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from common import runio
from common.elbo import importance_weighted
from common.model_table import build_model

MEAN, SD = torch.tensor([5.0, -2.0, 0.5]), torch.tensor([3.0, 0.5, 1.5])


def _config(kind, n_features=3, latent_dim=2):
    return {
        "model": kind,
        "n_features": n_features,
        "likelihood": "gaussian",
        "latent_dim": latent_dim,
        "hidden_dim": 8,
        "n_clusters": 3,
        "corruption": 0.0,
        "noise": "dropout",
    }


def _scaled_and_twin(kind):
    """A model whose scale is fitted on data with MEAN and SD, and a twin with the same weights and
    no scaling (mean 0, sd 1): the twin sees the standardised data the model sees inside."""
    torch.manual_seed(0)
    x = MEAN + SD * torch.randn(500, 3)
    model = build_model(_config(kind)).eval()
    model.scale.fit(x)
    twin = build_model(_config(kind)).eval()
    twin.load_state_dict(model.state_dict())
    twin.scale.mean.zero_(), twin.scale.sd.fill_(1.0)
    return model, twin, x[:20]


@pytest.mark.parametrize("kind", ["vae", "gmvae", "cvae"])
def test_log_p_x_is_log_p_of_standardised_x_minus_sum_log_sd(kind):
    model, twin, x = _scaled_and_twin(kind)
    x_std = (x - model.scale.mean) / model.scale.sd
    log_sd = model.scale.sd.log().sum()
    torch.testing.assert_close(model.scale.mean, MEAN, atol=0.5, rtol=0)  # fitted, not the default 0
    with torch.no_grad():
        torch.manual_seed(1)
        log_w = model.log_weights(x, 16)  # (B, S)
        torch.manual_seed(1)
        torch.testing.assert_close(log_w, twin.log_weights(x_std, 16) - log_sd)
        torch.manual_seed(2)
        log_px, _, _ = importance_weighted(model, x, 64)
        torch.manual_seed(2)
        torch.testing.assert_close(log_px, importance_weighted(twin, x_std, 64)[0] - log_sd)
        torch.manual_seed(3)
        parts = model.loss_parts(x)
        torch.manual_seed(3)
        twin_parts = twin.loss_parts(x_std)
    torch.testing.assert_close(parts["recon"], twin_parts["recon"] + log_sd)
    torch.testing.assert_close(parts["kl"], twin_parts["kl"])


@pytest.mark.parametrize("kind", ["vae", "gmvae", "ae"])
def test_codes_come_from_standardised_x_and_decoded_means_are_in_original_units(kind):
    model, twin, x = _scaled_and_twin(kind)
    x_std = (x - model.scale.mean) / model.scale.sd
    with torch.no_grad():
        torch.manual_seed(4)
        z = model.embed(x)
        torch.manual_seed(4)
        torch.testing.assert_close(z, twin.embed(x_std))
        decoded = twin.decode_mean(z) * model.scale.sd + model.scale.mean
        torch.testing.assert_close(model.decode_mean(z), decoded)
        torch.manual_seed(5)
        recon = twin.loss_parts(x_std)["recon"] + model.scale.sd.log().sum()
        torch.manual_seed(5)
        torch.testing.assert_close(model.loss_parts(x)["recon"], recon)


def test_density_in_original_units_integrates_to_one():
    # One feature on a wide scale (sd 3 around 5), a 1-D latent: p(x) = integral p(x | z) N(z) dz on a
    # grid, then integral p(x) dx over x in original units. Without the Jacobian it would be 1 / sd = 1/3.
    torch.manual_seed(0)
    model = build_model(_config("vae", n_features=1, latent_dim=1)).eval()
    model.scale.fit(5 + 3 * torch.randn(2000, 1))
    z = torch.linspace(-8, 8, 801)[:, None]  # (G, 1)
    x = torch.linspace(-25, 35, 1201)[:, None, None]  # (X, 1, 1)
    with torch.no_grad():
        log_joint = model.log_lik(model.decoder(z), x) + Normal(0.0, 1.0).log_prob(z[:, 0])  # (X, G)
    p_x = np.trapezoid(log_joint.double().exp().numpy(), z[:, 0].numpy(), axis=1)
    assert np.trapezoid(p_x, x[:, 0, 0].numpy()) == pytest.approx(1.0, abs=1e-3)


def test_scaling_round_trips_through_model_pt_and_binary_models_have_none(tmp_path):
    model, _, x = _scaled_and_twin("gmvae")
    config = _config("gmvae")
    runio.save_model(tmp_path / "model.pt", model, config)
    checkpoint = runio.load_model_file(tmp_path / "model.pt")
    assert {"scale.mean", "scale.sd"} <= set(checkpoint["state_dict"])
    loaded = build_model(checkpoint["config"]).eval()
    loaded.load_state_dict(checkpoint["state_dict"])
    torch.testing.assert_close(loaded.scale.sd, model.scale.sd)
    binary = build_model(config | {"likelihood": "bernoulli"})
    assert not [k for k in binary.state_dict() if k.startswith("scale.")]  # old 0/1 model files still load


def test_a_constant_feature_keeps_sd_one():
    model = build_model(_config("vae"))
    model.scale.fit(torch.column_stack([torch.randn(100), torch.full((100,), 4.0), torch.randn(100)]))
    assert model.scale.sd[1] == 1.0 and model.scale.mean[1] == 4.0
