"""Figures every demo shares, by kind; common/figures.py decides which a run draws.

    style.py    the look: palette (Okabe-Ito for classes, viridis for heatmaps), annotated heatmaps
    codes.py    the held-out codes: latent.png, clusters.png and their prior components
    latent.py   what the decoder says across the latent space: decoded maps and traversals
    scale.py    axis ranges with a minimum span, so that noise is not drawn as a trend
    scores.py   a run's numbers: training curves, profiles, confusion, model selection, information
    anomalies.py  --anomalies: scores of normal and injected rows, ROC curves
    paths.py    straight paths in the latent space, decoded (interpolation.png)

Every axis carries the world's own names; docs/figures.md shows each figure.
"""

from common.plots.anomalies import anomaly_scores
from common.plots.codes import latent_clusters, latent_scatter
from common.plots.latent import (
    decoded_map,
    plane_points,
    traversal_grid,
    traversal_heatmaps,
    traversal_points,
)
from common.plots.paths import interpolation_paths
from common.plots.scores import (
    confusion_matrices,
    factor_heatmaps,
    model_selection,
    profiles_side_by_side,
    training_curves,
)
from common.plots.style import CLASS_COLORS, HEATMAP, _pyplot, class_colors, class_markers, heatmap

__all__ = [
    "CLASS_COLORS",
    "HEATMAP",
    "_pyplot",
    "anomaly_scores",
    "class_colors",
    "class_markers",
    "confusion_matrices",
    "decoded_map",
    "factor_heatmaps",
    "heatmap",
    "interpolation_paths",
    "latent_clusters",
    "latent_scatter",
    "model_selection",
    "plane_points",
    "profiles_side_by_side",
    "training_curves",
    "traversal_grid",
    "traversal_heatmaps",
    "traversal_points",
]
