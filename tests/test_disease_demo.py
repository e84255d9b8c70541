"""End-to-end runs of the disease demo with tiny sizes, in process."""

import json
import math

import pandas as pd
import pytest
import torch

import disease_dlvm
from common.data import fitted_batch_size
from common.model_table import build_model
from tests.conftest import second_process

TINY = ["--samples", "400", "--epochs", "3", "--iw-samples", "20", "--hidden-dim", "16", "--quiet"]
FIGURES = {"latent.png", "training.png", "decoded.png", "generated.png", "confusion.png"}
GMVAE_FIGURES = {"clusters.png", "profiles.png"}  # the default model of the disease demo


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    with second_process():  # the figures go through the worker, as for a user
        assert disease_dlvm.main([*TINY, "--visualize", "--save-data", "--out", str(out)]) == 0
    return out


def test_run_folder_has_every_file(full_run):
    names = {p.name for p in full_run.iterdir()}
    expected = {
        "metrics.json",
        "history.csv",
        "config.json",
        "model.pt",
        "train.csv",
        "test.csv",
        "world.json",
    }
    assert expected | FIGURES | GMVAE_FIGURES <= names
    assert not [n for n in names if ".tmp" in n]  # no leftovers of atomic writes


def test_metrics_follow_the_schema(full_run):
    m = _metrics(full_run)
    assert m["demo"] == "disease" and m["status"] == "completed" and m["seed"] == 0
    n_features = len(disease_dlvm.SYMPTOMS)
    assert m["data"] == {
        "source": "synthetic",
        "n_train": 320,
        "n_test": 80,
        "n_features": n_features,
        "n_classes": 5,
    }
    assert m["model"] == "gmvae" and m["recovery"]["method"] == "argmax q(y|x)"
    assert m["clusters"]["k"] == 5 and sum(m["clusters"]["shares"]) == pytest.approx(1, abs=1e-3)
    test = m["test"]
    assert test["nll_gap"] == pytest.approx(test["nll"] - test["true_nll"])
    assert test["nll"] <= -test["elbo"] + 0.05  # the IW bound is at least as tight as the ELBO (noise aside)
    assert 0 <= test["recon"]["auc"] <= 1
    for key in ("ari", "nmi", "accuracy", "bayes_ari", "bayes_nmi", "bayes_accuracy"):
        assert math.isfinite(m["recovery"][key])
    assert set(m["baselines"]) == {"kmeans", "gmm", "mixture_em"}
    assert "nll" in m["baselines"]["mixture_em"] and "nll" not in m["baselines"]["gmm"]
    assert m["timing"]["train_seconds"] > 0 and m["versions"]["torch"] == torch.__version__


@pytest.mark.parametrize("distinct_rows", ["off", "on"])
def test_a_short_real_run_learns_the_world(tmp_path, distinct_rows):
    # 30 epochs on 3000 patients: far from converged, but clearly better than knowing nothing; also
    # when each batch is computed once per distinct symptom pattern.
    argv = [
        "--distinct-rows",
        distinct_rows,
        "--samples",
        "3000",
        "--epochs",
        "30",
        "--batch-size",
        "128",
        "--iw-samples",
        "100",
        "--hidden-dim",
        "32",
        "--quiet",
    ]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path)]) == 0
    m = _metrics(tmp_path)
    assert m["test"]["nll_gap"] < 0.15
    assert m["test"]["recon"]["auc"] > 0.8
    assert m["recovery"]["bayes_ari"] > m["recovery"]["ari"] - 0.05  # nothing beats Bayes by more than noise


def test_history_has_one_row_per_epoch(full_run):
    history = pd.read_csv(full_run / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert {"loss", "recon", "kl", "beta", "seconds", "test_elbo"} <= set(history.columns)


@pytest.mark.parametrize(
    "rows, batch",
    [(60, 16), (1000, 125), (8000, 256), (256_000, 256), (256_001, 512), (800_000, 1024), (5_000_000, 8192)],
)
def test_the_batch_size_fits_the_rows_unless_given(rows, batch):
    """An eighth of a small table (at least 16 rows), 256 in between, and big data doubled until an
    epoch is at most 1000 steps."""
    assert fitted_batch_size(rows, 256) == batch
    assert math.ceil(rows / batch) <= 1000


def test_config_and_model_round_trip(full_run):
    config = json.loads((full_run / "config.json").read_text())
    assert config["epochs"] == 3 and config["argv"][:2] == ["--samples", "400"]
    assert config["batch_size"] == 320 // 8  # not given: an eighth of the 320 training rows
    checkpoint = torch.load(full_run / "model.pt", weights_only=True)
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    n_features = len(disease_dlvm.SYMPTOMS)
    x = torch.tensor(pd.read_csv(full_run / "test.csv").iloc[:, :n_features].to_numpy(), dtype=torch.float32)
    assert model.embed(x).shape == (80, 2)


def test_saved_data_has_symptoms_disease_and_severity(full_run):
    train = pd.read_csv(full_run / "train.csv")
    assert list(train.columns) == [*disease_dlvm.SYMPTOMS, "disease", "severity"]
    assert set(train["disease"]) <= set(disease_dlvm.DISEASES) and len(train) == 320
    world = json.loads((full_run / "world.json").read_text())
    assert world["symptoms"] == disease_dlvm.SYMPTOMS


def test_same_seed_gives_identical_metrics_with_or_without_figures(tmp_path):
    # The figures draw rows and latent points of their own (generated.png, profiles.png) between
    # training and the evaluation: from a copy of the random state, never from the run's.
    runs = []
    for name, flags in (("a", []), ("b", ["--visualize"])):
        assert disease_dlvm.main([*TINY, *flags, "--out", str(tmp_path / name)]) == 0
        metrics = _metrics(tmp_path / name)
        metrics.pop("timing")
        metrics["argv"] = None
        runs.append(metrics)
    assert runs[0] == runs[1]


def test_divergence_stops_with_a_hint_and_keeps_a_valid_run_folder(tmp_path, capsys):
    code = disease_dlvm.main([*TINY, "--lr", "1e30", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "diverged in epoch" in err and "lower --lr" in err and "--beta" not in err
    metrics = _metrics(tmp_path)
    assert metrics["status"] == "diverged" and metrics["epoch"] >= 1
    state = torch.load(tmp_path / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())
    # A huge KL weight diverges too; the hint then names it beside the learning rate.
    assert disease_dlvm.main([*TINY, "--beta", "1e308", "--out", str(tmp_path / "beta")]) == 1
    assert "try a lower --lr (now 0.005) or --beta (now 1e+308)" in capsys.readouterr().err
