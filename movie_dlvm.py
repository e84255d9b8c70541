"""User archetypes from movie ratings: a VAE finds kinds of viewers in a sparse ratings matrix.

The world. A catalogue of invented movies, `n_per_genre` in each of eight genres (Action, Comedy,
Drama, Horror, Romance, Sci-Fi, Animation, Documentary), each from an era (classic before 1980, the
80s-90s, or modern) and with a hidden quality q ~ N(0, 1). Every user is one of six archetypes (action
fan, romantic, cinephile, family, horror buff, sci-fi geek), drawn with its share of the audience, and
has a personal leniency l ~ N(0, 1). An archetype a has a taste for each genre and era, a weight on
quality (the cinephile cares most) and a leniency bias (the cinephile is harsh, the family generous).
Its taste for movie i, in log-odds units, is

    taste[a, i] = genre_taste[a, genre_i] + era_taste[a, era_i] + quality_weight[a] * q_i

People watch what they expect to like: a user watches movie i independently with probability

    p(watch i | a) = sigmoid(watch_intercept + watch_slope * taste[a, i])

so that most of the matrix is missing (about one movie in nine is rated) and which movies were rated
already says who the user is. A watched movie is rated 1..5 by an ordered-logit model,

    P(r <= c | a, l) = sigmoid(threshold_c - affinity),   affinity = taste[a, i] + bias[a] + scale * l

for c = 1..4, so a lenient user shifts every rating up. A user's row x holds 0 for "not rated" and
the rating otherwise. The model sees only x, never the archetype or the leniency.

The truth is exactly computable: given the archetype, watching does not depend on the leniency, so

    p(x) = sum_a pi_a prod_i p(w_i | a) integral prod_{i rated} P(r_i | a, l) N(l) dl

with the integral over the leniency by Gauss-Hermite quadrature. That gives the exact NLL, the
Bayes-optimal archetype of every user, the oracle's expected ratings and the oracle's ranking (the
probability that the user watches a movie and rates it four or more).

The demo. Explicit ratings (default): a VAE with a mixture prior (--model gmvae, six clusters) reads
each user's row and explains which movies were rated and their stars (--likelihood ordinal+missing);
it is scored on held-out users by NLL against the world, archetype recovery against the Bayes-optimal,
and RMSE on hidden ratings against the oracle.
Implicit feedback (--likelihood multinomial): 4 or 5 stars become "liked" and Mult-VAE or Mult-DAE
(Liang et al. 2018) ranks movies for held-out users, beside popularity, EASE and the oracle. With
--ratings the same runs on a real MovieLens file, where no truth is known.

Example:
    python movie_dlvm.py --visualize
    python movie_dlvm.py --ratings ml-100k/u.data --folds 5 --visualize
"""

import math
import os
import sys

import numpy as np

