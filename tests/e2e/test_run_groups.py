"""Run-group limits and priority as the scheduler applies them, observed through the API."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omicsd.store import runs as run_store
from tests.e2e.conftest import all_tasks, register, start, wait_run

pytestmark = pytest.mark.slow

NAP = """version 1.0
workflow nap {
  input { Float seconds = 0.5 }
  call rest { input: seconds = seconds }
}
task rest {
  input { Float seconds }
  command <<< sleep ~{seconds} >>>
}
"""

FOUR_WIDE = """version 1.0
workflow wide {
  scatter (i in range(4)) { call work { input: i = i } }
}
task work {
  input { Int i }
  command <<< sleep 0.6 >>>
  runtime { cpu: 2 }
}
"""


def test_priority_orders_the_queue_of_a_full_group(omics: Any) -> None:
    wid = register(omics, {"main.wdl": NAP})
    gid = omics.create_run_group(maxRuns=1)["id"]
    blocker = start(omics, wid, runGroupId=gid, parameters={"seconds": 1.5})["id"]
    time.sleep(0.2)
    low = start(omics, wid, runGroupId=gid, priority=1)["id"]
    high = start(omics, wid, runGroupId=gid, priority=50)["id"]
    mid = start(omics, wid, runGroupId=gid, priority=10)["id"]
    runs = [wait_run(omics, r, timeout=120) for r in (blocker, low, high, mid)]
    assert all(r["status"] == "COMPLETED" for r in runs)
    order = sorted(runs, key=lambda r: r["startTime"])
    assert [r["id"] for r in order] == [blocker, high, mid, low]
    for before, after in itertools.pairwise(order):
        assert before["stopTime"] <= after["startTime"], "maxRuns=1 never lets two runs overlap"


def test_max_cpus_keeps_tasks_pending(omics: Any) -> None:
    wid = register(omics, {"main.wdl": FOUR_WIDE})
    gid = omics.create_run_group(maxCpus=2)["id"]
    run = wait_run(omics, start(omics, wid, runGroupId=gid)["id"], timeout=120)
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    spans = sorted((t["startTime"], t["stopTime"]) for t in all_tasks(omics, run["id"]))
    assert len(spans) == 4
    for (_, stop), (begin, _) in itertools.pairwise(spans):
        assert stop <= begin + timedelta(milliseconds=50), "only one 2-CPU task at a time under maxCpus=2"


def test_task_larger_than_the_group_fails_fast(omics: Any) -> None:
    wid = register(omics, {"main.wdl": FOUR_WIDE})
    gid = omics.create_run_group(maxCpus=1)["id"]
    run = wait_run(omics, start(omics, wid, runGroupId=gid)["id"], timeout=60)
    assert run["status"] == "FAILED"
    assert "pool" in run["statusMessage"] or "group" in run["statusMessage"]


def test_max_duration_times_the_run_out(omics: Any) -> None:
    wid = register(omics, {"main.wdl": NAP})
    gid = omics.create_run_group(maxDuration=1)["id"]
    run_id = start(omics, wid, runGroupId=gid, parameters={"seconds": 300})["id"]
    deadline = time.monotonic() + 60
    while not any(t["status"] == "RUNNING" for t in all_tasks(omics, run_id)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    store = omics.omicsd_app.services.runs.store
    with store.write() as conn:  # pretend the run started two minutes ago
        run_store.update(conn, run_id, {"start_time": datetime.now(UTC) - timedelta(minutes=2)})
    run = wait_run(omics, run_id, timeout=30)
    assert run["status"] == "FAILED"
    assert run["failureReason"] == "RUN_TIMED_OUT"
    assert all(t["status"] in ("CANCELLED", "FAILED") for t in all_tasks(omics, run_id))


def test_group_with_unfinished_runs_cannot_be_deleted(omics: Any) -> None:
    wid = register(omics, {"main.wdl": NAP})
    gid = omics.create_run_group()["id"]
    run_id = start(omics, wid, runGroupId=gid, parameters={"seconds": 30})["id"]
    with pytest.raises(omics.exceptions.ConflictException):
        omics.delete_run_group(id=gid)
    omics.cancel_run(id=run_id)
    wait_run(omics, run_id)
    omics.delete_run_group(id=gid)
    assert [r["id"] for r in omics.list_runs(runGroupId=gid)["items"]] == [run_id]
