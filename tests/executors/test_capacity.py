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
from omicsd.executors import _proc
from omicsd.executors.capacity import LEDGER_FILE, CapacityLedger, Resources

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
