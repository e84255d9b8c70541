"""--labels (M2): which rows keep their class, that no other class reaches training, the loss against the
bound written out with torch.distributions, the classifiers beside it against scikit-learn's, and the
refusals."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB
from torch.distributions import Bernoulli, Normal

import cuisine_dlvm
import disease_dlvm
import movie_dlvm
from common import semi_supervised
from common.models import GMVAE, with_labels

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet"]
DISEASE = [*TINY, "--samples", "400", "--iw-samples", "20"]
CUISINE = [*TINY, "--samples", "600", "--iw-samples", "20"]
MOVIE = [*TINY, "--users", "200", "--movies", "5", "--iw-samples", "5"]


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


# ---- Which rows keep their class ------------------------------------------------------------------------


def test_the_labelled_rows_are_spread_evenly_over_the_classes_and_seeded():
    labels = np.repeat([0, 1, 2], [50, 30, 4])
    rows = semi_supervised.choose_labelled(labels, 12, 3, seed=5)
    assert len(rows) == len(set(rows)) == 12 and np.all(np.diff(rows) > 0)
    assert np.bincount(labels[rows]).tolist() == [4, 4, 4]
    assert np.array_equal(rows, semi_supervised.choose_labelled(labels, 12, 3, seed=5))
    assert not np.array_equal(rows, semi_supervised.choose_labelled(labels, 12, 3, seed=6))
    uneven = semi_supervised.choose_labelled(labels, 20, 3, seed=5)  # class 2 has 4 rows: the others fill in
    assert np.bincount(labels[uneven]).tolist() == [8, 8, 4]
    assert sorted(np.bincount(labels[semi_supervised.choose_labelled(labels, 5, 3, 0)])) == [1, 2, 2]
    assert len(semi_supervised.choose_labelled(labels, 84, 3, 0)) == 84  # all of them


def test_the_mixture_components_are_named_by_the_labelled_rows():
    # component 2 holds class 0's rows, component 0 class 1's, component 1 class 2's
    responsibilities = np.array([[0.1, 0.1, 0.8], [0.2, 0.0, 0.8], [0.9, 0.1, 0.0], [0.0, 0.7, 0.3]])
    order = semi_supervised.name_components(responsibilities, np.array([0, 0, 1, 2]), 3)
    assert order.tolist() == [2, 0, 1]


def test_only_the_labelled_rows_carry_their_class():
    x = torch.zeros(5, 3)
    known = torch.tensor([True, False, False, True, False])
    rows = with_labels(x, torch.tensor([2, 1, 0, 0, 1]), 3, known)
    assert rows[:, 3:].tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_no_other_class_reaches_training(tmp_path, monkeypatch):
    """Scrambling the classes of the unlabelled training rows, after the labelled ones are chosen, must
    not change one weight of the trained model: only the labelled rows' classes reach it."""
    argv = [*DISEASE, "--labels", "10", "--save-data"]
    assert disease_dlvm.main([*argv, "--out", str(tmp_path / "plain")]) == 0
    choose = semi_supervised.labelled_rows

    def scrambled(args, world, train):
        rows = choose(args, world, train)
        others = np.setdiff1d(np.arange(len(train)), rows)
        train.labels[others] = np.random.default_rng(1).permutation(train.labels[others])
        return rows

    monkeypatch.setattr(semi_supervised, "labelled_rows", scrambled)
    assert disease_dlvm.main([*argv, "--out", str(tmp_path / "scrambled")]) == 0
    plain = torch.load(tmp_path / "plain" / "model.pt", weights_only=True)["state_dict"]
    scrambled_weights = torch.load(tmp_path / "scrambled" / "model.pt", weights_only=True)["state_dict"]
    assert plain.keys() == scrambled_weights.keys()
    assert all(torch.equal(plain[k], scrambled_weights[k]) for k in plain)
    train = pd.read_csv(tmp_path / "scrambled" / "train.csv")
    assert (
        train["labelled"].sum() == 10 and not pd.read_csv(tmp_path / "plain" / "test.csv")["labelled"].any()
    )


# ---- The loss -------------------------------------------------------------------------------------------


