"""RecVAE (--model recvae, implicit mode): the composite prior against torch.distributions, the loss written
out by hand, the alternating schedule's phases, a run end to end and the refusals."""

import json
import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

import movie_dlvm
from common.recvae import RecVAE, fit_alternating

IMPLICIT = ["--likelihood", "multinomial", "--users", "400", "--movies", "10", "--quiet"]
TINY_RECVAE = [*IMPLICIT, "--model", "recvae", "--epochs", "2", "--hidden-dim", "16", "--latent-dim", "4"]


def _model(n_items=30, **options):
    torch.manual_seed(0)
    return RecVAE(n_items, latent_dim=3, hidden_dim=8, hidden_layers=3, **options)


def _likes(n_users=12, n_items=30, seed=1):
    generator = torch.Generator().manual_seed(seed)
    likes = torch.bernoulli(torch.full((n_users, n_items), 0.2), generator=generator)
    likes[:, 0] = 1.0  # every user likes something
    return likes


def test_the_composite_prior_is_the_mixture_of_its_three_gaussians():
    model = _model()
    with torch.no_grad():  # an old encoder unlike the encoder, so the test tells them apart
        for p in model.old_encoder.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x, z = _likes(), torch.randn(12, 3)
    model.eval()
    with torch.no_grad():
        old_mu, old_log_var = model.old_encoder(x, 0.0)
    locs = torch.stack([torch.zeros_like(z), old_mu, torch.zeros_like(z)], 1)  # (B, 3, Z)
    wide = torch.full_like(z, math.exp(5.0))  # sd of the wide component: log-variance 10
    scales = torch.stack([torch.ones_like(z), torch.exp(0.5 * old_log_var), wide], 1)
    prior = MixtureSameFamily(
        Categorical(probs=torch.tensor([3 / 20, 3 / 4, 1 / 10]).expand(12, 3)),
        Independent(Normal(locs, scales), 1),
    )
    assert torch.allclose(model.prior_log_prob(z, x), prior.log_prob(z), atol=1e-5)


def test_the_loss_weights_each_users_kl_by_gamma_times_their_likes():
    model = _model(gamma=0.01)
    x = _likes()
    model.train()
    model.dropout = 0.0
    torch.manual_seed(3)
    parts = model.loss_parts(x)
    torch.manual_seed(3)
    with torch.no_grad():
        mu, log_var = model.encoder(x, 0.0)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        posterior = Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)
        kl = posterior.log_prob(z) - model.prior_log_prob(z, x)
        log_lik = (torch.log_softmax(model.decoder(z), -1) * x).sum(-1)  # the multinomial, up to a constant
        coefficient = torch.lgamma(x.sum(-1) + 1) - torch.lgamma(x + 1).sum(-1)
        recon = -(log_lik + coefficient)
    assert parts["recon"].item() == pytest.approx(recon.mean().item(), rel=1e-5)
    assert parts["kl"].item() == pytest.approx(kl.mean().item(), rel=1e-4, abs=1e-5)
    assert parts["loss"].item() == pytest.approx((recon + 0.01 * x.sum(-1) * kl).mean().item(), rel=1e-5)


def test_each_phase_updates_only_its_half_and_the_prior_follows_the_encoder(monkeypatch):
    """An epoch with --encoder-epochs 2: two passes that move the encoder alone (the prior's copy held),
    the copy then set to the encoder, and one pass that moves the decoder alone."""
    import common.train

    model, x = _model(encoder_epochs=2), _likes(n_users=40)
    passes, train_epoch = [], common.train.train_epoch

    def snapshot():
        return {name: {k: v.clone() for k, v in getattr(model, name).state_dict().items()}
                for name in ("encoder", "decoder", "old_encoder")}  # fmt: skip

    def recorded(*args, **kwargs):
        before = snapshot()
        out = train_epoch(*args, **kwargs)
        after = snapshot()
        moved = {n for n in before if any(not torch.equal(before[n][k], after[n][k]) for k in before[n])}
        passes.append((moved, model.dropout, before["old_encoder"]))
        return out

    monkeypatch.setattr(common.train, "train_epoch", recorded)
    fit_alternating(model, x, epochs=1, batch_size=8, lr=1e-2, quiet=True)
    assert [moved for moved, _, _ in passes] == [{"encoder"}, {"encoder"}, {"decoder"}]
    assert [dropout for _, dropout, _ in passes] == [0.5, 0.5, 0.0]  # input dropout in the encoder phase only
    old, encoder = model.old_encoder.state_dict(), model.encoder.state_dict()
    assert all(torch.equal(old[k], encoder[k]) for k in old)  # refreshed after the encoder phase
    assert not all(torch.equal(passes[0][2][k], old[k]) for k in old)  # and not before
    assert all(p.requires_grad for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert not any(p.requires_grad for p in model.old_encoder.parameters())


def test_a_recvae_run_ranks_and_reports(tmp_path, capsys):
    assert (
        movie_dlvm.main([a for a in TINY_RECVAE if a != "--quiet"] + ["--visualize", "--out", str(tmp_path)])
        == 0
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    config = json.loads((tmp_path / "config.json").read_text())
    assert metrics["model"] == "recvae" and 0 <= metrics["ranking"]["ndcg@100"] <= 1
    assert config["gamma"] == 0.005 and config["encoder_epochs"] == 3 and config["hidden_layers"] == 5
    assert config["lr"] == 1e-3
    assert "movie: RecVAE on " in capsys.readouterr().out
    assert (tmp_path / "training.png").exists() and (tmp_path / "ranking_history.png").exists()


@pytest.mark.parametrize(
    "argv, says",
    [
        ([*TINY_RECVAE, "--beta", "0.5"], "argument --beta: the recvae weights each user's KL by --gamma"),
        ([*TINY_RECVAE, "--anneal-steps", "10"], "argument --anneal-steps: the recvae weights"),
        ([*IMPLICIT, "--gamma", "0.1"], "argument --gamma: applies to --model recvae only"),
        ([*IMPLICIT, "--model", "gmvae", "--encoder-epochs", "2"], "argument --encoder-epochs: applies to"),
        (["--model", "recvae", "--quiet"], "argument --model: invalid choice: 'recvae'"),
        ([*TINY_RECVAE, "--gamma", "0"], "argument --gamma: 0 is out of range"),
    ],
)
def test_recvae_options_are_refused_where_they_do_not_apply(argv, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        movie_dlvm.main([*argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and says in err, err


def test_a_recvae_round_trips_through_model_pt(tmp_path):
    from common import runio
    from common.model_table import build_model

    config = {"model": "recvae", "n_features": 30, "likelihood": "multinomial", "latent_dim": 3}
    config |= {"hidden_dim": 8, "hidden_layers": 2, "gamma": 0.01, "encoder_epochs": 1, "input_dropout": 0.5}
    model = build_model(config)
    fit_alternating(model, _likes(n_users=40), epochs=1, batch_size=8, lr=1e-2, quiet=True)
    runio.save_model(tmp_path / "model.pt", model, config)
    loaded = build_model(runio.load_model_file(tmp_path / "model.pt")["config"])
    loaded.load_state_dict(runio.load_model_file(tmp_path / "model.pt")["state_dict"])
    model.eval(), loaded.eval()
    x = _likes()
    torch.testing.assert_close(loaded.reconstruct(x), model.reconstruct(x))
    assert loaded.gamma == 0.01 and loaded.encoder_epochs == 1 and len(loaded.encoder.linears) == 2
