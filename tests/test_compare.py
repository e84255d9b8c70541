"""python -m common.compare: the table over run folders, its sorting, the CSV and the plot it writes.

Most run folders here are written by hand (metrics.json and config.json as DESIGN.md describes them),
so every expected number is known; one fixture makes two real tiny runs of the disease demo.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import disease_dlvm
from common import cli, compare
from tests.conftest import ROOT


def write_run(folder, flags=None, demo="disease", **numbers):
    """A run folder like the demos write. `numbers` set nll, ari, bayes_ari, seconds, baselines,
    ranking, status; a value of None leaves that part out, as a demo does when it cannot compute it."""
    folder.mkdir(parents=True)
    config = {
        "demo": demo,
        "device": "cpu",
        "samples": 10000,
        "model": "vae",
        "latent_dim": 2,
        "hidden_dim": 64,
        "beta": 1.0,
        "epochs": 50,
        "batch_size": 256,
        "lr": 0.003,
        "seed": 0,
        "quiet": True,
        "test_fraction": 0.2,
        "iw_samples": 1000,
        "out": str(folder),
        "visualize": False,
        "save_data": False,
        **(flags or {}),
    }
    config["argv"] = [f"--{key.replace('_', '-')}={value}" for key, value in (flags or {}).items()]
    config["argv"] += ["--out", str(folder)]
    n = {
        "nll": 4.0,
        "ari": 0.7,
        "bayes_ari": 0.8,
        "seconds": 2.0,
        "status": "completed",
        "baselines": {"kmeans": {"ari": 0.5}, "gmm": {"ari": 0.4}, "mixture_em": {"ari": 0.6, "nll": 4.1}},
        "ranking": None,
        **numbers,
    }
    metrics = {
        "demo": demo,
        "model": "vae",
        "argv": config["argv"],
        "seed": 0,
        "status": n["status"],
        "data": {"source": "synthetic", "n_train": 8000, "n_test": 2000, "n_features": 10, "n_classes": 5},
    }
    if n["nll"] is not None:
        metrics["test"] = {
            "elbo": -n["nll"] - 0.03,
            "nll": n["nll"],
            "iw_samples": 1000,
            "true_nll": 3.9,
            "nll_gap": n["nll"] - 3.9,
            "recon": {"auc": 0.88},
        }
    if n["ari"] is not None:
        metrics["recovery"] = {"ari": n["ari"], "nmi": 0.6, "accuracy": 0.8, "method": "GMM on latent means"}
        if n["bayes_ari"] is not None:
            metrics["recovery"].update(bayes_ari=n["bayes_ari"], bayes_nmi=0.7, bayes_accuracy=0.9)
    if n["baselines"] is not None:
        metrics["baselines"] = n["baselines"]
    if n["ranking"] is not None:
        metrics["ranking"] = n["ranking"]
    if n["seconds"] is not None:
        metrics["timing"] = {"train_seconds": n["seconds"], "total_seconds": n["seconds"] + 1}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


def run_compare(argv, capsys):
    code = compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def written(folder, ext="csv"):
    """The file compare wrote beside the runs in `folder` (named after the runs compared)."""
    [path] = folder.glob(f"compare-*.{ext}")
    return path


def read_table(folder):
    return pd.read_csv(written(folder))


def expect_exit_2(argv, capsys):
    """Run compare expecting a usage error; return the error line (skipped folders may precede it)."""
    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(a) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    *skipped, last = err.splitlines()
    assert last.startswith("python -m common.compare: error: ") and err.count("error:") == 1, err
    assert all(": skipping " in line for line in skipped), err
    return last


@pytest.fixture
def beta_runs(tmp_path):
    """Three runs that differ in beta (and one in latent_dim), with known, distinct numbers."""
    root = tmp_path / "results"
    write_run(root / "beta0.5", {"beta": 0.5}, nll=4.20, ari=0.60, seconds=3.0)
    write_run(root / "beta1", {"beta": 1.0}, nll=4.05, ari=0.72, seconds=1.0)
    write_run(root / "beta2", {"beta": 2.0, "latent_dim": 4}, nll=4.10, ari=0.50, seconds=2.0)
    return root


def test_only_the_flags_that_differ_appear(beta_runs, capsys):
    code, out, err = run_compare(sorted(beta_runs.iterdir()), capsys)
    assert code == 0 and "different data" not in err  # one demo, one data set: no note
    table = read_table(beta_runs)
    flags = [c for c in table.columns if c in {f.name for f in cli.options_fields(disease_dlvm.Options)}]
    assert sorted(flags) == ["beta", "latent_dim"]  # out and argv differ too, but name the run
    assert "epochs" not in out and "hidden_dim" not in out and "latent_dim" in out


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("nll", ["beta1", "beta2", "beta0.5"]),  # 4.05 < 4.10 < 4.20: lower is better, ascending
        ("ari", ["beta1", "beta0.5", "beta2"]),  # 0.72 > 0.60 > 0.50: higher is better, descending
        ("train_seconds", ["beta1", "beta2", "beta0.5"]),  # 1 < 2 < 3 seconds
        ("ari/bayes", ["beta1", "beta0.5", "beta2"]),  # same Bayes ARI, so the order of ari
    ],
)
def test_sort_direction_follows_the_metric(beta_runs, capsys, metric, expected):
    code, out, _ = run_compare([beta_runs / "*", "--sort", metric], capsys)
    assert code == 0
    assert list(read_table(beta_runs)["run"]) == expected
    printed = [line.split()[0] for line in out.splitlines()[2 : 2 + len(expected)]]
    assert printed == expected


def test_runs_without_the_sort_metric_go_last_in_both_directions(tmp_path, capsys):
    write_run(tmp_path / "a", {"beta": 0.5}, nll=4.2, ari=0.6)
    write_run(tmp_path / "failed", {"beta": 9.0}, nll=None, ari=None, status="diverged")
    write_run(tmp_path / "b", {"beta": 2.0}, nll=4.1, ari=0.5)
    for metric, expected in (("nll", ["b", "a", "failed"]), ("ari", ["a", "b", "failed"])):
        run_compare([tmp_path / "*", "--sort", metric], capsys)
        assert list(read_table(tmp_path)["run"]) == expected


def test_fraction_of_bayes_and_best_baseline(tmp_path, capsys):
    baselines = {"kmeans": {"ari": 0.31}, "mixture_em": {"ari": 0.58, "nll": 4.2}, "gmm": {"ari": 0.44}}
    write_run(tmp_path / "a", {"beta": 0.5}, ari=0.6, bayes_ari=0.8, baselines=baselines)
    write_run(tmp_path / "b", {"beta": 2.0}, ari=0.3, bayes_ari=None, baselines={"gmm": {"nll": 6.0}})
    run_compare([tmp_path / "a", tmp_path / "b"], capsys)
    table = read_table(tmp_path).set_index("run")
    assert table.loc["a", "ari/bayes"] == pytest.approx(0.75)
    assert table.loc["a", "baseline"] == "mixture_em"
    assert table.loc["a", "baseline_ari"] == pytest.approx(0.58)
    # No Bayes ARI, no baseline with an ARI: empty cells, not zeros and not a crash.
    assert table.loc["b", ["ari/bayes", "baseline", "baseline_ari"]].isna().all()
    assert table.loc["b", "ari"] == pytest.approx(0.3)


def test_other_demo_and_missing_sections_give_empty_cells(tmp_path, capsys):
    ranking = {
        "ndcg@100": 0.43,
        "recall@20": 0.39,
        "recall@50": 0.53,
        "baselines": {"ease": {"ndcg@100": 0.5}},
    }
    write_run(tmp_path / "disease", nll=4.0)
    write_run(tmp_path / "movie", {"users": 500}, demo="movie", ari=None, baselines=None, ranking=ranking)
    write_run(tmp_path / "broken", {"beta": 3.0}, nll=None, ari=None, seconds=None, status="diverged")
    code, out, err = run_compare([tmp_path / "*", "--sort", "ndcg@100"], capsys)
    assert code == 0 and "movie" in out and "diverged" in out
    assert "note: these runs are on different data (disease, synthetic; movie, synthetic)" in err
    table = read_table(tmp_path).set_index("run")
    assert table.loc["movie", "demo"] == "movie" and table.loc["disease", "demo"] == "disease"
    assert table.loc["movie", "ndcg@100"] == pytest.approx(0.43)
    assert table.loc["movie", "recall@50"] == pytest.approx(0.53)
    assert pd.isna(table.loc["disease", "ndcg@100"]) and pd.isna(table.loc["movie", "ari"])
    assert table.loc["movie", "users"] == 500 and pd.isna(table.loc["disease", "users"])
    assert table.loc["broken", "status"] == "diverged" and pd.isna(table.loc["disease", "status"])
    assert list(table.index) == ["movie", "broken", "disease"]  # ndcg@100 first, then the given order


def test_a_run_without_config_keeps_its_metrics_and_does_not_count_as_different(beta_runs, capsys):
    (beta_runs / "beta2" / "config.json").unlink()
    code, _, err = run_compare([beta_runs / "*"], capsys)
    assert code == 0 and err.count("\n") == 1 and "beta2: no readable config.json" in err
    table = read_table(beta_runs).set_index("run")
    assert "latent_dim" not in table.columns  # only beta2 had latent_dim 4
    assert pd.isna(table.loc["beta2", "beta"]) and table.loc["beta2", "nll"] == pytest.approx(4.10)


def test_columns_nobody_has_are_dropped(beta_runs, capsys):
    run_compare([beta_runs / "*"], capsys)
    columns = set(read_table(beta_runs).columns)
    assert {"nll", "gap", "ari", "ari/bayes", "baseline", "baseline_ari", "train_seconds"} <= columns
    assert not columns & {"ndcg@100", "recall@20", "recall@50", "status", "demo"}


def test_folders_without_metrics_or_with_a_corrupt_one_are_reported_and_skipped(beta_runs, capsys):
    (beta_runs / "empty").mkdir()
    corrupt = write_run(beta_runs / "corrupt", {"beta": 7.0})
    (corrupt / "metrics.json").write_text('{"demo": "disease", "test": {"nll": 4.')  # a killed writer
    code, out, err = run_compare([beta_runs / "*", beta_runs / "missing"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 3
    assert any("empty" in line and "no metrics.json" in line for line in lines)
    assert any("corrupt" in line and "metrics.json" in line for line in lines)
    assert any("missing" in line and "no such folder" in line for line in lines)
    assert sorted(read_table(beta_runs)["run"]) == ["beta0.5", "beta1", "beta2"]


def test_no_run_left_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(tmp_path / "empty"), str(tmp_path / "nothing*")])
    assert exit_info.value.code == 2
    empty, pattern, error = capsys.readouterr().err.splitlines()  # one line per path, then the error
    assert empty.endswith("empty: no metrics.json") and pattern.endswith("nothing*: no folder matches")
    assert error.startswith("python -m common.compare: error: no run to compare")
    assert not list(tmp_path.glob("compare*"))


def test_a_parent_folder_gets_a_hint(beta_runs, capsys):
    code, _, err = run_compare([beta_runs, beta_runs / "beta1"], capsys)
    assert code == 0 and f"try '{beta_runs}/*'" in err


def test_unknown_sort_exits_2_listing_the_valid_names(beta_runs, capsys):
    err = expect_exit_2([beta_runs / "*", "--sort", "elbo"], capsys)
    assert "argument --sort" in err and "'elbo'" in err
    assert all(name in err for name in compare.METRICS)


@pytest.mark.parametrize(
    ("plot", "expected"),
    [
        ("beta", ["'beta' is not X:Y"]),
        ("beta:loss", ["unknown metric 'loss'", "nll", "ndcg@100"]),
        ("epochs:nll", ["'epochs' is not a flag that differs", "beta", "latent_dim"]),
        ("beta:ndcg@100", ["no run has both 'beta' and 'ndcg@100'", "nll"]),
    ],
)
def test_bad_plot_exits_2_naming_the_value_and_the_choices(beta_runs, capsys, plot, expected):
    err = expect_exit_2([beta_runs / "*", "--plot", plot], capsys)
    assert all(text in err for text in expected), err
    assert not list(beta_runs.glob("compare*"))  # nothing written on a usage error


def test_a_second_compare_is_not_distracted_by_the_first_ones_files(beta_runs, capsys):
    run_compare([beta_runs / "*", "--plot", "beta:nll"], capsys)
    code, _, err = run_compare([beta_runs / "*"], capsys)  # now also matches compare.csv and .png
    assert code == 0 and err == ""
    assert sorted(read_table(beta_runs)["run"]) == ["beta0.5", "beta1", "beta2"]


def test_quoted_patterns_and_repeats_give_each_run_once(beta_runs, capsys):
    code, _, _ = run_compare(
        [beta_runs / "beta1", beta_runs / "beta*", beta_runs / "*" / "metrics.json"], capsys
    )
    assert code == 0
    assert sorted(read_table(beta_runs)["run"]) == ["beta0.5", "beta1", "beta2"]


def test_compare_csv_goes_to_the_common_parent_or_out_and_round_trips(beta_runs, tmp_path, capsys):
    run_compare([beta_runs / "*"], capsys)
    table = read_table(beta_runs).set_index("run")
    assert table.loc["beta0.5", "beta"] == 0.5 and table.loc["beta2", "latent_dim"] == 4
    assert table.loc["beta1", "nll"] == pytest.approx(4.05)
    assert table.loc["beta1", "gap"] == pytest.approx(4.05 - 3.9)  # nll - true_nll as written
    assert table.loc["beta0.5", "train_seconds"] == pytest.approx(3.0)

    elsewhere = tmp_path / "reports" / "beta"
    run_compare([beta_runs / "*", "--out", elsewhere], capsys)
    pd.testing.assert_frame_equal(pd.read_csv(elsewhere / "compare.csv"), read_table(beta_runs))
    assert not [p for p in elsewhere.iterdir() if ".tmp" in p.name]  # atomic write left nothing behind


def test_each_comparison_gets_its_own_file_and_out_names_one(beta_runs, tmp_path, capsys):
    """Two loops' comparisons beside each other: neither overwrites the other; the same runs compared
    again update their own file; --out FILE.csv puts the table (and the plot, as FILE.png) there."""
    write_run(beta_runs / "lr0.01", {"lr": 0.01}, nll=4.3)
    write_run(beta_runs / "lr0.1", {"lr": 0.1}, nll=4.4)
    _, out, _ = run_compare([beta_runs / "beta*"], capsys)
    betas = sorted(beta_runs.glob("compare-*.csv"))
    assert [p.name[:13] for p in betas] == ["compare-beta-"] and f"wrote {betas[0]}" in out
    run_compare([beta_runs / "lr*"], capsys)
    run_compare([beta_runs / "beta*", "--sort", "ari"], capsys)
    tables = {p.name[:11]: pd.read_csv(p) for p in beta_runs.glob("compare-*.csv")}
    assert sorted(tables) == ["compare-bet", "compare-lr0"]  # 'lr0.01', 'lr0.1': their start is 'lr0'
    assert sorted(tables["compare-bet"]["run"]) == ["beta0.5", "beta1", "beta2"]
    assert sorted(tables["compare-lr0"]["run"]) == ["lr0.01", "lr0.1"]
    target = tmp_path / "reports" / "betas.csv"
    code, out, _ = run_compare([beta_runs / "beta*", "--plot", "beta:nll", "--out", target], capsys)
    assert code == 0 and target.exists() and target.with_suffix(".png").exists()
    assert f"wrote {target} and {target.with_suffix('.png')}" in out


@pytest.mark.parametrize(
    ("flag", "values"),
    [
        ("latent_dim", (1, 2, 10)),  # numbers: ordered by value, not as text
        ("lr", (0.0003, 0.003, 0.03)),  # spans 100x: log axis
        ("device", ("cpu", "cuda")),  # text: one tick per value
    ],
)
def test_plot_writes_a_png(tmp_path, capsys, flag, values):
    import matplotlib.image

    for i, value in enumerate(values):
        for beta in (0.5, 2.0):
            write_run(
                tmp_path / f"{flag}{i}-beta{beta}", {flag: value, "beta": beta}, nll=4 + i / 50 + beta / 10
            )
    code, out, _ = run_compare([tmp_path / "*", "--plot", f"{flag.replace('_', '-')}:nll"], capsys)
    assert code == 0 and f"compare-{flag}-" in out and ".png" in out
    image = matplotlib.image.imread(written(tmp_path, "png"))
    assert image.shape[0] > 200 and image.shape[1] > 300


def test_help_is_fast_and_every_flag_states_its_default():
    for action in compare.make_parser()._actions:
        if action.option_strings and action.dest != "help":
            assert action.help.rstrip().endswith(")") and "(default: " in action.help, action.dest
    code = (
        "import sys\nfrom common import cli, compare\n"
        "try:\n    compare.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]") and "--sort" in out.stdout


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real") / "beta1"
    tiny = ["--samples", "200", "--epochs", "1", "--iw-samples", "5", "--hidden-dim", "8", "--quiet"]
    assert disease_dlvm.main([*tiny, "--out", str(folder)]) == 0
    return folder


def test_a_real_run_beside_an_edited_copy_of_it(real_run, capsys):
    # One real run (the files exactly as the demo writes them) and a copy that claims beta 2 and a
    # worse held-out NLL: the table must show beta only, sort the copy last and carry every number.
    root = real_run.parent
    copy = root / "beta2"
    shutil.copytree(real_run, copy, dirs_exist_ok=True)
    config = json.loads((copy / "config.json").read_text())
    metrics = json.loads((copy / "metrics.json").read_text())
    config.update(beta=2.0, out=str(copy))
    metrics["test"]["nll"] += 0.5
    (copy / "config.json").write_text(json.dumps(config))
    (copy / "metrics.json").write_text(json.dumps(metrics))

    code, out, err = run_compare([root / "beta*", "--plot", "beta:nll"], capsys)
    assert code == 0 and err == ""
    table = read_table(root)
    assert list(table["run"]) == ["beta1", "beta2"]
    assert [c for c in table.columns if c in config] == ["beta"]
    real = json.loads((real_run / "metrics.json").read_text())
    row = table.iloc[0]
    assert row["nll"] == pytest.approx(real["test"]["nll"]) and row["gap"] == pytest.approx(
        real["test"]["nll_gap"]
    )
    assert row["ari/bayes"] == pytest.approx(real["recovery"]["ari"] / real["recovery"]["bayes_ari"])
    assert row["baseline"] == max(real["baselines"], key=lambda k: real["baselines"][k]["ari"])
    assert row["train_seconds"] == pytest.approx(real["timing"]["train_seconds"])
    assert written(root, "png").exists()


def _kept(monkeypatch):
    """The figures common/plots/runs.py draws, kept open (and still written) for the test to read."""
    from common.plots import runs

    kept, save = [], runs.save_figure

    def keep(fig, path):
        kept.append((fig.axes, fig._suptitle.get_text() if fig._suptitle else "", path))
        save(fig, path)

    monkeypatch.setattr(runs, "save_figure", keep)
    return kept


def test_the_plot_draws_each_runs_reference_and_does_not_stretch_noise(tmp_path, capsys, monkeypatch):
    """Runs 0.683-0.700 apart are drawn on at least 0.1 of ARI, beside the Bayes-optimal ARI they hold."""
    kept = _kept(monkeypatch)
    root = tmp_path / "seeds"
    for seed, ari in ((0, 0.683), (1, 0.700), (2, 0.690)):
        write_run(root / f"s{seed}", {"seed": seed}, ari=ari, bayes_ari=0.728)
    run_compare([root / "*", "--plot", "seed:ari"], capsys)
    run_compare([root / "*", "--plot", "seed:nll"], capsys)
    (ari_axes, _, _), (nll_axes, _, _) = kept
    dashed = {
        line.get_ydata()[0]: line.get_label()
        for line in ari_axes[0].get_lines()
        if line.get_linestyle() == "--"
    }
    assert dashed == {0.728: "Bayes-optimal ARI: 0.728"}
    low, high = ari_axes[0].get_ylim()
    assert high - low >= 0.1 and low <= 0.683 and high >= 0.728
    assert [line.get_ydata()[0] for line in nll_axes[0].get_lines() if line.get_linestyle() == "--"] == [3.9]
    low, high = nll_axes[0].get_ylim()
    assert high - low >= 0.1  # three runs at one NLL: not a trend


def test_figure_puts_one_figure_of_every_run_side_by_side(beta_runs, capsys, monkeypatch):
    import matplotlib.image as mpimg

    kept = _kept(monkeypatch)
    for run, shade in (("beta0.5", 0.2), ("beta1", 0.8)):  # beta2 has none
        mpimg.imsave(beta_runs / run / "clusters.png", np.full((30, 40, 3), shade))
    code, out, _ = run_compare([beta_runs / "*", "--figure", "clusters"], capsys)
    grid = written(beta_runs, "csv").with_name(written(beta_runs).stem + "-clusters.png")
    assert code == 0 and grid.is_file() and out.splitlines()[-1].endswith(f"and {_shown(grid)}")
    [(axes, title, _)] = kept
    titles = [ax.get_title() for ax in axes]
    assert titles == [  # in the order of the flags' values, not the table's (by nll)
        "beta0.5: --latent-dim 2 --beta 0.5",
        "beta1: --latent-dim 2 --beta 1",
        "beta2: --latent-dim 4 --beta 2",
    ]
    assert [len(ax.images) for ax in axes] == [1, 1, 0]
    assert axes[2].texts[0].get_text() == "no clusters.png in this run"
    assert title.startswith("clusters.png of 3 runs")


def test_figure_that_no_run_has_exits_2_and_writes_nothing(beta_runs, capsys):
    err = expect_exit_2([beta_runs / "*", "--figure", "clusters.png"], capsys)
    assert "no run has clusters.png" in err
    assert not list(beta_runs.glob("compare*"))


def _shown(path):
    return compare._show(str(path))
