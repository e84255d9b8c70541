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
