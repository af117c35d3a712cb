"""Bulk run transitions: decided per run by the transition tables, written in bulk, logged after the commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omicsd.domain.runs import RunState
from omicsd.domain.states import RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.errors import ConflictError, NotFoundError
from omicsd.logs import streams
from omicsd.logs.files import LogReader
from omicsd.services import Services
from omicsd.store import runs as run_store
from omicsd.store import tags as tag_store
from omicsd.store import tasks as task_store
from tests.support.runs import register_workflow, start_run


def start_runs(services: Services, count: int, **params: object) -> list[str]:
    workflow_id = register_workflow(services)
    return [start_run(services, workflow_id, **params).id for _ in range(count)]


def move(services: Services, run_id: str, *path: RunStatus) -> None:
    for status in path:
        assert services.runs.transition(services.runs.get(run_id).record, status)


def states(services: Services, run_ids: list[str]) -> dict[str, RunState]:
    with services.runs.store.read() as conn:
        return run_store.states(conn, run_ids)


def run_log(services: Services, run_id: str) -> list[str]:
    page = LogReader(services.runs.logs.root).read(streams.LOG_GROUP, streams.run_stream(run_id))
    return [event.message for event in page.events]


def test_transition_many_decides_each_run_and_logs_after_the_commit(services: Services) -> None:
    ids = start_runs(services, 6)
    move(services, ids[1], RunStatus.RUNNING)
    move(services, ids[2], RunStatus.RUNNING, RunStatus.COMPLETED)
    move(services, ids[3], RunStatus.CANCELLED)
    before = states(services, ids)
    move(services, ids[4], RunStatus.STARTING)  # moves on after it was read: stale
    with services.runs.store.write() as conn:
        moves = services.runs.transition_many_in(
            conn, [before[i] for i in ids], RunStatus.CANCELLED, status_message="Stopped in bulk"
        )
    assert {r.id for r in moves.moved} == {ids[0], ids[1], ids[5]}
    assert [r.id for r in moves.stale] == [ids[4]]
    assert [r.id for r in moves.unchanged] == [ids[3]]
    assert (
        set(moves.rejected) == {ids[2]} and "cannot move from COMPLETED to CANCELLED" in moves.rejected[ids[2]].message
    )
    assert "Stopped in bulk" not in " ".join(run_log(services, ids[0])), "no line before log_moves"

    services.runs.log_moves([moves])
    after = {i: services.runs.get(i).record for i in ids}
    for run_id in (ids[0], ids[1], ids[5]):
        assert after[run_id].status == RunStatus.CANCELLED
        assert after[run_id].status_message == "Stopped in bulk"
        assert after[run_id].stop_time is not None and after[run_id].stop_time <= datetime.now(UTC)
        assert run_log(services, run_id)[-1] == f"Run {run_id} status CANCELLED: Stopped in bulk"
    assert after[ids[4]].status == RunStatus.STARTING and after[ids[2]].status == RunStatus.COMPLETED


def test_transition_many_stamps_start_time_and_clamps_failures(services: Services) -> None:
    ids = start_runs(services, 3, logLevel="OFF")
    move(services, ids[2], RunStatus.RUNNING)
    started = services.runs.get(ids[2]).record.start_time
    with services.runs.store.write() as conn:
        running = services.runs.transition_many_in(
            conn, list(run_store.states(conn, ids[:2]).values()), RunStatus.RUNNING
        )
        failed = services.runs.transition_many_in(
            conn, list(run_store.states(conn, ids).values()), RunStatus.FAILED, failure_reason="X" * 100
        )
    services.runs.log_moves([running, failed])
    records = [services.runs.get(i).record for i in ids]
    assert all(r.start_time is not None for r in records) and records[2].start_time == started
    assert {r.failure_reason for r in records} == {"X" * 64}
    for run_id in ids:  # logLevel OFF: no stream at all
        with pytest.raises(NotFoundError):
            run_log(services, run_id)


def test_cancel_many_follows_cancel_run_rules(services: Services) -> None:
    ids = start_runs(services, 6)
    move(services, ids[1], RunStatus.RUNNING)
    move(services, ids[2], RunStatus.RUNNING, RunStatus.STOPPING)
    move(services, ids[3], RunStatus.RUNNING, RunStatus.COMPLETED)
    read = states(services, ids)
    move(services, ids[4], RunStatus.STARTING)  # read PENDING, now STARTING: read again, then STOPPING
    move(services, ids[5], RunStatus.RUNNING, RunStatus.FAILED)  # read PENDING, finished meanwhile: a conflict
    with services.runs.store.write() as conn:
        moves, errors = services.runs.cancel_many_in(
            conn, [read[i] for i in ids], pending_message="before start", started_message="requested"
        )
    services.runs.log_moves(moves)
    status = {i: services.runs.get(i).record.status for i in ids}
    assert status == {
        ids[0]: RunStatus.CANCELLED,
        ids[1]: RunStatus.STOPPING,
        ids[2]: RunStatus.STOPPING,
        ids[3]: RunStatus.COMPLETED,
        ids[4]: RunStatus.STOPPING,
        ids[5]: RunStatus.FAILED,
    }
    assert set(errors) == {ids[3], ids[5]} and all(isinstance(e, ConflictError) for e in errors.values())
    assert run_log(services, ids[0])[-1] == f"Run {ids[0]} status CANCELLED: before start"
    assert run_log(services, ids[4])[-1] == f"Run {ids[4]} status STOPPING: requested"
    assert not any("requested" in line for line in run_log(services, ids[2])), "already stopping: untouched"


def test_cancel_many_reports_runs_deleted_meanwhile(services: Services) -> None:
    ids = start_runs(services, 2)
    read = states(services, ids)
    move(services, ids[1], RunStatus.CANCELLED)
    services.runs.delete(ids[1])
    with services.runs.store.write() as conn:
        _, errors = services.runs.cancel_many_in(conn, list(read.values()), pending_message="p", started_message="s")
    assert set(errors) == {ids[1]} and isinstance(errors[ids[1]], NotFoundError)
    assert services.runs.get(ids[0]).record.status == RunStatus.CANCELLED


def test_delete_many_leaves_tombstones_and_drops_tasks_and_tags(services: Services) -> None:
    ids = start_runs(services, 4, tags={"team": "a"})
    for run_id in ids:
        move(services, run_id, RunStatus.CANCELLED)
    now = datetime.now(UTC)
    with services.runs.store.write() as conn:
        task_store.insert_many(
            conn,
            [TaskRecord(i, "9000001", f"u-{i}", 0, "t", TaskStatus.CANCELLED, 1, 1, 0, now) for i in ids],
        )
    read = states(services, ids)
    services.runs.delete(ids[3])  # deleted by someone else after the read: nothing more to drop
    with services.runs.store.write() as conn:
        moves = services.runs.delete_many_in(conn, [read[i] for i in ids])
    services.runs.log_moves([moves])
    assert {r.id for r in moves.moved} == set(ids[:3]) and [r.id for r in moves.stale] == [ids[3]]
    with services.runs.store.read() as conn:
        assert {s.status for s in run_store.states(conn, ids).values()} == {RunStatus.DELETED}
        assert all(task_store.get(conn, i, "9000001") is None for i in ids)
        assert all(tag_store.get(conn, services.arns.of("run", i)) == {} for i in ids)
    for run_id in ids[:3]:
        with pytest.raises(NotFoundError):
            services.runs.get(run_id)
        assert run_log(services, run_id)[-1] == f"Run {run_id} status DELETED"
