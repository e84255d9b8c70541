"""The cuisine world against numerical integration, scipy's Gaussians, Bayes' rule and large samples."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import adjusted_rand_score

import cuisine_dlvm
from cuisine_dlvm import CuisineWorld
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def world():
    return CuisineWorld()


@pytest.fixture(scope="module")
def big_sample(world):
    return world.sample(400_000, np.random.default_rng(0))


def _scipy_components(world):
    """One frozen scipy Gaussian per region, from the world's means and covariances."""
    return [
        stats.multivariate_normal(mean, cov)
        for mean, cov in zip(world.region_means(), world.region_covariances(), strict=True)
    ]


def test_density_integrates_to_one_over_a_two_flavour_grid():
    world = CuisineWorld(flavours=["sweet", "spicy"])
    grid = np.linspace(-15, 25, 401)  # every region mean +- more than 7 standard deviations
    sweet, spicy = np.meshgrid(grid, grid, indexing="ij")
    density = np.exp(world.log_prob(np.column_stack([sweet.ravel(), spicy.ravel()]))).reshape(sweet.shape)
    total = np.trapezoid(np.trapezoid(density, grid, axis=1), grid)
    assert total == pytest.approx(1.0, abs=1e-8)


def test_density_integrates_to_one_by_adaptive_quadrature_in_one_flavour():
    world = CuisineWorld(flavours=["rich"])
    total, _ = integrate.quad(lambda v: np.exp(world.log_prob(np.array([[v]])))[0], -np.inf, np.inf)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_log_prob_matches_a_scipy_gaussian_mixture(world, big_sample):
    x = big_sample.x[:500]
    reference = np.log(sum(p * c.pdf(x) for p, c in zip(world.prior, _scipy_components(world), strict=True)))
    np.testing.assert_allclose(world.log_prob(x), reference, rtol=1e-10)


def test_posterior_is_bayes_rule(world, big_sample):
    x = big_sample.x[:500]
    posterior = world.posterior(x)
    np.testing.assert_allclose(posterior.sum(1), 1.0, atol=1e-12)
    joint = np.column_stack(
        [p * c.pdf(x) for p, c in zip(world.prior, _scipy_components(world), strict=True)]
    )
    np.testing.assert_allclose(posterior, joint / joint.sum(1, keepdims=True), rtol=1e-8, atol=1e-300)


def test_sample_has_the_prevalences(world, big_sample):
    shares = np.bincount(big_sample.labels, minlength=world.n_classes) / len(big_sample)
    np.testing.assert_allclose(shares, world.prior, atol=0.005)


def test_sample_moments_per_region_match_the_parameters(world, big_sample):
    # The sample is drawn through the latent factors; the covariances are the closed form. Each
    # estimate is compared within 5 standard errors: var(S_ij) ~ (S_ii S_jj + S_ij^2) / n for Gaussians.
    for k, (mean, cov) in enumerate(zip(world.region_means(), world.region_covariances(), strict=True)):
        x = big_sample.x[big_sample.labels == k].astype(np.float64)
        n = len(x)
        mean_error = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(x.mean(0) - mean) < 5 * mean_error), world.class_names[k]
        cov_error = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
        assert np.all(np.abs(np.cov(x, rowvar=False) - cov) < 5 * cov_error), world.class_names[k]


def test_richness_correlates_with_the_flavours_it_loads_on(world, big_sample):
    # r is independent of the region, so cov(r, x_d) = w_d and var(x_d) is the mixture variance.
    means, covs = world.region_means(), world.region_covariances()
    second_moment = world.prior @ (np.diagonal(covs, axis1=1, axis2=2) + means**2)  # E[x_d^2], (D,)
    variance = second_moment - (world.prior @ means) ** 2
    expected = world.richness_loading / np.sqrt(variance)
    r = big_sample.factors["richness"]
    observed = np.array([np.corrcoef(r, column)[0, 1] for column in big_sample.x.T])
    np.testing.assert_allclose(observed, expected, atol=0.01)
    rich = world.feature_names.index("rich")
    assert observed[rich] > 0.5 and observed.argmax() == rich
    assert abs(observed[world.feature_names.index("spicy")]) < 0.01  # richness does not load on heat


def test_sample_types_and_named_factors(world):
    sample = world.sample(1000, np.random.default_rng(2))
    assert sample.x.shape == (1000, 10) and sample.x.dtype == np.float32
    assert sample.labels.shape == (1000,) and set(sample.factors) == set(world.factor_names)
    assert world.n_classes >= 6 and world.n_features >= 8


