"""What the figures show, read back from the matplotlib objects before they are saved."""

import numpy as np
from matplotlib.colors import to_rgb

from common import plots
from common.autoencoders import AE
from common.models import GMVAE, VAE


def _drawn(monkeypatch):
    """Keep the figures a plot function would save and close."""
    figures = []
    for module in (plots.latent, plots.scores):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: figures.append(fig))
    return figures


def test_traversal_panels_share_the_one_colour_scale(monkeypatch):
    figures = _drawn(monkeypatch)
    values = np.stack([np.full((13, 4), 0.1), np.linspace(0.2, 0.9, 13 * 4).reshape(13, 4)])  # (2, 13, 4)
    plots.traversal_heatmaps("unused.png", values, ["a", "b", "c", "d"], "probability")
    images = [ax.images[0] for ax in figures[0].axes if ax.images]
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
