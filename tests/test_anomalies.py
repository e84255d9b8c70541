"""--anomalies: each world's generator keeps the data's look, the section is sklearn's numbers, the run's
other numbers do not move, every demo writes the section, and the flag's refusals are one line."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common.anomalies import anomaly_ranking, assessed, mixed_rows
from common.world import World
from tests.conftest import comparable_metrics

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet"]
DISEASE = [*TINY, "--samples", "400", "--iw-samples", "20"]
CUISINE = [*TINY, "--samples", "600", "--iw-samples", "20"]
MOVIE = [*TINY, "--users", "200", "--movies", "5", "--iw-samples", "5"]


def _anomalies(folder):
    return json.loads((folder / "metrics.json").read_text())["anomalies"]


def _pool(world, n=300, seed=0):
    rng = np.random.default_rng(seed)
    return world.sample(n, rng).x, world.sample(n, rng).x  # held-out rows, training rows


def test_disease_anomalies_stay_binary_at_the_training_rates():
    world = disease_dlvm.DiseaseWorld()
    test, train = _pool(world)
    rows = world.anomalies(test, 5000, np.random.default_rng(1), train)
    assert rows.shape == (5000, world.n_features) and rows.dtype == test.dtype
    assert set(np.unique(rows)) <= {0.0, 1.0}
    assert np.allclose(rows.mean(0), train.mean(0), atol=0.03)  # the population's rates, independently


def test_cuisine_anomalies_take_each_flavour_from_a_held_out_dish():
    world = cuisine_dlvm.CuisineWorld()
    test, train = _pool(world)
    rows = world.anomalies(test, 100, np.random.default_rng(1), train)
    assert rows.shape == (100, world.n_features) and rows.dtype == test.dtype
    for j in range(world.n_features):  # every value is one of the column's own: its range and its type
        assert np.isin(rows[:, j], test[:, j]).all()
    assert len(np.unique(rows, axis=0)) == 100  # not rows copied whole


def test_movie_anomalies_move_a_users_ratings_to_other_movies():
    world = movie_dlvm.MovieWorld(n_per_genre=5)
    test, train = _pool(world)
    rows = world.anomalies(test, 50, np.random.default_rng(1), train)
    assert rows.shape == (50, world.n_features)
    assert np.array_equal(rows, np.rint(rows)) and rows.min() >= 0 and rows.max() <= 5  # 0 or 1..5 stars
    users = {tuple(np.sort(row)) for row in test}
    assert all(tuple(np.sort(row)) in users for row in rows)  # a held-out user's very ratings, moved
    world.log_prob(rows)  # the world's exact likelihood accepts them


def test_the_generic_generator_permutes_columns_of_real_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    rows = World().anomalies(x, 10, rng, x)
    for j in range(3):
        assert x[:, j].min() <= rows[:, j].min() and rows[:, j].max() <= x[:, j].max()
        assert len(np.unique(rows[:, j])) == 10  # a permutation: no value twice


def test_the_mixed_copy_replaces_a_share_and_leaves_the_rest():
    world = cuisine_dlvm.CuisineWorld()
    test, train = _pool(world, n=50)
    before = test.copy()
    rows, injected = mixed_rows(world, test, train, 0.1, seed=3)
    assert injected.sum() == 5 and np.array_equal(test, before)  # the held-out rows themselves untouched
    assert np.array_equal(rows[~injected], test[~injected])
    again, same = mixed_rows(world, test, train, 0.1, seed=3)
    assert np.array_equal(rows, again) and np.array_equal(injected, same)  # seeded
    assert mixed_rows(world, test[:2], train, 0.01, seed=0)[1].sum() == 1  # at least one, never all


def test_the_section_is_sklearns_roc_auc_and_average_precision():
    injected = np.array([0, 0, 1, 0, 1, 0, 0, 1], dtype=bool)
    normality = np.array([-1.0, -2.0, -5.0, -0.5, -1.5, -3.0, -2.5, -np.inf])
    section = assessed(0.25, injected, {"model": normality}, "bernoulli")
    assert section["n_injected"] == 3 and section["n_normal"] == 5 and section["share"] == 0.25
    ranking = anomaly_ranking(normality)
    assert np.isfinite(ranking).all() and ranking.argmax() == 7  # log p(x) = -inf: most anomalous
    finite = np.where(np.isfinite(normality), -normality, 10.0)
    assert section["scores"]["model"]["roc_auc"] == pytest.approx(roc_auc_score(injected, finite))
    assert section["scores"]["model"]["roc_auc"] == pytest.approx(12 / 15)  # pairs, by hand: 5 + 2 + 5
    precision = average_precision_score(injected, finite)
    assert section["scores"]["model"]["average_precision"] == pytest.approx(precision)


def test_anomalies_leave_every_other_number_as_it_was(tmp_path):
    plain, scored = tmp_path / "plain", tmp_path / "scored"
    argv = [*DISEASE, "--model", "vae", "--interpret"]
    assert disease_dlvm.main([*argv, "--out", str(plain)]) == 0
    assert disease_dlvm.main([*argv, "--anomalies", "0.2", "--out", str(scored)]) == 0
    with_section = comparable_metrics(scored)
    section = with_section.pop("anomalies")
    assert with_section == comparable_metrics(plain)
    assert set(section["scores"]) == {"model", "world", "mixture", "isolation_forest", "reconstruction"}


@pytest.mark.parametrize(
    "main, argv",
    [(disease_dlvm.main, DISEASE), (cuisine_dlvm.main, CUISINE), (movie_dlvm.main, MOVIE)],
    ids=["disease", "cuisine", "movie"],
)
def test_every_demo_writes_the_section(main, argv, tmp_path):
    assert main([*argv, "--anomalies", "0.1", "--out", str(tmp_path)]) == 0
    section = _anomalies(tmp_path)
    assert section["n_injected"] >= 1 and section["n_normal"] > section["n_injected"]
    assert set(section["scores"]) == {"model", "world", "mixture", "isolation_forest", "reconstruction"}
    for scores in section["scores"].values():
        assert 0 <= scores["roc_auc"] <= 1 and 0 <= scores["average_precision"] <= 1


def test_the_worlds_own_likelihood_finds_dishes_made_of_other_dishes(tmp_path, capsys):
    """An easy case: 400 held-out dishes, 40% of them flavours taken from different dishes."""
    argv = [*CUISINE, "--samples", "2000", "--anomalies", "0.4", "--out", str(tmp_path)]
    assert cuisine_dlvm.main([a for a in argv if a != "--quiet"]) == 0
    assert _anomalies(tmp_path)["scores"]["world"]["roc_auc"] > 0.75
    out = capsys.readouterr().out
    assert "  anomalies (160 of 400 held-out rows injected): ROC AUC model " in out and "noisy" not in out


def test_a_handful_of_injected_rows_is_called_noisy(tmp_path, capsys):
    argv = [*CUISINE, "--samples", "400", "--anomalies", "0.01", "--out", str(tmp_path)]
    assert cuisine_dlvm.main([a for a in argv if a != "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "  anomalies (1 of 80 held-out rows injected)" in out and "these AUCs are noisy" in out


def test_an_autoencoder_and_a_loaded_model_are_scored_and_drawn(tmp_path):
    trained, loaded = tmp_path / "ae", tmp_path / "loaded"
    assert disease_dlvm.main([*DISEASE, "--model", "ae", "--out", str(trained)]) == 0
    load = ["--load", str(trained / "model.pt"), "--anomalies", "0.1", "--visualize", "--out", str(loaded)]
    assert disease_dlvm.main([*DISEASE, *load]) == 0
    section = _anomalies(loaded)
    assert "model" not in section["scores"]  # an autoencoder has no likelihood to score rows by
    assert section["reconstruction_error"].startswith("-log p(x | decoded probabilities)")
    assert (loaded / "anomalies.png").stat().st_size > 0


def test_a_table_without_a_world_has_no_worlds_score(tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "t.csv"
    rows = "".join(f"{a:.3f},{b:.3f},{c:.3f}\n" for a, b, c in rng.normal(size=(120, 3)))
    table.write_text("a,b,c\n" + rows)
    out = tmp_path / "run"
    assert cuisine_dlvm.main([*TINY, "--data", str(table), "--anomalies", "0.2", "--out", str(out)]) == 0
    assert set(_anomalies(out)["scores"]) == {"model", "mixture", "isolation_forest", "reconstruction"}


@pytest.mark.parametrize(
    "main, argv, expected",
    [
        (disease_dlvm.main, ["--anomalies", "1"], "argument --anomalies: 1 is out of range"),
        (disease_dlvm.main, ["--anomalies", "0"], "argument --anomalies: 0 is out of range"),
        (cuisine_dlvm.main, ["--anomalies", "x"], "argument --anomalies:"),
        (
            movie_dlvm.main,
            ["--likelihood", "multinomial", "--anomalies", "0.1"],
            "argument --anomalies: scores rows by their held-out likelihood, and the implicit mode has none",
        ),
        (
            disease_dlvm.main,
            ["--samples", "50", "--test-fraction", "0.01", "--anomalies", "0.1"],
            "argument --anomalies: needs at least 2 held-out rows",
        ),
    ],
)
def test_the_flags_refusals_are_one_line_and_exit_2(main, argv, expected, tmp_path, capsys):
    with pytest.raises(SystemExit) as end:
        main([*argv, "--out", str(tmp_path / "run")])
    assert end.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
