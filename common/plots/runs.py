"""Figures over many runs, for python -m common.compare: --plot's metric against a flag, beside the
reference each run measured itself against (the world's true NLL, the Bayes-optimal ARI, the oracle's
ranking) on an axis that never stretches noise between runs over the whole panel; and --figure's grid of
one figure of every run, side by side, each titled by its run's differing flags."""

import os

import numpy as np

from common.plots.scale import MIN_NATS, at_least
from common.plots.style import _pyplot
from common.runio import save_figure

# What each metric is measured against: a path into metrics.json (each run's own) or a number.
REFERENCES = {
    "nll": ("test.true_nll", "world's true NLL"),
    "gap": (0.0, "the world's own NLL (gap 0)"),
    "ari": ("recovery.bayes_ari", "Bayes-optimal ARI"),
    "ari/bayes": (1.0, "Bayes-optimal (1)"),
    "baseline_ari": ("recovery.bayes_ari", "Bayes-optimal ARI"),
    "ndcg@100": ("ranking.oracle.ndcg@100", "oracle (true preferences)"),
    "recall@20": ("ranking.oracle.recall@20", "oracle (true preferences)"),
    "recall@50": ("ranking.oracle.recall@50", "oracle (true preferences)"),
}
# The narrowest y range drawn: runs that differ by less are drawn as close as they are.
MIN_SPAN = {
    "nll": MIN_NATS,
    "gap": MIN_NATS,
    "ari": 0.1,
    "ari/bayes": 0.1,
    "baseline_ari": 0.1,
    "ndcg@100": 0.05,
    "recall@20": 0.05,
    "recall@50": 0.05,
    "train_seconds": 1.0,
}


def reference_values(runs, parent, metric):
    """{run name as in the table: its reference value} for `metric` (NaN where the run has none)."""
    from common.compare import _number

    where, _ = REFERENCES.get(metric, (None, None))
    return {
        os.path.relpath(run["path"], parent): (
            float(where) if isinstance(where, float) else _number(run["metrics"], where or "")
        )
        for run in runs
    }


def plot(frame, x, y, others, path, references=None):
    """Metric y against flag x, one line per combination of the other differing flags, with the runs'
    reference (references: {run name: value}) as a dashed line, or a band where the runs' differ."""
    from common.compare import METRICS

    plt, _ = _pyplot()
    data = frame[frame[y].notna() & frame[x].notna()]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    repeated = _lines(ax, data, x, y, others)
    reference = _reference(ax, [(references or {}).get(run, np.nan) for run in data["run"]], y)
    metric = METRICS[y]
    better = "higher" if metric.higher_is_better else "lower"
    short = metric.words.split(" (")[0]  # the unit is on the axis
    title = f"{short[0].upper()}{short[1:]} against {x.replace('_', ' ')}, {len(data)} runs"
    if repeated:
        title += "\n(lines: mean of runs with the same flags; faint dots: each run)"
    ax.set(xlabel=_flag_words(x), ylabel=f"{metric.words}\n({better} is better)", title=title)
    shown = [*data[y], *([reference] if reference is not None else [])]
    at_least(ax, MIN_SPAN.get(y, 0.0), values=shown, floor=0.0 if min(shown) >= 0 else None)
    if others or reference is not None:
        legend_title = (_flag_words(others[0]) if len(others) == 1 else "other flags") if others else None
        ax.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    save_figure(fig, path)


