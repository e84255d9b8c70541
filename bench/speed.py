"""Speed and scale, measured: the README's and docs/speed.md's speed tables.

    python bench/speed.py                 # every table below, 3 repeats
    python bench/speed.py loop --repeats 5
    python bench/speed.py demos
    python bench/speed.py scaling --max-samples 1000000

loop     the same VAE on the same disease data, trained two ways: with the project's loop
         (common/train.py: batches sliced from one in-memory tensor, one host sync per epoch) and
         with the plain tutorial loop (TensorDataset + DataLoader, batch 128, .item() every step).
         Wall time, samples per second and held-out NLL for both, and the ratio; medians.
demos    each demo's default run with --visualize, as a user starts it (a new process), as a multiple
         of the import floor (`python -c "import torch, sklearn, matplotlib"`, timed in the same
         repeats), with where its time goes (bench/stages.py: imports, setup, data, warm start,
         training, recovery, likelihood, baselines, interpret, figures, exit); and the second run of
         a shell loop over --beta into one results folder, the loop the demos' users run.
memory   each demo's default run with --visualize: peak memory (max resident set size), its own and
         with its figure worker's.
scaling  the disease demo's training time per epoch and peak memory as the number of samples
         grows (1e4, 1e5, 1e6), and the movie demo's (Mult-VAE, implicit feedback, 2 epochs, EASE
         off) as users (5e3, 2e4, 8e4) and items (160, 640, 2560) grow, to show that the cost is linear.

Times are medians over --repeats; they are figures to read, never pass/fail.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PYTHON = sys.executable


def plain_dataloader_fit(model, x_train, epochs, batch_size=128, lr=1e-3):
    """The loop of a typical tutorial: DataLoader over a TensorDataset, a host sync per step."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x_train), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        total = 0.0
        for (xb,) in loader:
            loss = model.loss_parts(xb)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)  # the per-step host sync tutorials do
    return model


def loop_table(repeats, epochs=50, samples=10_000):
    import torch

    from common.evaluate import held_out_likelihood
    from common.model_table import build_model
    from common.train import fit
    from common.world import split
    from disease_dlvm import DiseaseWorld

    world = DiseaseWorld()
    rng = np.random.default_rng(0)
    train, test = split(world.sample(samples, rng), 0.2, rng)
    x_train, x_test = torch.tensor(train.x), torch.tensor(test.x)
    true_nll = float(-world.log_prob(test.x).mean())
    config = {"model": "vae", "n_features": world.n_features, "likelihood": "bernoulli"}
    config |= {"latent_dim": 2, "hidden_dim": 64}
    default_threads = torch.get_num_threads()  # what a tutorial runs with: torch's default
    rows = []
    for repeat in range(repeats):
        for name in (
            "project loop (batch 256, lr 5e-3, cosine)",
            "plain DataLoader loop (batch 128, lr 1e-3)",
        ):
            # The project runs a model this small on one thread (cli.limit_threads); a tutorial does not.
            torch.set_num_threads(1 if name.startswith("project") else default_threads)
            torch.manual_seed(repeat)
            model = build_model(config)
            started = time.perf_counter()
            if name.startswith("project"):
                fit(model, x_train, epochs=epochs, batch_size=256, lr=5e-3, beta=1.0, quiet=True)
            else:
                plain_dataloader_fit(model, x_train, epochs)
            seconds = time.perf_counter() - started
            model.eval()
            gap = held_out_likelihood(model, x_test, 1000)["nll"] - true_nll
            rows.append(
                {"loop": name, "seconds": seconds, "samples/s": len(train) * epochs / seconds, "nll gap": gap}
            )
    table = pd.DataFrame(rows).groupby("loop", sort=False).median()
    ratio = table["seconds"].iloc[1] / table["seconds"].iloc[0]
    return (
        table,
        f"the project's loop is {ratio:.1f}x faster ({epochs} epochs, {len(train)} training rows, vae; "
        f"plain loop on torch's default {default_threads} threads, the project's on 1)",
    )