def test_the_m2_loss_is_the_joint_bound_of_labelled_rows_and_the_summed_bound_of_the_others():
    torch.manual_seed(0)
    n_features, k, dim, weight = 4, 3, 2, 2.5
    model = GMVAE(n_features, latent_dim=dim, hidden_dim=8, n_clusters=k, classification_weight=weight)
    x = torch.bernoulli(torch.full((6, n_features), 0.4))
    labels = torch.tensor([2, 0, 1, 1, 0, 2])
    known = torch.tensor([True, True, False, True, False, False])
    torch.manual_seed(1)
    parts = model.loss_parts(with_labels(x, labels, k, known))

    torch.manual_seed(1)  # the same draw of z, the bound written out with torch.distributions
    with torch.no_grad():
        mu, log_var = model.encode(x)  # (B, K, Z)
        z = mu + torch.exp(0.5 * log_var) * torch.randn(6, 1, k, dim)[:, 0]
        log_q = Normal(mu, torch.exp(0.5 * log_var)).log_prob(z).sum(-1)
        prior = Normal(model.prior_mu, torch.exp(0.5 * model.prior_log_var))
        log_prior = prior.log_prob(z).sum(-1)
        log_lik = Bernoulli(logits=model.decode(z)).log_prob(x[:, None]).sum(-1)
        log_joint = torch.log_softmax(model.prior_logits, 0) + log_lik + log_prior - log_q  # (B, K)
        rows = torch.arange(6)
        bound = torch.where(known, log_joint[rows, labels], torch.logsumexp(log_joint, -1))
        cross_entropy = -torch.log_softmax(log_joint, -1)[rows, labels] * known
    assert parts["loss"].item() == pytest.approx(-bound.mean().item(), rel=1e-5)
    assert parts["penalty"].item() == pytest.approx(weight * cross_entropy.mean().item(), rel=1e-5)
    unlabelled = model.loss_parts(x)  # no label columns: the plain bound, no classification term
    assert "penalty" not in unlabelled


def test_the_classification_weight_is_the_papers_alpha_per_labelled_row():
    # alpha = 0.1 N on the mean over labelled rows; our loss is a mean over all N rows
    assert semi_supervised.classification_weight(0.1, 8000, 25) == pytest.approx(32.0)


# ---- A run ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "main, argv, n_labels",
    [(disease_dlvm.main, DISEASE, 10), (cuisine_dlvm.main, CUISINE, 14), (movie_dlvm.main, MOVIE, 12)],
    ids=["disease", "cuisine", "movie"],
)
def test_every_demo_writes_the_section(main, argv, n_labels, tmp_path, capsys):
    assert (
        main([a for a in argv if a != "--quiet"] + ["--labels", str(n_labels), "--out", str(tmp_path)]) == 0
    )
    metrics = _metrics(tmp_path)
    section = metrics["semi_supervised"]
    per_class = section["per_class"]
    assert section["labelled_rows"] == n_labels and sum(per_class.values()) == n_labels
    assert min(per_class.values()) >= 1 and section["model"] == metrics["recovery"]["accuracy"]
    assert metrics["recovery"]["supervised"]  # no matching step: cluster k is class k
    assert metrics["clusters"]["matched_class"] == list(per_class)
    for scores in (section["same_labelled_rows"], section["all_training_labels"]):
        assert len(scores) == 2 and all(0 <= v <= 1 for v in scores.values())
    assert 0 < section["bayes_optimal"] <= 1
    out = capsys.readouterr().out
    assert f"  with {n_labels} labelled rows (" in out and "trained on all " in out


def test_the_classifiers_are_sklearns_on_the_same_rows(tmp_path):
    assert disease_dlvm.main([*DISEASE, "--labels", "12", "--save-data", "--out", str(tmp_path)]) == 0
    section = _metrics(tmp_path)["semi_supervised"]
    train, test = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv")
    features = disease_dlvm.DiseaseWorld().feature_names
    labelled = train[train["labelled"]]
    for name, classifier, rows in [
        ("Bernoulli NB", BernoulliNB(), labelled),
        ("logistic regression", LogisticRegression(max_iter=2000), labelled),
    ]:
        classifier.fit(rows[features], rows["disease"])
        expected = np.mean(classifier.predict(test[features]) == test["disease"])
        assert section["same_labelled_rows"][name] == pytest.approx(expected)
    every = BernoulliNB().fit(train[features], train["disease"])
    assert section["all_training_labels"]["Bernoulli NB"] == pytest.approx(
        np.mean(every.predict(test[features]) == test["disease"])
    )


