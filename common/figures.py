"""Which figures a run draws, from the run's objects; common/plots.py knows how to draw each kind.

Every figure is sent to `draw(plot, path, *numbers)` (common/speed/painter.py draws it in a second
process): what needs the model is computed here first. docs/figures.md shows and explains each one.

    latent.png, training.png, confusion.png   every model (confusion: rows with classes)
    decoded.png                               what the decoder says across the latent space
    generated.png                             models that can sample, on a world that knows its classes
    clusters.png, profiles.png                models that find clusters of their own (the gmvae)
    model_selection.png                       --clusters auto
    traversals.png, interpret.png             --interpret
    anomalies.png                             --anomalies
    interpolation.png                         straight paths in z decoded (common/latent_paths.py)

decoded.png, generated.png and profiles.png draw a panel or row per feature: worlds with too many
features to read that way (world.per_feature_figures = False) go without them.
"""

import sys

import numpy as np
import torch

from common import evaluate, latent_paths, plots

# How long a run waits for its figures once its numbers are written (a default run's take a few seconds).
FIGURE_SECONDS = 120


def draw_shared(draw, folder, data, model, history, z_test, clusters, report, device, usage=None):
    """The figures every demo shares. Without a world (--data) there is no truth to draw beside the model;
    without a label column the rows have no classes to colour by. usage: test.latent_usage, whose collapsed
    dimensions latent.png and clusters.png name."""
    world, test = data.world, data.test
    latent(draw, folder, world, model, test, z_test, usage)
    if history:  # a model loaded from a folder without history.csv has none
        training(draw, folder, data, model, history)
    if world.per_feature_figures and model.decodes_z_alone:
        decoded(draw, folder, world, model, z_test, device)
    if model.decodes_z_alone:
        latent_paths.interpolation(draw, folder, world, model, test, z_test, device, clusters)
    if world.per_feature_figures:
        generated(draw, folder, world, model, test, device)
    if world.n_classes:
        confusion(draw, folder, world, model, test, clusters, report["recovery"]["method"])
    if model.cluster_latent and model.decodes_z_alone and world.n_classes:
        found_clusters(draw, folder, world, model, test, z_test, clusters, device, usage)
    if "model_selection" in report:
        model_selection(draw, folder, world, report["model_selection"])


def latent(draw, folder, world, model, test, z_test, usage=None):
    labelled = world.n_classes > 0
    title = "Latent means of held-out rows" + (f", coloured by true {world.class_noun}" if labelled else "")
    if not model.decodes_z_alone:
        title += (
            f"\n(the model is given the {world.class_noun}, so z holds only the variation within one: "
            "overlap is expected)"
        )
    draw(
        plots.latent_scatter,
        folder.file("latent.png"),
        z_test,
        test.labels if labelled else np.zeros(len(test), dtype=int),
        world.class_names if labelled else ["all held-out rows"],
        title,
        legend_title=f"true {world.class_noun}" if labelled else "",
        usage=usage,
    )


def training(draw, folder, data, model, history):
    """The training curves, with the world's exact log-likelihood of the same rows beside each ELBO."""
    world = data.world
    truth, truth_of = None, "log p(x)"
    if world.has_truth and model.has_likelihood:
        truth = {
            "training rows": bound_target(world, data.train, labelled_rows(data, data.x_fit, data.train)),
            "held-out rows": bound_target(world, data.test, labelled_rows(data, data.x_valid, data.test)),
        }
        if data.labelled is not None:  # --labels: a few training rows with their class, none held out
            truth_of = {
                "training rows": f"log p(x), or log p(x, {world.class_noun}) of a labelled row",
                "held-out rows": "log p(x)",
            }
        elif model.trained_with_labels:
            truth_of = f"log p(x, {world.class_noun})"
    draw(
        plots.training_curves,
        folder.file("training.png"),
        history,
        model.kl_term,
        f"Training of the {model.kind}",
        truth=truth,
        truth_of=truth_of,
        bound="ELBO" if model.train_samples == 1 else f"{model.train_samples}-sample IWAE bound",
    )


def labelled_rows(data, x, rows):
    """Which of `rows` (the training or held-out Sample) the model is given the class of, (n,) bool: the
    rows of `x` (what it trains or is validated on) that carry a one-hot class."""
    if x.shape[1] == data.world.n_features:
        return np.zeros(len(rows), dtype=bool)
    return x[:, data.world.n_features :].sum(1).cpu().numpy() > 0


def bound_target(world, rows, labelled):
    """The world's mean exact log-likelihood of what the model's ELBO bounds on `rows`: log p(x), and for
    a row whose class the model is given (`labelled` (n,) bool), log p(x, class) = log p(x) + log p(class |
    x)."""
    log_p = world.reference_log_prob(rows.x)
    if labelled.any():
        posterior = world.posterior(rows.x[labelled])
        log_p[labelled] += np.log(posterior[np.arange(labelled.sum()), rows.labels[labelled]])
    return float(log_p.mean())


