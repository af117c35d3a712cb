"""Applying a driver's journal events: bulk task writes, transition checks, run ends, log lines, query count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.engines import events as ev
from omicsd.errors import ConflictError
from omicsd.services import Services
from omicsd.store import runs as run_store
from omicsd.store import tasks as task_store

RUN_ID = "1234567"


class RecordingLogs:
    """Stands in for the log writer: remembers every append."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def append(self, group: str, stream: str, messages: Iterable[str | tuple[int, str]]) -> int:
        items = [m if isinstance(m, str) else m[1] for m in messages]
        self.calls.append((stream, items))
        return len(items)

    def lines(self) -> list[str]:
        return [line for _, items in self.calls for line in items]


@pytest.fixture
def logs(services: Services) -> RecordingLogs:
    recording = RecordingLogs()
    services.runs.logs = recording  # type: ignore[assignment]
    return recording


def add_run(services: Services, **values: Any) -> None:
    record = RunRecord(
        id=RUN_ID,
        uuid="run-uuid",
        status=RunStatus.STARTING,
        creation_time=datetime.now(UTC),
        workflow_id="1",
        workflow_type="PRIVATE",
        role_arn="arn:aws:iam::123456789012:role/x",
        output_uri="s3://bucket/out",
        retention_mode="RETAIN",
        networking_mode="RESTRICTED",
        log_level="ALL",
    )
    with services.runs.store.write() as conn:
        run_store.insert(conn, replace(record, **values))


def created(task_id: str, time_: float = 2.0) -> ev.TaskCreated:
    return ev.TaskCreated(
        task_id=task_id, name=f"call-{task_id}", cpus=2, memory_gib=4, gpus=0, instance_type="", image="", time=time_
    )


def lifecycle(task_id: str, status: str = "COMPLETED") -> list[ev.Event]:
    return [
        created(task_id),
        ev.TaskStarting(task_id=task_id, time=3.0),
        ev.TaskRunning(task_id=task_id, time=4.0),
        ev.TaskFinished(task_id=task_id, status=status, time=5.0, exit_status=0 if status == "COMPLETED" else 3),
    ]


def all_tasks(services: Services) -> list[TaskRecord]:
    with services.runs.store.read() as conn:
        return task_store.list_page(conn, RUN_ID, status=None, after_seq=None, limit=1000)


def test_a_whole_journal_in_one_call(services: Services, logs: RecordingLogs) -> None:
    add_run(services)
    events: list[ev.Event] = [ev.RunStarted(time=1.0)]
    for i in range(5):
        events += lifecycle(str(1000000 + i), "FAILED" if i == 3 else "COMPLETED")
    events += [ev.RunFinished(status="FAILED", time=6.0, failure_reason="", status_message="task failed")]

    final = services.run_events.apply(RUN_ID, events, 999)

    assert final is not None and final.status == RunStatus.FAILED and final.journal_offset == 999
    tasks = all_tasks(services)
    assert [t.task_id for t in tasks] == [str(1000000 + i) for i in range(5)]
    assert [t.seq for t in tasks] == [1, 2, 3, 4, 5]
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 3 + [TaskStatus.FAILED, TaskStatus.COMPLETED]
    first = tasks[0]
    assert first.start_time is not None and first.start_time.replace(tzinfo=None) == datetime(1970, 1, 1, 0, 0, 4)
    assert first.stop_time is not None and first.exit_status == 0 and first.metrics is not None
    assert tasks[3].exit_status == 3 and (first.cpus, first.memory) == (2, 4)
    lines = logs.lines()
    assert "Task 1000000 (call-1000000) created: 2 vCPU, 4 GiB" in lines
    assert "Task 1000000 (call-1000000) started" in lines
    assert "Task 1000003 (call-1000003) FAILED (exit status 3)" in lines
    assert lines.index("Task 1000000 (call-1000000) started") < lines.index("Task 1000001 (call-1000001) started")


def test_tasks_split_over_calls_are_updated_and_keep_creation_order(services: Services, logs: RecordingLogs) -> None:
    add_run(services)
    services.run_events.apply(RUN_ID, [ev.RunStarted(time=1.0), created("1000001"), created("1000002")], 10)
    services.run_events.apply(
        RUN_ID,
        [
            ev.TaskRunning(task_id="1000002", time=4.0),
            created("1000003"),
            ev.TaskStarting(task_id="1000001", time=4.0),
            ev.TaskFinished(task_id="1000002", status="COMPLETED", time=5.0, exit_status=0),
        ],
        20,
    )

    tasks = {t.task_id: t for t in all_tasks(services)}
    assert [(t.task_id, t.seq) for t in all_tasks(services)] == [("1000001", 1), ("1000002", 2), ("1000003", 3)]
    assert tasks["1000001"].status == TaskStatus.STARTING
    assert tasks["1000002"].status == TaskStatus.COMPLETED
    assert tasks["1000002"].start_time is not None and tasks["1000002"].stop_time is not None
    assert tasks["1000003"].status == TaskStatus.PENDING


