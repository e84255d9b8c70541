"""The look every figure shares: matplotlib (Agg) and seaborn imported only when a figure is drawn, the
Okabe-Ito palette for classes and viridis for heatmaps (both readable with the common colour-vision
deficiencies), and annotated heatmaps."""

import numpy as np

HEATMAP = "viridis"
# Okabe and Ito (2008), "Color Universal Design": eight colours told apart with any common colour-vision
# deficiency, with their yellow (#F0E442), all but invisible as small dots on white (MovieLens' eighth
# group), replaced by a mid grey. (seaborn's "colorblind" has three orange-browns.)
CLASS_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#999999"]
# A shape per class beside its colour, so that two classes whose colours are close in a crowd of small dots
# (the cuisine's Nordic black and Middle Eastern blue, East Asian orange and Latin American vermilion) are
# still told apart, with any colour vision.
CLASS_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


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


def class_markers(n):
    """n marker shapes, one per class: CLASS_MARKERS, repeated when a plot needs more than eight."""
    return [CLASS_MARKERS[i % len(CLASS_MARKERS)] for i in range(n)]


def wrap_name(name, width=18):
    """A long feature name on lines of about `width` characters, broken after '_', '/', '-' or a space
    (od280/od315_of_diluted_wines -> od280/od315_of_ | diluted_wines): names of neighbouring panels or
    ticks no longer run into each other, and every character stays."""
    import re

    lines, line = [], ""
    for piece in re.findall(r"[^_/\- ]+[_/\- ]?|[_/\- ]", name):
        if line and len(line) + len(piece) > width:
            lines.append(line.rstrip(" "))
            line = ""
        line += piece
    return "\n".join([*lines, line]) if line else "\n".join(lines)


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