def decoded(draw, folder, world, model, z_test, device):
    """A 2-D latent: one map per feature over the plane; more dimensions (or one): each swept over its
    held-out codes' mean +- 3 sd, the others held at their mean, where the rows are (the origin of an
    8-D gmvae lies between its clusters, where no row sits)."""

    def decode(z):
        with torch.no_grad():
            return model.decode_mean(torch.as_tensor(z, dtype=torch.float32, device=device)).cpu().numpy()

    if model.latent_dim != 2:
        center, scale = z_test.mean(0), z_test.std(0)
        points = plots.traversal_points(model.latent_dim, center=center, scale=scale)
        values = decode(points.reshape(-1, model.latent_dim)).reshape(*points.shape[:2], -1)
        draw(
            plots.traversal_heatmaps,
            folder.file("decoded.png"),
            values,
            world.feature_names,
            world.value_label,
            points[np.arange(model.latent_dim), :, np.arange(model.latent_dim)],  # (Z, steps) each sweep
            "over its held-out codes' mean \u00b1 3 sd, the others held at their mean",
        )
        return
    reach = max(3.0, float(np.abs(z_test).max()) * 1.1)  # [-3, 3]^2 holds most of N(0, I), and every code
    note = model.decode_rule
    draw(
        plots.decoded_map,
        folder.file("decoded.png"),
        decode(plots.plane_points((-reach, reach))),
        world.feature_names,
        world.value_label,
        (-reach, reach),
        note=note,
    )


@torch.no_grad()
def generated(draw, folder, world, model, test, device):
    """The world's mean features per class beside the model's: generated given each class by a model
    trained with labels; otherwise generated and weighted by the world's posterior p(class | x), which
    would give the world's means exactly if the model were the world."""
    if model.trained_with_labels:
        n = 2000
        right = np.stack(
            [
                model.sample(n, torch.full((n,), k, device=device)).mean(0).cpu().numpy()
                for k in range(world.n_classes)
            ]
        )
        how = f"generated by the model, given each {world.class_noun}"
    elif model.has_likelihood and world.has_truth:
        rows = model.sample(max(len(test), 5000)).cpu().numpy()
        weights = world.posterior(rows)  # (n, K)
        right = (weights.T @ rows) / weights.sum(0)[:, None]
        how = f"generated by the model, weighted by p({world.class_noun} | x)"
    else:
        return
    draw(
        plots.profiles_side_by_side,
        folder.file("generated.png"),
        class_profiles(world, test),
        right,
        world.class_names,
        world.feature_names,
        (
            f"{'the world' if world.has_truth else 'your table'}: mean of each feature per "
            f"{world.class_noun}",
            how,
        ),
        world.value_label,
    )


def confusion(draw, folder, world, model, test, clusters, method):
    """Share of each true class in each recovered cluster (matched to classes), and the Bayes-optimal's."""
    found = clusters if model.trained_with_labels else evaluate.match_clusters(test.labels, clusters)
    panels = {f"{model.kind}: {method}": (test.labels, found)}
    if world.has_truth:
        panels[f"Bayes-optimal: argmax p({world.class_noun} | x)"] = (
            test.labels,
            world.posterior(test.x).argmax(1),
        )
    draw(
        plots.confusion_matrices,
        folder.file("confusion.png"),
        panels,
        world.class_names,
        class_noun=world.class_noun,
        xlabel=f"predicted {world.class_noun}" if model.trained_with_labels else None,
    )


def class_profiles(world, test):
    """The world's mean features per class, exact when the world knows them, else from held-out rows."""
    exact = world.class_means()
    if exact is not None:
        return exact
    return np.stack([test.x[test.labels == k].mean(0) for k in range(world.n_classes)])


@torch.no_grad()
def found_clusters(draw, folder, world, model, test, z_test, clusters, device, usage=None, n_draws=2000):
    """clusters.png: the latent space by true class and by found cluster, with each prior component;
    profiles.png: the world's mean features per class beside each cluster's decoded profile."""
    k = model.n_clusters
    if model.trained_with_labels:  # --labels: cluster k is class k
        mapping = dict(enumerate(range(k)))
    else:
        mapping = evaluate.cluster_to_class(test.labels, clusters)
    names = (
        list(world.class_names)
        if model.trained_with_labels
        else evaluate.cluster_names(world.class_names, mapping, k)
    )
    order = sorted(range(k), key=lambda c: (mapping.get(c, -1) < 0, mapping.get(c, -1), c))  # as the classes
    _, prior_mu, prior_log_var = model.prior()
    components = [
        (prior_mu[c].cpu().numpy(), np.exp(prior_log_var[c].cpu().numpy()), names[c]) for c in range(k)
    ]
    draw(
        plots.latent_clusters,
        folder.file("clusters.png"),
        z_test,
        test.labels,
        world.class_names,
        clusters,
        names,
        mapping,
        components,
        world.class_noun,
        model.recovery_method,
        model.prior_picture,
        usage=usage,
    )
    if not world.per_feature_figures:
        return
    # E[x | y] of the model: decode draws z ~ p(z | y) with that y, average the expected features.
    profiles = []
    for c in order:
        z = prior_mu[c] + torch.exp(0.5 * prior_log_var[c]) * torch.randn(
            n_draws, model.latent_dim, device=device
        )
        profiles.append(model.decode_mean(z, torch.full((n_draws,), c, device=device)).mean(0).cpu().numpy())
    draw(
        plots.profiles_side_by_side,
        folder.file("profiles.png"),
        class_profiles(world, test),
        np.stack(profiles),
        (world.class_names, [names[c] for c in order]),
        world.feature_names,
        (
            f"{'the world' if world.has_truth else 'your table'}: mean of each feature "
            f"per {world.class_noun}",
            "the model: decoded profile of each cluster",
        ),
        world.value_label,
    )


