"""Pictures of a run's numbers: training curves, profiles side by side, confusion matrices, model
selection, and the information each latent dimension carries about each factor."""

import numpy as np

from common.plots.scale import MIN_NATS, at_least
from common.plots.style import _pyplot, heatmap
from common.runio import save_figure


def training_curves(
    path, history, kl_term, title, truth=None, truth_of="log p(x)", bound="ELBO", weight="beta"
):  # fmt: skip
    """Per epoch: the objective (training) and the held-out bound, the reconstruction term and, for
    models with a latent prior, the KL term (`kl_term` names it; None for an autoencoder, whose objective
    is its reconstruction alone, not an ELBO, and says so); a KL weight beta != 1 makes the training
    objective no ELBO either.
    `truth` {"training rows": mean log p(x), "held-out rows": ...}, the world's exact log-likelihood
    (`truth_of` names it, or {rows: name} one per line: a cvae's bound is on log p(x, class)), draws a
    dotted line in the colour of each ELBO curve: the level a perfect model's ELBO would reach.
    The two differ (each set of rows is a sample), which is why a held-out curve can lie above the
    training one. The training line is left out when beta != 1: that curve is no ELBO. `bound` names
    what training climbs: the ELBO, or with --iw-train the K-sample bound; `weight` what weighs its KL
    (RecVAE's: gamma x the user's likes)."""
    plt, _ = _pyplot()
    epochs = [row["epoch"] for row in history]
    has_kl = kl_term is not None
    weighted = any(row["beta"] != 1 for row in history)
    fig, axes = plt.subplots(1, 3 if has_kl else 2, figsize=(13 if has_kl else 9, 4.1))
    if has_kl:
        train_label = f"training: -(recon + {weight} KL)" if weighted else f"training {bound}"
        objective, held_out = "ELBO (higher is better)", "held-out ELBO"
        if weighted and "test_elbo" not in history[0]:  # no ELBO on the panel at all
            objective = "training objective (higher is better)"
    else:
        train_label, held_out = "training rows", "held-out rows"
        objective = "log p(x | its own reconstruction)\n(an autoencoder has no ELBO; higher is better)"
    axes[0].plot(epochs, [-row["loss"] for row in history], label=train_label)
    if "test_elbo" in history[0]:
        axes[0].plot(epochs, [row["test_elbo"] for row in history], label=held_out)
    lines = {}  # the world's log p(x) beside the ELBO curve of the same rows, in its colour
    if truth and has_kl and not weighted:
        lines["training rows"] = "C0"
    if truth and has_kl and "test_elbo" in history[0]:
        lines["held-out rows"] = "C1"
    for rows, colour in lines.items():
        of = truth_of[rows] if isinstance(truth_of, dict) else truth_of  # one for all lines, or one each
        axes[0].axhline(truth[rows], color=colour, linestyle=":", label=f"world's {of}, {rows}")
    low, high = axes[0].dataLim.intervaly  # the curves and the lines; axhline adds no margin of its own
    if lines and high > low:
        axes[0].set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    _span_at_least(axes[0], [low, high], share=0.0)  # 0.1 nats at least; an ELBO of -77 keeps its 0.2 climb
    axes[0].set(title=objective, xlabel="epoch", ylabel="nats per row")
    # Below the figure, never on the curves: a third of its width leaves no free corner for up to four
    # entries, and "best" put a RecVAE run's single entry on its rising curve.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.0), ncols=2, fontsize="small")
    _terms(axes, epochs, history, kl_term)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:  # epochs are whole: a 3-epoch run showed 1.0, 1.5, 2.0 ...
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.11 if len(labels) > 2 else 0.07, 1, 1))
    save_figure(fig, path)


def _span_at_least(ax, values, share=0.05):
    """Widen a panel whose values move by less than `share` of their size, or by less than MIN_NATS, to
    that span, centred (from 0 up for values that cannot be negative, a KL): an epoch-to-epoch wobble of
    1%, or of 0.005 nats of a collapsed KL, is then drawn as the wobble it is, not as a trend."""
    span = max(share * max(abs(min(values)), abs(max(values))), MIN_NATS)
    at_least(ax, span, values=values, floor=0.0 if min(values) >= 0 else None)


def _terms(axes, epochs, history, kl_term):
    """The reconstruction term and, with a kl_term, the KL term (beside beta while it changes)."""
    axes[1].plot(epochs, [row["recon"] for row in history], color="C2")
    axes[1].set(title="reconstruction: -E[log p(x|z)], training rows", xlabel="epoch", ylabel="nats per row")
    _span_at_least(axes[1], [row["recon"] for row in history])
    if kl_term is None:
        return
    axes[2].plot(epochs, [row["kl"] for row in history], color="C3", label="KL")
    axes[2].set(title=f"{kl_term}, training rows", xlabel="epoch", ylabel="nats per row")
    _span_at_least(axes[2], [row["kl"] for row in history])
    if any(row["beta"] != history[-1]["beta"] for row in history):
        twin = axes[2].twinx()
        twin.plot(epochs, [row["beta"] for row in history], color="C7", linestyle="--", label="beta")
        twin.set_ylabel("beta, the KL weight (dashed)")
        twin.grid(False)


def profiles_side_by_side(path, left, right, row_names, feature_names, titles, value_label, fmt=".2f"):
    """Two (rows x features) heatmaps on one colour scale: e.g. the world beside the model.

    `row_names` is one list for both panels or a pair (left names, right names).
    """
    plt, _ = _pyplot()
    left_rows, right_rows = row_names if isinstance(row_names, tuple) else (row_names, row_names)
    low, high = min(left.min(), right.min()), max(left.max(), right.max())
    width = 1.2 + 0.75 * len(feature_names)
    height = 0.55 * max(len(left_rows), len(right_rows)) + 2.6
    fig, axes = plt.subplots(1, 2, figsize=(2 * width, height))
    for ax, values, rows, title in zip(axes, (left, right), (left_rows, right_rows), titles, strict=True):
        heatmap(
            ax,
            values,
            vmin=low,
            vmax=high,
            fmt=fmt,
            xticklabels=feature_names,
            yticklabels=rows,
            cbar_label=value_label,
        )
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, path)


