"""Implicit-feedback recommendation, trained and scored the way Mult-VAE is (Liang et al. 2018):

    users x items (scipy.sparse, 1 = liked) -> F disjoint sets of held-out users -> per fold: train
    Mult-VAE, Mult-DAE or the mixture-prior Mult-GMVAE on the other users; for each held-out user
    rank every item from 80% of their items (fold-in) and score the ranking on the other 20%:
    NDCG@100, Recall@20, Recall@50, beside popularity, EASE, a mixture of multinomials and, on a
    synthetic world, the oracle that knows each user's true preferences
    -> run folder (metrics.json "ranking", history.csv, recommendations.csv, model.pt, figures) -> summary

The shared pipeline (common.pipeline) is built for dense worlds with a hidden cause to recover; this
flow differs in data (sparse), split (whole users, then fold-in/target) and measures (rankings), and
reuses the shared pieces: common.train.fit, common.recsys.ranking, common.recsys.movielens, runio and plots.
The matrix is never dense as a whole: training densifies one batch of rows at a time, and scoring one
block of held-out users at a time.
"""

import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

METRICS = {"ndcg@100": ("ndcg", 100), "recall@20": ("recall", 20), "recall@50": ("recall", 50)}
CURVE_KS = np.arange(1, 101)  # Recall@K for K = 1..100 in recall_curve.png
TOP_N = 10  # recommendations per user in recommendations.csv
EPOCH_EVAL_USERS = 1000  # held-out users scored after every epoch: enough for a curve, cheap on ML-20M
BLOCK = 1000  # held-out users scored at once: bounds the dense (users x items) score matrix
# The Mult-GMVAE's warm start: the explicit gmvae's (movie_dlvm.MovieWorld.warm_start), measured there.
GMVAE_WARM_START = {"batch_size": 64, "lr": 5e-3, "max_held_steps": 640, "kl_warmup": True}
# How the methods are shown.
LABELS = {
    "popularity": "popularity",
    "ease": "EASE",
    "mixture": "mixture",
    "oracle": "oracle",
    "posterior": "posterior",
}
CURVE_LABELS = LABELS | {
    "mixture": "mixture of multinomials",
    "oracle": "oracle (true preferences)",
    "posterior": "posterior (the world, from the fold-in)",
}


@dataclass
class ImplicitData:
    """What a run needs to know about its users and items, whatever the source."""

    interactions: object  # movielens.Interactions: csr (users, items) of 1 = liked, original ids
    titles: list  # (n_items,) title of each column
    genres: list  # (n_items,) list of genre names of each column ([] when unknown)
    source: str  # "synthetic" or "movielens"
    user_groups: np.ndarray  # (n_users,) index into group_names: the colour of each user in latent.png
    group_names: list
    group_noun: str  # "true archetype", "favourite genre"
    oracle: object = None  # oracle(users, items) -> (len(users), len(items)) true preference scores
    # posterior(fold_in, items) -> scores (b, len(items)): the world's own ranking from what a model sees
    posterior: object = None
    extra: dict = field(default_factory=dict)  # more numbers for metrics.json "data"


def model_config(args, n_items):
    """build_model's config of Mult-VAE (vae) or Mult-DAE (dae): [I-600-200] encoder, symmetric decoder,
    tanh, unit-length input rows with dropout (Liang et al. 2018, Sec. 4.3); or of the mixture-prior
    Mult-GMVAE (gmvae): the gmvae of the other demos with the multinomial likelihood, as many clusters
    as the mixture baseline it starts from."""
    config = {
        "demo": "movie",
        "model": args.model,
        "n_features": n_items,
        "likelihood": "multinomial",
        "latent_dim": args.latent_dim,
        "hidden_dim": args.hidden_dim,
        "n_clusters": None,
    }
    if args.model == "gmvae":
        return config | {"n_clusters": args.mixture_components}
    return config | {
        "hidden_layers": 1,
        "activation": "tanh",
        "normalize_input": True,
        "input_dropout": args.dropout,
        "corruption": 0.0,  # Mult-DAE's corruption is the input dropout above
        "noise": None,
    }


