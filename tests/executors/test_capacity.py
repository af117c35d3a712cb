from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from omicsd.errors import ValidationError
from omicsd.executors import _proc, capacity
from omicsd.executors.capacity import LEDGER_FILE, CapacityLedger, Reservation, Resources

GIB = 1024**3

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from omicsd.executors.capacity import CapacityLedger
    ledger = CapacityLedger(Path(sys.argv[1]), cpus=2, memory_bytes=1 << 30)
    out = open(sys.argv[2], "a")
    for _ in range(6):
        reservation = ledger.acquire(1)
        begin = time.time()
        time.sleep(0.02)
        out.write(json.dumps([begin, time.time()]) + "\\n")
        out.flush()
        ledger.release(reservation)
    """
)


def test_processes_contending_never_exceed_the_capacity(tmp_path: Path) -> None:
    directory = tmp_path / "capacity"
    outs = [tmp_path / f"out{i}" for i in range(4)]
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(directory), str(out)], env={**os.environ}) for out in outs
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]
    intervals = [json.loads(line) for out in outs for line in out.read_text().splitlines()]
    assert len(intervals) == 24
    events = sorted([(b, 1) for b, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 2
    assert CapacityLedger(directory, cpus=2).usage().entries == 0


def test_entries_of_dead_processes_are_reclaimed(tmp_path: Path) -> None:
    directory = tmp_path / "capacity"
    code = (
        "import sys; from pathlib import Path; from omicsd.executors.capacity import CapacityLedger;"
        "CapacityLedger(Path(sys.argv[1]), cpus=2).acquire(2)"
    )
    subprocess.run([sys.executable, "-c", code, str(directory)], check=True)
    ledger = CapacityLedger(directory, cpus=2)
    assert len(json.loads((directory / LEDGER_FILE).read_text())["entries"]) == 1
    assert ledger.try_acquire(2) is not None


def test_entries_of_a_reused_pid_are_reclaimed(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2)
    started = _proc.start_ticks(os.getpid())
    assert started is not None
    stale = {"id": "x", "pid": os.getpid(), "pid_start": started - 1, "cpus": 2, "memory_bytes": 0, "gpus": 0}
    (tmp_path / LEDGER_FILE).write_text(json.dumps({"version": 1, "entries": [stale]}))
    assert ledger.try_acquire(2) is not None


def test_release_frees_capacity_and_usage_reports_it(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2, memory_bytes=4 * GIB)
    first = ledger.try_acquire(1, GIB, pool="g")
    assert first is not None
    assert ledger.try_acquire(1, 4 * GIB) is None, "memory does not fit"
    usage = ledger.usage()
    assert usage.total == Resources(1, GIB, 0) and usage.pools == {"g": Resources(1, GIB, 0)}
    ledger.release(first)
    assert ledger.usage().entries == 0


def test_acquire_waits_until_capacity_is_released(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    threading.Timer(0.1, ledger.release, args=(held,)).start()
    assert ledger.acquire(1) is not None


def test_acquire_returns_none_when_cancelled(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1)
    assert ledger.try_acquire(1) is not None
    deadline = time.monotonic() + 0.1
    assert ledger.acquire(1, should_cancel=lambda: time.monotonic() > deadline) is None


def test_pool_limits_are_honoured(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2)
    ledger.write_pool_limits({"group": Resources(cpus=1)})
    assert json.loads((tmp_path / "pool_limits.json").read_text()) == {
        "group": {"cpus": 1, "memory_bytes": 0, "gpus": 0}
    }
    assert ledger.try_acquire(1, pool="group") is not None
    assert ledger.try_acquire(1, pool="group") is None
    assert ledger.try_acquire(1, pool="other") is not None
    with pytest.raises(ValidationError, match="pool group"):
        ledger.acquire(2, pool="group")


def test_requests_that_can_never_fit_are_rejected(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2, memory_bytes=GIB, gpus=1)
    for cpus, memory, gpus in ((3, 0, 0), (1, 2 * GIB, 0), (1, 0, 2), (-1, 0, 0)):
        with pytest.raises(ValidationError):
            ledger.acquire(cpus, memory, gpus)


def test_gpus_get_distinct_indexes(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=4, gpus=3)
    first = ledger.try_acquire(1, gpus=2)
    second = ledger.try_acquire(1, gpus=1)
    assert first is not None and second is not None
    assert first.gpu_ids == (0, 1) and second.gpu_ids == (2,)
    assert ledger.try_acquire(1, gpus=1) is None


def test_capacity_is_detected_when_not_configured(tmp_path: Path) -> None:
    total = CapacityLedger(tmp_path).total
    assert total.cpus >= 1 and total.memory_bytes > 0 and total.gpus == 0


def _never_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the cross-process poll so slow that only an in-process wake-up can end a wait in time."""
    for name in ("_FIRST_BACKOFF", "_MAX_BACKOFF", "_BUSY_MAX_BACKOFF"):
        monkeypatch.setattr(capacity, name, 60.0)


