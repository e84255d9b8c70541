"""The model family through the demo: --model, --clusters, --restarts, --anneal-epochs, --corruption."""

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import disease_dlvm
from common import cli, pipeline
from common.options import RunOptions
from common.world import Sample, World

TINY = ["--samples", "400", "--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]


class EasyWorld(World):
    """Three well-separated classes of 10 binary features: a latent class model, exact in closed form."""

    name = "easy"
    likelihood = "bernoulli"
    feature_names = [f"f{j}" for j in range(10)]
    class_names = ["a", "b", "c"]
    prior = np.array([0.4, 0.35, 0.25])
    theta = np.array([[0.9] * 4 + [0.1] * 6, [0.1] * 3 + [0.9] * 4 + [0.1] * 3, [0.1] * 6 + [0.9] * 4])

    def sample(self, n, rng):
        labels = rng.choice(3, size=n, p=self.prior)
        return Sample((rng.random((n, 10)) < self.theta[labels]).astype(np.float32), labels)

    def log_joint(self, x):
        return np.log(self.prior) + x @ np.log(self.theta).T + (1 - x) @ np.log1p(-self.theta).T

    def to_dict(self):
        return {"prior": self.prior.tolist(), "theta": self.theta.tolist()}


@dataclass
class EasyOptions(RunOptions):
    """A new world's options: the shared ones, one of its own, a default of its own."""

    demo: ClassVar[str] = "easy"
    samples: int = cli.option(1500, "rows drawn from the world", group="data", type=cli.POSITIVE_INT)
    model: str = "gmvae"


def _run_easy(argv, out):
    args = cli.parse(EasyOptions, [*argv, "--out", str(out)])
    assert pipeline.run(EasyWorld(), args).code == 0
    return json.loads((out / "metrics.json").read_text())


def test_clusters_auto_picks_the_true_number_on_an_easy_world(tmp_path):
    argv = ["--clusters", "auto", "--samples", "3000", "--epochs", "40", "--batch-size", "128"]
    argv += ["--latent-dim", "1", "--hidden-dim", "16", "--iw-samples", "50", "--quiet"]
    metrics = _run_easy([*argv, "--visualize"], tmp_path)
    selection = metrics["model_selection"]
    assert selection["k"] == [2, 3, 4, 5, 6] and len(selection["nll"]) == 5
    assert selection["best_k"] == 3
    assert metrics["clusters"]["k"] == 3 and metrics["clusters"]["in_use"] == 3
    assert metrics["recovery"]["ari"] > 0.9 * metrics["recovery"]["bayes_ari"]
    assert (tmp_path / "model_selection.png").exists() and (tmp_path / "clusters.png").exists()


@pytest.mark.parametrize("model", ["ae", "dae"])
def test_autoencoders_report_reconstruction_and_recovery_but_no_likelihood(model, tmp_path):
    assert disease_dlvm.main([*TINY, "--model", model, "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["test"]) == {"recon"}
    assert metrics["recovery"]["method"] == "Gaussian mixture on latent means"
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["corruption"], config["noise"]) == ((0.2, "dropout") if model == "dae" else (None, None))


def test_restarts_keep_the_best_training_elbo(tmp_path):
    assert disease_dlvm.main([*TINY, "--restarts", "3", "--out", str(tmp_path)]) == 0
    restarts = json.loads((tmp_path / "metrics.json").read_text())["restarts"]
    assert len(restarts["train_elbo"]) == 3
    assert restarts["kept"] == int(np.argmax(restarts["train_elbo"]))


def test_anneal_epochs_raise_beta_linearly_in_the_history(tmp_path):
    argv = [*TINY, "--epochs", "4", "--beta", "2", "--anneal-epochs", "4", "--model", "vae"]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path)]) == 0
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["beta"]) == [0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--model", "vae", "--corruption", "0.3"], "argument --corruption: applies to --model dae only"),
        (["--model", "gmvae", "--noise", "flip"], "argument --noise: applies to --model dae only"),
        (["--model", "dae", "--corruption", "1"], "argument --corruption: 1 is out of range"),
        (["--clusters", "1"], "argument --clusters: '1' is not a number of clusters"),
        (["--epochs", "3", "--anneal-epochs", "5"], "argument --anneal-epochs: 5 is more than --epochs 3"),
        (["--restarts", "0"], "argument --restarts: 0 is out of range"),
    ],
)
def test_conflicting_or_bad_model_flags_exit_2(argv, expected, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
