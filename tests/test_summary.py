"""The summary a run prints (common/summary.py, common/recsys/report.py) and the numbers behind its newer
lines: posterior collapse per latent dimension (common/evaluate.py's latent_usage), --interpret's
headline, and why a recommender's example users show few held-out hits."""

import types

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from common import evaluate
from common.elbo import gaussian_kl
from common.model_table import build_model
from common.summary import summary
from disease_dlvm import DiseaseWorld


def _model(kind, **extra):
    torch.manual_seed(0)
    config = {"model": kind, "n_features": 12, "likelihood": "bernoulli", "latent_dim": 3, "hidden_dim": 8}
    return build_model(config | {"n_clusters": 5} | extra).eval()  # n_clusters: read by models with clusters


def _rows(n=200):
    return torch.as_tensor(DiseaseWorld().sample(n, np.random.default_rng(0)).x)


def test_a_vaes_kl_splits_into_its_dimensions_and_a_collapsed_one_is_named():
    model, x = _model("vae"), _rows()
    usage = evaluate.latent_usage(model, x)["latent_usage"]
    with torch.no_grad():
        total = gaussian_kl(*model.encode(x)).mean()
    assert np.isclose(sum(usage["kl_per_dim"]), float(total), rtol=1e-5) and usage["threshold"] == 0.01
    with torch.no_grad():  # an encoder that says q(z|x) = N(0, I) for every row: the prior itself
        model.encoder[-1].weight.zero_(), model.encoder[-1].bias.zero_()
    usage = evaluate.latent_usage(model, x)["latent_usage"]
    assert usage["inactive"] == ["z1", "z2", "z3"] and max(usage["kl_per_dim"]) < 1e-6


def test_a_gmvaes_kl_per_dimension_leaves_the_runs_random_state_alone():
    model, x = _model("gmvae"), _rows()
    before = torch.get_rng_state()
    usage = evaluate.latent_usage(model, x)["latent_usage"]
    assert torch.equal(before, torch.get_rng_state())  # the run's numbers stay as they were
    assert len(usage["kl_per_dim"]) == 3 and all(v >= 0 for v in usage["kl_per_dim"])


def test_no_kl_per_dimension_where_the_model_has_none():
    assert evaluate.latent_usage(_model("vae", flow="iaf"), _rows()) == {}
    assert evaluate.latent_usage(_model("vqvae"), _rows()) == {}


def _metrics(**sections):
    test = {"nll": 5.3, "true_nll": 5.25, "nll_gap": 0.05, "nll_mc_se": 0.001, "elbo": -5.4}
    test |= {"iw_samples": 1000, "iw_ess": {"median": 990.0, "min": 900.0}}
    return {
        "model": "vae",
        "test": test | sections.pop("test", {}),
        "timing": {"train_seconds": 3.0, "total_seconds": 5.0},
        "data": {"n_train": 8000},
        "baselines": {},
        **sections,
    }


def test_the_summary_names_posterior_collapse():
    usage = {"kl_per_dim": [0.0004, 0.0006], "inactive": ["z1", "z2"], "threshold": 0.01}
    text = summary(_metrics(test={"latent_usage": usage}), DiseaseWorld(), "out")
    assert (
        "  posterior collapse: z1, z2 carry almost no information (KL < 0.01 nats per row; per dimension: "
        "z1 0.000, z2 0.001)" in text
    )
    usage = {"kl_per_dim": [2.1, 0.001, 1.7], "inactive": ["z2"], "threshold": 0.01}
    text = summary(_metrics(test={"latent_usage": usage}), DiseaseWorld(), "out")
    assert "posterior collapse in 1 of 3 latent dimensions: z2 carries almost no information" in text
    usage = {"kl_per_dim": [2.1, 1.7], "inactive": [], "threshold": 0.01}
    assert "collapse" not in summary(_metrics(test={"latent_usage": usage}), DiseaseWorld(), "out")


def test_the_summary_names_clusters_left_empty():
    text = summary(
        _metrics(clusters={"k": 5, "in_use": 1, "shares": [1.0, 0, 0, 0, 0]}), DiseaseWorld(), "out"
    )
    assert "  clusters in use: 1 of 5 (the others hold under 1% of the rows)" in text
    full = summary(_metrics(clusters={"k": 5, "in_use": 5, "shares": [0.2] * 5}), DiseaseWorld(), "out")
    assert "clusters in use" not in full


def test_the_summary_has_the_interpret_headline():
    section = {
        "delta": 1.0,
        "information_gain": {"disease": [1.034, 0.704], "severity": [0.061, 0.018]},
        "normalised_mi": {"disease": [0.46, 0.45], "severity": [0.03, 0.01]},
        "mig": 0.012,
        "mig_per_factor": {"disease": 0.01, "severity": 0.02},
        "best_dimension": {"disease": "z1", "severity": "z1"},
    }
    lines = summary(_metrics(interpret=section), DiseaseWorld(), "out").splitlines()
    assert lines[-2] == (
        "  interpret: MIG 0.01; best dimension by normalised MI: disease z1 0.46, severity z1 0.03; "
        "by information gain: disease z1 1.03, severity z1 0.06 nats (interpret.csv)"
    )


def test_the_example_users_lines_say_how_few_held_out_items_a_top_10_can_hit():
    """Each user hides 20% of their likes (1 of 6 here): 0 of those in a top 10 is the common case."""
    from common.recsys.report import example_lines

    likes = sparse.csr_array(np.array([[1] * 6 + [0] * 4, [1] * 10]))
    data = types.SimpleNamespace(
        interactions=types.SimpleNamespace(matrix=likes, user_ids=np.array([7, 9])),
        group_noun="true archetype",
    )
    rows = pd.DataFrame(
        {
            "fold": 1,
            "user": [7] * 10 + [9] * 10,
            "true_archetype": ["romantic"] * 10 + ["family"] * 10,
            "rank": list(range(1, 11)) * 2,
            "title": [f"movie {i}" for i in range(20)],
            "genres": "Drama",
            "held_out_hit": [False] * 10 + [True] + [False] * 9,
        }
    )
    lines = example_lines(rows, data, n_users=2)
    assert lines[0] == (
        "  a top 10 can hit only the 20% of a user's likes held out: 0.50 hits per held-out user on "
        "average, at least one for 50% of them"
    )
    assert "(true archetype: romantic; liked 6, 1 held out, 0 of those in this top 10):" in lines[1]
    assert "(true archetype: family; liked 10, 2 held out, 1 of those in this top 10):" in lines[12]


def test_few_effective_importance_samples_are_flagged_beside_the_nll():
    few = summary(
        _metrics(test={"iw_samples": 100, "iw_ess": {"median": 11.0, "min": 2.0}}), DiseaseWorld(), "o"
    )
    assert "effective samples per row: median 11, min 2 of 100\n    few effective samples:" in few
    enough = summary(
        _metrics(test={"iw_samples": 100, "iw_ess": {"median": 93.0, "min": 32.0}}), DiseaseWorld(), "o"
    )
    assert "few effective" not in enough
