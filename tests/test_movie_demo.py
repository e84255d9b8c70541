"""The movie demo end to end with tiny sizes, in process: explicit ratings, implicit feedback on the
synthetic world and on MovieLens files, and the command line's refusals."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import movie_dlvm
from common.cli import parse
from common.recsys.movielens import ML100K_GENRES
from tests.conftest import ROOT, comparable_metrics, second_process, stop_after

TINY = ["--epochs", "2", "--hidden-dim", "8", "--quiet"]
EXPLICIT = [*TINY, "--users", "200", "--movies", "5", "--iw-samples", "5"]  # 40 movies, ~5 rated each
IMPLICIT = [*TINY, "--likelihood", "multinomial", "--users", "400", "--movies", "10", "--latent-dim", "4"]
RANKING_KEYS = {"ndcg@100", "recall@20", "recall@50"}


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def _files(folder):
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="module")
def explicit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explicit")
    with second_process():  # the figures go through the worker, as for a user
        assert movie_dlvm.main([*EXPLICIT, "--visualize", "--save-data", "--out", str(out)]) == 0
    return out


def test_explicit_run_writes_every_file(explicit_run):
    expected = {"metrics.json", "history.csv", "config.json", "model.pt", "recommendations.csv"}
    expected |= {"train.csv", "test.csv", "world.json"}
    expected |= {"latent.png", "training.png", "confusion.png", "genres.png"}
    assert expected <= _files(explicit_run)
    assert not [n for n in _files(explicit_run) if ".tmp" in n]


def test_explicit_metrics_compare_with_the_world(explicit_run):
    m = _metrics(explicit_run)
    assert m["demo"] == "movie" and m["data"]["source"] == "synthetic"
    assert m["model"] == "gmvae" and m["data"]["n_features"] == 40 and m["data"]["n_classes"] == 6
    test = m["test"]
    assert test["nll_gap"] == pytest.approx(test["nll"] - test["true_nll"]) and test["recon"]["rmse"] > 0
    assert {"ari", "bayes_ari", "nmi", "accuracy"} <= set(m["recovery"])
    assert {"kmeans", "gmm", "mixture_em"} <= set(m["baselines"])
    ratings = m["ratings"]
    assert 0 < ratings["oracle_rmse"] < 4 and 0 < ratings["rmse"] < 4 and ratings["n_hidden"] > 0
    assert set(ratings["baselines"]) == {"global_mean", "movie_mean", "mixture_em"}
    recommendations = pd.read_csv(explicit_run / "recommendations.csv")
    assert len(recommendations) == 40 * 10 and set(recommendations["rank"]) == set(range(1, 11))
    assert recommendations["predicted_rating"].between(1, 5).all()


@pytest.mark.parametrize("likelihood", ["categorical", "categorical+missing", "ordinal"])
def test_explicit_likelihoods_compare_like_with_like(likelihood, tmp_path):
    argv = [*EXPLICIT, "--model", "vae", "--likelihood", likelihood, "--out", str(tmp_path)]
    assert movie_dlvm.main(argv) == 0
    m = _metrics(tmp_path)
    world = movie_dlvm.MovieWorld(5, likelihood=likelihood)
    test = pd.read_csv(tmp_path / "history.csv")  # the run finished its epochs
    assert len(test) == 2
    # The ratings-only heads are compared with log p(stars | rated set), the others with log p(x).
    x = world.sample(50, np.random.default_rng(0)).x
    ratings_only = likelihood in ("categorical", "ordinal")
    assert (world.reference_log_prob(x) == world.log_prob(x)).all() != ratings_only
    assert m["test"]["true_nll"] < (40 if ratings_only else 60)


@pytest.fixture(scope="module")
def implicit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("implicit")
    argv = [*IMPLICIT, "--folds", "2", "--visualize", "--save-data", "--out", str(out)]
    assert movie_dlvm.main(argv) == 0
    return out


def test_implicit_run_writes_every_file(implicit_run):
    expected = {"metrics.json", "history.csv", "config.json", "model.pt", "recommendations.csv"}
    expected |= {
        "train.csv",
        "test.csv",
        "latent.png",
        "training.png",
        "ranking_history.png",
        "recall_curve.png",
    }
    assert expected <= _files(implicit_run)


def test_implicit_metrics_have_the_ranking_keys(implicit_run):
    m = _metrics(implicit_run)
    ranking = m["ranking"]
    assert set(ranking) >= RANKING_KEYS and ranking["folds"] == 2 and ranking["n_users"] > 0
    assert set(ranking["std"]) == RANKING_KEYS
    assert set(ranking["baselines"]["popularity"]) | set(ranking["baselines"]["ease"]) >= RANKING_KEYS
    assert set(ranking["oracle"]) >= RANKING_KEYS and set(ranking["posterior"]) >= RANKING_KEYS
    mixture = ranking["baselines"]["mixture"]
    assert set(mixture) >= RANKING_KEYS and mixture["components"] == 6  # the world's archetypes
    assert all(0 <= ranking[k] <= 1 for k in RANKING_KEYS)
    # The world's posterior ranks better than popularity, which knows nothing of the user.
    assert ranking["posterior"]["ndcg@100"] > ranking["baselines"]["popularity"]["ndcg@100"]
    assert m["data"]["source"] == "synthetic" and "recovery" not in m
    history = pd.read_csv(implicit_run / "history.csv")
    assert list(history["fold"]) == [1, 1, 2, 2] and history["ndcg@100"].notna().all()


def test_recommendations_never_repeat_what_a_user_gave_the_model(implicit_run):
    recommendations = pd.read_csv(implicit_run / "recommendations.csv")
    test = pd.read_csv(implicit_run / "test.csv")
    fold_in = test[test["part"] == "fold_in"]
    first = recommendations[recommendations["fold"] == 1]
    shown = set(zip(first["user"], first["item"], strict=True))
    assert not shown & set(zip(fold_in["user"], fold_in["item"], strict=True))
    targets = test[test["part"] == "target"]
    hits = shown & set(zip(targets["user"], targets["item"], strict=True))
    assert len(hits) == first["held_out_hit"].sum()


def _write_movielens(folder, n_users=60, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for user in range(1, n_users + 1):
        items = rng.choice(np.arange(1, n_items + 1), size=12, replace=False)
        for item, rating in zip(
            items, rng.choice([2, 3, 4, 5], size=12, p=[0.1, 0.1, 0.4, 0.4]), strict=True
        ):
            lines.append(f"{user}\t{item}\t{rating}\t88125{user:04d}")
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    genres = ["Action", "Comedy", "Drama"]
    flags = lambda i: ["1" if k == i % 3 else "0" for k in range(19)]  # noqa: E731
    rows = [f"{i}|Film {i} (1995)|01-Jan-1995||http://x|" + "|".join(flags(i)) for i in range(1, n_items + 1)]
    (folder / "u.item").write_text("\n".join(rows) + "\n", encoding="latin-1")
    return folder / "u.data", genres


def test_a_tiny_movielens_file_runs_with_titles_found_beside_it(tmp_path, capsys):
    ratings, _ = _write_movielens(tmp_path)
    out = tmp_path / "run"
    argv = ["--ratings", str(ratings), "--epochs", "2", "--latent-dim", "4", "--hidden-dim", "8"]
    assert movie_dlvm.main([*argv, "--visualize", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top 10 for held-out user" in printed and "Film " in printed
    m = _metrics(out)
    assert m["data"]["source"] == "movielens" and m["data"]["n_users"] == 60
    assert "oracle" not in m["ranking"] and "posterior" not in m["ranking"]  # no world, no truth
    assert "recovery" not in m and "test" not in m
    assert set(m["ranking"]["baselines"]["ease"]) >= RANKING_KEYS
    assert m["ranking"]["baselines"]["mixture"]["components"] == 20  # no archetypes in real data
    recommendations = pd.read_csv(out / "recommendations.csv")
    assert recommendations["title"].str.startswith("Film ").all()
    assert {"latent.png", "recall_curve.png"} <= _files(out)


def test_ease_is_skipped_with_a_message_above_its_item_limit(tmp_path, capsys):
    ratings, _ = _write_movielens(tmp_path)
    argv = ["--ratings", str(ratings), "--epochs", "1", "--latent-dim", "4", "--hidden-dim", "8"]
    assert movie_dlvm.main([*argv, "--ease-max-items", "10", "--out", str(tmp_path / "run")]) == 0
    assert "EASE skipped" in capsys.readouterr().out
    assert "skipped" in _metrics(tmp_path / "run")["ranking"]["baselines"]["ease"]


def test_real_movielens_100k_for_one_epoch(tmp_path, ml100k):
    argv = ["--ratings", os.path.join(ml100k, "u.data"), "--epochs", "1", "--quiet", "--out", str(tmp_path)]
    assert movie_dlvm.main(argv) == 0
    m = _metrics(tmp_path)
    assert m["data"]["n_users"] == 938 and m["data"]["n_items"] == 1447
    assert m["ranking"]["baselines"]["ease"]["ndcg@100"] > 0.35  # EASE needs no epochs
    titles = pd.read_csv(tmp_path / "recommendations.csv")["title"]  # found beside u.data: u.item
    assert len(titles) == 94 * 10 and not titles.str.startswith("movie ").any()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--ratings", "{data}", "--users", "100"], "argument --users: sizes the synthetic world"),
        (["--ratings", "{data}", "--likelihood", "categorical"], "argument --likelihood: categorical needs"),
        (
            ["--likelihood", "multinomial", "--model", "gmvae", "--dropout", "0.2"],
            "the gmvae reads rows whole",
        ),
        (
            ["--likelihood", "multinomial", "--clusters", "3"],
            "clusters (of the gmvae and the mixture baseline",
        ),
        (["--ratings", "{dir}/none.data"], "argument --ratings: no such file"),
        (["--ratings", "{dir}"], "is a folder; give the file inside it (u.data, ratings.dat or ratings.csv)"),
        (["--titles", "{data}"], "argument --titles: goes with --ratings"),
        (["--folds", "3"], "(--folds is a flag of movie_dlvm.py --likelihood multinomial)"),
        (["--ease-lambda", "10"], "(--ease-lambda is a flag of movie_dlvm.py --likelihood multinomial)"),
        (["--mixture-components", "3"], "(--mixture-components is a flag of movie_dlvm.py --likelihood"),
        (["--likelihood", "multinomial", "--mixture-components", "0"], "--mixture-components: 0 is out of"),
        (
            ["--likelihood", "multinomial", "--iw-samples", "10"],
            "argument --iw-samples: there is no held-out",
        ),
        (["--likelihood", "multinomial", "--anneal-epochs", "2"], "use --anneal-steps"),
        (["--likelihood", "multinomial", "--model", "dae", "--corruption", "0.3"], "is --dropout"),
        (["--likelihood", "multinomial", "--folds", "10"], "would hold out every user"),
        (["--likelihood", "multinomial", "--load", "{data}"], "argument --load: the implicit mode trains"),
        (["--ratings", "{data}", "--load", "{data}"], "argument --load: the implicit mode trains"),
        (["--likelihood", "multinomial", "--dropout", "1"], "argument --dropout: 1 is out of range"),
        (["--likelihood", "poisson"], "argument --likelihood: invalid choice: 'poisson'"),
        (["--likelihood"], "argument --likelihood: expected one argument"),
        (["--users", "10"], "argument --users: 10 is out of range"),
        (["--movies", "0"], "argument --movies: 0 is out of range"),
        (  # 8 movies: no user likes 5 of them, so there is nobody to hold out (not a fault of --folds)
            ["--likelihood", "multinomial", "--movies", "1", "--users", "50"],
            "argument --movies: only 0 of the 50 users like 5 or more of its 8 items (4 or 5 stars), and "
            "the implicit mode needs 10 such users to train on some and hold out others; raise --movies",
        ),
        (
            ["--ratings", "{data}", "--titles", "{data}"],
            "argument --titles: {data}: line 1: not a MovieLens titles",
        ),
        (
            ["--ratings", "{dir}/u.item"],
            "argument --ratings: {dir}/u.item: line 1: not a MovieLens ratings file",
        ),
        # Sizes known once the data are: the 60 users of the file, --test-fraction 0.1 holding out 6.
        (
            ["--ratings", "{data}", "--test-fraction", "0.999"],
            "argument --test-fraction: 0.999 leaves 0 of the 60 users to train on; a recommender learns from "
            "what users share and needs at least 2; use --test-fraction 0.966 or lower",
        ),
        (
            [*IMPLICIT, "--test-fraction", "0.999"],
            "argument --test-fraction: 0.999 leaves 0 of the",
        ),
        (
            ["--ratings", "{data}", "--mixture-components", "100"],
            "argument --mixture-components: 100 needs one training user per component, and --test-fraction "
            "0.1 leaves 54 of the 60 users to train on; use --mixture-components 54 or fewer",
        ),
        (
            [*IMPLICIT, "--mixture-components", "5000"],
            "argument --mixture-components: 5000 needs one training user per component",
        ),
        (  # the default 20 components: --test-fraction, the flag typed, is blamed, and both fixes given
            ["--ratings", "{data}", "--test-fraction", "0.9"],
            "argument --test-fraction: 0.9 leaves 6 of the 60 users to train on, fewer than the 20 mixture "
            "components (--mixture-components, 20 by default here) need, one each; use --test-fraction 0.666 "
            "or lower, or --mixture-components 6 or fewer",
        ),
        (
            ["--ratings", "{data}", "--test-fraction", "0.001"],
            "argument --test-fraction: 0.001 of the 60 users holds out none; use at least 0.017",
        ),
    ],
)
def test_bad_flags_and_conflicts_exit_2_with_one_line(argv, expected, tmp_path, capsys):
    data, _ = _write_movielens(tmp_path)
    argv = [a.format(data=data, dir=tmp_path) for a in argv]
    expected = expected.format(data=data, dir=tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main([*argv, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("movie_dlvm.py: error: ") and err.count("\n") == 1 and expected in err, err


def test_same_seed_and_flags_give_identical_implicit_metrics(tmp_path):
    # The explicit mode's twin: the resume test below, whose two runs agree only if both are deterministic.
    for name in ("a", "b"):
        assert movie_dlvm.main([*IMPLICIT, "--folds", "2", "--out", str(tmp_path / name)]) == 0
    assert comparable_metrics(tmp_path / "a") == comparable_metrics(tmp_path / "b")


def test_explicit_runs_resume_and_load_through_the_shared_pipeline(tmp_path, monkeypatch):
    """An interrupted and resumed run ends with the very metrics of an uninterrupted one with the same
    seed and flags (so both are deterministic, timings aside); --load reproduces its evaluation."""
    argv = [
        *EXPLICIT,
        "--model",
        "vae",
        "--epochs",
        "3",
    ]  # 160 training users, 20 a batch: 8 batches an epoch
    whole, cut, loaded = tmp_path / "whole", tmp_path / "cut", tmp_path / "loaded"
    assert movie_dlvm.main([*argv, "--out", str(whole)]) == 0
    stop_after(monkeypatch, 12)  # in epoch 2
    assert movie_dlvm.main([*argv, "--out", str(cut)]) == 130
    monkeypatch.undo()
    assert _metrics(cut)["status"] == "interrupted" and _metrics(cut)["epochs_completed"] == 1
    assert movie_dlvm.main(["--resume", str(cut), "--quiet"]) == 0
    assert comparable_metrics(cut, drop=("timing", "argv", "resumed_with")) == comparable_metrics(whole)
    assert len(pd.read_csv(cut / "history.csv")) == 3

    assert movie_dlvm.main([*argv, "--load", str(whole / "model.pt"), "--out", str(loaded)]) == 0
    trained, reloaded = _metrics(whole), _metrics(loaded)
    assert reloaded["loaded_from"] == str(whole / "model.pt")
    assert reloaded["test"]["recon"] == trained["test"]["recon"]  # the encoder mean: the same weights
    assert reloaded["ratings"] == trained["ratings"]


def test_an_implicit_run_cannot_be_resumed(implicit_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--resume", str(implicit_run)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert f"argument --resume: {implicit_run} is an implicit-feedback run, which keeps no optimizer" in err


def test_implicit_divergence_keeps_fold_1s_last_good_weights_and_exits_1(tmp_path, capsys):
    assert movie_dlvm.main([*IMPLICIT, "--lr", "1e30", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: training diverged in fold 1, epoch" in err and "try a lower --lr" in err
    m = _metrics(tmp_path)
    assert m["status"] == "diverged" and m["fold"] == 1 and m["epoch"] >= 1 and m["folds_completed"] == 0
    assert len(pd.read_csv(tmp_path / "history.csv")) == m["epoch"] - 1
    state = torch.load(tmp_path / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())


@pytest.mark.parametrize(
    ("checks", "stopped", "fold_rows"),
    [(10, (2, 1, 1), [1, 1, 2]), (12, (2, 2, 2), [1, 1, 2, 2])],  # in fold 2's epoch 2; after it
)
def test_an_implicit_run_stopped_in_fold_2_keeps_fold_1(
    checks, stopped, fold_rows, tmp_path, monkeypatch, capsys
):
    # 189 training users a fold, 100 a batch: each fold asks 2 x 2 times while training, once after
    # it and once after its scoring.
    stop_after(monkeypatch, checks)
    assert movie_dlvm.main([*IMPLICIT, "--folds", "2", "--out", str(tmp_path)]) == 130
    assert f"interrupted in fold 2 after epoch {stopped[1]} of 2" in capsys.readouterr().err
    m = _metrics(tmp_path)
    assert (
        m["status"] == "interrupted" and (m["fold"], m["epochs_completed"], m["folds_completed"]) == stopped
    )
    assert m["ranking"]["folds"] == m["folds_completed"] and set(m["ranking"]) >= RANKING_KEYS
    assert list(pd.read_csv(tmp_path / "history.csv")["fold"]) == fold_rows
    assert torch.load(tmp_path / "model.pt", weights_only=True)["config"]["item_ids"]  # fold 1's


def test_a_malformed_ratings_file_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t881250949\n1\t3\tfive\t881250949\n")
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--ratings", str(path), "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --ratings: {path}: line 2: non-numeric rating" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("genre_file", "expected"),
    [
        ("unknown|0\nAction\n", "{dir}/u.genre: line 2: expected 'name|index' such as 'Action|1'; correct"),
        (
            "".join(f"{name}|{i}\n" for i, name in enumerate(ML100K_GENRES[:18])),
            "{dir}/u.genre: names 18 genres, 1 fewer than the 19 genre flags of {dir}/u.item line 1; give "
            "u.genre a line 'name|index' per flag (indices 0 to 18), or remove it",
        ),
    ],
)
def test_a_malformed_or_short_u_genre_beside_u_item_exits_2_with_one_line(
    genre_file, expected, tmp_path, capsys
):
    ratings, _ = _write_movielens(tmp_path)
    (tmp_path / "u.genre").write_text(genre_file)
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--ratings", str(ratings), "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    expected = "movie_dlvm.py: error: argument --titles: " + expected.format(dir=tmp_path)
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_a_user_id_beyond_64_bits_exits_2_naming_file_line_and_id(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n1,2,4.0,5\n99999999999999999999999,2,4.0,5\n")
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--ratings", str(path), "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"movie_dlvm.py: error: argument --ratings: {path}: line 3: user id 99999999999999999999999 is "
        "beyond 64 bits (the largest is 9223372036854775807); renumber the users with smaller ids"
    ), err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"1\t2\t3\t881250949\n1\t3\t\xe95\t881250949\n",
            "line 2: non-numeric rating: '1\\t3\\t\xe95\\t881250949'",
        ),
        (np.random.default_rng(0).bytes(2000), "line 1: "),  # a binary file
    ],
)
def test_a_ratings_file_that_is_not_utf8_exits_2_with_one_line(content, expected, tmp_path, capsys):
    path = tmp_path / "u.data"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--ratings", str(path), "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"movie_dlvm.py: error: argument --ratings: {path}: {expected}")
        and err.count("\n") == 1
    )


def test_users_with_fewer_unrated_movies_than_10_get_them_all(tmp_path, capsys):
    # 8 movies, about one in nine rated: nobody has 10 unrated movies to recommend.
    small = ["--users", "50", "--movies", "1", "--iw-samples", "5", "--save-data", "--out", str(tmp_path)]
    assert movie_dlvm.main([*(a for a in TINY if a != "--quiet"), *small]) == 0  # prints its summary
    test = pd.read_csv(tmp_path / "test.csv")  # the held-out users' rows, in the order of their numbers
    unrated = (test[movie_dlvm.MovieWorld(1).feature_names] == 0).sum(axis=1).to_numpy()
    recommendations = pd.read_csv(tmp_path / "recommendations.csv")
    per_user = recommendations.groupby("user").size().reindex(range(1, len(test) + 1), fill_value=0)
    np.testing.assert_array_equal(per_user.to_numpy(), np.minimum(unrated, 10))
    assert (unrated < 10).all() and len(recommendations) == unrated.sum()
    for user, rows in recommendations.groupby("user"):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        rated = test.iloc[user - 1][rows["title"]]
        assert (rated == 0).all()  # only unrated movies
    printed = capsys.readouterr().out
    first = recommendations[recommendations["user"] == 1]
    assert f"all {len(first)} unrated movies for held-out user 1 " in printed
    assert f"{len(first)}. {first['title'].iloc[-1]}" in printed


def test_help_shows_the_defaults_of_the_mode_asked_for():
    code = (
        "import sys, movie_dlvm\n"
        "try:\n    movie_dlvm.main(sys.argv[1:] + ['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))"
    )

    def run(*argv):
        return subprocess.run(
            [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    explicit, implicit, vae = run(), run("--likelihood", "multinomial"), run("--model", "vae")
    gmvae = run("--likelihood", "multinomial", "--model", "gmvae")
    assert all(out.strip().endswith("[]") for out in (explicit, implicit, vae, gmvae))  # no heavy imports
    explicit, implicit, vae, gmvae = (" ".join(out.split()) for out in (explicit, implicit, vae, gmvae))
    assert "size of the continuous latent z (default: 2)" in gmvae
    assert "size of the continuous latent z (default: 2)" in explicit
    assert "size of the continuous latent z (default: 200)" in implicit
    assert "(default: gmvae)" in explicit and "passes over the training rows (default: 3)" in explicit
    assert (
        "passes over the training rows (default: 40)" in vae
        and "makes a default of 0 into 10 (at most --epochs) (default: 20)" in vae
    )


def test_the_implicit_gmvae_has_its_own_defaults_and_a_chosen_value_wins():
    gmvae = parse(movie_dlvm.options_for, ["--likelihood", "multinomial", "--model", "gmvae"])
    vae = parse(movie_dlvm.options_for, ["--likelihood", "multinomial"])
    flags = ["--anneal-steps", "5", "--mixture-components", "4"]
    chosen = parse(movie_dlvm.options_for, ["--likelihood", "multinomial", "--model", "gmvae", *flags])
    settings = lambda a: (a.latent_dim, a.hidden_dim, a.beta, a.epochs, a.anneal_steps)  # noqa: E731
    assert settings(gmvae) == (2, 64, 1.0, 10, 0) and settings(vae) == (200, 600, 0.2, 100, 700)
    assert gmvae.mixture_components is vae.mixture_components is None  # the data's classes, at run time
    assert (chosen.anneal_steps, chosen.mixture_components) == (5, 4)


def test_implicit_gmvae_starts_from_the_mixture_and_ranks(tmp_path, monkeypatch):
    # The warm start sets p(y) to the mixture's weights and holds q(y | x) at its responsibilities,
    # whose mean the prior then keeps: right after it, p(y) is still the mixture's.
    from common.baselines import MultinomialMixture
    from common.warm_start import warm_start

    started = {}

    def spy(model, weights, means, rows, responsibilities, **kwargs):
        warm_start(model, weights, means, rows=rows, responsibilities=responsibilities, **kwargs)
        started.update(weights=weights, prior=torch.softmax(model.prior_logits.detach(), 0).numpy())
        started["mixture"] = MultinomialMixture(6, random_state=0).fit(rows)

    monkeypatch.setattr("common.warm_start.warm_start", spy)
    assert movie_dlvm.main([*IMPLICIT, "--model", "gmvae", "--out", str(tmp_path)]) == 0
    np.testing.assert_allclose(started["weights"], started["mixture"].weights_)  # the same fit
    np.testing.assert_allclose(started["prior"], started["weights"], atol=0.05)
    m = _metrics(tmp_path)
    assert m["model"] == "gmvae" and set(m["ranking"]) >= RANKING_KEYS
    saved = torch.load(tmp_path / "model.pt", weights_only=False)
    assert saved["config"]["n_clusters"] == m["ranking"]["baselines"]["mixture"]["components"] == 6


def test_each_explicit_model_trains_with_its_own_defaults():
    gmvae = parse(movie_dlvm.options_for, [])
    vae = parse(movie_dlvm.options_for, ["--model", "vae"])
    chosen = parse(movie_dlvm.options_for, ["--model", "vae", "--epochs", "7"])
    assert (gmvae.model, gmvae.epochs, gmvae.batch_size, gmvae.anneal_epochs) == ("gmvae", 3, 256, 0)
    assert (vae.model, vae.epochs, vae.batch_size, vae.anneal_epochs) == ("vae", 40, 64, 20)
    assert chosen.epochs == 7 and chosen.anneal_epochs == 3  # a short run anneals over half of it


@pytest.mark.parametrize("argv", [["--help"], ["--likelihood", "multinomial", "--help"]])
def test_help_does_not_import_heavy_libraries(argv):
    code = (
        "import sys, movie_dlvm\n"
        f"try:\n    movie_dlvm.main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'scipy', 'matplotlib', 'sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout
    assert "--ratings" in out.stdout and ("--ease-lambda" in out.stdout) == ("multinomial" in argv)
