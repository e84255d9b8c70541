"""Figures drawn in a second process, on the core the model leaves idle.

A small model trains and evaluates on one thread (common.cli.limit_threads), so on a machine with two
or more cores the other one idles. A Painter starts one worker process when the run begins; the
worker imports matplotlib and seaborn while the model trains, then draws each figure it is sent
while this process goes on evaluating. Figures are drawn from numbers (numpy arrays, lists, dicts):
anything that needs the model is computed here first, so the worker never imports torch.

On a single core, or where no process can start, the figures are drawn in this process, by finish(),
after the run's numbers; they go through the same pickling the worker's figures go through, as they
are sent: a figure that could not reach the worker fails on every machine, not only those with two.

finish(timeout=) bounds how long a run waits for its figures: those not drawn by then are skipped, and
a worker still drawing is ended, so no figure can keep a run from ending.
"""

import math
import os
import pickle
import signal
import threading
import time


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _exit_with_parent():
    # The worker holds both ends of its task queue, so a parent killed outright (SIGKILL, OOM) would
    # leave it waiting forever; the parent's sentinel becomes ready when the parent is gone.
    from multiprocessing import connection, parent_process

    connection.wait([parent_process().sentinel])
    os._exit(1)


def _prepare_worker():
    # This process decides when a run stops (common.train.StopRequest): Ctrl-C in a terminal reaches
    # every process of the group, and the worker must not die mid-figure with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    from common.plots import _pyplot

    _pyplot()  # import matplotlib and seaborn now, while the model trains


class Painter:
    """`draw(plot, path, *args)` runs `plot(path, *args)` in the worker (or here, in finish());
    `finish()` waits for every figure, drawing here those still waiting, and raises the first error a
    figure met; `cancel()` drops the figures not yet begun (those sent to the worker, at most three: the
    one it draws and two queued, are left to finish()). Use it as a context manager: leaving the block
    ends the worker, at once if it still has figures no finish() waited for."""

    def __init__(self, enabled=True):
        self._waiting = []  # (future, or None for a figure to draw here; (plot, args, kwargs))
        self._pool = self._started = None
        if not enabled or _usable_cores() < 2:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked copy of a process that has run torch (threads, CUDA) is unsafe.
        # The worker starts on the first submit. Ignore SIGINT and SIGTERM while it starts, so that
        # it begins life ignoring them too (a Python started with SIGINT ignored keeps it ignored).
        handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        pool = None
        try:
            pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_worker
            )
            self._started = pool.submit(_usable_cores)  # starts the worker now; not a figure
            self._pool = pool
        except OSError:  # no process can be started here (no /dev/shm, a process limit): draw in-process
            if pool is not None:
                pool.shutdown(wait=False)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    @property
    def in_background(self):
        return self._pool is not None

    def draw(self, plot, *args, **kwargs):
        if self._pool is None:  # drawn by finish(), after the run's numbers
            self._waiting.append((None, pickle.loads(pickle.dumps((plot, args, kwargs)))))
        else:
            self._waiting.append((self._pool.submit(plot, *args, **kwargs), (plot, args, kwargs)))

    def finish(self, draw_here=True, timeout=None, stop=None):
        """Wait for every figure, at most `timeout` seconds (None: as long as they take); return the names
        of those not drawn. After `stop.requested` (a Ctrl-C), figures not yet begun are dropped and
        those the worker has begun are finished. Past the timeout, the worker is ended whatever it draws.
        With draw_here, this process, done with its own work, draws the figures the worker has not yet
        been sent, the last first (the worker takes them from the front): when drawing is the longer
        branch, a run's last seconds go to two cores, not one."""
        from concurrent.futures import wait

        deadline = time.monotonic() + (math.inf if timeout is None else timeout)

        def stopped():
            return stop is not None and stop.requested

        if self._started is not None and not stopped():  # the worker up (importing matplotlib) first
            wait([self._started], timeout=None if timeout is None else max(deadline - time.monotonic(), 0))
        waiting, skipped = self._waiting, []
        try:
            for future, (plot, args, kwargs) in reversed(waiting):
                if future is None or (draw_here and future.cancel()):
                    if time.monotonic() < deadline and not stopped():
                        plot(*args, **kwargs)
                    else:
                        skipped.append(_name(plot, args))
        finally:  # what is left is the worker's: if an error stops the wait, __exit__ ends it
            self._waiting = [(f, item) for f, item in waiting if f is not None and not f.cancelled()]
        sent, late = self._waiting, set()
        if sent:
            late = {future for future, _ in sent}
            while late and time.monotonic() < deadline:  # in slices: a Ctrl-C is heard within 0.1 s
                if stopped():
                    skipped += self.cancel()  # the rest of `late` has begun: it is finished
                    late = {f for f in late if not f.cancelled()}
                late = wait(late, timeout=min(0.1, deadline - time.monotonic())).not_done
            if late:
                self._end_worker()
                skipped += [_name(plot, args) for future, (plot, args, _) in sent if future in late]
        self._waiting = []
        for future, _ in sent:
            if future not in late and not future.cancelled():
                future.result()  # the worker's exception, with its traceback, if a figure failed
        return skipped

    def pending(self):
        """The names of the figures sent and not yet drawn (those leaving the block now would end)."""
        return [_name(plot, args) for f, (plot, args, _) in self._waiting if f is None or not f.done()]

    def cancel(self):
        """Drop the figures not yet begun; return their names."""
        kept, dropped = [], []
        for future, item in self._waiting:
            (kept if future is not None and not future.cancel() else dropped).append((future, item))
        self._waiting = kept
        return [_name(plot, args) for _, (plot, args, _) in dropped]

    def _end_worker(self):
        """End the worker now, whatever it draws (a figure past its time, a run ending in an error)."""
        processes = dict(getattr(self._pool, "_processes", None) or {})  # no public way before Python 3.14
        for process in processes.values():
            process.kill()
        # Waiting for the pool's own thread, which sees the killed worker at once, lets its queues be
        # collected: their semaphores are then released, and Python does not warn of leaked ones.
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is None:
            return
        pending = [f for f, _ in self._waiting if f is not None] + [self._started]
        if not all(f.done() for f in pending):
            self._end_worker()  # figures never waited for by finish(): a run stopped at once waits for none
        else:
            self._pool.shutdown(wait=True)
            self._pool = None


def _name(plot, args):
    """A figure's name for a message: its file's name (figures are drawn to their first argument)."""
    return os.path.basename(str(args[0])) if args else plot.__name__
