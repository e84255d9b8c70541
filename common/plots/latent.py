"""Pictures of the latent space: codes coloured by class, clusters with their prior components, and what
the decoder says across the latent space (maps over the plane, traversals of each dimension)."""

import numpy as np

from common.plots.style import HEATMAP, _pyplot, class_colors, heatmap
from common.runio import save_figure


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
    # One unit is one unit on both axes: a dimension the model leaves unused (its codes within 0.01 of 0)
    # stays flat instead of being stretched into a pattern.
    ax.set_aspect("equal", adjustable="datalim")
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=color, markersize=7, label=name)
        for name, color in zip(class_names, colors, strict=True)
    ]
    ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    save_figure(fig, path)


def latent_clusters(
    path, z, labels, class_names, clusters, cluster_names, cluster_class, components, class_noun,
    method="argmax q(y|x)", suptitle="Latent space with the learned prior p(z | y)",
):  # fmt: skip
    """Latent means coloured by true class (left) and by recovered cluster (right), with the learned
    prior components N(m_y, diag s_y^2) drawn as 1- and 2-sd ellipses in both panels.

    A cluster takes the colour of the class it matches (cluster_class: {cluster: class or -1}), so
    the two panels read alike where the model agrees with the truth; unmatched clusters get new colours.
    components: [(mean (Z,), variance (Z,), name)] per cluster.
    """
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
        (axes[1], cluster_color, clusters, cluster_names, f"coloured by recovered cluster, {method}"),
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
        for ax in axes:
            _prior_ellipses(
                ax, *project(mean, variance), cluster_color[c] if ax is axes[1] else "0.25", c + 1
            )
    fig.suptitle(suptitle)
    fig.tight_layout()
    save_figure(fig, path)


def _prior_ellipses(ax, center, cov, edgecolor, number):
    """A prior component N(center, cov) as its 1-sd (solid) and 2-sd (dotted) ellipses, numbered."""
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    for n_sd, style in ((1, "-"), (2, ":")):
        width, height = 2 * n_sd * np.sqrt(values[1]), 2 * n_sd * np.sqrt(values[0])
        ax.add_patch(
            Ellipse(
                center,
                width,
                height,
                angle=angle,
                fill=False,
                edgecolor=edgecolor,
                linestyle=style,
                linewidth=1.6,
            )
        )
    ax.annotate(str(number), center, ha="center", va="center", fontsize=10, fontweight="bold")


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