def score(model, matrix, device, batch_size=BLOCK):
    """Item scores, (n, I) numpy: each row's expected share of its likes on each item, as the model
    reconstructs it (no dropout): Mult-VAE decodes the posterior mean of the row's code, the gmvae
    averages its clusters' decodings by q(y | x) (GMVAE.mixed_reconstruct)."""
    import torch

    from common.train import dense_rows

    reconstruct = model.mixed_reconstruct if model.kind == "gmvae" else model.reconstruct
    model.eval()
    with torch.no_grad():
        blocks = [
            reconstruct(dense_rows(matrix, slice(i, i + batch_size), device)).cpu().numpy()
            for i in range(0, matrix.shape[0], batch_size)
        ]
    return np.concatenate(blocks) if blocks else np.zeros((0, matrix.shape[1]))


def embed(model, matrix, device, batch_size=BLOCK):
    """Latent means of rows, (n, Z) numpy."""
    import torch

    from common.train import dense_rows

    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                model.embed(dense_rows(matrix, slice(i, i + batch_size), device)).cpu().numpy()
                for i in range(0, matrix.shape[0], batch_size)
            ]
        )


def rank_heldout(scorers, split, block=BLOCK):
    """Per-user NDCG@100, Recall@20, Recall@50 (NaN without targets) and mean Recall@1..100 of every
    scorer {name: f(row slice of the held-out users) -> scores (b, I)}, plus each model's top 10."""
    from common.recsys.ranking import mask_seen, ndcg_at_k, recall_at_k, recall_curve, top_k

    functions = {"ndcg": ndcg_at_k, "recall": recall_at_k}
    n = split.fold_in.shape[0]
    results = {name: {m: [] for m in METRICS} | {"curve": 0.0, "top": []} for name in scorers}
    users_with_targets = 0
    for start in range(0, n, block):
        part = slice(start, start + block)
        seen, target = split.fold_in[part], split.target[part]
        kept = int((target.sum(axis=1) > 0).sum())
        users_with_targets += kept
        for name, scorer in scorers.items():
            scores = scorer(part)  # (b, I)
            result = results[name]
            for metric, (kind, k) in METRICS.items():
                result[metric].append(functions[kind](scores, target, k, seen=seen))
            if kept:
                result["curve"] = result["curve"] + kept * recall_curve(scores, target, CURVE_KS, seen=seen)
            result["top"].append(top_k(mask_seen(scores, seen), TOP_N))
    for result in results.values():
        for metric in METRICS:
            result[metric] = np.concatenate(result[metric])
        result["curve"] = result["curve"] / max(users_with_targets, 1)
        result["top"] = np.concatenate(result["top"])
    return results, users_with_targets


