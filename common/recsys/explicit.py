"""Explicit ratings: held-out users' hidden ratings predicted from the others, and unrated items recommended.

Rows hold 0 for "not rated" and the rating (1..C) otherwise. A share of each held-out user's ratings is
hidden and predicted from the rest by the model, by baselines (the global mean, each item's mean, the
classical mixture's posterior mean) and, on a synthetic world, by the oracle that knows each user.
"""

import numpy as np

HIDDEN_FRACTION = 0.2  # share of each held-out user's ratings hidden and predicted from the rest
RECOMMENDED = 10  # unrated items recommended to each held-out user (recommendations.csv)
SHOWN_USERS = 3  # held-out users whose recommendations the summary prints


def predicted_ratings(model, x, device):
    """The model's expected rating of every item, were the user to rate it, (n, I), from rows x (a model
    with a discrete latent decodes the user under their own most likely cluster)."""
    import torch

    from common.evaluate import batched

    with torch.no_grad():
        rows = torch.as_tensor(x, dtype=torch.float32, device=device)
        return batched(model.reconstruct)(rows).cpu().numpy()


def hide_ratings(x, fraction, rng, min_ratings=5):
    """Which ratings to hide, (n, I) bool: a random floor(fraction) of each row's ratings, for users with
    at least `min_ratings` of them (the rule of the implicit fold-in split, common/recsys/movielens.py)."""
    rated = x > 0
    count = rated.sum(1)
    n_hidden = np.where(count >= min_ratings, np.floor(np.round(fraction * count, 9)), 0)  # (n,)
    keys = np.where(rated, rng.random(x.shape), np.inf)  # unrated entries sort last
    return keys.argsort(1).argsort(1) < n_hidden[:, None]


def rating_metrics(model, train, test, mixture, device, rng, oracle, item_noun="item"):
    """RMSE on hidden ratings of held-out users, predicted from their other ratings, beside the baselines
    and the `oracle`'s expected ratings of the held-out users (n, I). None when no user has enough ratings."""
    hidden = hide_ratings(test.x, HIDDEN_FRACTION, rng)
    if not hidden.any():
        return None
    fold_in = np.where(hidden, 0, test.x)
    rated = train.x > 0
    global_mean = train.x[rated].mean()
    item_mean = np.where(rated.any(0), train.x.sum(0) / np.maximum(rated.sum(0), 1), global_mean)  # (I,)
    predictions = {
        "model": predicted_ratings(model, fold_in, device),
        "global_mean": np.full(test.x.shape, global_mean),
        f"{item_noun}_mean": np.broadcast_to(item_mean, test.x.shape),
        "mixture_em": mixture.predict_proba(fold_in) @ mixture.means_,  # E over p(component | fold-in)
        "oracle": oracle,
    }
    truth = test.x[hidden]
    rmse = {name: float(np.sqrt(np.mean((p[hidden] - truth) ** 2))) for name, p in predictions.items()}
    return {
        "rmse": rmse.pop("model"),
        "oracle_rmse": rmse.pop("oracle"),
        "baselines": {name: {"rmse": value} for name, value in rmse.items()},
        "hidden_fraction": HIDDEN_FRACTION,
        "n_hidden": int(hidden.sum()),
        "n_users": int(hidden.any(1).sum()),
    }


