"""Scheduler admission: narrow reads, full run groups skipped, wakes coalesced, an idle server admits at once.

Drivers are not started here: the scheduler's launch step is replaced by a recorder, so only admission runs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from omicsd.app import build_scheduler
from omicsd.config import Settings
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus
from omicsd.scheduler import loop
from omicsd.scheduler.loop import Scheduler
from omicsd.services import Services
from tests.support.runs import register_workflow, start_run


class Bench:
    """A scheduler over the test's services that records launches and counts admission queries."""

    def __init__(self, services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        self.services = services
        self.caller = services.caller(None)
        self.workflow_id = register_workflow(services)
        self.scheduler: Scheduler = build_scheduler(settings, services)
        self.launched: list[RunRecord] = []
        monkeypatch.setattr(self.scheduler, "_launch", self.launched.append)
        self.passes = 0
        original = loop.run_store.queued

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.passes += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(loop.run_store, "queued", counting)
        monkeypatch.setattr(loop, "HOUSEKEEPING_SECONDS", 3600.0)  # only wakes make passes due here
        self.scheduler._last_housekeeping = time.monotonic()

    def group(self, max_runs: int) -> str:
        return self.services.run_groups.create(
            self.caller, {"maxRuns": max_runs, "requestId": str(uuid.uuid4())}
        ).record.id

    def run(self, group: str | None = None) -> str:
        return start_run(self.services, self.workflow_id, **({"runGroupId": group} if group else {})).id

    def status(self, run_id: str) -> RunStatus:
        return self.services.runs.get(run_id).record.status

    def tick(self) -> None:
        self.scheduler._admit_at = 0.0  # no spacing from the previous pass unless a test sets one
        self.scheduler.tick()


@pytest.fixture
def bench(services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Bench:
    return Bench(services, settings, monkeypatch)


def test_full_groups_are_skipped_and_queues_admitted_in_order(bench: Bench) -> None:
    full, roomy = bench.group(1), bench.group(2)
    active = bench.run(full)
    assert bench.services.runs.transition(bench.services.runs.get(active).record, RunStatus.RUNNING)
    blocked, c, d, e, f = bench.run(full), bench.run(roomy), bench.run(), bench.run(roomy), bench.run(roomy)
    bench.tick()
    assert [r.id for r in bench.launched] == [c, d, e], "queue heads by creation time; the full group waits"
    assert all(r.status == RunStatus.STARTING for r in bench.launched)
    assert {bench.status(run_id) for run_id in (c, d, e)} == {RunStatus.STARTING}
    assert bench.status(blocked) == bench.status(f) == RunStatus.PENDING
    assert bench.scheduler._full == {full, roomy}, "including the group this pass filled"


def test_a_run_queued_behind_a_full_group_costs_no_pass(bench: Bench) -> None:
    full = bench.group(1)
    active = bench.run(full)
    bench.tick()
    assert [r.id for r in bench.launched] == [active]
    passes = bench.passes
    bench.scheduler._wake.clear()
    queued = bench.run(full)  # StartRun tells the scheduler which queue the run joined
    assert not bench.scheduler._wake.is_set()
    bench.tick()
    assert bench.passes == passes and bench.status(queued) == RunStatus.PENDING

    ungrouped = bench.run()
    assert bench.scheduler._wake.is_set()
    bench.tick()
    assert bench.passes == passes + 1 and bench.status(ungrouped) == RunStatus.STARTING

    bench.scheduler._forget(active)  # its driver went away: the group has room again
    assert bench.services.runs.transition(bench.services.runs.get(active).record, RunStatus.CANCELLED)
    bench.tick()
    assert bench.status(queued) == RunStatus.STARTING


def test_wakes_coalesce_but_an_idle_server_admits_at_once(bench: Bench) -> None:
    first = bench.run()
    bench.scheduler.tick()  # nothing happened before: admitted in the first tick
    assert bench.status(first) == RunStatus.STARTING
    assert bench.scheduler._admit_at - time.monotonic() <= loop.ADMIT_SPACING_MAX

    bench.scheduler._admit_at = time.monotonic() + 60  # as after an expensive pass
    passes = bench.passes
    second = bench.run()
    bench.scheduler.wake()
    bench.scheduler.tick()
    assert bench.passes == passes and bench.status(second) == RunStatus.PENDING
    assert 0 < bench.scheduler._sleep_seconds() <= loop.IDLE_TICK
    bench.tick()
    assert bench.passes == passes + 1 and bench.status(second) == RunStatus.STARTING


def test_a_run_cancelled_before_its_claim_is_not_launched(bench: Bench) -> None:
    run_id = bench.run()
    bench.services.runs.cancel(run_id)
    bench.tick()
    assert bench.launched == [] and bench.status(run_id) == RunStatus.CANCELLED
