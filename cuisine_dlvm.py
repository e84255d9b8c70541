"""Region of origin from flavour profiles: a VAE discovers culinary regions from tasting scores.

The world. Every dish comes from one hidden region (East Asian, South Asian, Mediterranean, Middle
Eastern, Latin American, West African or Nordic), drawn with its share of the cookbook, and is scored
on ten flavours (sweet, salty, sour, bitter, umami, spicy, rich, herbal, smoky, aromatic) on a 0-10
scale. A dish's profile is its region's typical profile, moved by three kinds of variation:

    x = mu_k + W_k f_k + w * r + e,   f_k ~ N(0, I_2),  r ~ N(0, 1),  e ~ N(0, diag psi_k)

- r is richness, shared by every region: a rich, heavy dish (a braise, a curry with ghee, a stew
  with palm oil, a cream sauce) scores higher on rich, umami, salty and sweet and lower on sour.
- f_k are two styles within region k, each a named direction (East Asian: soy braise, chilli-numbing
  heat; Nordic: cured and pickled, smoked), so flavours vary together the way a cook expects.
- e is what is left: the cook's hand, independent per flavour.

Regions overlap the way real cuisines do: Mediterranean and Middle Eastern share herbs, lemon and
olive oil; South Asian, West African and Latin American are all spicy; East Asian and West African
lean on umami. The model sees only the ten scores, never the region, the richness or the style.

The truth is exact: given the region, x is Gaussian with covariance W_k W_k^T + w w^T + diag(psi_k),
so log p(x) = log sum_k pi_k N(x | mu_k, Sigma_k) in closed form, and p(region | x) by Bayes' rule.
The scores are left unclipped: a dish can score a little below 0 or above 10, because clipping would
put probability mass on the edges and break the exact density.

The model. By default a mixture-prior VAE (gmvae): its discrete latent y finds the regions without
ever seeing one, and its continuous z the richness and style within a region. --conditional instead
trains a conditional VAE on the region labels, which can then cook a dish of any region on demand:

    python cuisine_dlvm.py --samples 8000 --epochs 80 --visualize
    python cuisine_dlvm.py --conditional --generate "west african" --count 5
"""

import common.startup  # noqa: F401  first: Ctrl-C or SIGTERM while Python imports ends with one line

# isort: split

import argparse
import math
import sys
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.cli import Interval, UsageError, option, parse, typed
from common.entry import entry_point, exit_with
from common.model_table import model_class
from common.options import DataOptions
from common.world import Sample, World

