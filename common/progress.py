"""What a run is doing, stage by stage, on stderr: the epoch bar (common/train.py) covers training only,
and the data, the warm start, the held-out likelihood, the baselines and the figures take seconds too.

One plain line per stage, `prog: stage: what`, on a terminal and in a log alike (a line is readable in
both, and never garbles the epoch bar or the notes printed between stages); nothing with --quiet.
Warnings are printed even with --quiet: the run goes on, but some of its numbers deserve doubt.
"""

import sys


def stage(args, what):
    """Say that the run now does `what` (one line on stderr; nothing with --quiet)."""
    if not getattr(args, "quiet", False):
        print(f"{args.prog}: {what}", file=sys.stderr, flush=True)


def warn(args, message):
    """One warning line on stderr, even with --quiet (metrics.json keeps it too: common/pipeline.py)."""
    print(f"{args.prog}: warning: {message}", file=sys.stderr, flush=True)