def test_unknown_finished_and_duplicate_tasks_are_ignored(services: Services, logs: RecordingLogs) -> None:
    add_run(services)
    services.run_events.apply(RUN_ID, lifecycle("1000001"), 10)
    first = all_tasks(services)[0]

    services.run_events.apply(
        RUN_ID,
        [
            created("1000001", time_=9.0),
            ev.TaskRunning(task_id="1000001", time=9.0),
            ev.TaskFinished(task_id="1000001", status="FAILED", time=9.0),
            ev.TaskRunning(task_id="7777777", time=9.0),
        ],
        20,
    )

    assert all_tasks(services) == [first]
    assert not any("7777777" in line or "FAILED" in line for line in logs.lines())


def test_a_forbidden_move_is_a_conflict_and_writes_nothing(services: Services, logs: RecordingLogs) -> None:
    add_run(services)
    with pytest.raises(ConflictError, match="cannot move from RUNNING to STARTING"):
        services.run_events.apply(
            RUN_ID,
            [
                created("1000001"),
                ev.TaskRunning(task_id="1000001", time=4.0),
                ev.TaskStarting(task_id="1000001", time=5.0),
            ],
            10,
        )
    assert all_tasks(services) == []
    with services.runs.store.read() as conn:
        run = run_store.get(conn, RUN_ID)
    assert run is not None and run.journal_offset == 0


def test_a_cache_hit_is_completed_with_its_entry(services: Services, logs: RecordingLogs) -> None:
    add_run(services, cache_id="7654321")
    services.run_events.apply(
        RUN_ID,
        [
            created("1000001"),
            ev.TaskFinished(
                task_id="1000001", status="COMPLETED", time=5.0, cache_hit=True, cache_s3_uri="s3://cache/entry"
            ),
            created("1000002"),
            ev.TaskFinished(task_id="1000002", status="COMPLETED", time=6.0, exit_status=0),
        ],
        10,
    )
    hit, miss = all_tasks(services)
    assert (hit.cache_hit, hit.cache_s3_uri, hit.start_time is not None) == (True, "s3://cache/entry", True)
    assert (miss.cache_hit, miss.cache_s3_uri) == (False, None)
    assert "Task 1000001 (call-1000001) COMPLETED from cache entry s3://cache/entry" in logs.lines()


def test_run_finished_cancels_tasks_started_in_the_same_call(services: Services, logs: RecordingLogs) -> None:
    add_run(services)
    final = services.run_events.apply(
        RUN_ID,
        [
            ev.RunStarted(time=1.0),
            created("1000001"),
            ev.TaskRunning(task_id="1000001", time=4.0),
            ev.RunFinished(status="FAILED", time=6.0, failure_reason="WORKFLOW_RUN_FAILED", status_message="boom"),
        ],
        10,
    )
    assert final is not None and final.status == RunStatus.FAILED
    (task,) = all_tasks(services)
    assert task.status == TaskStatus.CANCELLED and task.stop_time is not None


def test_log_level_off_writes_no_lines(services: Services, logs: RecordingLogs) -> None:
    add_run(services, log_level="OFF")
    services.run_events.apply(RUN_ID, [ev.RunStarted(time=1.0), *lifecycle("1000001")], 10)
    assert logs.calls == []
    assert all_tasks(services)[0].status == TaskStatus.COMPLETED


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = services.runs.store.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("tasks", [5, 60])
def test_statements_do_not_grow_with_events(
    services: Services, logs: RecordingLogs, statements: list[str], tasks: int
) -> None:
    add_run(services)
    services.run_events.apply(RUN_ID, [created(str(1000000 + i)) for i in range(tasks)], 10)
    statements.clear()
    events: list[ev.Event] = []
    for i in range(tasks):
        task_id = str(1000000 + i)
        events += [ev.TaskStarting(task_id=task_id, time=3.0), ev.TaskRunning(task_id=task_id, time=4.0)]
    events += [lifecycle(str(2000000 + i))[j] for i in range(tasks) for j in range(4)]

    services.run_events.apply(RUN_ID, events, 20)

    writes = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(writes) <= 10, writes
    assert sum(t.status == TaskStatus.RUNNING for t in all_tasks(services)) == tasks


@pytest.mark.parametrize("tasks", [3, 40])
def test_a_run_ending_cancels_its_unfinished_tasks_in_a_few_statements(
    services: Services, logs: RecordingLogs, statements: list[str], tasks: int
) -> None:
    add_run(services)
    started: list[ev.Event] = [ev.RunStarted(time=1.0)]
    for i in range(tasks):
        task_id = str(1000000 + i)
        started += [created(task_id), ev.TaskRunning(task_id=task_id, time=4.0)]
    services.run_events.apply(RUN_ID, started, 10)
    statements.clear()

    final = services.run_events.apply(RUN_ID, [ev.RunFinished(status="CANCELLED", time=6.0)], 20)

    assert final is not None and final.status == RunStatus.CANCELLED
    writes = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(writes) <= 12, writes
    assert {(t.status, t.stop_time is not None) for t in all_tasks(services)} == {(TaskStatus.CANCELLED, True)}
