"""Figures every demo shares. Matplotlib (Agg) and seaborn are imported only when a figure is drawn.

Colours: the Okabe-Ito palette for classes, viridis for heatmaps (both readable with the common
colour-vision deficiencies). Every axis carries the world's own names.
"""

import numpy as np

from common.runio import save_figure

HEATMAP = "viridis"
# Okabe and Ito (2008), "Color Universal Design": eight colours told apart with any common colour-vision
# deficiency, with their yellow (#F0E442), all but invisible as small dots on white (MovieLens' eighth
# group), replaced by a mid grey. (seaborn's "colorblind" has three orange-browns.)
CLASS_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#999999"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    return plt, sns


def class_colors(n):
    """n class colours: Okabe-Ito, then evenly spaced hues when a plot needs more than eight."""
    _, sns = _pyplot()
    return sns.color_palette(CLASS_COLORS[:n]) + (sns.color_palette("husl", n - 8) if n > 8 else [])


def heatmap(
    ax, values, *, xticklabels, yticklabels, vmin=None, vmax=None, fmt=None, fontsize=8, cbar_label=None
):
    """seaborn.heatmap's look drawn with imshow: cells on viridis, row 0 on top, a colour bar, and with
    `fmt` each value written in its cell in dark or white ink, whichever reads on the cell (seaborn's
    rule: relative luminance above 0.408). seaborn.heatmap draws the whole figure at every call to
    check its tick labels for overlap: a third of a two-panel annotated figure's time.
    yticklabels=False leaves the rows unlabelled; cbar_label=None draws no colour bar."""
    from seaborn.utils import relative_luminance

    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, aspect="auto", cmap=HEATMAP, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.grid(False)
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)
    ax.set_xticks(range(values.shape[1]), xticklabels)
    ax.set_yticks(range(values.shape[0]) if yticklabels is not False else [], yticklabels or [])
    if cbar_label is not None:
        colorbar = ax.figure.colorbar(image, ax=ax, label=cbar_label)
        colorbar.outline.set_linewidth(0)
    if fmt is not None:
        colours = image.cmap(image.norm(values))
        for (row, column), value in np.ndenumerate(values):
            if np.isfinite(value):
                ink = ".15" if relative_luminance(colours[row, column]) > 0.408 else "w"
                ax.text(
                    column, row, format(value, fmt), ha="center", va="center", color=ink, fontsize=fontsize
                )
    return image


def _projection(z):
    """Points in 2-D and a function projecting a Gaussian (mean, diagonal variance) the same way."""
    if z.shape[1] == 1:
        points = np.column_stack([z[:, 0], np.zeros(len(z))])
        return points, ("z1", ""), lambda m, v: (np.array([m[0], 0.0]), np.diag([v[0], 1e-6]))
    if z.shape[1] == 2:
        return z, ("z1", "z2"), lambda m, v: (m, np.diag(v))
    from sklearn.decomposition import PCA

    pca = PCA(2).fit(z)
    share = pca.explained_variance_ratio_
    basis = pca.components_  # (2, Z)
    return (
        pca.transform(z),
        (f"PC1 of z ({share[0]:.0%} of variance)", f"PC2 of z ({share[1]:.0%})"),
        lambda m, v: (pca.transform(m[None])[0], basis @ np.diag(v) @ basis.T),
    )


def latent_scatter(path, z, labels, class_names, title, legend_title="true class", max_points=4000):
    """Latent codes of held-out rows coloured by their class.

    Rows with identical features (common in binary data) share one code, so each distinct
    (code, class) pair is drawn once with its area proportional to the number of rows.
    """
    plt, _ = _pyplot()
    points, (xlabel, ylabel), _ = _projection(z)
    keys = np.column_stack([points.round(4), labels])
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if len(first) > max_points:  # a readable number of dots
        keep = np.random.default_rng(0).permutation(len(first))[:max_points]
        first, counts = first[keep], counts[keep]
    order = np.argsort(-counts, kind="stable")  # big dots first, so small ones stay visible on top
    first, counts = first[order], counts[order]
    colors = np.array(class_colors(len(class_names)))
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    few = len(first) < 500  # a small table: bigger, solid dots
    ax.scatter(
        *points[first].T,
        s=(24 if few else 6) * counts,
        c=colors[labels[first]],
        alpha=0.85 if few else 0.55,
        edgecolors="none",
    )
    if counts.max() > 1:
        title += "\n(dot area = number of rows with that code)"
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=color, markersize=7, label=name)
        for name, color in zip(class_names, colors, strict=True)
    ]
    ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    save_figure(fig, path)