def model_selection(path, ks, values, best_k, true_k, ylabel, errors=None, rule=None):
    """A criterion (lower is better) against the number of clusters K, with its standard errors when
    given, the chosen K (and the `rule` that chose it) and, for data with classes (true_k > 0), their
    number."""
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    ax.errorbar(ks, values, yerr=errors, marker="o", capsize=3, label=ylabel)
    if true_k:
        ax.axvline(true_k, color="C2", linestyle="--", label=f"true number of classes ({true_k})")
    ax.plot(
        [best_k],
        [values[ks.index(best_k)]],
        marker="*",
        markersize=16,
        color="C3",
        linestyle="",
        label=f"chosen K = {best_k}",
    )
    title = "Choosing the number of clusters" + (f"\n{rule}" if rule else "")
    ax.set(title=title, xlabel="number of clusters K", ylabel=ylabel, xticks=ks)
    ax.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


def confusion_matrices(path, panels, class_names, class_noun="class", xlabel=None):
    """Row-normalised confusion matrices, e.g. {"VAE latent clusters": (true, pred), "Bayes": ...}."""
    from sklearn.metrics import confusion_matrix

    plt, _ = _pyplot()
    k = len(class_names)
    width = max(4.6, 2.2 + 0.6 * k)  # per panel: room for k annotated cells side by side
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1.6 + width * len(panels), 0.45 * k + 3.4), squeeze=False
    )
    for ax, (title, (true, pred)) in zip(axes[0], panels.items(), strict=True):
        counts = confusion_matrix(true, pred, labels=range(k))  # rows with unmatched clusters (-1) drop out
        share = counts / np.maximum(np.bincount(true, minlength=k), 1)[:, None]
        heatmap(
            ax,
            share,
            vmin=0,
            vmax=1,
            fmt=".2f",
            fontsize=9,
            xticklabels=class_names,
            yticklabels=class_names,
            cbar_label="share of the true class",
        )
        accuracy = np.mean(true == pred)
        article = "an" if class_noun[:1] in "aeiou" else "a"
        ax.set(
            title=f"{title}\naccuracy {accuracy:.1%}",
            xlabel=xlabel or f"recovered cluster, matched to {article} {class_noun}",
            ylabel=f"true {class_noun}",
        )
        ax.tick_params(axis="y", rotation=0)  # long class names stay readable, one per row
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, path)


def factor_heatmaps(path, gains, mi, mig, by_cluster=False):
    """Left: information gain of each latent dimension about each factor (how much shifting it moves
    the world's reading of the output). Right: normalised mutual information with the true factors.
    gains and mi are {factor: one number per latent dimension}; an empty one leaves its panel out
    (your own table has no world to read outputs with, and without labels no true factor).
    by_cluster: a model with clusters, whose shifted codes are decoded by the cluster densest at the
    shifted point, and whose codes' spread is mostly between clusters; a caption says so, as
    traversals.png sweeps within one cluster and can show what these scores do not."""
    plt, _ = _pyplot()
    switch = "\n(decoded by the cluster densest there:\na shift may change the cluster)" if by_cluster else ""
    panels = [
        (
            gains,
            {"fmt": ".3f", "fontsize": 11, "cbar_label": "nats"},
            "Magnitude of change: each held-out code shifted\nby \u00b11 along z_i and decoded; "
            f"KL(shifted || original)\nof the world's reading of the decoded row{switch}",
            "factor read off the decoded output",
        ),
        (
            mi,
            {"fmt": ".2f", "fontsize": 11, "vmin": 0, "vmax": 1, "cbar_label": "I(z_i; f) / H(f)"},
            "Mutual information of z_i (held-out codes"
            + (", all clusters together" if by_cluster else "")
            + ")\nwith the true factors"
            + (f"; MIG = {mig:.2f} (1 = one dimension per factor)" if mig is not None else ""),
            "true factor of the held-out rows",
        ),
    ]
    panels = [panel for panel in panels if panel[0]]
    if not panels:
        return
    latent_dim = len(next(iter(panels[0][0].values())))
    dims = [f"z{i + 1}" for i in range(latent_dim)]
    n_columns = sum(len(values) for values, *_ in panels)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(2 + 2 * len(panels) + 1.4 * n_columns, 0.45 * len(dims) + 2.8), squeeze=False
    )
    for ax, (values, style, title, xlabel) in zip(axes[0], panels, strict=True):
        heatmap(
            ax,
            np.array(list(values.values())).T,  # (Z, factors)
            xticklabels=list(values),
            yticklabels=dims,
            **style,
        )
        ax.set(title=title, xlabel=xlabel, ylabel="latent dimension")
    if by_cluster:
        fig.text(0.5, -0.02, CROSS_CLUSTER_NOTE, ha="center", va="top", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


# Why interpret.png can score low what traversals.png shows plainly (docs/interpret.md).
CROSS_CLUSTER_NOTE = (
    "Both scores cross the clusters; traversals.png holds each cluster fixed. A dimension that moves\n"
    "a factor within every cluster (the disease gmvae's z1: severity) can still score low here: across\n"
    "clusters its spread mostly tells the clusters apart, and a factor the rows barely reveal scores low\n"
    "even for the world's own posterior."
)
