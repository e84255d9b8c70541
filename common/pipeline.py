"""One run of a demo, from checked options to a finished run folder, as named stages:

    data      the world's sample (or the --data table) split into training and held-out rows, and the
              classical mixture fitted on the training rows (a baseline, and the gmvae's start)
    model     trained (best of --restarts), continued (--resume) or loaded (--load): common/fitting.py
    recover   each held-out row's cluster, scored against the true cause and the Bayes-optimal classifier
    figures   handed to a second process (common/speed/painter.py), drawn while this one goes on
    score     held-out likelihood against the world's, reconstruction, baselines, the demo's own numbers
    write     the numbers, then the figures (figures.FIGURE_SECONDS at most), through the run folder's writer
              (common/runio.py) into a staging folder that replaces --out as a whole; then a summary

run() returns a Result: the exit code (0 done, 1 diverged, 130 interrupted), the model and its metrics;
how a run is written and what it says last, however it ends, is common/run_end.py.
Bad input found on the way raises UsageError (one line, exit 2). Heavy libraries are imported inside
the functions, after the command line has been parsed.
"""

import time
from dataclasses import dataclass

from common import progress  # light: sys only
from common.run_end import diverged, ended, finish, interrupted  # light: os and sys only


@dataclass
class Demo:
    """What a demo adds to a run. figures(folder, draw=, world=, model=, test=, device=) sends its figures
    to draw(plot, path, *args) (plot importable, its arguments plain numbers); metrics(folder=, model=,
    train=, test=, mixture=, device=) returns its own numbers for metrics.json; summary(metrics) returns
    more lines for the printed summary."""

    figures: object = None
    metrics: object = None
    summary: object = None


@dataclass
class Job:
    """One run under way: what every stage reads, and `report`, the metrics it fills in."""

    args: object  # the checked options
    data: object  # common.data.Data
    folder: object  # common.runio.RunFolder
    config: dict  # config.json
    report: dict  # metrics.json, as far as the run has got
    device: str
    demo: Demo


def run(world, args, demo=None):
    """Run the demo of `args` on `world`; return a Result."""
    import numpy as np
    import torch

    from common import fitting, runio
    from common.data import load_data
    from common.speed.allocator import keep_freed_memory
    from common.train import device_for

    started = time.perf_counter()
    device = device_for(args.device)
    keep_freed_memory()  # common/speed/allocator.py: page faults cost 10-15% of a gmvae's step
    torch.manual_seed(args.seed)  # the one seeding block: torch for the model, numpy for the data
    saved = fitting.saved_checkpoint(args)  # --load, --resume: read first, its data note before the data's
    data = load_data(world, args, np.random.default_rng(args.seed), device)
    checkpoint = fitting.checked_checkpoint(args, data.world, saved)
    config = args.config(demo=data.world.name, device=device)
    job = Job(args, data, runio.RunFolder(args.out), config, metrics_head(args, data), device, demo or Demo())
    job.folder.begin(config)  # the files go to a staging folder (common/staging.py)
    try:
        return stages(job, checkpoint, started)
    finally:  # in the place of --out's earlier run if it got to metrics.json; else --out stays as it was
        job.folder.end()


def stages(job, checkpoint, started):
    """model, then recover, figures and score (evaluate), then write: the numbers before the figures."""
    from common import figures, fitting, staging
    from common.speed.painter import Painter
    from common.train import Diverged, Interrupted, StopRequest

    args = job.args
    # The Painter inside the StopRequest: a Ctrl-C while the figure worker ends only sets the flag.
    with StopRequest() as stop, Painter(args.visualize) as painter:
        train_started = time.perf_counter()
        try:
            model, history, state, choices = fitting.model(args, job.data, checkpoint, stop)
        except Diverged as err:  # the model holds the last good weights: keep them, say what to try
            return diverged(job, err)
        except Interrupted as err:
            return interrupted(job, err.model, err.history, err.state)
        train_seconds = time.perf_counter() - train_started
        job.report.update(choices)
        if stop.requested:  # the signal came after the last batch: keep the trained model, skip the rest
            return interrupted(job, model, history, state)
        staging.pause_point("evaluation")  # tests: a kill -9 while a rerun evaluates
        try:  # a second Ctrl-C or SIGTERM here (the first lets the evaluation finish) keeps the model
            draw = painter.draw if args.visualize and not stop.requested else None
            if args.visualize and draw is None:  # stopped before the first figure was sent
                job.report["figures_skipped"] = "all"
            interpret_seconds = evaluate(job, model, history, draw)
        except KeyboardInterrupt:  # the figures not yet drawn are dropped, or ended with the worker
            if args.visualize:
                job.report["figures_skipped"] = painter.cancel() + painter.pending()
            return interrupted(job, model, history, state, evaluating=True)
        seconds = {
            "train": train_seconds,
            "total": time.perf_counter() - started,
            "interpret": interpret_seconds,
        }
        finish(job, model, history, state, seconds, stop.requested)
        if args.visualize:  # drawn in a second process meanwhile: the wait is for the last ones
            progress.stage(args, "figures: waiting for the last ones to be drawn")
        figures.await_drawn(job, painter, stop)
        stopped = job.report["status"] == "interrupted"  # a Ctrl-C after this finds the run complete
        staging.pause_point("complete")  # tests: a signal once every file is written
    return ended(job, model, stopped)


