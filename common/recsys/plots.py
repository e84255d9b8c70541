"""Pictures of a recommender's rankings: held-out NDCG per epoch and fold, Recall@K curves."""

from common.plots.style import _pyplot
from common.runio import save_figure


def ranking_history(path, history, metric="ndcg@100"):
    """A held-out ranking metric after every epoch, one line per fold, with the KL weight beta beside it."""
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    folds = sorted({row["fold"] for row in history})
    for fold in folds:
        rows = [row for row in history if row["fold"] == fold]
        label = f"fold {fold}" if len(folds) > 1 else "held-out users"
        ax.plot([r["epoch"] for r in rows], [r[metric] for r in rows], label=label)
    ax.set(
        title=f"{metric.upper()} of held-out users after each epoch\n(ranked from 80% of their items, "
        "scored on the other 20%; shown, not used to pick a model)",
        xlabel="epoch",
        ylabel=metric.upper(),
    )
    first = [row for row in history if row["fold"] == folds[0]]
    if any(row["beta"] != first[-1]["beta"] for row in first):
        twin = ax.twinx()
        twin.plot([r["epoch"] for r in first], [r["beta"] for r in first], color="0.5", linestyle="--")
        twin.set_ylabel("KL weight beta (dashed)")
        twin.grid(False)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best")  # "lower right" sat on a flat curve (the Mult-GMVAE's)
    fig.tight_layout()
    save_figure(fig, path)


def recall_curves(path, ks, curves, n_folds=1):
    """Recall@K against K for every method {label: (len(ks),)}, one line each."""
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    styles = ["-", "--", "-.", ":", (0, (5, 1))]
    for (label, curve), style in zip(curves.items(), styles * len(curves), strict=False):
        ax.plot(ks, curve, linestyle=style, linewidth=2, label=label)
    folds = f", mean over {n_folds} folds" if n_folds > 1 else ""
    ax.set(
        title=f"Recall@K of held-out users' hidden 20%{folds}\n"
        "(hits in the top K / min(K, number hidden), as Liang et al. 2018)",
        xlabel="K (length of the recommendation list)",
        ylabel="Recall@K",
        xlim=(1, ks[-1]),
        ylim=(0, 1),
    )
    ax.legend(title="ranked by")
    fig.tight_layout()
    save_figure(fig, path)
