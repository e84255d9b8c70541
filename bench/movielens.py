"""Benchmark of the movie demo: MovieLens 100K ranking as in Liang et al. (2018), and the synthetic world.

MovieLens 100K: Mult-VAE, Mult-DAE, Mult-GMVAE, RecVAE (--models), popularity, EASE and a mixture of
multinomials under strong generalization, in F folds (default 5) of H held-out users each (default 100 of
the 938 users kept by the preprocessing, 10.7%): each fold trains on the other users, gives each
held-out user's model a random 80% of their liked movies and scores the ranking on the other 20%.
Printed: mean ± sd over folds of NDCG@100, Recall@20, Recall@50, and training seconds per fold. Every
method sees the same folds (same --seed).

The synthetic world: the default explicit run (wall time, NLL gap, archetype recovery against the
Bayes-optimal, rating RMSE against the oracle) and the default implicit run (ranking against the
oracle that knows each user's preferences and the world's posterior ranking from the fold-in), for
each --seed; medians and ranges when there are several.

    python bench/movielens.py                       # about 10 minutes on one core
    python bench/movielens.py --seeds 0 1 2 --skip-movielens

The demo's own flags can follow `--`, e.g. `-- --epochs 70`: they go to every MovieLens run.
Numbers are printed, never judged: this is a benchmark, not a test.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import movie_dlvm  # noqa: E402
from common.cli import Interval  # noqa: E402
from common.recsys.movielens import binarize, load_ratings, ml100k_folder  # noqa: E402

METRICS = ["ndcg@100", "recall@20", "recall@50"]
RECOMMENDERS = {"vae": "Mult-VAE", "dae": "Mult-DAE", "gmvae": "Mult-GMVAE", "recvae": "RecVAE"}


def run_demo(argv):
    """One in-process run of the demo; (metrics.json, wall seconds)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        code = movie_dlvm.main([*argv, "--quiet", "--out", out])
        seconds = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"movie_dlvm.py {' '.join(argv)} failed with exit code {code}")
        with open(os.path.join(out, "metrics.json")) as f:
            return json.load(f), seconds


def cell(values):
    return f"{values['mean']:.4f} ± {values['sd']:.4f}"


def movielens(args, extra):
    ratings_file = os.path.join(args.data, "u.data")
    n_users = binarize(load_ratings(ratings_file)).matrix.shape[0]
    fraction = args.heldout / n_users  # the demo holds out round(fraction * n_users) = args.heldout users
    argv = ["--ratings", ratings_file, "--folds", str(args.folds), "--test-fraction", f"{fraction:.6f}"]
    argv += ["--seed", str(args.seed), *extra]
    rows = {}
    for model in args.models:
        name = RECOMMENDERS[model]
        metrics, _ = run_demo([*argv, "--model", model])
        ranking = metrics["ranking"]
        rows[name] = summary_row(ranking, metrics["timing"]["train_seconds"] / args.folds)
        baselines = ranking["baselines"]  # the same folds in both runs: keep the first run's
        rows.setdefault("popularity", summary_row(baselines["popularity"], 0.0))
        rows.setdefault("EASE", summary_row(baselines["ease"], baselines["ease"]["seconds"]))
        mixture = baselines["mixture"]
        rows.setdefault(f"mixture ({mixture['components']})", summary_row(mixture, mixture["seconds"]))
    print(
        f"MovieLens 100K: {n_users} users with 5+ ratings of 4 or 5 stars, {args.folds} folds of "
        f"{args.heldout} held-out users (strong generalization, 80% fold-in / 20% scored), seed {args.seed}"
    )
    print(f"demo flags: {' '.join(argv[2:])}")
    print(f"{'method':<16}" + "".join(f"{m:>20}" for m in METRICS) + f"{'train s / fold':>16}")
    for name, row in rows.items():
        print(f"{name:<16}" + "".join(f"{cell(row[m]):>20}" for m in METRICS) + f"{row['seconds']:>16.1f}")


def summary_row(values, seconds):
    sd = values.get("std", {})
    return {m: {"mean": values[m], "sd": sd.get(m, 0.0)} for m in METRICS} | {"seconds": seconds}


def spread(values, fmt):
    """'median (min - max)' over seeds, or the one value."""
    if len(values) == 1:
        return format(values[0], fmt)
    return (
        f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)} - {format(max(values), fmt)})"
    )


