"""Shared by the benchmarks: one demo run in a new process, as a user types it, and its metrics.json."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def metrics_of(argv, out):
    """metrics.json of `python ARGV --out OUT` run from the repository root (argv begins with the demo
    script); a failed run ends the benchmark with its command line and the end of its stderr."""
    argv = [*argv, "--out", out]
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)
