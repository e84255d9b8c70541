"""A run folder holds one run: it is replaced as a whole, never mixed, and one run writes it at a time.

    results/.disease.lock            locked (flock) by the one run writing results/disease
    results/.disease.staging-<pid>   where that run writes its files
    results/disease                  the last run that got as far as its metrics.json

A run takes the lock before any work (claim, from common/cli.py), writes every file into its staging
folder (runio.RunFolder.begin) and, once metrics.json is there, exchanges the staging folder with the
run folder in one rename (renameat2 RENAME_EXCHANGE on Linux), then deletes the earlier run. Killed at
any moment, it leaves the earlier run complete or its own complete; the next run into the folder
deletes what a dead run left. docs/run-folder.md describes it for users.
"""

import ctypes
import errno
import fcntl
import os
import shutil
import signal

_held = {}  # lock file -> descriptor, for the folders this process writes (a test calls main() often)
# Where a test (tests/test_run_folder.py) may stop a run (SIGSTOP), to act at a known moment.
PAUSE_VARIABLE = "DLVM_TEST_STOP_AT"


def _split(out):
    """(parent, name) of the folder `out` names: a symlinked --out is the folder it points to."""
    return os.path.split(os.path.realpath(out))


def lock_path(out):
    parent, name = _split(out)
    return os.path.join(parent, f".{name}.lock")


def staging_path(out, pid=None):
    parent, name = _split(out)
    return os.path.join(parent, f".{name}.staging-{os.getpid() if pid is None else pid}")


def claim(args):
    """--out, before any work: checked (runio.check_out_dir), not holding the files the run reads, and
    locked for this run. UsageError otherwise."""
    from common.cli import UsageError
    from common.runio import check_out_dir

    check_out_dir(args.out, args.demo, overwrite=args.overwrite or args.resume is not None)
    folder = os.path.realpath(args.out)
    load = getattr(args, "load", None)
    if load is not None and "out" not in args.given and os.path.realpath(os.path.dirname(load)) == folder:
        raise UsageError(
            "--out",
            f"the run would replace {args.out}, the folder --load reads {load} from; give another --out "
            f"(or --out {args.out} to replace that run with this evaluation)",
        )
    for flag in ("data", "ratings", "titles"):  # a run folder is replaced as a whole, with what it holds
        path = getattr(args, flag, None)
        if path and os.path.realpath(path).startswith(folder + os.sep):
            raise UsageError(
                f"--{flag}", f"{path} is inside --out {args.out}, which a run replaces; choose another --out"
            )
    try:
        lock(args.out)
    except Busy as busy:
        raise UsageError("--out", str(busy)) from None
    except OSError as err:
        reason = f"cannot write beside {args.out} ({err.strerror}); choose another folder"
        raise UsageError("--out", reason) from None


class Busy(Exception):
    """Another process holds the folder's lock (its pid is unknown for the moment it has not written it)."""

    def __init__(self, out, pid):
        who = f" (pid {pid})" if pid else ""
        super().__init__(f"another run{who} is writing {out}; wait for it or choose another --out")


def lock(out):
    """Lock folder `out` for this process (nothing to do if it holds the lock), then delete what dead runs
    left beside it; Busy when another process holds it. The kernel releases a flock when its process
    ends, however it ends (kill -9 too): a dead run's lock never blocks the next one."""
    path = lock_path(out)
    if path in _held:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 20).decode(errors="replace").strip()
        os.close(fd)
        raise Busy(out, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # for the message of a run that finds it locked
    _held[path] = fd
    _clean(out)


def release():
    """Unlock every folder this process locked (the end of a demo's main)."""
    while _held:
        os.close(_held.popitem()[1])


def _clean(out):
    """Under the lock, any staging or old folder beside `out` is a dead run's: delete it; but if `out` is
    missing or empty (a run killed between the two renames of the fallback), put the old run back."""
    parent, name = _split(out)
    folder = os.path.join(parent, name)
    for entry in sorted(os.listdir(parent)):
        path = os.path.join(parent, entry)
        if entry.startswith(f".{name}.old-") and (not os.path.isdir(folder) or not os.listdir(folder)):
            if os.path.isdir(folder):
                os.rmdir(folder)
            os.rename(path, folder)
        elif entry.startswith((f".{name}.staging-", f".{name}.old-")):
            shutil.rmtree(path, ignore_errors=True)


def stage(out):
    """A fresh, empty staging folder for a run into `out` (locked for it first); its path."""
    lock(out)
    path = staging_path(out)
    shutil.rmtree(path, ignore_errors=True)  # an earlier run of this process, or a dead one of this pid
    os.mkdir(path)
    return path


def replace(out, staged):
    """Put the run in folder `staged` in the place of `out`, as a whole, and delete the run it replaces."""
    pause_point("swap")
    folder = os.path.realpath(out)
    if not os.path.exists(folder):
        os.rename(staged, folder)
        return
    if _exchange(staged, folder):  # one atomic step: `staged` now holds the earlier run
        shutil.rmtree(staged, ignore_errors=True)
        return
    parent, name = os.path.split(folder)
    old = os.path.join(parent, f".{name}.old-{os.getpid()}")
    os.rename(folder, old)  # a kill between these two renames leaves `out` missing: _clean restores it
    os.rename(staged, folder)
    shutil.rmtree(old, ignore_errors=True)


def discard(staged):
    shutil.rmtree(staged, ignore_errors=True)


def _exchange(a, b):
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc 2.28+ or not Linux
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system without it
        return False
    raise OSError(code, os.strerror(code), b)


def pause_point(name):
    """Tests only: with DLVM_TEST_STOP_AT=name the process stops itself here (SIGSTOP), so that a test
    can start a second run, or kill -9 this one, at a known moment."""
    if os.environ.get(PAUSE_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
