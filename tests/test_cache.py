"""The cache of data-only work (common/cache.py): a run that reads it computes what a run without it does;
it is never reused for other rows; --cache off neither reads nor writes it."""

import json

import disease_dlvm
from common import cache

TINY = ["--epochs", "2", "--hidden-dim", "16", "--quiet", "--samples", "400", "--iw-samples", "20"]


def _numbers(folder):
    """metrics.json without what names the run (its folder, its command line) or times it."""
    metrics = json.loads((folder / "metrics.json").read_text())
    for name in ("timing", "cache", "out", "argv", "given"):
        metrics.pop(name, None)
    return metrics


def _entries(root):
    """The results the cache holds: one output.pkl per function and arguments."""
    return sorted(str(p.relative_to(root)) for p in (root / cache.FOLDER).rglob("output.pkl"))


def test_a_run_that_reads_the_cache_gives_the_numbers_of_a_run_without_it(tmp_path):
    assert disease_dlvm.main([*TINY, "--out", str(tmp_path / "first")]) == 0
    written = _entries(tmp_path)
    assert (
        len(written) == 2
        and any("fit_mixture" in e for e in written)
        and any("baselines" in e for e in written)
    )
    assert disease_dlvm.main([*TINY, "--out", str(tmp_path / "again")]) == 0  # reads both
    assert _entries(tmp_path) == written
    assert disease_dlvm.main([*TINY, "--cache", "off", "--out", str(tmp_path / "off" / "run")]) == 0
    assert not (tmp_path / "off" / cache.FOLDER).exists()
    assert _numbers(tmp_path / "again") == _numbers(tmp_path / "first") == _numbers(tmp_path / "off" / "run")


def test_a_loop_over_a_model_setting_reuses_the_data_work_and_other_rows_do_not(tmp_path):
    assert disease_dlvm.main([*TINY, "--out", str(tmp_path / "b1")]) == 0
    assert disease_dlvm.main([*TINY, "--beta", "2", "--out", str(tmp_path / "b2")]) == 0
    assert len(_entries(tmp_path)) == 2  # the same rows: the mixture and the baselines read back
    assert disease_dlvm.main([*TINY, "--seed", "1", "--out", str(tmp_path / "s1")]) == 0
    assert len(_entries(tmp_path)) == 4  # other rows: computed and kept anew
    first, other = _numbers(tmp_path / "b1"), _numbers(tmp_path / "s1")
    assert first["baselines"] != other["baselines"]