def _lines(ax, data, x, y, others):
    """One line per combination of the other flags through the mean of its runs at each value of x;
    each run as a faint dot when some share their flags. True when some do."""
    from common.compare import _cell, _is_number, _order

    values = sorted(set(data[x]), key=_order)
    numeric = all(_is_number(v) for v in values)
    position = {v: float(v) if numeric else i for i, v in enumerate(values)}
    groups = data.groupby(others, dropna=False, sort=False) if others else [((), data)]
    repeated = False
    ordered = sorted(groups, key=lambda item: [_order(v) for v in _as_tuple(item[0])])
    for i, (key, group) in enumerate(ordered):
        pairs = list(zip(others, _as_tuple(key), strict=True))
        label = ", ".join(_cell(v) if len(others) == 1 else f"{name}={_cell(v)}" for name, v in pairs)
        means = group.groupby(x, sort=False)[y].mean()  # repeated runs: a line through their mean
        xs = sorted(means.index, key=_order)
        style = ("-", "--", ":", "-.")[i // 10 % 4]  # the palette has 10 colours; then change the dash
        (line,) = ax.plot([position[v] for v in xs], [means[v] for v in xs], marker="o", linestyle=style,
                          label=label or None)  # fmt: skip
        if len(group) > len(means):
            repeated = True
            ax.scatter([position[v] for v in group[x]], group[y], color=line.get_color(), alpha=0.4, s=18)
    if numeric and min(values) > 0 and max(values) / min(values) >= 100:
        ax.set_xscale("log")  # e.g. learning rates 1e-4 ... 1e-2: equal steps in log space
    if numeric:
        ax.set_xticks([position[v] for v in values], [_cell(v) for v in values])
    else:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.minorticks_off()
    return repeated


def _reference(ax, values, metric):
    """The runs' reference for `metric` as a dashed line (one value) or a grey band with a dashed line at
    its mean (the runs' references differ, e.g. other seeds' held-out rows); the value drawn, or None."""
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return None
    _, words = REFERENCES[metric]
    low, high = min(values), max(values)
    if high - low < 1e-9:
        ax.axhline(low, color="0.3", linestyle="--", linewidth=1.2, label=f"{words}: {low:.4g}")
        return low
    ax.axhspan(low, high, color="0.85", zorder=0)
    label = f"{words}, per run: {low:.4g} to {high:.4g} (band)"
    ax.axhline(float(np.mean(values)), color="0.3", linestyle="--", linewidth=1.2, label=label)
    return float(np.mean(values))


def _flag_words(flag):
    return f"{flag.replace('_', ' ')} (--{flag.replace('_', '-')})"


def _as_tuple(key):
    return key if isinstance(key, tuple) else (key,)


def run_grid(frame, flags, parent, name, path):
    """`name` (a figure file, e.g. clusters.png) of every run side by side at its own size (readable at
    100%), in the order of the flags that differ (a loop's --beta 0.5 1 2 4 reads left to right as typed),
    each titled by the run and those flags; a run without the file gets a panel that says so."""
    import matplotlib.image as mpimg

    from common.compare import _cell, _order

    plt, _ = _pyplot()
    order = sorted(range(len(frame)), key=lambda i: [_order(frame[f].iloc[i]) for f in flags] + [i])
    frame = frame.iloc[order]
    files = [os.path.join(parent, run, name) for run in frame["run"]]
    images = [mpimg.imread(f) if os.path.isfile(f) else None for f in files]
    height, width = np.max([image.shape[:2] for image in images if image is not None], axis=0)
    dpi, title_inches = 110, 0.45  # save_figure's dpi: one pixel of each image is one of the grid
    cols = min(len(images), 2 if width >= 1000 else 3)
    rows = -(-len(images) // cols)
    cell_w, cell_h = width / dpi, height / dpi + title_inches
    fig = plt.figure(figsize=(cols * cell_w, rows * cell_h))
    for i, (run, image) in enumerate(zip(frame["run"], images, strict=True)):
        row, col = divmod(i, cols)
        ax = fig.add_axes(
            [col / cols, 1 - (row + 1) / rows, 1 / cols, (cell_h - title_inches) / cell_h / rows]
        )
        ax.axis("off")
        described = " ".join(f"--{f.replace('_', '-')} {_cell(frame[f].iloc[i])}" for f in flags)
        ax.set_title(f"{run}: {described}" if described else run, fontsize=13, pad=6)
        if image is None:
            ax.text(0.5, 0.5, f"no {name} in this run", ha="center", va="center", fontsize=13)
            continue
        ax.imshow(image, interpolation="nearest")
        ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5))  # the image at its size, top left
    with_flags = " (each titled by its run and the flags that differ)" if flags else ""
    fig.suptitle(f"{name} of {len(images)} runs{with_flags}", fontsize=15, y=1 + 0.3 / fig.get_figheight())
    save_figure(fig, path)
