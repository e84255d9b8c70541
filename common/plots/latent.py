"""What the decoder says across the latent space: maps over the plane, traversals of each dimension
(the codes themselves, latent.png and clusters.png, are drawn by codes.py)."""

import numpy as np

from common.plots.style import HEATMAP, _pyplot, heatmap, wrap_name
from common.runio import save_figure


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
        ax.set_title(wrap_name(feature_names[j], 22), fontsize=10)
        ax.grid(False)
    for ax in axes[-1]:
        ax.set_xlabel("z1")
    for ax in axes[:, 0]:
        ax.set_ylabel("z2")
    fig.suptitle(f"Decoded {feature_label} across the latent plane" + (f"\n{note}" if note else ""), y=1.02)
    fig.colorbar(image, ax=axes, shrink=0.8, label=feature_label)
    save_figure(fig, path)


def traversal_points(latent_dim, z_range=3.0, steps=13, center=None, scale=None):
    """(latent_dim, steps, latent_dim): sweep i moves dimension i over center_i +- z_range * scale_i, the
    others held at the center (default: the origin, in steps of the prior's sd, 1)."""
    center = np.zeros(latent_dim) if center is None else np.asarray(center, dtype=float)
    scale = np.ones(latent_dim) if scale is None else np.asarray(scale, dtype=float)
    points = np.repeat(center[None, None], latent_dim, 0).repeat(steps, 1)
    for i in range(latent_dim):
        points[i, :, i] = center[i] + scale[i] * np.linspace(-z_range, z_range, steps)
    return points


def traversal_heatmaps(
    path, values, feature_names, feature_label, grids=None, how="over [-3, 3], the others held at 0"
):
    """For each latent dimension, its sweep (`how` says where), at most 4 panels a row.

    `values` (latent_dim, steps, D): the decoded features at the points of traversal_points;
    `grids` (latent_dim, steps): the values dimension i takes in its sweep (default [-3, 3]).
    """
    plt, _ = _pyplot()
    latent_dim, steps, _ = values.shape
    grids = np.tile(np.linspace(-3, 3, steps), (latent_dim, 1)) if grids is None else np.asarray(grids)
    n_cols = min(latent_dim, 4)
    n_rows = -(-latent_dim // n_cols)
    names = [wrap_name(name) for name in feature_names]
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(1.6 + 2.9 * n_cols, n_rows * (0.38 * len(feature_names) + 1.4) + 0.6),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for i, ax in enumerate(axes.flat):
        if i >= latent_dim:
            ax.axis("off")
            continue
        # the ends and the middle only: five labels of three digits touched in a 2.9-inch panel
        ticks = [0, steps // 2, steps - 1]
        heatmap(
            ax,
            values[i].T,
            vmin=values.min(),  # one scale for every panel: the one colour bar describes them all
            vmax=values.max(),
            xticklabels=[""] * steps,
            yticklabels=names if i % n_cols == 0 else False,
        )
        ax.set_xticks(ticks, [f"{grids[i, k]:+.2g}" for k in ticks])
        ends = ax.get_xticklabels()
        ends[0].set_horizontalalignment("left")  # inside the panel, clear of the neighbour's last label
        ends[-1].set_horizontalalignment("right")
        ax.set(title=f"sweep z{i + 1}", xlabel=f"z{i + 1}")
    fig.colorbar(axes.flat[0].images[0], ax=axes, shrink=0.8, label=feature_label)
    fig.suptitle(f"Latent traversals: decoded {feature_label},\neach dimension swept {how}")
    save_figure(fig, path)


def traversal_grid(path, traversals, feature_names, value_label, sections=None, by_cluster=False):
    """Heatmaps of decoded features, one per (centre, latent dimension): features down, sweep across.

    traversals: {centre name: (values (Z, steps, D), grid (steps,))}; sections: sizes of consecutive
    blocks of features (e.g. genres, eras, quality bands), drawn with white lines between them.
    by_cluster: each centre is a cluster's prior mean, and its row is decoded by that cluster alone.
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
    fig.suptitle(
        "Latent traversals within each cluster: one dimension shifted\nby -3 to +3 from the cluster's prior "
        "mean, the others held there,\nevery point decoded by that cluster (the cluster never changes)"
        if by_cluster
        else "Latent traversals: one dimension swept over [-3, 3],\nthe others held at the origin"
    )
    save_figure(fig, path)
