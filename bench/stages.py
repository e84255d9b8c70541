"""Where a demo run's time goes: run as `python bench/stages.py DEMO.py FLAGS...` (bench/speed.py does).

It runs the demo as its script does and prints, on stderr, one `STAMP <monotonic seconds> <what>` line
at each point of the run: `start` (Python is up), `main` (the demo's module-level imports are done), each
stage the run announces (common/progress.py: data, warm start, training, ...), `returned` (main has
returned: every file is written), and one `IMPORT <seconds> <stage> <package>` line per heavy package
(torch, scikit-learn, ...) with the time its import took and the stage it fell in, so that imports can
be counted as a stage of their own wherever the code starts them. Its own cost is a few microseconds
a stamp; the run's output is otherwise unchanged.
"""

import functools
import importlib
import importlib.machinery
import os
import sys
import time

HEAVY = {"torch", "sklearn", "scipy", "pandas", "matplotlib", "seaborn", "joblib", "numpy", "tqdm"}
_stage = ["setup"]
_depth = [0]


def stamp(what):
    print(f"STAMP {time.monotonic():.6f} {what}", file=sys.stderr, flush=True)


class TimedImports:
    """A meta-path finder that times the first import of each HEAVY package (the outermost one when one
    imports another), and records the stage it happened in."""

    def find_spec(self, name, path, target=None):
        if name not in HEAVY:
            return None
        HEAVY.discard(name)  # once
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def timed(module):
            started, _depth[0] = time.monotonic(), _depth[0] + 1
            try:
                load(module)
            finally:
                _depth[0] -= 1
                if _depth[0] == 0:
                    print(f"IMPORT {time.monotonic() - started:.6f} {_stage[0]} {name}", file=sys.stderr)

        spec.loader.exec_module = timed
        return spec


def main():
    stamp("start")
    sys.meta_path.insert(0, TimedImports())
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    from common import progress

    said = progress.stage

    def stage(args, what):
        _stage[0] = what.split(":")[0]
        stamp(_stage[0])
        said(args, what)

    progress.stage = stage
    demo = importlib.import_module(os.path.basename(script)[: -len(".py")])  # its imports, not its main
    _stage[0] = "main"
    stamp("main")

    @functools.wraps(demo.main)
    def main_then_stamp():
        code = demo.main()
        _stage[0] = "exit"
        stamp("returned")
        return code

    from common.entry import exit_with

    exit_with(main_then_stamp)  # and end as the script does


if __name__ == "__main__":
    main()