FLAVOURS = ["sweet", "salty", "sour", "bitter", "umami", "spicy", "rich", "herbal", "smoky", "aromatic"]
REGIONS = [
    "East Asian",
    "South Asian",
    "Mediterranean",
    "Middle Eastern",
    "Latin American",
    "West African",
    "Nordic",
]
PREVALENCE = [0.22, 0.16, 0.18, 0.11, 0.15, 0.08, 0.10]
# Typical score of each flavour (columns as FLAVOURS) for a dish of average richness and style.
REGION_MEAN = [
    # swt  salt  sour  bitr  umam  spcy  rich  herb  smok  arom
    [4.5, 6.5, 3.5, 2.5, 7.5, 3.5, 4.0, 3.0, 2.5, 5.0],  # East Asian
    [3.5, 4.5, 3.5, 2.5, 3.5, 7.5, 6.0, 5.0, 2.5, 8.0],  # South Asian
    [3.0, 5.0, 5.0, 3.5, 4.5, 2.0, 4.5, 7.5, 2.5, 5.5],  # Mediterranean
    [4.0, 4.5, 5.0, 2.5, 3.5, 3.5, 5.0, 7.0, 4.0, 7.0],  # Middle Eastern
    [3.5, 5.0, 5.5, 2.0, 4.0, 7.0, 4.5, 5.5, 5.5, 4.5],  # Latin American
    [3.0, 5.5, 3.0, 3.5, 6.0, 7.5, 6.5, 3.5, 4.5, 5.5],  # West African
    [4.5, 6.0, 4.0, 2.5, 4.5, 1.0, 6.0, 4.0, 5.0, 2.5],  # Nordic
]
# Richness r ~ N(0, 1) moves every region's dishes along this direction (score change per unit r).
RICHNESS_LOADING = {"sweet": 0.4, "salty": 0.5, "sour": -0.3, "umami": 0.6, "rich": 1.2}
# Two styles per region: f_k ~ N(0, I_2) moves a dish along each (score change per unit of style).
REGION_STYLES = {
    "East Asian": {
        "soy braise": {"sweet": 0.8, "salty": 0.8, "umami": 0.7, "herbal": -0.4},
        "chilli-numbing heat": {"spicy": 1.4, "aromatic": 0.6, "sour": 0.4},
    },
    "South Asian": {
        "slow curry": {"aromatic": 0.8, "rich": 0.6, "spicy": 0.6},
        "tangy and fresh": {"sour": 0.9, "herbal": 0.8, "sweet": -0.3},
    },
    "Mediterranean": {
        "herb and lemon": {"herbal": 0.9, "sour": 0.8},
        "cured and briny": {"salty": 0.9, "umami": 0.7, "bitter": 0.4},
    },
    "Middle Eastern": {
        "sweet-spiced": {"sweet": 1.0, "aromatic": 0.8},
        "grill": {"smoky": 1.1, "spicy": 0.6, "herbal": 0.3},
    },
    "Latin American": {
        "chilli and smoke": {"spicy": 1.1, "smoky": 0.9},
        "lime and coriander": {"sour": 0.9, "herbal": 0.9},
    },
    "West African": {
        "pepper heat": {"spicy": 1.2, "aromatic": 0.5},
        "nutty stew": {"rich": 0.8, "umami": 0.7, "sweet": 0.4},
    },
    "Nordic": {
        "cured and pickled": {"sour": 1.0, "salty": 0.8, "sweet": 0.6},
        "smoked": {"smoky": 1.3, "salty": 0.5},
    },
}
# Independent spread of each flavour (a cook's hand), scaled per region by how varied its cooking is.
NOISE_SD = {
    "sweet": 1.2,
    "salty": 1.0,
    "sour": 1.2,
    "bitter": 0.9,
    "umami": 1.2,
    "spicy": 1.3,
    "rich": 1.0,
    "herbal": 1.2,
    "smoky": 1.2,
    "aromatic": 1.2,
}
REGION_SPREAD = [1.1, 1.0, 1.0, 1.0, 1.1, 1.0, 0.9]
# Edges of the richness bands used when reading richness off a (decoded) dish: five bands of r ~ N(0, 1).
RICHNESS_BANDS = [-1.5, -0.5, 0.5, 1.5]


