"""How a demo's main starts and ends: entry_point turns bad input found after parsing (UsageError), a
machine out of memory and a second Ctrl-C into one line and an exit code (2, 2, 130), never a traceback,
and puts the run folder in place however main ends; exit_with ends the script once every file is written.
common/startup.py guards the imports before them; common/train.py's StopRequest the training between.

Only the standard library is imported here, so `python disease_dlvm.py --help` stays fast.
"""

import functools
import os
import signal
import sys
import threading

from common.cli import UsageError, script_of


def _as_interrupt(signum, frame):
    """SIGTERM before a run's own handler takes over (common/train.py: StopRequest), e.g. during imports
    or data preparation: the same clean stop as Ctrl-C there, not a silent exit 143."""
    raise KeyboardInterrupt


def entry_point(main):
    """Decorator for a demo's main(argv): bad input found after parsing (UsageError), sizes too big for
    this machine (--samples 1e9, which no range check can know) and a second Ctrl-C or SIGTERM (the
    first lets the run stop cleanly) end with one line and exit 2, 2 and 130, never a traceback.
    Files already written stay whole: every write is atomic, and a run's folder is replaced as a whole."""

    @functools.wraps(main)
    def guarded(argv=None):
        prog = script_of(main)
        main_thread = threading.current_thread() is threading.main_thread()  # signals reach it only
        handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _as_interrupt}
        previous = {  # a signal the process was started ignoring (a shell's background job) stays ignored
            sig: signal.signal(sig, handler)
            for sig, handler in handlers.items()
            if main_thread and signal.getsignal(sig) is not signal.SIG_IGN
        }
        try:
            return _run_main(main, argv)
        except UsageError as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; {_what_is_left()}", file=sys.stderr)
            raise SystemExit(130) from None
        except MemoryError:
            pass
        except RuntimeError as err:  # torch's CPU allocator raises RuntimeError, not MemoryError
            if "can't allocate memory" not in str(err) and "not enough memory" not in str(err):
                raise
        finally:
            for sig, handler in previous.items():  # common/startup.py's, for a script
                signal.signal(sig, handler)
        print(
            f"{prog}: error: out of memory: the sizes asked for (rows, --hidden-dim, --latent-dim, "
            "--iw-samples, --batch-size) do not fit in this machine's memory; try smaller ones",
            file=sys.stderr,
        )
        raise SystemExit(2)

    return guarded


def _what_is_left():
    """After a Ctrl-C that stopped main at once: where its run folder stands (common/runio.py)."""
    from common.runio import ended

    if not ended:  # stopped before its run folder was begun: only the lock file beside --out
        return "nothing was written"
    out, replaced = ended[-1]
    return f"the run so far is in {out}" if replaced else f"{out} is as it was before this run"


def exit_with(main):
    """sys.exit(main()) for a script, without Python's teardown. Once main has returned every file is in
    place; a Ctrl-C or SIGTERM from then on ends with one line and exit 130, not a silent exit 143."""
    from common import staging
    from common.startup import flush_streams, stop_at_once

    code = main()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_at_once("interrupted while exiting; files already written are whole"))
    staging.pause_point("exiting")  # tests: a signal while Python exits
    # Every file is written and closed (each atomically); Python's own teardown of torch, its threads and
    # its modules would take 0.3-0.5 s more of a default run (docs/speed.md), for nothing: end here.
    flush_streams()
    os._exit(int(code or 0))


def _run_main(main, argv):
    """main(argv), then its run folder put in place (or, for a run that wrote no metrics.json, dropped)
    and unlocked, however main ends (common/staging.py)."""
    from common import runio

    runio.ended.clear()  # what this main's run folders come to (_what_is_left)
    try:
        return main(argv)
    finally:
        from common import staging

        runio.end_all()
        staging.release()
