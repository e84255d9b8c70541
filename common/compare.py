"""Compare finished runs: one table of the flags that differ and the numbers that matter.

    for b in 0.5 1 2; do python disease_dlvm.py --beta $b --quiet --out results/beta$b; done
    python -m common.compare results/beta* --plot beta:nll

prints one row per run (the flags that differ between the runs, held-out NLL and its gap to the
world, recovery ARI and its fraction of the Bayes-optimal ARI, the best baseline, ranking metrics,
training time, and the status of runs that did not complete), sorted by --sort (default nll;
lower-is-better metrics ascending, higher-is-better ones descending, runs without it last), and
writes the table (and, with --plot, the figure; with --figure NAME.png, that figure of every run in
one grid: common/plots/runs.py draws both) to --out, by default beside the runs under a name of
their own (compare-beta-<digest>.csv), so that comparing other runs never overwrites it.
Quoted patterns ('results/beta*') are expanded here too. Numbers a run lacks are empty cells.
"""

import argparse
import glob
import hashlib
import json
import math
import numbers
import os
import re
import sys
from collections import namedtuple

from common.cli import Parser, UsageError
from common.runio import check_out_dir

Metric = namedtuple("Metric", "words higher_is_better fmt")

# Column name -> what it means, which way is better, how the printed table rounds it.
METRICS = {
    "nll": Metric("held-out NLL (nats per row)", False, ".4f"),
    "gap": Metric("NLL gap to the world (nats per row)", False, "+.4f"),
    "ari": Metric("recovery ARI", True, ".3f"),
    "ari/bayes": Metric("recovery ARI / Bayes-optimal ARI", True, ".3f"),
    "baseline_ari": Metric("best baseline's recovery ARI", True, ".3f"),
    "ndcg@100": Metric("NDCG@100", True, ".3f"),
    "recall@20": Metric("Recall@20", True, ".3f"),
    "recall@50": Metric("Recall@50", True, ".3f"),
    "train_seconds": Metric("training time (seconds)", False, ".1f"),
}
# Config keys that name or display a run rather than change what it learns or measures.
NOT_FLAGS = {"demo", "argv", "given", "out", "quiet", "visualize", "save_data", "cache"}
NOT_FLAGS |= {"resume", "resumed_with"}  # a resumed run learns what the uninterrupted one does


def make_parser():
    lower = ", ".join(name for name, m in METRICS.items() if not m.higher_is_better)
    higher = ", ".join(name for name, m in METRICS.items() if m.higher_is_better)
    parser = Parser(
        prog="python -m common.compare",
        description="One table over many runs: the flags that differ and the key metrics.",
        epilog="Prints the table and writes it as CSV (every digit; empty cell = run lacks the number).\n"
        "example: python -m common.compare results/beta* --plot beta:nll",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="one or more run folders, each with a metrics.json; quoted patterns such as 'results/beta*' "
        "are expanded too",
    )
    parser.add_argument(
        "--sort",
        choices=list(METRICS),
        default="nll",
        metavar="METRIC",
        help=f"metric to sort by: ascending for {lower} (lower is better), descending for {higher} "
        "(higher is better); runs without it go last (default: nll)",
    )
    parser.add_argument(
        "--plot",
        metavar="X:Y",
        help="draw metric Y against flag X to compare.png, one line per value of the other flags "
        "that differ, e.g. beta:nll (default: no plot)",
    )
    parser.add_argument(
        "--figure",
        metavar="NAME.png",
        help="put the figure NAME.png of every run side by side in one grid, each titled by the run's "
        "differing flags, e.g. clusters.png; written beside the table as <its name>-NAME.png (default: none)",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="FILE.csv for the table (the plot goes beside it as FILE.png), or a folder for compare.csv and "
        "compare.png (default: the deepest folder holding all the runs, the files named after the runs "
        "compared, so 'results/beta*' writes results/compare-beta-<digest>.csv)",
    )
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    plot_x, plot_y = _parse_plot(parser, args.plot) if args.plot else (None, None)

    runs = []
    for folder in expand(args.runs):
        try:
            runs.append(load_run(folder))
        except ValueError as err:
            print(f"{parser.prog}: skipping {folder}: {err}", file=sys.stderr)
            continue
        if runs[-1]["config"] is None:
            print(f"{parser.prog}: {folder}: no readable config.json; its flags stay empty", file=sys.stderr)
    if not runs:
        parser.error("no run to compare: none of the paths given is a folder with a readable metrics.json")
    datasets = list(dict.fromkeys(_dataset(run["metrics"]) for run in runs))
    if len(datasets) > 1:  # an ARI on one table says nothing about one on another
        print(
            f"{parser.prog}: note: these runs are on different data ({'; '.join(datasets)}): compare "
            "their numbers within one data set",
            file=sys.stderr,
        )

    parent = os.path.commonpath([os.path.dirname(run["path"]) for run in runs])
    written = outputs(args.out, runs, parent)
    try:
        check_out_dir(os.path.dirname(written[0]) or ".")
    except UsageError as err:
        parser.error(str(err))
    frame, flags = table(runs, parent, args.sort)
    if frame[args.sort].isna().all():
        print(f"{parser.prog}: no run has {args.sort}; rows keep the given order", file=sys.stderr)
    frame = frame.dropna(axis=1, how="all")  # a column nobody has is noise
    if plot_x is not None:  # before anything is printed or written
        _check_plot_columns(parser, frame, flags, plot_x, plot_y)
    if args.figure is not None:
        args.figure = _check_figure(parser, frame, parent, args.figure)

    # Files first, table second: `... | head` closes stdout early and must not cost the files.
    from common import runio

    runio.write_csv(written[0], frame)
    written = [written[0], *figures(args, frame, flags, runs, parent, written[1], (plot_x, plot_y))]

    direction = "higher" if METRICS[args.sort].higher_is_better else "lower"
    print(f"{len(runs)} runs, sorted by {args.sort} ({direction} is better)")
    print(render(frame))
    shown = [_show(path) for path in written]
    print("wrote " + (", ".join(shown[:-1]) + " and " if len(shown) > 1 else "") + shown[-1])
    return 0