class CuisineWorld(World):
    """A mixture over regions of factor analysers (two region styles and a shared richness factor).

    `flavours` keeps a subset of the flavours: the world is then the exact marginal of the full one on
    those flavours (a Gaussian mixture stays a Gaussian mixture), small enough to integrate on a grid.
    """

    name = "cuisine"
    likelihood = "gaussian"
    class_names = REGIONS
    factor_names = ["richness"]
    class_noun = "region"
    value_label = "flavour (0-10)"
    value_range = (0.0, 10.0)  # the scale dishes are scored on (a score may stray a little past it)

    def __init__(self, flavours=None):
        flavours = list(FLAVOURS if flavours is None else flavours)
        unknown = [f for f in flavours if f not in FLAVOURS]
        if unknown or not flavours or len(set(flavours)) != len(flavours):
            raise ValueError(f"flavours must be distinct names from {FLAVOURS}; got {flavours}")
        columns = [FLAVOURS.index(f) for f in flavours]
        self.feature_names = flavours
        self.prior = np.array(PREVALENCE)  # (K,)
        self.means = np.array(REGION_MEAN)[:, columns]  # (K, D)
        self.richness_loading = np.array([RICHNESS_LOADING.get(f, 0.0) for f in flavours])  # (D,)
        self.style_names = [list(REGION_STYLES[k]) for k in REGIONS]
        self.style_loadings = np.array(  # (K, D, Q): column q is the direction of style q
            [[[style.get(f, 0.0) for style in REGION_STYLES[k].values()] for f in flavours] for k in REGIONS]
        )
        sd = np.outer(REGION_SPREAD, [NOISE_SD[f] for f in flavours])
        self.noise_var = sd**2  # (K, D) diagonal psi_k

    def region_means(self):
        """mu_k, (K, D): the expected profile of a dish from region k."""
        return self.means.copy()

    def class_means(self):
        return self.region_means()

    def region_covariances(self):
        """Sigma_k = W_k W_k^T + w w^T + diag(psi_k), (K, D, D): the spread of dishes within region k."""
        styles = self.style_loadings @ self.style_loadings.transpose(0, 2, 1)  # (K, D, D)
        richness = np.outer(self.richness_loading, self.richness_loading)  # (D, D)
        return styles + richness + np.stack([np.diag(v) for v in self.noise_var])

    def sample(self, n, rng):
        labels = rng.choice(self.n_classes, size=n, p=self.prior)
        richness = rng.standard_normal(n)
        styles = rng.standard_normal((n, self.style_loadings.shape[2]))  # (n, Q)
        noise = rng.standard_normal((n, self.n_features)) * np.sqrt(self.noise_var[labels])  # (n, D)
        x = (
            self.means[labels]
            + np.einsum("ndq,nq->nd", self.style_loadings[labels], styles)
            + richness[:, None] * self.richness_loading
            + noise
        )
        return Sample(x.astype(np.float32), labels, {"richness": richness})

    def log_joint(self, x):
        """log p(x, region = k) per row and region, (n, K): one Cholesky factor per region."""
        from scipy.linalg import cho_factor, solve_triangular

        x = np.asarray(x, dtype=np.float64)
        n, d = x.shape
        out = np.empty((n, self.n_classes))
        for k, (mean, cov) in enumerate(zip(self.means, self.region_covariances(), strict=True)):
            lower, _ = cho_factor(cov, lower=True)
            # log N(x | mu, Sigma) = -1/2 (D log 2 pi + log det Sigma + |L^-1 (x - mu)|^2), Sigma = L L^T
            whitened = solve_triangular(lower, (x - mean).T, lower=True, check_finite=False)  # (D, n)
            log_det = 2 * np.log(np.diag(lower)).sum()
            out[:, k] = -0.5 * (d * math.log(2 * math.pi) + log_det + (whitened**2).sum(0))
        return out + np.log(self.prior)

    def richness_posterior(self, x):
        """p(richness | x, region k) is Gaussian, N(m_k, v_k), (n, K) each. Given the region, (r, x) is
        jointly Gaussian with Cov(r, x) = w^T and Var(x) = Sigma_k, so by Gaussian conditioning
        m_k = w^T Sigma_k^-1 (x - mu_k) and v_k = 1 - w^T Sigma_k^-1 w (Bishop 2006, eq. 2.81-2.82)."""
        x = np.asarray(x, dtype=np.float64)
        w = self.richness_loading
        gains = np.stack([np.linalg.solve(cov, w) for cov in self.region_covariances()])  # (K, D) Sigma^-1 w
        mean = np.einsum("kd,nkd->nk", gains, x[:, None] - self.means)  # (n, K)
        var = 1 - gains @ w  # (K,)
        return mean, np.broadcast_to(var, mean.shape)

    def output_factors(self, x):
        """p(region | x) and p(richness band | x) per row: the bands of RICHNESS_BANDS, exactly, from
        p(r | x) = sum_k p(k | x) N(r | m_k, v_k). x may be a decoded (expected) dish."""
        from scipy.stats import norm

        region = self.posterior(x)  # (n, K)
        mean, var = self.richness_posterior(x)  # (n, K) each
        edges = np.array([-np.inf, *RICHNESS_BANDS, np.inf])
        below = norm.cdf((edges[:, None, None] - mean) / np.sqrt(var))  # (bands + 1, n, K)
        bands = np.einsum("bnk,nk->nb", np.diff(below, axis=0), region)  # (n, bands)
        return {self.class_noun: region, "richness": bands}

    def to_dict(self):
        flavours = self.feature_names
        named = lambda values: dict(zip(flavours, values.tolist(), strict=True))  # noqa: E731
        return {
            "name": self.name,
            "story": "region ~ Categorical(prevalence); richness ~ N(0, 1); styles f ~ N(0, I); "
            "x = mean[region] + sum_q style_loading[region, q] * f_q + richness_loading * richness "
            "+ N(0, diag(noise_sd[region]^2)); unclipped",
            "regions": list(self.class_names),
            "flavours": list(flavours),
            "prevalence": dict(zip(self.class_names, self.prior.tolist(), strict=True)),
            "mean": {k: named(m) for k, m in zip(self.class_names, self.means, strict=True)},
            "richness_loading": named(self.richness_loading),
            "style_loading": {
                k: {style: named(w[:, q]) for q, style in enumerate(styles)}
                for k, styles, w in zip(self.class_names, self.style_names, self.style_loadings, strict=True)
            },
            "noise_sd": {k: named(np.sqrt(v)) for k, v in zip(self.class_names, self.noise_var, strict=True)},
            "covariance": {
                k: {f: named(row) for f, row in zip(flavours, cov, strict=True)}
                for k, cov in zip(self.class_names, self.region_covariances(), strict=True)
            },
        }


