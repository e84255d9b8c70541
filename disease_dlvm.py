"""Disease from symptoms: a VAE discovers hidden diseases from yes/no symptom records.

The world. Every patient has one hidden condition (healthy, common cold, influenza, allergic rhinitis
or COVID-19), drawn with its prevalence, and a hidden severity s ~ N(0, 1). Each of twelve symptoms is
present independently given both, with probability

    p(symptom d | disease k, s) = sigmoid(logit(base_kd) + slope_k * s)

so symptoms overlap the way real ones do (a cold and an allergy both bring a runny nose and sneezing;
influenza and COVID-19 both bring fever and fatigue) and a severe case shows more of its disease's
symptoms. The model sees only the twelve 0/1 columns, never the disease or the severity.

The truth is exactly computable: log p(x) = log sum_k pi_k integral prod_d p(x_d | k, s) N(s) ds, the
integral by Gauss-Hermite quadrature, so every run reports how far the learned model is from the world
(the NLL gap) and how close its latent clusters come to the Bayes-optimal diagnosis p(disease | x).

Example:
    python disease_dlvm.py --epochs 50 --visualize
"""

import common.startup  # noqa: F401  first: Ctrl-C or SIGTERM while Python imports ends with one line

# isort: split

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.cli import Interval, option, parse
from common.entry import entry_point, exit_with
from common.options import DataOptions
from common.speed.rows import unique_rows
from common.world import Sample, World

SYMPTOMS = [
    "fever",
    "cough",
    "sore throat",
    "runny nose",
    "sneezing",
    "headache",
    "fatigue",
    "body aches",
    "itchy eyes",
    "loss of smell",
    "chills",
    "short of breath",
]
DISEASES = ["healthy", "common cold", "influenza", "allergic rhinitis", "COVID-19"]
PREVALENCE = [0.40, 0.22, 0.14, 0.14, 0.10]
# Probability of each symptom (columns as SYMPTOMS) for a patient of average severity (s = 0).
BASE_PROBABILITY = [
    # fev  cough sore  runny sneez head  fatig aches itchy smell chill breath
    [0.02, 0.06, 0.04, 0.08, 0.08, 0.08, 0.12, 0.04, 0.04, 0.01, 0.02, 0.02],  # healthy
    [0.12, 0.50, 0.65, 0.90, 0.75, 0.25, 0.35, 0.12, 0.08, 0.08, 0.10, 0.04],  # common cold
    [0.90, 0.70, 0.40, 0.35, 0.20, 0.80, 0.90, 0.85, 0.04, 0.06, 0.70, 0.12],  # influenza
    [0.02, 0.20, 0.15, 0.80, 0.90, 0.20, 0.25, 0.04, 0.85, 0.10, 0.02, 0.06],  # allergic rhinitis
    [0.60, 0.70, 0.35, 0.25, 0.12, 0.50, 0.75, 0.45, 0.04, 0.70, 0.35, 0.45],  # COVID-19
]
# How strongly severity raises every symptom's log-odds, per disease (healthy: mild malaise only).
SEVERITY_SLOPE = [0.3, 0.8, 0.8, 0.7, 1.0]
# Edges of the severity bands used when reading severity off a (decoded) symptom vector.
SEVERITY_BANDS = [-1.5, -0.5, 0.5, 1.5]


