"""Data that would give perfect-looking nonsense are refused or warned about; a run says what it does.

Degenerate labels, splits and columns (common/tabular.py, common/data.py), and the progress lines of
every stage (common/progress.py): one a stage on a piped stderr, none with --quiet.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cuisine_dlvm
import disease_dlvm

TINY = ["--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]
ROOT = Path(__file__).resolve().parent.parent


def _csv(tmp_path, header, rows, name="table.csv"):
    path = tmp_path / name
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def _symptoms(n=60, kinds=("flu", "pox"), seed=0):
    """n rows of four 0/1 symptoms and a kind, cycling through `kinds`."""
    x = (np.random.default_rng(seed).random((n, 4)) < 0.5).astype(int)
    return [[*row, kinds[i % len(kinds)]] for i, row in enumerate(x)]


def _refused(main, argv, tmp_path, capsys):
    """The one line a refused run prints (exit 2, nothing written)."""
    with pytest.raises(SystemExit) as info:
        main([*TINY, *argv, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert not (tmp_path / "run" / "config.json").exists()
    return err.strip()


def test_a_label_column_with_one_class_is_refused(tmp_path, capsys):
    data = _csv(tmp_path, ["a", "b", "c", "d", "kind"], _symptoms(kinds=("flu",)))
    err = _refused(disease_dlvm.main, ["--data", str(data), "--label-column", "kind"], tmp_path, capsys)
    assert err == (
        f"disease_dlvm.py: error: argument --data: {data}: column 'kind' has one class only ('flu'): "
        "nothing to recover; drop --label-column or give a column with 2 or more classes"
    )


def test_too_few_held_out_rows_to_score_recovery_are_refused(tmp_path, capsys):
    data = _csv(tmp_path, ["a", "b", "c", "d", "kind"], _symptoms(n=40))
    argv = ["--data", str(data), "--label-column", "kind", "--test-fraction", "0.03"]
    err = _refused(disease_dlvm.main, argv, tmp_path, capsys)
    assert err == (
        "disease_dlvm.py: error: argument --test-fraction: 0.03 holds out 1 of the 40 rows; scoring "
        "recovery of --label-column 'kind' needs at least 5 (on fewer, agreement is mostly chance); use "
        "--test-fraction 0.125 or higher, or drop --label-column"
    )


def test_a_table_without_labels_may_hold_out_few_rows(tmp_path):
    data = _csv(tmp_path, ["a", "b", "c", "d"], [row[:4] for row in _symptoms(n=40)])
    argv = ["--data", str(data), "--test-fraction", "0.03", "--model", "vae", "--clusters", "2"]
    assert disease_dlvm.main([*TINY, *argv, "--out", str(tmp_path / "run")]) == 0


def test_columns_too_small_for_float32_are_refused(tmp_path, capsys):
    rows = np.random.default_rng(0).random((30, 3)) * 1e-30
    data = _csv(tmp_path, ["p", "q", "r"], [[f"{v:.3g}" for v in row] for row in rows])
    err = _refused(cuisine_dlvm.main, ["--data", str(data)], tmp_path, capsys)
    assert f"argument --data: {data}: column 'p' varies by only" in err
    assert "too little for 32-bit floats" in err and err.endswith("multiply it by a power of ten")


def test_a_spread_below_float32_rounding_counts_as_constant(tmp_path, capsys):
    """16777216 and 16777218 are neighbours in float32: a spread of one step is rounding, not data."""
    rng = np.random.default_rng(0)
    rows = [[16777216 + 2 * int(i == 0), f"{rng.random():.3f}", f"{rng.random():.3f}"] for i in range(30)]
    data = _csv(tmp_path, ["big", "p", "q"], rows)
    argv = ["--data", str(data), "--model", "vae", "--clusters", "2", "--out", str(tmp_path / "run")]
    assert cuisine_dlvm.main([*TINY, *argv]) == 0
    assert "note: dropped 1 constant column, which carries no information: 'big'" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]["n_features"] == 2


def test_an_id_column_left_in_is_warned_about_on_stderr_and_in_metrics(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [[i + 1, *(f"{v:.3f}" for v in rng.random(3)), "ab"[i * 2 // 60]] for i in range(60)]
    data = _csv(tmp_path, ["id", "p", "q", "r", "kind"], rows)
    argv = ["--data", str(data), "--label-column", "kind", "--model", "vae", "--out", str(tmp_path / "run")]
    assert cuisine_dlvm.main([*TINY, *argv]) == 0
    warning = (
        "column 'id' looks like a row id (a different whole number in every row, consecutive), and is "
        "used as a feature; if it is an id, leave it out with --drop-columns id"
    )
    assert f"cuisine_dlvm.py: warning: {warning}\n" in capsys.readouterr().err  # even with --quiet
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["warnings"] == [warning]


def _run_piped(tmp_path, *extra):
    argv = ["--samples", "200", "--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", *extra]
    command = [sys.executable, "disease_dlvm.py", *argv, "--out", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_each_stage_says_what_it_does_in_one_plain_line_without_a_terminal(tmp_path):
    err = _run_piped(tmp_path)
    stages = [line.split(": ")[1].split(" (")[0] for line in err.splitlines()]
    assert stages == ["data", "warm start", "training", "recovery", "held-out likelihood", "baselines"]
    assert "\r" not in err  # no bar: a log stays readable


def test_quiet_prints_nothing(tmp_path):
    assert _run_piped(tmp_path, "--quiet") == ""
