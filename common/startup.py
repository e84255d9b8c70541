"""Imported first by each demo script, before numpy and torch: from then on a Ctrl-C or SIGTERM while
Python imports ends with one line and exit 130, not a traceback from inside numpy or a silent exit 143.
common.entry.entry_point takes over once the run begins (a clean stop that leaves the run folder whole), and
common.entry.exit_with once it has ended. Only a demo run as a script is guarded: its tests keep their own
handlers. What no script can guard is Python's own start, the 10-20 ms before this line runs."""

import os
import signal
import sys


def _stop(signum, frame):
    print(f"{os.path.basename(sys.argv[0])}: interrupted; nothing was written", file=sys.stderr, flush=True)
    os._exit(130)  # while modules import: no file is open, and no half-imported module is left to finalise


if getattr(sys.modules["__main__"], "__file__", "").endswith("_dlvm.py"):
    for _signal in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(_signal) is not signal.SIG_IGN:  # a shell's background job ignores Ctrl-C
            signal.signal(_signal, _stop)