def recommend_unrated(
    model, test, device, oracle, titles, item_groups, class_names, class_noun, n=RECOMMENDED
):
    """Each held-out user's n unrated items with the highest predicted rating, beside the `oracle`'s
    rating; all of them, best first, for a user with fewer (none for a user who rated every item).
    titles (I,), item_groups (I,): each item's name and group (a movie's genre)."""
    import pandas as pd

    from common.recsys.ranking import top_k

    predicted = predicted_ratings(model, test.x, device)
    unrated = ~(test.x > 0)
    top = top_k(np.where(unrated, predicted, -np.inf), n)  # (users, min(n, items)) columns, best first
    keep = np.take_along_axis(unrated, top, 1)  # (users, k): rated items, ranked last, are dropped
    user = np.broadcast_to(np.arange(len(top))[:, None], top.shape)[keep]  # (rows,) held-out user index
    rank = np.broadcast_to(np.arange(1, top.shape[1] + 1), top.shape)[keep]  # (rows,)
    item = top[keep]  # (rows,)
    return pd.DataFrame(
        {
            "user": user + 1,
            f"true_{class_noun}": np.array(class_names)[test.labels[user]],
            "rank": rank,
            "title": np.asarray(titles)[item],
            "genre": np.asarray(item_groups)[item],
            "predicted_rating": predicted[user, item].round(3),
            "oracle_rating": oracle[user, item].round(3),
        }
    )


def summary_lines(ratings, recommendations, class_noun, item_noun="item"):
    """The RMSE line and a few held-out users' recommendations, for a run's printed summary."""
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
        group = rows[f"true_{class_noun}"].iloc[0]
        shown = f"top {len(rows)}" if len(rows) == RECOMMENDED else f"all {len(rows)}"  # fewer unrated
        lines.append(f"  {shown} unrated {item_noun}s for held-out user {user} (true {class_noun}: {group}):")
        for row in rows.itertuples():
            lines.append(
                f"    {row.rank:>2}. {row.title:<34} {row.genre:<12} predicted {row.predicted_rating:.1f}   "
                f"oracle {row.oracle_rating:.1f}"
            )
    return lines


def parts(world, seed, item_group, group_names, group_noun, item_noun="item"):
    """What explicit ratings of a synthetic world add to a run (common.pipeline.Demo): rating prediction
    for held-out users beside the oracle, world.expected_ratings(labels, **factors), their
    recommendations (recommendations.csv, a few in the summary) and a figure of the mean rating per class
    and item group (e.g. genres.png). item_group (I,): each item's group, an index into group_names."""
    from common.pipeline import Demo

    report = {}

    def oracle(test):  # each held-out user's expected rating of every item, knowing the user
        return world.expected_ratings(test.labels, **test.factors)

    def metrics(folder, model, train, test, mixture, device):
        rng = np.random.default_rng([seed, 1])  # its own stream: the same hidden ratings for every model
        expected = oracle(test)
        report["ratings"] = rating_metrics(model, train, test, mixture, device, rng, expected, item_noun)
        groups = np.asarray(group_names)[item_group]
        report["recommendations"] = recommend_unrated(
            model,
            test,
            device,
            expected,
            world.feature_names,
            groups,
            world.class_names,
            world.class_noun,
        )
        folder.write_csv("recommendations.csv", report["recommendations"])
        return {} if report["ratings"] is None else {"ratings": report["ratings"]}

    def figures(folder, *, draw, world, model, test, device):
        from common import plots

        def by_class_and_group(expected):  # (n, I) -> (K, G); NaN (a blank cell) without such users
            per_user = np.stack([expected[:, item_group == g].mean(1) for g in range(len(group_names))], 1)
            sums = np.zeros((world.n_classes, per_user.shape[1]))
            np.add.at(sums, test.labels, per_user)
            counts = np.bincount(test.labels, minlength=world.n_classes)[:, None]  # (K, 1)
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

        draw(
            plots.profiles_side_by_side,
            folder.file(f"{group_noun}s.png"),
            by_class_and_group(oracle(test)),
            by_class_and_group(predicted_ratings(model, test.x, device)),
            world.class_names,
            group_names,
            (
                f"the world: expected rating, by true {world.class_noun}",
                f"the model ({model.kind}): predicted rating from the user's row",
            ),
            f"mean rating, were the {item_noun} rated (1-5)",
            fmt=".1f",
        )

    def summary(metrics):
        return summary_lines(report["ratings"], report["recommendations"], world.class_noun, item_noun)

    return Demo(figures=figures, metrics=metrics, summary=summary)
