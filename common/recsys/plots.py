"""Pictures of a recommender's rankings: held-out NDCG per epoch and fold, Recall@K curves."""

from common.plots.scale import at_least
from common.plots.style import _pyplot
from common.runio import save_figure

# The narrowest NDCG range drawn: epoch-to-epoch noise of a few thousandths is not stretched into a trend.
MIN_NDCG_SPAN = 0.05


def ranking_history(path, history, metric="ndcg@100"):
    """A held-out ranking metric after every epoch, one line per fold, with the KL weight beta beside it;
    the legend below the panel, off the curves."""
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
    at_least(ax, MIN_NDCG_SPAN, values=[row[metric] for row in history], floor=0.0)
    handles, labels = ax.get_legend_handles_labels()
    first = [row for row in history if row["fold"] == folds[0]]
    if any(row["beta"] != first[-1]["beta"] for row in first):
        twin = ax.twinx()
        (beta,) = twin.plot(
            [r["epoch"] for r in first], [r["beta"] for r in first], color="0.5", linestyle="--",
            label="KL weight beta (right axis)",
        )  # fmt: skip
        twin.set_ylabel("KL weight beta (dashed)")
        twin.grid(False)
        handles, labels = [*handles, beta], [*labels, beta.get_label()]
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Below the panel: inside it, any corner sat on some curve (a flat Mult-GMVAE curve, the beta ramp).
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(labels), 4),
              frameon=False)  # fmt: skip
    fig.tight_layout()
    save_figure(fig, path)


def recall_curves(path, ks, curves, n_folds=1):
    """Recall@K against K for every method {label: (len(ks),)}, one line each; the legend beside the
    panel, off the curves."""
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.6))  # the panel keeps 7 inches beside its legend
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
    ax.legend(title="ranked by", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