def run(data, args, parser, rng):
    """Train and score over --folds folds; write the run folder; return the process exit code (0 done,
    1 diverged, 130 interrupted). rng (numpy Generator) draws the folds and the fold-in/target splits."""
    started = time.perf_counter()
    import torch

    from common import cli, runio
    from common.recsys.movielens import folds, strong_generalization_split
    from common.recsys.ranking import ease_memory_bytes
    from common.speed.allocator import keep_freed_memory
    from common.train import Diverged, Interrupted, StopRequest

    device = cli.resolve_device(parser, args.device)
    if args.batch_size is None:  # the implicit mode's default; no eighth-of-the-rows rule here
        args.batch_size = args.default_batch_size
    torch.manual_seed(args.seed)
    matrix = data.interactions.matrix
    n_users, n_items = matrix.shape
    cli.limit_threads(device, n_items, args.hidden_dim)
    keep_freed_memory()  # common/speed/allocator.py: freed blocks reused, not mapped afresh every step
    n_heldout = round(args.test_fraction * n_users)
    try:
        fold_users = folds(n_users, args.folds, rng, n_heldout=n_heldout)
    except ValueError as error:
        parser.error(f"argument --folds: {error}")
    # As in common.pipeline: over an earlier run, config.json waits until this run saves its model.
    run_config = {**vars(args), "demo": "movie", "device": device}
    if not os.path.exists(os.path.join(args.out, "metrics.json")):
        runio.write_json(os.path.join(args.out, "config.json"), run_config)
    ease_note = None
    if n_items > args.ease_max_items:
        gigabytes = ease_memory_bytes(n_items) / 1e9
        ease_note = (
            f"EASE skipped: its {n_items} x {n_items} item matrices need {gigabytes:.1f} GB "
            f"(more items than --ease-max-items {args.ease_max_items})"
        )
        if not args.quiet:
            print(ease_note)

    per_fold, history, recommendations = [], [], []
    metrics = _metrics_head(data, args, n_users, n_items)
    with StopRequest() as stop:  # Ctrl-C or SIGTERM: finish the batch, keep what the run has, exit 130
        for fold, heldout in enumerate(fold_users, 1):
            split = strong_generalization_split(matrix, heldout, rng)
            try:
                outcome = _run_fold(fold, split, data, args, device, ease_note is None, stop)
            except (Diverged, Interrupted) as err:  # err.model holds the weights of the last good epoch
                history += [{"fold": fold, **row} for row in err.history]
                if fold == 1:
                    _save_model(args, data, split, err.model, run_config)
                status = "diverged" if isinstance(err, Diverged) else "interrupted"
                return _stopped(status, fold, err.epoch, per_fold, history, metrics, ease_note, args, parser)
            per_fold.append(outcome)
            history += [{"fold": fold, **row} for row in outcome["history"]]
            recommendations.append(_recommendation_rows(fold, split, outcome, data))
            if fold == 1:  # one model (and one latent space) to keep: the first fold's
                _save_model(args, data, split, outcome["model"], run_config)
                first = (split, outcome)
            if stop.requested:  # the signal came while the fold was scored: stop after it
                return _stopped(
                    "interrupted", fold, args.epochs, per_fold, history, metrics, ease_note, args, parser
                )

        import pandas as pd

        metrics["ranking"] = _ranking_summary(per_fold, ease_note, args)
        train_seconds = sum(outcome["train_seconds"] for outcome in per_fold)
        recommendations = pd.concat(recommendations, ignore_index=True)
        runio.write_csv(os.path.join(args.out, "recommendations.csv"), recommendations)
        _write_history(args.out, history)
        if args.save_data:
            _write_data(args.out, data, first[0])
        if args.visualize and not stop.requested:
            _figures(args.out, data, history, per_fold, *first, device, args.model)
        metrics["timing"] = {
            "train_seconds": train_seconds,
            "total_seconds": time.perf_counter() - started,
            "users_per_second": sum(o["n_train_users"] for o in per_fold) * args.epochs / train_seconds,
        }
        metrics["versions"] = runio.versions()
        if stop.requested:  # while the files were written: every number is there, figures may not be
            metrics["status"] = "interrupted"
        runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
    if stop.requested:
        print(
            f"{parser.prog}: interrupted; the scored run is in {args.out}, figures skipped", file=sys.stderr
        )
        return 130
    if not args.quiet:
        print(summary(metrics, recommendations, data, args.out))
    return 0


def _save_model(args, data, split, model, run_config):
    """model.pt: the model with the item ids of its columns (plain values, loadable weights_only),
    and config.json beside it."""
    from common import runio

    runio.write_json(os.path.join(args.out, "config.json"), run_config)
    config = model_config(args, len(split.items))
    config["item_ids"] = data.interactions.item_ids[split.items].tolist()
    runio.save_model(os.path.join(args.out, "model.pt"), model, config)


def _stopped(status, fold, epoch, per_fold, history, metrics, ease_note, args, parser):
    """A run that diverged (in `epoch`) or was interrupted (after `epoch`) in `fold`: write its history
    and metrics.json (status, where it stopped, the rankings of the folds it completed) and say so;
    return 1 or 130. model.pt is fold 1's, saved by the caller: complete, or as of its last good epoch."""
    from common import runio

    _write_history(args.out, history)
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
    metrics["folds_completed"] = len(per_fold)
    if per_fold:
        metrics["ranking"] = _ranking_summary(per_fold, ease_note, args)
    metrics["versions"] = runio.versions()
    runio.write_json(os.path.join(args.out, "metrics.json"), metrics)
    print(f"{parser.prog}: {message}", file=sys.stderr)
    return 1 if status == "diverged" else 130