def model_profiles(world, model, test, device, n=2000):
    """Each region's mean flavour profile as the model has it, (K, D), and how it was obtained.

    Trained with labels (cvae): dishes generated given the region. Clusters of its own (gmvae): dishes
    generated from the cluster matched to the region (a region no cluster matched stays NaN). Any other
    model that can generate (vae): generated dishes weighted by the world's p(region | x). Autoencoders
    cannot generate: their reconstructions of held-out dishes of the region.
    """
    import torch

    from common import evaluate

    k = world.n_classes
    with torch.no_grad():
        if model.trained_with_labels:
            rows = [
                model.sample(n, torch.full((n,), r, device=device)).mean(0).cpu().numpy() for r in range(k)
            ]
            return np.stack(rows), "the model: generated given the region"
        x_test = torch.as_tensor(test.x, device=device)
        if model.cluster_latent:
            mapping = evaluate.cluster_to_class(test.labels, evaluate.cluster_assignments(model, x_test))
            profiles = np.full((k, world.n_features), np.nan)
            for cluster, region in mapping.items():
                if region >= 0:
                    dishes = model.sample(n, torch.full((n,), cluster, device=device))
                    profiles[region] = dishes.mean(0).cpu().numpy()
            return profiles, "the model: generated from the cluster matched to the region"
        if model.has_likelihood:
            dishes = model.sample(5 * n).cpu().numpy()
            weights = world.posterior(dishes)  # (n, K)
            profiles = (weights.T @ dishes) / weights.sum(0)[:, None]
            return profiles, "the model: generated, weighted by p(region | x)"
        decoded = evaluate.batched(model.reconstruct)(x_test).cpu().numpy()
        profiles = np.stack([decoded[test.labels == r].mean(0) for r in range(k)])
        return profiles, "the model: reconstructed held-out dishes (an autoencoder cannot generate)"


def profile_figures(folder, *, draw, world, model, test, device):
    """region_profiles.png: one radar chart per region, the world's profile beside the model's."""
    if not world.has_truth:  # --data: no world whose profiles to draw
        return
    profiles, label = model_profiles(world, model, test, device)
    spread = np.sqrt(np.diagonal(world.region_covariances(), axis1=1, axis2=2))  # (K, D) sd within a region
    draw(
        plot_region_radar,
        folder.file("region_profiles.png"),
        world.feature_names,
        world.class_names,
        world.region_means(),
        spread,
        profiles,
        label,
    )


MODEL_MARKERS = {"marker": "o", "markersize": 4.5, "markerfacecolor": "white", "markeredgewidth": 1.2}


