"""Decoding the latent space: information gain, mutual information gap, traversals."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import mutual_info_score

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common.interpret import (
    discretize,
    group_labels,
    group_means,
    information_gain,
    magnitude_of_change,
    mutual_information_gap,
    normalised_mutual_information,
    traversal,
)


def test_information_gain_is_zero_without_change_and_positive_with_it():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert information_gain(p, p) == pytest.approx(0, abs=1e-9)
    q = np.array([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    # Row 1 moved: KL(q1 || p1) by hand; row 2 did not move. Mean over the two rows.
    by_hand = (0.2 * np.log(0.2 / 0.7) + 0.7 * np.log(0.7 / 0.2) + 0.1 * np.log(0.1 / 0.1)) / 2
    assert information_gain(q, p) == pytest.approx(by_hand, rel=1e-6)
    assert by_hand > 0


def test_magnitude_of_change_finds_the_dimension_that_moves_a_factor():
    # Output = z itself; factor "a" reads z1 only (softmax of +-z1), factor "b" reads z2 only.
    def output_factors(x):
        def two_bins(v):
            return np.column_stack([1 / (1 + np.exp(-v)), 1 / (1 + np.exp(v))])

        return {"a": two_bins(x[:, 0]), "b": two_bins(x[:, 1])}

    z = np.random.default_rng(0).normal(size=(500, 3))
    gains, names = magnitude_of_change(lambda v: v, output_factors, z, delta=1.0)
    assert names == ["a", "b"] and gains.shape == (3, 2)
    assert gains[0, 0] > 0.05 and gains[1, 1] > 0.05
    np.testing.assert_allclose([gains[1, 0], gains[2, 0], gains[0, 1], gains[2, 1]], 0, atol=1e-12)


def test_mig_is_near_one_for_a_copying_latent_and_near_zero_for_an_independent_one():
    rng = np.random.default_rng(0)
    n = 20_000
    factors = {"class": rng.integers(0, 4, n), "level": rng.normal(size=n)}
    copying = np.column_stack(
        [factors["class"] + 0.01 * rng.normal(size=n), factors["level"], rng.normal(size=n)]
    )
    scores = normalised_mutual_information(copying, factors)
    assert scores.shape == (3, 2)
    mig, gaps = mutual_information_gap(scores)
    assert mig > 0.9 and np.all(gaps > 0.9)
    independent = rng.normal(size=(n, 3))
    assert mutual_information_gap(normalised_mutual_information(independent, factors))[0] < 0.02


def test_normalised_mi_of_a_discrete_copy_is_one():
    labels = np.repeat([0, 1, 2], 100)
    scores = normalised_mutual_information(labels[:, None].astype(float), {"c": labels})
    assert scores[0, 0] == pytest.approx(1.0)
    assert entropy(np.bincount(labels)) == pytest.approx(np.log(3))


def test_traversal_decodes_steps_points_per_dimension_around_the_centre():
    calls = []

    def decode(z):
        calls.append(z.copy())
        return z * 2

    values, grid = traversal(decode, latent_dim=3, center=np.array([1.0, 0.0, -1.0]), steps=7)
    assert values.shape == (3, 7, 3) and len(calls) == 1 and calls[0].shape == (21, 3)
    np.testing.assert_allclose(grid, np.linspace(-3, 3, 7))
    np.testing.assert_allclose(values[1, :, 1], 2 * grid)  # dimension 2 swept around its centre 0
    np.testing.assert_allclose(values[1, :, 0], 2.0)  # the others stay at the centre


def test_interpret_flag_writes_csv_metrics_and_figures(tmp_path):
    argv = ["--samples", "400", "--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]
    assert disease_dlvm.main([*argv, "--interpret", "--visualize", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "interpret.csv")
    assert set(table["factor"]) == {"disease", "severity"} and set(table["latent_dim"]) == {"z1", "z2"}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    summary = metrics["interpret"]
    assert 0 < metrics["timing"]["interpret_seconds"] < metrics["timing"]["total_seconds"]
    assert set(summary["information_gain"]) == {"disease", "severity"}
    assert 0 <= summary["mig"] <= 1
    assert (tmp_path / "traversals.png").exists() and (tmp_path / "interpret.png").exists()


def test_the_bias_correction_brings_an_independent_latent_near_zero_on_a_small_test_set():
    # 1000 rows in 20 x 20 bins: the plug-in MI of independent variables is ~(20 - 1)^2 / 2000 nats.
    rng = np.random.default_rng(1)
    n = 1000
    factors = {"class": rng.integers(0, 4, n), "level": rng.normal(size=n)}
    independent = rng.normal(size=(n, 3))
    plug_in = mutual_info_score(discretize(independent[:, 0], 20), discretize(factors["level"], 20))
    assert plug_in / np.log(20) > 0.04  # what the uncorrected score would say
    scores = normalised_mutual_information(independent, factors)
    assert scores.max() < 0.02 and mutual_information_gap(scores)[0] < 0.01
    copying = np.column_stack([factors["class"] + 0.01 * rng.normal(size=n), factors["level"]])
    assert mutual_information_gap(normalised_mutual_information(copying, factors))[0] > 0.9


def test_group_means_average_the_columns_of_each_member():
    values = np.arange(12.0).reshape(2, 6)  # 2 sweep steps, 6 features
    groups = {"genre": {"a": np.array([0, 1]), "b": np.array([2])}, "era": {"old": np.array([3, 4, 5])}}
    means = group_means(values, groups)
    assert group_labels(groups) == ["genre: a", "genre: b", "era: old"]
    np.testing.assert_allclose(means, [[0.5, 2, 4], [6.5, 8, 10]])


def test_movie_interpret_reads_genre_era_and_quality_of_the_top_10(tmp_path):
    argv = ["--epochs", "2", "--hidden-dim", "8", "--quiet", "--users", "200", "--movies", "5"]
    argv += ["--iw-samples", "5", "--latent-dim", "3", "--interpret", "--visualize", "--out", str(tmp_path)]
    assert movie_dlvm.main(argv) == 0
    table = pd.read_csv(tmp_path / "interpret.csv")
    assert set(table["factor"]) == {"genre", "era", "quality", "archetype", "leniency"}
    summary = json.loads((tmp_path / "metrics.json").read_text())["interpret"]
    assert set(summary["information_gain"]) == {"genre", "era", "quality"}
    assert all(len(v) == 3 and min(v) >= 0 for v in summary["information_gain"].values())
    assert (tmp_path / "traversals.png").exists() and (tmp_path / "interpret.png").exists()


def test_cuisine_interpret_reads_region_and_richness(tmp_path):
    argv = ["--samples", "300", "--epochs", "2", "--iw-samples", "10", "--hidden-dim", "16", "--quiet"]
    assert cuisine_dlvm.main([*argv, "--model", "vae", "--interpret", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "metrics.json").read_text())["interpret"]
    assert set(summary["information_gain"]) == set(summary["normalised_mi"]) == {"region", "richness"}


def test_implicit_movie_runs_refuse_interpret_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        movie_dlvm.main(["--likelihood", "multinomial", "--interpret", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("movie_dlvm.py: error: argument --interpret: ") and err.count("\n") == 1


@pytest.mark.parametrize("labelled", [False, True])
def test_interpret_on_your_own_table_draws_what_it_can(labelled, tmp_path):
    # No world: no reading of decoded rows; the label column, when there is one, is the only true factor.
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    if labelled:
        table["kind"] = rng.integers(0, 2, 200)
    table.to_csv(tmp_path / "t.csv", index=False)
    argv = ["--data", str(tmp_path / "t.csv"), "--model", "vae", "--epochs", "2", "--iw-samples", "5"]
    argv += ["--quiet", "--interpret", "--visualize", "--out", str(tmp_path / "run")]
    assert cuisine_dlvm.main(argv + (["--label-column", "kind"] if labelled else [])) == 0
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())["interpret"]
    assert summary["information_gain"] == {} and list(summary["normalised_mi"]) == (
        ["kind"] if labelled else []
    )
    assert (tmp_path / "run" / "traversals.png").exists()
    assert (tmp_path / "run" / "interpret.png").exists() == labelled
