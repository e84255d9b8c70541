"""What a recommender run learns from: users x items of implicit feedback, and what is known about them.

A synthetic world builds ImplicitData with its truth (the oracle's scores, the world's own ranking);
MovieLens files have none, and those numbers are then absent, not faked.
"""

from dataclasses import dataclass, field

import numpy as np

from common.cli import UsageError

MIN_USERS = 10  # users with 5 or more likes a run needs, to train on some and hold out others


@dataclass
class ImplicitData:
    """What a run needs to know about its users and items, whatever the source."""

    interactions: object  # movielens.Interactions: csr (users, items) of 1 = liked, original ids
    titles: list  # (n_items,) title of each column
    genres: list  # (n_items,) list of genre names of each column ([] when unknown)
    source: str  # "synthetic" or "movielens"
    user_groups: np.ndarray  # (n_users,) index into group_names: the colour of each user in latent.png
    group_names: list
    group_noun: str  # "true archetype", "favourite genre"
    oracle: object = None  # oracle(users, items) -> (len(users), len(items)) true preference scores
    # posterior(fold_in, items) -> scores (b, len(items)): the world's own ranking from what a model sees
    posterior: object = None
    extra: dict = field(default_factory=dict)  # more numbers for metrics.json "data"


def load_movielens(ratings_path, titles_path=None):
    """MovieLens files as implicit feedback (4 or 5 stars = liked); a malformed file is a UsageError
    naming the file and the line."""
    from common.recsys.movielens import MovieLensFormatError, binarize, load_ratings, load_titles

    def read(flag, load, path):  # a bad file is the fault of the flag that named it
        try:
            return load(path)
        except MovieLensFormatError as error:
            raise UsageError(flag, str(error)) from None
        except OSError as error:
            raise UsageError(flag, f"cannot read {error.filename!r} ({error.strerror})") from None

    ratings = read("--ratings", load_ratings, ratings_path)
    titles = read("--titles", load_titles, titles_path) if titles_path else None
    interactions = binarize(ratings)
    if interactions.matrix.shape[0] < MIN_USERS:
        raise UsageError(
            "--ratings",
            f"only {interactions.matrix.shape[0]} users have 5 or more ratings of 4 or 5 stars in "
            f"{ratings_path}; too few to train on some and hold out others",
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
        extra={"ratings_file": ratings_path, "titles_file": titles_path, "format": ratings.attrs["format"]},
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


def from_world(world, sample, item_groups, n_sampled, flag="--users"):
    """A synthetic world's users as implicit feedback (4 or 5 stars = liked, users with 5 likes or more),
    with its truth: the oracle's scores, world.preference(labels, **factors) (P(watch and like) knowing
    the user), and the world's own ranking from what a model is shown (posterior_scores).
    item_groups (I,): each item's list of genres. Too few users with 5 likes: UsageError naming `flag`."""
    import pandas as pd

    from common.recsys.movielens import FOLD_IN, binarize

    users, items = np.nonzero(sample.x)
    interactions = binarize(pd.DataFrame({"user": users, "item": items, "rating": sample.x[users, items]}))
    kept = interactions.user_ids
    if len(kept) < MIN_USERS:  # a small catalogue: few users like 5 of its items
        raise UsageError(
            flag,
            f"only {len(kept)} of the {n_sampled} users like 5 or more of its {world.n_features} items "
            f"(4 or 5 stars), and the implicit mode needs {MIN_USERS} such users to train on some and hold "
            f"out others; raise {flag}",
        )
    labels, factors = sample.labels[kept], {name: values[kept] for name, values in sample.factors.items()}

    def oracle(rows, columns):  # the world's true preference of these users for these items
        return world.preference(labels[rows], **{k: v[rows] for k, v in factors.items()})[
            :, interactions.item_ids[columns]
        ]

    def posterior(fold_in, columns):  # the world's ranking from the liked items a model is shown
        return posterior_scores(world, fold_in.toarray(), interactions.item_ids[columns], FOLD_IN)

    return ImplicitData(
        interactions,
        titles=[world.feature_names[i] for i in interactions.item_ids],
        genres=[item_groups[i] for i in interactions.item_ids],
        source="synthetic",
        user_groups=labels,
        group_names=world.class_names,
        group_noun=f"true {world.class_noun}",
        oracle=oracle,
        posterior=posterior,
        extra={"n_classes": world.n_classes, "n_sampled_users": n_sampled},
    )


def posterior_scores(world, shown, items, shown_share):
    """A synthetic world's own ranking from what a recommender is shown, (b, len(items)).

    `shown` (b, len(items)) marks the liked items folded in; each liked item is taken to be shown with
    probability s = `shown_share`, independently (the fold-in keeps 80% of them). With p = P(likes the
    item | hypothesis) (world.preference), an item is shown with probability s p, and an unshown one is a
    held-back like with probability (1 - s) p / (1 - s p). Its score is that probability averaged over the
    posterior of the user's hidden variables (world.grid(): every hypothesis and its prior weight) given
    `shown`: what a model that knew the world but not the user could rank by, and a fairer ceiling than
    the oracle, which knows the user.
    """
    from scipy.special import softmax

    labels, factors, log_prior = world.grid()  # (H,) each
    p = world.preference(labels, **factors)[:, items]  # (H, M)
    p_shown = shown_share * p
    shown = np.asarray(shown, dtype=np.float64)
    log_lik = shown @ np.log(p_shown).T + (1 - shown) @ np.log1p(-p_shown).T  # (b, H)
    posterior = softmax(log_lik + log_prior, axis=1)
    return posterior @ ((p - p_shown) / (1 - p_shown))  # (1 - s) p / (1 - s p)
