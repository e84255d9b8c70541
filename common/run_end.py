"""How a run ends: the run folder written and the last word said, for a run that was evaluated (finish,
ended), stopped by Ctrl-C or SIGTERM (interrupted) or whose loss became NaN (diverged). Each returns, or
leads to, the Result that common/pipeline.py's run() gives back."""

import os
import sys
from dataclasses import dataclass

HISTORY_COLUMNS = ["epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "test_elbo"]


@dataclass
class Result:
    """What a run produced: its exit code and, when it got that far, the model and the metrics."""

    code: int
    model: object = None
    metrics: dict | None = None


def ended(job, model, stopped):
    """The Result of an evaluated run, after its last word: the summary, or where a stopped run is."""
    args = job.args
    if stopped:
        skipped = job.report.get("figures_skipped", [])
        figures = f", {len(skipped)} figure(s) not drawn ({', '.join(skipped)})" if skipped else ""
        figures = ", no figures drawn" if skipped == "all" else figures
        print(f"{args.prog}: interrupted; the evaluated run is in {args.out}{figures}", file=sys.stderr)
        return Result(130, model, job.report)
    if not args.quiet:
        from common.summary import summary

        extra = job.demo.summary(job.report) if job.demo.summary else ()
        print(summary(job.report, job.data.world, args.out, extra))
    return Result(0, model, job.report)


def finish(job, model, history, state, seconds, stopping):
    """The run folder of an evaluated run: --save-data's files, the timings, the status, then save()."""
    args = job.args
    if args.save_data:
        from common.data import write_data

        write_data(job.folder, job.data)
    rows_trained = len(job.data.train) * len(history or []) * args.restarts
    job.report["timing"] = {
        "train_seconds": seconds["train"],
        "total_seconds": seconds["total"],
        "samples_per_second": rows_trained / max(seconds["train"], 1e-9),
    }
    if seconds["interpret"] is not None:  # the cost of --interpret, figures not included
        job.report["timing"]["interpret_seconds"] = seconds["interpret"]
    if stopping:
        job.report["status"] = "interrupted"
    save(job, model, history, state)
    from common.cache import trim

    trim(args)


def save(job, model, history, state):
    """The run folder of a run that got as far as a model, finished or stopped."""
    from common.model_table import model_config

    args, world = job.args, job.data.world
    job.folder.save(
        config=job.config,
        metrics=job.report,
        history=history,
        history_columns=HISTORY_COLUMNS,
        model=model,
        model_config=model_config(
            args, world.n_features, world.likelihood, model.n_clusters, **trained_as(model)
        ),
        training=state,
    )


def trained_as(model):
    """What model.pt's config must add for a model trained with --labels: its weight of -log q(y | x)."""
    weight = getattr(model, "classification_weight", None)
    return {} if weight is None else {"classification_weight": weight}


def diverged(job, err):
    """The loss became NaN or infinite: keep the last good weights and say what to try."""
    args = job.args
    job.report.update(status="diverged", epoch=err.epoch)
    save(job, err.model, err.history, None)
    beta = f" or --beta (now {args.beta})" if args.beta > 1 else ""
    print(
        f"{args.prog}: error: training diverged in epoch {err.epoch} (the loss became NaN or infinite); "
        f"try a lower --lr (now {args.lr}){beta}",
        file=sys.stderr,
    )
    return Result(1, err.model, job.report)


def interrupted(job, model, history, state, evaluating=False):
    """Ctrl-C or SIGTERM: keep the model of the last complete epoch (or, during the evaluation, the
    trained model and the numbers so far), with the training state --resume continues from."""
    args, report = job.args, job.report
    report["status"] = "interrupted"
    if getattr(args, "visualize", False) and not evaluating:  # stopped before any figure was sent
        report["figures_skipped"] = "all"
    if evaluating:
        if not report.get("test"):  # its placeholder, still empty
            report.pop("test", None)
        report["evaluation"] = "incomplete"
    if state is not None or not evaluating:  # a loaded model has no training state
        report["epochs_completed"] = state["epoch"] if state else 0
    save(job, model, history, state)
    if evaluating:
        model_file, other = os.path.join(args.out, "model.pt"), args.out.rstrip(os.sep) + "-loaded"
        message = (
            f"interrupted during the evaluation; the trained model is in {args.out} (evaluate it with: "
            f"python {args.prog} --load {model_file} --out {other})"
        )
    else:
        resume = (
            "" if getattr(args, "data", None) else f"; continue with: python {args.prog} --resume {args.out}"
        )
        message = (
            f"interrupted after epoch {report['epochs_completed']} of {args.epochs}; model.pt and "
            f"metrics.json saved in {args.out}{resume}"
        )
    print(f"{args.prog}: {message}", file=sys.stderr)
    return Result(130, model, report)