def model_selection(draw, folder, world, selection):
    """--clusters auto: the criterion against K, and the K chosen."""
    by_nll = "nll" in selection
    draw(
        plots.model_selection,
        folder.file("model_selection.png"),
        selection["k"],
        selection["nll" if by_nll else "bic"],
        selection["best_k"],
        world.n_classes,
        "validation NLL (nats per row)" if by_nll else "BIC of the latent mixture",
        selection.get("standard_error"),
        "the smallest K within 1 s.e. of the lowest NLL, on rows held back from training\n"
        "(bars: s.e. of each K's difference from it)"
        if by_nll
        else "the lowest BIC",
    )


def interpretation(draw, folder, world, summary, traversals):
    """--interpret: traversals.png and interpret.png (magnitude of change beside mutual information). A
    world with feature groups (the movie world's 160 movies) shows each group's mean, not each feature.
    A model with clusters (traversals centred on each cluster, not the origin) is swept within each
    cluster, while the scores cross clusters: the figures say which (docs/interpret.md)."""
    from common.interpret import group_labels, group_means

    names, value_label, sections = world.feature_names, world.value_label, None
    groups = world.feature_groups()
    if groups:
        traversals = {c: (group_means(v, groups), grid) for c, (v, grid) in traversals.items()}
        names = group_labels(groups)
        value_label = f"mean decoded {value_label} within the group"
        sections = [len(members) for members in groups.values()]
    by_cluster = list(traversals) != ["origin"]
    draw(plots.traversal_grid, folder.file("traversals.png"), traversals, names, value_label, sections,
         by_cluster)  # fmt: skip
    draw(
        plots.factor_heatmaps,
        folder.file("interpret.png"),
        summary["information_gain"],
        summary["normalised_mi"],
        summary["mig"],
        by_cluster,
    )


def anomalies(draw, folder, section, injected, scores):
    """--anomalies: the model's log p(x) (an autoencoder's reconstruction score) for normal and injected
    rows, and every scorer's ROC curve (common/anomalies.py)."""
    from common.anomalies import SCORERS, anomaly_ranking, injected_rows

    shown = "model" if "model" in scores else "reconstruction"
    draw(
        plots.anomaly_scores,
        folder.file("anomalies.png"),
        injected,
        scores[shown],
        "model's log p(x) (importance-sampled)" if shown == "model" else "minus the reconstruction error",
        {SCORERS[name]: anomaly_ranking(s) for name, s in scores.items()},
        {SCORERS[name]: s["roc_auc"] for name, s in section["scores"].items()},
        f"{injected_rows(section)} from outside the {'world' if 'world' in scores else 'table'} among "
        f"{len(injected)} held-out rows",
    )


def await_drawn(job, painter, stop):
    """The figures, once the numbers are written: at most FIGURE_SECONDS more, so that none can keep the
    numbers from the run folder; those not drawn by then are skipped, named on stderr and in metrics.json
    (`figures_skipped`). A Ctrl-C before or during the wait keeps the figures drawn so far, drops the
    rest and names them; the run is then "interrupted" if it stopped anything."""
    dropped = painter.cancel() if stop.requested else []  # after Ctrl-C: only those already begun
    skipped = painter.finish(draw_here=not stop.requested, timeout=FIGURE_SECONDS, stop=stop)
    late = [] if stop.requested else skipped  # not drawn for want of time, not for a Ctrl-C
    if late:
        print(
            f"{job.args.prog}: note: {len(late)} figure(s) not drawn within {FIGURE_SECONDS} s of the "
            f"numbers were skipped ({', '.join(late)}); every number is in metrics.json",
            file=sys.stderr,
        )
    if dropped or skipped:
        job.report["figures_skipped"] = dropped + skipped
        if stop.requested:  # exit 130, and metrics.json says why
            job.report["status"] = "interrupted"
        job.folder.save_metrics(job.report)
