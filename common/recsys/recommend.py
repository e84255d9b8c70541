"""Implicit-feedback recommendation, trained and scored the way Mult-VAE is (Liang et al. 2018):

    data      users x items (scipy.sparse, 1 = liked): common/recsys/data.py
    folds     F disjoint sets of held-out users; per fold:
      train     Mult-VAE, Mult-DAE or the mixture-prior Mult-GMVAE on the other users (common/train.py)
      score     rank every item for each held-out user from 80% of their likes (fold-in) and score the
                ranking on the other 20% (common/recsys/scoring.py), beside popularity, EASE, a mixture of
                multinomials and, on a synthetic world, the oracle and the world's own ranking
    write     the run folder through its one writer (common/runio.py): metrics.json "ranking",
              history.csv, recommendations.csv, model.pt (fold 1's), figures; then a summary

The matrix is never dense as a whole: training densifies one batch of rows at a time, and scoring one
block of held-out users at a time.
"""

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from common.cli import UsageError
from common.recsys.options import REAL_DATA_COMPONENTS
from common.run_end import Result

EPOCH_EVAL_USERS = 1000  # held-out users scored after every epoch: enough for a curve, cheap on ML-20M
# The Mult-GMVAE's warm start (common/warm_start.py), measured for the explicit gmvae on the synthetic
# movie world (docs/movie.md): 640 updates with q(y | x) held at the mixture's, the KL weight warmed up.
MIXTURE_START = {"batch_size": 64, "lr": 5e-3, "max_held_steps": 640, "kl_warmup": True}


def model_config(args, n_items):
    """build_model's config: Mult-VAE (vae) or Mult-DAE (dae) is [I-600-200] with tanh, unit-length input
    rows and input dropout (Liang et al. 2018, Sec. 4.3), Mult-DAE's corruption being that dropout; a model
    that starts from a mixture (the gmvae) keeps its network and has the mixture baseline's clusters."""
    from common.model_table import model_class
    from common.model_table import model_config as config

    if model_class(args.model).starts_from_mixture:
        return config(args, n_items, "multinomial", args.mixture_components)
    if args.model == "recvae":  # its own encoder (common/recvae.py); --dropout is its encoder phase's
        return config(args, n_items, "multinomial", input_dropout=args.dropout)
    architecture = {"activation": "tanh", "normalize_input": True}  # and --hidden-layers 1 (ImplicitOptions)
    return config(args, n_items, "multinomial", input_dropout=args.dropout, **architecture) | {
        "corruption": 0.0
    }


@dataclass
class Folds:
    """A recommender run under way: what each step reads, and what the folds have produced so far."""

    args: object
    data: object  # common.recsys.data.ImplicitData
    folder: object  # common.runio.RunFolder
    config: dict
    metrics: dict  # metrics.json, as far as the run has got
    device: str
    ease_note: str | None  # why EASE is skipped, or None
    per_fold: list = field(default_factory=list)  # each fold's outcome (run_fold)
    history: list = field(default_factory=list)
    recommendations: list = field(default_factory=list)
    first: tuple = None  # fold 1's (split, outcome): the model and the latent space a run keeps

    @property
    def name(self):
        return "RecVAE" if self.args.model == "recvae" else f"Mult-{self.args.model.upper()}"

    def keep(self, fold, split, model, history):
        """A fold's history; fold 1's model goes to model.pt (complete, or as of its last good epoch)."""
        self.history += [{"fold": fold, **row} for row in history]
        if fold == 1:
            self.folder.save_config(self.config)
            self.folder.save_model(model, config_of_model(self.args, self.data, split))


