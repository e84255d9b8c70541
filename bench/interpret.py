"""Which latent dimension encodes which factor on the movie world, VAE against AE and across beta: the
README's "VAE against AE, and beta against MIG" table.

    python bench/interpret.py --seeds 3 --out results/interpret
    python bench/interpret.py --seeds 1 --models vae --betas 1     # one run

Every (model, beta, seed) runs `movie_dlvm.py --latent-dim 3 --interpret --visualize` (default epochs
and world) in its own folder under --out; a folder that already holds a finished run is read, not
run again, so an interrupted benchmark continues where it stopped. It prints one row per run and one
per configuration (mean and sd over seeds), as markdown:
- mig: the mutual information gap over the true factors (archetype, leniency);
- nmi archetype / nmi leniency: the normalised MI of each latent dimension (z1/z2/z3);
- gain genre / era / quality: the information gain of each latent dimension about that reading of
  the top 10 (z1/z2/z3, nats);
- top dim genre / era / quality: the dimension whose shift moves that reading of the top 10 most
  (largest information gain); `distinct`: the three land on three different dimensions; `one dim`:
  all three on the same one;
- ari: archetype recovery (a Gaussian mixture on the latent means), beside the Bayes-optimal.
Numbers are printed, never asserted: this is a benchmark, not a test.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
OUTPUT_FACTORS = ("genre", "era", "quality")
TRUE_FACTORS = ("archetype", "leniency")


def run(out, model, beta, seed, extra):
    """metrics.json of one run, training it unless the folder already holds a completed one."""
    import movie_dlvm

    path = os.path.join(out, "metrics.json")
    if not os.path.exists(path):
        argv = ["--model", model, "--latent-dim", "3", "--seed", str(seed), "--interpret", "--visualize"]
        argv += ["--quiet", "--out", out, *(["--beta", str(beta)] if model != "ae" else []), *extra]
        started = time.perf_counter()
        code = movie_dlvm.main(argv)
        print(f"{out}: exit {code} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with open(path) as f:
        return json.load(f)


def row(m, model, beta, seed):
    interpret = m["interpret"]
    gains = np.array([interpret["information_gain"][f] for f in OUTPUT_FACTORS])  # (3 factors, Z)
    top = gains.argmax(1)
    out = {"model": model, "beta": beta, "seed": seed, "mig": interpret["mig"]}
    for f in TRUE_FACTORS:
        out[f"nmi {f}"] = "/".join(f"{v:.2f}" for v in interpret["normalised_mi"][f])
        out[f"max nmi {f}"] = max(interpret["normalised_mi"][f])
    for f, t, g in zip(OUTPUT_FACTORS, top, gains, strict=True):
        out[f"gain {f}"] = "/".join(f"{v:.3f}" for v in g)
        out[f"top dim {f}"] = f"z{t + 1}"
    out["distinct"] = len(set(top)) == len(OUTPUT_FACTORS)
    out["one dim"] = len(set(top)) == 1
    out["ari"], out["bayes ari"] = m["recovery"]["ari"], m["recovery"]["bayes_ari"]
    out["nll"] = m["test"].get("nll", np.nan)
    return out


def main(argv=None):
    from common.cli import Interval

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Interval(int, 1, None), default=3, help="seeds 0..N-1 (default: 3)")
    parser.add_argument("--models", nargs="+", default=["ae", "vae"], help="(default: ae vae)")
    parser.add_argument(
        "--betas",
        nargs="+",
        type=Interval(float, 0, None, closed="neither"),
        default=[0.5, 1, 2, 4],
        help="vae (default: 0.5 1 2 4)",
    )
    parser.add_argument("--out", default=os.path.join(ROOT, "results", "interpret"), help="run folders")
    parser.add_argument("extra", nargs="*", help="more movie_dlvm.py flags, after --")
    args = parser.parse_args(argv)

    rows = []
    for model in args.models:
        for beta in args.betas if model == "vae" else [None]:
            for seed in range(args.seeds):
                name = f"{model}" + (f"-beta{beta:g}" if beta is not None else "") + f"-seed{seed}"
                m = run(os.path.join(args.out, name), model, beta, seed, args.extra)
                rows.append(row(m, model, "" if beta is None else f"{beta:g}", seed))
    runs = pd.DataFrame(rows)
    shown = [c for c in runs.columns if not c.startswith("max nmi") and c not in ("distinct", "one dim")]
    print(runs[shown].to_markdown(index=False, floatfmt=".3f"))
    numbers = ["mig", "max nmi archetype", "max nmi leniency", "ari", "nll"]
    grouped = runs.groupby(["model", "beta"], sort=False)
    mean, sd = grouped[numbers].mean(), grouped[numbers].std()
    summary = mean.map("{:.3f}".format) + " ± " + sd.map("{:.3f}".format)
    for column in ("distinct", "one dim"):  # in how many seeds the three readings peak apart / together
        summary[column] = grouped[column].sum().astype(int).astype(str) + f" of {args.seeds}"
    print()
    print(summary.reset_index().to_markdown(index=False))


if __name__ == "__main__":
    main()
