"""User archetypes from movie ratings: a VAE finds kinds of viewers in a sparse ratings matrix.

The world. Invented movies in eight genres, each from an era and with a hidden quality q ~ N(0, 1).
Every user is one of six archetypes (action fan, romantic, cinephile, family, horror buff, sci-fi
geek) with a personal leniency l ~ N(0, 1). An archetype's taste for movie i, in log-odds, is

    taste[a, i] = genre_taste[a, genre_i] + era_taste[a, era_i] + quality_weight[a] * q_i

People watch what they expect to like (p(watch i | a) = sigmoid(intercept + slope * taste)), so which
movies were rated already says who the user is, and give 1..5 stars by an ordered logit,
P(r <= c | a, l) = sigmoid(t_c - taste - bias[a] - scale * l). A row holds 0 for "not rated" and the
stars otherwise. The truth is exact: given the archetype, watching does not depend on the leniency, so
p(x) sums over archetypes and integrates the leniency by Gauss-Hermite quadrature.

Explicit ratings (default; docs/movie.md) or implicit feedback, 4 or 5 stars = liked (--likelihood
multinomial, or --ratings with a MovieLens file; docs/movielens.md):

    python movie_dlvm.py --visualize
    python movie_dlvm.py --ratings ml-100k/u.data --folds 5 --visualize
"""

import common.startup  # noqa: F401  first: Ctrl-C or SIGTERM while Python imports ends with one line

