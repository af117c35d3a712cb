"""Task life cycles of a CWL run: events, failure reasons, fail-fast, and the in-run capacity gate."""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from omicsd.engines._resources import Requested
from omicsd.engines.cwl._tasks import CapacityGate, RunContext
from omicsd.engines.events import Event, TaskCreated, TaskFinished, TaskRunning, TaskStarting
from omicsd.engines.spec import RunSpec
from omicsd.executors.base import TaskRequest, TaskResult

GIB = 1024**3


class NoExecutor:
    name = "none"

    def capacity(self) -> Mapping[str, int]:
        return {"cpus": 2, "memory_bytes": 4 * GIB, "gpus": 0}

    def run(
        self,
        request: TaskRequest,
        *,
        should_cancel: Callable[[], bool] = lambda: False,
        on_start: Callable[[float], None] | None = None,
    ) -> TaskResult:
        raise AssertionError("not used")


def _context(tmp_path: Path) -> tuple[RunContext, list[Event]]:
    events: list[Event] = []
    spec = RunSpec(
        run_id="1",
        run_uuid="u",
        engine="CWL",
        workflow_name="w",
        definition_dir=str(tmp_path),
        main="main.cwl",
        parameters={},
        run_output_uri="s3://o/1",
        buckets_root=str(tmp_path),
        logs_root=str(tmp_path),
        capacity_dir=str(tmp_path),
    )
    return RunContext(spec, emit=events.append, executor=NoExecutor(), tasks_root=tmp_path / "tasks"), events