def synthetic(seeds):
    explicit, implicit, mixture_prior = [], [], []
    for seed in seeds:
        metrics, seconds = run_demo(["--seed", str(seed)])
        explicit.append((metrics, seconds))
        metrics, seconds = run_demo(["--likelihood", "multinomial", "--seed", str(seed)])
        implicit.append((metrics, seconds))
        metrics, seconds = run_demo(["--likelihood", "multinomial", "--model", "gmvae", "--seed", str(seed)])
        mixture_prior.append((metrics, seconds))
    print(f"\nSynthetic world, default runs, seeds {' '.join(map(str, seeds))}: median (min - max)")
    rows = {
        "explicit: wall seconds": [s for _, s in explicit],
        "explicit: NLL gap (nats per user)": [m["test"]["nll_gap"] for m, _ in explicit],
        "explicit: archetype ARI": [m["recovery"]["ari"] for m, _ in explicit],
        "explicit: Bayes-optimal ARI": [m["recovery"]["bayes_ari"] for m, _ in explicit],
        "explicit: ARI / Bayes-optimal ARI": [
            m["recovery"]["ari"] / m["recovery"]["bayes_ari"] for m, _ in explicit
        ],
        "explicit: rating RMSE": [m["ratings"]["rmse"] for m, _ in explicit],
        "explicit: oracle's rating RMSE": [m["ratings"]["oracle_rmse"] for m, _ in explicit],
        "implicit: wall seconds": [s for _, s in implicit],
        "implicit: wall seconds, Mult-GMVAE": [s for _, s in mixture_prior],
    }
    for name in ("model", "ease", "mixture", "oracle", "posterior"):
        for metric in ("ndcg@100", "recall@20"):
            values = [
                (
                    m["ranking"]
                    if name == "model"
                    else m["ranking"].get(name) or m["ranking"]["baselines"][name]
                )[metric]
                for m, _ in implicit
            ]
            rows[f"implicit: {metric} {name if name != 'model' else 'Mult-VAE'}"] = values
    for metric in ("ndcg@100", "recall@20"):
        rows[f"implicit: {metric} Mult-GMVAE"] = [m["ranking"][metric] for m, _ in mixture_prior]
    for name, runs in (("Mult-VAE", implicit), ("Mult-GMVAE", mixture_prior)):
        rows[f"implicit: NDCG@100 / oracle's, {name}"] = [
            m["ranking"]["ndcg@100"] / m["ranking"]["oracle"]["ndcg@100"] for m, _ in runs
        ]
    for label, values in rows.items():
        print(f"  {label:<44} {spread(values, '.1f' if 'seconds' in label else '.3f')}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        default=ml100k_folder(),
        help="folder with u.data (default: $MOVIELENS_100K, or ../shared/data/ml-100k beside the repository: "
        "%(default)s)",
    )
    parser.add_argument(
        "--folds",
        type=Interval(int, 1, None),
        default=5,
        help="folds of held-out users (default: %(default)s)",
    )
    parser.add_argument(
        "--heldout",
        type=Interval(int, 1, None),
        default=100,
        help="held-out users per fold (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=Interval(int, 0, None),
        default=0,
        help="seed of the MovieLens runs (default: %(default)s)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(RECOMMENDERS),
        default=list(RECOMMENDERS),
        help="the recommenders of the MovieLens table (default: all four; the baselines come with each)",
    )
    parser.add_argument(
        "--seeds",
        type=Interval(int, 0, None),
        nargs="+",
        default=[0],
        help="seeds of the synthetic runs (default: 0)",
    )
    parser.add_argument(
        "--skip-movielens", action="store_true", help="only the synthetic runs (default: off)"
    )
    parser.add_argument("--skip-synthetic", action="store_true", help="only MovieLens (default: off)")
    args = parser.parse_args(argv)
    if not args.skip_movielens:
        if not os.path.isfile(os.path.join(args.data, "u.data")):
            parser.error(
                f"argument --data: no u.data in {args.data}; give MovieLens 100K's folder or --skip-movielens"
            )
        movielens(args, extra)
    if not args.skip_synthetic:
        synthetic(args.seeds)


if __name__ == "__main__":
    main()
