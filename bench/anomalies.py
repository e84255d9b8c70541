"""How well each demo's default model finds rows from outside its world (--anomalies, docs/anomalies.md).

    python bench/anomalies.py                       # every demo, --anomalies 0.1, seeds 0-4
    python bench/anomalies.py --demos disease --seeds 2 --jobs 1

Each run is a user's: `python <demo>_dlvm.py --anomalies SHARE --seed S --quiet` into a temporary folder,
several at a time (--jobs). Printed: the median [min, max] over seeds of each scorer's ROC AUC, and the
issue's targets: the model's AUROC at least 0.98 of the world's exact log p(x)'s, and at least
IsolationForest's (medians).
"""

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.demo_runs import metrics_of  # noqa: E402
from common.anomalies import SCORERS  # noqa: E402

DEMOS = ("disease", "cuisine", "movie")


def run(demo, seed, share, folder):
    """metrics.json's `anomalies` section of one default run of `demo`."""
    out = os.path.join(folder, f"{demo}-{seed}")
    return metrics_of([f"{demo}_dlvm.py", "--anomalies", str(share), "--seed", str(seed), "--quiet"], out)[
        "anomalies"
    ]


def table(results, seeds, share):
    """A markdown table: one row per demo, the median [min, max] ROC AUC of each scorer, the targets."""
    names = [name for name in SCORERS if any(name in r["scores"] for rs in results.values() for r in rs)]
    lines = [
        "| world | "
        + " | ".join(SCORERS[n] for n in names)
        + " | model / world | model >= IsolationForest |",
        "|---" * (len(names) + 3) + "|",
    ]
    for demo, runs in results.items():
        auc = {n: np.array([r["scores"][n]["roc_auc"] for r in runs if n in r["scores"]]) for n in names}
        cells = [
            f"{np.median(v):.3f} [{v.min():.3f}, {v.max():.3f}]" if len(v) else "-" for v in auc.values()
        ]
        ratio = np.median(auc["model"]) / np.median(auc["world"])
        beats = np.median(auc["model"]) >= np.median(auc["isolation_forest"])
        lines.append(f"| {demo} | " + " | ".join(cells) + f" | {ratio:.3f} | {'yes' if beats else 'no'} |")
    head = (
        f"ROC AUC, median [min, max] over seeds 0-{seeds - 1}, --anomalies {share}, each demo's default model"
    )
    return head + "\n\n" + "\n".join(lines)


def main(argv=None):
    from common.cli import Interval

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demos", nargs="+", choices=DEMOS, default=list(DEMOS), help="default: all three")
    parser.add_argument("--seeds", type=Interval(int, 1, None), default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument(
        "--share",
        type=Interval(float, 0, 1, closed="neither"),
        default=0.1,
        help="--anomalies (default: 0.1)",
    )
    parser.add_argument("--jobs", type=Interval(int, 1, None), default=3, help="runs at a time (default: 3)")
    args = parser.parse_args(argv)
    cases = [(demo, seed) for demo in args.demos for seed in range(args.seeds)]
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(args.jobs) as pool:
        found = list(pool.map(lambda case: run(*case, args.share, folder), cases))
    results = {demo: [r for (d, _), r in zip(cases, found, strict=True) if d == demo] for demo in args.demos}
    print(table(results, args.seeds, args.share))


if __name__ == "__main__":
    main()
