"""Quality of each model on a demo's world, over several seeds: the README's results tables.

    python bench/quality.py disease --seeds 5
    python bench/quality.py cuisine --seeds 5
    python bench/quality.py movie --seeds 5          # explicit ratings: archetypes, NLL gap
    python bench/quality.py disease --seeds 3 --config "beta4=--model vae --beta 4"
    python bench/quality.py disease --set extensions   # priors, flows, IWAE, two layers, codebook

Every configuration runs the demo once per seed (a new world sample, split and initialisation each
time) and the table reports medians and [min, max] over seeds of: held-out NLL gap to the world's
true NLL, recovery ARI as a fraction of the Bayes-optimal ARI, the best baseline's fraction, and the
wall time of the run. Figures are printed, never asserted: this is a benchmark, not a test.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_CONFIGS = {
    "disease": {
        "vae": "--model vae",
        "gmvae (default)": "--model gmvae",
        "gmvae, 3 restarts": "--model gmvae --restarts 3",
        "ae": "--model ae",
        "dae": "--model dae",
    },
    "cuisine": {
        "gmvae (default)": "--model gmvae",
        "gmvae, latent 3": "--model gmvae --latent-dim 3",
        "vae": "--model vae",
        "ae": "--model ae",
        "dae": "--model dae",
        "cvae (--conditional: trained with labels)": "--conditional",
    },
    "movie": {  # explicit ratings; the implicit mode's rankings: bench/movielens.py
        "gmvae (default)": "--model gmvae",
        "gmvae, categorical+missing head": "--model gmvae --likelihood categorical+missing",
        "vae": "--model vae",
        "dae": "--model dae",
    },
}


# The seeds' extensions (docs/extensions.md), beside today's vae and gmvae, on every world.
EXTENSIONS = {
    "vae": "--model vae",
    "gmvae (default)": "--model gmvae",
    "vae, VampPrior": "--model vae --prior vamp",
    "vae, IAF posterior": "--model vae --flow iaf",
    "vae, planar posterior": "--model vae --flow planar",
    "vae, VampPrior + IAF": "--model vae --prior vamp --flow iaf",
    "vae, IWAE K=5": "--model vae --iw-train 5",
    "gmvae, IWAE K=5": "--model gmvae --iw-train 5",
    "vae, 3 hidden layers": "--model vae --hidden-layers 3",
    "gmvae, 3 hidden layers": "--model gmvae --hidden-layers 3",
    "hvae (two stochastic layers)": "--model hvae",
    "vqvae (codebook of K)": "--model vqvae",
}
# Each world's best configuration found (docs/extensions.md), measured beside them.
BEST = {
    "disease": {"vae, VampPrior, IWAE K=5": "--model vae --prior vamp --iw-train 5"},
    "cuisine": {"gmvae, 160 epochs": "--model gmvae --epochs 160"},
    "movie": {"gmvae, IWAE K=5, 40 epochs": "--model gmvae --iw-train 5 --epochs 40"},
}
SETS = {"default": DEFAULT_CONFIGS, "extensions": {demo: EXTENSIONS | BEST[demo] for demo in DEFAULT_CONFIGS}}


def measure(demo, argv, seed):
    module = importlib.import_module(f"{demo}_dlvm")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        code = module.main([*argv, "--seed", str(seed), "--quiet", "--out", out])
        seconds = time.perf_counter() - started
        if code != 0:
            return {"status": f"exit {code}"}
        with open(os.path.join(out, "metrics.json")) as f:
            m = json.load(f)
    rec = m["recovery"]
    best = max(b["ari"] for b in m["baselines"].values())
    # The classical mixture of the data's kind (mixture_em, or gmm on real features) has a likelihood too.
    baseline_nlls = [b["nll"] for b in m["baselines"].values() if "nll" in b] or [np.nan]
    return {
        "nll_gap": m["test"].get("nll_gap", np.nan),
        "mixture nll_gap": min(baseline_nlls) - m["test"].get("true_nll", np.nan),
        "ari": rec["ari"],
        "ari/bayes": rec["ari"] / rec["bayes_ari"],
        "best baseline ari/bayes": best / rec["bayes_ari"],
        "seconds": seconds,
        "train seconds": m["timing"]["train_seconds"],
    }


def spread(values):
    """'median [min, max]' over seeds."""
    values = np.asarray(values, dtype=float)
    if np.all(np.isnan(values)):
        return "-"
    return f"{np.nanmedian(values):.3f} [{np.nanmin(values):.3f}, {np.nanmax(values):.3f}]"


def main(argv=None):
    from common.cli import Interval

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("demo", choices=sorted(DEFAULT_CONFIGS), help="which demo to measure")
    parser.add_argument(
        "--seeds", type=Interval(int, 1, None), default=5, help="seeds per configuration, 0..N-1 (default: 5)"
    )
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="default",
        help="the built-in configurations: the models (default) or the extensions of docs/extensions.md",
    )
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME=FLAGS",
        help="a configuration to measure, e.g. 'beta4=--model vae --beta 4' (default: the built-in list)",
    )
    args = parser.parse_args(argv)
    configs = SETS[args.set][args.demo]
    if args.config:
        for config in args.config:
            if "=" not in config:
                parser.error(
                    f"argument --config: {config!r} has no NAME=; write e.g. 'beta4=--model vae --beta 4'"
                )
        configs = dict(c.split("=", 1) for c in args.config)
    if args.demo == "movie" and any("multinomial" in flags for flags in configs.values()):
        parser.error("--config: the implicit mode has rankings, not archetypes; use bench/movielens.py")
    rows = []
    for name, flags in configs.items():
        runs = [measure(args.demo, flags.split(), seed) for seed in range(args.seeds)]
        runs = [r for r in runs if "status" not in r]
        rows.append(
            {"configuration": name, "flags": flags, "runs": len(runs)}
            | {
                key: spread([r[key] for r in runs])
                for key in ("nll_gap", "mixture nll_gap", "ari/bayes", "best baseline ari/bayes")
            }
            | {key: spread([r[key] for r in runs]) for key in ("train seconds", "seconds")}
        )
        print(f"{name}: done", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    print(f"{args.demo}: medians [min, max] over seeds 0..{args.seeds - 1}")
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
