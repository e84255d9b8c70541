"""Straight paths in the latent space, decoded: interpolation.png (common/latent_paths.py computes them)."""

import numpy as np

from common.plots.style import _pyplot, heatmap
from common.runio import save_figure


def interpolation_paths(path, panels, column_names, value_label, value_range, sections=None):
    """One heatmap per path, stacked: columns are features (or feature groups), rows the path's points
    from t = 0 (top) to t = 1, each value written in its cell, on one fixed colour scale `value_range`.

    panels: [{"title", "values" (steps, C), "row_names" (steps,), "observed" (2, C) or None,
    "observed_names"}]; a panel with observed rows shows the first above the path and the second below
    it, set apart by white lines, so that each end of the path sits beside the row it encodes.
    sections: sizes of consecutive blocks of columns (genres, eras, ...), drawn with white lines between.
    """
    plt, _ = _pyplot()
    low, high = value_range
    fmt = ".2f" if high - low <= 1 else ".1f"
    heights = [len(p["row_names"]) + (2 if p["observed"] is not None else 0) for p in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(3.2 + 0.62 * len(column_names), sum(0.3 * h + 1.3 for h in heights) + 0.9),
        height_ratios=heights,
        squeeze=False,
    )
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        values, names = panel["values"], list(panel["row_names"])
        framed = panel["observed"] is not None
        if framed:
            first, last = panel["observed"]
            values = np.vstack([first, values, last])
            names = [panel["observed_names"][0], *names, panel["observed_names"][1]]
        heatmap(ax, values, xticklabels=column_names, yticklabels=names, vmin=low, vmax=high, fmt=fmt,
                cbar_label=value_label)  # fmt: skip
        if framed:
            for edge in (0.5, len(values) - 1.5):
                ax.axhline(edge, color="white", linewidth=4)
        for edge in np.cumsum(sections or [])[:-1]:
            ax.axvline(edge - 0.5, color="white", linewidth=2)  # cells are centred on integers
        ax.set_title(panel["title"], fontsize=10)
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, path)
