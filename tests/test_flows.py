"""Posterior flows against independent references: autograd Jacobians, and a Monte Carlo check that
q_K(z_K) = q_0(z_0) - sum log|det| is a normalised density."""

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from common.flows import Flow, IAFStep, PlanarStep

CONTEXT, HIDDEN = 3, 8


def _randomised(module, scale=0.5):
    """The module in float64 with every parameter redrawn ~ N(0, scale^2): far from the identity start."""
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn_like(p))
    return module


def _jacobian(module, z, h):
    """dz'/dz (Z, Z) at one row z (Z,) with context h (H,)."""
    return jacobian(lambda z: module(z, h)[0], z)


@pytest.mark.parametrize("kind", Flow.KINDS)
@pytest.mark.parametrize("latent_dim", [1, 2, 3])
def test_log_det_is_log_abs_det_of_the_autograd_jacobian(kind, latent_dim):
    flow = _randomised(Flow(kind, 3, latent_dim, CONTEXT, HIDDEN))
    for _ in range(5):
        z, h = torch.randn(latent_dim, dtype=torch.float64), torch.randn(CONTEXT, dtype=torch.float64)
        _, log_det = flow(z, h)
        reference = torch.linalg.slogdet(_jacobian(flow, z, h)).logabsdet
        assert abs(log_det.item() - reference.item()) < 1e-5
        assert abs(reference.item()) > 1e-3  # the parameters are far enough from the identity to tell


@pytest.mark.parametrize("latent_dim", [2, 3])
def test_iaf_step_is_triangular_and_the_reversed_flow_is_not(latent_dim):
    z, h = torch.randn(latent_dim, dtype=torch.float64), torch.randn(CONTEXT, dtype=torch.float64)
    step = _jacobian(_randomised(IAFStep(latent_dim, CONTEXT, HIDDEN)), z, h)
    assert torch.equal(torch.triu(step, diagonal=1), torch.zeros_like(step))  # z'_i sees z_<=i only
    assert torch.tril(step, diagonal=-1).abs().max() > 1e-3  # ... and does see them
    full = _jacobian(_randomised(Flow("iaf", 2, latent_dim, CONTEXT, HIDDEN)), z, h)
    assert torch.triu(full, diagonal=1).abs().max() > 1e-3
    assert torch.tril(full, diagonal=-1).abs().max() > 1e-3


def test_iaf_with_one_latent_dimension_depends_on_the_context():
    step = _randomised(IAFStep(1, CONTEXT, HIDDEN))
    z = torch.randn(4, 1, dtype=torch.float64)
    z1, _ = step(z, torch.randn(4, CONTEXT, dtype=torch.float64))
    z2, _ = step(z, torch.randn(4, CONTEXT, dtype=torch.float64))
    assert (z1 - z2).abs().min() > 1e-6


def test_planar_step_stays_invertible_for_any_context_and_any_z():
    step = _randomised(PlanarStep(2, CONTEXT), scale=3.0)
    h = torch.randn(1000, CONTEXT, dtype=torch.float64)
    u, w, _ = step.params(h).split([2, 2, 1], dim=-1)
    assert ((w * u).sum(-1) < -1).any()  # unconstrained, many of these steps would not be invertible
    u_hat, w, b, slack = step.amortised(h)
    assert ((w * u_hat).sum(-1) >= -1 - 1e-12).all() and (slack > 0).all()  # slack = 1 + w.u_hat
    # The worst z: on the hyperplane w.z + b = 0, where 1 - tanh^2 = 1; and far away, where it is 0.
    on_plane = -b * w / w.pow(2).sum(-1, keepdim=True)
    for z in (on_plane, 1e3 * torch.randn(1000, 2, dtype=torch.float64)):
        _, log_det = step(z, h)
        assert torch.isfinite(log_det).all()


@pytest.mark.parametrize("kind", Flow.KINDS)
def test_flow_starts_near_the_identity(kind):
    flow = Flow(kind, 2, 3, CONTEXT, HIDDEN)
    z, h = torch.randn(64, 3), torch.randn(64, CONTEXT)
    z_k, log_det = flow(z, h)
    if kind == "planar":  # exactly the identity
        torch.testing.assert_close(z_k, z)
        torch.testing.assert_close(log_det, torch.zeros(64))
    else:  # z -> sigmoid(2) z a step, the same linear map for every row: q_0 stays a diagonal Gaussian
        shrink = torch.sigmoid(torch.tensor(2.0))
        torch.testing.assert_close(z_k, shrink**2 * z)
        torch.testing.assert_close(log_det, torch.full((64,), 2 * 3 * math.log(shrink)))
        assert (z_k - z).abs().max() < 0.25 * z.abs().max()


@pytest.mark.parametrize("kind", Flow.KINDS)
def test_samples_broadcast_against_one_context_per_row(kind):
    flow = _randomised(Flow(kind, 2, 3, CONTEXT, HIDDEN))
    z, h = torch.randn(5, 4, 3, dtype=torch.float64), torch.randn(5, CONTEXT, dtype=torch.float64)
    z_k, log_det = flow(z, h[:, None])  # (B, S, Z) with (B, 1, H)
    assert z_k.shape == (5, 4, 3) and log_det.shape == (5, 4)
    for s in range(4):
        row_z, row_log_det = flow(z[:, s], h)
        torch.testing.assert_close(z_k[:, s], row_z)
        torch.testing.assert_close(log_det[:, s], row_log_det)


@pytest.mark.parametrize("kind", Flow.KINDS)
def test_flow_density_integrates_to_one(kind):
    """E_q[p(z_K) / q_K(z_K)] = integral of p = 1 for a normalised p, with log q_K = log q_0 - log_det;
    the opposite sign of log_det misses it by many standard errors. p = N(0, 0.5^2 I) is narrower than
    q_K, so that p / q_K stays bounded: with p = N(0, I) the ratio can be heavy-tailed, and its mean over
    200k samples then falls short of 1 by more than its standard error says."""
    flow = _randomised(Flow(kind, 3, 2, CONTEXT, HIDDEN), scale=0.3)
    n, h = 200_000, torch.randn(CONTEXT, dtype=torch.float64)
    z0 = torch.randn(n, 2, dtype=torch.float64)
    with torch.no_grad():
        z_k, log_det = flow(z0, h)

    def log_normal(z, scale=1.0):
        return -0.5 * (math.log(2 * math.pi) + 2 * math.log(scale) + (z / scale).pow(2)).sum(-1)

    for sign in (1, -1):
        ratio = torch.exp(log_normal(z_k, 0.5) - (log_normal(z0) - sign * log_det))
        mean, error = ratio.mean().item(), ratio.std().item() / math.sqrt(n)
        assert error < 0.02
        if sign == 1:
            assert abs(mean - 1) < 4 * error, (mean, error)
        else:
            assert abs(mean - 1) > 8 * error, (mean, error)
