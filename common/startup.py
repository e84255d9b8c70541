"""Imported first by each demo script, before numpy and torch: from then on a Ctrl-C or SIGTERM while
Python imports ends with one line and exit 130, not a traceback from inside numpy or a silent exit 143.
common.entry.entry_point takes over once the run begins (a clean stop that leaves the run folder whole),
and common.entry.exit_with, with stop_at_once too, once it has ended. Only a demo run as a script is
guarded: its tests keep their own handlers. What no script can guard is Python's own start, the 10-20 ms
before this line runs."""

import contextlib
import os
import signal
import sys


def flush_streams():
    """Flush stdout and stderr, as Python's exit would; a reader gone (`| head`) has read all it wanted."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()


def stop_at_once(message):
    """A signal handler that ends the process now, with `prog: message` and exit 130: for the moments when
    no file is open (modules importing, or every file written and closed)."""

    def stop(signum, frame):
        flush_streams()
        with contextlib.suppress(BrokenPipeError, ValueError):
            print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
        flush_streams()
        os._exit(130)

    return stop


if getattr(sys.modules["__main__"], "__file__", "").endswith("_dlvm.py"):
    for _signal in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(_signal) is not signal.SIG_IGN:  # a shell's background job ignores Ctrl-C
            signal.signal(_signal, stop_at_once("interrupted; nothing was written"))
