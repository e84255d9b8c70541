"""The VQ-VAE with a learned prior over its codes: an exact density, Bayes' rule, straight-through
gradients, the data-dependent start, dead-code re-seeding and training on an easy world."""

import itertools

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.metrics import adjusted_rand_score
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily

from common.train import fit_restarts
from common.vqvae import VQVAE
from common.world import Sample, split


class EasyWorld:
    """Three well-separated classes of 10 binary features (as tests/test_model_family.py's)."""

    n_classes = 3
    prior = np.array([0.4, 0.35, 0.25])
    theta = np.array([[0.9] * 4 + [0.1] * 6, [0.1] * 3 + [0.9] * 4 + [0.1] * 3, [0.1] * 6 + [0.9] * 4])

    def sample(self, n, rng):
        labels = rng.choice(3, size=n, p=self.prior)
        return Sample((rng.random((n, 10)) < self.theta[labels]).astype(np.float32), labels)

    def log_prob(self, x):
        """Exact log p(x) per row, (n,)."""
        log_joint = np.log(self.prior) + x @ np.log(self.theta).T + (1 - x) @ np.log1p(-self.theta).T
        return logsumexp(log_joint, axis=1)


def _tiny(**kwargs):
    """4 binary features, 3 codes, random weights, a non-uniform prior."""
    torch.manual_seed(0)
    model = VQVAE(n_features=4, latent_dim=2, hidden_dim=8, n_clusters=3, **kwargs)
    with torch.no_grad():
        model.prior_logits.copy_(torch.tensor([0.5, -1.0, 0.2]))
    return model


ALL_ROWS = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))  # every binary row of 4 features


def test_probabilities_of_all_binary_rows_sum_to_one():
    with torch.no_grad():
        total = _tiny().log_px(ALL_ROWS).exp().sum()
    assert abs(float(total) - 1) < 1e-5


def test_log_px_is_the_mixture_of_the_decoded_codes():
    model = _tiny()
    with torch.no_grad():
        log_p_k, codes, _ = model.prior()
        probs = model.decode_mean(codes, torch.arange(3))  # (K, D): p(x_d = 1 | e_k)
        reference = MixtureSameFamily(Categorical(logits=log_p_k), Independent(Bernoulli(probs=probs), 1))
        torch.testing.assert_close(model.log_px(ALL_ROWS), reference.log_prob(ALL_ROWS))
        # Every S samples of log_weights are the exact log p(x): the importance-sampled NLL has no error.
        torch.testing.assert_close(
            model.log_weights(ALL_ROWS, 5), model.log_px(ALL_ROWS)[:, None].expand(-1, 5)
        )


def test_cluster_probs_are_bayes_rule():
    model = _tiny()
    with torch.no_grad():
        probs = model.cluster_probs(ALL_ROWS, n_samples=64)
        log_p_k, codes, _ = model.prior()
        log_lik = model.log_lik(model.decoder(codes), ALL_ROWS[:, None])  # (B, K) log p(x | e_k)
        bayes = (log_p_k + log_lik - model.log_px(ALL_ROWS)[:, None]).exp()
    torch.testing.assert_close(probs.sum(1), torch.ones(len(ALL_ROWS)))
    torch.testing.assert_close(probs, bayes)


def _grads(model, x, part, train):
    """Gradient norm of each parameter group for one part of loss_parts; None when no gradient reached it."""
    model.zero_grad()
    model.train(train)
    parts = model.loss_parts(x)
    parts[part].backward()
    groups = {
        "encoder": list(model.encoder.parameters()),
        "decoder": list(model.decoder.parameters()),
        "codebook": [model.codebook],
        "prior_logits": [model.prior_logits],
    }
    grads = {name: [p.grad for p in params if p.grad is not None] for name, params in groups.items()}
    return {name: sum(float(g.abs().sum()) for g in gs) if gs else None for name, gs in grads.items()}


def test_gradients_follow_the_straight_through_estimator():
    x = ALL_ROWS
    recon = _grads(_tiny(), x, "recon", train=False)  # recon reaches the encoder through z_q
    assert recon["encoder"] > 0 and recon["decoder"] > 0
    assert recon["codebook"] is None and recon["prior_logits"] is None
    kl = _grads(_tiny(), x, "kl", train=False)  # -log p(k(x)) trains the prior only
    assert kl["prior_logits"] > 0 and kl["encoder"] is kl["decoder"] is kl["codebook"] is None
    # Training mode adds ||sg[z_e] - e_k||^2 + commitment ||z_e - sg[e_k]||^2: with commitment 0 only the
    # codebook moves; with commitment the encoder too; the prior and the decoder never.
    vq = _grads(_tiny(commitment=0.0), x, "penalty", train=True)
    assert vq["codebook"] > 0 and vq["encoder"] == 0 and vq["decoder"] is vq["prior_logits"] is None
    assert _grads(_tiny(), x, "penalty", train=True)["encoder"] > 0


