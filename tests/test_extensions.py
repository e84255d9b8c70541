"""The model extensions through each demo: --prior vamp, --flow, --iw-train, --hidden-layers, hvae and
vqvae write the same run folder as the vae and gmvae, compose where they make sense and are refused in
one line where they do not."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common import runio
from common.model_table import build_model

FAST = ["--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]
DEMOS = {
    "disease": (disease_dlvm, ["--samples", "400"]),
    "cuisine": (cuisine_dlvm, ["--samples", "400"]),
    "movie": (movie_dlvm, ["--users", "300"]),
}
EXTENSIONS = [
    ["--model", "vae", "--prior", "vamp", "--pseudo-inputs", "7", "--flow", "iaf"],
    ["--model", "vae", "--flow", "planar", "--flow-steps", "3", "--iw-train", "3"],
    ["--model", "gmvae", "--iw-train", "2", "--hidden-layers", "1"],
    ["--model", "hvae", "--lower-dim", "3"],
    ["--model", "vqvae"],
]


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("demo", DEMOS)
@pytest.mark.parametrize("flags", EXTENSIONS, ids=lambda flags: " ".join(flags[1:4]))
def test_each_extension_runs_on_each_demo_and_reloads(demo, flags, tmp_path):
    module, data = DEMOS[demo]
    assert module.main([*data, *FAST, *flags, "--out", str(tmp_path)]) == 0
    metrics, config = _metrics(tmp_path), json.loads((tmp_path / "config.json").read_text())
    test = metrics["test"]
    assert test["nll"] > 0 and test["nll_mc_se"] >= 0 and "true_nll" in test
    assert metrics["recovery"]["bayes_ari"] > 0
    if "--iw-train" in flags:  # the bound it was trained on, beside the ELBO it bounds from above
        k = int(flags[flags.index("--iw-train") + 1])
        assert test["iw_train"] == k and test["iw_bound"] > test["elbo"] - 0.05 * abs(test["elbo"])
    for flag, value in zip(flags[::2], flags[1::2], strict=True):  # config.json says what ran
        assert str(config[flag[2:].replace("-", "_")]) == value
    checkpoint = runio.load_model_file(str(tmp_path / "model.pt"), demo=demo)
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])  # the weights fit the model the config describes
    assert model.kind == flags[1]


def test_vqvae_nll_is_exact_so_its_monte_carlo_error_is_zero(tmp_path):
    assert disease_dlvm.main(["--samples", "400", *FAST, "--model", "vqvae", "--out", str(tmp_path)]) == 0
    test = _metrics(tmp_path)["test"]
    assert test["nll_mc_se"] < 1e-4 and test["iw_ess"]["min"] == pytest.approx(10)  # float rounding only


def test_a_vamp_prior_model_with_a_flow_has_the_defaults_it_ran_with_in_config(tmp_path):
    argv = ["--samples", "400", *FAST, "--model", "vae", "--prior", "vamp", "--out", str(tmp_path)]
    assert disease_dlvm.main(argv) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["pseudo_inputs"], config["flow"], config["iw_train"]) == (50, None, 1)
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=False)
    assert checkpoint["state_dict"]["prior.pseudo_inputs"].shape == (50, 12)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--model", "gmvae", "--flow", "iaf"], "argument --flow: applies to --model vae only"),
        (["--model", "hvae", "--prior", "vamp"], "argument --prior: applies to --model vae only"),
        (
            ["--model", "vqvae", "--iw-train", "5"],
            "--iw-train: applies to --model vae, --model gmvae",
        ),
        (["--model", "ae", "--iw-train", "5"], "argument --iw-train: applies to"),
        (
            ["--model", "vae", "--pseudo-inputs", "5"],
            "--pseudo-inputs: applies to --prior vamp only",
        ),
        (
            ["--model", "vae", "--flow-steps", "5"],
            "--flow-steps: applies to --flow iaf or planar only",
        ),
        (["--model", "vae", "--lower-dim", "5"], "argument --lower-dim: applies to --model hvae only"),
        (["--model", "vae", "--flow", "maf"], "argument --flow: invalid choice: 'maf'"),
        (["--hidden-layers", "0"], "argument --hidden-layers: 0 is out of range"),
    ],
)
def test_extension_flags_that_cannot_apply_exit_2_with_one_line(argv, expected, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_the_implicit_mode_refuses_the_extensions_with_the_reason(tmp_path, capsys):
    for argv in (["--prior", "vamp"], ["--model", "hvae"]):
        with pytest.raises(SystemExit) as exit_info:
            movie_dlvm.main(["--likelihood", "multinomial", *argv, "--out", str(tmp_path)])
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "the model extensions run on the explicit ratings" in err and "invalid choice: 'hvae'" in err


def test_load_takes_the_saved_models_options_and_refuses_flags_that_describe_another(tmp_path, capsys):
    argv = ["--samples", "400", *FAST]
    trained = tmp_path / "trained"
    assert disease_dlvm.main([*argv, "--model", "vae", "--prior", "vamp", "--out", str(trained)]) == 0
    model = str(trained / "model.pt")
    for extra in (["--flow", "iaf"], ["--prior", "normal"], ["--hidden-layers", "3"], ["--model", "hvae"]):
        with pytest.raises(SystemExit) as info:
            disease_dlvm.main([*argv, *extra, "--load", model, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1
        assert f"argument {extra[0]}: {model} holds a vae model with" in err and "--prior vamp" in err
    assert disease_dlvm.main([*argv, "--load", model, "--out", str(tmp_path / "loaded")]) == 0
    config = json.loads((tmp_path / "loaded" / "config.json").read_text())
    assert (config["model"], config["prior"], config["pseudo_inputs"]) == ("vae", "vamp", 50)
    assert _metrics(tmp_path / "loaded")["test"]["nll"] == pytest.approx(
        _metrics(trained)["test"]["nll"], abs=0.05
    )


ON_A_TABLE = [
    ["--model", "vae", "--prior", "vamp", "--flow", "planar"],
    ["--model", "hvae"],
    ["--model", "vqvae"],
    ["--model", "gmvae", "--iw-train", "3"],
]


@pytest.mark.parametrize("flags", ON_A_TABLE)
def test_extensions_run_on_a_table_of_your_own(flags, tmp_path):
    """--data: no world, so no true NLL; the NLL, its Monte Carlo error and the recovery are still there."""
    rng = np.random.default_rng(0)
    kind = rng.integers(0, 3, 300)
    table = pd.DataFrame(rng.normal(kind[:, None] * 2.0, 1.0, (300, 4)), columns=list("abcd"))
    table.assign(kind=kind).to_csv(tmp_path / "table.csv", index=False)
    argv = ["--data", str(tmp_path / "table.csv"), "--label-column", "kind", *FAST, *flags]
    assert cuisine_dlvm.main([*argv, "--out", str(tmp_path / "run")]) == 0
    metrics = _metrics(tmp_path / "run")
    assert "true_nll" not in metrics["test"] and metrics["test"]["nll_mc_se"] >= 0
    assert metrics["model_options"]["hidden_layers"] == 2 and -1 <= metrics["recovery"]["ari"] <= 1