def training_curves(path, history, kl_term, title, truth=None, truth_of="log p(x)"):
    """Per epoch: the objective (training) and the held-out bound, the reconstruction term and, for
    models with a latent prior, the KL term (`kl_term` names it; None for an autoencoder, whose objective
    is its reconstruction alone, not an ELBO, and says so); a KL weight beta != 1 makes the training
    objective no ELBO either.
    `truth` {"training rows": mean log p(x), "held-out rows": ...}, the world's exact log-likelihood
    (`truth_of` names it: a cvae's bound is on log p(x, class)), draws a dotted line in the colour of
    each ELBO curve: the level a perfect model's ELBO would reach.
    The two differ (each set of rows is a sample), which is why a held-out curve can lie above the
    training one. The training line is left out when beta != 1: that curve is no ELBO."""
    plt, _ = _pyplot()
    epochs = [row["epoch"] for row in history]
    has_kl = kl_term is not None
    weighted = any(row["beta"] != 1 for row in history)
    fig, axes = plt.subplots(1, 3 if has_kl else 2, figsize=(13 if has_kl else 9, 4.1))
    if has_kl:
        train_label = "training: -(recon + beta KL)" if weighted else "training ELBO"
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
        axes[0].axhline(truth[rows], color=colour, linestyle=":", label=f"world's {truth_of}, {rows}")
    low, high = axes[0].dataLim.intervaly  # the curves and the lines; axhline adds no margin of its own
    if lines and high > low:
        axes[0].set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    axes[0].set(title=objective, xlabel="epoch", ylabel="nats per row")
    if lines:  # four entries do not fit beside the curves of a third of the figure: below it
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.0), ncols=2, fontsize="small")
    else:
        axes[0].legend(fontsize="small")
    axes[1].plot(epochs, [row["recon"] for row in history], color="C2")
    axes[1].set(title="reconstruction: -E[log p(x|z)], training rows", xlabel="epoch", ylabel="nats per row")
    if has_kl:
        axes[2].plot(epochs, [row["kl"] for row in history], color="C3", label="KL")
        axes[2].set(title=f"{kl_term}, training rows", xlabel="epoch")
        axes[2].set_ylabel("nats per row")
        if any(row["beta"] != history[-1]["beta"] for row in history):
            twin = axes[2].twinx()
            twin.plot(epochs, [row["beta"] for row in history], color="C7", linestyle="--", label="beta")
            twin.set_ylabel("beta, the KL weight (dashed)")
            twin.grid(False)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:  # epochs are whole: a 3-epoch run showed 1.0, 1.5, 2.0 ...
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.11 if lines else 0, 1, 1))
    save_figure(fig, path)


def plane_points(bounds=(-3.0, 3.0), steps=61):
    """The (steps^2, 2) latent points decoded_map draws: a square grid over bounds (low, high), row by row."""
    grid = np.linspace(bounds[0], bounds[1], steps)
    z1, z2 = np.meshgrid(grid, grid)
    return np.column_stack([z1.ravel(), z2.ravel()])