def test_codebook_terms_are_trained_on_but_never_part_of_the_bound():
    model = _tiny()
    with torch.no_grad():
        model.eval()
        parts = model.loss_parts(ALL_ROWS)
        torch.testing.assert_close(parts["loss"], parts["recon"] + parts["kl"])  # the bound -log p(x, k(x))
        assert float(parts["loss"]) >= float(-model.log_px(ALL_ROWS).mean()) and "penalty" not in parts
        model.train()
        trained = model.loss_parts(ALL_ROWS)
        torch.testing.assert_close(trained["loss"], parts["loss"])  # history.csv's loss stays the bound
        assert float(trained["penalty"]) > 0  # common/train.py adds it to the loss it backpropagates


def test_a_dead_code_is_reseeded_at_a_badly_reconstructed_row():
    for reseed in (False, True):
        model = _tiny(reseed=reseed)
        with torch.no_grad():
            model.codebook[2] = 100.0  # far from every z_e: code 2 takes no rows
            model.usage.copy_(torch.tensor([0.5, 0.5, 0.0]))  # and has taken none for long
            before, z_e = model.codebook.detach().clone(), model.embed(ALL_ROWS)
            recon = -model.log_lik(model.decoder(before[model.nearest(z_e)]), ALL_ROWS)  # (B,)
            model.train()
            model.loss_parts(ALL_ROWS)
            after = model.codebook.detach()
        torch.testing.assert_close(after[:2], before[:2])  # live codes stay where they are
        if reseed:  # code i goes to the i-th worst reconstructed row: code 2 to the third worst
            torch.testing.assert_close(after[2], z_e[recon.argsort(descending=True)[2]])
            assert abs(float(model.usage[2]) - 1 / 3) < 1e-6  # counted as alive again
        else:
            torch.testing.assert_close(after[2], before[2])


def test_figures_read_codes_and_every_z_snaps_to_its_code():
    model = _tiny()
    with torch.no_grad():
        log_p_k, codes, log_var = model.prior()
        assert log_p_k.shape == (3,) and codes.shape == log_var.shape == (3, 2) and (log_var < -9).all()
        torch.testing.assert_close(log_p_k.exp().sum(), torch.tensor(1.0))
        z = codes[[2, 0, 1]] + 1e-3  # next to codes 2, 0, 1
        by_code = model.decode_mean(None, torch.arange(3))  # (K, D)
        torch.testing.assert_close(model.decode_mean(z), by_code[[2, 0, 1]])
        torch.testing.assert_close(model.decode_mean(z, torch.tensor([0, 0, 0])), by_code[[0, 0, 0]])
        best = model.cluster_probs(ALL_ROWS).argmax(1)
        torch.testing.assert_close(model.reconstruct(ALL_ROWS), by_code[best])
        assert model.embed(ALL_ROWS).shape == (16, 2)
        torch.manual_seed(0)
        drawn = model.sample(4000, torch.full((4000,), 1))
    torch.testing.assert_close(drawn.mean(0), by_code[1], atol=0.03, rtol=0)


def test_start_from_rows_puts_distinct_codes_on_encoder_outputs():
    model = _tiny()
    rows = ALL_ROWS[torch.randint(len(ALL_ROWS), (200,))]
    torch.manual_seed(1)
    with torch.no_grad():
        model.start_from_rows(rows)
        z_e, codes = model.embed(ALL_ROWS), model.codebook
    matches = torch.cdist(codes, z_e) < 1e-6  # (K, rows)
    assert matches.any(1).all() and len(torch.unique(codes, dim=0)) == 3


def test_training_on_an_easy_world_uses_every_code_and_recovers_the_classes():
    """Best of 3 starts by training bound, as --restarts 3: a single start finds the three classes in about
    half of the seeds (two classes share a code, one is split), the best of three in 16 of 16."""
    world, rng = EasyWorld(), np.random.default_rng(0)
    train, test = split(world.sample(3000, rng), 0.2, rng)
    x_train, x_test = torch.as_tensor(train.x), torch.as_tensor(test.x)

    def build():
        return VQVAE(10, latent_dim=2, hidden_dim=16, n_clusters=3)

    torch.manual_seed(0)  # as fit_restarts' first start
    with torch.no_grad():
        before = float(build().start_from_rows(x_train).log_px(x_test).mean())

    def prepare(model):
        model.start_from_rows(x_train)

    training = dict(epochs=20, batch_size=128, lr=5e-3, beta=1.0, quiet=True)
    model, _, _, _ = fit_restarts(build, x_train, restarts=3, seed=0, prepare=prepare, **training)
    model.eval()
    with torch.no_grad():
        after = float(model.log_px(x_test).mean())
        found = model.cluster_probs(x_test).argmax(1).numpy()
        nearest = model.nearest(model.embed(x_train)).numpy()
        samples = model.sample(500)
    assert after > before + 1.0
    # The world is a mixture of three codes' Bernoullis: the model comes close to its exact log p(x).
    assert after > world.log_prob(test.x).mean() - 0.2
    assert (np.bincount(nearest, minlength=3) / len(nearest) > 0.1).all()  # no dead code
    assert adjusted_rand_score(test.labels, found) > 0.9
    assert samples.shape == (500, 10) and set(samples.unique().tolist()) <= {0.0, 1.0}