def plot_region_radar(path, feature_names, region_names, truth, spread, model, model_label):
    """A radar chart per region: the world's mean profile (solid, with a band of +-1 sd) and the model's
    (dashed). truth, spread, model: (K, D); a row of NaN in model is left out (no cluster matched)."""
    from common.plots import _pyplot, class_colors
    from common.runio import save_figure

    plt, _ = _pyplot()
    k, d = truth.shape
    angles = np.linspace(0, 2 * np.pi, d, endpoint=False)
    closed = lambda values: np.append(values, values[:1])  # noqa: E731  (a closed polygon)
    theta = closed(angles)
    colors = class_colors(k)
    n_cols = 4
    n_rows = -(-(k + 1) // n_cols)  # one spare panel for the legend
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4.1 * n_cols, 4.0 * n_rows), subplot_kw={"projection": "polar"}
    )
    top = math.ceil(max(np.nanmax(truth + spread), np.nanmax(model)))
    for r, ax in enumerate(axes.flat):
        if r >= k:
            ax.axis("off")
            continue
        ax.fill_between(
            theta, closed(truth[r] - spread[r]), closed(truth[r] + spread[r]), color=colors[r], alpha=0.15
        )
        ax.plot(theta, closed(truth[r]), color=colors[r], linewidth=2.2)
        if not np.isnan(model[r]).any():  # white-filled markers keep it visible on any region colour
            dark = sum(colors[r]) < 0.3  # black (Nordic): the model's line in grey, not on top in black
            ax.plot(
                theta,
                closed(model[r]),
                color="0.55" if dark else "0.15",
                linewidth=1.4,
                linestyle="--",
                **MODEL_MARKERS,
            )
        ax.set_xticks(angles, feature_names, fontsize=9)
        ax.set_ylim(min(0, math.floor(np.nanmin(truth - spread))), top)
        ax.set_yticks(range(0, top + 1, 2), [str(v) for v in range(0, top + 1, 2)], fontsize=8, color="0.35")
        ax.set_rlabel_position(180 / d)  # between the first two flavours, clear of their names
        title = region_names[r] + ("" if not np.isnan(model[r]).any() else "\n(no cluster matched)")
        ax.set_title(title, fontsize=12, fontweight="bold", color=colors[r], pad=14)
    _radar_legend(axes.flat[k], model_label)
    fig.suptitle("Mean flavour profile of each region (scores 0-10): the world and the model", fontsize=14)
    fig.tight_layout()
    save_figure(fig, path)


