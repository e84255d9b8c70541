"""The model family: the mixture prior, exact-over-y likelihood, training and save/load round trips."""

import itertools

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily, Normal

from common import runio
from common.elbo import importance_weighted
from common.model_table import CHOICES, MODELS, build_model, model_class
from common.models import GMVAE
from common.train import evaluate_loss, fit


def _tiny_gmvae(latent_dim=1):
    torch.manual_seed(0)
    model = GMVAE(n_features=3, latent_dim=latent_dim, hidden_dim=8, likelihood="bernoulli", n_clusters=3)
    # A distinct, non-trivial prior, with components narrower than the untrained q(z | x, y) ~ N(0, 1)
    # so that q is a usable importance proposal (bounded weights).
    with torch.no_grad():
        model.prior_logits.copy_(torch.tensor([0.3, -0.5, 0.1]))
        model.prior_mu.copy_(torch.linspace(-0.6, 0.6, 3 * latent_dim).reshape(3, latent_dim))
        model.prior_log_var.copy_(torch.linspace(-1.0, -0.3, 3 * latent_dim).reshape(3, latent_dim))
    return model


def test_mixture_prior_density_matches_mixture_same_family():
    model = _tiny_gmvae(latent_dim=2)
    _, mu, log_var = model.prior()
    reference = MixtureSameFamily(
        Categorical(logits=model.prior_logits), Independent(Normal(mu, (0.5 * log_var).exp()), 1)
    )
    z = torch.randn(50, 2) * 3
    torch.testing.assert_close(model.prior_log_prob(z), reference.log_prob(z))


def _exact_log_px(model, x):
    """log p(x) = log sum_y p(y) integral p(x | y, z) p(z | y) dz, by the trapezoidal rule over z (1-D)."""
    grid = torch.linspace(-10, 10, 4001)
    log_p_y, mu, log_var = model.prior()
    out = []
    with torch.no_grad():
        for row in x:
            per_y = []
            for y in range(model.n_clusters):
                logits = model.decode(grid[:, None], torch.full((len(grid),), y))
                log_joint = Bernoulli(logits=logits).log_prob(row).sum(-1)
                log_joint += Normal(mu[y, 0], (0.5 * log_var[y, 0]).exp()).log_prob(grid)
                per_y.append(
                    log_p_y[y] + np.log(np.trapezoid(log_joint.exp().double().numpy(), grid.numpy()))
                )
            out.append(torch.logsumexp(torch.tensor(per_y), 0))
    return torch.stack(out)


def _sampled_y_log_px(model, x, n=200_000):
    """log p(x) by importance sampling that SAMPLES y (uniformly) instead of summing over it:
    p(x) = E_{y ~ U, z ~ q(z|x,y)} [K p(y) p(x|y,z) p(z|y) / q(z|x,y)], built from torch.distributions."""
    log_p_y, prior_mu, prior_log_var = model.prior()
    k = model.n_clusters
    out = []
    with torch.no_grad():
        for row in x:
            y = torch.randint(k, (n,))
            mu, log_var = (t[0, y] for t in model.encode(row[None]))  # (n, Z)
            q = Independent(Normal(mu, (0.5 * log_var).exp()), 1)
            z = q.sample()
            prior = Independent(Normal(prior_mu[y], (0.5 * prior_log_var[y]).exp()), 1)
            log_lik = Bernoulli(logits=model.decode(z, y)).log_prob(row).sum(-1)
            log_w = np.log(k) + log_p_y[y] + log_lik + prior.log_prob(z) - q.log_prob(z)
            out.append(torch.logsumexp(log_w, 0) - np.log(n))
    return torch.stack(out)


def test_exact_sum_over_y_equals_sampled_y_and_numerical_integration():
    model = _tiny_gmvae()
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)))[[0, 3, 5, 7]]
    exact = _exact_log_px(model, x)
    torch.manual_seed(1)
    summed, _, _ = importance_weighted(model, x, 20_000)
    sampled = _sampled_y_log_px(model, x)
    torch.testing.assert_close(summed, exact, atol=0.01, rtol=0)
    torch.testing.assert_close(sampled, exact, atol=0.02, rtol=0)
    # The training objective is a lower bound on log p(x) (averaged over its noise), made of named parts.
    elbo = -torch.stack([model.loss_parts(x[i : i + 1])["loss"] for i in range(4) for _ in range(2000)])
    assert torch.all(elbo.reshape(4, 2000).mean(1) <= exact + 0.01)
    parts = model.loss_parts(x, beta=1.0)
    torch.testing.assert_close(parts["loss"], parts["recon"] + parts["kl"])


def test_cluster_probs_are_the_posterior_over_y():
    model = _tiny_gmvae()
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    torch.manual_seed(2)
    probs = model.cluster_probs(x, n_samples=20_000)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
    # Bayes' rule with p(x | y) by numerical integration.
    log_p_y, mu, log_var = model.prior()
    grid = torch.linspace(-10, 10, 4001)
    with torch.no_grad():
        log_px_y = torch.stack(
            [
                torch.tensor(
                    [
                        np.log(
                            np.trapezoid(
                                (
                                    Bernoulli(logits=model.decode(grid[:, None], torch.full((4001,), y)))
                                    .log_prob(row)
                                    .sum(-1)
                                    + Normal(mu[y, 0], (0.5 * log_var[y, 0]).exp()).log_prob(grid)
                                )
                                .exp()
                                .double()
                                .numpy(),
                                grid.numpy(),
                            )
                        )
                        for y in range(3)
                    ]
                )
                for row in x
            ]
        )
    reference = torch.softmax(log_p_y + log_px_y.float(), dim=1)
    torch.testing.assert_close(probs, reference, atol=0.01, rtol=0)
    # In chunks of one row (a budget of 3 outputs x 3 clusters x 20000 samples): the same posterior.
    chunked = model.cluster_probs(x, n_samples=20_000, max_elements=3 * 3 * 20_000)
    torch.testing.assert_close(chunked, reference, atol=0.01, rtol=0)