def figures(args, frame, flags, runs, parent, png, plot_xy):
    """Draw --plot's figure to `png` and --figure's grid beside it (common/plots/runs.py); their paths."""
    from common.plots import runs as draw

    written = []
    x, y = plot_xy
    if x is not None:
        references = draw.reference_values(runs, parent, y)
        draw.plot(frame, x, y, [f for f in flags if f != x], png, references)
        written.append(png)
    if args.figure is not None:
        written.append(f"{png[:-4]}-{args.figure[:-4]}.png")
        draw.run_grid(frame, flags, parent, args.figure, written[-1])
    return written


def _check_figure(parser, frame, parent, name):
    """--figure NAME or NAME.png: a figure file some run has; NAME.png."""
    name = name if name.lower().endswith(".png") else f"{name}.png"
    if os.path.basename(name) != name:
        parser.error(f"argument --figure: {name!r} is a path; give a figure's file name, e.g. clusters.png")
    if not any(os.path.isfile(os.path.join(parent, run, name)) for run in frame["run"]):
        parser.error(f"argument --figure: no run has {name} (drawn with --visualize; see docs/figures.md)")
    return name


def outputs(out, runs, parent):
    """[table.csv, figure.png]: --out FILE.csv and FILE.png; --out DIR's compare.csv and compare.png; by
    default, in `parent`, compare-<the run names' common start>-<digest of the runs compared>: the same
    runs give the same name again, other runs (another loop's) another one."""
    if out is not None and out.lower().endswith(".csv"):
        return [out, out[:-4] + ".png"]
    if out is not None:
        return [os.path.join(out, "compare.csv"), os.path.join(out, "compare.png")]
    names = sorted(os.path.relpath(run["path"], parent) for run in runs)
    start = re.sub(r"[^\w.+-]", "_", os.path.commonprefix(names)).rstrip("._-")
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:6]
    stem = os.path.join(parent, f"compare-{start}-{digest}" if start else f"compare-{digest}")
    return [stem + ".csv", stem + ".png"]


def expand(paths):
    """Shell-expanded paths and quoted patterns -> run folders, each once, in the order given."""
    folders, seen = [], set()
    for path in paths:
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        for match in matches:
            if os.path.basename(match) == "metrics.json":  # 'results/*/metrics.json' works too
                match = os.path.dirname(match) or "."
            elif os.path.isfile(match):
                continue  # e.g. results/compare.csv caught by results/*: not a run, not worth a line
            key = os.path.realpath(match)
            if key not in seen:
                seen.add(key)
                folders.append(match)
        if not matches:
            folders.append(path)  # reported by load_run as missing
    return folders


def load_run(folder):
    """metrics.json and config.json of one run; ValueError says why the folder is not a run."""
    metrics_path = os.path.join(folder, "metrics.json")
    if not os.path.isdir(folder):
        raise ValueError("no folder matches" if glob.has_magic(folder) else "no such folder")
    if not os.path.isfile(metrics_path):
        if glob.glob(os.path.join(glob.escape(folder), "*", "metrics.json")):
            raise ValueError(f"no metrics.json, but its subfolders have one; try '{folder}/*'")
        raise ValueError("no metrics.json")
    metrics = _read_json(metrics_path)
    if metrics is None:
        raise ValueError("metrics.json is not a readable JSON object")
    config = _read_json(os.path.join(folder, "config.json"))  # None: flags unknown, cells empty
    return {"path": os.path.abspath(folder), "metrics": metrics, "config": config}


def _dataset(metrics):
    """What a run was trained on, in words: its demo and data source ("disease, synthetic")."""
    data = metrics.get("data") if isinstance(metrics.get("data"), dict) else {}
    return f"{metrics.get('demo', '?')}, {data.get('source', '?')}"


