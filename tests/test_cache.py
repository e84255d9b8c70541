"""The cache of data-only work (common/cache.py): a run that reads it computes what a run without it does;
it is never reused for other rows; a damaged, foreign, misplaced or unwritable entry is computed again,
never trusted, never unpickled unsigned; --cache off neither reads nor writes it."""

import json
import os
import pickle

import disease_dlvm
from common import cache
from tests.conftest import RunsCode

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet", "--samples", "400", "--iw-samples", "20"]


def _numbers(folder):
    """metrics.json without what names the run (its folder, its command line) or times it."""
    metrics = json.loads((folder / "metrics.json").read_text())
    for name in ("timing", "cache", "out", "argv", "given"):
        metrics.pop(name, None)
    return metrics


def _entries(root):
    """{function name: entry file} of the cache beside the runs under `root`."""
    return {p.name.split("-")[0]: p for p in sorted((root / cache.FOLDER).glob("*.pkl"))}


def _run(root, name, *extra):
    assert disease_dlvm.main([*TINY, *extra, "--out", str(root / name)]) == 0
    return _numbers(root / name)


def test_a_run_that_reads_the_cache_gives_the_numbers_of_a_run_without_it(tmp_path):
    first = _run(tmp_path, "first")
    written = _entries(tmp_path)
    assert sorted(written) == ["baselines", "fit_mixture"]
    inodes = {name: path.stat().st_ino for name, path in written.items()}  # a rewrite makes a new file
    again = _run(tmp_path, "again")  # reads both, writes neither
    assert {name: path.stat().st_ino for name, path in _entries(tmp_path).items()} == inodes
    off = _run(tmp_path / "off", "run", "--cache", "off")
    assert not (tmp_path / "off" / cache.FOLDER).exists()
    assert again == first == off


def test_a_loop_over_a_model_setting_reuses_the_data_work_and_other_rows_do_not(tmp_path):
    b1 = _run(tmp_path, "b1")
    _run(tmp_path, "b2", "--beta", "2")
    assert len(list((tmp_path / cache.FOLDER).glob("*.pkl"))) == 2  # the same rows: read back
    s1 = _run(tmp_path, "s1", "--seed", "1")
    assert len(list((tmp_path / cache.FOLDER).glob("*.pkl"))) == 4  # other rows: computed and kept anew
    assert s1["baselines"] != b1["baselines"]


def test_damaged_misplaced_and_foreign_entries_are_computed_again_and_never_unpickled(tmp_path, capsys):
    truth = _run(tmp_path / "truth", "run", "--cache", "off")
    _run(tmp_path, "seed1", "--seed", "1")  # entries for other rows, to misplace
    other = _entries(tmp_path)
    _run(tmp_path, "first")
    entries = {name: path for name, path in _entries(tmp_path).items() if path not in other.values()}
    marker = tmp_path / "unpickled"
    damage = [
        lambda path: path.write_bytes(path.read_bytes()[:100]),  # truncated
        lambda path: path.write_bytes(other[path.name.split("-")[0]].read_bytes()),  # another entry's
        lambda path: path.write_bytes(b"\0" * 32 + pickle.dumps(RunsCode(marker))),  # unsigned: foreign
    ]
    for k, spoil in enumerate(damage):
        for path in entries.values():
            spoil(path)
        capsys.readouterr()
        assert _run(tmp_path, f"after{k}") == truth
        assert capsys.readouterr().err == ""  # quietly computed again
    assert not marker.exists()


def test_a_cache_that_cannot_be_written_is_said_once_and_the_run_goes_on(tmp_path, capsys):
    (tmp_path / cache.FOLDER).write_text("a file where the cache folder goes")
    truth = _run(tmp_path / "truth", "run", "--cache", "off")
    capsys.readouterr()
    assert _run(tmp_path, "run") == truth
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"disease_dlvm.py: note: cannot keep data-only work in {tmp_path / cache.FOLDER} ("
    )


def test_the_cache_is_trimmed_least_recently_used_first(tmp_path, monkeypatch):
    from types import SimpleNamespace

    folder = tmp_path / cache.FOLDER
    folder.mkdir()
    for age, name in enumerate(["used-last.pkl", "used-first.pkl", "used-between.pkl"]):
        (folder / name).write_bytes(b"x" * 100)
        os.utime(folder / name, (0, [3, 1, 2][age]))  # mtime: when last read (common.cache._read)
    monkeypatch.setattr(cache, "BYTES_LIMIT", 250)
    cache.trim(SimpleNamespace(cache="on", out=str(tmp_path / "run")))
    assert sorted(p.name for p in folder.iterdir()) == ["used-between.pkl", "used-last.pkl"]


def test_the_signing_key_is_the_users_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache._secret.cache_clear()
    try:
        key = cache._secret()
        path = tmp_path / "dlvm" / "cache-key"
        assert path.read_bytes() == key and len(key) == cache.SIGNATURE_BYTES
        assert path.stat().st_mode & 0o077 == 0  # no one else may read it, or forge an entry
    finally:
        cache._secret.cache_clear()
