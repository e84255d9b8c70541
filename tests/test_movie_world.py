"""The movie world against exact enumeration, direct integration, Bayes' rule and its own story."""

import json

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from common.recsys.data import posterior_scores
from movie_dlvm import GENRES, MovieWorld


@pytest.fixture(scope="module")
def world():
    return MovieWorld()


@pytest.fixture(scope="module")
def big_sample(world):
    return world.sample(20_000, np.random.default_rng(3))


def _joint_by_quad(world, x, a):
    """p(x, archetype a) written out from the story, leniency integrated by scipy.integrate.quad."""
    g, e, q = world.movie_genre, world.movie_era, world.movie_quality
    taste = world.genre_taste[a, g] + world.era_taste[a, e] + world.quality_weight[a] * q  # (I,)
    p_watch = expit(world.watch_intercept + world.watch_slope * taste)
    rated = x > 0
    watch = np.prod(np.where(rated, p_watch, 1 - p_watch))
    cuts = np.concatenate([[-np.inf], world.thresholds, [np.inf]])  # P(r = c) = F(cut_c) - F(cut_{c-1})
    r = x[rated].astype(int)

    def integrand(lenience):
        eta = taste[rated] + world.leniency_bias[a] + world.leniency_scale * lenience
        return np.prod(expit(cuts[r] - eta) - expit(cuts[r - 1] - eta)) * stats.norm.pdf(lenience)

    return world.prior[a] * watch * integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-11)[0]


def test_log_prob_sums_to_one_over_every_possible_row(tiny_movies, tiny_rows):
    assert np.exp(tiny_movies.log_prob(tiny_rows)).sum() == pytest.approx(1.0, abs=1e-10)


def test_log_joint_matches_adaptive_quadrature(world, tiny_movies, tiny_rows):
    # Tiny rows and realistic rows of the default world (about 18 ratings each).
    cases = [
        (tiny_movies, tiny_rows[[0, 7, 431, 1295]]),
        (world, world.sample(3, np.random.default_rng(9)).x),
    ]
    for w, rows in cases:
        for x, log_joint in zip(rows, w.log_joint(rows), strict=True):
            reference = [_joint_by_quad(w, x, a) for a in range(w.n_classes)]
            np.testing.assert_allclose(np.exp(log_joint), reference, rtol=1e-7)


def test_posterior_is_bayes_rule(world, tiny_movies, tiny_rows):
    posterior = tiny_movies.posterior(tiny_rows)
    np.testing.assert_allclose(posterior.sum(1), 1.0, atol=1e-12)
    for x, row in zip(tiny_rows[[3, 500]], posterior[[3, 500]], strict=True):
        joint = np.array([_joint_by_quad(tiny_movies, x, a) for a in range(tiny_movies.n_classes)])
        np.testing.assert_allclose(row, joint / joint.sum(), rtol=1e-7)
    x = world.sample(1, np.random.default_rng(4)).x[0]
    joint = np.array([_joint_by_quad(world, x, a) for a in range(world.n_classes)])
    np.testing.assert_allclose(world.posterior(x[None])[0], joint / joint.sum(), rtol=1e-6, atol=1e-12)


def test_log_prob_agrees_with_frequencies_of_a_large_sample(tiny_movies, tiny_rows):
    x = tiny_movies.sample(200_000, np.random.default_rng(0)).x
    codes = x @ (6 ** np.arange(tiny_movies.n_features)[::-1])  # row -> index into tiny_rows (base-6 digits)
    observed = np.bincount(codes.astype(int), minlength=len(tiny_rows))
    expected = np.exp(tiny_movies.log_prob(tiny_rows)) * len(x)
    common = expected > 20  # a chi-square test needs enough expected counts per cell
    assert common.sum() > 50
    statistic = ((observed[common] - expected[common]) ** 2 / expected[common]).sum()
    assert stats.chi2.sf(statistic, df=common.sum() - 1) > 1e-3


