"""interpolation.png: what the decoder says along straight paths in the latent space (docs/figures.md).

The first path runs between the codes of two held-out rows, chosen without chance: with classes, for the
first two classes with held-out rows, the row of each whose code is nearest its class's median code (a
typical member, not an outlier); without classes, the row farthest from the median code and the row
farthest from that one. A model with a cluster latent (the gmvae, the vqvae) gets a second path, between
the centres of the two clusters matched to those rows' classes. Each point is decoded with
decode_mean(z), as decoded.png decodes it. Computed here, drawn by common/plots/paths.py.
"""

import numpy as np
import torch

from common import evaluate, plots

STEPS = 11  # points on a path, both ends included: t = 0, 0.1, ..., 1


def interpolation(draw, folder, world, model, test, z_test, device, clusters=None):
    """Draw interpolation.png for a model that decodes z alone. `clusters` (n,): the held-out rows'
    recovered clusters, which name the cluster centres of the second path."""
    ends, names, how = end_rows(world, test, z_test)
    panels = [row_panel(world, model, test, z_test, ends, names, how, device)]
    if model.cluster_latent:
        panels.append(centre_panel(world, model, test, z_test, ends, clusters, device))
    columns, sections = column_names(world)
    for panel in panels:  # the movie world's 160 movies: one column per genre, era and quality band
        panel["values"] = in_columns(world, panel["values"])
        if panel["observed"] is not None:
            panel["observed"] = in_columns(world, panel["observed"])
            if np.isnan(panel["observed"]).any():  # a rating's 0: in_columns and observed() leave it out
                panel["observed_names"] = [f"{name} (blank: not rated)" for name in panel["observed_names"]]
    low, high = value_range(world, model, panels)
    draw(
        plots.interpolation_paths,
        folder.file("interpolation.png"),
        panels,
        columns,
        world.value_label if not world.feature_groups() else f"mean {world.value_label} within the group",
        (low, high),
        sections,
    )


def end_rows(world, test, z_test):
    """Two held-out rows [i, j] to walk between, their names and how they were chosen: typical rows of
    the first two classes with held-out rows, else two rows far apart in z."""
    present = [k for k in range(world.n_classes) if (test.labels == k).any()]
    if len(present) >= 2:
        ends = [typical_row(z_test, np.flatnonzero(test.labels == k)) for k in present[:2]]
        names = [f"{world.class_names[k]} row" for k in present[:2]]
        return ends, names, "each the nearest its class's median code"
    first = farthest(z_test, np.median(z_test, axis=0))
    second = farthest(z_test, z_test[first])
    return [first, second], [f"held-out row {first + 1}", f"held-out row {second + 1}"], "far apart in z"


def typical_row(z, members):
    """The member (an index into z (n, Z)) whose code is nearest the members' median code."""
    distance = np.linalg.norm(z[members] - np.median(z[members], axis=0), axis=1)
    return int(members[np.argmin(distance)])


def farthest(z, point):
    """Index of the code in z (n, Z) farthest from `point` (Z,); the first on ties."""
    return int(np.argmax(np.linalg.norm(z - point, axis=1)))


@torch.no_grad()
def decode_path(model, start, end, device, steps=STEPS):
    """Expected features at `steps` evenly spaced points from z `start` to `end` (Z,), both included,
    (steps, D). Written (1 - t) a + t b, not a + t (b - a): the ends are then a and b exactly."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    z = (1 - t) * np.asarray(start, dtype=float) + t * np.asarray(end, dtype=float)
    return model.decode_mean(torch.as_tensor(z, dtype=torch.float32, device=device)).cpu().numpy()


def row_panel(world, model, test, z_test, ends, names, how, device):
    """The path between two held-out rows' codes, framed by the rows' own features."""
    note = f"\n({model.decode_rule})" if model.decode_rule else ""
    return {
        "values": decode_path(model, z_test[ends[0]], z_test[ends[1]], device),
        "row_names": step_names([f"{name}'s code" for name in names]),
        "observed": observed(model, test.x[ends]),
        "observed_names": [f"{name}, observed" for name in names],
        "title": f"Decoded {world.value_label} along the straight line in z between the codes of two "
        f"held-out rows,\n{names[0]} (top) and {names[1]} (bottom), {how}{note}",
    }


def centre_panel(world, model, test, z_test, ends, clusters, device):
    """The path between the centres of the clusters matched to the end rows' classes (the prior's means;
    the vqvae's: its codes), each point decoded with the cluster decode_mean picks there."""
    centres = model.prior()[1].detach().cpu().numpy()  # (K, Z)
    pair, names = centre_pair(world, test, z_test, ends, clusters, centres)
    return {
        "values": decode_path(model, centres[pair[0]], centres[pair[1]], device),
        "row_names": step_names(names),
        "observed": None,
        "observed_names": None,
        "title": f"Decoded {world.value_label} along the straight line in z between two cluster centres,"
        f"\n{names[0]} (top) and {names[1]} (bottom)\n({model.decode_rule})",
    }


