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
"""

import math

import numpy as np

from common.world import Sample, World

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Documentary"]
ERAS = ["classic", "80s-90s", "modern"]
ERA_YEARS = {"classic": (1940, 1979), "80s-90s": (1980, 1999), "modern": (2000, 2023)}
ARCHETYPES = ["action fan", "romantic", "cinephile", "family", "horror buff", "sci-fi geek"]
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
    likelihood = "ordinal"  # 0 = missing, 1..5 = rating; the model's head for it comes with the demo
    class_names = ARCHETYPES
    factor_names = ["leniency"]
    class_noun = "archetype"
    value_label = "rating (1-5)"
    genre_names = GENRES
    era_names = ERAS

    def __init__(self, n_per_genre=20, genres=None, seed=0, quadrature_nodes=48):
        """`genres` picks a subset of GENRES (by name) for small worlds; `seed` fixes the catalogue
        (eras, years, qualities, titles), so the same arguments always give the same world."""
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

    def sample(self, n, rng):
        labels = rng.choice(self.n_classes, size=n, p=self.prior)  # (n,)
        leniency = rng.standard_normal(n)  # (n,)
        watched = rng.random((n, self.n_movies)) < self.watch_probability(labels)  # (n, I)
        cumulative = np.cumsum(self.rating_probabilities(labels, leniency), axis=-1)  # (n, I, 5)
        # Inverse-CDF draw: the rating is 1 + the number of cumulative probabilities below u.
        u = rng.random((n, self.n_movies, 1))
        ratings = 1 + (u > cumulative[..., :-1]).sum(-1)  # (n, I) in 1..5
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
        from scipy.special import log_expit, logsumexp

        codes = self._check(x)  # (n, I)
        n_classes, q = self.n_classes, len(self.nodes)
        archetypes = np.arange(n_classes)
        watch_logit = self.watch_intercept + self.watch_slope * self.taste(archetypes)  # (A, I)
        # Rating log-likelihood at every (archetype, node) pair: one-hot ratings times log P(r = c).
        pairs = np.repeat(archetypes, q)  # (A*Q,)
        log_p = np.log(self.rating_probabilities(pairs, np.tile(self.nodes, n_classes)))  # (A*Q, I, 5)
        log_p = log_p.reshape(n_classes * q, -1).T  # (I*5, A*Q)
        out = np.empty((len(codes), n_classes))
        for start in range(0, len(codes), batch_size):  # blocks keep the one-hot matrix small
            block = codes[start : start + batch_size]  # (b, I)
            watched = (block > 0).astype(np.float64)
            log_watch = (
                watched @ log_expit(watch_logit).T + (1 - watched) @ log_expit(-watch_logit).T
            )  # (b, A)
            one_hot = (block[:, :, None] == np.arange(1, N_RATINGS + 1)).reshape(len(block), -1)  # (b, I*5)
            log_rating = (one_hot @ log_p).reshape(len(block), n_classes, q) + self.log_node_weights
            out[start : start + batch_size] = log_watch + logsumexp(log_rating, axis=2)  # (b, A)
        return np.log(self.prior) + out

    def log_prob(self, x):
        from scipy.special import logsumexp

        return logsumexp(self.log_joint(x), axis=1)

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
