"""Figures every demo shares. Matplotlib (Agg) and seaborn are imported only when a figure is drawn.

Colours: seaborn's "colorblind" palette for classes, viridis for heatmaps (both readable with the
common colour-vision deficiencies). Every axis carries the world's own names.
"""

import numpy as np

from common.runio import save_figure

HEATMAP = "viridis"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    return plt, sns


def class_colors(n):
    _, sns = _pyplot()
    return sns.color_palette("colorblind", n)


def project_2d(z):
    """(n, Z) -> (n, 2): the latent itself when Z <= 2, else its first two principal components."""
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z))]), ("z1", "")
    if z.shape[1] == 2:
        return z, ("z1", "z2")
    from sklearn.decomposition import PCA

    pca = PCA(2).fit(z)
    share = pca.explained_variance_ratio_
    return pca.transform(z), (f"PC1 of z ({share[0]:.0%} of variance)", f"PC2 of z ({share[1]:.0%})")


def latent_scatter(path, z, labels, class_names, title, legend_title="true class", max_points=4000):
    """Latent codes of held-out rows coloured by their class.

    Rows with identical features (common in binary data) share one code, so each distinct
    (code, class) pair is drawn once with its area proportional to the number of rows.
    """
    plt, _ = _pyplot()
    points, (xlabel, ylabel) = project_2d(z)
    keys = np.column_stack([points.round(4), labels])
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if len(first) > max_points:  # a readable number of dots
        keep = np.random.default_rng(0).permutation(len(first))[:max_points]
        first, counts = first[keep], counts[keep]
    order = np.argsort(-counts, kind="stable")  # big dots first, so small ones stay visible on top
    first, counts = first[order], counts[order]
    colors = np.array(class_colors(len(class_names)))
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    ax.scatter(*points[first].T, s=6 * counts, c=colors[labels[first]], alpha=0.55, edgecolors="none")
    if counts.max() > 1:
        title += "\n(dot area = number of rows with that code)"
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=color, markersize=7, label=name)
        for name, color in zip(class_names, colors, strict=True)
    ]
    ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    save_figure(fig, path)


def training_curves(path, history):
    """ELBO (train and held-out), reconstruction term and KL term per epoch."""
    plt, _ = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(epochs, [-row["loss"] for row in history], label="training objective (-loss)")
    if "test_elbo" in history[0]:
        axes[0].plot(epochs, [row["test_elbo"] for row in history], label="held-out ELBO")
    axes[0].set(title="ELBO (higher is better)", xlabel="epoch", ylabel="nats per row")
    axes[0].legend()
    axes[1].plot(epochs, [row["recon"] for row in history], color="C2")
    axes[1].set(title="reconstruction: -E[log p(x|z)]", xlabel="epoch", ylabel="nats per row")
    axes[2].plot(epochs, [row["kl"] for row in history], color="C3", label="KL")
    axes[2].set(title="KL(q(z|x) || p(z))", xlabel="epoch", ylabel="nats per row")
    if any(row["beta"] != history[-1]["beta"] for row in history):
        twin = axes[2].twinx()
        twin.plot(epochs, [row["beta"] for row in history], color="C7", linestyle="--", label="beta")
        twin.set_ylabel("beta (dashed)")
        twin.grid(False)
    fig.tight_layout()
    save_figure(fig, path)


def decoded_map(path, decode, feature_names, feature_label, z_range=3.0, steps=61):
    """Expected value of each feature over the 2-D latent plane, one small map per feature.

    `decode` maps an (m, 2) array of latent points to an (m, D) array of expected features.
    """
    plt, _ = _pyplot()
    grid = np.linspace(-z_range, z_range, steps)
    z1, z2 = np.meshgrid(grid, grid)
    values = decode(np.column_stack([z1.ravel(), z2.ravel()]))  # (steps^2, D)
    n_cols = min(5, len(feature_names))
    n_rows = -(-len(feature_names) // n_cols)
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
            extent=(-z_range, z_range, -z_range, z_range),
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
    fig.suptitle(f"Decoded {feature_label} across the latent plane", y=1.0)
    fig.colorbar(image, ax=axes, shrink=0.8, label=feature_label)
    save_figure(fig, path)


def traversal_heatmaps(path, decode, latent_dim, feature_names, feature_label, z_range=3.0, steps=13):
    """For each latent dimension, sweep it over [-z_range, z_range] with the others at 0."""
    plt, sns = _pyplot()
    grid = np.linspace(-z_range, z_range, steps)
    fig, axes = plt.subplots(1, latent_dim, figsize=(0.9 + 3.2 * latent_dim, 0.35 * len(feature_names) + 1.8))
    axes = np.atleast_1d(axes)
    for i, ax in enumerate(axes):
        z = np.zeros((steps, latent_dim))
        z[:, i] = grid
        values = decode(z)  # (steps, D)
        sns.heatmap(
            values.T,
            ax=ax,
            cmap=HEATMAP,
            cbar=i == latent_dim - 1,
            cbar_kws={"label": feature_label},
            xticklabels=[f"{g:+.1f}" if k % 3 == 0 else "" for k, g in enumerate(grid)],
            yticklabels=feature_names if i == 0 else False,
        )
        ax.set(title=f"sweep z{i + 1}", xlabel=f"z{i + 1} (others 0)")
    fig.suptitle(f"Latent traversals: decoded {feature_label}")
    fig.tight_layout()
    save_figure(fig, path)


def profiles_side_by_side(path, left, right, row_names, feature_names, titles, value_label, fmt=".2f"):
    """Two (classes x features) heatmaps on one colour scale: e.g. real beside generated."""
    plt, sns = _pyplot()
    low, high = min(left.min(), right.min()), max(left.max(), right.max())
    width = 1.2 + 0.75 * len(feature_names)
    fig, axes = plt.subplots(1, 2, figsize=(2 * width, 0.55 * len(row_names) + 2.6), sharey=True)
    for ax, values, title in zip(axes, (left, right), titles, strict=True):
        sns.heatmap(
            values,
            ax=ax,
            cmap=HEATMAP,
            vmin=low,
            vmax=high,
            annot=True,
            fmt=fmt,
            annot_kws={"fontsize": 8},
            xticklabels=feature_names,
            yticklabels=row_names,
            cbar_kws={"label": value_label},
        )
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, path)


def confusion_matrices(path, panels, class_names, cluster_label="recovered cluster (matched)"):
    """Row-normalised confusion matrices, e.g. {"VAE latent clusters": (true, pred), "Bayes": ...}."""
    from sklearn.metrics import confusion_matrix

    plt, sns = _pyplot()
    k = len(class_names)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.6 + 4.6 * len(panels), 0.45 * k + 3.4), squeeze=False)
    for ax, (title, (true, pred)) in zip(axes[0], panels.items(), strict=True):
        counts = confusion_matrix(true, pred, labels=range(k))
        share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        sns.heatmap(
            share,
            ax=ax,
            cmap=HEATMAP,
            vmin=0,
            vmax=1,
            annot=True,
            fmt=".2f",
            xticklabels=class_names,
            yticklabels=class_names,
            cbar_kws={"label": "share of the true class"},
        )
        accuracy = np.trace(counts) / counts.sum()
        ax.set(title=f"{title}\naccuracy {accuracy:.1%}", xlabel=cluster_label, ylabel="true class")
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, path)