def decoded_map(path, values, feature_names, feature_label, bounds=(-3.0, 3.0), note=None):
    """Expected value of each feature over the 2-D latent plane, one small map per feature.

    `values` (steps^2, D): the decoded features at plane_points(bounds, steps).
    """
    plt, _ = _pyplot()
    low_z, high_z = bounds
    steps = round(len(values) ** 0.5)
    n_rows = -(-len(feature_names) // 6)  # at most 6 maps per row, rows as even as possible
    n_cols = -(-len(feature_names) // n_rows)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(2.6 * n_cols, 2.5 * n_rows + 0.6), squeeze=False, sharex=True, sharey=True
    )
    low, high = float(values.min()), float(values.max())
    for j, ax in enumerate(axes.flat):
        if j >= len(feature_names):
            ax.axis("off")
            continue
        image = ax.imshow(
            values[:, j].reshape(steps, steps),
            origin="lower",
            extent=(low_z, high_z, low_z, high_z),
            cmap=HEATMAP,
            vmin=low,
            vmax=high,
        )
        ax.set_title(feature_names[j], fontsize=10)
        ax.grid(False)
    for ax in axes[-1]:
        ax.set_xlabel("z1")
    for ax in axes[:, 0]:
        ax.set_ylabel("z2")
    fig.suptitle(f"Decoded {feature_label} across the latent plane" + (f"\n{note}" if note else ""), y=1.02)
    fig.colorbar(image, ax=axes, shrink=0.8, label=feature_label)
    save_figure(fig, path)


def traversal_points(latent_dim, z_range=3.0, steps=13):
    """(latent_dim, steps, latent_dim): sweep i moves dimension i over [-z_range, z_range], others at 0."""
    points = np.zeros((latent_dim, steps, latent_dim))
    for i in range(latent_dim):
        points[i, :, i] = np.linspace(-z_range, z_range, steps)
    return points


def traversal_heatmaps(path, values, feature_names, feature_label, z_range=3.0):
    """For each latent dimension, its sweep over [-z_range, z_range] with the others at 0.

    `values` (latent_dim, steps, D): the decoded features at traversal_points(latent_dim, z_range, steps).
    """
    plt, _ = _pyplot()
    latent_dim, steps, _ = values.shape
    grid = np.linspace(-z_range, z_range, steps)
    fig, axes = plt.subplots(1, latent_dim, figsize=(0.9 + 3.2 * latent_dim, 0.35 * len(feature_names) + 1.8))
    axes = np.atleast_1d(axes)
    for i, ax in enumerate(axes):
        heatmap(
            ax,
            values[i].T,
            vmin=values.min(),  # one scale for every panel: the one colour bar describes them all
            vmax=values.max(),
            cbar_label=feature_label if i == latent_dim - 1 else None,
            xticklabels=[f"{g:+.1f}" if k % 3 == 0 else "" for k, g in enumerate(grid)],
            yticklabels=feature_names if i == 0 else False,
        )
        ax.set(title=f"sweep z{i + 1}", xlabel=f"z{i + 1} (others 0)")
    fig.suptitle(f"Latent traversals: decoded {feature_label}")
    fig.tight_layout()
    save_figure(fig, path)


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


def latent_clusters(
    path, z, labels, class_names, clusters, cluster_names, cluster_class, components, class_noun
):
    """Latent means coloured by true class (left) and by recovered cluster (right), with the learned
    prior components N(m_y, diag s_y^2) drawn as 1- and 2-sd ellipses in both panels.

    A cluster takes the colour of the class it matches (cluster_class: {cluster: class or -1}), so
    the two panels read alike where the model agrees with the truth; unmatched clusters get new colours.
    components: [(mean (Z,), variance (Z,), name)] per cluster.
    """
    from matplotlib.patches import Ellipse

    plt, _ = _pyplot()
    points, (xlabel, ylabel), project = _projection(z)
    colors = np.array(class_colors(len(class_names) + len(cluster_names)))
    unmatched = iter(range(len(class_names), len(colors)))
    cluster_color = np.array(
        [
            colors[cluster_class[c]] if cluster_class.get(c, -1) >= 0 else colors[next(unmatched)]
            for c in range(len(cluster_names))
        ]
    )
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), sharex=True, sharey=True)
    keep = np.random.default_rng(0).permutation(len(points))[:3000]
    for ax, palette, ids, names, title in (
        (axes[0], colors, labels, class_names, f"coloured by true {class_noun}"),
        (axes[1], cluster_color, clusters, cluster_names, "coloured by recovered cluster, argmax q(y|x)"),
    ):
        few = len(keep) < 500  # a small table: bigger, solid dots
        ax.scatter(
            *points[keep].T,
            s=30 if few else 8,
            c=palette[ids[keep]],
            alpha=0.85 if few else 0.35,
            edgecolors="none",
        )
        handles = [
            plt.Line2D([], [], marker="o", linestyle="", color=palette[i], markersize=7, label=name)
            for i, name in enumerate(names)
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    for c, (mean, variance, _) in enumerate(components):
        center, cov = project(mean, variance)
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        for ax in axes:
            for n_sd, style in ((1, "-"), (2, ":")):
                ax.add_patch(
                    Ellipse(
                        center,
                        2 * n_sd * np.sqrt(values[1]),
                        2 * n_sd * np.sqrt(values[0]),
                        angle=angle,
                        fill=False,
                        edgecolor=cluster_color[c] if ax is axes[1] else "0.25",
                        linestyle=style,
                        linewidth=1.6,
                    )
                )
            ax.annotate(str(c + 1), center, ha="center", va="center", fontsize=10, fontweight="bold")
    fig.suptitle(
        "Latent space with the learned prior p(z | y): numbered ellipses at 1 sd (solid) and 2 sd (dotted)"
    )
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


def traversal_grid(path, traversals, feature_names, value_label, sections=None):
    """Heatmaps of decoded features, one per (centre, latent dimension): features down, sweep across.

    traversals: {centre name: (values (Z, steps, D), grid (steps,))}; sections: sizes of consecutive
    blocks of features (e.g. genres, eras, quality bands), drawn with white lines between them.
    """
    plt, _ = _pyplot()
    names = list(traversals)
    latent_dim = traversals[names[0]][0].shape[0]
    low = min(v.min() for v, _ in traversals.values())
    high = max(v.max() for v, _ in traversals.values())
    fig, axes = plt.subplots(
        len(names),
        latent_dim,
        figsize=(2.4 + 3.0 * latent_dim, (0.28 * len(feature_names) + 1.0) * len(names) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    for r, name in enumerate(names):
        values, grid = traversals[name]
        for i in range(latent_dim):
            # imshow, as heatmap() above: seaborn's made a 7-cluster x 2-dimension grid take seconds.
            ax = axes[r, i]
            image = ax.imshow(
                values[i].T, aspect="auto", cmap=HEATMAP, vmin=low, vmax=high, interpolation="nearest"
            )
            ax.grid(False)
            # the ends and the centre only: labels of neighbouring panels would touch
            ends = [
                f"{g:+g}" if k in (0, len(grid) - 1) else "0" if g == 0 else "" for k, g in enumerate(grid)
            ]
            ax.set_xticks([k for k, label in enumerate(ends) if label], [label for label in ends if label])
            ax.set_yticks(range(len(feature_names)) if i == 0 else [], feature_names if i == 0 else [])
            ax.tick_params(length=0)
            ax.set_title(f"{name}: sweep z{i + 1}", fontsize=10)
            ax.set_xlabel(f"shift of z{i + 1}" if r == len(names) - 1 else "")
            for edge in np.cumsum(sections or [])[:-1]:
                ax.axhline(edge - 0.5, color="white", linewidth=2)  # cells are centred on integers
    fig.colorbar(image, ax=axes, shrink=0.6, label=value_label)
    fig.suptitle("Latent traversals: one dimension swept over [-3, 3],\nthe others held at the centre")
    save_figure(fig, path)


def factor_heatmaps(path, gains, mi, mig):
    """Left: information gain of each latent dimension about each factor (how much shifting it moves
    the world's reading of the output). Right: normalised mutual information with the true factors.
    gains and mi are {factor: one number per latent dimension}; an empty one leaves its panel out
    (your own table has no world to read outputs with, and without labels no true factor)."""
    plt, _ = _pyplot()
    panels = [
        (
            gains,
            {"fmt": ".3f", "fontsize": 11, "cbar_label": "nats"},
            "Magnitude of change: information gain\nKL(shifted output || original), per factor",
            "factor read off the decoded output",
        ),
        (
            mi,
            {"fmt": ".2f", "fontsize": 11, "vmin": 0, "vmax": 1, "cbar_label": "I(z_i; f) / H(f)"},
            "Mutual information with the true factors"
            + (f"\nMIG = {mig:.2f} (1 = one dimension per factor)" if mig is not None else ""),
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
    fig.tight_layout()
    save_figure(fig, path)


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
