"""A run folder holds one run: staged beside it and swapped in whole, locked while a run writes it.

The mixed-folder cases run real processes. DLVM_TEST_STOP_AT (common/staging.py) makes a run stop
itself (SIGSTOP) at a named point, so that a test can start a second run or kill -9 this one there.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

import disease_dlvm
from common import figures, staging
from tests.conftest import ROOT

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet", "--samples", "400", "--iw-samples", "20"]


def _read(folder, name):
    return json.loads((folder / name).read_text())


def _snapshot(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _leftovers(folder):
    """What runs left beside `folder` (the lock file stays: it is the lock)."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def _stopped_at(point, out, *extra):
    """A tiny run into `out`, stopped (SIGSTOP) at `point`: the Popen, to kill or continue."""
    process = subprocess.Popen(
        [sys.executable, "disease_dlvm.py", *TINY, *extra, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", staging.PAUSE_VARIABLE: point},
    )
    _, status = os.waitpid(process.pid, os.WUNTRACED)  # returns when it stops (or, failing, exits)
    assert os.WIFSTOPPED(status), process.stderr.read()
    return process


def _demo(*argv):
    return subprocess.run(
        [sys.executable, "disease_dlvm.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_second_run_into_a_folder_being_written_is_refused_and_the_first_completes(tmp_path):
    out = tmp_path / "run"
    first = _stopped_at("evaluation", out, "--seed", "1")
    try:
        second = _demo(*TINY, "--seed", "2", "--out", str(out))
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr == (
        f"disease_dlvm.py: error: argument --out: another run (pid {first.pid}) is writing {out}; "
        "wait for it or choose another --out\n"
    )
    assert first.wait(timeout=60) == 0, first.stderr.read()
    config, metrics = _read(out, "config.json"), _read(out, "metrics.json")
    assert config["seed"] == metrics["seed"] == 1 and metrics["status"] == "completed"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "history.csv", "metrics.json", "model.pt"]
    assert _leftovers(out) == [".run.lock"]


@pytest.mark.parametrize("point", ["evaluation", "swap"])
def test_kill_9_during_a_rerun_leaves_the_earlier_run_whole(point, tmp_path):
    """Killed while it evaluates, or with every file of its own written but not yet swapped in: the
    folder holds the earlier run, byte for byte; the next run clears what the killed one left."""
    out = tmp_path / "run"
    assert disease_dlvm.main([*TINY, "--interpret", "--out", str(out)]) == 0
    before = _snapshot(out)
    rerun = _stopped_at(point, out, "--model", "vae")
    rerun.kill()
    rerun.wait(timeout=10)
    assert _snapshot(out) == before
    assert _leftovers(out) == [".run.lock", f".run.staging-{rerun.pid}"]
    staged = tmp_path / f".run.staging-{rerun.pid}"
    assert (staged / "metrics.json").exists() == (point == "swap")  # at the swap, every file is there
    assert disease_dlvm.main([*TINY, "--model", "vae", "--out", str(out)]) == 0  # a dead run's lock is free
    assert _leftovers(out) == [".run.lock"]
    assert _read(out, "metrics.json")["model"] == "vae"


@pytest.mark.parametrize(
    "point, code, line, status",
    [  # the evaluation goes on to the end; a run found complete ends as one; then Python joins threads
        ("evaluation", 130, "disease_dlvm.py: interrupted; the evaluated run is in {out}\n", "interrupted"),
        ("complete", 0, "", "completed"),
        ("exiting", 130, "disease_dlvm.py: interrupted while exiting; files already written are whole\n",
         "completed"),
    ],
)  # fmt: skip
def test_sigterm_while_a_run_evaluates_or_exits_ends_with_one_line_and_a_whole_run(
    point, code, line, status, tmp_path
):
    out = tmp_path / "run"
    run = _stopped_at(point, out)
    run.send_signal(signal.SIGTERM)  # pending until it continues
    run.send_signal(signal.SIGCONT)
    ended = (run.wait(timeout=60), run.stderr.read())
    if point == "exiting":  # microseconds before os._exit: a thread other than main may take the signal
        assert ended in ((code, line), (0, ""))  # and the process end first; either way the run is whole
    else:
        assert ended == (code, line.format(out=out))
    metrics = _read(out, "metrics.json")
    assert metrics["status"] == status and "nll" in metrics["test"] and _leftovers(out) == [".run.lock"]


def test_a_rerun_with_another_model_leaves_none_of_the_first_runs_files(tmp_path):
    out = tmp_path / "run"
    assert disease_dlvm.main([*TINY, "--interpret", "--save-data", "--out", str(out)]) == 0
    assert {"interpret.csv", "train.csv", "test.csv", "world.json"} <= {p.name for p in out.iterdir()}
    assert disease_dlvm.main([*TINY, "--model", "vae", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "history.csv", "metrics.json", "model.pt"]
    assert _read(out, "config.json")["model"] == _read(out, "metrics.json")["model"] == "vae"


def test_a_run_that_fails_leaves_no_new_folder_and_no_staging(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--hidden-dim", "2000000", "--out", str(out)])  # out of memory
    assert info.value.code == 2 and "out of memory" in capsys.readouterr().err
    assert not out.exists() and _leftovers(out) == [".run.lock"]  # --out as it was: absent


def test_load_does_not_replace_its_own_folder_unless_out_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out, results/disease, is here
    assert disease_dlvm.main(TINY) == 0
    before = _snapshot(tmp_path / "results" / "disease")
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--load", "results/disease/model.pt"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err == (
        "disease_dlvm.py: error: argument --out: the run would replace results/disease, the folder --load "
        "reads results/disease/model.pt from; give another --out (or --out results/disease to replace that "
        "run with this evaluation)\n"
    )
    assert _snapshot(tmp_path / "results" / "disease") == before
    argv = [*TINY, "--load", "results/disease/model.pt"]
    assert disease_dlvm.main([*argv, "--out", "results/loaded"]) == 0
    assert _snapshot(tmp_path / "results" / "disease") == before
    assert disease_dlvm.main([*argv, "--out", "results/disease"]) == 0  # named: replaced by the evaluation
    assert (
        _read(tmp_path / "results" / "disease", "metrics.json")["loaded_from"] == "results/disease/model.pt"
    )


def test_a_kill_during_a_resumed_run_leaves_the_interrupted_run_to_resume(tmp_path, capsys):
    from tests.conftest import stop_after

    out = tmp_path / "run"
    with pytest.MonkeyPatch.context() as patch:
        stop_after(patch, 3)  # interrupted in the first epoch
        assert disease_dlvm.main([*TINY, "--out", str(out)]) == 130
    before = _snapshot(out)
    resumed = subprocess.Popen(
        [sys.executable, "disease_dlvm.py", "--resume", str(out)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1", staging.PAUSE_VARIABLE: "evaluation"},
    )
    _, status = os.waitpid(resumed.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    resumed.kill()
    resumed.wait(timeout=10)
    assert _snapshot(out) == before and _read(out, "metrics.json")["status"] == "interrupted"
    assert disease_dlvm.main(["--resume", str(out), "--quiet"]) == 0
    assert _read(out, "metrics.json")["status"] == "completed"


def test_out_holding_files_of_no_run_or_the_runs_own_table_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "holds files but no run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    out = tmp_path / "run"
    assert disease_dlvm.main([*TINY, "--save-data", "--out", str(out)]) == 0
    (out / "rows.csv").write_bytes((out / "train.csv").read_bytes())
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*TINY, "--data", str(out / "rows.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "rows.csv is inside --out" in err and "which a run replaces" in err


def _quick(path):
    with open(path, "w") as f:
        f.write("drawn")


def _slow(path):
    import time

    time.sleep(1.0)
    _quick(path)


def test_figures_not_drawn_in_time_are_skipped_and_the_numbers_kept(tmp_path, monkeypatch, capsys):
    """Figures come after the numbers and get figures.FIGURE_SECONDS: here 0.2 s, which the slow figure
    (drawn first: the last sent) outlasts, so the other is skipped, named on stderr and in metrics.json."""

    def two_figures(draw, folder, *args):
        draw(_quick, folder.file("quick.png"))
        draw(_slow, folder.file("slow.png"))

    monkeypatch.setattr(figures, "draw_shared", two_figures)
    monkeypatch.setattr(figures, "FIGURE_SECONDS", 0.2)
    assert disease_dlvm.main([*TINY, "--visualize", "--out", str(tmp_path / "run")]) == 0
    metrics = _read(tmp_path / "run", "metrics.json")
    assert metrics["status"] == "completed" and metrics["figures_skipped"] == ["quick.png"]
    assert "test" in metrics and "recovery" in metrics
    assert (tmp_path / "run" / "slow.png").exists() and not (tmp_path / "run" / "quick.png").exists()
    assert (
        "1 figure(s) not drawn within 0.2 s of the numbers were skipped (quick.png)"
        in capsys.readouterr().err
    )
