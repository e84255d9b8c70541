"""Runs end in a valid state whatever happens: signals, resume, other demos' folders, random flags."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common import cli, staging
from common.model_table import build_model
from tests.conftest import ROOT, RunsCode

# A few seconds of training; the signal comes 1.5 s after config.json, when training has begun
# (after the mixture fit and the warm start, about a second).
SLOW = ["--samples", "2000", "--epochs", "120", "--batch-size", "64", "--hidden-dim", "16"]
SLOW += ["--iw-samples", "20", "--quiet"]


def _start(out, *extra, command=("disease_dlvm.py", *SLOW)):
    return subprocess.Popen(
        [sys.executable, *command, *extra, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _interrupt(out, sig, command=("disease_dlvm.py", *SLOW)):
    process = _start(out, command=command)
    deadline = time.time() + 60
    config = os.path.join(staging.staging_path(out, process.pid), "config.json")  # the run's files, staged
    while not os.path.exists(config):  # written just before the mixture fit and training
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    time.sleep(1.5)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def _every_file_parses(folder):
    for path in folder.iterdir():
        assert ".tmp" not in path.name, f"leftover temporary file {path.name}"
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)


@pytest.mark.parametrize("sig, extra", [(signal.SIGINT, ()), (signal.SIGTERM, ("--visualize",))])
def test_a_signal_mid_training_saves_a_valid_resumable_run_and_exits_130(tmp_path, sig, extra):
    code, err = _interrupt(tmp_path, sig, command=("disease_dlvm.py", *SLOW, *extra))
    assert code == 130, err
    assert err.splitlines()[-1].startswith("disease_dlvm.py: interrupted after epoch")  # the last word
    assert "--resume" in err and "Traceback" not in err
    _every_file_parses(tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and 0 <= metrics["epochs_completed"] < 120
    assert metrics.get("figures_skipped") == ("all" if extra else None)  # none was drawn
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["training"]["epoch"] == metrics["epochs_completed"]
    assert len(pd.read_csv(tmp_path / "history.csv")) == metrics["epochs_completed"]


# Implicit feedback (Mult-VAE) on a small world: epochs of a few milliseconds, far more of them than
# the 1.5 s before the signal can finish.
IMPLICIT_SLOW = ["--likelihood", "multinomial", "--users", "400", "--movies", "10", "--latent-dim", "4"]
IMPLICIT_SLOW += ["--hidden-dim", "8", "--epochs", "5000", "--quiet"]


def test_a_signal_mid_training_of_the_implicit_mode_saves_fold_1_and_exits_130(tmp_path):
    code, err = _interrupt(tmp_path, signal.SIGINT, command=("movie_dlvm.py", *IMPLICIT_SLOW))
    assert code == 130, err
    assert "interrupted in fold 1 after epoch" in err and "Traceback" not in err
    _every_file_parses(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "history.csv", "model.pt", "metrics.json"}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["fold"] == 1 and metrics["folds_completed"] == 0
    assert 0 <= metrics["epochs_completed"] < 5000 and "ranking" not in metrics
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == metrics["epochs_completed"] and (history["fold"] == 1).all()
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)  # the weights after the last epoch
    build_model(checkpoint["config"]).load_state_dict(checkpoint["state_dict"])
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())


def test_resume_reaches_the_same_metrics_as_an_uninterrupted_run(tmp_path):
    interrupted, whole = tmp_path / "interrupted", tmp_path / "whole"
    code, err = _interrupt(interrupted, signal.SIGINT)
    assert code == 130, err
    resumed = subprocess.run(
        [sys.executable, "disease_dlvm.py", "--resume", str(interrupted), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _start(whole).wait(timeout=120) == 0
    a = json.loads((interrupted / "metrics.json").read_text())
    b = json.loads((whole / "metrics.json").read_text())
    assert a["status"] == "completed" and a["resumed_with"][:1] == ["--resume"]
    assert a["test"]["nll"] == pytest.approx(b["test"]["nll"], rel=1e-5)
    assert a["recovery"]["ari"] == pytest.approx(b["recovery"]["ari"], abs=1e-9)
    assert len(pd.read_csv(interrupted / "history.csv")) == 120


def test_resume_refuses_other_flags_and_finished_runs(tmp_path, capsys):
    argv = ["--samples", "200", "--epochs", "2", "--iw-samples", "5", "--hidden-dim", "8", "--quiet"]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path)]) == 0
    for extra, expected in (
        (["--epochs", "9"], "argument --resume: continues the run as it was configured; drop --epochs"),
        ([], "already finished all 2 epochs"),
    ):
        with pytest.raises(SystemExit) as info:
            disease_dlvm.main(["--resume", str(tmp_path), *extra])
        assert info.value.code == 2
        assert expected in capsys.readouterr().err
    (tmp_path / "config.json").write_text('["disease"]')  # valid JSON, not a configuration
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main(["--resume", str(tmp_path)])
    assert info.value.code == 2
    assert "config.json is not a run's configuration" in capsys.readouterr().err


def test_a_run_that_fails_over_an_earlier_one_leaves_that_run_consistent(tmp_path, capsys):
    """config.json, metrics.json and model.pt of a folder describe one run: a later run into the same
    folder that fails before it has anything to save (here out of memory) changes none of them."""
    argv = ["--samples", "200", "--epochs", "2", "--iw-samples", "5", "--quiet", "--out", str(tmp_path)]
    assert disease_dlvm.main([*argv, "--hidden-dim", "8"]) == 0
    before = {name: (tmp_path / name).read_bytes() for name in ("config.json", "metrics.json", "model.pt")}
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*argv, "--hidden-dim", "2000000"])  # a 16 TB layer: refused by the allocator
    assert info.value.code == 2 and "out of memory" in capsys.readouterr().err
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_a_folder_with_another_demos_run_is_refused_unless_overwrite(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"demo": "movie"}))
    (tmp_path / "metrics.json").write_text("{}")
    argv = ["--samples", "200", "--epochs", "1", "--iw-samples", "5", "--hidden-dim", "8", "--quiet"]
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*argv, "--out", str(tmp_path)])
    assert info.value.code == 2
    assert (
        "holds a run of the movie demo; choose another folder or pass --overwrite" in capsys.readouterr().err
    )
    assert json.loads((tmp_path / "config.json").read_text()) == {"demo": "movie"}  # untouched
    assert disease_dlvm.main([*argv, "--overwrite", "--out", str(tmp_path)]) == 0


# Tiny runs that stop at --load, before any training.
LOADING = {
    "disease": (disease_dlvm, ["--samples", "200"]),
    "cuisine": (cuisine_dlvm, ["--samples", "200"]),
    "movie": (movie_dlvm, ["--users", "100", "--movies", "2"]),
}


@pytest.mark.parametrize("demo", LOADING)
def test_load_refuses_unsafe_truncated_and_foreign_checkpoints_in_every_demo(demo, tmp_path, capsys):
    module, argv = LOADING[demo]
    marker, other = tmp_path / "pwned", "disease" if demo == "movie" else "movie"
    torch.save({"state_dict": {}, "config": {"demo": demo}, "code": RunsCode(marker)}, tmp_path / "evil.pt")
    torch.save({"state_dict": {}, "config": {"demo": other}}, tmp_path / "foreign.pt")
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "config": {"demo": demo}}, tmp_path / "whole.pt")
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:2000])
    for name, expected in (
        ("evil.pt", "holds Python objects that would have to be unpickled (which can run code); refused"),
        ("foreign.pt", f"written by the {other} demo; load it with {other}_dlvm.py"),
        ("truncated.pt", "is not a readable checkpoint (truncated or corrupt)"),
    ):
        with pytest.raises(SystemExit) as info:
            module.main([*argv, "--quiet", "--load", str(tmp_path / name), "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1 and expected in err, err
        assert err.startswith(f"{demo}_dlvm.py: error: argument --load: {tmp_path / name}")
    assert not marker.exists()
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("module", "argv", "hint"),
    [
        (disease_dlvm, ["--generate", "nordic"], " (--generate is a flag of cuisine_dlvm.py)"),
        (movie_dlvm, ["--samples=300"], " (--samples is a flag of cuisine_dlvm.py and disease_dlvm.py)"),
        (
            cuisine_dlvm,
            ["--folds", "2", "--titles", "x", "--folds", "3"],
            " (--folds is a flag of movie_dlvm.py --likelihood multinomial; "
            "--titles is a flag of movie_dlvm.py)",
        ),
        (disease_dlvm, ["--standardize"], " (--standardize is a flag of cuisine_dlvm.py)"),
        (movie_dlvm, ["--epohcs", "3"], ""),  # a typo: no demo has it
    ],
)
def test_a_flag_of_another_demo_is_refused_with_the_demo_it_belongs_to(module, argv, hint, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        module.main([*argv, "--out", str(tmp_path)])
    assert info.value.code == 2
    expected = f"{module.__name__}.py: error: unrecognized arguments: {' '.join(argv)}{hint}\n"
    assert capsys.readouterr().err == expected


def test_a_model_of_another_mode_is_refused_with_the_mode_it_belongs_to(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        movie_dlvm.main(["--model", "recvae", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert err.endswith("invalid choice: 'recvae' (choose from 'vae', 'gmvae', 'hvae', 'vqvae', 'ae', 'dae') "
                        "(recvae is a --model of movie_dlvm.py --likelihood multinomial)\n")  # fmt: skip


SHARED_FLAGS = [
    "--model", "--latent-dim", "--hidden-dim", "--clusters", "--beta", "--anneal-epochs", "--corruption",
    "--noise", "--epochs", "--batch-size", "--lr", "--restarts", "--device", "--seed", "--test-fraction",
    "--iw-samples", "--quiet", "--visualize", "--interpret", "--save-data", "--overwrite", "--resume",
    "--load", "--out",
]  # fmt: skip
DEMO_FLAGS = {
    "disease": ["--samples", "--data", "--label-column", "--drop-columns"],
    "cuisine": ["--samples", "--data", "--label-column", "--drop-columns", "--standardize", "--conditional",
                "--generate", "--count"],
    "movie": ["--users", "--movies", "--likelihood", "--ratings", "--titles", "--folds", "--dropout",
              "--anneal-steps", "--ease-lambda", "--ease-max-items"],
}  # fmt: skip
EVERY_FLAG = sorted(set(SHARED_FLAGS).union(*DEMO_FLAGS.values()))
VALUES = ["0", "1", "-1", "2.5", "1e9", "nan", "inf", "-inf", "auto", "vae", "gmvae", "dae", "flip", "cpu",
          "cuda", "x", "", "0.2", "0.9", "--", "-3e-3", "10000000000000000000000", "nordic", "West African",
          "multinomial", "ordinal", "categorical+missing", "RATINGS", "3", "100", "0.5"]  # fmt: skip


@pytest.fixture(scope="module")
def ratings_file(tmp_path_factory):
    """A valid MovieLens file, so that --ratings RATINGS gets past the file checks."""
    path = tmp_path_factory.mktemp("movielens") / "u.data"
    path.write_text("".join(f"{u}\t{i}\t5\t881250949\n" for u in range(1, 21) for i in range(1, 8)))
    return str(path)


# Each demo's ways in (its modes), so that random lists reach the checks of each.
STARTS = {
    "disease": [[]],
    "cuisine": [[], ["--conditional"], ["--generate", "nordic"]],
    "movie": [[], ["--likelihood", "multinomial"], ["--ratings", "RATINGS"]],
}


def _argv(demo, module):
    """Random argument lists: a start, then mostly this demo's flags, some of any demo, each with a
    value that fits its type or choices (at or beyond their edges) or any value; and stray values."""
    anything = st.one_of(st.sampled_from(VALUES), st.text(max_size=6))
    actions = {}  # every flag of the demo's modes
    for cls in module.OPTIONS:
        actions |= cli.build_parser(cls)._option_string_actions

    def with_value(flag):
        action = actions.get(flag)
        if action is not None and action.nargs == 0:  # --quiet, --conditional, ...
            return st.just([flag])
        fitting = anything
        if action is not None and action.choices:
            fitting = st.sampled_from(list(action.choices))
        elif action is not None and isinstance(action.type, cli.Interval):
            edges = [edge for edge in (action.type.low, action.type.high) if edge is not None]
            fitting = st.sampled_from([str(edge + step) for edge in edges for step in (-1, 0, 1)] + ["0.5"])
        return st.tuples(st.just(flag), st.one_of(fitting, fitting, anything)).map(list)

    own = st.sampled_from(SHARED_FLAGS + DEMO_FLAGS[demo]).flatmap(with_value)
    group = st.one_of(
        own, own, own, st.sampled_from(EVERY_FLAG).flatmap(with_value), anything.map(lambda v: [v])
    )
    groups = st.lists(group, max_size=5)
    return st.tuples(st.sampled_from(STARTS[demo]), groups).map(lambda parts: parts[0] + sum(parts[1], []))


@pytest.mark.parametrize("demo", ["disease", "cuisine", "movie"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_argument_list_parses_cleanly_or_exits_2_with_one_line(
    demo, tmp_path, capsys, ratings_file, data
):
    module = {"disease": disease_dlvm, "cuisine": cuisine_dlvm, "movie": movie_dlvm}[demo]
    draw = data.draw(_argv(demo, module))
    argv = [ratings_file if a == "RATINGS" else a for a in draw]
    capsys.readouterr()
    try:
        args = cli.parse(
            module.options_for if hasattr(module, "options_for") else module.Options,
            [*argv, "--out", str(tmp_path / "out")],
        )
    except SystemExit as err:
        assert err.code in (0, 2)  # 0: --help
        message = capsys.readouterr().err
        event(f"exit {err.code}")  # pytest --hypothesis-show-statistics: how often each outcome came
        if err.code == 2:
            assert message.startswith(f"{demo}_dlvm.py: error: ") and message.count("\n") == 1, message
        return
    event(f"parsed: {getattr(args, 'likelihood', None) or args.model}")
    assert args.epochs >= 1 and 0 < args.test_fraction < 1 and (args.batch_size or 1) >= 1
    if demo == "cuisine":
        assert args.model is not None and args.count >= 1 and args.anneal_epochs <= args.epochs
        assert args.generate is None or args.generate in cuisine_dlvm.REGIONS
    if demo == "movie":
        assert args.likelihood in movie_dlvm.LIKELIHOODS and args.users >= 50 and args.movies >= 1
        if args.likelihood == "multinomial":
            assert args.folds * args.test_fraction < 1 and not (args.load or args.resume)
        else:
            assert not hasattr(args, "folds") and args.ratings is None


def test_sigterm_before_training_stops_as_cleanly_as_ctrl_c(tmp_path):
    """SIGTERM while the run imports torch or prepares its data (before training's own handler): the
    one line of a Ctrl-C there and exit 130, not a silent exit 143; --out keeps no half run."""
    out = tmp_path / "run"
    process = _start(out)
    deadline = time.time() + 60
    while not os.path.exists(staging.lock_path(out)):  # the command line is parsed and --out locked
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "disease_dlvm.py: interrupted; nothing was written"
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_demo_script_imports_ends_with_one_line(tmp_path, sig):
    """common/startup.py, the first import of every demo script, guards the imports that come before the
    run's own handlers (numpy, torch): one line and exit 130, not a traceback or a silent exit 143."""
    script = tmp_path / "early_dlvm.py"  # guarded as a demo script is: by its name
    script.write_text(
        f"import common.startup\nimport os, signal, time\nos.kill(os.getpid(), {int(sig)})\ntime.sleep(30)\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert (run.returncode, run.stderr) == (130, "early_dlvm.py: interrupted; nothing was written\n")


def test_a_demo_started_ignoring_ctrl_c_keeps_ignoring_it(tmp_path):
    """A shell starts a background job with SIGINT ignored; the guard leaves it so, as Python does."""
    script = tmp_path / "bg_dlvm.py"
    script.write_text(
        "import common.startup\nimport os, signal\nos.kill(os.getpid(), signal.SIGINT)\nprint('on')\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    assert (run.returncode, run.stdout) == (0, "on\n")
