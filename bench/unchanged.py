"""Does a change leave what the runs compute unchanged? metrics.json of the same commands, before and after.

    python bench/unchanged.py --before main             # the default cases against the main branch
    python bench/unchanged.py --before HEAD~3 --cases all

Each case runs as a user runs it: `python <tree>/<demo>_dlvm.py ARGS --quiet`, in a fresh empty folder,
so that the default run folder (results/<demo>) and the command line are the same for both trees. The
revision `--before` is checked out into a temporary git worktree. metrics.json of the two runs is then
compared key by key, wall times aside (`timing` and every `seconds`); any other difference is printed
with its dotted key. Exit code 0 when every case is identical, 1 otherwise.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WALL_TIMES = ("timing", "seconds")

# The default run of each demo, the movie demo's implicit mode on its world, and a --data table.
DEFAULT_CASES = {
    "disease": ["disease_dlvm.py"],
    "cuisine": ["cuisine_dlvm.py"],
    "movie": ["movie_dlvm.py"],
    "movie implicit": ["movie_dlvm.py", "--likelihood", "multinomial"],
    "wine table": ["cuisine_dlvm.py", "--data", "{wine}", "--label-column", "cultivar", "--standardize"],
}
# More paths through the code, for a change that touches them (--cases all).
MORE_CASES = {
    "disease vae": ["disease_dlvm.py", "--model", "vae", "--epochs", "10"],
    "disease dae": ["disease_dlvm.py", "--model", "dae", "--epochs", "10"],
    "disease auto": ["disease_dlvm.py", "--samples", "2000", "--epochs", "5", "--clusters", "auto"],
    "disease restarts": ["disease_dlvm.py", "--samples", "2000", "--epochs", "5", "--restarts", "2"],
    "cuisine cvae": ["cuisine_dlvm.py", "--conditional", "--epochs", "20"],
    "cuisine interpret": ["cuisine_dlvm.py", "--epochs", "20", "--interpret"],
    "movie vae": ["movie_dlvm.py", "--model", "vae", "--epochs", "5"],
    "movie categorical": ["movie_dlvm.py", "--likelihood", "categorical"],
    "movie implicit gmvae": ["movie_dlvm.py", "--likelihood", "multinomial", "--model", "gmvae"],
    "movie implicit folds": ["movie_dlvm.py", "--likelihood", "multinomial", "--epochs", "5", "--folds", "3"],
    "binary table": ["disease_dlvm.py", "--data", "{cancer}", "--label-column", "diagnosis"],
}


def write_tables(folder):
    """wine.csv (13 measurements, cultivar) and, with every measurement split at its median, cancer.csv
    (30 yes/no features, diagnosis): real tables that ship with scikit-learn."""
    from sklearn.datasets import load_breast_cancer, load_wine

    wine = load_wine(as_frame=True)
    frame = wine.frame.drop(columns="target")
    frame["cultivar"] = [wine.target_names[t] for t in wine.target]
    frame.to_csv(os.path.join(folder, "wine.csv"), index=False)
    cancer = load_breast_cancer(as_frame=True)
    features = cancer.frame.drop(columns="target")
    binary = (features > features.median()).astype(int)
    binary["diagnosis"] = [cancer.target_names[t] for t in cancer.target]
    binary.to_csv(os.path.join(folder, "cancer.csv"), index=False)
    return {"wine": os.path.join(folder, "wine.csv"), "cancer": os.path.join(folder, "cancer.csv")}


def run_case(tree, argv, tables, workdir):
    """Run one case with the demos of `tree` in the empty folder `workdir`; its metrics.json, or None."""
    script, *args = argv
    args = [a.format(**tables) for a in args]
    os.makedirs(workdir)
    done = subprocess.run(
        [sys.executable, os.path.join(tree, script), *args, "--quiet"],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"    exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    folder = os.path.join(workdir, "results", script.removesuffix("_dlvm.py"))
    with open(os.path.join(folder, "metrics.json")) as f:
        return json.load(f)


def differences(before, after, prefix=""):
    """Dotted keys whose values differ, wall times aside."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            if key in WALL_TIMES:
                continue
            here = f"{prefix}.{key}" if prefix else key
            if key not in before or key not in after:
                out.append(f"{here}: only {'after' if key in after else 'before'}")
            else:
                out += differences(before[key], after[key], here)
        return out
    return [] if before == after else [f"{prefix}: {before!r} -> {after!r}"]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/unchanged.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", default="main", help="git revision to compare with (default: main)")
    parser.add_argument(
        "--cases",
        choices=["default", "all"],
        default="default",
        help="default: the five runs the structure issue names; all: eleven more paths (default: default)",
    )
    args = parser.parse_args(argv)
    cases = DEFAULT_CASES | (MORE_CASES if args.cases == "all" else {})
    with tempfile.TemporaryDirectory() as scratch:
        before_tree = os.path.join(scratch, "before")
        made = subprocess.run(
            ["git", "-C", ROOT, "worktree", "add", "--detach", before_tree, args.before],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            parser.error(f"argument --before: cannot check out {args.before!r} ({made.stderr.strip()})")
        try:
            tables = write_tables(scratch)
            changed = 0
            for n, (name, case) in enumerate(cases.items()):
                started = time.perf_counter()
                runs = [
                    run_case(tree, case, tables, os.path.join(scratch, f"{n}-{side}"))
                    for side, tree in (("before", before_tree), ("after", ROOT))
                ]
                seconds = time.perf_counter() - started
                found = ["a run failed"] if None in runs else differences(*runs)
                changed += bool(found)
                print(f"{name:<22} {'identical' if not found else 'CHANGED'}  ({seconds:.0f} s for both)")
                for line in found:
                    print(f"    {line}")
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", before_tree], check=False)
    print(f"{len(cases) - changed} of {len(cases)} cases identical to {args.before}, wall times aside")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
