"""model.pt holds only tensors and plain values; anything else is refused with a clear reason."""

import pickle

import pytest
import torch

from common import runio
from common.model_table import build_model
from tests.conftest import RunsCode

CONFIG = {"demo": "disease", "model": "vae", "n_features": 4, "likelihood": "bernoulli"}
CONFIG |= {"latent_dim": 2, "hidden_dim": 8}


def _saved(tmp_path):
    path = tmp_path / "model.pt"
    runio.save_model(path, build_model(CONFIG), CONFIG)
    return path


def test_round_trip_with_weights_only(tmp_path):
    checkpoint = runio.load_model_file(_saved(tmp_path), demo="disease")
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["config"] == CONFIG


def test_checkpoint_of_another_demo_is_refused(tmp_path):
    with pytest.raises(
        runio.CheckpointError, match="written by the disease demo; load it with disease_dlvm.py"
    ):
        runio.load_model_file(_saved(tmp_path), demo="cuisine")


@pytest.mark.parametrize("keep", [0.5, 5000, "text"])
def test_truncated_or_garbled_file_is_refused(tmp_path, keep):
    """Each breaks torch.load differently: half a file (RuntimeError), its first 5000 bytes (OSError);
    a text file renamed model.pt is no PyTorch checkpoint at all (no zip archive)."""
    path = _saved(tmp_path)
    data = path.read_bytes()
    if keep == "text":
        path.write_bytes(b"hello, this is not a model\n")
    else:
        path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    expected = "not a PyTorch checkpoint" if keep == "text" else "truncated or corrupt"
    with pytest.raises(runio.CheckpointError, match=expected):
        runio.load_model_file(path)


def test_checkpoint_whose_config_is_not_a_table_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {}, "config": ["disease"]}, path)
    with pytest.raises(runio.CheckpointError, match="not a model.pt of these demos"):
        runio.load_model_file(path, demo="disease")


def test_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {}, "config": {"demo": "disease"}, "payload": RunsCode(marker)}, path)
    with pytest.raises(runio.CheckpointError, match="refused"):
        runio.load_model_file(path)
    assert not marker.exists()
    # The same file really would run code if unpickled without the guard.
    with open(path, "rb") as f:
        assert f.read(2) == b"PK"  # a zip archive holding the pickle
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(RunsCode(marker)))
    pickle.loads(plain.read_bytes())
    assert marker.exists()


def test_other_files_are_refused(tmp_path):
    with pytest.raises(runio.CheckpointError, match="no such file"):
        runio.load_model_file(tmp_path / "missing.pt")
    with pytest.raises(runio.CheckpointError, match="is a folder"):
        runio.load_model_file(tmp_path)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(runio.CheckpointError, match="not a model.pt of these demos"):
        runio.load_model_file(tmp_path / "other.pt")


# ---- --load and --resume take the data the model was trained on (common/saved_run.py) ---------------

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet", "--iw-samples", "20"]


@pytest.fixture
def seed_3(tmp_path):
    """A tiny disease run on --seed 3 with 400 patients, its rows saved (train.csv, test.csv)."""
    import disease_dlvm

    out = tmp_path / "seed3"
    assert (
        disease_dlvm.main([*TINY, "--seed", "3", "--samples", "400", "--save-data", "--out", str(out)]) == 0
    )
    return out


def _load(trained, out, *extra, model="model.pt"):
    import disease_dlvm

    return disease_dlvm.main(
        [*TINY, "--save-data", *extra, "--load", str(trained / model), "--out", str(out)]
    )


def _metrics(folder):
    import json

    return json.loads((folder / "metrics.json").read_text())


def test_the_saved_runs_data_note_comes_before_the_data_it_names(seed_3, tmp_path, capsys):
    import disease_dlvm

    capsys.readouterr()
    loud = [a for a in TINY if a != "--quiet"]
    assert disease_dlvm.main([*loud, "--load", str(seed_3 / "model.pt"), "--out", str(tmp_path / "o")]) == 0
    first, second = capsys.readouterr().err.splitlines()[:2]
    assert first.startswith("disease_dlvm.py: note: --load evaluates on the data model.pt was trained on")
    assert second.startswith("disease_dlvm.py: data: 320 training, 80 held-out rows")


