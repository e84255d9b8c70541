"""common/figures.py: what the run hands to each plot, checked against the world computed directly."""

import numpy as np
import pandas as pd
import pytest
import torch

from common import figures
from common.data import Data
from common.model_table import build_model
from common.models import with_labels
from common.runio import RunFolder
from common.world import split
from cuisine_dlvm import CuisineWorld


@pytest.mark.parametrize("kind", ["gmvae", "cvae", "m2"])
def test_training_png_gets_the_worlds_log_likelihood_of_what_the_curves_bound(kind):
    world = CuisineWorld()
    train, test = split(world.sample(300, np.random.default_rng(0)), 0.2, np.random.default_rng(1))
    config = {"model": "gmvae" if kind == "m2" else kind, "n_features": world.n_features}
    config |= {
        "likelihood": world.likelihood,
        "latent_dim": 2,
        "hidden_dim": 8,
        "n_clusters": world.n_classes,
    }
    model = build_model(config | ({"classification_weight": 1.0} if kind == "m2" else {}))
    history = [{"epoch": 1, "loss": 20.0, "recon": 18.0, "kl": 2.0, "beta": 1.0, "test_elbo": -20.0}]
    x_train, x_test = (torch.as_tensor(part.x, dtype=torch.float32) for part in (train, test))
    labels = torch.as_tensor(train.labels)
    labelled = np.arange(0, len(train), 10)  # m2: every tenth training row keeps its class
    x_fit, x_valid = {
        "gmvae": (x_train, x_test),
        "cvae": (with_labels(x_train, labels, 7), with_labels(x_test, torch.as_tensor(test.labels), 7)),
        "m2": (
            with_labels(x_train, labels, 7, torch.as_tensor(np.isin(np.arange(len(train)), labelled))),
            x_test,
        ),
    }[kind]
    with torch.no_grad():
        z_test = model.embed(x_test).numpy()
    metrics = {"recovery": {"method": "argmax q(y|x)"}}
    calls = {}
    data = Data(world, train, test, x_train, x_test, x_fit, x_valid, None, world.n_classes)
    data.labelled = labelled if kind == "m2" else None
    figures.draw_shared(
        lambda plot, *args, **kwargs: calls.setdefault(plot.__name__, (args, kwargs)),
        RunFolder("out"), data, model, history, z_test, test.labels, metrics, "cpu",
    )  # fmt: skip
    _, kwargs = calls["training_curves"]

    # A gmvae's ELBO bounds log p(x); a cvae, trained on rows with their class, bounds log p(x, class);
    # M2 bounds log p(x, class) on its labelled rows and log p(x) on the others.
    def expected(rows, with_class):
        log_p = world.log_prob(rows.x)
        joint = world.log_joint(rows.x)[np.arange(len(rows)), rows.labels]
        return np.where(with_class, joint, log_p).mean()

    every, none = np.ones(len(train), bool), np.zeros(len(train), bool)
    with_class = {"gmvae": none, "cvae": every, "m2": np.isin(np.arange(len(train)), labelled)}[kind]
    assert kwargs["truth"]["training rows"] == pytest.approx(expected(train, with_class), rel=1e-9)
    assert kwargs["truth"]["held-out rows"] == pytest.approx(expected(test, kind == "cvae"), rel=1e-9)
    truth_of = kwargs["truth_of"]
    assert truth_of == {"gmvae": "log p(x)", "cvae": "log p(x, region)"}.get(kind, truth_of)
    if kind == "m2":
        assert truth_of["held-out rows"] == "log p(x)" and "labelled" in truth_of["training rows"]


class _Folder:
    def file(self, name):
        return name


def test_decoded_png_sweeps_where_the_held_out_codes_are_not_around_the_origin():
    """An 8-D gmvae's origin lies between its clusters, where no row sits: each dimension is swept over its
    codes' mean +- 3 sd, the others held at their mean."""
    world = CuisineWorld()
    model = build_model(
        {"model": "gmvae", "n_features": world.n_features, "likelihood": world.likelihood,
         "latent_dim": 3, "hidden_dim": 8, "n_clusters": 7}
    )  # fmt: skip
    z_test = np.random.default_rng(0).normal([5.0, -2.0, 0.0], [1.0, 0.5, 0.01], size=(400, 3))
    calls = []
    figures.decoded(lambda *args: calls.append(args), _Folder(), world, model, z_test, "cpu")
    [(_, path, values, names, label, grids, how)] = calls
    assert path == "decoded.png" and values.shape == (3, 13, world.n_features) and label == world.value_label
    mean, sd = z_test.mean(0), z_test.std(0)
    assert np.allclose(grids[:, 6], mean) and np.allclose(grids[:, 0], mean - 3 * sd)
    assert np.allclose(grids[:, -1], mean + 3 * sd) and "held-out codes' mean" in how


def test_a_standardized_table_is_shown_in_z_scores(tmp_path):
    import cuisine_dlvm
    from common.cli import parse
    from common.data import load_data

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(50, 10, size=(60, 3)), columns=["alcohol", "ash", "proline"])
    frame["cultivar"] = np.arange(60) % 2
    frame.to_csv(tmp_path / "wine.csv", index=False)
    table = ["--data", str(tmp_path / "wine.csv"), "--label-column", "cultivar", "--out", str(tmp_path / "o")]
    labels = {}
    for extra in ([], ["--standardize"]):
        args = parse(cuisine_dlvm.options_for, [*table, *extra])
        labels[bool(extra)] = load_data(
            CuisineWorld(), args, np.random.default_rng(0), "cpu"
        ).world.value_label
    assert labels == {False: "value", True: "z-score"}
