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

Example:
    python cuisine_dlvm.py --samples 8000 --epochs 80 --visualize
"""

import math
import sys

import numpy as np

from common.cli import Interval, add_shared_flags, build_parser, parse
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

    def log_prob(self, x):
        from scipy.special import logsumexp

        return logsumexp(self.log_joint(x), axis=1)

    def posterior(self, x):
        from scipy.special import softmax

        return softmax(self.log_joint(x), axis=1)

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


def make_parser():
    parser = build_parser("cuisine", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples",
        type=Interval(int, 50, None),
        default=8000,
        metavar="N",
        help="dishes drawn from the world, before the train/test split (default: 8000)",
    )
    return add_shared_flags(parser, "cuisine", {"epochs": 80})


def main(argv=None):
    parser = make_parser()
    args = parse(parser, argv)
    from common.pipeline import run

    return run(CuisineWorld(), args, parser)


if __name__ == "__main__":
    sys.exit(main())