def _run_fold(fold, split, data, args, device, with_ease, stop=None):
    """Train on the fold's training users; score its held-out users with the model and the baselines.
    Raises Interrupted when `stop` is requested during training, or right after it (scoring skipped)."""
    import torch

    from common.baselines import MultinomialMixture
    from common.models import build_model
    from common.recsys.ranking import ease_weights, ndcg_at_k, popularity_scores
    from common.train import Interrupted, fit, warm_start

    # The classical mixture first: a baseline, and the gmvae's start.
    started = time.perf_counter()
    mixture = MultinomialMixture(args.mixture_components, random_state=args.seed).fit(split.train)
    mixture_seconds = time.perf_counter() - started
    torch.manual_seed(args.seed + 1000 * (fold - 1))  # fold 1 is the same as a run without folds
    model = build_model(model_config(args, len(split.items))).to(device)
    started = time.perf_counter()  # training time includes the gmvae's warm start
    if model.kind == "gmvae":  # as the explicit gmvae (MovieWorld.warm_start): q(y | x) held, KL warmed up
        held = mixture.predict_proba(split.train)
        warm_start(model, mixture.weights_, mixture.theta_, rows=split.train, responsibilities=held,
                   **GMVAE_WARM_START)  # fmt: skip
    watch = slice(0, EPOCH_EVAL_USERS)
    fold_in, target = split.fold_in[watch], split.target[watch]

    def on_epoch(model):  # held-out NDCG@100 for the curve in ranking_history.png (no model selection)
        scores = score(model, fold_in, device)
        return {"ndcg@100": float(np.nanmean(ndcg_at_k(scores, target, 100, seen=fold_in)))}

    history, state = fit(
        model,
        split.train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta if model.kind in ("vae", "gmvae") else 0.0,
        anneal_steps=args.anneal_steps,
        quiet=args.quiet,
        on_epoch=on_epoch,
        stop=stop,
    )
    train_seconds = time.perf_counter() - started
    if stop is not None and stop.requested:  # the signal came after the last batch: skip the scoring
        raise Interrupted(args.epochs, history, model, state)

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