# isort: split

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.cli import Interval, UsageError, option, parse, typed
from common.entry import entry_point, exit_with
from common.recsys.options import MovieLensOptions, RecommenderOptions
from common.world import Sample, World, groups_of, top_items_reading

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Documentary"]
ERAS = ["classic", "80s-90s", "modern"]
ERA_YEARS = {"classic": (1940, 1979), "80s-90s": (1980, 1999), "modern": (2000, 2023)}
ARCHETYPES = ["action fan", "romantic", "cinephile", "family", "horror buff", "sci-fi geek"]
LIKED_STARS = 4  # a rating this high is a "like" (implicit feedback; the gmvae's start)
AUDIENCE_SHARE = [0.22, 0.17, 0.12, 0.19, 0.12, 0.18]
# Taste for each genre (columns as GENRES) in log-odds units: positive = watched more and rated higher.
GENRE_TASTE = [
    # Action Comedy Drama Horror Romance SciFi  Anim   Doc
    [1.4, 0.2, -0.4, 0.0, -1.0, 0.7, -0.4, -1.0],  # action fan
    [-0.7, 0.6, 0.7, -1.4, 1.5, -0.7, 0.2, -0.4],  # romantic
    [-0.6, -0.1, 1.0, -0.4, 0.0, 0.2, 0.0, 1.0],  # cinephile
    [0.1, 0.8, -0.4, -1.8, 0.0, 0.1, 1.5, 0.2],  # family
    [0.4, 0.0, -0.7, 1.8, -1.0, 0.6, -0.7, -0.7],  # horror buff
    [0.6, 0.0, -0.4, 0.0, -1.0, 1.6, 0.4, 0.2],  # sci-fi geek
]
# Taste for each era (columns as ERAS).
ERA_TASTE = [
    # classic 80s-90s modern
    [-0.7, 0.5, 0.4],  # action fan
    [0.3, 0.2, 0.0],  # romantic
    [0.8, 0.1, -0.4],  # cinephile
    [-0.4, 0.1, 0.6],  # family
    [0.1, 0.6, 0.0],  # horror buff
    [-0.1, 0.3, 0.4],  # sci-fi geek
]
QUALITY_WEIGHT = [0.3, 0.5, 1.5, 0.3, 0.2, 0.6]  # how much the movie's quality moves the taste
LENIENCY_BIAS = [0.4, 0.3, -0.8, 0.6, 0.0, -0.2]  # archetype's shift of every rating's log-odds
LENIENCY_SCALE = 0.8  # how much one standard deviation of personal leniency shifts the log-odds
# Ordered-logit cut points: P(r <= c) = sigmoid(THRESHOLDS[c-1] - affinity), c = 1..4.
THRESHOLDS = [-2.2, -0.9, 0.8, 2.5]
WATCH_INTERCEPT = -2.4  # log-odds of watching a movie of neutral taste (about 8%)
WATCH_SLOPE = 0.7  # how much the taste raises the log-odds of watching
N_RATINGS = 5
# Reading a decoded row (a user's expected stars per movie): the metadata of its TOP_K best movies.
TOP_K = 10
QUALITY_BANDS = ["worst fifth", "2nd fifth", "middle fifth", "4th fifth", "best fifth"]  # of the catalogue
PSEUDO_COUNT = 0.5  # added to every bin of a top-K count, so that no reading has an empty bin (finite KL)
# Words for invented titles, per genre: "first words | second words".
TITLE_WORDS = {
    "Action": "Iron,Midnight,Final,Steel,Burning,Silent,Rogue,Last"
    "|Fury,Strike,Protocol,Vendetta,Outpost,Run,Target,Frontier",
    "Comedy": "Crazy,Lucky,Awkward,Big,Happy,Wild,Silly,Perfect"
    "|Wedding,Weekend,Neighbours,Roommates,Holiday,Business,Cousins,Road Trip",
    "Drama": "Quiet,Long,Broken,Distant,Winter,Golden,Hidden,Paper"
    "|River,Letters,Harvest,Years,House,Season,Silence,Bridges",
    "Horror": "Hollow,Crimson,Whispering,Dead,Black,Cursed,Rotting,Night"
    "|Manor,Cellar,Woods,Doll,Ritual,Lake,Asylum,Hunger",
    "Romance": "Sweet,Paris,Summer,Second,Endless,Secret,Tender,Starlit"
    "|Kiss,Hearts,Affair,Serenade,Chance,Love,Promise,Garden",
    "Sci-Fi": "Quantum,Stellar,Neon,Orbital,Dark,Lost,Synthetic,Red"
    "|Horizon,Colony,Signal,Machine,Planet,Odyssey,Paradox,Drift",
    "Animation": "Little,Brave,Magic,Tiny,Flying,Merry,Jolly,Sleepy"
    "|Dragon,Penguins,Kingdom,Robot,Forest,Fox,Balloon,Tea Party",
    "Documentary": "Inside,Beyond,Voices of,Secrets of,Life on,The Truth About,Behind,Saving"
    "|the Ocean,the Reef,the Arctic,Coffee,Jazz,the Moon,Bees,the City",
}


def _ordinal_probabilities(affinity, thresholds):
    """P(r = c) for c = 1..5 under the ordered logit, (..., 5), from affinities (...)."""
    from scipy.special import expit

    cuts = np.concatenate([[-np.inf], thresholds, [np.inf]]) - affinity[..., None]  # (..., 6)
    below, above = cuts[..., :-1], cuts[..., 1:]  # (..., 5) each: r = c when below < z - eta <= above
    # P = F(above) - F(below) with F the logistic CDF; in the upper tail both F are near 1 and the
    # difference cancels, so there use the survival form S(below) - S(above), S(t) = F(-t).
    upper = below + above > 0
    return np.where(upper, expit(-below) - expit(-above), expit(above) - expit(below))