# Runs a demo script as __main__ and reports the process's own peak memory once its main has returned
# (common.entry.exit_with, which the script ends with, would end the process before any code after it).
PEAK_WRAPPER = """
import resource, runpy, sys
sys.path.insert(0, ".")
import common.entry

def exit_with(main):
    code = main()
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
    sys.exit(code)

common.entry.exit_with = exit_with
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _tree_rss_kb(pid):
    """Memory of a process and all its descendants (Linux /proc), in kB; 0 once it is gone. Each
    counts its proportional share of pages it shares (Pss): a child forked before it execs a new
    program holds all its parent's pages, which plain resident sizes would count twice."""
    total, stack = 0, [pid]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                stack += [int(child) for child in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_demo(argv, out):
    """Run a demo in a new process; wall seconds, its own peak memory (max resident set) in MB, and
    the peak of its whole process tree (with the figure worker of common/speed/painter.py), sampled every
    20 ms from /proc (0 where there is no /proc)."""
    started = time.perf_counter()
    command = [PYTHON, "-c", PEAK_WRAPPER, *argv, "--quiet", "--out", out]
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        tree_peak_kb = 0
        while process.poll() is None:
            tree_peak_kb = max(tree_peak_kb, _tree_rss_kb(process.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        stderr.seek(0)
        errors = stderr.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {errors.strip().splitlines()[-2:]}")
    peak_kb = int(errors.rsplit("PEAK_KB", 1)[1].split()[0])
    return seconds, peak_kb / 1024, tree_peak_kb / 1024


# ---- Each demo's default run against the import floor ------------------------------------------------

DEMOS = ("disease_dlvm.py", "cuisine_dlvm.py", "movie_dlvm.py")
FLOOR = "import torch, sklearn, matplotlib"  # what any run of these demos pays before it does anything
STAGES = {  # the first word(s) of a progress line (common/progress.py) -> the column it is counted in
    "data": "data",
    "warm start": "warm start",
    "training": "training",
    "--clusters auto": "training",
    "recovery": "recovery",
    "held-out likelihood": "likelihood",
    "baselines": "baselines",
    "interpret": "interpret",
    "figures": "figures",
}
COLUMNS = ["imports", "setup", *dict.fromkeys(STAGES.values()), "exit"]


def floor_seconds():
    """Wall seconds of `python -c FLOOR`, a new process as a run is."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", FLOOR], check=True)
    return time.perf_counter() - started


def staged_run(argv, out):
    """Run a demo through bench/stages.py; (wall seconds, {column: seconds}). Each stage runs from its
    progress line to the next; `setup` is everything before the first (Python starting, arguments, the
    world's rows), `exit` from main's return to the process's end; every heavy import is counted under
    `imports`, not in the stage that started it."""
    started = time.monotonic()
    command = [PYTHON, os.path.join(ROOT, "bench", "stages.py"), *argv, "--out", out]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    ended = time.monotonic()
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {run.stderr.strip().splitlines()[-2:]}")
    stamps, seconds = [(started, "setup")], dict.fromkeys(COLUMNS, 0.0)
    for line in run.stderr.splitlines():
        kind, _, fields = line.partition(" ")
        if kind == "STAMP":
            at, what = fields.split(" ", 1)
            stamps.append((float(at), _column(what)))
        elif kind == "IMPORT":  # an import belongs to imports, not to the stage that began it
            spent, what = fields.split(" ", 1)
            seconds[_column(what.rsplit(" ", 1)[0])] -= float(spent)
            seconds["imports"] += float(spent)
    for (at, column), (next_at, _) in zip(stamps, [*stamps[1:], (ended, None)], strict=True):
        seconds[column] += next_at - at
    return ended - started, seconds


def _column(stage):
    """The column of a stage named by bench/stages.py."""
    if stage in ("setup", "start", "main"):
        return "setup"
    if stage in ("exit", "returned"):
        return "exit"
    return next(column for prefix, column in STAGES.items() if stage.startswith(prefix))


def demos_table(repeats):
    """Each demo's default run with --visualize as a multiple of the import floor (the same repeats,
    interleaved, so that both see the same load), its stages, and the second run of a --beta loop."""
    commands = [[demo, "--visualize"] for demo in DEMOS]
    rows, floors = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            floors.append(floor_seconds())
            for argv in commands:
                name = f"python {' '.join(argv)}"
                seconds, stages = staged_run(argv, os.path.join(tmp, f"r{repeat}", argv[0]))
                rows.append({"command": name, "seconds": seconds, **stages})
            loop = os.path.join(tmp, f"loop{repeat}")  # a shell loop over --beta: the same data twice
            for beta in ("1", "2"):
                argv = ["disease_dlvm.py", "--visualize", "--beta", beta]
                seconds, stages = staged_run(argv, os.path.join(loop, f"beta{beta}"))
            rows.append({"command": "python disease_dlvm.py --visualize --beta 2, after --beta 1",
                         "seconds": seconds, **stages})  # fmt: skip
    floor = float(np.median(floors))
    table = pd.DataFrame(rows).groupby("command", sort=False).median()
    table = table.loc[:, (table != 0).any()]  # a stage no run has (interpret, without --interpret)
    table.insert(1, "x floor", table["seconds"] / floor)
    return table, f"import floor (`python -c '{FLOOR}'`): {floor:.2f} s, median of {repeats}"


def memory_table(repeats):
    """Each demo's default run with --visualize: peak memory, its own and its tree's (times: demos_table)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for demo in DEMOS:
            for repeat in range(repeats):
                out = os.path.join(tmp, f"r{repeat}", demo)  # a cache of its own: each a first run
                _, peak, worker = run_demo([demo, "--visualize"], out)
                rows.append({"command": f"python {demo} --visualize", "peak MB": peak,
                             "with worker, peak MB": worker})  # fmt: skip
    return pd.DataFrame(rows).groupby("command", sort=False).median()


def scaling_table(repeats, max_samples):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for samples in (10**4, 10**5, 10**6):
            if samples > max_samples:
                break
            for model in ("vae", "gmvae"):
                for repeat in range(repeats):
                    out = os.path.join(tmp, f"{model}{samples}{repeat}")
                    argv = ["disease_dlvm.py", "--samples", str(samples), "--epochs", "5", "--model", model]
                    seconds, peak, _ = run_demo(argv, out)
                    with open(os.path.join(out, "metrics.json")) as f:
                        metrics = json.load(f)
                    rows.append(
                        {
                            "model": model,
                            "samples": samples,
                            "train s/epoch": metrics["timing"]["train_seconds"] / 5,
                            "run seconds": seconds,
                            "peak MB": peak,
                        }
                    )
    return pd.DataFrame(rows).groupby(["model", "samples"]).median()


def movie_scaling_table(repeats, epochs=2):
    # Users grow at 160 items, then items grow at 5000 users; the matrix stays sparse (CSR) throughout.
    sizes = [(5000, 20), (20000, 20), (80000, 20), (5000, 80), (5000, 320)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for users, per_genre in sizes:
            for repeat in range(repeats):
                out = os.path.join(tmp, f"{users}-{per_genre}-{repeat}")
                argv = ["movie_dlvm.py", "--likelihood", "multinomial", "--users", str(users)]
                argv += ["--movies", str(per_genre), "--epochs", str(epochs), "--ease-max-items", "1"]
                seconds, peak, _ = run_demo(argv, out)
                with open(os.path.join(out, "metrics.json")) as f:
                    metrics = json.load(f)
                rows.append(
                    {
                        "users": users,
                        "items": 8 * per_genre,
                        "train s/epoch": metrics["timing"]["train_seconds"] / epochs,
                        "run seconds": seconds,
                        "peak MB": peak,
                    }
                )
    return pd.DataFrame(rows).groupby(["users", "items"], sort=False).median()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "tables",
        nargs="*",
        default=["loop", "demos", "memory", "scaling"],
        help="loop, demos, memory, scaling (disease and movie), movie-scaling "
        "(default: loop demos memory scaling)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats per measurement; medians (default: 3)"
    )
    parser.add_argument(
        "--max-samples", type=int, default=10**6, help="largest scaling size (default: 1000000)"
    )
    args = parser.parse_args(argv)
    known = ("loop", "demos", "memory", "scaling", "movie-scaling")
    unknown = [t for t in args.tables if t not in known]
    if unknown:
        parser.error(f"argument tables: {', '.join(unknown)} is not one of {', '.join(known)}")
    from importlib.metadata import version

    # Readings move with the machine's load from hour to hour: say when and where these were taken.
    print(
        f"bench/speed.py {' '.join(args.tables)}: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, torch {version('torch')}\n",
        flush=True,
    )
    if "loop" in args.tables:
        table, verdict = loop_table(args.repeats)
        print(table.to_markdown(floatfmt=".3g"), f"\n\n{verdict}\n", flush=True)
    if "demos" in args.tables:
        table, floor = demos_table(args.repeats)
        print(table.to_markdown(floatfmt=".2f"), f"\n\n{floor}; stage columns in seconds\n", flush=True)
    if "memory" in args.tables:
        print(memory_table(args.repeats).to_markdown(floatfmt=".3g"), "\n", flush=True)
    if "scaling" in args.tables:
        print(scaling_table(args.repeats, args.max_samples).to_markdown(floatfmt=".3g"), "\n", flush=True)
    if "movie-scaling" in args.tables or "scaling" in args.tables:
        print(movie_scaling_table(args.repeats).to_markdown(floatfmt=".3g"), "\n", flush=True)


if __name__ == "__main__":
    main()
