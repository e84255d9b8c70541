"""What the figures show, read back from the matplotlib objects before they are saved."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from common import plots
from common.autoencoders import AE
from common.models import GMVAE, VAE


@pytest.fixture(autouse=True)
def _close_figures():
    """The figures the tests keep open (more than 20 is a warning, and warnings fail)."""
    yield
    plots._pyplot()[0].close("all")


def _drawn(monkeypatch):
    """Keep the figures a plot function would save and close."""
    from common.plots import codes
    from common.recsys import plots as recsys_plots

    figures = []
    for module in (plots.latent, plots.scores, codes, recsys_plots):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: figures.append(fig))
    return figures


def test_traversal_panels_share_the_one_colour_scale(monkeypatch):
    figures = _drawn(monkeypatch)
    values = np.stack([np.full((13, 4), 0.1), np.linspace(0.2, 0.9, 13 * 4).reshape(13, 4)])  # (2, 13, 4)
    plots.traversal_heatmaps("unused.png", values, ["a", "b", "c", "d"], "probability")
    images = [ax.images[0] for ax in figures[0].axes if ax.images and ax.get_title()]
    assert len(images) == 2  # a panel per latent dimension
    assert all((image.norm.vmin, image.norm.vmax) == (0.1, 0.9) for image in images)


def test_heatmap_writes_what_seaborn_writes_in_each_cell():
    """plots.heatmap draws with imshow to skip seaborn's figure draws; its annotations (text, place,
    ink on dark and light cells) are those of seaborn.heatmap on the same values."""
    plt, sns = plots._pyplot()
    values = np.array([[0.0, 0.25, np.nan], [0.5, 0.75, 1.0]])
    fig, (ours, theirs) = plt.subplots(1, 2)
    plots.heatmap(ours, values, vmin=0, vmax=1, fmt=".2f", xticklabels=list("abc"), yticklabels=["r", "s"])
    sns.heatmap(values, ax=theirs, cmap=plots.HEATMAP, vmin=0, vmax=1, annot=True, fmt=".2f", cbar=False)

    def cells(ax, offset):
        return {
            (round(t.get_position()[1] - offset), round(t.get_position()[0] - offset)): (
                t.get_text(),
                t.get_color(),
            )
            for t in ax.texts
        }

    assert cells(ours, 0.0) == cells(theirs, 0.5)  # seaborn's cells are centred on half-integers
    assert len(ours.texts) == 5  # no number in the missing cell
    assert {color for _, color in cells(ours, 0.0).values()} == {".15", "w"}  # both inks occur
    assert [label.get_text() for label in ours.get_xticklabels()] == ["a", "b", "c"]
    plt.close(fig)


def test_decoded_map_draws_each_feature_over_the_plane_it_was_decoded_on(monkeypatch):
    figures = _drawn(monkeypatch)
    points = plots.plane_points((-4.0, 4.0), steps=5)
    values = np.column_stack([points[:, 0], points[:, 1]])  # feature 1 = z1, feature 2 = z2
    plots.decoded_map("unused.png", values, ["first", "second"], "value", (-4.0, 4.0))
    images = [ax.images[0] for ax in figures[0].axes if ax.images]
    first, second = (image.get_array() for image in images)
    assert first.shape == (5, 5) and images[0].get_extent() == [-4.0, 4.0, -4.0, 4.0]
    assert np.allclose(first[0], np.linspace(-4, 4, 5))  # z1 grows along each row (x axis)
    assert np.allclose(second[:, 0], np.linspace(-4, 4, 5))  # z2 up the rows (origin="lower")


def _history(betas, kl=1.0, held_out=True):
    rows = [
        {"epoch": e + 1, "loss": 5.0 - e, "recon": 4.0 - e, "kl": kl, "beta": b} for e, b in enumerate(betas)
    ]
    return [row | {"test_elbo": -row["loss"]} for row in rows] if held_out else rows


def test_training_curves_name_what_each_model_optimises(monkeypatch):
    figures = _drawn(monkeypatch)
    plots.training_curves("unused.png", _history([1.0] * 3, kl=0.0), AE.kl_term, "ae")
    plots.training_curves("unused.png", _history([0.5, 1.0, 1.0]), GMVAE.kl_term, "gmvae")
    implicit = _history([0.1, 0.2, 0.2], held_out=False)
    plots.training_curves("unused.png", implicit, VAE.kl_term, "Mult-VAE, fold 1")
    autoencoder, gmvae, implicit = ([ax for ax in fig.axes if ax.get_title()] for fig in figures)
    assert len(autoencoder) == 2 and "no ELBO" in autoencoder[0].get_title()  # no KL panel to leave empty
    assert gmvae[2].get_title() == "KL(q(z, y|x) || p(z, y)), training rows"
    assert [line.get_label() for line in gmvae[0].get_lines()] == [
        "training: -(recon + beta KL)",
        "held-out ELBO",
    ]
    assert implicit[0].get_title() == "training objective (higher is better)"  # no ELBO drawn at beta < 1
    assert figures[2]._suptitle.get_text() == "Mult-VAE, fold 1"


def test_training_curves_draw_the_worlds_log_likelihood_beside_each_elbo(monkeypatch):
    figures = _drawn(monkeypatch)
    truth = {"training rows": -1.5, "held-out rows": -1.2}
    plots.training_curves("unused.png", _history([1.0] * 3), GMVAE.kl_term, "gmvae", truth=truth)
    plots.training_curves(
        "unused.png", _history([0.5, 1.0, 1.0]), VAE.kl_term, "vae", truth=truth
    )  # annealed
    plots.training_curves("unused.png", _history([1.0] * 3, kl=0.0), AE.kl_term, "ae", truth=truth)
    elbo, annealed, autoencoder = (fig.axes[0] for fig in figures)

    def dotted(ax):
        return {
            line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"
        }

    assert dotted(elbo) == {"world's log p(x), training rows": -1.5, "world's log p(x), held-out rows": -1.2}
    colour = {line.get_label(): to_rgb(line.get_color()) for line in elbo.get_lines()}  # each in its curve's
    assert colour["training ELBO"] == colour["world's log p(x), training rows"]
    assert colour["held-out ELBO"] == colour["world's log p(x), held-out rows"]
    low, high = elbo.get_ylim()
    assert low < -4.0 and high > -1.2  # every curve and line inside the panel
    assert dotted(annealed) == {"world's log p(x), held-out rows": -1.2}  # beta < 1: no ELBO on training rows
    assert dotted(autoencoder) == {}  # an autoencoder's curve is no bound on log p(x)
    assert [text.get_text() for text in figures[0].legends[0].get_texts()][2:] == list(dotted(elbo))


def test_a_wobble_of_a_loss_term_is_not_drawn_as_a_trend(monkeypatch):
    """The KL of a few epochs that moves by 1% fills 5% of its size, not the whole panel; one that moves
    by 20% keeps the panel matplotlib gives it."""
    figures = _drawn(monkeypatch)
    wobble = [{**row, "kl": 1.48 + 0.015 * (e % 2)} for e, row in enumerate(_history([1.0] * 4))]
    trend = [{**row, "kl": 1.0 + 0.1 * e} for e, row in enumerate(_history([1.0] * 4))]
    plots.training_curves("unused.png", wobble, VAE.kl_term, "wobble")
    plots.training_curves("unused.png", trend, VAE.kl_term, "trend")
    low, high = figures[0].axes[2].get_ylim()
    assert high - low >= 0.05 * 1.495 - 1e-9 and low < 1.48 and high > 1.495
    low, high = figures[1].axes[2].get_ylim()
    assert high - low < 0.5  # autoscaled around 1.0 .. 1.3


NAMES = ["healthy", "cold", "flu"]


def _codes(n=300, latent_dim=2, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    return spread * (rng.standard_normal((n, latent_dim)) + labels[:, None]), labels


def _components(latent_dim=2, centres=((0.0, 0.0), (1.0, 0.0), (2.0, 0.0))):
    return [(np.array(c[:latent_dim]), np.full(latent_dim, 0.25), f"c{i}") for i, c in enumerate(centres)]


def _clusters(z, labels, components):
    plots.latent_clusters(
        "unused.png", z, labels, NAMES, labels, ["cluster 1", "cluster 2", "cluster 3"],
        {0: 0, 1: 1, 2: 2}, components, "disease",
    )  # fmt: skip


def test_a_1d_latent_is_drawn_as_lanes_along_z1_with_no_invented_second_axis(monkeypatch):
    from matplotlib.patches import Ellipse

    figures = _drawn(monkeypatch)
    z, labels = _codes(latent_dim=1)
    plots.latent_scatter("unused.png", z, labels, NAMES, "codes")
    _clusters(z, labels, _components(latent_dim=1))
    (latent,), clusters = figures[0].axes, figures[1].axes
    for ax in (latent, *clusters):
        assert ax.get_xlabel() == "z1" and "z2" not in ax.get_ylabel()
        lanes = [t.get_text() for t in ax.get_yticklabels()]  # one per class or cluster, with its rows
        assert len(lanes) == 3 and all(lane.endswith(" (100)") for lane in lanes)
        low, high = ax.get_xlim()
        assert high - low >= 6 - 1e-9  # the prior's +-3 sd at least
        assert not [p for p in ax.patches if isinstance(p, Ellipse)]


def test_a_collapsed_latent_is_drawn_on_the_priors_scale_and_named(monkeypatch):
    figures = _drawn(monkeypatch)
    z, labels = _codes(spread=0.005)  # codes within 0.02 of a point, as at --beta 4
    usage = {"kl_per_dim": [0.004, 0.002], "inactive": ["z1", "z2"], "threshold": 0.01}  # test.latent_usage
    plots.latent_scatter("unused.png", z, labels, NAMES, "codes", usage=usage)
    plots.latent_clusters(
        "unused.png", z, labels, NAMES, labels, ["cluster 1", "cluster 2", "cluster 3"],
        {0: 0, 1: 1, 2: 2}, _components(centres=((0.0, 0.0),) * 3), "disease", usage=usage,
    )  # fmt: skip
    latent, clusters = figures[0].axes[0], figures[1].axes[0]
    for ax in (latent, clusters):
        ax.apply_aspect()
        for low, high in (ax.get_xlim(), ax.get_ylim()):
            assert high - low >= 6 - 1e-9
    assert "z1, z2 carry almost no information" in latent.get_title()
    assert "z1, z2 carry almost no information" in figures[1]._suptitle.get_text()


def test_a_used_latent_keeps_its_own_scale(monkeypatch):
    figures = _drawn(monkeypatch)
    z, labels = _codes(spread=4.0)
    plots.latent_scatter("unused.png", z, labels, NAMES, "codes")
    low, high = figures[0].axes[0].get_xlim()
    assert high - low > 12 and "information" not in figures[0].axes[0].get_title()


def test_clusters_png_sizes_each_code_by_its_rows(monkeypatch):
    """Many identical rows (the 40% healthy with no symptom) share one code: one dot, 100 times the area."""
    figures = _drawn(monkeypatch)
    z, labels = _codes(n=60)
    z[:40], labels[:40] = z[0], 0  # 40 rows of one code, 20 distinct ones
    _clusters(z, labels, _components())
    sizes = figures[0].axes[0].collections[0].get_sizes()
    assert len(sizes) == 21 and sizes.max() == 40 * sizes.min()
    assert "dot area = number of rows" in figures[0]._suptitle.get_text()


def test_crowded_cluster_numbers_are_moved_apart_and_each_class_has_its_own_shape(monkeypatch):
    figures = _drawn(monkeypatch)
    z, labels = _codes()
    _clusters(z, labels, _components(centres=((0.0, 0.0), (0.02, 0.0), (0.0, 0.02))))  # three on one spot
    ax = figures[0].axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    places = np.array([[(t.xyann[0] - x0) / (x1 - x0), (t.xyann[1] - y0) / (y1 - y0)] for t in ax.texts])
    assert len(places) == 3
    gaps = [np.hypot(*(places[i] - places[j])) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) >= 0.06  # apart by more than a number's box, each with a line to its centre
    shapes = [h.get_marker() for h in ax.get_legend().legend_handles]
    assert len(set(shapes)) == 3


def test_seven_classes_get_seven_shapes_beside_seven_colours():
    assert len(set(plots.class_markers(7))) == 7
    assert len({tuple(c) for c in plots.class_colors(7)}) == 7


def test_traversals_sweep_around_a_centre_by_each_dimensions_spread():
    points = plots.traversal_points(2, center=[5.0, -1.0], scale=[2.0, 0.1], steps=5)
    assert np.allclose(points[0, :, 0], [-1.0, 2.0, 5.0, 8.0, 11.0]) and np.all(points[0, :, 1] == -1.0)
    assert np.allclose(points[1, :, 1], [-1.3, -1.15, -1.0, -0.85, -0.7]) and np.all(points[1, :, 0] == 5.0)


def test_long_feature_names_are_wrapped_not_run_into_each_other(monkeypatch):
    figures = _drawn(monkeypatch)
    names = ["alcohol", "od280/od315_of_diluted_wines"]
    plots.traversal_heatmaps("unused.png", np.zeros((8, 13, 2)), names, "z-score")
    plots.decoded_map("unused.png", np.zeros((25, 2)), names, "z-score")
    traversal, decoded = figures
    assert len([ax for ax in traversal.axes if ax.images]) == 8  # two rows of four, not one row of eight
    assert [t.get_text() for t in traversal.axes[0].get_yticklabels()][1] == "od280/od315_of_\ndiluted_wines"
    assert decoded.axes[1].get_title() == "od280/od315_of_\ndiluted_wines"


def test_a_collapsed_kl_wobble_is_drawn_near_zero_not_over_the_whole_panel(monkeypatch):
    figures = _drawn(monkeypatch)
    history = [{**row, "kl": 0.0005 + 0.005 * (e % 2)} for e, row in enumerate(_history([1.0] * 6))]
    plots.training_curves("unused.png", history, VAE.kl_term, "collapsed")
    low, high = figures[0].axes[2].get_ylim()
    assert low == 0.0 and high >= 0.1  # a KL cannot be negative; 0.1 nats at least


def _outside(fig, ax):
    """True when the legend of `ax` does not overlap its panel."""
    fig.canvas.draw()
    legend, panel = ax.get_legend().get_window_extent(), ax.get_window_extent()
    return legend.x0 >= panel.x1 or legend.x1 <= panel.x0 or legend.y1 <= panel.y0 or legend.y0 >= panel.y1


def test_recommender_legends_sit_beside_or_below_the_curves(monkeypatch):
    from common.recsys.plots import ranking_history, recall_curves

    figures = _drawn(monkeypatch)
    ks = np.arange(1, 101)
    recall_curves("unused.png", ks, {"model": ks / 100, "popularity": ks / 150, "oracle": ks / 90})
    history = [
        {"fold": f, "epoch": e, "ndcg@100": 0.3 + 0.001 * (e % 2), "beta": 0.1 * e}
        for f in (1, 2)
        for e in range(1, 6)
    ]
    ranking_history("unused.png", history)
    curves, ranking = figures
    assert _outside(curves, curves.axes[0]) and _outside(ranking, ranking.axes[0])
    low, high = ranking.axes[0].get_ylim()
    assert high - low >= 0.05  # a 0.001 wobble of NDCG is not stretched into a trend


def test_interpret_figures_say_what_each_measures_for_a_model_with_clusters(monkeypatch):
    figures = _drawn(monkeypatch)
    traversals = {"cluster 1 ~ flu": (np.zeros((2, 13, 3)), np.linspace(-3, 3, 13))}
    plots.traversal_grid("unused.png", traversals, ["a", "b", "c"], "probability", by_cluster=True)
    gains, mi = {"disease": [1.0, 0.7], "severity": [0.06, 0.02]}, {"disease": [0.46, 0.45]}
    plots.factor_heatmaps("unused.png", gains, mi, 0.01, by_cluster=True)
    plots.factor_heatmaps("unused.png", gains, mi, 0.01)
    traversal, clusters, origin = figures
    assert "within each cluster" in traversal._suptitle.get_text()
    titles = [ax.get_title() for ax in clusters.axes if ax.get_title()]
    assert "a shift may change the cluster" in titles[0] and "all clusters together" in titles[1]
    assert any("traversals.png holds each cluster fixed" in t.get_text() for t in clusters.texts)
    assert not origin.texts and "cluster" not in " ".join(ax.get_title() for ax in origin.axes)
