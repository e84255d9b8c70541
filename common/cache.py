"""Data-only work reused across the runs of a shell loop (`for b in 0.5 1 2 4; do ... --beta $b; done`).

The classical mixture (the gmvae's warm start and a baseline), a start of the world's own kind and the
classical baselines depend only on the rows and their own settings, not on the model a loop varies:
computed once, they are read back by every later run on the same rows. A result is filed under a hash
(joblib.hash: numpy arrays by content) of the function, every argument (the rows themselves included),
the source of every module in common/ and the versions of the libraries, and the file holds that key
beside the result: other rows, other settings or changed code compute afresh, and a run that reads the
cache writes the metrics a run without it writes (tests/test_cache.py).

Each file is signed (HMAC-SHA256) with a key of this user's, kept outside the results (~/.cache/dlvm):
a file is unpickled only when the signature holds, so a results folder copied from elsewhere cannot run
code here, as a model.pt cannot (common/runio.py). joblib.Memory, tried first, unpickles what it finds,
printed tracebacks for a damaged file, failed the run on an unwritable folder and returned another
entry's result for a file in the wrong place; here any such file is ignored and computed again, and a
cache that cannot be written is skipped with one line.

The cache lives beside the run folders, in `.dlvm-cache` under --out's parent (results/.dlvm-cache for
results/disease); `--cache off` neither reads nor writes it, and deleting the folder is always safe.
docs/speed.md gives what it saves.
"""

import functools
import glob
import hashlib
import hmac
import os
import pickle
import sys

from common.runio import atomic_path

FOLDER = ".dlvm-cache"
SIGNATURE_BYTES = 32  # HMAC-SHA256
BYTES_LIMIT = 500 * 2**20  # a loop's entries are small (a fitted mixture, a dict of scores): trim past this
_unwritable = set()  # cache folders this process could not write to, said once each


def location(out):
    """The cache folder of the runs written beside `out`."""
    return os.path.join(os.path.dirname(os.path.abspath(out)), FOLDER)


def cached(args, function):
    """`function`, its results kept in the cache beside args.out (or `function` itself with --cache off)."""
    if getattr(args, "cache", "off") != "on" or getattr(args, "out", None) is None:
        return function
    folder = location(args.out)

    @functools.wraps(function)
    def call(*a, **kw):
        import joblib

        key = joblib.hash((function.__module__, function.__qualname__, _code_version(), a, kw))
        path = os.path.join(folder, f"{function.__name__}-{key}.pkl")
        found = _read(path, key)
        if found is not None:
            return found[0]
        result = function(*a, **kw)
        _write(folder, path, key, result, args.prog)
        return result

    return call


def _read(path, key):
    """(result,) from the file at `path` when it is signed with this user's key and holds `key`; None when
    it is missing, unreadable, damaged, foreign or another entry's."""
    try:
        if not os.path.isfile(path):  # missing, or not a plain file (a FIFO would block the open)
            return None
        with open(path, "rb") as f:
            signature, data = f.read(SIGNATURE_BYTES), f.read()
        if not hmac.compare_digest(signature, _sign(data)):
            return None
        stored = pickle.loads(data)  # signed by this user: written by this code
        os.utime(path)  # recently used: trimmed last
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError):
        return None  # computed again (and written over)
    if isinstance(stored, dict) and stored.get("key") == key:
        return (stored["result"],)
    return None


def _write(folder, path, key, result, prog):
    """Keep `result` under `key`, signed, atomically (a temporary file renamed into place); a folder that
    cannot be written is said once, and the run goes on without it."""
    data = pickle.dumps({"key": key, "result": result}, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        signature = _sign(data)
        os.makedirs(folder, exist_ok=True)
        with atomic_path(path) as temporary, open(temporary, "wb") as f:
            f.write(signature + data)
    except OSError as err:
        if folder not in _unwritable:
            _unwritable.add(folder)
            why, where = err.strerror, err.filename2 or err.filename  # os.replace names its target second
            if isinstance(err, FileExistsError | NotADirectoryError):
                why = f"{where} is a file, not a folder"
            elif isinstance(err, IsADirectoryError):
                why = f"{where} is a folder, not a cache entry"
            print(
                f"{prog}: note: cannot keep data-only work in {folder} ({why}); the run goes on without it "
                "(--cache off skips it)",
                file=sys.stderr,
            )


def _sign(data):
    return hmac.new(_secret(), data, hashlib.sha256).digest()


@functools.cache
def _secret():
    """This user's signing key: 32 random bytes in ~/.cache/dlvm/cache-key (or $XDG_CACHE_HOME), made on
    first use, readable by the user alone. Raises OSError where it can be neither read nor made."""
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(home, "dlvm", "cache-key")
    try:
        with open(path, "rb") as f:
            secret = f.read()
        if len(secret) == SIGNATURE_BYTES:
            return secret
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with (
        atomic_path(path) as temporary,  # two runs making it at once: the last one's wins
        os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f,  # user only
    ):
        f.write(os.urandom(SIGNATURE_BYTES))
    with open(path, "rb") as f:  # and both read back the one in place
        return f.read()


@functools.cache
def _code_version():
    """The source of every module in common/ and the libraries' versions: any change computes afresh."""
    from importlib.metadata import version

    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256(repr(sys.version_info[:2]).encode())
    for name in ("numpy", "scipy", "scikit-learn", "torch"):
        digest.update(version(name).encode())
    for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        digest.update(os.path.relpath(path, root).encode())
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def trim(args):
    """Keep the cache under BYTES_LIMIT, the least recently used entries going first."""
    if getattr(args, "cache", "off") != "on":
        return
    try:
        entries = sorted(
            ((e.stat(), e.path) for e in os.scandir(location(args.out))), key=lambda e: e[0].st_mtime
        )
        total = sum(stat.st_size for stat, _ in entries)
        for stat, path in entries:
            if total <= BYTES_LIMIT:
                break
            os.unlink(path)
            total -= stat.st_size
    except OSError:  # no cache, or one this run cannot change: nothing to trim
        pass