def test_users_rate_a_minority_of_movies(world, big_sample):
    rated = big_sample.x > 0  # (n, I)
    assert 0.05 < rated.mean() < 0.20
    assert rated.sum(1).min() >= 1 and rated.sum(1).max() < world.n_features / 2
    assert set(np.unique(big_sample.x)) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert big_sample.x.dtype == np.float32 and big_sample.x.shape == (20_000, 160)


def test_archetypes_watch_and_rate_their_favourite_genre_most(world, big_sample):
    x, labels = big_sample.x, big_sample.labels
    favourites = {"action fan": "Action", "romantic": "Romance", "family": "Animation"}
    favourites |= {"horror buff": "Horror", "sci-fi geek": "Sci-Fi"}
    for archetype, genre in favourites.items():
        users = x[labels == world.class_names.index(archetype)]  # (n_a, I)
        watch_rate = [(users[:, world.movie_genre == g] > 0).mean() for g in range(len(GENRES))]
        mean_rating = [
            users[:, world.movie_genre == g][users[:, world.movie_genre == g] > 0].mean() for g in range(8)
        ]
        assert GENRES[np.argmax(watch_rate)] == genre, archetype
        assert GENRES[np.argmax(mean_rating)] == genre, archetype
    # The cinephile prefers classics and is the harshest rater; the family is the most generous.
    cinephile = x[labels == world.class_names.index("cinephile")]
    classic, modern = (world.movie_era == world.era_names.index(e) for e in ("classic", "modern"))
    assert (cinephile[:, classic] > 0).mean() > (cinephile[:, modern] > 0).mean()
    mean_by_archetype = [x[labels == a][x[labels == a] > 0].mean() for a in range(world.n_classes)]
    assert world.class_names[np.argmin(mean_by_archetype)] in ("cinephile", "sci-fi geek")
    assert world.class_names[np.argmax(mean_by_archetype)] == "family"


def test_sample_has_the_audience_shares_and_leniency(world, big_sample):
    shares = np.bincount(big_sample.labels, minlength=world.n_classes) / len(big_sample)
    np.testing.assert_allclose(shares, world.prior, atol=0.01)
    assert set(big_sample.factors) == set(world.factor_names) == {"leniency"}
    assert abs(big_sample.factors["leniency"].std() - 1) < 0.03


def test_expected_ratings_and_preference_match_the_sample(world, big_sample):
    x, labels, leniency = big_sample.x, big_sample.labels, big_sample.factors["leniency"]
    probabilities = world.rating_probabilities(labels[:5], leniency[:5])  # (5, I, 5)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        world.expected_ratings(labels[:5], leniency[:5]), probabilities @ np.arange(1, 6), atol=1e-12
    )
    # Summed over users and movies, the oracle's expectations agree with what was drawn.
    p_watch = world.watch_probability(labels)  # (n, I)
    expected_total = (p_watch * world.expected_ratings(labels, leniency)).sum()
    assert x.sum() == pytest.approx(expected_total, rel=0.01)
    assert (x >= 4).sum() == pytest.approx(world.preference(labels, leniency).sum(), rel=0.01)
    assert np.all((world.preference(labels, leniency) >= 0) & (world.preference(labels, leniency) <= p_watch))


def test_bayes_posterior_recovers_most_archetypes(world, big_sample):
    accuracy = (world.posterior(big_sample.x[:5000]).argmax(1) == big_sample.labels[:5000]).mean()
    assert 0.85 < accuracy < 0.99  # informative but not trivial


def test_metadata_and_names(world):
    assert world.name == "movie" and world.class_noun == "archetype"
    assert world.n_features == 8 * 20 and len(set(world.feature_names)) == 160
    assert world.movie_genre.shape == world.movie_era.shape == world.movie_quality.shape == (160,)
    assert np.bincount(world.movie_genre).tolist() == [20] * 8
    assert len(world.class_names) >= 5 and len(world.genre_names) >= 6 and len(world.era_names) == 3
    assert world.feature_names[0].endswith(f"({world.movie_year[0]})")
    many = MovieWorld(n_per_genre=70, genres=["Horror"])  # more movies than word pairs: sequels
    assert len(set(many.feature_names)) == 70


