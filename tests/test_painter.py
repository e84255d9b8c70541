"""The painter draws figures in a second process: what it draws, what it imports, how it ends."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from common.speed.painter import Painter, _usable_cores
from tests.conftest import second_process

background = pytest.mark.skipif(_usable_cores() < 2, reason="the painter draws in-process on one core")


def _record(path, label="drawn"):
    """A stand-in figure: which process drew it and what that process had imported."""
    with open(path, "w") as f:
        json.dump({"label": label, "pid": os.getpid(), "modules": sorted(sys.modules)}, f)


def _slow_record(path):
    time.sleep(0.5)
    _record(path)


def _broken_figure(path):
    raise ValueError(f"cannot draw {path}")


def _read(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def painter():
    """One worker for the module's tests: starting one (matplotlib and seaborn imported) takes ~1.5 s."""
    with second_process() as has_two_cores:
        if not has_two_cores:
            pytest.skip("the painter draws in-process on one core")
        with Painter() as shared:
            yield shared


def test_worker_draws_with_matplotlib_and_never_imports_torch(tmp_path, painter):
    assert painter.in_background
    painter.draw(_record, tmp_path / "a.json", label="first")
    painter.draw(_record, tmp_path / "b.json")
    painter.finish(draw_here=False)
    drawn = [_read(tmp_path / name) for name in ("a.json", "b.json")]
    assert drawn[0]["label"] == "first" and drawn[1]["label"] == "drawn"
    assert drawn[0]["pid"] == drawn[1]["pid"] != os.getpid()  # one worker, not this process
    assert "matplotlib.pyplot" in drawn[0]["modules"] and "seaborn" in drawn[0]["modules"]
    assert "torch" not in drawn[0]["modules"]


def test_finish_draws_here_what_the_worker_has_not_been_sent(tmp_path, painter):
    painter.finish()  # the worker is up and idle
    painter.draw(_slow_record, tmp_path / "slow.json")  # keeps the worker busy for 0.5 s
    for k in range(6):
        painter.draw(_record, tmp_path / f"{k}.json")
    painter.finish()
    drawn = [_read(tmp_path / name) for name in ["slow.json", *(f"{k}.json" for k in range(6))]]
    by = [d["pid"] for d in drawn]
    assert by[0] != os.getpid()  # the worker's first
    assert by.count(os.getpid()) >= 4  # at most three had reached the worker; this process drew the rest


def test_without_a_worker_it_draws_here_in_finish(tmp_path):
    with Painter(enabled=False) as painter:
        assert not painter.in_background
        painter.draw(_record, tmp_path / "a.json")
        assert not (tmp_path / "a.json").exists()  # not before the run's numbers: finish() draws it
        assert painter.finish() == []
        assert _read(tmp_path / "a.json")["pid"] == os.getpid()


def test_finish_skips_what_it_cannot_draw_in_time(tmp_path):
    with Painter(enabled=False) as painter:
        painter.draw(_record, tmp_path / "a.json")
        painter.draw(_slow_record, tmp_path / "slow.json")  # drawn first (the last sent), past the time
        assert painter.finish(timeout=0.1) == ["a.json"]
    assert (tmp_path / "slow.json").exists() and not (tmp_path / "a.json").exists()


def _hung(path):
    time.sleep(60)


@background
def test_a_figure_the_worker_cannot_finish_in_time_is_skipped_and_the_worker_ended(tmp_path):
    with second_process(), Painter() as painter:
        painter.draw(_record, tmp_path / "a.json")
        painter.finish(draw_here=False)  # the worker is up
        worker = _read(tmp_path / "a.json")["pid"]
        painter.draw(_hung, tmp_path / "hung.png")
        started = time.monotonic()
        assert painter.finish(draw_here=False, timeout=0.5) == ["hung.png"]
        assert time.monotonic() - started < 5 and not painter.in_background
    for _ in range(50):  # killed: gone within a moment
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the worker drawing a late figure was not ended")


def test_a_failing_figure_raises_its_own_error(tmp_path, painter):
    with Painter(enabled=False) as here:
        for where in (painter, here):
            with pytest.raises(ValueError, match="cannot draw"):
                where.draw(_broken_figure, tmp_path / "x.png")
                where.finish()
    painter.draw(_record, tmp_path / "a.json")  # and the worker goes on drawing
    painter.finish()
    assert _read(tmp_path / "a.json")["label"] == "drawn"