from common.cli import Interval, add_shared_flags, build_parser, out_of_memory_is_an_error, parse, typed
from common.world import Sample, World

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
# Words for invented titles, per genre: (first words, second words).
TITLE_WORDS = {
    "Action": (
        ["Iron", "Midnight", "Final", "Steel", "Burning", "Silent", "Rogue", "Last"],
        ["Fury", "Strike", "Protocol", "Vendetta", "Outpost", "Run", "Target", "Frontier"],
    ),
    "Comedy": (
        ["Crazy", "Lucky", "Awkward", "Big", "Happy", "Wild", "Silly", "Perfect"],
        ["Wedding", "Weekend", "Neighbours", "Roommates", "Holiday", "Business", "Cousins", "Road Trip"],
    ),
    "Drama": (
        ["Quiet", "Long", "Broken", "Distant", "Winter", "Golden", "Hidden", "Paper"],
        ["River", "Letters", "Harvest", "Years", "House", "Season", "Silence", "Bridges"],
    ),
    "Horror": (
        ["Hollow", "Crimson", "Whispering", "Dead", "Black", "Cursed", "Rotting", "Night"],
        ["Manor", "Cellar", "Woods", "Doll", "Ritual", "Lake", "Asylum", "Hunger"],
    ),
    "Romance": (
        ["Sweet", "Paris", "Summer", "Second", "Endless", "Secret", "Tender", "Starlit"],
        ["Kiss", "Hearts", "Affair", "Serenade", "Chance", "Love", "Promise", "Garden"],
    ),
    "Sci-Fi": (
        ["Quantum", "Stellar", "Neon", "Orbital", "Dark", "Lost", "Synthetic", "Red"],
        ["Horizon", "Colony", "Signal", "Machine", "Planet", "Odyssey", "Paradox", "Drift"],
    ),
    "Animation": (
        ["Little", "Brave", "Magic", "Tiny", "Flying", "Merry", "Jolly", "Sleepy"],
        ["Dragon", "Penguins", "Kingdom", "Robot", "Forest", "Fox", "Balloon", "Tea Party"],
    ),
    "Documentary": (
        ["Inside", "Beyond", "Voices of", "Secrets of", "Life on", "The Truth About", "Behind", "Saving"],
        ["the Ocean", "the Reef", "the Arctic", "Coffee", "Jazz", "the Moon", "Bees", "the City"],
    ),
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
    genre_names = GENRES
    era_names = ERAS
    per_feature_figures = False  # 160 movies: the demo's figures summarise them by genre
    # The gmvae's warm start (common.train.warm_start), measured on seeds 0-2 (docs/movie.md): 640
    # updates of 64 users with q(y | x) held (160 of 256 users leave it at 0.48 of the Bayes-optimal
    # ARI, 640 at 0.90-0.96), with the KL weight warmed up, without which z goes unused and the
    # clusters have to carry the leniency.
    warm_start = {"batch_size": 64, "lr": 5e-3, "max_held_steps": 640, "kl_warmup": True}

    def __init__(
        self, n_per_genre=20, genres=None, seed=0, quadrature_nodes=48, likelihood="ordinal+missing"
    ):
        """`genres` picks a subset of GENRES (by name) for small worlds; `seed` fixes the catalogue
        (eras, years, qualities, titles), so the same arguments always give the same world.
        `likelihood` names the model head (common.heads.HEADS) the demo fits: "ordinal+missing" or
        "categorical+missing" explain which movies are rated and their stars, "ordinal" or "categorical"
        the stars of rated movies only."""
        self.likelihood = likelihood
        # Which movies a user rated does not depend on the leniency, and which of them they liked (4+
        # stars) little; with the full stars, a mixture spends components on generous and harsh
        # raters (start ARI, seed 0: 0.64 of the Bayes-optimal; rated set 0.79; rated and liked 0.91).
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
            first, second = TITLE_WORDS[genre]
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

    @property
    def n_movies(self):
        return len(self.feature_names)

    def metadata(self):
        """{factor: (names of its values, value index of every movie (I,))}: genre, era, quality band."""
        return {
            "genre": (self.genre_names, self.movie_genre),
            "era": (ERAS, self.movie_era),
            "quality": (QUALITY_BANDS, self.movie_quality_band),
        }

    def output_factors(self, x):
        """How a row of expected ratings (n, I) reads: the distribution of genre, era and quality band
        over its TOP_K highest-rated movies, each count plus PSEUDO_COUNT, {factor: (n, values)}. This is
        the metadata reading of a movie VAE's recommendations in the work issue 6 follows."""
        x = np.asarray(x, dtype=np.float64)
        k = min(TOP_K, self.n_movies)
        top = np.argsort(-x, axis=1, kind="stable")[:, :k]  # (n, k) movie columns, best first
        out = {}
        for factor, (names, of_movie) in self.metadata().items():
            counts = (of_movie[top][..., None] == np.arange(len(names))).sum(1)  # (n, values)
            out[factor] = (counts + PSEUDO_COUNT) / (k + PSEUDO_COUNT * len(names))
        return out

    def feature_groups(self):
        """Movies by genre, era and quality band, for figures that summarise 160 columns."""
        return {
            factor: {
                name: np.flatnonzero(of_movie == v) for v, name in enumerate(names) if (of_movie == v).any()
            }
            for factor, (names, of_movie) in self.metadata().items()
        }

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

    def liked_posterior_scores(self, shown, movies, shown_share):
        """The world's own ranking from what a recommender is shown, (b, len(movies)).

        `shown` (b, len(movies)) marks the liked movies folded in; each liked movie is taken to be shown
        with probability `shown_share`, independently (the fold-in keeps 80% of them). With
        p = P(watches and rates 4+ | archetype, leniency) (`preference`), a movie is shown with
        probability s p, and an unshown one is a held-back liked movie with probability
        (1 - s) p / (1 - s p). Its score is that probability averaged over the posterior of the user's
        archetype and leniency (Gauss-Hermite nodes) given `shown`: what a model that knew the world
        but not the user could rank by, and a fairer ceiling than the oracle, which knows the user.
        """
        from scipy.special import softmax

        n_classes, q = self.n_classes, len(self.nodes)
        p = self.preference(np.repeat(np.arange(n_classes), q), np.tile(self.nodes, n_classes))
        p = p[:, movies]  # (A*Q, M): archetype-major, as log_prior below
        p_shown = shown_share * p
        shown = np.asarray(shown, dtype=np.float64)
        log_lik = shown @ np.log(p_shown).T + (1 - shown) @ np.log1p(-p_shown).T  # (b, A*Q)
        log_prior = (np.log(self.prior)[:, None] + self.log_node_weights).reshape(-1)  # (A*Q,)
        posterior = softmax(log_lik + log_prior, axis=1)
        return posterior @ ((p - p_shown) / (1 - p_shown))  # (1 - s) p / (1 - s p)

    def sample(self, n, rng):
        labels = rng.choice(self.n_classes, size=n, p=self.prior)  # (n,)
        leniency = rng.standard_normal(n)  # (n,)
        watched = rng.random((n, self.n_movies)) < self.watch_probability(labels)  # (n, I)
        u = rng.random((n, self.n_movies, 1))
        ratings = np.empty((n, self.n_movies))
        # (users, movies, 5 stars) probabilities for ~2M (user, movie) cells at a time: bounded memory.
        rows = max(1, 2**21 // self.n_movies)
        for first in range(0, n, rows):
            block = slice(first, first + rows)
            cumulative = np.cumsum(self.rating_probabilities(labels[block], leniency[block]), axis=-1)
            # Inverse-CDF draw: the rating is 1 + the number of cumulative probabilities below u.
            ratings[block] = 1 + (u[block] > cumulative[..., :-1]).sum(-1)  # in 1..5
        x = np.where(watched, ratings, 0).astype(np.float32)
        return Sample(x, labels, {"leniency": leniency})

    def _check(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_movies:
            raise ValueError(f"expected rows of {self.n_movies} movies, got shape {x.shape}")
        codes = np.rint(x)
        if np.any(codes != x) or np.any((codes < 0) | (codes > N_RATINGS)):
            raise ValueError("ratings must be 0 (not rated) or an integer 1..5")
        return codes.astype(np.int64)

    def log_joint(self, x, batch_size=4096):
        """log p(x, archetype = a) per row and archetype, (n, A), leniency integrated out."""
        from scipy.special import logsumexp

        codes = self._check(x)  # (n, I)
        n_classes, q = self.n_classes, len(self.nodes)
        archetypes = np.arange(n_classes)
        # Rating log-likelihood at every (archetype, node) pair: one-hot ratings times log P(r = c).
        pairs = np.repeat(archetypes, q)  # (A*Q,)
        log_p = np.log(self.rating_probabilities(pairs, np.tile(self.nodes, n_classes)))  # (A*Q, I, 5)
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

    def log_prob(self, x):
        from scipy.special import logsumexp

        return logsumexp(self.log_joint(x), axis=1)

    def log_prob_ratings(self, x):
        """log p(the stars | which movies are rated) per row = log p(x) - log p(rated set), exactly: what
        a likelihood over the rated entries only (the "categorical" head) is to be compared with."""
        from scipy.special import logsumexp

        log_rated_set = logsumexp(np.log(self.prior) + self._log_watch(self._check(x)), axis=1)
        return self.log_prob(x) - log_rated_set

    def reference_log_prob(self, x):
        return self.log_prob(x) if self.likelihood.endswith("+missing") else self.log_prob_ratings(x)

    def posterior(self, x):
        from scipy.special import softmax

        return softmax(self.log_joint(x), axis=1)

    def to_dict(self):
        def table(rows, columns):  # {archetype: {column: value}}
            return {
                a: dict(zip(columns, map(float, r), strict=True))
                for a, r in zip(ARCHETYPES, rows, strict=True)
            }

        return {
            "name": self.name,
            "story": "archetype ~ Categorical(audience_share); leniency ~ N(0, 1); "
            "taste[a, i] = genre_taste[a, genre_i] + era_taste[a, era_i] + quality_weight[a] * quality_i; "
            "watched_i ~ Bernoulli(sigmoid(watch_intercept + watch_slope * taste)); "
            "P(rating_i <= c) = sigmoid(thresholds[c] - taste "
            "- leniency_bias[a] - leniency_scale * leniency)",
            "n_per_genre": self.n_per_genre,
            "seed": self.seed,
            "genres": self.genre_names,
            "eras": ERAS,
            "era_years": ERA_YEARS,
            "archetypes": ARCHETYPES,
            "audience_share": dict(zip(ARCHETYPES, map(float, self.prior), strict=True)),
            "genre_taste": table(self.genre_taste, self.genre_names),
            "era_taste": table(self.era_taste, ERAS),
            "quality_weight": dict(zip(ARCHETYPES, map(float, self.quality_weight), strict=True)),
            "leniency_bias": dict(zip(ARCHETYPES, map(float, self.leniency_bias), strict=True)),
            "leniency_scale": self.leniency_scale,
            "thresholds": self.thresholds.tolist(),
            "watch_intercept": self.watch_intercept,
            "watch_slope": self.watch_slope,
            "movies": [
                {
                    "title": title,
                    "genre": self.genre_names[g],
                    "era": ERAS[e],
                    "year": int(y),
                    "quality": float(q),
                }
                for title, g, e, y, q in zip(
                    self.feature_names,
                    self.movie_genre,
                    self.movie_era,
                    self.movie_year,
                    self.movie_quality,
                    strict=True,
                )
            ],
            "quadrature_nodes": len(self.nodes),
        }


# ---- The demo: command line, explicit-rating evaluation, figures, main ----------------------------

LIKELIHOODS = ("ordinal+missing", "categorical+missing", "ordinal", "categorical", "multinomial")
# Explicit ratings, the gmvae (default): its warm start (MovieWorld.warm_start) finds the archetypes;
# then 3 gentle epochs, 256 users a step at lr 1e-3. Longer or faster training keeps raising the ELBO
# while the clusters drift from the archetypes (seed 0: 0.95 of the Bayes-optimal ARI after the warm
# start, 0.76 after 30 epochs at lr 5e-3 and 64 users a step). Seeds 0-4, median ARI / Bayes and NLL
# gaps: 1 epoch 0.945, 0.91-1.03; 3 epochs 0.947, 0.89-1.00; 10 epochs 0.933, 0.86-0.97 (docs/movie.md).
EXPLICIT_DEFAULTS = {
    "model": "gmvae",
    "epochs": 3,
    "batch_size": 256,
    "lr": 1e-3,
    "anneal_epochs": 0,
    "iw_samples": 100,
}
# The other explicit models: 64 rows per step (4000 users / 256 is too few updates to leave the prior),
# and KL annealing over half the run, without which the VAE's codes collapse onto the prior in two epochs.
CONTINUOUS_DEFAULTS = EXPLICIT_DEFAULTS | {"epochs": 40, "batch_size": 64, "lr": 5e-3, "anneal_epochs": 20}
# Mult-VAE's settings (Liang et al. 2018, Sec. 4.3): [I-600-200] with tanh, Adam at 1e-3, beta up to 0.2,
# input dropout 0.5. Measured on ML-100K (bench/movielens.py, docs/movie.md): 100 rows per step, since the
# paper's 500 leaves 2 updates per epoch on its ~840 training users; 100 epochs (50: NDCG@100 0.428, 70:
# 0.442, 100: 0.448, 200: 0.428, overfitting); beta reaches 0.2 after 700 updates, about 80% of such a
# run as in the paper (whose cap, at 200000 updates with beta 1/200000 per update, comes at ~86% of its
# 46000 updates on ML-20M); no annealing or 2000 updates scored within the fold-to-fold noise of it.
IMPLICIT_DEFAULTS = {
    "model": "vae",
    "latent_dim": 200,
    "hidden_dim": 600,
    "beta": 0.2,
    "lr": 1e-3,
    "batch_size": 100,
    "epochs": 100,
    "test_fraction": 0.1,
}
# The mixture-prior Mult-GMVAE (--model gmvae): the explicit gmvae's network, started from the mixture
# baseline as it is (common.recsys.recommend.GMVAE_WARM_START); beta 1 and no annealing, as the warm start
# already raises the KL weight from 0. Beta 0.2, 700 annealing steps or 256 users a step rank the same
# (seed 1: 0.962-0.964 of the oracle's NDCG@100; docs/movie.md).
IMPLICIT_GMVAE_DEFAULTS = IMPLICIT_DEFAULTS | {
    "model": "gmvae",
    "latent_dim": 2,
    "hidden_dim": 64,
    "beta": 1.0,
    "batch_size": 64,
    "epochs": 10,
}
IMPLICIT_ONLY = {
    "folds": 1,
    "dropout": 0.5,
    "anneal_steps": 700,
    "ease_lambda": 500.0,
    "ease_max_items": 10000,
    "mixture_components": None,  # the world's archetypes; REAL_MIXTURE_COMPONENTS on MovieLens files
}
IMPLICIT_GMVAE_ONLY = {"anneal_steps": 0}  # the gmvae's warm start raises the KL weight already
# ML-100K, 5 folds (bench/movielens.py's), NDCG@100 of the mixture baseline: 3 components 0.341, 6 0.364,
# 10 0.374, 20 0.383, 40 0.377 (docs/movie.md).
REAL_MIXTURE_COMPONENTS = 20
MODES = """Two modes. Explicit ratings (the default, synthetic world): the model reads each user's stars and
explains which movies were rated and how (--likelihood ordinal+missing, categorical+missing), or the
stars alone (ordinal, categorical). Implicit feedback (--likelihood multinomial, and always with
--ratings): ratings of 4 or 5 become "liked", and Mult-VAE (--model vae), Mult-DAE (--model dae) or
the mixture-prior Mult-GMVAE (--model gmvae) ranks movies for held-out users. The implicit mode has
its own defaults: --latent-dim 200, --hidden-dim 600, --beta 0.2, --lr 0.001, --batch-size 100,
--epochs 100, --test-fraction 0.1; with --model gmvae --latent-dim 2, --hidden-dim 64, --beta 1,
--batch-size 64, --epochs 10, --anneal-steps 0 (`--likelihood multinomial [--model gmvae] --help`
shows them). It refuses, with the reason, these flags of the list above: --iw-samples, --clusters
(its clusters are --mixture-components), --restarts, --anneal-epochs (it anneals per update:
--anneal-steps), --corruption, --noise (its input corruption is --dropout), --interpret, --load and
--resume. In the explicit mode, --model vae, ae and dae have their own defaults too: --epochs 40,
--batch-size 64, --lr 0.005, --anneal-epochs 20 (`--model vae --help`).

examples:
  python movie_dlvm.py --visualize
  python movie_dlvm.py --likelihood multinomial --folds 5 --visualize
  python movie_dlvm.py --ratings ml-100k/u.data --titles ml-100k/u.item --visualize"""


def make_parser(implicit=False, model=None):
    """The parser of one mode: implicit feedback, or explicit ratings with the gmvae (model None) or
    another model; they differ in the defaults of shared flags (MODES)."""
    parser = build_parser("movie", __doc__.split("\n\n")[0], epilog=MODES)
    synthetic = parser.add_argument_group("the synthetic world")
    synthetic.add_argument(
        "--users",
        type=Interval(int, 50, None),
        metavar="N",
        help="users drawn from the world, before the train/test split (default: 5000)",
    )
    synthetic.add_argument(
        "--movies",
        type=Interval(int, 1, None),
        metavar="N",
        help=f"movies per genre; there are {len(GENRES)} genres (default: 20)",
    )
    synthetic.add_argument(
        "--likelihood",
        choices=LIKELIHOODS,
        help="ordinal+missing: which movies a user rated, and their stars by an ordered logit; "
        "categorical+missing: the same with a free categorical over the five stars; ordinal, categorical: "
        "the stars of rated movies only, as if movies went unrated at random; multinomial: implicit "
        "feedback (4 or 5 stars = liked), Mult-VAE (default: ordinal+missing; multinomial with --ratings)",
    )
    real = parser.add_argument_group("real data: MovieLens (implicit feedback)")
    real.add_argument(
        "--ratings",
        metavar="PATH",
        help="a MovieLens ratings file (u.data, ratings.dat or ratings.csv) instead of the synthetic "
        "world (default: none, the synthetic world)",
    )
    real.add_argument(
        "--titles",
        metavar="PATH",
        help="the matching titles file (u.item, movies.dat or movies.csv), for recommendations with names "
        "and genres (default: the titles file beside --ratings, if there is one)",
    )
    ranking = parser.add_argument_group("implicit feedback (--likelihood multinomial or --ratings)")
    ranking.add_argument(
        "--folds",
        type=Interval(int, 1, None),
        metavar="F",
        help="train and score F times, each on a different disjoint set of held-out users "
        "(--test-fraction of all users); metrics are means with standard deviations over folds "
        f"(default: {IMPLICIT_ONLY['folds']})",
    )
    ranking.add_argument(
        "--dropout",
        type=Interval(float, 0, 1, closed="left"),
        metavar="P",
        help="share of a user's items hidden from the encoder in each training step, in [0, 1): Mult-VAE's "
        f"and Mult-DAE's input dropout; not for the gmvae (default: {IMPLICIT_ONLY['dropout']})",
    )
    ranking.add_argument(
        "--anneal-steps",
        type=Interval(int, 0, None),
        metavar="N",
        help="raise the KL weight beta linearly from 0 to --beta over the first N gradient updates; 0 "
        f"starts at --beta (default: {IMPLICIT_ONLY['anneal_steps']}; "
        f"{IMPLICIT_GMVAE_ONLY['anneal_steps']} with --model gmvae)",
    )
    ranking.add_argument(
        "--ease-lambda",
        type=Interval(float, 0, None, closed="neither"),
        metavar="L",
        help=f"L2 penalty of the EASE baseline (Steck 2019) (default: {IMPLICIT_ONLY['ease_lambda']:g})",
    )
    ranking.add_argument(
        "--ease-max-items",
        type=Interval(int, 1, None),
        metavar="N",
        help="skip EASE, with a message, above N items: it holds three dense N x N matrices, 2.4 GB at "
        f"10000 items, 9.7 GB for ML-20M (default: {IMPLICIT_ONLY['ease_max_items']})",
    )
    ranking.add_argument(
        "--mixture-components",
        type=Interval(int, 1, None),
        metavar="K",
        help="components of the mixture of multinomials, the classical latent class model of the likes "
        "(a ranking baseline, fitted by EM), and clusters of the gmvae, which starts from it (default: "
        f"the synthetic world's {len(ARCHETYPES)} archetypes; {REAL_MIXTURE_COMPONENTS} with --ratings)",
    )
    if implicit:
        defaults = IMPLICIT_GMVAE_DEFAULTS if model == "gmvae" else IMPLICIT_DEFAULTS
    else:
        defaults = EXPLICIT_DEFAULTS if model in (None, "gmvae") else CONTINUOUS_DEFAULTS
    return add_shared_flags(parser, "movie", defaults)


def requested_mode(argv):
    """(implicit feedback?, --model or None) of argv. Read before the full parse: they decide the defaults."""
    given = typed(argv, "--ratings", "--likelihood", "--model")
    return given["ratings"] is not None or given["likelihood"] == "multinomial", given["model"]


def check_flags(parser, args):
    """Refuse what the chosen mode cannot use, with the reason; then fill in the mode's own defaults."""
    real = args.ratings is not None
    if real:
        for flag, value in (("--users", args.users), ("--movies", args.movies)):
            if value is not None:
                parser.error(f"argument {flag}: sizes the synthetic world; with --ratings the file decides")
        if args.likelihood not in (None, "multinomial"):
            parser.error(
                f"argument --likelihood: {args.likelihood} needs the synthetic world; MovieLens runs are "
                "implicit feedback (multinomial)"
            )
        args.titles = args.titles or _titles_beside(args.ratings)
        for flag, path, names in (
            ("--ratings", args.ratings, "u.data, ratings.dat or ratings.csv"),
            ("--titles", args.titles, "u.item, movies.dat or movies.csv"),
        ):
            if path is not None and os.path.isdir(path):
                parser.error(f"argument {flag}: {path!r} is a folder; give the file inside it ({names})")
            if path is not None and not os.path.isfile(path):
                parser.error(f"argument {flag}: no such file: {path!r}")
    elif args.titles is not None:
        parser.error("argument --titles: goes with --ratings; the synthetic world names its own movies")
    args.users = 5000 if args.users is None else args.users
    args.movies = 20 if args.movies is None else args.movies
    args.likelihood = args.likelihood or ("multinomial" if real else "ordinal+missing")
    implicit = args.likelihood == "multinomial"
    if implicit:
        refused = {
            "--iw-samples": "there is no held-out likelihood in the implicit mode, only rankings",
            "--clusters": "the implicit mode's clusters (of the gmvae and the mixture baseline) are "
            "--mixture-components",
            "--restarts": "the implicit mode trains one model per fold",
            "--anneal-epochs": "the implicit mode anneals per update: use --anneal-steps",
            "--corruption": "the implicit mode's input corruption is --dropout",
            "--noise": "the implicit mode's input corruption is --dropout",
            "--interpret": "reads a latent space against the synthetic world's factors, in the explicit "
            "mode only; implicit-feedback runs have none to read it against",
        }
        for flag, reason in refused.items():
            dest = flag[2:].replace("-", "_")
            if getattr(args, dest) != parser.get_default(dest):
                parser.error(f"argument {flag}: {reason}")
        if args.load:
            parser.error(
                "argument --load: the implicit mode trains and scores a model per fold of held-out users "
                "and cannot evaluate a saved one; drop --load"
            )
        if args.model == "gmvae" and args.dropout is not None:
            parser.error(
                "argument --dropout: Mult-VAE's and Mult-DAE's input dropout; the gmvae reads rows whole"
            )
        defaults = IMPLICIT_ONLY | (IMPLICIT_GMVAE_ONLY if args.model == "gmvae" else {})
        for dest, value in defaults.items():
            setattr(args, dest, value if getattr(args, dest) is None else getattr(args, dest))
        if args.mixture_components is None:
            args.mixture_components = REAL_MIXTURE_COMPONENTS if real else len(ARCHETYPES)
        if args.folds * args.test_fraction >= 1:
            parser.error(
                f"argument --folds: {args.folds} disjoint folds of --test-fraction {args.test_fraction} "
                "would hold out every user; lower one of them"
            )
    else:
        if args.anneal_epochs == parser.get_default("anneal_epochs") and args.anneal_epochs > args.epochs:
            args.anneal_epochs = args.epochs // 2  # a short run keeps annealing over half its epochs
        for dest in IMPLICIT_ONLY:
            if getattr(args, dest) is not None:
                flag = "--" + dest.replace("_", "-")
                parser.error(f"argument {flag}: applies to implicit feedback only (--likelihood multinomial)")


def _titles_beside(ratings):
    from common.recsys.movielens import TITLES_FILES

    folder = os.path.dirname(os.path.abspath(ratings))
    return next(
        (os.path.join(folder, n) for n in TITLES_FILES if os.path.isfile(os.path.join(folder, n))), None
    )


# Explicit ratings: the shared pipeline (sample, split, train, NLL vs the world, archetype recovery)
# plus rating prediction for held-out users and their recommendations.

HIDDEN_FRACTION = 0.2  # share of each held-out user's ratings hidden and predicted from the rest
SHOWN_USERS = 3  # held-out users whose top 10 the summary prints
RECOMMENDED = 10  # unrated movies recommended to each held-out user (recommendations.csv)


def run_explicit(args, parser):
    from common.pipeline import run

    world = MovieWorld(args.movies, likelihood=args.likelihood)
    args.samples = args.users  # the shared pipeline's name for the number of rows drawn
    report = {}

    def extra_metrics(model, train, test, mixture, device):
        rng = np.random.default_rng([args.seed, 1])  # its own stream: the same hidden ratings for every model
        report["ratings"] = rating_metrics(world, model, train, test, mixture, device, rng)
        report["recommendations"] = recommend_unrated(world, model, test, device)
        from common import runio

        runio.write_csv(os.path.join(args.out, "recommendations.csv"), report["recommendations"])
        return {} if report["ratings"] is None else {"ratings": report["ratings"]}

    return run(
        world,
        args,
        parser,
        extra_figures=genre_figure,
        extra_metrics=extra_metrics,
        extra_summary=lambda metrics: explicit_summary(report),
    )


def predicted_ratings(model, x, device):
    """The model's expected rating of every movie, were the user to rate it, (n, I), from rows x."""
    import torch

    from common.evaluate import batched

    with torch.no_grad():
        rows = torch.as_tensor(x, dtype=torch.float32, device=device)
        return batched(model.reconstruct)(rows).cpu().numpy()  # the gmvae: under the user's own cluster


def hide_ratings(x, fraction, rng, min_ratings=5):
    """Which ratings to hide, (n, I) bool: a random floor(fraction) of each row's ratings, for users with
    at least `min_ratings` of them (the rule of the implicit fold-in split, common.recsys.movielens)."""
    rated = x > 0
    count = rated.sum(1)
    n_hidden = np.where(count >= min_ratings, np.floor(np.round(fraction * count, 9)), 0)  # (n,)
    keys = np.where(rated, rng.random(x.shape), np.inf)  # unrated entries sort last
    return keys.argsort(1).argsort(1) < n_hidden[:, None]


def rating_metrics(world, model, train, test, mixture, device, rng):
    """RMSE on hidden ratings of held-out users, predicted from their other ratings, beside baselines
    and the oracle that knows each user's archetype and leniency. None when no user has enough ratings."""
    hidden = hide_ratings(test.x, HIDDEN_FRACTION, rng)
    if not hidden.any():
        return None
    fold_in = np.where(hidden, 0, test.x)
    rated = train.x > 0
    global_mean = train.x[rated].mean()
    movie_mean = np.where(rated.any(0), train.x.sum(0) / np.maximum(rated.sum(0), 1), global_mean)  # (I,)
    predictions = {
        "model": predicted_ratings(model, fold_in, device),
        "global_mean": np.full(test.x.shape, global_mean),
        "movie_mean": np.broadcast_to(movie_mean, test.x.shape),
        "mixture_em": mixture.predict_proba(fold_in) @ mixture.means_,  # E over p(component | fold-in)
        "oracle": world.expected_ratings(test.labels, test.factors["leniency"]),
    }
    truth = test.x[hidden]
    rmse = {name: float(np.sqrt(np.mean((p[hidden] - truth) ** 2))) for name, p in predictions.items()}
    return {
        "rmse": rmse["model"],
        "oracle_rmse": rmse["oracle"],
        "baselines": {name: {"rmse": rmse[name]} for name in ("global_mean", "movie_mean", "mixture_em")},
        "hidden_fraction": HIDDEN_FRACTION,
        "n_hidden": int(hidden.sum()),
        "n_users": int(hidden.any(1).sum()),
    }


def recommend_unrated(world, model, test, device, n=RECOMMENDED):
    """Each held-out user's n unrated movies with the highest predicted rating, beside the oracle's; all
    of them, best first, for a user with fewer (none for a user who rated every movie)."""
    import pandas as pd

    from common.recsys.ranking import top_k

    predicted = predicted_ratings(model, test.x, device)
    unrated = ~(test.x > 0)
    top = top_k(np.where(unrated, predicted, -np.inf), n)  # (users, min(n, movies)) columns, best first
    keep = np.take_along_axis(unrated, top, 1)  # (users, k): rated movies, ranked last, are dropped
    user = np.broadcast_to(np.arange(len(top))[:, None], top.shape)[keep]  # (rows,) held-out user index
    rank = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)[keep]  # (rows,)
    movie = top[keep]  # (rows,)
    oracle = world.expected_ratings(test.labels, test.factors["leniency"])
    return pd.DataFrame(
        {
            "user": user + 1,
            "true_archetype": np.array(world.class_names)[test.labels[user]],
            "rank": rank,
            "title": np.array(world.feature_names)[movie],
            "genre": np.array(world.genre_names)[world.movie_genre[movie]],
            "predicted_rating": predicted[user, movie].round(3),
            "oracle_rating": oracle[user, movie].round(3),
        }
    )


def genre_figure(out, *, draw, world, model, test, device, **_):
    """genres.png: mean rating per archetype and genre, the world's beside the model's predictions."""
    from common import plots

    def by_archetype_and_genre(ratings):  # (n, I) -> (A, G); NaN (a blank cell) without such users
        per_user = np.stack(
            [ratings[:, world.movie_genre == g].mean(1) for g in range(len(world.genre_names))], 1
        )
        sums = np.zeros((world.n_classes, per_user.shape[1]))
        np.add.at(sums, test.labels, per_user)
        counts = np.bincount(test.labels, minlength=world.n_classes)[:, None]  # (A, 1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    draw(
        plots.profiles_side_by_side,
        os.path.join(out, "genres.png"),
        by_archetype_and_genre(world.expected_ratings(test.labels, test.factors["leniency"])),
        by_archetype_and_genre(predicted_ratings(model, test.x, device)),
        world.class_names,
        world.genre_names,
        (
            "the world: expected rating, by true archetype",
            f"the model ({model.kind}): predicted rating from the user's row",
        ),
        "mean rating, were the movie rated (1-5)",
        fmt=".1f",
    )


def explicit_summary(report):
    ratings, recommendations = report["ratings"], report["recommendations"]
    if ratings is None:
        lines = ["  rating RMSE: no held-out user has the 5 ratings needed to hide 20% of them"]
    else:
        baselines = "   ".join(
            f"{name.replace('_', ' ')} {b['rmse']:.3f}" for name, b in ratings["baselines"].items()
        )
        lines = [
            f"  rating RMSE on {ratings['hidden_fraction']:.0%} hidden ratings of held-out users: model "
            f"{ratings['rmse']:.3f}   oracle {ratings['oracle_rmse']:.3f}   {baselines}"
        ]
    for user, rows in list(recommendations.groupby("user"))[:SHOWN_USERS]:
        archetype = rows["true_archetype"].iloc[0]
        shown = f"top {len(rows)}" if len(rows) == RECOMMENDED else f"all {len(rows)}"  # fewer unrated
        lines.append(f"  {shown} unrated movies for held-out user {user} (true archetype: {archetype}):")
        for row in rows.itertuples():
            lines.append(
                f"    {row.rank:>2}. {row.title:<34} {row.genre:<12} predicted {row.predicted_rating:.1f}   "
                f"oracle {row.oracle_rating:.1f}"
            )
    return lines


# Implicit feedback: a world sample or a MovieLens file as "liked" (4 or 5 stars), for recsys.recommend.


MIN_IMPLICIT_USERS = 10  # users with 5 or more liked movies the implicit mode needs, to train and hold out


def synthetic_interactions(args, rng, parser):
    """The world's users as implicit feedback: 4 or 5 stars = liked, then MovieLens' preprocessing."""
    import pandas as pd

    from common.recsys.movielens import FOLD_IN, binarize
    from common.recsys.recommend import ImplicitData

    world = MovieWorld(args.movies)
    sample = world.sample(args.users, rng)
    users, movies = np.nonzero(sample.x)
    interactions = binarize(pd.DataFrame({"user": users, "item": movies, "rating": sample.x[users, movies]}))
    kept = interactions.user_ids  # users with 5 or more liked movies
    if len(kept) < MIN_IMPLICIT_USERS:  # a small catalogue: few users like 5 of its movies
        parser.error(
            f"argument --movies: only {len(kept)} of the {args.users} users like 5 or more of its "
            f"{world.n_movies} movies (4 or 5 stars), and the implicit mode needs {MIN_IMPLICIT_USERS} such "
            "users to train on some and hold out others; raise --movies (or --users)"
        )
    labels, leniency = sample.labels[kept], sample.factors["leniency"][kept]

    def oracle(rows, columns):  # P(watches the movie and rates it 4+): the world's true preference
        return world.preference(labels[rows], leniency[rows])[:, interactions.item_ids[columns]]

    def posterior(fold_in, columns):  # the world's ranking from the liked movies a model is shown
        return world.liked_posterior_scores(fold_in.toarray(), interactions.item_ids[columns], FOLD_IN)

    return ImplicitData(
        interactions,
        titles=[world.feature_names[i] for i in interactions.item_ids],
        genres=[[world.genre_names[world.movie_genre[i]]] for i in interactions.item_ids],
        source="synthetic",
        user_groups=labels,
        group_names=world.class_names,
        group_noun="true archetype",
        oracle=oracle,
        posterior=posterior,
        extra={"n_classes": world.n_classes, "n_sampled_users": args.users},
    )


def load_movielens(args, parser):
    """MovieLens as implicit feedback; a malformed file stops the run with one line naming file and line."""
    from common.recsys.movielens import MovieLensFormatError, binarize, load_ratings, load_titles
    from common.recsys.recommend import ImplicitData

    def read(flag, load, path):  # a bad file is the fault of the flag that named it
        try:
            return load(path)
        except MovieLensFormatError as error:
            parser.error(f"argument {flag}: {error}")
        except OSError as error:
            parser.error(f"argument {flag}: cannot read {error.filename!r} ({error.strerror})")

    ratings = read("--ratings", load_ratings, args.ratings)
    titles = read("--titles", load_titles, args.titles) if args.titles else None
    interactions = binarize(ratings)
    if interactions.matrix.shape[0] < MIN_IMPLICIT_USERS:
        parser.error(
            f"argument --ratings: only {interactions.matrix.shape[0]} users have 5 or more ratings of 4 or 5 "
            f"stars in {args.ratings}; too few to train on some and hold out others"
        )
    ids = interactions.item_ids
    if titles is None:
        names, genres = [f"movie {i}" for i in ids], [[] for _ in ids]
    else:
        title_of = dict(zip(titles["item"], titles["title"], strict=True))
        genres_of = dict(zip(titles["item"], titles["genres"], strict=True))
        names = [title_of.get(i, f"movie {i}") for i in ids]
        genres = [genres_of.get(i, []) for i in ids]
    groups, group_names = favourite_genres(interactions.matrix, genres)
    return ImplicitData(
        interactions,
        titles=names,
        genres=genres,
        source="movielens",
        user_groups=groups,
        group_names=group_names,
        group_noun="favourite genre",
        extra={"ratings_file": args.ratings, "titles_file": args.titles, "format": ratings.attrs["format"]},
    )


def favourite_genres(matrix, genres, n_shown=7):
    """Each user's favourite genre: the one with the most liked movies beyond what the user would have
    with everyone's mix of genres (a raw count makes nearly everyone a Drama fan, a ratio favours rare
    genres liked once). The n_shown most common favourites keep their names, the rest are "other".
    Returns (group of each user (n,), group names)."""
    from scipy import sparse

    names = sorted({g for item_genres in genres for g in item_genres})
    if not names:
        return np.zeros(matrix.shape[0], dtype=int), ["unknown (no titles file)"]
    rows = [i for i, item_genres in enumerate(genres) for _ in item_genres]
    columns = [names.index(g) for item_genres in genres for g in item_genres]
    membership = sparse.csr_array((np.ones(len(rows)), (rows, columns)), shape=(len(genres), len(names)))
    counts = np.asarray((matrix @ membership).todense())  # (users, genres) liked movies of each genre
    expected = counts.sum(1, keepdims=True) * counts.sum(0) / counts.sum()  # with everyone's mix
    favourite = (counts - expected).argmax(1)
    common = np.argsort(-np.bincount(favourite, minlength=len(names)), kind="stable")[:n_shown]
    group = np.full(len(favourite), len(common))
    for position, genre in enumerate(common):
        group[favourite == genre] = position
    return group, [names[g] for g in common] + (["other"] if (group == len(common)).any() else [])


def parse_args(argv=None):
    """(parser, validated args) of a command line; the mode it asks for decides the defaults."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser(*requested_mode(argv))
    args = parse(parser, argv, demo_checks=check_flags)
    if args.resume and args.likelihood == "multinomial":  # a resumed run's flags skip check_flags
        parser.error(
            f"argument --resume: {args.resume} is an implicit-feedback run, which keeps no optimizer or "
            "fold state to continue from; run it again"
        )
    return parser, args


@out_of_memory_is_an_error("movie_dlvm.py")
def main(argv=None):
    parser, args = parse_args(argv)
    if args.likelihood == "multinomial":
        from common.recsys import recommend

        rng = np.random.default_rng(args.seed)  # one stream: the world's sample, then the folds and splits
        data = load_movielens(args, parser) if args.ratings else synthetic_interactions(args, rng, parser)
        return recommend.run(data, args, parser, rng)
    return run_explicit(args, parser)


if __name__ == "__main__":
    sys.exit(main())