class DiseaseWorld(World):
    """A mixture over diseases of a one-factor (severity) logistic model of twelve binary symptoms."""

    name = "disease"
    likelihood = "bernoulli"
    feature_names = SYMPTOMS
    class_names = DISEASES
    factor_names = ["severity"]
    class_noun = "disease"
    value_label = "symptom probability"

    def __init__(self, quadrature_nodes=48):
        self.prior = np.array(PREVALENCE)
        self.base = np.array(BASE_PROBABILITY)  # (K, D)
        self.slope = np.array(SEVERITY_SLOPE)  # (K,)
        # Probabilists' Gauss-Hermite rule: integral f(s) N(s) ds ~= sum_q w_q f(s_q) / sqrt(2 pi).
        nodes, weights = np.polynomial.hermite_e.hermegauss(quadrature_nodes)
        self.nodes, self.log_node_weights = nodes, np.log(weights / math.sqrt(2 * math.pi))

    def symptom_logits(self, labels, severity):
        """Log-odds of each symptom, (n, D), for given diseases (n,) and severities (n,)."""
        base_logit = np.log(self.base) - np.log1p(-self.base)
        return base_logit[labels] + self.slope[labels, None] * severity[:, None]

    def sample(self, n, rng):
        labels = rng.choice(self.n_classes, size=n, p=self.prior)
        severity = rng.standard_normal(n)
        p = 1 / (1 + np.exp(-self.symptom_logits(labels, severity)))
        x = (rng.random(p.shape) < p).astype(np.float32)
        return Sample(x, labels, {"severity": severity})

    def _log_joint_grid(self, x):
        """log p(x, disease k, severity node q) + log quadrature weight, (n, K, Q)."""
        from scipy.special import log_expit

        k, q = self.n_classes, len(self.nodes)
        classes = np.repeat(np.arange(k), q)  # (K*Q,) every (disease, node) pair
        logits = self.symptom_logits(classes, np.tile(self.nodes, k))  # (K*Q, D)
        x = np.asarray(x, dtype=np.float64)
        log_lik = x @ log_expit(logits).T + (1 - x) @ log_expit(-logits).T  # (n, K*Q)
        return log_lik.reshape(len(x), k, q) + self.log_node_weights + np.log(self.prior)[:, None]

    def log_joint(self, x):
        """log p(x, disease = k) per row and disease, (n, K), severity integrated out."""
        from scipy.special import logsumexp

        # Once per distinct row: 0/1 rows of 12 symptoms have at most 4096 patterns, so a million
        # rows cost no more than a few thousand, and the (rows, K x Q) grid stays small.
        patterns, inverse, _ = unique_rows(np.asarray(x, dtype=np.float64))
        return logsumexp(self._log_joint_grid(patterns), axis=2)[inverse]

    def output_factors(self, x):
        """p(disease | x) and p(severity band | x) per row. x may hold probabilities (a decoded row):
        the formula then scores the expected symptom vector."""
        from scipy.special import logsumexp, softmax

        grid = self._log_joint_grid(x)  # (n, K, Q)
        severity = softmax(logsumexp(grid, axis=1), axis=1)  # posterior mass on each node, (n, Q)
        band = np.digitize(self.nodes, SEVERITY_BANDS)  # node -> band
        bands = np.stack([severity[:, band == b].sum(1) for b in range(len(SEVERITY_BANDS) + 1)], axis=1)
        return {"disease": softmax(logsumexp(grid, axis=2), axis=1), "severity": bands}

    def class_means(self):
        """E[symptom | disease] exactly, (K, D): the per-disease symptom rates, severity integrated out."""
        from scipy.special import expit

        k, q = self.n_classes, len(self.nodes)
        logits = self.symptom_logits(np.repeat(np.arange(k), q), np.tile(self.nodes, k)).reshape(k, q, -1)
        return np.einsum("q,kqd->kd", np.exp(self.log_node_weights), expit(logits))

    def anomalies(self, x, n, rng, train):
        """n patients whose symptoms are drawn independently, each at its rate among the training patients,
        (n, D) 0/1: as common as ever, but no disease ties them together (--anomalies)."""
        return (rng.random((n, train.shape[1])) < train.mean(0)).astype(x.dtype)

    def to_dict(self):
        return {
            "name": self.name,
            "story": "disease ~ Categorical(prevalence); severity ~ N(0, 1); "
            "symptom_d ~ Bernoulli(sigmoid(logit(base[disease, d]) + slope[disease] * severity))",
            "diseases": DISEASES,
            "symptoms": SYMPTOMS,
            "prevalence": dict(zip(DISEASES, PREVALENCE, strict=True)),
            "base_probability": {
                k: dict(zip(SYMPTOMS, row, strict=True))
                for k, row in zip(DISEASES, BASE_PROBABILITY, strict=True)
            },
            "severity_slope": dict(zip(DISEASES, SEVERITY_SLOPE, strict=True)),
            "quadrature_nodes": len(self.nodes),
        }


# ---- Options: the shared ones (common/options.py) with this demo's defaults, and its own -------------


@dataclass
class Options(DataOptions):
    demo: ClassVar[str] = "disease"
    description: ClassVar[str] = __doc__.split("\n\n")[0]
    binary: ClassVar[bool] = True

    samples: int = option(
        10000,
        "patients drawn from the world, before the train/test split",
        group="data and evaluation",
        type=Interval(int, 50, None),
        metavar="N",
    )
    model: str = "gmvae"  # finds the diseases; a vae's clusters recover half as much (docs/disease.md)
    distinct_rows: str = option(
        "off",
        "on: when at most half the training rows are distinct, each batch computes each distinct row once, "
        "weighted by its count: the same batches, loss and expected gradient, less work, but equal rows in a "
        "batch share one draw of z, so the gradient is noisier",
        group="training",
        choices=("on", "off"),
    )


OPTIONS = (Options,)  # every options class of this demo: common/cli.py finds other demos' flags here


@entry_point
def main(argv=None):
    from common.pipeline import run

    return run(DiseaseWorld(), parse(Options, argv)).code


if __name__ == "__main__":
    exit_with(main)