def _result(status: int, **flags: bool) -> TaskResult:
    return TaskResult(exit_status=status, start_time=10.0, end_time=12.5, max_memory_bytes=GIB // 2, **flags)


def test_a_task_emits_its_events_in_order_and_once(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    task = ctx.new_task("echo_i_17", Requested(cpus=0.5, memory_bytes=1500 * 1024**2, image="ubuntu"), "ubuntu")
    task.starting()
    task.running(11.0)
    task.result = _result(0)
    task.finish("success")
    task.finish("success")
    task.cancel_if_open()
    created, starting, running, finished = events
    assert isinstance(created, TaskCreated)
    assert (created.name, created.cpus, created.memory_gib, created.instance_type) == (
        "echo_i_17",
        1,
        2,
        "omics.c.large",
    )
    assert created.image == "ubuntu" and task.directory.name == f"echo_i_17-{created.task_id}"
    assert isinstance(starting, TaskStarting) and isinstance(running, TaskRunning) and running.time == 11.0
    assert isinstance(finished, TaskFinished)
    assert (finished.status, finished.exit_status, finished.time) == ("COMPLETED", 0, 12.5)
    assert (finished.metrics.running_seconds, finished.metrics.memory_max_gib) == (2.5, 0.5)
    assert ctx.failure is None and not ctx.should_cancel()


def test_a_failed_command_fails_the_run_and_cancels_the_others(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    boom = ctx.new_task("boom", Requested(), "")
    other = ctx.new_task("other", Requested(), "")
    boom.result = _result(3)
    boom.finish("permanentFail")
    finished = events[-1]
    assert isinstance(finished, TaskFinished)
    assert (finished.status, finished.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
    assert finished.status_message == "Task boom failed with exit status 3"
    assert ctx.failure is not None and ctx.failure.task_id == boom.task_id
    assert ctx.should_cancel() and not ctx.stop_requested()
    other.result = _result(143, cancelled=True)
    other.finish("permanentFail")
    cancelled = events[-1]
    assert isinstance(cancelled, TaskFinished) and cancelled.status == "CANCELLED"
    assert ctx.failure.task_id == boom.task_id


def test_failure_reasons(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    cases = [
        (_result(137, oom_killed=True), "", None, "OUT_OF_MEMORY_ERROR", "Task t ran out of memory (exit status 137)"),
        (_result(137), "", None, "OUT_OF_MEMORY_ERROR", "Task t ran out of memory (exit status 137)"),
        (_result(143, timed_out=True), "", None, "TASK_TIMED_OUT", "Task t timed out"),
        (_result(0), "Did not find output file", None, "RUN_TASK_FAILED", "Task t failed: Did not find output file"),
        (
            None,
            "",
            ("CANNOT_START_CONTAINER_ERROR", "no bwrap"),
            "CANNOT_START_CONTAINER_ERROR",
            "Task t could not start: no bwrap",
        ),
    ]
    for result, output_error, setup, reason, message in cases:
        task = ctx.new_task("t", Requested(), "")
        task.result, task.output_error, task.setup_failure = result, output_error, setup
        task.finish("permanentFail")
        finished = events[-1]
        assert isinstance(finished, TaskFinished)
        assert (finished.status, finished.failure_reason, finished.status_message) == ("FAILED", reason, message)


def test_a_request_no_instance_fits_is_a_setup_failure(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    task = ctx.new_task("big", Requested(cpus=500), "")
    created = events[0]
    assert isinstance(created, TaskCreated) and (created.cpus, created.instance_type) == (500, "")
    assert task.setup_failure is not None and task.setup_failure[0] == "INVALID_TASK_RESOURCE_VALUE"
    task.finish("permanentFail")
    finished = events[-1]
    assert isinstance(finished, TaskFinished) and finished.failure_reason == "INVALID_TASK_RESOURCE_VALUE"
    assert finished.exit_status is None


def test_a_crash_before_the_command_is_a_task_failure(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    task = ctx.new_task("t", Requested(), "")
    task.crashed(ValueError("Input file x not found"))
    finished = events[-1]
    assert isinstance(finished, TaskFinished)
    assert finished.status_message == "Task t failed: ValueError: Input file x not found"


def test_cancel_wins_over_failures(tmp_path: Path) -> None:
    ctx, events = _context(tmp_path)
    task = ctx.new_task("t", Requested(), "")
    waiting = ctx.new_task("w", Requested(), "")
    ctx.cancel_requested.set()
    task.result = _result(143, cancelled=True)
    task.finish("permanentFail")
    assert ctx.failure is None
    ctx.settle_all()
    statuses = {e.task_id: e.status for e in events if isinstance(e, TaskFinished)}
    assert statuses == {task.task_id: "CANCELLED", waiting.task_id: "CANCELLED"}


def test_abort_stops_the_run(tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path)
    ctx.abort("FILE_SYSTEM_OUT_OF_SPACE", "full")
    ctx.abort("OTHER", "ignored")
    assert ctx.abort_reason == ("FILE_SYSTEM_OUT_OF_SPACE", "full")
    assert ctx.stop_requested() and ctx.should_cancel()


def test_gate_wakes_a_waiter_as_soon_as_capacity_returns() -> None:
    gate = CapacityGate({"cpus": 2, "memory_bytes": 0, "gpus": 0})
    order: list[str] = []
    release = threading.Event()

    def first() -> None:
        with gate.admitted(2, 0, 0, lambda: False) as admitted:
            assert admitted
            order.append("first in")
            release.wait(5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    while not order:
        time.sleep(0.001)
    waiter = threading.Thread(target=lambda: _enter(gate, order))
    waiter.start()
    time.sleep(0.05)
    assert order == ["first in"]
    release.set()
    thread.join()
    waiter.join()
    assert order == ["first in", "first out", "second in"]


def _enter(gate: CapacityGate, order: list[str]) -> None:
    with gate.admitted(1, 0, 0, lambda: False) as admitted:
        assert admitted
        order.append("second in")


def test_gate_gives_up_when_cancelled_and_always_admits_a_lone_request() -> None:
    gate = CapacityGate({"cpus": 1, "memory_bytes": 0, "gpus": 0})
    with gate.admitted(8, 0, 0, lambda: False) as alone:
        assert alone
        with gate.admitted(1, 0, 0, lambda: True) as admitted:
            assert not admitted
    with gate.admitted(1, 0, 0, lambda: False) as again:
        assert again


def test_commands_are_recorded_in_one_file_and_outputs_named_after_the_task(tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path)
    first = ctx.new_task("echo_i_2", Requested(cpus=1, memory_bytes=GIB), "")
    second = ctx.new_task("with space/slash", Requested(cpus=1, memory_bytes=GIB), "")
    script = ["sh", "-c", "echo one\necho two"]
    ctx.record_command(first, ["echo", "a b"])
    ctx.record_command(second, script)
    lines = (tmp_path / "tasks" / "commands.jsonl").read_text().splitlines()  # written as they come
    ctx.close()
    assert [json.loads(line) for line in lines] == [
        {"task": f"echo_i_2-{first.task_id}", "command": "echo 'a b'"},
        {"task": f"with_space_slash-{second.task_id}", "command": shlex.join(script)},
    ]
    assert first.output_path("stderr") == tmp_path / "tasks" / f"echo_i_2-{first.task_id}.stderr.txt"
    assert not first.directory.exists()  # made only for run-cache files
    ctx.close()  # closing twice is fine
