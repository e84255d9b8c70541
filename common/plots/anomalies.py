"""anomalies.png (--anomalies): how the model scores normal and injected rows, and each scorer's ROC curve."""

import numpy as np

from common.anomalies import SCORERS
from common.plots.style import CLASS_COLORS, _pyplot
from common.runio import save_figure

NORMAL, INJECTED = CLASS_COLORS[1], CLASS_COLORS[4]  # sky blue and vermilion (Okabe-Ito)
LINE_STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]  # told apart without colour too


def anomaly_scores(path, injected, score, score_label, rankings, aucs, title):
    """Left: histograms of `score` (n,) (the model's log p(x)) for normal and `injected` (n,) rows, on
    shared bins, each normalised to its own area so that the few injected rows show. Right: the ROC
    curve of each scorer's `rankings` {label: (n,) anomaly ranking, higher = more anomalous}, with its
    ROC AUC {label: auc} in the legend, and chance as a diagonal."""
    from sklearn.metrics import roc_curve

    plt, _ = _pyplot()
    injected = np.asarray(injected, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    finite = np.isfinite(score)
    edges = np.histogram_bin_edges(score[finite], bins=40)
    for rows, colour, name in ((~injected, NORMAL, "normal"), (injected, INJECTED, "injected")):
        values = score[rows & finite]
        left.hist(values, bins=edges, density=True, color=colour, alpha=0.5, label=f"{name} ({len(values)})")
        left.hist(values, bins=edges, density=True, color=colour, histtype="step", linewidth=1.5)
    left.set(
        title="how the model scores each row\n(lower = more anomalous)",
        xlabel=score_label,
        ylabel="density (each group's area is 1)",
    )
    left.legend(title="held-out rows", fontsize="small")
    known = list(SCORERS.values())  # each scorer keeps its colour and line whichever others are drawn
    for i, (label, ranking) in enumerate(rankings.items()):
        i = known.index(label) if label in known else i
        fpr, tpr, _ = roc_curve(injected, ranking)
        right.plot(
            fpr, tpr, color=CLASS_COLORS[[0, 3, 2, 5, 6][i % 5]], linestyle=LINE_STYLES[i % 5], linewidth=1.8,
            label=f"{label}: AUC {aucs[label]:.3f}",
        )  # fmt: skip
    right.plot([0, 1], [0, 1], color="0.6", linewidth=1, linestyle=":", label="chance: AUC 0.5")
    right.set(
        title="ROC curve of each score",
        xlabel="share of normal rows flagged (false positive rate)",
        ylabel="share of injected rows found\n(true positive rate)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    right.legend(loc="lower right", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