def test_cancel_drops_the_figures_not_yet_sent(tmp_path, painter):
    painter.finish()  # the worker is up and idle
    painter.draw(_slow_record, tmp_path / "slow.json")
    for k in range(6):
        painter.draw(_record, tmp_path / f"{k}.json")
    dropped = painter.cancel()
    painter.draw(_record, tmp_path / "after.json")  # waits its turn behind those already sent
    painter.finish(draw_here=False)
    drawn = [p for p in tmp_path.iterdir() if p.name != "after.json"]
    assert len(drawn) <= 3  # at most the one being drawn and two queued had reached the worker
    assert all(_read(p)["label"] == "drawn" for p in drawn)  # and those were drawn whole
    assert sorted(dropped + [p.name for p in drawn]) == sorted(
        ["slow.json", *(f"{k}.json" for k in range(6))]
    )


class _Stop:
    requested = False


def test_after_a_stop_the_begun_figure_is_finished_and_the_rest_dropped_and_named(tmp_path):
    stop = _Stop()
    with second_process(), Painter() as painter:
        painter.draw(_record, tmp_path / "a.json")
        painter.finish(draw_here=False)  # the worker is up
        painter.draw(_slow_record, tmp_path / "slow.json")
        for k in range(4):
            painter.draw(_record, tmp_path / f"{k}.json")
        time.sleep(0.2)  # slow.json is begun
        stop.requested = True  # a Ctrl-C (common.train.StopRequest) while the run waits
        skipped = painter.finish(draw_here=False, timeout=60, stop=stop)
    drawn = sorted(p.name for p in tmp_path.iterdir() if p.name != "a.json")
    assert "slow.json" in drawn and "slow.json" not in skipped  # begun: finished, whole
    assert sorted(drawn + skipped) == sorted(["slow.json", *(f"{k}.json" for k in range(4))])
    assert len(skipped) >= 2  # at most the begun one and one queued reach the worker


def test_a_stop_does_not_wait_past_the_timeout_for_a_figure_that_hangs(tmp_path):
    stop = _Stop()
    with second_process(), Painter() as painter:
        painter.draw(_record, tmp_path / "a.json")
        painter.finish(draw_here=False)
        painter.draw(_hung, tmp_path / "hung.png")
        painter.draw(_record, tmp_path / "b.json")
        time.sleep(0.3)  # hung.png is begun
        stop.requested = True
        started = time.monotonic()
        assert sorted(painter.finish(draw_here=False, timeout=1, stop=stop)) == ["b.json", "hung.png"]
        assert time.monotonic() - started < 5 and not painter.in_background


def test_the_worker_ignores_ctrl_c_and_keeps_drawing(tmp_path, painter):
    painter.draw(_record, tmp_path / "a.json")
    painter.finish(draw_here=False)
    worker = _read(tmp_path / "a.json")["pid"]
    os.kill(worker, signal.SIGINT)  # what a terminal's Ctrl-C sends every process of the group
    painter.draw(_record, tmp_path / "b.json")
    painter.finish(draw_here=False)
    assert _read(tmp_path / "b.json")["pid"] == worker


@background
def test_the_worker_exits_when_its_parent_is_killed(tmp_path):
    script = (
        "import os, signal, sys\n"
        f"sys.path[:0] = [{os.path.dirname(__file__)!r}, {os.path.dirname(os.path.dirname(__file__))!r}]\n"
        "from common.speed.painter import Painter\n"
        "from test_painter import _record\n"
        "painter = Painter()\n"
        f"painter.draw(_record, {str(tmp_path / 'a.json')!r})\n"
        "painter.finish(draw_here=False)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    worker = _read(tmp_path / "a.json")["pid"]
    for _ in range(100):  # it exits within a moment; wait at most 10 s
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the worker outlived its killed parent")


def test_where_no_process_can_start_it_draws_here(tmp_path, monkeypatch):
    import concurrent.futures

    def no_processes(*args, **kwargs):
        raise OSError("[Errno 38] Function not implemented")  # what a missing /dev/shm gives

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_processes)
    monkeypatch.setattr("common.speed.painter._usable_cores", lambda: 2)
    with Painter() as painter:
        assert not painter.in_background
        painter.draw(_record, tmp_path / "a.json")
        painter.finish()
        assert _read(tmp_path / "a.json")["pid"] == os.getpid()


def test_a_figure_that_could_not_reach_the_worker_fails_here_too(tmp_path):
    with Painter(enabled=False) as here, pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        here.draw(_record, tmp_path / "a.json", label=lambda: "a local function cannot be pickled")
    assert not (tmp_path / "a.json").exists()
