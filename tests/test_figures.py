"""common/figures.py: what the run hands to each plot, checked against the world computed directly."""

import numpy as np
import pytest
import torch

from common import figures
from common.data import Data
from common.model_table import build_model
from common.runio import RunFolder
from common.world import split
from cuisine_dlvm import CuisineWorld


@pytest.mark.parametrize("kind", ["gmvae", "cvae"])
def test_training_png_gets_the_worlds_log_likelihood_of_what_the_curves_bound(kind):
    world = CuisineWorld()
    train, test = split(world.sample(300, np.random.default_rng(0)), 0.2, np.random.default_rng(1))
    config = {"model": kind, "n_features": world.n_features, "likelihood": world.likelihood}
    model = build_model(config | {"latent_dim": 2, "hidden_dim": 8, "n_clusters": world.n_classes})
    history = [{"epoch": 1, "loss": 20.0, "recon": 18.0, "kl": 2.0, "beta": 1.0, "test_elbo": -20.0}]
    x_test = torch.as_tensor(test.x, dtype=torch.float32)
    with torch.no_grad():
        z_test = model.embed(x_test).numpy()
    metrics = {"recovery": {"method": "argmax q(y|x)"}}
    calls = {}
    data = Data(world, train, test, None, None, None, None, None, world.n_classes)  # what the figures read
    figures.draw_shared(
        lambda plot, *args, **kwargs: calls.setdefault(plot.__name__, (args, kwargs)),
        RunFolder("out"), data, model, history, z_test, test.labels, metrics, "cpu",
    )  # fmt: skip
    _, kwargs = calls["training_curves"]

    # A gmvae's ELBO bounds log p(x); a cvae, trained on rows with their class, bounds log p(x, class).
    def expected(rows):
        if kind == "gmvae":
            return world.log_prob(rows.x).mean()
        return world.log_joint(rows.x)[np.arange(len(rows)), rows.labels].mean()

    assert kwargs["truth"]["training rows"] == pytest.approx(expected(train), rel=1e-9)
    assert kwargs["truth"]["held-out rows"] == pytest.approx(expected(test), rel=1e-9)
    assert kwargs["truth_of"] == ("log p(x)" if kind == "gmvae" else "log p(x, region)")
