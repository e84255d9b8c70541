"""The held-out rows' codes in the latent space: latent.png (coloured by class) and clusters.png (by class
and by recovered cluster, with the learned prior components). Rows with identical features share one
code: each distinct code is one dot whose area is its number of rows. A 1-D latent is drawn as one
histogram lane per class along z1, never on an invented second axis. Axes are never narrower than the
prior's +-3 sd, so a collapsed latent shows as the point it is."""

import numpy as np

from common.plots.scale import at_least, covering
from common.plots.style import _pyplot, class_colors, class_markers
from common.runio import save_figure

PRIOR_SPAN = 6.0  # N(0, I)'s +-3 sd: the narrowest a latent axis is drawn


def projection(z):
    """Points in 2-D, the axis labels, and a function projecting a Gaussian (mean, diagonal variance) the
    same way: the latent itself for 2 dimensions, its first two principal components for more."""
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


def unused_note(usage):
    """A line naming the collapsed dimensions, or '': `usage` is the run's own measure of collapse,
    metrics.json's test.latent_usage (each dimension's KL against the prior; None where it does not
    split by dimension), so that the figure and the summary name the same dimensions."""
    if not usage or not usage["inactive"]:
        return ""
    verb = "carries" if len(usage["inactive"]) == 1 else "carry"
    return (
        f"\n{', '.join(usage['inactive'])} {verb} almost no information "
        f"(posterior collapse: KL < {usage['threshold']:g} nats a row)"
    )


def distinct_dots(points, ids, max_points=4000):
    """(index of one row per distinct (code, id) pair, its number of rows), biggest first so that small
    dots are drawn on top; at most max_points pairs, drawn at random."""
    keys = np.column_stack([np.asarray(points).round(4), ids])
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if len(first) > max_points:  # a readable number of dots
        keep = np.random.default_rng(0).permutation(len(first))[:max_points]
        first, counts = first[keep], counts[keep]
    order = np.argsort(-counts, kind="stable")
    return first[order], counts[order]


def dots(ax, points, ids, colors, markers, max_points=4000):
    """Each distinct (code, id) pair as one dot of its id's colour and shape, area = its rows. Returns
    the largest number of rows behind one dot."""
    from matplotlib.markers import MarkerStyle

    first, counts = distinct_dots(points, ids, max_points)
    few = len(first) < 500  # a small table: bigger, solid dots
    collection = ax.scatter(
        *points[first].T,
        s=(24 if few else 10) * counts,
        c=np.asarray(colors)[ids[first]],
        alpha=0.85 if few else 0.6,
        edgecolors="none",
    )
    shapes = {m: MarkerStyle(m) for m in set(markers)}
    collection.set_paths(
        [shapes[markers[i]].get_path().transformed(shapes[markers[i]].get_transform()) for i in ids[first]]
    )
    return int(counts.max()) if len(counts) else 0


def handles(colors, markers, names):
    plt, _ = _pyplot()
    return [
        plt.Line2D([], [], marker=m, linestyle="", color=c, markersize=7, label=name)
        for c, m, name in zip(colors, markers, names, strict=True)
    ]


def lanes(ax, z1, ids, names, colors):
    """A 1-D latent: one lane per class (first on top), each a histogram of its rows' z1 on shared bins,
    scaled to its own tallest bar; the lane's label gives its number of rows."""
    edges = np.histogram_bin_edges(z1, bins=40)
    n = len(names)
    for k in range(n):
        base = n - 1 - k
        counts, _ = np.histogram(z1[ids == k], edges)
        if counts.max() > 0:
            ax.stairs(base + 0.8 * counts / counts.max(), edges, baseline=base, fill=True, color=colors[k],
                      alpha=0.7)  # fmt: skip
    ax.set_yticks(
        [n - 1 - k + 0.4 for k in range(n)], [f"{name} ({(ids == k).sum()})" for k, name in enumerate(names)]
    )
    ax.set_ylim(-0.3, n)
    ax.grid(False, axis="y")
    at_least(ax, PRIOR_SPAN, "x")