def _radar_legend(ax, model_label):
    """The legend of the radar charts, in the spare panel."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    model_line = plt.Line2D(
        [], [], color="0.15", linewidth=1.4, linestyle="--", **MODEL_MARKERS,
        label=textwrap.fill(model_label, 34, subsequent_indent="  "),
    )  # fmt: skip
    handles = [
        plt.Line2D([], [], color="0.45", linewidth=2.2, label="the world: mean profile"),
        Patch(color="0.45", alpha=0.25, label="the world: \u00b11 sd of its dishes"),
        model_line,
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(0.0, 0.5), frameon=False, fontsize=10)


# ---- Options: the shared ones (common/options.py) with this demo's defaults, and its own -------------


def region_name(text):
    """--generate: a region by name in any case, with spaces, hyphens or underscores ('west-african')."""
    wanted = " ".join(text.replace("-", " ").replace("_", " ").split()).casefold()
    for name in REGIONS:
        if name.casefold() == wanted:
            return name
    raise argparse.ArgumentTypeError(
        f"unknown region {text!r}; choose one of: {', '.join(REGIONS)} (any case)"
    )


# --generate samples its dishes in one batch and prints them: a million took 2.2 GB and 45 s (88 MB of
# text) at the default sizes; a billion was killed by the kernel at 24 GB without a word.
MAX_COUNT = 1_000_000


@dataclass
class Options(DataOptions):
    demo: ClassVar[str] = "cuisine"
    description: ClassVar[str] = __doc__.split("\n\n")[0]
    DATA_ONLY: ClassVar[tuple] = ("standardize",)

    samples: int = option(
        8000,
        "dishes drawn from the world, before the train/test split",
        group="data and evaluation",
        type=Interval(int, 50, None),
        metavar="N",
    )
    model: str = "gmvae"  # finds the regions without labels (docs/cuisine.md)
    epochs: int = 80
    iw_samples: int = 100  # within 0.001 nats of 5000 samples on trained cuisine models (docs/cuisine.md)
    conditional: bool = option(
        False,
        "train a conditional VAE, whose encoder and decoder see the region, instead of --model; it learns "
        "from the region labels, so its region scores are classification, not discovery (its defaults: "
        "`--conditional --help`)",
        group="generating dishes",
    )
    generate: str | None = option(
        None,
        "after training, print --count new dishes of REGION (e.g. 'West African', any case) and save them to "
        "generated.csv; needs --conditional or --model gmvae",
        group="generating dishes",
        type=region_name,
        metavar="REGION",
        shown="off",
    )
    count: int = option(
        10,
        f"number of dishes --generate makes, at most {MAX_COUNT:,} (sampled at once: about 2 GB)",
        group="generating dishes",
        type=Interval(int, 1, MAX_COUNT),
        metavar="N",
    )
    standardize: bool = option(
        False,
        "with --data: scale every column to mean 0 and sd 1 (training rows' statistics) before the model and "
        "the baselines see it; likelihoods are then per standardised unit",
        group="your own data",
    )

    def check(self):
        for name in ("conditional", "generate"):
            if getattr(self, name) and self.data is not None:
                raise UsageError(f"--{name}", "works on the cuisine world's regions; drop it or --data")
        if "count" in self.given and self.generate is None:
            raise UsageError("--count", "says how many dishes --generate makes; add --generate REGION")
        if (
            self.generate is not None and not model_class(self.model).cluster_latent
        ):  # a region to sample from
            cannot = "an autoencoder has no prior to sample from"
            if model_class(self.model).has_likelihood:
                cannot = f"a {self.model} has no discrete latent whose clusters could stand for regions"
            raise UsageError(
                "--generate",
                f"{cannot}; use --model gmvae (samples the cluster matched to the region) or --conditional",
            )
        super().check()


@dataclass
class ConditionalOptions(Options):
    """The conditional VAE, trained on the region labels, with KL annealing over its first 10 epochs."""

    mode: ClassVar[str] = "--conditional"
    model: str = "cvae"
    # Without KL annealing its z goes unused (posterior collapse; docs/cuisine.md): 10 epochs, at most all.
    anneal_epochs: int = 10

    @property
    def model_flag(self):
        return "--conditional"

    def check(self):
        if "model" in self.given:
            raise UsageError(
                "--conditional", f"trains its own model, a conditional VAE; drop --model {self.model}"
            )
        if self.clusters is not None:
            raise UsageError("--clusters", "the conditional VAE has one class per region; drop --clusters")
        if self.labels is not None:
            raise UsageError("--labels", "the conditional VAE learns from every region label; drop --labels")
        super().check()


OPTIONS = (Options, ConditionalOptions)  # every options class of this demo: common/cli.py reads them


def options_for(argv):
    """The options class of a command line: --conditional has its own model and defaults."""
    return ConditionalOptions if typed(argv, switches=["--conditional"])["conditional"] else Options


# ---- Generating dishes of a named region -----------------------------------------------------------


def generate(world, args, model, metrics):
    """Print and save --count new dishes of region --generate from the trained model; the exit code."""
    import pandas as pd
    import torch

    from common import runio

    if model.trained_with_labels:
        cluster = world.class_names.index(args.generate)
        trained = "the conditional VAE" if args.model == "cvae" else f"the {args.model} trained with --labels"
        note = f"{args.count} dishes generated by {trained} given region {args.generate}"
    else:  # the gmvae never saw a region: use the cluster matched to it on held-out dishes
        matched = metrics["clusters"]["matched_class"]
        if args.generate not in matched:
            print(
                f"{args.prog}: error: no cluster of the gmvae was matched to {args.generate}; try --clusters "
                f"{world.n_classes} or --conditional",
                file=sys.stderr,
            )
            return 1
        cluster = matched.index(args.generate)
        note = (
            f"{args.count} dishes sampled from gmvae cluster {cluster + 1}, the cluster matched to "
            f"{args.generate} on held-out dishes (the gmvae never saw a region label)"
        )
    torch.manual_seed(args.seed)
    device = next(model.parameters()).device
    with torch.no_grad():
        dishes = (
            model.sample(args.count, torch.full((args.count,), cluster, device=device)).cpu().numpy()
        )  # (N, D)
    frame = pd.DataFrame(
        dishes, columns=world.feature_names, index=pd.RangeIndex(1, args.count + 1, name="dish")
    )
    runio.RunFolder(args.out).write_csv("generated.csv", frame.round(3))
    print(note + ":")
    print(frame.round(1).to_string())
    return 0


@entry_point
def main(argv=None):
    from common.pipeline import Demo, run

    args = parse(options_for, argv)
    result = run(CuisineWorld(), args, Demo(figures=profile_figures))
    if result.code == 0 and args.generate is not None:
        return generate(CuisineWorld(), args, result.model, result.metrics)
    return result.code


if __name__ == "__main__":
    exit_with(main)