def centre_pair(world, test, z_test, ends, clusters, centres):
    """Two clusters [a, b] and their names: the clusters matched to the end rows' classes when the rows
    have classes and `clusters` is given, else (or when one is unmatched) the centre nearest each end's
    code; never the same cluster twice."""
    k = len(centres)
    mapping = (
        evaluate.cluster_to_class(test.labels, clusters) if world.n_classes and clusters is not None else {}
    )
    by_class = {c_class: c for c, c_class in mapping.items() if c_class >= 0}
    distance = np.linalg.norm(z_test[ends][:, None] - centres[None], axis=-1)  # (2, K)
    pair = [by_class.get(int(test.labels[i]), int(np.argmin(d))) for i, d in zip(ends, distance, strict=True)]
    if pair[0] == pair[1] and k > 1:  # the second end's nearest other centre
        pair[1] = int(np.argmin(np.where(np.arange(k) == pair[0], np.inf, distance[1])))
    names = (
        evaluate.cluster_names(world.class_names, mapping, k)
        if mapping
        else [f"cluster {c + 1}" for c in range(k)]
    )
    return pair, [names[c] for c in pair]


def step_names(names):
    """Row labels of a path's points: t, with each end's name."""
    t = np.linspace(0.0, 1.0, STEPS)
    return [f"t = {v:.1f}" + (f"  ({names[0]})" if i == 0 else f"  ({names[1]})" if i == STEPS - 1 else "")
            for i, v in enumerate(t)]  # fmt: skip


def observed(model, x):
    """Rows (n, D) as floats, a star rating's 0 ("not rated") as NaN: the decoder's mean is the expected
    rating of a rated movie, so an unrated one has no value to compare."""
    x = np.asarray(x, dtype=float)
    return np.where(x == 0, np.nan, x) if hasattr(model.head, "n_categories") else x


def column_names(world):
    """The figure's columns: the features, or for a world with feature groups each group's members,
    with the sizes of consecutive groups (None: no groups)."""
    from common.interpret import group_labels

    groups = world.feature_groups()
    if not groups:
        return list(world.feature_names), None
    return group_labels(groups), [len(members) for members in groups.values()]


def in_columns(world, values):
    """Values (n, D) as the figure's columns: each group's mean over its observed (not NaN) members; NaN
    where a group has none."""
    from common.interpret import group_means

    groups = world.feature_groups()
    if not groups:
        return values
    seen = np.isfinite(values)
    totals = group_means(np.where(seen, values, 0.0), groups)  # mean(filled) / mean(seen) = mean over seen
    shares = group_means(seen.astype(float), groups)
    return np.where(shares > 0, totals / np.where(shares > 0, shares, 1.0), np.nan)


def value_range(world, model, panels):
    """The colour scale (low, high), fixed to what a feature can be so that noise is not drawn as a
    trend: the world's own range, a probability's [0, 1], stars 1..C; else the values' own range."""
    if world.value_range is not None:
        return world.value_range
    if world.likelihood == "bernoulli":
        return 0.0, 1.0
    if hasattr(model.head, "n_categories"):
        return 1.0, float(model.head.n_categories)
    shown = [p[key] for p in panels for key in ("values", "observed") if p[key] is not None]
    return float(min(np.nanmin(v) for v in shown)), float(max(np.nanmax(v) for v in shown))
