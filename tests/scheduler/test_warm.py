"""WarmDrivers: helpers start at the first launch of their engine, serve the next ones, and stop when idle."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import pytest

from omicsd.scheduler.forkserver import ForkServer
from omicsd.scheduler.warm import RETRY_SECONDS, WarmDrivers

WDL = "omicsd.engines.wdl.driver"
CWL = "omicsd.engines.cwl.driver"


class FakeHelper:
    """What WarmDrivers uses of a ForkServer."""

    def __init__(self, modules: list[str], pid: int) -> None:
        self.modules = modules
        self.ready = False
        self.failed: set[str] = set()
        self.dead = False
        self.closed = False
        self.exits: dict[int, int] = {}
        self.process = type("P", (), {"pid": pid})()

    @property
    def preloaded(self) -> frozenset[str]:
        return frozenset(set(self.modules) - self.failed) if self.ready else frozenset()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.ready and not self.dead

    def alive(self) -> bool:
        return not self.dead and not self.closed

    def exit_status(self, pid: int) -> int | None:
        return self.exits.get(pid)

    def close(self) -> None:
        self.closed = True


class Pool:
    def __init__(self, *, idle: float = 300.0, enabled: bool = True, fail: bool = False) -> None:
        self.now = 1000.0
        self.started: list[FakeHelper] = []
        self.fail = fail
        self.warm = WarmDrivers(
            [WDL, CWL], idle_seconds=idle, enabled=enabled, start=self._start, clock=lambda: self.now
        )

    def _start(self, modules: list[str], log_path: Path | None) -> ForkServer:
        if self.fail:
            raise OSError("no fork for you")
        helper = FakeHelper(modules, pid=100 + len(self.started))
        self.started.append(helper)
        return cast(ForkServer, helper)

    def take(self, module: str) -> Any:
        return self.warm.take(module)


def test_nothing_runs_until_the_first_launch_which_starts_a_helper_but_does_not_wait() -> None:
    pool = Pool()
    assert pool.warm.running() == {}
    assert pool.take(WDL) is None  # this launch starts a fresh interpreter
    assert [h.modules for h in pool.started] == [[WDL]]
    assert pool.take(WDL) is None  # still importing: no second helper
    assert len(pool.started) == 1
    pool.started[0].ready = True
    assert pool.take(WDL) is pool.started[0]


def test_one_helper_per_engine_and_unknown_modules_are_never_warm() -> None:
    pool = Pool()
    pool.take(WDL)
    pool.take(CWL)
    assert sorted(m for h in pool.started for m in h.modules) == [CWL, WDL]
    assert pool.take("omicsd.engines.nextflow.driver") is None
    assert len(pool.started) == 2


def test_disabled_pool_starts_nothing() -> None:
    pool = Pool(enabled=False)
    assert pool.take(WDL) is None
    assert pool.started == []


def test_idle_helper_stops_after_idle_seconds_since_its_last_launch() -> None:
    pool = Pool(idle=300)
    pool.take(WDL)
    helper = pool.started[0]
    helper.ready = True
    pool.now += 200
    assert pool.take(WDL) is helper
    pool.now += 200  # 400 s since start, 200 s since last use
    pool.warm.housekeep()
    assert not helper.closed
    pool.now += 101
    pool.warm.housekeep()
    assert helper.closed and pool.warm.running() == {}
    assert pool.take(WDL) is None  # the next run starts a new one
    assert len(pool.started) == 2


def test_helper_with_running_drivers_is_not_stopped() -> None:
    pool = Pool(idle=0)
    pool.take(WDL)
    helper = pool.started[0]
    helper.ready = True
    assert pool.take(WDL) is helper
    pool.warm.launched(WDL, 4242)
    pool.now += 10_000
    pool.warm.housekeep()
    assert not helper.closed
    helper.exits[4242] = 0
    pool.warm.housekeep()
    assert helper.closed


def test_dead_helper_is_replaced_only_after_the_retry_delay() -> None:
    pool = Pool()
    pool.take(WDL)
    first = pool.started[0]
    first.ready = True
    first.dead = True
    assert pool.take(WDL) is None
    assert first.closed and len(pool.started) == 1
    pool.now += RETRY_SECONDS + 1
    assert pool.take(WDL) is None
    assert len(pool.started) == 2


def test_helper_that_failed_to_preload_its_module_is_dropped() -> None:
    pool = Pool()
    pool.take(CWL)
    helper = pool.started[0]
    helper.ready, helper.failed = True, {CWL}
    assert pool.take(CWL) is None
    assert helper.closed and pool.warm.running() == {}


def test_start_failure_falls_back_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    pool = Pool(fail=True)
    assert pool.take(WDL) is None
    assert "forkserver.start_failed" in caplog.text
    pool.fail = False
    assert pool.take(WDL) is None and pool.started == []  # within the back-off
    pool.now += RETRY_SECONDS
    pool.take(WDL)
    assert len(pool.started) == 1


def test_close_stops_every_helper() -> None:
    pool = Pool()
    pool.take(WDL)
    pool.take(CWL)
    pool.warm.close()
    assert all(h.closed for h in pool.started) and pool.warm.running() == {}


@pytest.mark.skipif(sys.platform != "linux", reason="fork-server helpers are Linux-only")
def test_real_helper_is_started_on_demand_and_stopped_when_idle(tmp_path: Path) -> None:
    clock = [0.0]
    warm = WarmDrivers([WDL], idle_seconds=5, log_path=tmp_path / "fs.log", clock=lambda: clock[0])
    try:
        assert warm.take(WDL) is None
        server = warm.running()[WDL]
        assert server.wait_ready(60)
        assert warm.take(WDL) is server
        clock[0] += 5
        warm.housekeep()
        assert warm.running() == {}
        assert server.process.poll() is not None  # the helper process has exited
    finally:
        warm.close()


def test_helpers_are_started_with_the_pools_exit_callback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def fake_start(modules: list[str], **kwargs: Any) -> ForkServer:
        calls.append({"modules": modules, **kwargs})
        return cast(ForkServer, FakeHelper(modules, pid=7))

    def ended(pid: int) -> None:
        pass

    monkeypatch.setattr(ForkServer, "start", fake_start)
    warm = WarmDrivers([WDL], idle_seconds=60, log_path=tmp_path / "fs.log", on_exit=ended)
    assert warm.take(WDL) is None
    assert calls == [{"modules": [WDL], "log_path": tmp_path / "fs.log", "on_exit": ended}]