def metrics_head(args, data):
    """metrics.json's first keys: what ran on what."""
    world = data.world
    from common.model_table import MODEL_OPTION_DEFAULTS

    head = {
        "demo": world.name,
        "model": args.model,
        # what kind of that model: its depth and the options of its kind (--prior, --flow, --iw-train...)
        "model_options": {
            name: getattr(args, name)
            for name in ("hidden_layers", *MODEL_OPTION_DEFAULTS)
            if getattr(args, name, None) is not None
        },
        "argv": args.argv,
        "seed": args.seed,
        "status": "completed",
    }
    if data.warnings:  # what the run doubts about its input (common/data.py), as printed on stderr
        head["warnings"] = list(data.warnings)
    head["data"] = {
        "source": "synthetic" if world.has_truth else f"csv: {args.data}",
        "n_train": len(data.train),
        "n_test": len(data.test),
        "n_features": world.n_features,
        "n_classes": world.n_classes,
    }
    if not world.has_truth:  # a --data table: its constant columns, left out ([] when none)
        head["data"]["dropped_constant_columns"] = world.table.dropped_constant
    if getattr(args, "adapted_to_table", None):  # defaults fitted to the table (common/data.py)
        head["data"]["adapted_to_table"] = args.adapted_to_table
    if args.load is not None:
        head["loaded_from"] = args.load
    if args.resume is not None:
        head["resumed_with"] = args.resumed_with
    return head


# ---- recover, figures, score, interpret -----------------------------------------------------------------


def evaluate(job, model, history, draw):
    """recover, figures (drawn meanwhile by `draw`, when given), score, interpret (with --interpret: its
    seconds, else None). The figures' own random draws leave the run's untouched."""
    import torch

    from common.evaluate import latent_usage

    progress.stage(job.args, "recovery: the held-out rows' latent codes and clusters")
    z_test, clusters = recover(job, model)
    usage = latent_usage(model, job.data.x_test) if model.has_likelihood else {}  # posterior collapse
    if draw is not None:
        with torch.random.fork_rng(devices=[] if job.device == "cpu" else None):
            draw_figures(job, draw, model, history, z_test, clusters, usage.get("latent_usage"))
    found = score(job, model, usage)
    if draw is not None and found is not None:  # --anomalies: anomalies.png
        from common import figures

        figures.anomalies(draw, job.folder, job.report["anomalies"], *found)
    return interpret(job, model, z_test, clusters, draw) if job.args.interpret else None


def recover(job, model):
    """Latent codes of the held-out rows and each one's cluster; recovery of the hidden cause beside the
    Bayes-optimal classifier that knows the world. Returns (codes (n, Z), clusters (n,))."""
    import numpy as np

    from common import evaluate

    args, data, report = job.args, job.data, job.report
    world, test = data.world, data.test
    report["test"] = {}  # filled in by score(), after the figures are on their way: it keeps its place
    z_test = evaluate.latent_codes(model, data.x_test)
    if not model.cluster_latent:  # a continuous latent: a Gaussian mixture on its codes
        clusters = latent_clusters(args, world, model, data.x_train, z_test, report)
    else:  # the model's own discrete latent: argmax q(y | x)
        if model.decodes_z_alone:  # not the cvae, whose clusters are given
            report["clusters"] = evaluate.cluster_usage(model, data.x_train)
        clusters = evaluate.cluster_assignments(model, data.x_test)
    if world.n_classes == 0:
        return z_test, clusters
    method = model.recovery_method or "Gaussian mixture on latent means"
    report["recovery"] = {**evaluate.recovery(test.labels, clusters), "method": method}
    if world.has_truth:
        report["recovery"].update(evaluate.bayes_recovery(world, test))
    if model.trained_with_labels:  # classification, not discovery: no matching of clusters to classes
        report["recovery"].update(supervised=True, accuracy=float(np.mean(clusters == test.labels)))
        if "clusters" in report:  # --labels: cluster k is class k, named by the labelled rows
            report["clusters"]["matched_class"] = list(world.class_names)
    elif model.cluster_latent:  # the class each cluster stands for, matched on held-out rows
        matched = evaluate.cluster_to_class(test.labels, clusters)
        report["clusters"]["matched_class"] = [
            world.class_names[matched[c]] if matched.get(c, -1) >= 0 else None
            for c in range(model.n_clusters)
        ]
    return z_test, clusters


