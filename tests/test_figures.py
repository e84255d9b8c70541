"""common/figures.py: what the run hands to each plot, checked against the world computed directly."""

import numpy as np
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