def test_every_label_gives_the_conditional_models_accuracy(tmp_path):
    """Given every training label, M2 and the conditional VAE learn the same classifier, within noise (the
    sd of an accuracy on 300 held-out dishes is about 0.02)."""
    argv = ["--samples", "1500", "--epochs", "30", "--iw-samples", "10", "--quiet"]
    assert cuisine_dlvm.main([*argv, "--labels", "all", "--out", str(tmp_path / "m2")]) == 0
    assert cuisine_dlvm.main([*argv, "--conditional", "--out", str(tmp_path / "cvae")]) == 0
    m2, cvae = _metrics(tmp_path / "m2"), _metrics(tmp_path / "cvae")
    assert m2["semi_supervised"]["labelled_rows"] == m2["data"]["n_train"]
    assert m2["recovery"]["accuracy"] == pytest.approx(cvae["recovery"]["accuracy"], abs=0.04)
    assert m2["recovery"]["accuracy"] > m2["recovery"]["bayes_accuracy"] - 0.05


@pytest.mark.parametrize(
    "argv, flag, says",
    [
        (["--labels", "4"], "--labels", "cannot cover the 5 classes; use at least 5"),
        (["--labels", "0"], "--labels", "use an integer >= 1, or all"),
        (["--labels", "400"], "--labels", "is more than the 320 training rows"),
        (["--labels", "10", "--model", "vae"], "--labels", "applies to --model gmvae only"),
        (["--labels", "10", "--clusters", "5"], "--clusters", "the clusters are the classes"),
        (["--label-weight", "1"], "--label-weight", "applies to --labels only"),
        (["--labels", "10", "--iw-train", "2"], "--iw-train", "drop --iw-train"),
    ],
)
def test_bad_labels_are_refused_in_one_line(argv, flag, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        disease_dlvm.main([*DISEASE, *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert f"argument {flag}: " in err and says in err
    assert not (tmp_path / "metrics.json").exists()


def test_a_table_without_classes_and_the_conditional_model_refuse_labels(tmp_path, capsys):
    table = tmp_path / "table.csv"
    pd.DataFrame(np.random.default_rng(0).integers(0, 2, (60, 4)), columns=list("abcd")).to_csv(
        table, index=False
    )
    with pytest.raises(SystemExit):
        disease_dlvm.main([*TINY, "--data", str(table), "--labels", "5", "--out", str(tmp_path / "a")])
    assert "add --label-column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cuisine_dlvm.main([*CUISINE, "--conditional", "--labels", "5", "--out", str(tmp_path / "b")])
    assert "learns from every region label; drop --labels" in capsys.readouterr().err


def test_a_loaded_m2_model_is_still_scored_as_a_classifier(tmp_path):
    trained, loaded = tmp_path / "trained", tmp_path / "loaded"
    assert disease_dlvm.main([*DISEASE, "--labels", "10", "--out", str(trained)]) == 0
    assert disease_dlvm.main([*DISEASE, "--load", str(trained / "model.pt"), "--out", str(loaded)]) == 0
    before, after = _metrics(trained), _metrics(loaded)
    assert after["recovery"]["supervised"] and after["model_options"]["labels"] == 10
    assert after["semi_supervised"]["same_labelled_rows"] == before["semi_supervised"]["same_labelled_rows"]
    weight = torch.load(trained / "model.pt", weights_only=True)["config"]["classification_weight"]
    assert weight == pytest.approx(semi_supervised.classification_weight(0.1, 320, 10))


def test_a_label_column_of_one_class_is_refused_before_training(tmp_path, capsys):
    table = tmp_path / "one.csv"
    rows = np.random.default_rng(0).integers(0, 2, (60, 4))
    lines = ["a,b,c,d,kind", *(",".join(map(str, row)) + ",flu" for row in rows)]
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exit_:
        disease_dlvm.main(
            [
                *TINY,
                "--data",
                str(table),
                "--label-column",
                "kind",
                "--labels",
                "5",
                "--out",
                str(tmp_path / "r"),
            ]
        )
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "one class only" in err
    assert not (tmp_path / "r" / "config.json").exists()
