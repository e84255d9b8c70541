"""What a recommender run shows: recommendations.csv, its figures, the rows of --save-data, the summary."""

import numpy as np

from common.recsys.movielens import FOLD_IN
from common.recsys.scoring import CURVE_KS, METRICS, TOP_N, embed

# How the methods are named in the summary and in recall_curve.png.
LABELS = {
    "popularity": "popularity",
    "ease": "EASE",
    "mixture": "mixture",
    "oracle": "oracle",
    "posterior": "posterior",
}
CURVE_LABELS = LABELS | {
    "mixture": "mixture of multinomials",
    "oracle": "oracle (true preferences)",
    "posterior": "posterior (the world, from the fold-in)",
}
HISTORY_COLUMNS = ["fold", "epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "ndcg@100"]


def recommendation_rows(fold, split, outcome, data):
    """Every held-out user's top 10 by the model, with titles and whether each is one of their targets."""
    import pandas as pd

    top = outcome["results"]["model"]["top"]  # (n_heldout, 10) columns of split.items
    n, k = top.shape
    items = split.items[top]  # columns of the full matrix
    hit = np.take_along_axis(split.target.toarray() > 0, top, axis=1) if n else np.zeros((0, k), bool)
    groups = np.array(data.group_names)[data.user_groups[split.heldout_users]]
    return pd.DataFrame(
        {
            "fold": fold,
            "user": np.repeat(data.interactions.user_ids[split.heldout_users], k),
            data.group_noun.replace(" ", "_"): np.repeat(groups, k),
            "rank": np.tile(np.arange(1, k + 1), n),
            "item": data.interactions.item_ids[items].ravel(),
            "title": [data.titles[i] for i in items.ravel()],
            "genres": ["|".join(data.genres[i]) for i in items.ravel()],
            "held_out_hit": hit.ravel(),
        }
    )


def write_data(folder, data, split):
    """--save-data: the first fold's users and items, long format (one liked item per line): train.csv
    the training users' (part = train), test.csv the held-out users' (fold_in, target)."""
    import pandas as pd

    ids = data.interactions

    def long(matrix, users, part):
        coo = matrix.tocoo()
        return pd.DataFrame(
            {"user": ids.user_ids[users[coo.row]], "item": ids.item_ids[split.items[coo.col]], "part": part}
        )

    folder.write_csv("train.csv", long(split.train, split.train_users, "train"))
    held_out = [
        long(split.fold_in, split.heldout_users, "fold_in"),
        long(split.target, split.heldout_users, "target"),
    ]
    folder.write_csv("test.csv", pd.concat(held_out))


def figures(folder, data, history, per_fold, split, outcome, device, name):
    """latent.png (fold 1's users), training.png (fold 1), ranking_history.png, recall_curve.png."""
    from scipy import sparse

    from common import plots
    from common.recsys.plots import ranking_history, recall_curves

    # Every user of fold 1 through its model: training users from all their items, held-out users from
    # their fold-in items (what the model saw of them).
    model = outcome["model"]
    z = embed(model, sparse.vstack([split.train, split.fold_in]).tocsr(), device)
    groups = data.user_groups[np.concatenate([split.train_users, split.heldout_users])]
    plots.latent_scatter(
        folder.file("latent.png"),
        z,
        groups,
        data.group_names,
        f"Latent means of all users (fold 1's model), coloured by {data.group_noun}",
        legend_title=data.group_noun,
    )
    fold_1 = [row for row in history if row["fold"] == 1]
    weight = getattr(model, "kl_weight_name", "beta")  # RecVAE: gamma x the user's likes
    plots.training_curves(
        folder.file("training.png"), fold_1, model.kl_term, f"Training of {name}, fold 1", weight=weight
    )
    ranking_history(folder.file("ranking_history.png"), history)
    curves = {
        CURVE_LABELS.get(method, name): np.mean([o["results"][method]["curve"] for o in per_fold], axis=0)
        for method in per_fold[0]["results"]
    }
    recall_curves(folder.file("recall_curve.png"), CURVE_KS, curves, n_folds=len(per_fold))


def summary(metrics, recommendations, data, out, name, n_users=3):
    """The lines a person reads at the end of a run: the table of rankings, then a few users' top 10."""
    ranking, timing, sizes = metrics["ranking"], metrics["timing"], metrics["data"]
    lines = [
        f"{metrics['demo']}: {name} on {sizes['n_users']} users x {sizes['n_items']} items "
        f"({sizes['source']}), "
        f"{ranking['folds']} fold(s) of {sizes['n_heldout_per_fold']} held-out users, trained in "
        f"{timing['train_seconds']:.1f} s ({timing['total_seconds']:.1f} s in all)",
        f"  {'':<12}" + "".join(f"{m:>16}" for m in METRICS),
    ]
    rows = {name: ranking} | {LABELS[method]: values for method, values in ranking["baselines"].items()}
    rows |= {LABELS[method]: ranking[method] for method in ("oracle", "posterior") if method in ranking}
    for row_name, values in rows.items():
        if "skipped" in values:
            lines.append(f"  {row_name:<12}  {values['skipped']}")
            continue
        cells = []
        for m in METRICS:
            sd = values.get("std", {}).get(m)
            cells.append(f"{values[m]:.3f}" + (f" ± {sd:.3f}" if sd is not None else ""))
        lines.append(f"  {row_name:<12}" + "".join(f"{c:>16}" for c in cells))
    lines += example_lines(recommendations, data, n_users)
    lines.append(f"  results in {out}")
    return "\n".join(lines)


def example_lines(recommendations, data, n_users):
    """A few held-out users' top 10, after a line that says how few hits to expect: a user hides only 20%
    of their likes (about 2 in the synthetic world, where a user likes about 10 movies), so most top 10s
    hold none of them, and three users with 0 each are the common case, not a fault."""
    hits = recommendations.groupby(["fold", "user"], sort=False)["held_out_hit"].sum()
    likes = dict(zip(data.interactions.user_ids, np.diff(data.interactions.matrix.indptr), strict=True))
    lines = [
        f"  a top {TOP_N} can hit only the {1 - FOLD_IN:.0%} of a user's likes held out: {hits.mean():.2f} "
        f"hits per held-out user on average, at least one for {(hits > 0).mean():.0%} of them"
    ]
    group_column = data.group_noun.replace(" ", "_")
    for user, rows_of_user in list(recommendations.groupby("user", sort=False))[:n_users]:
        found, group = int(rows_of_user["held_out_hit"].sum()), rows_of_user[group_column].iloc[0]
        n = int(likes[user])
        hidden = int(np.floor(np.round((1 - FOLD_IN) * n, 9)))  # as strong_generalization_split holds out
        lines.append(
            f"  top {TOP_N} for held-out user {user} ({data.group_noun}: {group}; liked {n}, {hidden} held "
            f"out, {found} of those in this top {TOP_N}):"
        )
        for row in rows_of_user.itertuples():
            mark = "  <- held out" if row.held_out_hit else ""
            genres = f"  [{row.genres.replace('|', ', ')}]" if row.genres else ""
            lines.append(f"    {row.rank:>2}. {row.title}{genres}{mark}")
    return lines
