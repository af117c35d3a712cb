"""Run-group limits outside admission: CPU/GPU pools handed to the executors, and maxDuration time-outs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from omicsd.domain.states import RunStatus
from omicsd.engines._cache import STOP_REASON_FILE
from omicsd.executors.capacity import CapacityLedger, Resources
from omicsd.scheduler import group_limits
from omicsd.services import Services
from tests.support.runs import register_workflow, start_run


def _group(services: Services, **limits: Any) -> str:
    body = {"requestId": str(uuid.uuid4()), **limits}
    return services.run_groups.create(services.caller(None), body).record.id


def _running_run(services: Services, workflow_id: str, group: str, started: datetime) -> str:
    run_id = start_run(services, workflow_id, runGroupId=group).id
    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        assert services.runs.transition(services.runs.get(run_id).record, status, start_time=started)
    return run_id


def test_pool_limits_are_the_groups_cpu_and_gpu_limits(services: Services, tmp_path: Path) -> None:
    cpus = _group(services, maxCpus=4)
    gpus = _group(services, maxGpus=1)
    _group(services, maxRuns=2)  # no pool limit: not listed
    group_limits.write_pool_limits(services, tmp_path)
    assert CapacityLedger(tmp_path).pool_limits() == {cpus: Resources(cpus=4), gpus: Resources(gpus=1)}


def test_runs_past_their_groups_max_duration_are_stopped_and_told_why(services: Services, tmp_path: Path) -> None:
    group = _group(services, maxDuration=5)
    now = datetime.now(UTC)
    workflow_id = register_workflow(services)
    late = _running_run(services, workflow_id, group, now - timedelta(minutes=6))
    in_time = _running_run(services, workflow_id, group, now - timedelta(minutes=1))
    late_dir = tmp_path / services.runs.get(late).record.uuid
    late_dir.mkdir()

    assert group_limits.time_out_runs(services, tmp_path) == 1

    stopped = services.runs.get(late).record
    assert (stopped.status, stopped.failure_reason) == (RunStatus.STOPPING, "RUN_TIMED_OUT")
    assert "maximum duration" in (stopped.status_message or "")
    assert (late_dir / STOP_REASON_FILE).read_text().strip() == "RUN_TIMED_OUT"
    assert services.runs.get(in_time).record.status == RunStatus.RUNNING
    assert group_limits.time_out_runs(services, tmp_path) == 0  # already stopping: not again