def test_same_seed_same_world_and_sample():
    a, b = MovieWorld(seed=1), MovieWorld(seed=1)
    assert a.feature_names == b.feature_names and a.feature_names != MovieWorld(seed=2).feature_names
    np.testing.assert_array_equal(
        a.sample(50, np.random.default_rng(5)).x, b.sample(50, np.random.default_rng(5)).x
    )


def test_rejects_rows_that_are_not_ratings(tiny_movies):
    with pytest.raises(ValueError, match="integer 1..5"):
        tiny_movies.log_prob(np.array([[0, 6, 0, 0]]))
    with pytest.raises(ValueError, match="integer 1..5"):
        tiny_movies.log_prob(np.array([[0, 2.5, 0, 0]]))
    with pytest.raises(ValueError, match="4 movies"):
        tiny_movies.log_prob(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="unknown genre"):
        MovieWorld(genres=["Western"])


def test_to_dict_names_every_parameter(world):
    d = json.loads(json.dumps(world.to_dict()))  # must survive world.json
    assert d["archetypes"] == world.class_names and len(d["movies"]) == world.n_features
    assert sum(d["audience_share"].values()) == pytest.approx(1.0)
    assert d["movies"][0]["title"] == world.feature_names[0]
    for key in ("genre_taste", "era_taste", "quality_weight", "leniency_bias", "thresholds", "watch_slope"):
        assert key in d


def test_rating_probabilities_stay_positive_in_both_tails():
    from movie_dlvm import _ordinal_probabilities

    affinity = np.array([-60.0, -20.0, 0.0, 20.0, 60.0])
    p = _ordinal_probabilities(affinity, np.array([-2.2, -0.9, 0.8, 2.5]))  # (5, 5)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert np.all(p > 0)  # no log(0) even where 1 - 1e-30 rounds to 1
    # Far in the tails the logistic CDF is exp(t): P(r = 2 | eta = -60) = S(57.8) - S(59.1), and so on.
    assert p[0, 1] == pytest.approx(np.exp(-57.8) - np.exp(-59.1), rel=1e-6)
    assert p[4, 3] == pytest.approx(np.exp(-57.5) - np.exp(-59.2), rel=1e-6)


def test_log_joint_does_not_depend_on_the_batch_size(world):
    x = world.sample(50, np.random.default_rng(6)).x
    np.testing.assert_allclose(world.log_joint(x, batch_size=7), world.log_joint(x), rtol=1e-12)


def test_log_prob_ratings_is_a_distribution_over_stars_given_the_rated_set(tiny_movies, tiny_rows):
    for rated in ([0, 2], [1, 2, 3], [3]):
        pattern = (tiny_rows > 0).astype(int)
        same = (pattern == np.isin(np.arange(tiny_movies.n_features), rated)).all(
            1
        )  # every row with that rated set
        assert np.exp(tiny_movies.log_prob_ratings(tiny_rows[same])).sum() == pytest.approx(1.0, abs=1e-10)
    x = tiny_rows[[7, 431]]
    assert (tiny_movies.log_prob_ratings(x) > tiny_movies.log_prob(x)).all()  # knowing the rated set helps
    masked = MovieWorld(n_per_genre=2, genres=["Action", "Romance"], likelihood="categorical")
    np.testing.assert_array_equal(masked.reference_log_prob(x), tiny_movies.log_prob_ratings(x))
    np.testing.assert_array_equal(
        tiny_movies.reference_log_prob(x), tiny_movies.log_prob(x)
    )  # the +missing default


