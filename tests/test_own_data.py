"""--data (your own CSV) and --load (a saved model) through the disease demo."""

import json

import numpy as np
import pytest

import cuisine_dlvm
import disease_dlvm

TINY = ["--epochs", "3", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]


def _symptom_csv(tmp_path, rows=120, seed=0):
    """Two kinds of patients over four symptoms, plus an id column and a label column."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, rows)
    p = np.where(kind[:, None] == 0, [0.9, 0.8, 0.1, 0.1], [0.1, 0.2, 0.9, 0.8])
    x = (rng.random((rows, 4)) < p).astype(int)
    lines = ["patient,fever,cough,rash,itch,kind"]
    lines += [
        f"p{i}," + ",".join(map(str, x[i])) + f",{'flu' if kind[i] == 0 else 'pox'}" for i in range(rows)
    ]
    path = tmp_path / "patients.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_own_csv_with_a_label_column_reports_recovery_against_it_and_no_truth(tmp_path):
    data = _symptom_csv(tmp_path)
    out = tmp_path / "run"
    argv = ["--data", str(data), "--label-column", "kind", "--drop-columns", "patient", "--visualize"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(out)]) == 0
    m = _metrics(out)
    assert (
        m["data"]["n_features"] == 4 and m["data"]["n_classes"] == 2 and m["data"]["source"].startswith("csv")
    )
    assert m["data"]["dropped_constant_columns"] == []  # listed on every --data run, empty when none
    assert {"elbo", "nll"} <= set(m["test"]) and "true_nll" not in m["test"]
    assert "ari" in m["recovery"] and "bayes_ari" not in m["recovery"]
    assert {"kmeans", "gmm", "mixture_em"} == set(m["baselines"]) and "nll" in m["baselines"]["mixture_em"]
    names = {p.name for p in out.iterdir()}
    assert {"latent.png", "confusion.png", "clusters.png"} <= names and "generated.png" not in names


def test_own_csv_without_labels_has_no_recovery_and_chooses_k(tmp_path):
    data = _symptom_csv(tmp_path)
    argv = ["--data", str(data), "--drop-columns", "patient", "kind", "--model", "vae"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(tmp_path / "run")]) == 0
    m = _metrics(tmp_path / "run")
    assert "recovery" not in m and m["data"]["n_classes"] == 0
    assert set(m["baselines"]) == {"mixture_em"} and set(m["baselines"]["mixture_em"]) == {"nll"}


def _with_constant_columns(path, names, value="0"):
    """The table at `path` with a column of `value` in every row inserted after the id, for each name."""
    header, *rows = path.read_text().splitlines()
    fill = ",".join([value] * len(names))
    lines = [header.replace("patient,", f"patient,{','.join(names)},", 1)]
    lines += [row.replace(",", f",{fill},", 1) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_constant_columns_are_dropped_at_once_with_one_note_and_listed_in_metrics(tmp_path, capsys):
    data = _with_constant_columns(_symptom_csv(tmp_path, rows=40), ["px0", "px7", "px9"])
    out = tmp_path / "run"
    argv = ["--data", str(data), "--drop-columns", "patient", "--label-column", "kind"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(out)]) == 0  # the first try, --quiet or not
    err = capsys.readouterr().err
    note = (
        "disease_dlvm.py: note: dropped 3 constant columns, which carry no information: 'px0', 'px7', 'px9'"
    )
    assert err == note + "\n"
    m = _metrics(out)
    assert m["data"]["dropped_constant_columns"] == ["px0", "px7", "px9"] and m["data"]["n_features"] == 4


def test_a_table_whose_every_feature_is_constant_exits_2_with_one_line(tmp_path, capsys):
    data = _with_constant_columns(_symptom_csv(tmp_path, rows=20), ["px0", "px1"], value="1")
    argv = ["--data", str(data), "--drop-columns", "patient", "fever", "cough", "rash", "itch"]
    with pytest.raises(SystemExit) as info:
        cuisine_dlvm.main([*TINY, *argv, "--label-column", "kind", "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "note:" not in err
    assert f"error: argument --data: {data}: every feature column is constant ('px0', 'px1')" in err
    assert "check --label-column and --drop-columns" in err
    assert not (tmp_path / "run" / "config.json").exists()  # refused before any work


@pytest.mark.parametrize(
    ("edit", "extra", "expected"),
    [
        (lambda t: t.replace("p3,", "p3,x", 1), [], "column 'fever', row 4: 'x1' is not a number"),
        (lambda t: t, [], "column 'patient', row 1: 'p0' is not a number"),
        (lambda t: t, ["--label-column", "nope"], "--label-column names 'nope', which is not a column"),
    ],
)
def test_bad_own_data_exits_2_with_one_line(tmp_path, capsys, edit, extra, expected):
    data = _symptom_csv(tmp_path)
    data.write_text(edit(data.read_text()))
    drop = [] if "patient" in expected else ["--drop-columns", "patient"]
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--data", str(data), *drop, *extra, "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--clusters", "97", "--drop-columns", "patient", "kind"],
            "argument --clusters: 97 clusters need at least as many training rows; these data leave 96",
        ),
        (  # the id column as the label: 120 classes, 96 training rows (k-means would need 120)
            ["--label-column", "patient", "--drop-columns", "kind"],
            "argument --label-column: 'patient' has 120 classes, more than the 96 training rows",
        ),
        (
            ["--label-column", "kind", "--drop-columns", "patient", "--test-fraction", "0.995"],
            "argument --test-fraction: 0.995 leaves 1 of the 120 rows for training; 2 clusters need at",
        ),
    ],
)
def test_more_clusters_than_training_rows_are_refused_before_any_work(tmp_path, capsys, extra, expected):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--data", str(_symptom_csv(tmp_path)), *extra, "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not (out / "config.json").exists()


def test_clusters_auto_on_a_tiny_table_tries_no_more_clusters_than_rows(tmp_path):
    """Ten rows leave eight to train on and, for --clusters auto, six to fit each K on: K stops there."""
    argv = ["--data", str(_symptom_csv(tmp_path, rows=10)), "--drop-columns", "patient", "kind"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(tmp_path / "run")]) == 0
    assert _metrics(tmp_path / "run")["model_selection"]["k"] == [2, 3, 4, 5, 6]


def test_a_single_held_out_row_leaves_out_the_scores_it_cannot_give(tmp_path):
    """One held-out row has no ROC AUC (one class per symptom) and no R^2: the keys are left out,
    never written as NaN (which JSON cannot hold)."""
    out = tmp_path / "run"
    symptoms = ["--data", str(_symptom_csv(tmp_path, rows=60)), "--drop-columns", "patient", "kind"]
    assert disease_dlvm.main([*TINY, *symptoms, "--test-fraction", "0.01", "--out", str(out)]) == 0
    m = _metrics(out)
    assert m["data"]["n_test"] == 1 and "recon" not in m["test"] and np.isfinite(m["test"]["nll"])
    cuisine = tmp_path / "cuisine"
    flavours = ["--data", str(_real_csv(tmp_path, 4, rows=60)), "--drop-columns", "kind"]
    assert cuisine_dlvm.main([*TINY, *flavours, "--test-fraction", "0.01", "--out", str(cuisine)]) == 0
    assert _metrics(cuisine)["data"]["n_test"] == 1 and "recon" not in _metrics(cuisine)["test"]


def test_a_world_run_with_too_few_held_out_rows_to_score_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        disease_dlvm.main([*TINY, "--samples", "60", "--test-fraction", "0.01", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert "holds out 1 of the 60 rows; scoring recovery of the disease needs at least 5" in err


def test_save_data_never_writes_over_the_table_it_reads(tmp_path, capsys):
    data = _symptom_csv(tmp_path)
    original = data.read_text()
    train = tmp_path / "train.csv"
    train.write_text(original)
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main(
            [*TINY, "--data", str(train), "--drop-columns", "patient", "--save-data", "--out", str(tmp_path)]
        )
    assert info.value.code == 2
    assert "the run would write its own train.csv over your table" in capsys.readouterr().err
    assert train.read_text() == original


def test_label_column_without_data_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        disease_dlvm.main(["--label-column", "kind", "--out", str(tmp_path)])
    assert "argument --label-column: applies to --data only" in capsys.readouterr().err


def test_load_evaluates_a_saved_model_without_training(tmp_path):
    argv = ["--samples", "400", "--model", "vae", *TINY]  # the vae's reconstruction is deterministic
    assert disease_dlvm.main([*argv, "--out", str(tmp_path / "trained")]) == 0
    # Without --model: the file says what it holds (the default would be the gmvae).
    load = ["--samples", "400", *TINY, "--load", str(tmp_path / "trained" / "model.pt"), "--visualize"]
    assert disease_dlvm.main([*load, "--out", str(tmp_path / "loaded")]) == 0
    trained, loaded = _metrics(tmp_path / "trained"), _metrics(tmp_path / "loaded")
    assert loaded["loaded_from"].endswith("model.pt") and loaded["model"] == trained["model"] == "vae"
    assert loaded["test"]["true_nll"] == trained["test"]["true_nll"]  # the same held-out rows
    assert loaded["test"]["recon"] == trained["test"]["recon"]  # deterministic: the very same weights
    assert (tmp_path / "loaded" / "training.png").exists()  # history.csv came along from the run folder
    # The cuisine demo fills in its default model after parsing: a loaded vae is still a vae there.
    cuisine = ["--samples", "300", *TINY]
    assert cuisine_dlvm.main([*cuisine, "--model", "vae", "--out", str(tmp_path / "c")]) == 0
    assert (
        cuisine_dlvm.main(
            [*cuisine, "--load", str(tmp_path / "c" / "model.pt"), "--out", str(tmp_path / "c2")]
        )
        == 0
    )
    assert _metrics(tmp_path / "c2")["model"] == "vae"
    for named in (["--model", "ae"], ["--mod=ae"]):  # a model typed on the command line must be the file's
        with pytest.raises(SystemExit) as exit_info:
            disease_dlvm.main([*load, *named, "--out", str(tmp_path / "wrong")])
        assert exit_info.value.code == 2 and not (tmp_path / "wrong" / "metrics.json").exists()


def test_load_refuses_other_demos_and_other_shapes(tmp_path, capsys):
    argv = ["--samples", "400", *TINY]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path / "trained")]) == 0
    model = str(tmp_path / "trained" / "model.pt")
    data = _symptom_csv(tmp_path)
    table = ["--data", str(data), "--drop-columns", "patient", "kind"]
    with pytest.raises(SystemExit) as info:  # a model of the world is scored on the world's rows only
        disease_dlvm.main([*TINY, *table, "--load", model])
    assert info.value.code == 2
    assert f"argument --data: {model} was trained without --data" in capsys.readouterr().err

    import torch

    checkpoint = torch.load(model, weights_only=True)
    del checkpoint["data"]  # a model.pt from before it recorded its data, alone in its folder
    (tmp_path / "old").mkdir()
    torch.save(checkpoint, tmp_path / "old" / "model.pt")
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, *table, "--load", str(tmp_path / "old" / "model.pt")])
    assert info.value.code == 2
    assert "models 12 bernoulli features; these data have 4 bernoulli features" in capsys.readouterr().err
    checkpoint["config"]["demo"] = "cuisine"
    torch.save(checkpoint, tmp_path / "other.pt")
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*argv, "--load", str(tmp_path / "other.pt"), "--out", str(tmp_path / "x")])
    assert info.value.code == 2
    assert "written by the cuisine demo; load it with cuisine_dlvm.py" in capsys.readouterr().err


def test_load_refuses_flags_that_describe_another_model(tmp_path, capsys):
    """--load evaluates the model in the file: a --model, --latent-dim or --hidden-dim (or cuisine's
    --conditional) that describes another is refused, not silently overridden; the file's own values pass."""
    argv = ["--samples", "200", *TINY]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path / "trained")]) == 0  # a gmvae, latent 2, hidden 16
    model = str(tmp_path / "trained" / "model.pt")
    for extra in (["--model", "vae"], ["--hidden-dim", "8"], ["--latent-dim", "3"]):
        with pytest.raises(SystemExit) as info:
            disease_dlvm.main([*argv, *extra, "--load", model, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1
        assert f"argument {extra[0]}: {model} holds a gmvae model with --latent-dim 2, --hidden-dim 16" in err
    same = ["--model", "gmvae", "--latent-dim", "2"]
    assert disease_dlvm.main([*argv, *same, "--load", model, "--out", str(tmp_path / "y")]) == 0
    with pytest.raises(SystemExit) as info:  # an evaluation has no training to continue
        disease_dlvm.main(["--resume", str(tmp_path / "y")])
    assert (
        info.value.code == 2 and "holds an evaluation of a loaded model (--load)" in capsys.readouterr().err
    )
    assert cuisine_dlvm.main([*argv, "--out", str(tmp_path / "dish")]) == 0
    with pytest.raises(SystemExit) as info:
        cuisine_dlvm.main(
            [
                *argv,
                "--conditional",
                "--load",
                str(tmp_path / "dish" / "model.pt"),
                "--out",
                str(tmp_path / "z"),
            ]
        )
    assert info.value.code == 2 and "argument --conditional:" in capsys.readouterr().err


def _real_csv(tmp_path, n_features, rows=80, seed=0):
    """A real-valued table of `rows` rows and two classes, with a label column."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    x = rng.normal(size=(rows, n_features)) + 2.0 * labels[:, None]
    path = tmp_path / "real.csv"
    header = ",".join([f"f{j}" for j in range(n_features)] + ["kind"])
    lines = [",".join([*(f"{v:.4f}" for v in row), f"k{k}"]) for row, k in zip(x, labels, strict=True)]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def _config(folder):
    return json.loads((folder / "config.json").read_text())


def test_defaults_fit_a_small_wide_table_and_the_users_flags_win(tmp_path):
    """Below 1000 training rows a table trains 40 epochs (not the cuisine's 80); above 20 real-valued
    features its latent has 8 dimensions; both are in config.json and metrics.json, with the reason."""
    table, out = _real_csv(tmp_path, 24), tmp_path / "run"
    base = [
        "--data",
        str(table),
        "--label-column",
        "kind",
        "--iw-samples",
        "5",
        "--hidden-dim",
        "8",
        "--quiet",
    ]
    assert cuisine_dlvm.main([*base, "--out", str(out)]) == 0
    config = _config(out)
    assert config["epochs"] == 40 and config["latent_dim"] == 8
    assert set(config["adapted_to_table"]) == {"epochs", "latent_dim"}
    assert _metrics(out)["data"]["adapted_to_table"] == config["adapted_to_table"]
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 40  # a header, 40 epochs
    assert cuisine_dlvm.main([*base, "--epochs", "3", "--latent-dim", "2", "--out", str(out)]) == 0
    config = _config(out)
    assert config["epochs"] == 3 and config["latent_dim"] == 2 and config["adapted_to_table"] == {}


def test_a_narrow_or_binary_table_keeps_the_demos_latent(tmp_path):
    narrow, binary = tmp_path / "narrow", tmp_path / "binary"
    table = _real_csv(tmp_path, 13)
    assert (
        cuisine_dlvm.main([*TINY, "--data", str(table), "--label-column", "kind", "--out", str(narrow)]) == 0
    )
    assert _config(narrow)["latent_dim"] == 2 and "latent_dim" not in _config(narrow)["adapted_to_table"]
    symptoms = _symptom_csv(tmp_path)
    argv = ["--data", str(symptoms), "--label-column", "kind", "--drop-columns", "patient"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(binary)]) == 0
    assert _config(binary)["latent_dim"] == 2
