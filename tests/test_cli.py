"""Flags: validation errors are one line with exit code 2; --help stays free of heavy imports."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import disease_dlvm
from common import cli
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--samples", "0"], "argument --samples: 0 is out of range; use an integer in [50, inf)"),
        (["--epochs", "-3"], "argument --epochs: -3 is out of range"),
        (["--epochs", "ten"], "argument --epochs: 'ten' is not an integer"),
        (["--test-fraction", "1.5"], "argument --test-fraction: 1.5 is out of range; use a number in (0, 1)"),
        (["--test-fraction", "0"], "argument --test-fraction: 0 is out of range"),
        (["--lr", "nan"], "argument --lr: 'nan' is not finite"),
        (["--batch-size", "0"], "argument --batch-size: 0 is out of range"),
        (["--iw-samples", "0"], "argument --iw-samples: 0 is out of range"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (
            ["--seed", "4294967296"],
            "argument --seed: 4294967296 is out of range; use an integer in [0, 4294967295]",
        ),
    ],
)
def test_bad_values_exit_2_with_one_line_naming_flag_and_value(argv, expected, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("disease_dlvm.py: error: ") and expected in err


def test_out_that_is_a_file_is_refused_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main(["--out", str(path)])
    assert exit_info.value.code == 2
    assert "argument --out" in capsys.readouterr().err and str(path) in path.read_text() + str(path)
    assert path.read_text() == "keep me"


def test_out_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main(["--out", str(tmp_path / "a_file" / "run")])
    assert exit_info.value.code == 2
    assert "cannot write to" in capsys.readouterr().err


DEMOS = ("disease", "cuisine", "movie")


def _options_classes():
    import importlib

    return [(demo, cls) for demo in DEMOS for cls in importlib.import_module(f"{demo}_dlvm").OPTIONS]


@pytest.mark.parametrize("demo, cls", _options_classes(), ids=lambda v: getattr(v, "__name__", v))
def test_every_help_text_ends_with_the_default_the_run_uses(demo, cls):
    parser = cli.build_parser(cls)
    defaults = cls()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        if action.dest in cls.REFUSED:  # a mode's refused options are parsed (to say why) but not offered
            assert action.help == argparse.SUPPRESS
            continue
        assert action.help.endswith(")") and "(default: " in action.help, action.dest
        shown = action.help.rsplit("(default: ", 1)[1][:-1]
        if "shown" not in cli.declared(cls, action.dest):  # a default worked out from others says how
            assert shown == cli._shown(getattr(defaults, action.dest)), (action.dest, shown)


def test_the_run_uses_the_defaults_help_shows(tmp_path):
    """config.json of a run given only sizes: every other option at the default its help text gives."""
    argv = ["--samples", "200", "--epochs", "1", "--quiet", "--out", str(tmp_path)]
    assert disease_dlvm.main(argv) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["given"] == ["epochs", "out", "quiet", "samples"]
    help_of = {a.dest: a.help for a in cli.build_parser(disease_dlvm.Options)._actions}
    for name, value in config.items():
        meta = cli.declared(disease_dlvm.Options, name) if name in help_of else {}
        resolved = name == "device"  # config.json says where the run went: auto became cpu
        if name in help_of and name not in config["given"] and "shown" not in meta and not resolved:
            assert help_of[name].endswith(f"(default: {cli._shown(value)})"), name


@pytest.mark.parametrize(
    "demo, argv, hint",
    [
        ("disease", ["--generate", "nordic"], "(--generate is a flag of cuisine_dlvm.py)"),
        ("cuisine", ["--folds", "3"], "(--folds is a flag of movie_dlvm.py --likelihood multinomial)"),
        ("movie", ["--distinct-rows", "on"], "(--distinct-rows is a flag of disease_dlvm.py)"),
    ],
)
def test_a_flag_of_another_demo_or_mode_says_where_it_belongs(demo, argv, hint, capsys, tmp_path):
    import importlib

    with pytest.raises(SystemExit) as end:
        importlib.import_module(f"{demo}_dlvm").main([*argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert end.value.code == 2 and err.count("\n") == 1 and err.rstrip().endswith(hint), err


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("lr", "abc", "\"lr\": 'abc' is not a number; use a number in (0, inf)"),
        ("latent_dim", 0, '"latent_dim": 0 is out of range; use an integer in [1, inf)'),
        ("model", "transformer", "\"model\": 'transformer' is not one of vae, gmvae"),
        ("epochs", -5, '"epochs": -5 is out of range'),
        ("restarts", "1", None),  # a number written as text is the number its flag would read
        ("restarts", "2", '"restarts" is 2, and runs with --restarts > 1'),  # what no command line typed
        ("quiet", "yes", "\"quiet\": 'yes' is not true or false"),
        ("seed", 7, '"seed" is 7, but {out}/model.pt was trained with --seed 0'),  # model.pt's record
        ("hidden_dim", 32, '"hidden_dim" is 32, but {out}/model.pt was trained with --hidden-dim 64'),
        ("given", ["label_weight"], "config.json: --label-weight: applies to --labels only"),  # as if typed
        ("given", 5, None),  # not a list of names: read as none typed, not a traceback
        ("argv", {"a": 1}, None),
    ],
)
def test_values_read_back_from_a_run_folder_are_checked_as_flags_are(key, value, expected, tmp_path, capsys):
    import signal

    from tests.conftest import stop_after

    argv = ["--samples", "200", "--epochs", "2", "--quiet", "--out", str(tmp_path)]
    with pytest.MonkeyPatch.context() as patch:
        stop_after(patch, 3)  # interrupted in the first epoch: a run to resume
        assert disease_dlvm.main(argv) == 130
    capsys.readouterr()
    config = json.loads((tmp_path / "config.json").read_text())
    config[key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    if expected is None:
        assert disease_dlvm.main(["--resume", str(tmp_path)]) == 0
        return
    with pytest.raises(SystemExit) as end:
        disease_dlvm.main(["--resume", str(tmp_path)])
    err = capsys.readouterr().err
    assert end.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"disease_dlvm.py: error: argument --resume: {tmp_path}/config.json: "), err
    fix = "rerun them" if key == "restarts" else "; fix the file or rerun"
    assert expected.format(out=tmp_path) in err and err.endswith(fix + "\n"), err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys, disease_dlvm\n"
        "try:\n    disease_dlvm.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout
    assert "--latent-dim" in out.stdout


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--model", "vae", "--epochs", "3"], {"model": "vae", "ratings": None}),
        (["--mod=ae", "--ratings", "u.data"], {"model": "ae", "ratings": "u.data"}),  # as argparse reads it
        (["--epochs", "3"], {"model": None, "ratings": None}),  # a default is not typed
        (["--model"], {"model": None, "ratings": None}),  # does not parse: the full parser will say so
    ],
)
def test_typed_reads_only_what_the_command_line_gives(argv, expected):
    assert cli.typed(argv, "--model", "--ratings") == expected


def test_typed_reads_switches_too():
    assert cli.typed(["--cond", "--epochs", "3"], switches=["--conditional"]) == {"conditional": True}
    assert cli.typed(["--epochs", "3"], switches=["--conditional"]) == {"conditional": None}


def test_interval_bounds():
    assert cli.Interval(int, 1, None).contains(1)
    assert not cli.Interval(float, 0, 1, closed="neither").contains(0.0)
    assert cli.Interval(float, 0, 1, closed="right").contains(1.0)
    assert str(cli.Interval(float, 0, None, closed="neither")) == "(0, inf)"


def test_every_flag_of_every_demo_is_documented():
    import pathlib

    docs = (pathlib.Path(ROOT) / "docs" / "options.md").read_text()
    for demo, cls in _options_classes():
        for field in cli.options_fields(cls):
            assert f"`{cli.flag_name(field.name)}" in docs, (
                f"{demo}: {cli.flag_name(field.name)} is not in docs/options.md"
            )


@pytest.mark.parametrize(
    ("target", "replacement", "expected"),
    [
        (
            "tempfile.NamedTemporaryFile",
            "read-only",
            "cannot write to {out!r} (Read-only file system); choose another folder",
        ),
        ("shutil.disk_usage", "full", "only 1.0 MB free on the disk of {out!r}; free some space"),
    ],
)
def test_a_read_only_or_full_disk_is_refused_before_anything_runs(
    target, replacement, expected, tmp_path, capsys, monkeypatch
):
    import errno
    import types

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def full(path):
        return types.SimpleNamespace(free=2**20)

    # Root writes to read-only folders, and a test cannot fill the disk: the operating system's answer
    # is replaced, what the run does with it is tested.
    monkeypatch.setattr(f"common.runio.{target}", {"read-only": read_only, "full": full}[replacement])
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:
        disease_dlvm.main(["--out", out])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err == f"disease_dlvm.py: error: argument --out: {expected.format(out=out)}\n"


def test_sizes_too_big_for_memory_end_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import cuisine_dlvm

    # torch's allocator refuses a 16 TB layer at once (RuntimeError); numpy raises MemoryError.
    argv = ["--samples", "200", "--epochs", "1", "--quiet", "--out", str(tmp_path / "a")]
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main([*argv, "--hidden-dim", "2000000"])
    assert info.value.code == 2
    monkeypatch.setattr(cuisine_dlvm.CuisineWorld, "sample", lambda *a: np.empty((10**8, 10**6)))
    with pytest.raises(SystemExit) as info:
        cuisine_dlvm.main(["--samples", "200", "--quiet", "--out", str(tmp_path / "b")])
    assert info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": error: out of memory: ")[0] for line in lines] == [
        "disease_dlvm.py",
        "cuisine_dlvm.py",
    ]
    assert all(line.endswith("try smaller ones") for line in lines)


@pytest.mark.parametrize(
    "device, n_features, hidden_dim, limited",
    [
        ("cpu", 12, 64, True),  # the disease model
        ("cpu", 160, 600, True),  # Mult-VAE on the synthetic world's 160 movies
        ("cpu", 1447, 600, False),  # Mult-VAE on ML-100K: the second thread pays
        ("cuda", 12, 64, False),  # the CPU threads are not the GPU's business
    ],
)
def test_small_models_on_the_cpu_run_on_one_thread(device, n_features, hidden_dim, limited, monkeypatch):
    import threadpoolctl
    import torch

    from common.speed.threads import limit_threads

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(("torch", n)))
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda n: calls.append(("blas", n)))
    limit_threads(device, n_features, hidden_dim)
    assert calls == ([("torch", 1), ("blas", 1)] if limited else [])


def test_a_second_interrupt_during_the_evaluation_keeps_the_trained_model_and_exits_130(
    tmp_path, capsys, monkeypatch
):
    """The first Ctrl-C lets the evaluation finish; a user who presses it again gets out at once,
    without a traceback, and keeps the trained model (to evaluate later with --load)."""
    import signal

    import torch

    from common import evaluate

    def impatient(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # noted: the run will stop when it can
        os.kill(os.getpid(), signal.SIGINT)  # and now
        raise AssertionError("the second interrupt should have ended the evaluation")

    monkeypatch.setattr(evaluate, "held_out_likelihood", impatient)
    argv = ["--samples", "200", "--epochs", "2", "--iw-samples", "5", "--hidden-dim", "8", "--quiet"]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted during the evaluation; the trained model is in" in err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["evaluation"] == "incomplete"
    assert metrics["epochs_completed"] == 2
    assert "recovery" in metrics and "test" not in metrics  # what was done before the second signal
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["training"]["epoch"] == 2  # trained to the end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the run's handler is gone


def test_an_interrupt_before_training_ends_with_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    """Before the run can stop cleanly (sampling the data, here), Ctrl-C ends it without a traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(disease_dlvm.DiseaseWorld, "sample", interrupted)
    with pytest.raises(SystemExit) as info:
        disease_dlvm.main(["--samples", "200", "--quiet", "--out", str(tmp_path)])
    assert info.value.code == 130
    assert capsys.readouterr().err == "disease_dlvm.py: interrupted; nothing was written\n"


@pytest.mark.parametrize("flag", ["--data", "--out", "--load", "--label-column"])
def test_a_nul_byte_in_a_name_is_refused_in_one_line(flag, capsys):
    import disease_dlvm

    with pytest.raises(SystemExit) as exit_:
        disease_dlvm.main([flag, "a\x00b"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and f"argument {flag}: " in err
    assert "NUL byte" in err