def test_a_decoded_row_reads_as_the_metadata_of_its_top_10_movies():
    world = MovieWorld(n_per_genre=10)  # 80 movies, 16 per quality band
    assert np.bincount(world.movie_quality_band).tolist() == [16] * 5
    action_fan = np.where(world.movie_genre == 0, 4.5, 1.5)  # the 10 Action movies on top
    by_quality = world.movie_quality  # the 10 best movies, all in the best fifth
    read = world.output_factors(np.stack([action_fan, by_quality]))
    assert set(read) == {"genre", "era", "quality"}
    # Counts over the top 10 plus 0.5 in every bin: genre (8 bins) of the Action fan's row by hand.
    np.testing.assert_allclose(read["genre"][0], np.array([10.5] + [0.5] * 7) / 14)
    eras = np.bincount(world.movie_era[world.movie_genre == 0], minlength=3)
    np.testing.assert_allclose(read["era"][0], (eras + 0.5) / 11.5)
    np.testing.assert_allclose(read["quality"][1], np.array([0.5] * 4 + [10.5]) / 12.5)
    for dist in read.values():
        np.testing.assert_allclose(dist.sum(1), 1)
        assert (dist > 0).all()


def test_feature_groups_put_every_movie_once_in_each_grouping(world):
    groups = world.feature_groups()
    assert list(groups) == ["genre", "era", "quality"] and list(groups["genre"]) == world.genre_names
    for members in groups.values():
        np.testing.assert_array_equal(np.sort(np.concatenate(list(members.values()))), np.arange(160))
    np.testing.assert_array_equal(world.movie_genre[groups["genre"]["Horror"]], 3)


def _liked(world, a, movies, lenience):
    """P(watch and rate 4+ | archetype a, leniency) of `movies`, written out from the story, (M,)."""
    g, e, q = world.movie_genre[movies], world.movie_era[movies], world.movie_quality[movies]
    taste = world.genre_taste[a, g] + world.era_taste[a, e] + world.quality_weight[a] * q
    eta = taste + world.leniency_bias[a] + world.leniency_scale * lenience
    return expit(world.watch_intercept + world.watch_slope * taste) * expit(eta - world.thresholds[2])


def _held_back_by_quad(world, shown, movies, share):
    """P(movie j is a liked movie held back | shown), archetype summed, leniency by scipy's quad."""

    def weight(lenience, a):  # prior x N(lenience) x p(shown | archetype, lenience)
        p = share * _liked(world, a, movies, lenience)
        return world.prior[a] * stats.norm.pdf(lenience) * np.prod(np.where(shown > 0, p, 1 - p))

    def held_back(lenience, a, j):
        p = _liked(world, a, movies, lenience)[j]
        return (1 - share) * p / (1 - share * p) * weight(lenience, a)

    def quad(f, *args):
        return integrate.quad(f, -np.inf, np.inf, args=args, epsabs=0, epsrel=1e-10)[0]

    archetypes = range(world.n_classes)
    evidence = sum(quad(weight, a) for a in archetypes)
    return np.array([sum(quad(held_back, a, j) for a in archetypes) for j in range(len(movies))]) / evidence


def test_the_posterior_ranking_matches_adaptive_quadrature(tiny_movies):
    movies, shown = np.array([0, 2, 3]), np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    scores = posterior_scores(tiny_movies, shown, movies, 0.8)
    for row, expected in zip(shown, scores, strict=True):
        np.testing.assert_allclose(expected, _held_back_by_quad(tiny_movies, row, movies, 0.8), rtol=1e-6)


def test_liked_posterior_ranks_the_genre_a_user_was_shown(world):
    """A user shown five liked horror movies gets unshown horror movies ranked first."""
    horror = np.flatnonzero(world.movie_genre == world.genre_names.index("Horror"))
    shown = np.zeros((1, world.n_features))
    shown[0, horror[:5]] = 1
    scores = posterior_scores(world, shown, np.arange(world.n_features), 0.8)[0]
    scores[horror[:5]] = -np.inf  # a recommender never ranks what it was shown
    top = np.argsort(-scores)[:10]
    assert (world.movie_genre[top] == world.genre_names.index("Horror")).sum() >= 8