def _start_waiter(ledger: CapacityLedger, cpus: int) -> tuple[threading.Thread, threading.Event, list[object]]:
    """A thread blocked in ``acquire``; the event is set once its first attempt failed."""
    tried = threading.Event()
    got: list[object] = []

    def waiting() -> bool:
        tried.set()
        return False

    thread = threading.Thread(target=lambda: got.append(ledger.acquire(cpus, should_cancel=waiting)), daemon=True)
    thread.start()
    assert tried.wait(5), "the waiter never tried"
    return thread, tried, got


def test_a_release_wakes_a_waiter_of_the_same_process_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _never_poll(monkeypatch)
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    thread, _, got = _start_waiter(ledger, 1)
    assert thread.is_alive() and got == [], "the waiter must block while the capacity is held"
    ledger.release(held)
    thread.join(5)
    assert not thread.is_alive(), "the release did not wake the waiter (it would sleep for the 60 s poll)"
    (reservation,) = got
    assert isinstance(reservation, Reservation) and ledger.usage().entries == 1


def test_a_release_through_another_ledger_object_wakes_the_waiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_poll(monkeypatch)
    waiting_ledger = CapacityLedger(tmp_path, cpus=2)
    other = CapacityLedger(tmp_path / "." / "", cpus=2)
    held = other.try_acquire(2)
    assert held is not None
    thread, _, got = _start_waiter(waiting_ledger, 1)
    other.release(held)
    thread.join(5)
    assert not thread.is_alive() and len(got) == 1 and got[0] is not None


def test_a_waiter_whose_request_still_does_not_fit_keeps_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _never_poll(monkeypatch)
    ledger = CapacityLedger(tmp_path, cpus=2)
    first, second = ledger.try_acquire(1), ledger.try_acquire(1)
    assert first is not None and second is not None
    thread, tried, got = _start_waiter(ledger, 2)
    tried.clear()
    ledger.release(first)
    assert tried.wait(5), "the release woke the waiter, which tried again"
    assert thread.is_alive() and got == [], "one CPU is still held: the 2-CPU request must keep waiting"
    ledger.release(second)
    thread.join(5)
    assert not thread.is_alive() and len(got) == 1 and got[0] is not None


def test_a_reservation_of_another_process_is_seen_and_reclaimed_once_it_dies(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2)
    mine = ledger.try_acquire(1)
    assert mine is not None
    code = (
        "import sys, time; from pathlib import Path; from omicsd.executors.capacity import CapacityLedger;"
        "assert CapacityLedger(Path(sys.argv[1]), cpus=2).try_acquire(1) is not None;"
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert ledger.try_acquire(1) is None, "the other process's write must invalidate the cached ledger"
        assert ledger.usage().entries == 2
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    assert ledger.acquire(1, should_cancel=lambda: time.monotonic() > deadline) is not None
    assert ledger.usage().entries == 2
