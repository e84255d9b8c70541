"""Figures drawn in a second process, on the core the model leaves idle.

A small model trains and evaluates on one thread (common.cli.limit_threads), so on a machine with two
or more cores the other one idles. A Painter starts one worker process when the run begins; the
worker imports matplotlib and seaborn while the model trains, then draws each figure it is sent
while this process goes on evaluating. Figures are drawn from numbers (numpy arrays, lists, dicts):
anything that needs the model is computed here first, so the worker never imports torch.

On a single core, or where no process can start, `draw` draws in this process, but through the same
pickling the worker's figures go through: a figure that could not reach the worker fails on every
machine, not only on those with two cores.
"""

import os
import pickle
import signal
import threading


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
    """`draw(plot, *args)` runs `plot(*args)` in the worker (or here); `finish()` waits for every
    figure, drawing here those still waiting, and raises the first error a figure met; `cancel()`
    drops the figures not yet sent to the worker (those sent, at most three: the one it draws and two
    queued, are finished). Use it as a context manager: leaving the block always ends the worker."""

    def __init__(self, enabled=True):
        self._futures = []
        self._pool = None
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
            self._futures.append((pool.submit(_usable_cores), (_usable_cores, (), {})))
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
        if self._pool is None:
            plot, args, kwargs = pickle.loads(pickle.dumps((plot, args, kwargs)))
            plot(*args, **kwargs)
        else:
            self._futures.append((self._pool.submit(plot, *args, **kwargs), (plot, args, kwargs)))

    def finish(self, draw_here=True):
        """Wait for every figure. With draw_here, this process, done with its own work, draws the
        figures the worker has not yet been sent, the last first (the worker takes them from the
        front): when drawing is the longer branch, a run's last seconds go to two cores, not one."""
        futures, self._futures = self._futures, []
        for future, (plot, args, kwargs) in reversed(futures):
            if draw_here and future.cancel():
                plot(*args, **kwargs)
        for future, _ in futures:
            if not future.cancelled():
                future.result()  # the worker's exception, with its traceback, if a figure failed

    def cancel(self):
        for future, _ in self._futures:
            future.cancel()
        self._futures = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