def latent_scatter(
    path, z, labels, class_names, title, legend_title="true class", max_points=4000, usage=None
):  # fmt: skip
    """Latent codes of held-out rows coloured (and shaped) by their class; a 1-D latent as lanes.
    usage: test.latent_usage of metrics.json, whose collapsed dimensions the title names."""
    plt, _ = _pyplot()
    colors, markers = class_colors(len(class_names)), class_markers(len(class_names))
    title += unused_note(usage)
    if z.shape[1] == 1:
        fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(class_names) + 2.4))
        lanes(ax, z[:, 0], labels, class_names, colors)
        ax.set(title=title + "\n(a 1-D latent: each lane a histogram of its rows' z1, scaled to its peak)",
               xlabel="z1", ylabel=legend_title)  # fmt: skip
        save_figure(fig, path)
        return
    points, (xlabel, ylabel), _ = projection(z)
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    if dots(ax, points, labels, colors, markers, max_points) > 1:
        title += "\n(dot area = number of rows with that code)"
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    # One unit is one unit on both axes, and both span the prior's +-3 sd at least: a dimension the
    # model leaves unused (its codes within 0.01 of a point) stays flat instead of being stretched.
    covering(ax, PRIOR_SPAN)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(handles=handles(colors, markers, class_names), title=legend_title, loc="upper left",
              bbox_to_anchor=(1.01, 1), frameon=False)  # fmt: skip
    save_figure(fig, path)


def cluster_colours(colors, cluster_class, n_classes, n_clusters):
    """A cluster takes the colour of the class it matches ({cluster: class or -1}); unmatched clusters
    get the colours after the classes'."""
    unmatched = iter(range(n_classes, len(colors)))
    return [
        colors[cluster_class[c]] if cluster_class.get(c, -1) >= 0 else colors[next(unmatched)]
        for c in range(n_clusters)
    ]


def latent_clusters(
    path, z, labels, class_names, clusters, cluster_names, cluster_class, components, class_noun,
    method="argmax q(y|x)", suptitle="Latent space with the learned prior p(z | y)", usage=None,
):  # fmt: skip
    """Latent means coloured by true class (left) and by recovered cluster (right), dots sized by their
    rows, with the learned prior components N(m_y, diag s_y^2) drawn as 1- and 2-sd ellipses in both
    panels, numbered by cluster in boxes moved apart where centres crowd (a thin line to the centre).

    A cluster takes the colour and shape of the class it matches (cluster_class: {cluster: class or
    -1}), so the two panels read alike where the model agrees with the truth.
    components: [(mean (Z,), variance (Z,), name)] per cluster.
    """
    plt, _ = _pyplot()
    n_classes, n_clusters = len(class_names), len(cluster_names)
    colors = class_colors(n_classes + n_clusters)
    shapes = class_markers(n_classes + n_clusters)
    cluster_color = cluster_colours(colors, cluster_class, n_classes, n_clusters)
    cluster_shape = cluster_colours(shapes, cluster_class, n_classes, n_clusters)
    panels = [
        (colors, shapes, labels, class_names, f"coloured by true {class_noun}"),
        (cluster_color, cluster_shape, clusters, cluster_names, f"coloured by recovered cluster, {method}"),
    ]
    if z.shape[1] == 1:
        return _clusters_1d(path, z[:, 0], panels, components, suptitle)
    points, (xlabel, ylabel), project = projection(z)
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.4), sharex=True, sharey=True)
    rows_per_dot = 0
    for ax, (palette, markers, ids, names, title) in zip(axes, panels, strict=True):
        rows_per_dot = max(rows_per_dot, dots(ax, points, ids, palette, markers[: len(names)], 3000))
        ax.legend(handles=handles(palette[: len(names)], markers[: len(names)], names), loc="upper left",
                  bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)  # fmt: skip
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    centres = [project(mean, variance) for mean, variance, _ in components]
    for ax in axes:
        for c, (center, cov) in enumerate(centres):
            _prior_ellipses(ax, center, cov, cluster_color[c] if ax is axes[1] else "0.25")
    covering(axes[0], PRIOR_SPAN)  # the axes are shared
    axes[0].set(xlim=axes[0].get_xlim(), ylim=axes[0].get_ylim())  # fixed before the numbers are placed
    for ax in axes:
        edges = cluster_color if ax is axes[1] else ["0.25"] * n_clusters
        numbers(ax, [center for center, _ in centres], edges)
    note = "; dot area = number of rows with that code" if rows_per_dot > 1 else ""
    fig.suptitle(suptitle + unused_note(usage) + (f"\n({note[2:]})" if note else ""))
    fig.tight_layout()
    save_figure(fig, path)