def _read_json(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def table(runs, parent, sort):
    """(frame sorted by `sort`, names of the flags that differ). Missing numbers are NaN."""
    import pandas as pd

    flags = differing_flags([run["config"] for run in runs if run["config"] is not None])
    rows = []
    for run in runs:
        config = run["config"] or {}
        demo = run["metrics"].get("demo", config.get("demo"))
        row = {"run": os.path.relpath(run["path"], parent), "demo": demo}
        # Lists and dicts become their JSON text so that they can be compared, grouped and printed.
        row.update({flag: _scalar(config.get(flag)) for flag in flags})
        row.update(key_metrics(run["metrics"]))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame["demo"].nunique(dropna=False) == 1:
        frame = frame.drop(columns="demo")
    ascending = not METRICS[sort].higher_is_better
    frame = frame.sort_values(sort, ascending=ascending, na_position="last", kind="stable")
    return frame.reset_index(drop=True), flags


def differing_flags(configs):
    """Config keys whose value is not the same in every config (absent counts as a value)."""
    keys = list(dict.fromkeys(key for config in configs for key in config if key not in NOT_FLAGS))
    return [key for key in keys if len({json.dumps(config.get(key)) for config in configs}) > 1]


def key_metrics(metrics):
    """The table's metric columns for one run's metrics.json (NaN or None where absent)."""
    ari, bayes_ari = _number(metrics, "recovery.ari"), _number(metrics, "recovery.bayes_ari")
    baselines = metrics.get("baselines")
    scored = {}
    if isinstance(baselines, dict):
        scored = {name: _number(b, "ari") for name, b in baselines.items() if isinstance(b, dict)}
        scored = {name: value for name, value in scored.items() if not math.isnan(value)}
    best = max(scored, key=scored.get) if scored else None
    status = metrics.get("status")
    return {
        "nll": _number(metrics, "test.nll"),
        "gap": _number(metrics, "test.nll_gap"),
        "ari": ari,
        "ari/bayes": ari / bayes_ari if bayes_ari else math.nan,  # NaN stays NaN, 0 would divide by zero
        "baseline": best,
        "baseline_ari": scored[best] if best else math.nan,
        "ndcg@100": _number(metrics, "ranking.ndcg@100"),
        "recall@20": _number(metrics, "ranking.recall@20"),
        "recall@50": _number(metrics, "ranking.recall@50"),
        "train_seconds": _number(metrics, "timing.train_seconds"),
        "status": None if status == "completed" else status,
    }


def _scalar(value):
    return json.dumps(value) if isinstance(value, list | dict) else value


def _number(tree, dotted):
    """tree["a"]["b"] for "a.b" as a float, NaN when any key is absent or the value is not a number."""
    value = tree
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else math.nan


def render(frame):
    """The printed table: metrics rounded (compare.csv keeps every digit), empty cells blank."""
    import pandas as pd

    def formatter(fmt):
        return lambda v: "" if pd.isna(v) else format(v, fmt)

    formatters = {name: formatter(METRICS[name].fmt) for name in METRICS if name in frame}
    others = {name: lambda v: "" if pd.isna(v) else _cell(v) for name in frame if name not in formatters}
    return frame.to_string(index=False, formatters={**others, **formatters}, na_rep="")


def _parse_plot(parser, text):
    x, sep, y = text.partition(":")
    if not sep or not x or not y:
        parser.error(f"argument --plot: {text!r} is not X:Y; give a flag and a metric, e.g. beta:nll")
    if y not in METRICS:
        parser.error(f"argument --plot: unknown metric {y!r}; choose from {', '.join(METRICS)}")
    return x.lstrip("-").replace("-", "_"), y  # --latent-dim, latent-dim and latent_dim all work


def _check_plot_columns(parser, frame, flags, x, y):
    if x not in flags:
        valid = ", ".join(flags) if flags else "none (no flag differs between these runs)"
        parser.error(
            f"argument --plot: {x!r} is not a flag that differs between the runs; choose from {valid}"
        )
    if y not in frame or not (frame[x].notna() & frame[y].notna()).any():
        valid = ", ".join(name for name in METRICS if name in frame)
        parser.error(f"argument --plot: no run has both {x!r} and {y!r}; metrics with values: {valid}")


def _is_number(value):
    """True for ints and floats, numpy's too, but not for bools or NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _order(value):
    """Numbers by value before text (so 2 comes before 10), missing last."""
    if _is_number(value):
        return (0, float(value), "")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0.0, "")
    return (1, 0.0, str(value))


def _cell(value):
    """A flag value as a person writes it: 10000 not 10000.0 (a missing value makes pandas use floats)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(none)"
    if _is_number(value) and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _show(path):
    """A path as the user would type it: relative when under the working folder."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head`: the reader has all it wanted (recipe from the Python docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