def latent_clusters(args, world, model, x_train, z_test, report):
    """Clusters of a model without a discrete latent: a Gaussian mixture fitted on its training codes,
    with K = --clusters, the world's classes, or by BIC (--clusters auto: `model_selection` in metrics)."""
    from common import evaluate

    z_train = evaluate.latent_codes(model, x_train)
    if args.clusters == "auto":
        n_fit, report["model_selection"] = evaluate.select_latent_clusters(
            z_train, world.n_classes, args.seed
        )
    else:
        n_fit = args.clusters or max(world.n_classes, 2)
    return evaluate.latent_clusters(z_train, z_test, n_fit, args.seed)


def draw_figures(job, draw, model, history, z_test, clusters, usage):
    """Every figure of the run, the demo's own after the shared ones (common/figures.py)."""
    from common import figures

    figures.draw_shared(
        draw, job.folder, job.data, model, history, z_test, clusters, job.report, job.device, usage
    )
    if job.demo.figures is not None:
        job.demo.figures(job.folder, draw=draw, world=job.data.world, model=model, test=job.data.test,
                         device=job.device)  # fmt: skip


def score(job, model, usage):
    """Held-out likelihood (against the world's exact one) and `usage` (evaluate.latent_usage),
    reconstruction, baselines, the demo's numbers; with --anomalies, last, the anomaly step on a copy of
    the held-out rows: it returns what anomalies.png draws (common/anomalies.py), else None."""
    from common import evaluate
    from common.cache import cached

    args, data, report, demo = job.args, job.data, job.report, job.demo
    world = data.world
    if model.has_likelihood:
        progress.stage(args, f"held-out likelihood ({args.iw_samples} importance samples per row)")
        report["test"] = evaluate.held_out_likelihood(model, data.x_test, args.iw_samples)
        if model.train_samples > 1:  # --iw-train: the bound it was trained on, beside the ELBO and NLL
            report["test"].update(evaluate.trained_bound(model, data.x_test))
        if world.has_truth:
            true_nll = float(-world.reference_log_prob(data.test.x).mean())  # what the likelihood covers
            report["test"].update(true_nll=true_nll, nll_gap=report["test"]["nll"] - true_nll)
        report["test"].update(usage)  # posterior collapse, per dimension
    recon = evaluate.reconstruction(model, data.x_test, world.feature_names, world.likelihood)
    if recon:  # one held-out row, or no feature with both values in them: nothing to score
        report["test"]["recon"] = recon
    progress.stage(args, "baselines")
    report["baselines"] = cached(args, evaluate.baselines)(
        data.train, data.test, data.n_mixture, world.likelihood, args.seed, mixture=data.mixture,
        labelled=world.n_classes > 0,
    )  # fmt: skip
    if data.labelled is not None:  # --labels: the model beside the classical classifiers on the same rows
        from common import semi_supervised

        report["semi_supervised"] = semi_supervised.report(args, data, report["recovery"]["accuracy"])
    if demo.metrics is not None:
        report.update(demo.metrics(folder=job.folder, model=model, train=data.train, test=data.test,
                                   mixture=data.mixture, device=job.device))  # fmt: skip
    if args.anomalies is not None:
        from common import anomalies

        return anomalies.score(job, model)
    return None


def interpret(job, model, z_test, clusters, draw):
    """--interpret: what each latent dimension means (common/interpret.py), in interpret.csv and, with a
    `draw`, its figures. Returns its seconds, figures not included."""
    from common import figures
    from common.interpret import interpret, names_of_clusters

    progress.stage(job.args, "interpret: what each latent dimension means")

    started = time.perf_counter()
    world, test = job.data.world, job.data.test
    names = names_of_clusters(world, model, test, clusters)
    table, job.report["interpret"], traversals = interpret(model, world, test, z_test, job.device, names)
    job.folder.write_csv("interpret.csv", table)
    seconds = time.perf_counter() - started
    if draw is not None:
        figures.interpretation(draw, job.folder, world, job.report["interpret"], traversals)
    return seconds