def _clusters_1d(path, z1, panels, components, suptitle):
    """clusters.png of a 1-D latent: lanes by true class (left) and by recovered cluster (right), each
    cluster's lane with its prior component's 1-sd (solid) and 2-sd (dotted) interval and number."""
    plt, _ = _pyplot()
    n_lanes = max(len(panel[3]) for panel in panels)
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.55 * n_lanes + 2.6), sharex=True)
    for ax, (palette, _, ids, names, title) in zip(axes, panels, strict=True):
        lanes(ax, z1, ids, names, palette)
        ax.set(title=title, xlabel="z1")
    n = len(components)
    for c, (mean, variance, _) in enumerate(components):
        mean, sd, y = float(mean[0]), float(np.sqrt(variance[0])), n - 1 - c - 0.12
        colour = panels[1][0][c]
        axes[1].plot([mean - 2 * sd, mean + 2 * sd], [y, y], color=colour, linestyle=":", linewidth=1.6)
        axes[1].plot([mean - sd, mean + sd], [y, y], color=colour, linewidth=3)
        axes[1].annotate(str(c + 1), (mean, y), ha="center", va="center", fontsize=9, fontweight="bold",
                         bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour})  # fmt: skip
    title = suptitle.split(":")[0]
    fig.suptitle(
        f"{title} (a 1-D latent): each lane a histogram of its rows' z1, scaled to its peak;\nunder each "
        "cluster's lane, its prior component's 1-sd (solid) and 2-sd (dotted) interval"
    )
    fig.tight_layout()
    save_figure(fig, path)


def _prior_ellipses(ax, center, cov, edgecolor):
    """A prior component N(center, cov) as its 1-sd (solid) and 2-sd (dotted) ellipses."""
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    for n_sd, style in ((1, "-"), (2, ":")):
        width, height = 2 * n_sd * np.sqrt(values[1]), 2 * n_sd * np.sqrt(values[0])
        ax.add_patch(Ellipse(center, width, height, angle=angle, fill=False, edgecolor=edgecolor,
                             linestyle=style, linewidth=1.6))  # fmt: skip


def label_places(centres, ax, gap=0.065):
    """Where to write each centre's number, (n, 2) in data units: at the centre, or pushed apart from
    other labels until no two are closer than `gap` of the panel (in each axis' share of it)."""
    ax.apply_aspect()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    scale = np.array([x1 - x0, y1 - y0])
    places = (np.asarray(centres, dtype=float) - [x0, y0]) / scale
    for _ in range(200):
        moved = False
        for i in range(len(places)):
            for j in range(i + 1, len(places)):
                step = places[j] - places[i]
                distance = np.hypot(*step)
                if distance < gap:
                    angle = 2.4 * j  # coincident centres: a different direction for each
                    away = np.array([np.cos(angle), np.sin(angle)])
                    direction = step / distance if distance > 1e-9 else away
                    places[i] -= (gap - distance) / 2 * direction
                    places[j] += (gap - distance) / 2 * direction
                    moved = True
        if not moved:
            break
    return places * scale + [x0, y0]


def numbers(ax, centres, colours):
    """Cluster numbers in white boxes edged in the cluster's colour, a '+' at each centre and a thin line
    to it from a number that had to move away from a crowd."""
    places = label_places(centres, ax)
    for c, (centre, place, colour) in enumerate(zip(centres, places, colours, strict=True)):
        ax.plot(*centre, marker="+", color=colour, markersize=8, markeredgewidth=1.5)
        moved = not np.allclose(centre, place)
        ax.annotate(
            str(c + 1), centre, xytext=place, ha="center", va="center", fontsize=10, fontweight="bold",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "lw": 1.2},
            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.9} if moved else None,
        )  # fmt: skip
