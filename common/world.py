"""The World contract: the generative story a demo's data came from, and the train/test split.

A world knows its truth, so every run can be measured against it:
- `sample(n, rng)` -> Sample(x (n, D), labels (n,), factors {name: (n,)})
- `log_joint(x)`   -> exact log p(x, class = k) per row and class, (n, K); from it, by default:
- `log_prob(x)`    -> exact log p(x) per row, in nats
- `reference_log_prob(x)` -> the exact log-likelihood of what the model's likelihood head scores; log p(x)
  unless the head ignores missing entries (then: observed values given which are observed)
- `posterior(x)`   -> Bayes posterior p(class | x) per row, (n, K): the best any model can do
- names of features, classes and continuous factors, so plots speak the world's language
- `to_dict()`      -> its parameters, written to world.json
- optionally `output_factors(x)` (how it reads a decoded row, for common.interpret) and
  `feature_groups()` (features summarised in groups, for figures)
- `anomalies(x, n, rng, train)` -> n rows with the data's look but not the world's structure (--anomalies)

Worlds are numpy-only so that a demo's `--help` never pays for importing torch.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Sample:
    x: np.ndarray  # (n, D) features, float32
    labels: np.ndarray  # (n,) index of the true discrete cause, or -1 when unknown
    factors: dict = field(default_factory=dict)  # name -> (n,) continuous factor

    def __len__(self):
        return len(self.x)

    def take(self, index):
        return Sample(self.x[index], self.labels[index], {k: v[index] for k, v in self.factors.items()})


class World:
    """Base class: subclasses set the names and implement the four methods."""

    name = "world"
    has_truth = True  # False for a table of real data: no log_prob, no posterior
    likelihood = "bernoulli"  # or "gaussian": which decoder head fits the features
    feature_names: list = []
    class_names: list = []
    factor_names: list = []
    class_noun = "class"  # what the hidden cause is called in plots and tables ("disease")
    value_label = "feature value"  # what a decoded feature is ("symptom probability")
    value_range = None  # (low, high) a feature can take, for fixed colour scales; None: from the likelihood
    per_feature_figures = True  # one panel or column per feature; False when there are too many to read
    # How the gmvae starts on this world's data: keyword arguments of common.warm_start.warm_start, and the
    # mixture its clusters start from ("baseline": the classical mixture the run reports; "observed
    # pattern": a mixture of Bernoullis on which entries are observed, common.baselines, with
    # cluster_start_options as its keyword arguments).
    warm_start = {}
    cluster_start = "baseline"
    cluster_start_options = {}

    @property
    def n_features(self):
        return len(self.feature_names)

    @property
    def n_classes(self):
        return len(self.class_names)

    def sample(self, n, rng):
        raise NotImplementedError

    def log_joint(self, x):
        raise NotImplementedError

    def log_prob(self, x):
        """log p(x) = log sum_k p(x, k), per row."""
        from scipy.special import logsumexp

        return logsumexp(self.log_joint(x), axis=1)

    def posterior(self, x):
        """p(class | x) by Bayes' rule, (n, K)."""
        from scipy.special import softmax

        return softmax(self.log_joint(x), axis=1)

    def reference_log_prob(self, x):
        """What the model's held-out NLL is compared with: log p(x), unless a world's likelihood head
        scores only part of x (MovieWorld with likelihood "categorical": ratings given which are rated)."""
        return self.log_prob(x)

    def to_dict(self):
        raise NotImplementedError

    def true_factors(self, sample):
        """The generative factors of each row, {name: (n,)}: the class and the continuous factors."""
        return {self.class_noun: sample.labels, **sample.factors}

    def output_factors(self, x):
        """How the world reads a (decoded) row, {factor: (n, bins) probabilities}: by default the
        Bayes posterior over the class. Used to measure what a latent dimension changes."""
        return {self.class_noun: self.posterior(x)}

    def class_means(self):
        """E[x | class], (K, D), when the world can say it exactly; None means: use sample means."""
        return None

    def feature_groups(self):
        """{group: {member: feature indices}} for worlds with too many features to plot one by one (the
        traversal figure then shows each member's mean); None: plot every feature."""
        return None

    def anomalies(self, x, n, rng, train):
        """n rows from outside the world that keep the look of the data, (n, D): by default each column
        from an independently permuted row of `x` (the held-out rows), so every feature keeps its values
        and its spread but the rows lose what ties their features together (--anomalies, docs/anomalies.md).
        `train` (m, D), the training rows, is there for worlds whose generator needs the population."""
        columns = [x[rng.permutation(len(x))[:n], j] for j in range(x.shape[1])]
        return np.stack(columns, axis=1).astype(x.dtype)


class TableWorld(World):
    """Real data from a CSV (common.tabular.Table) in the place of a world: names, no truth.

    Truth-based numbers (true NLL, Bayes-optimal recovery, the world's reading of outputs) are left
    out, not faked. Classes, when the table has a label column, are its values.
    """

    has_truth = False

    def __init__(self, table, demo_world):
        self.table = table
        self.name = demo_world.name
        self.likelihood = demo_world.likelihood
        # Not the demo's ("symptom probability"): the columns are the table's own.
        self.value_label = "probability of a 1" if self.likelihood == "bernoulli" else "value"
        self.feature_names = table.feature_names
        self.class_names = table.class_names or []
        self.class_noun = table.label_column or "class"
        self.factor_names = []

    def rows(self):
        labels = self.table.labels if self.table.labels is not None else np.full(len(self.table.x), -1)
        return Sample(self.table.x, labels)

    def true_factors(self, sample):
        return {self.class_noun: sample.labels} if self.class_names else {}

    def output_factors(self, x):
        return None

    def to_dict(self):
        return {"source": "csv", "features": self.feature_names, "classes": self.class_names}


def top_items_reading(x, metadata, k, pseudo_count):
    """A world's reading of decoded rows of items (n, I), by the metadata of their k highest: for each
    factor of `metadata` {factor: (names of its values, value of every item (I,))}, the share of each value
    among those k items, each count plus `pseudo_count` so that no share is 0 (a finite information gain),
    {factor: (n, values)}. The movie world reads a user's top 10 movies by genre, era and quality."""
    x = np.asarray(x, dtype=np.float64)
    k = min(k, x.shape[1])
    top = np.argsort(-x, axis=1, kind="stable")[:, :k]  # (n, k) item columns, best first
    out = {}
    for factor, (names, of_item) in metadata.items():
        counts = (of_item[top][..., None] == np.arange(len(names))).sum(1)  # (n, values)
        out[factor] = (counts + pseudo_count) / (k + pseudo_count * len(names))
    return out


def groups_of(metadata):
    """{factor: {value name: indices of its items}} of metadata as top_items_reading's (empty values out)."""
    return {
        factor: {name: np.flatnonzero(of_item == v) for v, name in enumerate(names) if (of_item == v).any()}
        for factor, (names, of_item) in metadata.items()
    }


def split(sample, test_fraction, rng):
    """Random train/test split; the test part has at least one row and so has the train part."""
    n = len(sample)
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    order = rng.permutation(n)
    return sample.take(order[n_test:]), sample.take(order[:n_test])
