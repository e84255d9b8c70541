"""Axis ranges that keep a change its true size: a minimum span per axis, so that an epoch-to-epoch wobble
or the spread of runs that differ by noise is not stretched over the whole panel into a trend."""

import numpy as np

# The narrowest range, in nats per row, of a panel of likelihoods, bounds or KL terms: a 0.005-nat wobble
# of a KL then fills 5% of its panel, not all of it.
MIN_NATS = 0.1


def at_least(ax, span, axis="y", values=None, floor=None):
    """Widen `axis` of `ax` to `span`, about the middle of `values` (default: of its limits), when
    `values` (default: the limits) cover less; never below `floor` (0 for a KL, a share or a count)."""
    get, put = (ax.get_ylim, ax.set_ylim) if axis == "y" else (ax.get_xlim, ax.set_xlim)
    low, high = get() if values is None else (float(np.nanmin(values)), float(np.nanmax(values)))
    if not (np.isfinite(low) and np.isfinite(high)) or high - low >= span:
        return
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    if floor is not None and low < floor:
        low, high = floor, floor + span
    put(low, high)


def covering(ax, span):
    """Both axes of a latent scatter at least `span` wide about the middle of what is drawn (for N(0, I):
    6, the prior's +-3 sd): codes that all sit within 0.05 of a point are drawn as the dot they are, not
    blown up over the panel as if they spread like the prior. It widens the data limits, so that an
    equal aspect (adjustable="datalim") can still widen one axis further."""
    (x0, y0), (x1, y1) = ax.dataLim.get_points()
    middle = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    ax.update_datalim([middle - span / 2, middle + span / 2])
    ax.autoscale_view()
