"""--labels: a few labelled rows among many unlabelled ones (M2, Kingma, Rezende, Mohamed, Welling 2014).

The labelled rows are chosen here; the mixture-prior model learns from them in its loss (common/models.py:
GMVAE.loss_parts) after its start is named by them (name_components), so cluster k is class k and no
matching step follows. Beside the model, the classical answer to the same question: Naive Bayes of the
data's kind and logistic regression trained on the same labelled rows, the same two trained on every
training label, and, where the world is known, the Bayes-optimal classifier (docs/semi-supervised.md).
"""

import numpy as np

from common.cli import UsageError

LABELS_SEED = 24  # the labelled rows' own random stream: the run's other draws stay as without --labels


# ---- Which rows keep their class ------------------------------------------------------------------------


def choose_labelled(labels, n, n_classes, seed):
    """Indices of the n training rows (labels (m,)) that keep their class: the classes take turns, each
    turn in a random order, each giving its next random row, so every class has n // K rows or one more
    (a class that runs out of rows leaves its turn to the others). Sorted, (n,)."""
    rng = np.random.default_rng([seed, LABELS_SEED])
    queues = [rng.permutation(np.flatnonzero(labels == k)) for k in range(n_classes)]
    chosen = []
    for turn in range(max(len(q) for q in queues)):
        chosen.extend(queues[k][turn] for k in rng.permutation(n_classes) if turn < len(queues[k]))
    return np.sort(np.array(chosen[:n], dtype=int))


def labelled_rows(args, world, train):
    """The indices of the training rows whose class the model sees, or None without --labels; a bad
    --labels for these data is refused, before any training."""
    if getattr(args, "labels", None) is None:
        return None
    if world.n_classes == 0:
        raise UsageError("--labels", "these data have no classes to label rows with; add --label-column")
    if "clusters" in args.given:
        raise UsageError("--clusters", "with --labels the clusters are the classes; drop --clusters")
    n_train, n = len(train), len(train) if args.labels == "all" else args.labels
    missing = [world.class_names[k] for k in range(world.n_classes) if not (train.labels == k).any()]
    if missing:
        raise UsageError(
            "--labels", f"no training row has class {missing[0]!r}, so it cannot be labelled; use more rows"
        )
    if n < world.n_classes:
        raise UsageError(
            "--labels",
            f"{n} labelled rows cannot cover the {world.n_classes} classes; use at least {world.n_classes}",
        )
    if n > n_train:
        raise UsageError(
            "--labels", f"{n} is more than the {n_train} training rows; use at most {n_train} or all"
        )
    return choose_labelled(train.labels, n, world.n_classes, args.seed)


def classification_weight(label_weight, n_train, n_labelled):
    """M2's alpha per labelled row: the paper's objective adds alpha = A x N (N training rows) times the
    mean of -log q(y | x) over the labelled rows; our loss is a mean over all rows, so each labelled row's
    term is weighted A x N / n_labelled."""
    return label_weight * n_train / n_labelled


def name_components(responsibilities, labels, n_classes):
    """The order of a fitted mixture's components that makes component k class k: the one-to-one
    assignment (Hungarian algorithm) with the largest total responsibility of each class's labelled rows
    (responsibilities (n, K) and labels (n,) of the labelled rows), (K,)."""
    from scipy.optimize import linear_sum_assignment

    weight = np.stack([responsibilities[labels == k].sum(0) for k in range(n_classes)])  # (class, component)
    _, order = linear_sum_assignment(weight, maximize=True)
    return order


# ---- The classical answer on the same rows --------------------------------------------------------------


def classifiers(likelihood, n_values):
    """{name: a fresh scikit-learn classifier} for the data's kind: Naive Bayes (Bernoulli for 0/1
    features, Gaussian for real ones, categorical for ratings 0..n_values-1 with 0 = not rated) and
    logistic regression on the features as that kind reads them (ratings one-hot: not rated is a value
    of its own)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    regression = LogisticRegression(max_iter=2000)
    if likelihood == "bernoulli":
        return {"Bernoulli NB": BernoulliNB(), "logistic regression": regression}
    if likelihood == "gaussian":
        return {
            "Gaussian NB": GaussianNB(),
            "logistic regression": make_pipeline(StandardScaler(), regression),
        }
    return {  # min_categories: a value no labelled row shows is still a value
        "categorical NB": CategoricalNB(min_categories=n_values),
        "logistic regression": make_pipeline(OneHotEncoder(handle_unknown="ignore"), regression),
    }


def accuracy_of(classifier, train, test, rows):
    """Held-out accuracy of `classifier` fitted on the training rows `rows` (indices) with their class."""
    classifier.fit(train.x[rows], train.labels[rows])
    return float(np.mean(classifier.predict(test.x) == test.labels))


def report(args, data, model_accuracy):
    """metrics.json's `semi_supervised` section: the model's held-out accuracy beside the classifiers'
    on the same labelled rows, on every training label, and the Bayes-optimal's."""
    train, test, world = data.train, data.test, data.world
    rows, everything = data.labelled, np.arange(len(train))
    n_values = int(train.x.max()) + 1  # ratings: 0 (not rated) .. the highest rating

    def scores(on_rows):
        return {
            name: accuracy_of(c, train, test, on_rows)
            for name, c in classifiers(world.likelihood, n_values).items()
        }

    section = {
        "labelled_rows": int(len(rows)),
        "per_class": dict(
            zip(
                world.class_names,
                np.bincount(train.labels[rows], minlength=world.n_classes).tolist(),
                strict=True,
            )
        ),
        "label_weight": args.label_weight,
        "model": model_accuracy,
        "same_labelled_rows": scores(rows),
        "all_training_labels": scores(everything),
    }
    if world.has_truth:
        section["bayes_optimal"] = float(np.mean(world.posterior(test.x).argmax(1) == test.labels))
    return section


def summary_lines(section, class_noun, n_train):
    """The summary's two lines: the model's accuracy beside each classifier's on the same rows, and the
    references."""
    low, high = min(section["per_class"].values()), max(section["per_class"].values())
    per_class = f"{low}" if low == high else f"{low}-{high}"

    def listed(scores):
        return ", ".join(f"{name} {value:.3f}" for name, value in scores.items())

    references = f"    trained on all {n_train} training labels: {listed(section['all_training_labels'])}"
    if "bayes_optimal" in section:
        references += f"; Bayes-optimal {section['bayes_optimal']:.3f}"
    return [
        f"  with {section['labelled_rows']} labelled rows ({per_class} per {class_noun}): accuracy "
        f"{section['model']:.3f}; on the same rows {listed(section['same_labelled_rows'])}",
        references,
    ]