@pytest.mark.parametrize("kind", sorted(name for name, entry in MODELS.items() if not entry.implicit))
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_every_model_trains_an_epoch_and_round_trips_through_model_pt(kind, likelihood, tmp_path):
    config = {
        "model": kind,
        "n_features": 5,
        "likelihood": likelihood,
        "latent_dim": 2,
        "hidden_dim": 8,
        "n_clusters": 3,
        "corruption": 0.2,
        "noise": "dropout",
    }
    x = torch.bernoulli(torch.full((64, 5), 0.4))
    model = build_model(config)
    before = evaluate_loss(model, x)["loss"]
    history, _ = fit(model, x, epochs=1, batch_size=16, lr=1e-2, beta=1.0, quiet=True)
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    assert evaluate_loss(model, x)["loss"] != before  # the weights moved
    runio.save_model(tmp_path / "model.pt", model, config)
    checkpoint = runio.load_model_file(tmp_path / "model.pt")
    loaded = build_model(checkpoint["config"])
    loaded.load_state_dict(checkpoint["state_dict"])
    model.eval(), loaded.eval()
    torch.manual_seed(3)
    expected = model.embed(x)
    torch.manual_seed(3)
    torch.testing.assert_close(loaded.embed(x), expected)
    assert hasattr(loaded, "log_weights") == model.has_likelihood


def test_dae_corrupts_only_while_training():
    model = build_model(
        {"model": "dae", "n_features": 4, "likelihood": "bernoulli", "latent_dim": 2, "hidden_dim": 8}
        | {"corruption": 0.5, "noise": "flip"}
    )
    x = torch.zeros(1000, 4)
    flipped = model.corrupt(x).mean().item()
    assert 0.45 < flipped < 0.55  # half the bits flipped
    model.eval()
    assert torch.equal(model.corrupt(x), x)


def test_the_model_table_names_each_class_and_says_what_it_can_do():
    for name, entry in MODELS.items():
        cls = model_class(name)
        assert cls.kind == name, entry
        # A model trained with labels is offered by a demo that has them, and a recommender by the
        # implicit mode (common/recsys/options.py: RECOMMENDERS), not by --model.
        assert cls.trained_with_labels == entry.labelled
        assert (name not in CHOICES) == (entry.labelled or entry.implicit)
        assert cls.recovery_method is None or cls.cluster_latent  # the others' clusters: a mixture on codes
        assert cls.kl_term is not None or not cls.has_likelihood  # an autoencoder has no KL and no density
        assert cls.has_likelihood or cls.kl_term is None or entry.implicit  # RecVAE: a KL, p(z|x) no density
    assert not model_class("vae").starts_from_mixture and model_class("gmvae").starts_from_mixture


@pytest.mark.parametrize("kl_warmup", [False, True])
def test_warm_start_warms_the_kl_weight_up_over_half_the_held_updates(kl_warmup):
    from common.warm_start import warm_start

    torch.manual_seed(0)
    model = GMVAE(6, latent_dim=2, hidden_dim=8, n_clusters=3)
    rows = torch.bernoulli(torch.full((64, 6), 0.5))
    betas, loss_parts = [], model.loss_parts

    def spy(x, beta=1.0, **kwargs):
        betas.append(beta)
        return loss_parts(x, beta=beta, **kwargs)

    model.loss_parts = spy
    held = torch.full((64, 3), 1 / 3).numpy()
    warm_start(model, [1 / 3] * 3, torch.rand(3, 6).numpy(), rows=rows, responsibilities=held, batch_size=16,
               epochs=2, max_held_steps=8, kl_warmup=kl_warmup)  # fmt: skip
    expected = [0.25, 0.5, 0.75, 1, 1, 1, 1, 1] if kl_warmup else [1.0] * 8  # 2 epochs of 4 updates
    assert betas == pytest.approx(expected)


def test_warm_start_reads_sparse_rows_as_their_dense_twin():
    # The implicit mode's gmvae warms up on a scipy.sparse user-item matrix, a batch densified at a time.
    from scipy import sparse

    from common.warm_start import warm_start

    rows = torch.bernoulli(torch.full((48, 6), 0.3))
    held = torch.softmax(torch.randn(48, 3), -1).numpy()
    models = []
    for given in (rows, sparse.csr_matrix(rows.numpy())):
        torch.manual_seed(0)
        model = GMVAE(6, latent_dim=2, hidden_dim=8, likelihood="multinomial", n_clusters=3)
        warm_start(model, [1 / 3] * 3, torch.rand(3, 6).numpy(), rows=given, responsibilities=held,
                   batch_size=16, epochs=2, kl_warmup=True)  # fmt: skip
        models.append(model)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mixed_reconstruct_averages_each_clusters_decoding_by_its_posterior():
    torch.manual_seed(0)
    model = GMVAE(6, latent_dim=2, hidden_dim=8, likelihood="multinomial", n_clusters=3)
    x = torch.bernoulli(torch.full((5, 6), 0.4))
    torch.manual_seed(1)
    mixed = model.mixed_reconstruct(x)
    torch.manual_seed(1)  # the same draws for q(y | x)
    q = model.cluster_probs(x, 16)  # (5, 3)
    mu, _ = model.encode(x)
    expected = sum(
        q[:, [y]] * model.decode_mean(mu[:, y], torch.full((5,), y, dtype=torch.long)) for y in range(3)
    )
    torch.testing.assert_close(mixed, expected)
    torch.testing.assert_close(mixed.sum(1), torch.ones(5))  # shares of a user's likes