def test_load_evaluates_on_the_data_the_model_was_trained_on(seed_3, tmp_path, capsys):
    capsys.readouterr()
    assert _load(seed_3, tmp_path / "loaded") == 0  # neither --seed nor --samples repeated
    assert capsys.readouterr().err == (
        "disease_dlvm.py: note: --load evaluates on the data model.pt was trained on: --seed 3 --samples 400 "
        f"(from {seed_3}/model.pt)\n"
    )
    trained, loaded = _metrics(seed_3), _metrics(tmp_path / "loaded")
    assert (tmp_path / "loaded" / "test.csv").read_bytes() == (seed_3 / "test.csv").read_bytes()
    assert loaded["seed"] == 3 and loaded["data"] == trained["data"]
    assert loaded["test"]["true_nll"] == trained["test"]["true_nll"]  # the world's exact NLL: the same rows
    assert loaded["recovery"]["bayes_ari"] == trained["recovery"]["bayes_ari"]
    assert loaded["recovery"]["ari"] == pytest.approx(trained["recovery"]["ari"], abs=0.05)  # sampled
    assert _load(seed_3, tmp_path / "again", "--seed", "3", "--samples", "400") == 0  # repeated: agreed


@pytest.mark.parametrize(
    "flag, value, saved",
    [("--seed", "5", "3"), ("--samples", "500", "400"), ("--test-fraction", "0.3", "0.2")],
)
def test_load_refuses_a_flag_that_contradicts_the_saved_data(seed_3, tmp_path, capsys, flag, value, saved):
    capsys.readouterr()
    with pytest.raises(SystemExit) as end:
        _load(seed_3, tmp_path / "other", flag, value)
    assert end.value.code == 2 and capsys.readouterr().err == (
        f"disease_dlvm.py: error: argument {flag}: {seed_3}/model.pt was trained with {flag} {saved}, and "
        f"--load evaluates a model on the data it was trained on; drop {flag}, or train a model with "
        f"{flag} {value}\n"
    )
    assert not (tmp_path / "other").exists()


def test_an_older_model_pt_takes_its_data_from_the_config_json_beside_it(seed_3, tmp_path, capsys):
    """A model.pt written before it recorded its data: the run's config.json, checked as flags are."""
    import json

    checkpoint = torch.load(seed_3 / "model.pt", weights_only=True)
    del checkpoint["data"]
    torch.save(checkpoint, seed_3 / "old.pt")
    capsys.readouterr()
    assert _load(seed_3, tmp_path / "loaded", model="old.pt") == 0
    assert f"--seed 3 --samples 400 (from {seed_3}/config.json)\n" in capsys.readouterr().err
    assert (tmp_path / "loaded" / "test.csv").read_bytes() == (seed_3 / "test.csv").read_bytes()
    config = json.loads((seed_3 / "config.json").read_text())
    (seed_3 / "config.json").write_text(json.dumps({**config, "seed": "three"}))
    with pytest.raises(SystemExit) as end:
        _load(seed_3, tmp_path / "bad", model="old.pt")
    assert end.value.code == 2 and capsys.readouterr().err == (
        f"disease_dlvm.py: error: argument --load: {seed_3}/config.json: \"seed\": 'three' is not an "
        "integer; use an integer in [0, 4294967295]; fix the file or rerun\n"
    )


def test_a_model_with_a_nan_weight_is_refused(seed_3, tmp_path, capsys):
    import disease_dlvm

    checkpoint = torch.load(seed_3 / "model.pt", weights_only=True)
    name = next(iter(checkpoint["state_dict"]))
    checkpoint["state_dict"][name].view(-1)[0] = float("nan")
    torch.save(checkpoint, seed_3 / "model.pt")
    capsys.readouterr()
    for argv in (
        ["--load", str(seed_3 / "model.pt"), "--out", str(tmp_path / "x")],
        ["--resume", str(seed_3)],
    ):
        with pytest.raises(SystemExit) as end:
            disease_dlvm.main(argv)
        err = capsys.readouterr().err
        assert end.value.code == 2 and err.count("\n") == 1, err
        assert f"{seed_3}/model.pt holds NaN or infinite weights ({name}); it cannot be evaluated" in err
