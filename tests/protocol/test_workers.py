"""WorkerPool: results and errors come back, lanes bound how many calls run, stalls and the hard cap."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from omicsd.protocol.workers import WorkerPool


class Gauge:
    """Counts calls running at once and remembers the highest count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def call(self, seconds: float, value: int) -> Callable[[], int]:
        def run() -> int:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(seconds)
            with self.lock:
                self.now -= 1
            return value

        return run


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_results_and_exceptions_come_back_from_another_thread() -> None:
    pool = WorkerPool()

    def boom() -> None:
        raise KeyError("missing")

    async def main() -> None:
        assert await pool.run(threading.get_ident) != threading.get_ident()
        assert await pool.run(lambda: 42) == 42
        with pytest.raises(KeyError, match="missing"):
            await pool.run(boom)

    asyncio.run(main())
    asyncio.run(main())  # a second event loop uses the same threads


def test_calls_that_keep_finishing_run_at_most_lanes_at_once() -> None:
    pool, gauge = WorkerPool(lanes=2, stall_seconds=10.0), Gauge()

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(gauge.call(0.01, i)) for i in range(12)))

    assert asyncio.run(main()) == list(range(12))
    assert gauge.peak == 2
    assert pool.threads == 2


def test_a_stalled_call_does_not_hold_up_the_queue() -> None:
    pool = WorkerPool(lanes=1, stall_seconds=0.01)
    release = threading.Event()

    async def main() -> float:
        blocked = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
        await asyncio.sleep(0.02)
        began = time.monotonic()
        assert await pool.run(lambda: "quick") == "quick"
        waited = time.monotonic() - began
        release.set()
        assert await blocked is True
        return waited

    assert asyncio.run(main()) < 5
    assert pool.threads == 2


def test_the_hard_cap_holds_even_when_every_call_stalls() -> None:
    pool, gauge = WorkerPool(max_threads=2, lanes=1, stall_seconds=0.005), Gauge()

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(gauge.call(0.05, i)) for i in range(5)))

    assert asyncio.run(main()) == list(range(5))
    assert gauge.peak == 2


def test_calls_start_in_arrival_order_when_a_stall_lets_one_more_run() -> None:
    pool = WorkerPool(lanes=1, stall_seconds=0.01)
    release = threading.Event()
    started: list[int] = []

    def record(i: int) -> Callable[[], None]:
        return lambda: started.append(i)

    async def main() -> None:
        blocked = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
        await asyncio.sleep(0)
        queued = [asyncio.ensure_future(pool.run(record(i))) for i in range(5)]
        await asyncio.gather(*queued)
        release.set()
        await blocked

    asyncio.run(main())
    assert started == [0, 1, 2, 3, 4]


def test_a_queued_call_whose_caller_gave_up_is_skipped() -> None:
    pool = WorkerPool(lanes=1, stall_seconds=10.0)
    release = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        first = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
        await asyncio.sleep(0.02)
        queued = asyncio.ensure_future(pool.run(lambda: ran.append("queued")))
        await asyncio.sleep(0.01)
        queued.cancel()
        release.set()
        await first
        assert await pool.run(lambda: "after") == "after"

    asyncio.run(main())
    assert ran == []


def test_idle_threads_exit_and_close_stops_them_at_once() -> None:
    pool = WorkerPool(idle_seconds=0.05)

    async def burst() -> None:
        await asyncio.gather(*(pool.run(lambda: time.sleep(0.01)) for _ in range(2)))

    asyncio.run(burst())
    assert pool.threads == 2
    _wait_for(lambda: pool.threads == 0)
    lasting = WorkerPool(idle_seconds=60)
    asyncio.run(lasting.run(lambda: None))
    assert lasting.threads == 1
    lasting.close()
    _wait_for(lambda: lasting.threads == 0)
    assert asyncio.run(lasting.run(lambda: "again")) == "again"  # a closed pool starts threads anew


def test_lanes_and_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WorkerPool(max_threads=0)
    with pytest.raises(ValueError, match="at least 1"):
        WorkerPool(lanes=0)
