"""Data-only work reused across the runs of a shell loop (`for b in 0.5 1 2 4; do ... --beta $b; done`).

The classical mixture (the gmvae's warm start and a baseline) and the classical baselines depend only on
the rows and their own settings, not on the model a loop varies: computed once, they are read back by
every later run on the same rows. joblib.Memory keys each result by a hash of every argument, the rows
themselves included, and of the function's code, so a result is never reused for other data or after the
code changed; a run with the cache gives the numbers it gives without it (tests/test_cache.py).

The cache lives beside the run folders, in `.dlvm-cache` under --out's parent (results/.dlvm-cache for
results/disease); `--cache off` neither reads nor writes it, and deleting the folder is always safe.
docs/speed.md gives what it saves.
"""

import os

FOLDER = ".dlvm-cache"
BYTES_LIMIT = "500M"  # a loop's entries are small (a fitted mixture, a dict of scores): trim past this


def location(out):
    """The cache folder of the runs written beside `out`."""
    return os.path.join(os.path.dirname(os.path.abspath(out)), FOLDER)


def cached(args, function):
    """`function`, its results kept in the cache of args.out's parent (or `function` itself with
    --cache off, or where no --out is known)."""
    if getattr(args, "cache", "off") != "on" or getattr(args, "out", None) is None:
        return function
    from joblib import Memory

    return Memory(location(args.out), verbose=0).cache(function)


def trim(args):
    """Keep the cache under BYTES_LIMIT, the least recently used entries going first."""
    if getattr(args, "cache", "off") == "on" and os.path.isdir(location(args.out)):
        from joblib import Memory

        Memory(location(args.out), verbose=0).reduce_size(bytes_limit=BYTES_LIMIT)
