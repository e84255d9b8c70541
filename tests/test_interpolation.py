"""interpolation.png (common/latent_paths.py): which rows the path joins, that its ends are those rows'
decoded codes, the movie world's columns per group, and which runs draw it."""

import numpy as np
import pytest
import torch

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common import evaluate, latent_paths
from common.models import GMVAE, VAE
from common.vqvae import VQVAE
from common.world import Sample

TINY = ["--samples", "400", "--epochs", "2", "--hidden-dim", "16", "--quiet", "--visualize"]


class Folder:
    def __init__(self, path):
        self.path = path

    def file(self, name):
        return self.path / name


def _held_out(n=300, seed=0):
    world = disease_dlvm.DiseaseWorld()
    return world, world.sample(n, np.random.default_rng(seed))


def _drawn(world, model, test, z_test, tmp_path, clusters=None):
    """The arguments interpolation() hands to draw: (plot, path, panels, columns, label, range, sections)."""
    calls = []
    latent_paths.interpolation(
        lambda *a: calls.append(a), Folder(tmp_path), world, model, test, z_test, "cpu", clusters
    )
    assert len(calls) == 1 and calls[0][1].name == "interpolation.png"
    return calls[0]


@pytest.mark.parametrize("kind", [VAE, GMVAE, VQVAE])
def test_the_path_joins_the_decoded_codes_of_two_rows_of_different_classes(kind, tmp_path):
    torch.manual_seed(0)
    world, test = _held_out()
    model = kind(world.n_features, n_clusters=3) if kind is not VAE else kind(world.n_features)
    model.eval()
    z_test = evaluate.latent_codes(model, torch.as_tensor(test.x))
    ends, _, _ = latent_paths.end_rows(world, test, z_test)
    assert test.labels[ends[0]] != test.labels[ends[1]]
    assert list(test.labels[ends]) == [0, 1]  # the first two classes
    _, _, panels, columns, label, value_range, _ = _drawn(world, model, test, z_test, tmp_path)
    with torch.no_grad():
        codes = torch.as_tensor(z_test[ends]) if kind is GMVAE else model.embed(torch.as_tensor(test.x[ends]))
        expected = model.decode_mean(codes).numpy()  # the gmvae's embed samples q(y | x): the run's codes
    path = panels[0]["values"]
    assert len(path) == latent_paths.STEPS
    np.testing.assert_allclose(path[[0, -1]], expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(panels[0]["observed"], test.x[ends])
    assert len(panels) == (2 if model.cluster_latent else 1)
    assert columns == world.feature_names and label == world.value_label and value_range == (0.0, 1.0)


def test_the_rows_are_each_classs_most_typical():
    z = np.array(
        [[0, 0], [1, 0], [10, 0], [5, 5], [6, 5], [5, 6], [5.4, 5.4], [7, 7]]
    )  # medians (1, 0), (5.4, 5.4)
    test = Sample(z.astype(np.float32), np.array([0, 0, 0, 1, 1, 1, 1, 1]))
    world = disease_dlvm.DiseaseWorld()
    ends, names, _ = latent_paths.end_rows(world, test, z)
    assert ends == [1, 6] and names == ["healthy row", "common cold row"]


def test_without_classes_the_rows_are_far_apart():
    z = np.array([[0.0, 0.0], [0.1, 0.0], [-3.0, 0.0], [4.0, 0.0], [0.2, 0.1]])
    world = disease_dlvm.DiseaseWorld()
    world.class_names = []  # as a table without a label column
    ends, names, how = latent_paths.end_rows(world, Sample(z, np.full(5, -1)), z)
    assert ends == [3, 2] and names == ["held-out row 4", "held-out row 3"] and "far apart" in how


def test_the_centre_path_joins_the_clusters_matched_to_the_two_classes(tmp_path):
    torch.manual_seed(0)
    world, test = _held_out()
    model = GMVAE(world.n_features, n_clusters=5).eval()
    z_test = evaluate.latent_codes(model, torch.as_tensor(test.x))
    clusters = (test.labels + 2) % 5  # class k is cluster k + 2
    panels = _drawn(world, model, test, z_test, tmp_path, clusters)[2]
    centres = model.prior()[1].detach()
    with torch.no_grad():
        expected = model.decode_mean(centres[[2, 3]]).numpy()
    np.testing.assert_allclose(panels[1]["values"][[0, -1]], expected, rtol=0, atol=1e-6)
    assert "cluster 3 ~ healthy" in panels[1]["title"] and "cluster 4 ~ common cold" in panels[1]["title"]


def test_groups_average_what_was_rated():
    world = movie_dlvm.MovieWorld(n_per_genre=2, genres=["Action", "Romance"])
    action_movies = world.feature_groups()["genre"]["Action"]
    rows = np.full((2, world.n_features), 3.0)
    rows[:, action_movies] = np.nan  # row 1 rated no action movie, row 0 one, with 4 stars
    rows[0, action_movies[0]] = 4.0
    columns = latent_paths.in_columns(world, rows)
    labels, _ = latent_paths.column_names(world)
    action = labels.index("genre: Action")
    assert columns.shape == (2, len(labels))
    assert columns[0, action] == 4.0 and np.isnan(columns[1, action])


@pytest.mark.parametrize(
    "main, argv, drawn",
    [
        (disease_dlvm.main, TINY, True),
        (cuisine_dlvm.main, TINY, True),
        (movie_dlvm.main, [*TINY[2:], "--users", "300"], True),
        (cuisine_dlvm.main, [*TINY, "--conditional"], False),  # a cvae decodes z only given a region
    ],
)
def test_a_run_with_visualize_draws_interpolation_png(main, argv, drawn, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "latent.png").exists()
    assert (tmp_path / "interpolation.png").exists() == drawn