def run(data, args, rng):
    """Train and score over --folds folds; write the run folder; return a Result (0 done, 1 diverged,
    130 interrupted). rng (numpy Generator) draws the folds and the fold-in/target splits."""
    import torch

    from common import runio
    from common.recsys import report
    from common.recsys.movielens import folds, strong_generalization_split
    from common.speed.allocator import keep_freed_memory
    from common.speed.threads import limit_threads
    from common.train import Diverged, Interrupted, StopRequest, device_for

    started = time.perf_counter()
    device = device_for(args.device)
    torch.manual_seed(args.seed)
    matrix = data.interactions.matrix
    limit_threads(device, matrix.shape[1], args.hidden_dim)
    keep_freed_memory()  # common/speed/allocator.py: freed blocks reused, not mapped afresh every step
    if args.mixture_components is None:  # the world's classes, when the data come from one
        args.mixture_components = data.extra.get("n_classes", REAL_DATA_COMPONENTS)
    check_fold_sizes(args, matrix.shape[0])
    try:
        fold_users = folds(
            matrix.shape[0], args.folds, rng, n_heldout=round(args.test_fraction * matrix.shape[0])
        )
    except ValueError as error:
        raise UsageError("--folds", str(error)) from None
    config = args.config(device=device)
    job = Folds(args, data, runio.RunFolder(args.out), config, metrics_head(data, args), device,
                ease_skipped(args, matrix.shape[1]))  # fmt: skip
    job.folder.begin(config)
    with StopRequest() as stop:  # Ctrl-C or SIGTERM: finish the batch, keep what the run has, exit 130
        for fold, heldout in enumerate(fold_users, 1):
            split = strong_generalization_split(matrix, heldout, rng)
            try:
                outcome = run_fold(fold, split, data, args, device, job.ease_note is None, stop)
            except (Diverged, Interrupted) as err:  # err.model holds the weights of the last good epoch
                job.keep(fold, split, err.model, err.history)
                return stopped(
                    job, "diverged" if isinstance(err, Diverged) else "interrupted", fold, err.epoch
                )
            job.keep(fold, split, outcome["model"], outcome["history"])
            job.per_fold.append(outcome)
            job.recommendations.append(report.recommendation_rows(fold, split, outcome, data))
            job.first = job.first or (split, outcome)
            if stop.requested:  # the signal came while the fold was scored: stop after it
                return stopped(job, "interrupted", fold, args.epochs)
        write(job, stop.requested, started)
    model = job.first[1]["model"]
    if stop.requested:
        print(f"{args.prog}: interrupted; the scored run is in {args.out}, figures skipped", file=sys.stderr)
        return Result(130, model, job.metrics)
    if not args.quiet:
        print(report.summary(job.metrics, job.recommendations, data, args.out, job.name))
    return Result(0, model, job.metrics)


# Collaborative filtering learns from what users share, and one user shares with nobody: a fold trains
# on at least 2 users (as the explicit mode's 2 training rows), and on at least one per mixture component.
MIN_TRAIN_USERS = 2


def check_fold_sizes(args, n_users):
    """Refuse, before any work, a --test-fraction that holds out nobody or leaves too few users to train
    on: fewer than 2, or than the components of the mixture baseline (and of the gmvae, which starts
    from it). The flag blamed is the one typed; the message gives the numbers and the fix."""
    n_heldout = round(args.test_fraction * n_users)
    n_train, k = n_users - n_heldout, args.mixture_components
    if n_heldout < 1:
        raise UsageError(
            "--test-fraction",
            f"{args.test_fraction} of the {n_users} users holds out none; use at least {1 / n_users:.2g}",
        )
    leaves = f"{args.test_fraction} leaves {n_train} of the {n_users} users to train on"
    if n_train < MIN_TRAIN_USERS:
        raise UsageError(
            "--test-fraction",
            f"{leaves}; a recommender learns from what users share and needs at least {MIN_TRAIN_USERS}; "
            f"use --test-fraction {highest_fraction(n_users, MIN_TRAIN_USERS)} or lower",
        )
    if k <= n_train:
        return
    highest = highest_fraction(n_users, k)
    blame_k = "mixture_components" in args.given or "test_fraction" not in args.given or highest is None
    if blame_k:  # the mixture's size was typed, or is all there is to change
        default = "" if "mixture_components" in args.given else " (its default here)"
        raise UsageError(
            "--mixture-components",
            f"{k}{default} needs one training user per component, and --test-fraction {leaves}; use "
            f"--mixture-components {n_train} or fewer",
        )
    raise UsageError(
        "--test-fraction",
        f"{leaves}, fewer than the {k} mixture components (--mixture-components, {k} by default here) "
        f"need, one each; use --test-fraction {highest} or lower, or --mixture-components {n_train} or fewer",
    )