def test_same_rng_seed_gives_the_same_sample(world):
    a = world.sample(100, np.random.default_rng(5))
    b = world.sample(100, np.random.default_rng(5))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.factors["richness"], b.factors["richness"])
    assert not np.array_equal(a.x, world.sample(100, np.random.default_rng(6)).x)


def test_regions_are_recoverable_but_not_trivially(world):
    sample = world.sample(20_000, np.random.default_rng(3))
    predicted = world.posterior(sample.x).argmax(1)
    assert 0.85 < np.mean(predicted == sample.labels) < 0.95
    assert adjusted_rand_score(sample.labels, predicted) < 0.9


def test_a_flavour_subset_is_the_marginal_of_the_full_world(world):
    flavours = ["spicy", "sweet", "smoky"]
    small = CuisineWorld(flavours=flavours)
    columns = [world.feature_names.index(f) for f in flavours]
    np.testing.assert_array_equal(small.region_means(), world.region_means()[:, columns])
    np.testing.assert_allclose(
        small.region_covariances(), world.region_covariances()[:, columns][:, :, columns], rtol=1e-14
    )
    assert small.feature_names == flavours and small.n_features == 3


def test_unknown_flavour_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="umami"):
        CuisineWorld(flavours=["sweet", "garlicky"])


def test_to_dict_names_every_region_and_flavour(world):
    d = json.loads(json.dumps(world.to_dict()))  # world.json must be plain JSON
    assert d["regions"] == world.class_names and d["flavours"] == world.feature_names
    assert sum(d["prevalence"].values()) == pytest.approx(1.0)
    for table in ("mean", "style_loading", "noise_sd", "covariance"):
        assert list(d[table]) == world.class_names, table
    for region in world.class_names:
        assert list(d["mean"][region]) == world.feature_names
        assert list(d["noise_sd"][region]) == world.feature_names
        assert len(d["style_loading"][region]) == 2
        assert list(d["covariance"][region]["rich"]) == world.feature_names
    assert list(d["richness_loading"]) == world.feature_names
    assert d["covariance"]["Nordic"]["rich"]["umami"] == pytest.approx(
        world.region_covariances()[world.class_names.index("Nordic"), 6, 4]
    )


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys, cuisine_dlvm\n"
        "try:\n    cuisine_dlvm.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout
    assert "--samples" in out.stdout and "(default: 80)" in out.stdout


def test_the_demo_runs_end_to_end(tmp_path):
    argv = ["--samples", "300", "--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]
    assert cuisine_dlvm.main([*argv, "--save-data", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["demo"] == "cuisine" and metrics["data"]["n_features"] == 10
    assert np.isfinite(metrics["test"]["true_nll"]) and "r2" in metrics["test"]["recon"]
    assert json.loads((tmp_path / "world.json").read_text())["regions"] == cuisine_dlvm.REGIONS


def test_richness_bands_of_a_dish_match_integration_over_a_grid(world):
    # Reference: p(r | x) proportional to p(r) sum_k pi_k N(x | mu_k + w r, W_k W_k^T + psi_k), built
    # from the loadings directly (no Gaussian conditioning), integrated over each band by trapezoids.
    rng = np.random.default_rng(3)
    x = np.vstack([world.sample(4, rng).x, world.means[0], world.means[6] + 3 * world.richness_loading])
    given_region = [
        stats.multivariate_normal(np.zeros(world.n_features), w @ w.T + np.diag(psi))
        for w, psi in zip(world.style_loadings, world.noise_var, strict=True)
    ]

    def density(r):  # (n, R), unnormalised
        residuals = x[:, None] - r[:, None] * world.richness_loading  # (n, R, D)
        mixture = sum(
            pi * g.pdf(residuals - mu)
            for pi, g, mu in zip(world.prior, given_region, world.means, strict=True)
        )
        return mixture * stats.norm.pdf(r)

    edges = [-9, *cuisine_dlvm.RICHNESS_BANDS, 9]  # beyond +-9 the prior leaves nothing
    grids = [np.linspace(a, b, 4001) for a, b in itertools.pairwise(edges)]
    mass = np.stack([np.trapezoid(density(r), r, axis=1) for r in grids], 1)  # (n, bands)
    reference = mass / mass.sum(1, keepdims=True)

    read = world.output_factors(x)
    np.testing.assert_allclose(read["richness"], reference, atol=1e-6)
    np.testing.assert_allclose(read["region"], world.posterior(x))
    assert read["richness"][-1].argmax() == 4  # a dish far up the richness direction reads as rich