class MovieWorld(World):
    """A mixture over viewer archetypes of a one-factor (leniency) ordinal model with taste-driven
    missingness. Rows are users, columns movies; 0 = not rated, 1..5 = rating."""

    name = "movie"
    class_names = ARCHETYPES
    factor_names = ["leniency"]
    class_noun = "archetype"
    value_label = "rating (1-5)"
    era_names = ERAS
    per_feature_figures = False  # 160 movies: the demo's figures summarise them by genre
    # The gmvae's warm start (common/warm_start.py): 640 updates of 64 users with q(y | x) held and the
    # KL weight warmed up, without which z goes unused and the clusters carry the leniency (docs/movie.md).
    warm_start = {"batch_size": 64, "lr": 5e-3, "max_held_steps": 640, "kl_warmup": True}

    def __init__(
        self, n_per_genre=20, genres=None, seed=0, quadrature_nodes=48, likelihood="ordinal+missing"
    ):
        """`genres`: a subset of GENRES, for small worlds; `seed` fixes the catalogue (eras, years, qualities,
        titles); `likelihood`: the model's head (common/heads.py): it says what the NLL is compared with."""
        self.likelihood = likelihood
        # The gmvae starts from which movies a user rated and liked (4+ stars), which the leniency moves
        # little: a mixture of the full stars splits generous from harsh raters (docs/movie.md).
        self.cluster_start = "observed pattern" if likelihood.endswith("+missing") else "baseline"
        self.cluster_start_options = {"liked_from": LIKED_STARS}
        genres = list(GENRES if genres is None else genres)
        unknown = sorted(set(genres) - set(GENRES))
        if unknown:
            raise ValueError(f"unknown genre(s) {unknown}; choose from {GENRES}")
        if n_per_genre < 1:
            raise ValueError(f"n_per_genre must be at least 1, got {n_per_genre}")
        self.n_per_genre, self.seed = n_per_genre, seed
        self.genre_names = genres
        columns = [GENRES.index(g) for g in genres]
        self.prior = np.array(AUDIENCE_SHARE)  # (A,)
        self.genre_taste = np.array(GENRE_TASTE)[:, columns]  # (A, G)
        self.era_taste = np.array(ERA_TASTE)  # (A, E)
        self.quality_weight = np.array(QUALITY_WEIGHT)  # (A,)
        self.leniency_bias = np.array(LENIENCY_BIAS)  # (A,)
        self.leniency_scale = LENIENCY_SCALE
        self.thresholds = np.array(THRESHOLDS)  # (4,)
        self.watch_intercept, self.watch_slope = WATCH_INTERCEPT, WATCH_SLOPE
        self._make_catalogue(np.random.default_rng(seed))
        # Probabilists' Gauss-Hermite rule: integral f(l) N(l) dl ~= sum_q w_q f(l_q) / sqrt(2 pi).
        nodes, weights = np.polynomial.hermite_e.hermegauss(quadrature_nodes)
        self.nodes, self.log_node_weights = nodes, np.log(weights / math.sqrt(2 * math.pi))

    def _make_catalogue(self, rng):
        n = self.n_per_genre
        self.movie_genre = np.repeat(np.arange(len(self.genre_names)), n)  # (I,)
        self.movie_era = rng.integers(len(ERAS), size=len(self.movie_genre))  # (I,)
        low, high = np.array([ERA_YEARS[e] for e in ERAS]).T  # (E,), (E,)
        self.movie_year = rng.integers(low[self.movie_era], high[self.movie_era] + 1)  # (I,)
        self.movie_quality = rng.standard_normal(len(self.movie_genre))  # (I,)
        # Equal-count quality bands of this catalogue: a random top K is spread evenly over them.
        rank = self.movie_quality.argsort().argsort()
        self.movie_quality_band = rank * len(QUALITY_BANDS) // len(rank)  # (I,)
        titles, used = [], set()
        for g, genre in enumerate(self.genre_names):
            first, second = (words.split(",") for words in TITLE_WORDS[genre].split("|"))
            pairs = [f"{a} {b}" for a in first for b in second]
            order = rng.permutation(len(pairs))
            for j in range(n):
                # Past the 64 word pairs a genre has, studios make sequels.
                sequel = j // len(pairs)
                base = pairs[order[j % len(pairs)]] + (f" {sequel + 1}" if sequel else "")
                title = f"{base} ({self.movie_year[g * n + j]})"
                while title in used:  # the same words in two genres and years: a remake
                    title = title.replace(" (", " Redux (", 1)
                used.add(title)
                titles.append(title)
        self.feature_names = titles

    def metadata(self):
        """{factor: (names of its values, value index of every movie (I,))}: genre, era, quality band."""
        return {
            "genre": (self.genre_names, self.movie_genre),
            "era": (ERAS, self.movie_era),
            "quality": (QUALITY_BANDS, self.movie_quality_band),
        }

    def output_factors(self, x):
        """How a row of expected ratings (n, I) reads: the shares of each genre, era and quality band among
        its TOP_K highest-rated movies, {factor: (n, values)} (common/world.py)."""
        return top_items_reading(x, self.metadata(), TOP_K, PSEUDO_COUNT)

    def feature_groups(self):
        """Movies by genre, era and quality band, for figures that summarise 160 columns."""
        return groups_of(self.metadata())

    def taste(self, labels):
        """Taste of each user's archetype for every movie in log-odds units, (n, I), from labels (n,)."""
        labels = np.asarray(labels)
        per_archetype = (
            self.genre_taste[:, self.movie_genre]
            + self.era_taste[:, self.movie_era]
            + self.quality_weight[:, None] * self.movie_quality
        )  # (A, I)
        return per_archetype[labels]

    def watch_probability(self, labels):
        """p(user watches and rates movie i | archetype), (n, I)."""
        from scipy.special import expit

        return expit(self.watch_intercept + self.watch_slope * self.taste(labels))

    def affinity(self, labels, leniency):
        """Ordered-logit location of each user's rating of every movie, (n, I)."""
        labels = np.asarray(labels)
        shift = self.leniency_bias[labels] + self.leniency_scale * np.asarray(leniency, dtype=float)
        return self.taste(labels) + shift[:, None]

    def rating_probabilities(self, labels, leniency):
        """P(rating = c | watched, archetype, leniency) for c = 1..5, (n, I, 5)."""
        return _ordinal_probabilities(self.affinity(labels, leniency), self.thresholds)

    def expected_ratings(self, labels, leniency):
        """The oracle's expected rating of every movie, were the user to rate it, (n, I)."""
        from scipy.special import expit

        # E[r] = 1 + sum_{c=1..4} P(r > c) for a rating on 1..5.
        eta = self.affinity(labels, leniency)[..., None]  # (n, I, 1)
        return 1 + expit(eta - self.thresholds).sum(-1)

    def preference(self, labels, leniency):
        """P(user watches the movie and rates it 4 or 5), (n, I): the oracle's implicit-feedback score."""
        from scipy.special import expit

        liked = expit(self.affinity(labels, leniency) - self.thresholds[2])  # P(r >= 4) = 1 - P(r <= 3)
        return self.watch_probability(labels) * liked

    def grid(self):
        """The hypotheses the exact likelihood sums over, archetype-major: every (archetype, leniency node)
        pair's labels (H,), factors {"leniency": (H,)} and log prior weight (H,) (the quadrature's)."""
        labels = np.repeat(np.arange(self.n_classes), len(self.nodes))
        log_prior = (np.log(self.prior)[:, None] + self.log_node_weights).reshape(-1)
        return labels, {"leniency": np.tile(self.nodes, self.n_classes)}, log_prior

    def sample(self, n, rng):
        labels = rng.choice(self.n_classes, size=n, p=self.prior)  # (n,)
        leniency = rng.standard_normal(n)  # (n,)
        watched = rng.random((n, self.n_features)) < self.watch_probability(labels)  # (n, I)
        u = rng.random((n, self.n_features, 1))
        ratings = np.empty((n, self.n_features))
        # (users, movies, 5 stars) probabilities for ~2M (user, movie) cells at a time: bounded memory.
        rows = max(1, 2**21 // self.n_features)
        for first in range(0, n, rows):
            block = slice(first, first + rows)
            cumulative = np.cumsum(self.rating_probabilities(labels[block], leniency[block]), axis=-1)
            # Inverse-CDF draw: the rating is 1 + the number of cumulative probabilities below u.
            ratings[block] = 1 + (u[block] > cumulative[..., :-1]).sum(-1)  # in 1..5
        x = np.where(watched, ratings, 0).astype(np.float32)
        return Sample(x, labels, {"leniency": leniency})

    def _check(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} movies, got shape {x.shape}")
        codes = np.rint(x)
        if np.any(codes != x) or np.any((codes < 0) | (codes > N_RATINGS)):
            raise ValueError("ratings must be 0 (not rated) or an integer 1..5")
        return codes.astype(np.int64)

    def log_joint(self, x, batch_size=4096):
        """log p(x, archetype = a) per row and archetype, (n, A), leniency integrated out."""
        from scipy.special import logsumexp

        codes = self._check(x)  # (n, I)
        n_classes, q = self.n_classes, len(self.nodes)
        # Rating log-likelihood at every (archetype, node) pair: one-hot ratings times log P(r = c).
        labels, factors, _ = self.grid()  # (A*Q,)
        log_p = np.log(self.rating_probabilities(labels, **factors))  # (A*Q, I, 5)
        log_p = log_p.reshape(n_classes * q, -1).T  # (I*5, A*Q)
        out = np.empty((len(codes), n_classes))
        for start in range(0, len(codes), batch_size):  # blocks keep the one-hot matrix small
            block = codes[start : start + batch_size]  # (b, I)
            log_watch = self._log_watch(block)  # (b, A)
            one_hot = (block[:, :, None] == np.arange(1, N_RATINGS + 1)).reshape(len(block), -1)  # (b, I*5)
            log_rating = (one_hot @ log_p).reshape(len(block), n_classes, q) + self.log_node_weights
            out[start : start + batch_size] = log_watch + logsumexp(log_rating, axis=2)  # (b, A)
        return np.log(self.prior) + out

    def _log_watch(self, codes):
        """log p(which movies are rated | archetype a) per row and archetype, (n, A)."""
        from scipy.special import log_expit

        watch_logit = self.watch_intercept + self.watch_slope * self.taste(
            np.arange(self.n_classes)
        )  # (A, I)
        watched = (codes > 0).astype(np.float64)
        return watched @ log_expit(watch_logit).T + (1 - watched) @ log_expit(-watch_logit).T

    def log_prob_ratings(self, x):
        """log p(the stars | which movies are rated) per row = log p(x) - log p(rated set), exactly: what
        a likelihood over the rated entries only (the "categorical" head) is to be compared with."""
        from scipy.special import logsumexp

        log_rated_set = logsumexp(np.log(self.prior) + self._log_watch(self._check(x)), axis=1)
        return self.log_prob(x) - log_rated_set

    def anomalies(self, x, n, rng, train):
        """n users whose ratings were moved to other movies, (n, I): each a held-out user's row with its
        movies shuffled, so as many ratings, the same stars (every movie's range is 0..5), but no taste
        behind which movies were rated or how (--anomalies)."""
        rows = x[rng.choice(len(x), n, replace=False)]
        return np.stack([row[rng.permutation(len(row))] for row in rows])

    def reference_log_prob(self, x):
        return self.log_prob(x) if self.likelihood.endswith("+missing") else self.log_prob_ratings(x)

    def to_dict(self):
        def per_archetype(values):
            return dict(zip(ARCHETYPES, map(float, values), strict=True))

        def table(rows, columns):  # {archetype: {column: value}}
            return {
                a: dict(zip(columns, map(float, r), strict=True))
                for a, r in zip(ARCHETYPES, rows, strict=True)
            }

        movie = ("title", "genre", "era", "year", "quality")
        catalogue = zip(
            self.feature_names,
            self.movie_genre,
            self.movie_era,
            self.movie_year,
            self.movie_quality,
            strict=True,
        )
        return {
            "name": self.name,
            "story": "archetype ~ Categorical(audience_share); leniency ~ N(0, 1); taste[a, i] = "
            "genre_taste[a, genre_i] + era_taste[a, era_i] + quality_weight[a] * quality_i; watched_i ~ "
            "Bernoulli(sigmoid(watch_intercept + watch_slope * taste)); P(rating_i <= c) = sigmoid("
            "thresholds[c] - taste - leniency_bias[a] - leniency_scale * leniency)",
            "n_per_genre": self.n_per_genre,
            "seed": self.seed,
            "genres": self.genre_names,
            "eras": ERAS,
            "era_years": ERA_YEARS,
            "archetypes": ARCHETYPES,
            "audience_share": per_archetype(self.prior),
            "genre_taste": table(self.genre_taste, self.genre_names),
            "era_taste": table(self.era_taste, ERAS),
            "quality_weight": per_archetype(self.quality_weight),
            "leniency_bias": per_archetype(self.leniency_bias),
            "leniency_scale": self.leniency_scale,
            "thresholds": self.thresholds.tolist(),
            "watch_intercept": self.watch_intercept,
            "watch_slope": self.watch_slope,
            "movies": [
                dict(zip(movie, (t, self.genre_names[g], ERAS[e], int(y), float(q)), strict=True))
                for t, g, e, y, q in catalogue
            ],
            "quadrature_nodes": len(self.nodes),
        }


# ---- Options: the shared ones (common/options.py) with each mode's defaults, and the demo's own -----

LIKELIHOODS = ("ordinal+missing", "categorical+missing", "ordinal", "categorical", "multinomial")
EXAMPLES = """examples:
  python movie_dlvm.py --visualize
  python movie_dlvm.py --likelihood multinomial --folds 5 --visualize
  python movie_dlvm.py --ratings ml-100k/u.data --titles ml-100k/u.item --visualize"""


@dataclass
class MovieOptions(MovieLensOptions):
    demo: ClassVar[str] = "movie"
    description: ClassVar[str] = __doc__.split("\n\n")[0]
    epilog: ClassVar[str] = EXAMPLES
    WORLD_SIZES: ClassVar[tuple] = ("users", "movies")

    users: int = option(
        5000, "users drawn from the world, before the train/test split", group="the synthetic world",
        type=Interval(int, 50, None), metavar="N",
    )  # fmt: skip
    movies: int = option(
        20, f"movies per genre; there are {len(GENRES)} genres", group="the synthetic world",
        type=Interval(int, 1, None), metavar="N",
    )  # fmt: skip
    likelihood: str = option(
        "ordinal+missing",
        "ordinal+missing: which movies a user rated, and their stars by an ordered logit; "
        "categorical+missing: the same with a free categorical over the five stars; ordinal, categorical: "
        "the stars of rated movies only, as if movies went unrated at random; multinomial: implicit "
        "feedback (4 or 5 stars = liked)",
        group="the synthetic world",
        choices=LIKELIHOODS,
    )
    iw_samples: int = 100

    @property
    def samples(self):
        """The pipeline's name for the rows drawn from the world."""
        return self.users


@dataclass
class ExplicitOptions(MovieOptions):
    """The gmvae: its warm start finds the archetypes, then 3 gentle epochs (docs/movie.md: why so few)."""

    model: str = "gmvae"
    epochs: int = 3
    lr: float = 1e-3


@dataclass
class ContinuousOptions(ExplicitOptions):
    """Explicit ratings with --model vae, ae or dae: 64 users a step, KL annealing over half the run."""

    mode: ClassVar[str] = "--model vae"
    model: str = "vae"
    epochs: int = 40
    batch_size: int = 64
    lr: float = 5e-3
    anneal_epochs: int = 20

    def check(self):
        if "anneal_epochs" not in self.given and self.anneal_epochs > self.epochs:
            self.anneal_epochs = self.epochs // 2  # a short run keeps annealing over half its epochs
        super().check()


@dataclass
class ImplicitOptions(MovieOptions, RecommenderOptions):
    """Implicit feedback with Mult-VAE (or --model dae): the paper's [I-600-200], Adam at 1e-3, beta 0.2."""

    mode: ClassVar[str] = "--likelihood multinomial"
    likelihood: str = "multinomial"
    model: str = "vae"
    latent_dim: int = 200
    hidden_dim: int = 600
    hidden_layers: int = 1
    beta: float = 0.2
    lr: float = 1e-3
    batch_size: int = 100
    epochs: int = 100
    test_fraction: float = 0.1

    def check(self):
        if self.likelihood != "multinomial":  # --ratings with an explicit --likelihood
            raise UsageError(
                "--likelihood", f"{self.likelihood} needs the synthetic world; MovieLens runs are implicit"
            )
        super().check()


@dataclass
class ImplicitGMVAEOptions(ImplicitOptions):
    """Implicit feedback with the Mult-GMVAE: the explicit gmvae, started from the mixture baseline."""

    mode: ClassVar[str] = "--likelihood multinomial --model gmvae"
    model: str = "gmvae"
    latent_dim: int = 2
    hidden_dim: int = 64
    hidden_layers: int = 2
    beta: float = 1.0
    batch_size: int = 64
    epochs: int = 10
    anneal_steps: int = 0


@dataclass
class ImplicitRecVAEOptions(ImplicitOptions):
    """Implicit feedback with RecVAE (Shenbin et al. 2020): the reference code's network; its Adam rate
    and epochs as measured on ML-100K (docs/movielens.md: 5e-4 for 50 epochs 0.447, 1e-3 for 30 0.457)."""

    mode: ClassVar[str] = "--likelihood multinomial --model recvae"
    model: str = "recvae"
    hidden_layers: int = 5
    lr: float = 1e-3
    epochs: int = 30
    # its KL weight is each user's own (--gamma): refused, and left out of --help
    REFUSED: ClassVar[dict] = ImplicitOptions.REFUSED | dict.fromkeys(
        ("beta", "anneal_steps"), "the recvae weights each user's KL by --gamma x their likes"
    )


OPTIONS = (ExplicitOptions, ContinuousOptions, ImplicitOptions, ImplicitGMVAEOptions, ImplicitRecVAEOptions)


def options_for(argv):
    """The options class of the mode a command line asks for: its flags decide the defaults."""
    given = typed(argv, "--ratings", "--likelihood", "--model")
    if given["ratings"] is not None or given["likelihood"] == "multinomial":
        return {"gmvae": ImplicitGMVAEOptions, "recvae": ImplicitRecVAEOptions}.get(
            given["model"], ImplicitOptions
        )
    return ExplicitOptions if given["model"] in (None, "gmvae") else ContinuousOptions


@entry_point
def main(argv=None):
    args = parse(options_for, argv)
    if args.likelihood == "multinomial":
        from common.recsys import recommend
        from common.recsys.data import from_world, load_movielens

        rng = np.random.default_rng(args.seed)  # one stream: the world's sample, then the folds and splits
        if args.ratings:
            return recommend.run(load_movielens(args.ratings, args.titles), args, rng).code
        world = MovieWorld(args.movies)
        genres = [[world.genre_names[g]] for g in world.movie_genre]
        data = from_world(world, world.sample(args.users, rng), genres, args.users, flag="--movies")
        return recommend.run(data, args, rng).code
    from common.pipeline import run
    from common.recsys import explicit

    world = MovieWorld(args.movies, likelihood=args.likelihood)
    demo = explicit.parts(world, args.seed, world.movie_genre, world.genre_names, "genre", "movie")
    return run(world, args, demo).code


if __name__ == "__main__":
    exit_with(main)