def highest_fraction(n_users, n_train):
    """The largest --test-fraction (3 decimals) that leaves n_train users and holds out one; or None."""
    fraction = math.floor((n_users - n_train) / n_users * 1000) / 1000
    return fraction if round(fraction * n_users) >= 1 else None


def write(job, stopping, started):
    """The run folder of a run whose folds are all scored: rankings, recommendations, history, figures."""
    import pandas as pd

    from common.recsys import report
    from common.recsys.scoring import ranking_summary

    args, metrics, per_fold = job.args, job.metrics, job.per_fold
    metrics["ranking"] = ranking_summary(per_fold, job.ease_note, args)
    train_seconds = sum(outcome["train_seconds"] for outcome in per_fold)
    job.recommendations = pd.concat(job.recommendations, ignore_index=True)
    job.folder.write_csv("recommendations.csv", job.recommendations)
    job.folder.save_history(job.history, report.HISTORY_COLUMNS)
    if args.save_data:
        report.write_data(job.folder, job.data, job.first[0])
    if args.visualize and not stopping:
        report.figures(job.folder, job.data, job.history, per_fold, *job.first, job.device, job.name)
    metrics["timing"] = {
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "users_per_second": sum(o["n_train_users"] for o in per_fold) * args.epochs / train_seconds,
    }
    if stopping:  # a signal while the files were written: every number is there, figures may not be
        metrics["status"] = "interrupted"
    job.folder.save_metrics(metrics)


def ease_skipped(args, n_items):
    """Why EASE is skipped (more items than --ease-max-items), printed; None when it runs."""
    from common.recsys.ranking import ease_memory_bytes

    if n_items <= args.ease_max_items:
        return None
    note = (
        f"EASE skipped: its {n_items} x {n_items} item matrices need "
        f"{ease_memory_bytes(n_items) / 1e9:.1f} GB "
        f"(more items than --ease-max-items {args.ease_max_items})"
    )
    if not args.quiet:
        print(note)
    return note


def config_of_model(args, data, split):
    """model.pt's config: the model's, with the item ids of its columns (plain values for weights_only)."""
    config = model_config(args, len(split.items))
    config["item_ids"] = data.interactions.item_ids[split.items].tolist()
    return config


def stopped(job, status, fold, epoch):
    """A run that diverged (in `epoch`) or was interrupted (after `epoch`) in `fold`: its history and
    metrics.json (status, where it stopped, the rankings of the folds it completed); model.pt is fold 1's,
    saved already: complete, or as of its last good epoch."""
    from common.recsys import report
    from common.recsys.scoring import ranking_summary

    args, metrics = job.args, job.metrics
    job.folder.save_history(job.history, report.HISTORY_COLUMNS)
    if status == "diverged":
        metrics |= {"status": status, "fold": fold, "epoch": epoch}
        message = (
            f"error: training diverged in fold {fold}, epoch {epoch} (the loss became NaN or infinite); "
            f"try a lower --lr (now {args.lr})"
        )
    else:
        metrics |= {"status": status, "fold": fold, "epochs_completed": epoch}
        message = (
            f"interrupted in fold {fold} after epoch {epoch} of {args.epochs}; model.pt (fold 1's) and "
            f"metrics.json saved in {args.out}; implicit-feedback runs cannot be resumed, run it again"
        )
    metrics["folds_completed"] = len(job.per_fold)
    if job.per_fold:
        metrics["ranking"] = ranking_summary(job.per_fold, job.ease_note, args)
    job.folder.save_metrics(metrics)
    print(f"{args.prog}: {message}", file=sys.stderr)
    return Result(1 if status == "diverged" else 130, None, metrics)


def run_fold(fold, split, data, args, device, with_ease, stop=None):
    """Train on the fold's training users; score its held-out users with the model and the baselines.
    Raises Interrupted when `stop` is requested during training, or right after it (scoring skipped)."""
    from common.baselines import MultinomialMixture
    from common.recsys.scoring import rank_heldout

    # The classical mixture first: a baseline, and the start of a model that starts from a mixture.
    started = time.perf_counter()
    mixture = MultinomialMixture(args.mixture_components, random_state=args.seed).fit(split.train)
    mixture_seconds = time.perf_counter() - started
    model, history, train_seconds = train_fold(fold, split, mixture, args, device, stop)
    scorers, ease_seconds = scorers_of(model, split, mixture, data, args, device, with_ease)
    results, n_users = rank_heldout(scorers, split)
    return {
        "model": model,
        "history": history,
        "results": results,
        "n_users": n_users,
        "n_train_users": split.train.shape[0],
        "train_seconds": train_seconds,
        "ease_seconds": ease_seconds,
        "mixture_seconds": mixture_seconds,
    }