def _metrics_head(data, args, n_users, n_items):
    return {
        "demo": "movie",
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


def _ranking_summary(per_fold, ease_note, args):
    """metrics.json "ranking": the model's means over users, then over folds; sd over folds when F > 1."""

    def summarise(name):
        values = {m: [float(np.nanmean(o["results"][name][m])) for o in per_fold] for m in METRICS}
        out = {m: float(np.mean(v)) for m, v in values.items()}
        if len(per_fold) > 1:
            out["std"] = {m: float(np.std(v, ddof=1)) for m, v in values.items()}
        return out

    ranking = summarise("model")
    ranking.update(
        n_users=int(sum(o["n_users"] for o in per_fold)),
        folds=len(per_fold),
        baselines={"popularity": summarise("popularity")},
    )
    if ease_note is None:
        seconds = [o["ease_seconds"] for o in per_fold]
        ranking["baselines"]["ease"] = summarise("ease") | {
            "lambda": args.ease_lambda,
            "seconds": float(np.mean(seconds)),
        }
    else:
        ranking["baselines"]["ease"] = {"skipped": ease_note}
    ranking["baselines"]["mixture"] = summarise("mixture") | {
        "components": args.mixture_components,
        "seconds": float(np.mean([o["mixture_seconds"] for o in per_fold])),
    }
    for reference in ("oracle", "posterior"):
        if reference in per_fold[0]["results"]:
            ranking[reference] = summarise(reference)
    return ranking


def _recommendation_rows(fold, split, outcome, data):
    """Every held-out user's top 10 by the model, with titles and whether each is one of their targets."""
    import pandas as pd

    top = outcome["results"]["model"]["top"]  # (n_heldout, 10) columns of split.items
    n, k = top.shape
    items = split.items[top]  # columns of the full matrix
    hit = np.take_along_axis(split.target.toarray() > 0, top, axis=1) if n else np.zeros((0, k), bool)
    groups = np.array(data.group_names)[data.user_groups[split.heldout_users]]
    return pd.DataFrame(
        {
            "fold": fold,
            "user": np.repeat(data.interactions.user_ids[split.heldout_users], k),
            data.group_noun.replace(" ", "_"): np.repeat(groups, k),
            "rank": np.tile(np.arange(1, k + 1), n),
            "item": data.interactions.item_ids[items].ravel(),
            "title": [data.titles[i] for i in items.ravel()],
            "genres": ["|".join(data.genres[i]) for i in items.ravel()],
            "held_out_hit": hit.ravel(),
        }
    )


def _write_history(out, history):
    import pandas as pd

    from common import runio

    columns = ["fold", "epoch", "loss", "recon", "kl", "beta", "lr", "seconds", "ndcg@100"]
    runio.write_csv(os.path.join(out, "history.csv"), pd.DataFrame(history, columns=columns))


def _write_data(out, data, split):
    """--save-data: the first fold's users and items, long format (one liked item per line)."""
    import pandas as pd

    from common import runio

    ids = data.interactions

    def long(matrix, users, part):
        coo = matrix.tocoo()
        return pd.DataFrame(
            {"user": ids.user_ids[users[coo.row]], "item": ids.item_ids[split.items[coo.col]], "part": part}
        )

    runio.write_csv(os.path.join(out, "train.csv"), long(split.train, split.train_users, "train"))
    test = pd.concat(
        [
            long(split.fold_in, split.heldout_users, "fold_in"),
            long(split.target, split.heldout_users, "target"),
        ]
    )
    runio.write_csv(os.path.join(out, "test.csv"), test)


def _figures(out, data, history, per_fold, split, outcome, device, model_kind):
    from common import plots

    path = lambda name: os.path.join(out, name)  # noqa: E731
    from scipy import sparse

    # Every user of fold 1 through its model: training users from all their items, held-out users from
    # their fold-in items (what the model saw of them).
    z = embed(outcome["model"], sparse.vstack([split.train, split.fold_in]).tocsr(), device)
    groups = data.user_groups[np.concatenate([split.train_users, split.heldout_users])]
    plots.latent_scatter(
        path("latent.png"),
        z,
        groups,
        data.group_names,
        f"Latent means of all users (fold 1's model), coloured by {data.group_noun}",
        legend_title=data.group_noun,
    )
    fold_1 = [row for row in history if row["fold"] == 1]
    plots.training_curves(
        path("training.png"), fold_1, model_kind, f"Training of Mult-{model_kind.upper()}, fold 1"
    )
    plots.ranking_history(path("ranking_history.png"), history)
    curves = {
        CURVE_LABELS.get(name, f"Mult-{model_kind.upper()}"): np.mean(
            [o["results"][name]["curve"] for o in per_fold], axis=0
        )
        for name in per_fold[0]["results"]
    }
    plots.recall_curves(path("recall_curve.png"), CURVE_KS, curves, n_folds=len(per_fold))


def summary(metrics, recommendations, data, out, n_users=3):
    """The lines a person reads at the end of a run: the table of rankings, then a few users' top 10."""
    ranking, timing, sizes = metrics["ranking"], metrics["timing"], metrics["data"]
    model = f"Mult-{metrics['model'].upper()}"
    lines = [
        f"movie: {model} on {sizes['n_users']} users x {sizes['n_items']} items ({sizes['source']}), "
        f"{ranking['folds']} fold(s) of {sizes['n_heldout_per_fold']} held-out users, trained in "
        f"{timing['train_seconds']:.1f} s ({timing['total_seconds']:.1f} s in all)",
        f"  {'':<12}" + "".join(f"{m:>16}" for m in METRICS),
    ]
    rows = {model: ranking} | {LABELS[name]: values for name, values in ranking["baselines"].items()}
    rows |= {LABELS[name]: ranking[name] for name in ("oracle", "posterior") if name in ranking}
    for name, values in rows.items():
        if "skipped" in values:
            lines.append(f"  {name:<12}  {values['skipped']}")
            continue
        cells = []
        for m in METRICS:
            sd = values.get("std", {}).get(m)
            cells.append(f"{values[m]:.3f}" + (f" ± {sd:.3f}" if sd is not None else ""))
        lines.append(f"  {name:<12}" + "".join(f"{c:>16}" for c in cells))
    group_column = data.group_noun.replace(" ", "_")
    for user, rows_of_user in list(recommendations.groupby("user", sort=False))[:n_users]:
        hits, group = int(rows_of_user["held_out_hit"].sum()), rows_of_user[group_column].iloc[0]
        lines.append(
            f"  top {TOP_N} for held-out user {user} ({data.group_noun}: {group}; {hits} of them among the "
            "user's held-out 20%):"
        )
        for row in rows_of_user.itertuples():
            mark = "  <- held out" if row.held_out_hit else ""
            genres = f"  [{row.genres.replace('|', ', ')}]" if row.genres else ""
            lines.append(f"    {row.rank:>2}. {row.title}{genres}{mark}")
    lines.append(f"  results in {out}")
    return "\n".join(lines)