def train_fold(fold, split, mixture, args, device, stop):
    """The fold's model, trained on its training users (a model that starts from a mixture, from
    `mixture`), with the held-out NDCG@100 of up to EPOCH_EVAL_USERS users after every epoch. Returns
    (model, history, seconds, warm start included)."""
    import torch

    from common.model_table import build_model
    from common.recsys.ranking import ndcg_at_k
    from common.recsys.scoring import score
    from common.train import Interrupted, fit
    from common.warm_start import warm_start

    torch.manual_seed(args.seed + 1000 * (fold - 1))  # fold 1 is the same as a run without folds
    model = build_model(model_config(args, len(split.items))).to(device)
    started = time.perf_counter()
    if model.starts_from_mixture:
        held = mixture.predict_proba(split.train)
        warm_start(
            model, mixture.weights_, mixture.theta_, rows=split.train, responsibilities=held, **MIXTURE_START
        )
    fold_in, target = split.fold_in[:EPOCH_EVAL_USERS], split.target[:EPOCH_EVAL_USERS]

    def on_epoch(model):  # held-out NDCG@100 for the curve in ranking_history.png (no model selection)
        scores = score(model, fold_in, device)
        return {"ndcg@100": float(np.nanmean(ndcg_at_k(scores, target, 100, seen=fold_in)))}

    common = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, quiet=args.quiet, stop=stop)
    if getattr(model, "alternating", False):  # RecVAE: encoder and decoder updated in turn
        from common.recvae import fit_alternating

        history, state = fit_alternating(model, split.train, on_epoch=on_epoch, **common)
    else:
        beta = args.beta if model.has_likelihood else 0.0
        history, state = fit(
            model, split.train, beta=beta, anneal_steps=args.anneal_steps, on_epoch=on_epoch, **common
        )
    if stop is not None and stop.requested:  # the signal came after the last batch: skip the scoring
        raise Interrupted(args.epochs, history, model, state)
    return model, history, time.perf_counter() - started


def scorers_of(model, split, mixture, data, args, device, with_ease):
    """{method: scores of a block of held-out users (b, I)}: the model, popularity, EASE (with_ease), the
    mixture, and the world's oracle and posterior when the data have them; and EASE's fit seconds."""
    from common.recsys.ranking import ease_weights, popularity_scores
    from common.recsys.scoring import score

    model_scores = score(model, split.fold_in, device)  # (n_heldout, I)
    popularity = popularity_scores(split.train, 1)  # (1, I): the same for everyone
    scorers = {
        "model": lambda part: model_scores[part],
        "popularity": lambda part: np.broadcast_to(
            popularity, (split.fold_in[part].shape[0], popularity.shape[1])
        ),
    }
    ease_seconds = None
    if with_ease:
        started = time.perf_counter()
        weights = ease_weights(split.train, args.ease_lambda)  # (I, I)
        ease_seconds = time.perf_counter() - started
        scorers["ease"] = lambda part: np.asarray(split.fold_in[part] @ weights)
    scorers["mixture"] = lambda part: mixture.item_scores(split.fold_in[part])
    if data.oracle is not None:
        scorers["oracle"] = lambda part: data.oracle(split.heldout_users[part], split.items)
    if data.posterior is not None:
        scorers["posterior"] = lambda part: data.posterior(split.fold_in[part], split.items)
    return scorers, ease_seconds


def metrics_head(data, args):
    """metrics.json's first keys: what ran on what."""
    n_users, n_items = data.interactions.matrix.shape
    return {
        "demo": args.demo,
        "model": args.model,
        "argv": args.argv,
        "seed": args.seed,
        "status": "completed",
        "data": {
            "source": data.source,
            "n_users": n_users,
            "n_items": n_items,
            "n_positives": int(data.interactions.matrix.nnz),
            "n_heldout_per_fold": round(args.test_fraction * n_users),
            "n_features": n_items,
            **data.extra,
        },
    }
