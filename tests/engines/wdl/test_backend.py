import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import WDL
from WDL import Value
from WDL.runtime.task_container import TaskContainer

from omicsd.engines import _runkit
from omicsd.engines.events import RunFinished, TaskCreated, TaskFinished
from omicsd.engines.spec import RunSpec
from omicsd.engines.wdl import _context, _run, observer
from omicsd.engines.wdl._context import DriverContext, TaskOutcome, task_name
from omicsd.engines.wdl.backend import LocalTaskContainer, _requested
from omicsd.executors.base import TaskRequest, TaskResult

GIB = 1024**3


class FakeExecutor:
    """Runs commands with subprocess and records requests; ``script`` overrides results per attempt."""

    name = "fake"

    def __init__(self, script=None, capacity=None):
        self.requests: list[TaskRequest] = []
        self.script = list(script or [])
        self._capacity = capacity or {"cpus": 8, "memory_bytes": 16 * GIB, "gpus": 0}

    def capacity(self):
        return self._capacity

    def run(self, request, *, should_cancel=lambda: False, on_start=None):
        self.requests.append(request)
        start = time.time()
        if on_start:
            on_start(start)
        if self.script:
            override = self.script.pop(0)
            if override is not None:
                return TaskResult(start_time=start, end_time=time.time(), **override)
        with open(request.stdout_path, "ab") as out, open(request.stderr_path, "ab") as err:
            status = subprocess.call(
                list(request.command),
                cwd=request.cwd,
                stdout=out,
                stderr=err,
                env={"PATH": os.environ["PATH"], **request.env},
            )
        return TaskResult(exit_status=status, start_time=start, end_time=time.time())


def run_inline(tmp_path, monkeypatch, source, parameters=None, executor=None, **spec_fields):
    """Run a WDL source in this process through WdlRun with a fake executor; returns (events, executor)."""
    definition = tmp_path / "definition"
    definition.mkdir()
    (definition / "main.wdl").write_text(source)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = RunSpec(
        run_id="7654321",
        run_uuid="u",
        engine="WDL",
        workflow_name="t",
        definition_dir=str(definition),
        main="main.wdl",
        parameters=parameters or {},
        run_output_uri="s3://outputs/runs/7654321",
        buckets_root=str(tmp_path / "buckets"),
        logs_root=str(tmp_path / "logs"),
        capacity_dir=str(tmp_path / "capacity"),
        **spec_fields,
    )
    executor = executor or FakeExecutor()
    monkeypatch.setattr(_runkit.registry, "new", lambda *a, **k: executor)
    events = []
    run = _run.WdlRun(spec, run_dir, events.append)
    with ExitStack() as stack:
        terminating = run.enter_signal_handling(stack)
        run.execute(terminating)
    assert isinstance(events[-1], RunFinished)
    return events, executor, run_dir


def created(events):
    return [e for e in events if isinstance(e, TaskCreated)]


def finished(events):
    return [e for e in events if isinstance(e, TaskFinished)]


def test_request_carries_requested_resources_and_paths(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w { call t }
task t {
  command <<< echo "in task" >>>
  output { String s = read_string(stdout()) }
  runtime { cpu: 1.5  memory: "3 GB"  docker: "example/img:1" }
}
"""
    events, executor, run_dir = run_inline(tmp_path, monkeypatch, source, pool="9999999", network=False)
    assert events[-1].status == "COMPLETED", events[-1]
    (request,) = executor.requests
    task_dir = run_dir / "wdl" / "call-t"
    assert request.command == ["/bin/bash", str(task_dir / "command")]
    assert 'echo "in task"' in (task_dir / "command").read_text()
    assert request.cwd == task_dir / "work"
    assert (request.stdout_path, request.stderr_path) == (task_dir / "stdout.txt", task_dir / "stderr.txt")
    assert (request.cpus, request.memory_bytes, request.gpus) == (2, 3 * GIB, 0)
    assert (request.network, request.pool, request.name) == (False, "9999999", "call-t")
    (task,) = created(events)
    assert (task.cpus, task.memory_gib, task.image, task.instance_type) == (2, 3, "example/img:1", "omics.c.large")


def test_defaults_and_clamping_to_capacity(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w {
  call small
  call big
}
task small { command <<< true >>> }
task big {
  command <<< true >>>
  runtime { cpu: 64  memory: "100 GiB" }
}
"""
    executor = FakeExecutor(capacity={"cpus": 8, "memory_bytes": 16 * GIB, "gpus": 0})
    events, executor, _ = run_inline(tmp_path, monkeypatch, source, executor=executor)
    assert events[-1].status == "COMPLETED"
    tasks = {t.name: t for t in created(events)}
    assert (tasks["call-small"].cpus, tasks["call-small"].memory_gib, tasks["call-small"].image) == (1, 1, "")
    assert (tasks["call-big"].cpus, tasks["call-big"].memory_gib) == (64, 100)
    requests = {r.name: r for r in executor.requests}
    assert (requests["call-small"].cpus, requests["call-small"].memory_bytes) == (1, GIB)
    assert (requests["call-big"].cpus, requests["call-big"].memory_bytes) == (8, 16 * GIB)


def test_request_beyond_every_instance_type_fails_the_task(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w { call t }
task t {
  command <<< true >>>
  runtime { cpu: 500 }
}
"""
    events, executor, _ = run_inline(tmp_path, monkeypatch, source)
    assert executor.requests == []
    (result,) = finished(events)
    assert (result.status, result.failure_reason) == ("FAILED", "INVALID_TASK_RESOURCE_VALUE")
    assert (events[-1].status, events[-1].failure_reason) == ("FAILED", "INVALID_TASK_RESOURCE_VALUE")
    assert "call-t" in events[-1].status_message


def test_inputs_are_symlinked_into_the_work_directory(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w {
  input { File f }
  call t { input: f = f }
  output { String first = t.first }
}
task t {
  input { File f }
  command <<< head -n1 "~{f}" >>>
  output { String first = read_string(stdout()) }
}
"""
    objects = tmp_path / "buckets" / "inputs" / "x"
    objects.mkdir(parents=True)
    (objects / "data.txt").write_text("first line\nsecond\n")
    events, _, run_dir = run_inline(tmp_path, monkeypatch, source, {"f": "s3://inputs/x/data.txt"})
    assert events[-1].status == "COMPLETED", events[-1]
    link = run_dir / "wdl" / "call-t" / "work" / "_miniwdl_inputs" / "0" / "data.txt"
    assert link.is_symlink() and link.read_text().startswith("first line")
    assert Path(os.readlink(link)).is_relative_to(run_dir / "inputs")


def test_oom_retry_doubles_memory_and_is_a_new_task(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w { call t }
task t {
  command <<< echo fine >>>
  runtime { memory: "1 GiB"  maxRetries: 1 }
}
"""
    executor = FakeExecutor(script=[{"exit_status": 137, "oom_killed": True}, None])
    events, executor, _ = run_inline(tmp_path, monkeypatch, source, executor=executor)
    assert events[-1].status == "COMPLETED", events[-1]
    first, second = created(events)
    assert first.task_id != second.task_id and first.name == second.name == "call-t"
    assert (first.memory_gib, second.memory_gib) == (1, 2)
    assert [r.memory_bytes for r in executor.requests] == [GIB, 2 * GIB]
    results = {e.task_id: e for e in finished(events)}
    assert results[first.task_id].failure_reason == "OUT_OF_MEMORY_ERROR"
    assert results[second.task_id].status == "COMPLETED"
    assert executor.requests[1].stdout_path.name == "stdout2.txt"


def test_missing_output_fails_the_task_after_its_command_succeeded(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w { call t }
task t {
  command <<< true >>>
  output { File f = "never-written.txt" }
}
"""
    events, _, _ = run_inline(tmp_path, monkeypatch, source)
    (result,) = finished(events)
    assert (result.status, result.exit_status, result.failure_reason) == ("FAILED", 0, "RUN_TASK_FAILED")
    assert "never-written.txt" in result.status_message
    done = events[-1]
    assert (done.status, done.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
    assert "call-t" in done.status_message


def test_output_paths_are_resolved_once_per_attempt_and_again_after_a_retry(tmp_path, monkeypatch):
    source = """
version 1.0
workflow w { call t }
task t {
  command <<<
    if [ -e ../attempted ]; then echo ok > out.txt; echo 7 > n.txt; else touch ../attempted; exit 1; fi
  >>>
  output { File f = "out.txt"  Int n = read_int("n.txt")  File again = "out.txt" }
  runtime { maxRetries: 1 }
}
"""
    asked: list[tuple[str, int]] = []  # what miniwdl asks the backend
    resolved: list[tuple[str, int]] = []  # what the backend resolves
    resolve, remembered = TaskContainer.host_path, LocalTaskContainer.host_path

    def resolving(self, container_path, inputs_only=False):
        resolved.append((container_path, self.try_counter))
        return resolve(self, container_path, inputs_only)

    def asking(self, container_path, inputs_only=False):
        asked.append((container_path, self.try_counter))
        return remembered(self, container_path, inputs_only)

    monkeypatch.setattr(TaskContainer, "host_path", resolving)
    monkeypatch.setattr(LocalTaskContainer, "host_path", asking)
    events, _, run_dir = run_inline(tmp_path, monkeypatch, source)
    assert [e.status for e in finished(events)] == ["FAILED", "COMPLETED"]
    assert events[-1].status == "COMPLETED"
    assert asked.count(("out.txt", 2)) >= 2  # miniwdl checks, then binds, each output file
    assert sorted(resolved) == sorted(set(asked))
    assert (run_dir / "wdl" / "call-t" / "work2" / "out.txt").read_text() == "ok\n"


def test_backend_refuses_to_run_outside_a_driver():
    assert _context.current() is None
    with pytest.raises(WDL.Error.RuntimeError, match="omicsd run driver"):
        LocalTaskContainer.detect_resource_limits(None, None)


def test_observers_are_inert_outside_a_driver():
    for plugin in (observer.observe_task, observer.observe_workflow):
        gen = plugin(None, None, ["wf"], "/nowhere", None, inputs={"a": 1})
        assert next(gen) == {"inputs": {"a": 1}}
        assert gen.send({"command": "x", "container": None}) == {"command": "x", "container": None}
        assert gen.send({"outputs": 2}) == {"outputs": 2}
        with pytest.raises(StopIteration):
            gen.send(None)


def test_requested_reads_raw_runtime_values():
    requested = _requested(
        {
            "cpu": Value.Float(2.2),
            "memory": Value.String("1.5 GiB"),
            "acceleratorType": Value.String("nvidia-tesla-t4"),
            "acceleratorCount": Value.Int(2),
            "container": Value.Array(WDL.Type.String(), [Value.String("repo/a:1"), Value.String("repo/b:2")]),
        }
    )
    assert requested.normalized() == (3, 2, 2)
    assert requested.accelerator_type == "nvidia-tesla-t4" and requested.image == "repo/a:1"
    assert _requested({"gpu": Value.Boolean(True), "docker": Value.String("x")}).normalized() == (1, 1, 1)
    assert _requested({}).normalized() == (1, 1, 0)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("call-hello", "call-hello"),
        ("call-x-07", "call-x-7"),
        ("call-x-1-03", "call-x-1-3"),
        ("call-sub-2/call-leaf-00", "call-sub-2.call-leaf-0"),
        ("call-sub/call-x", "call-sub.call-x"),
    ],
)
def test_task_names(tmp_path, relative, expected):
    assert task_name(tmp_path, tmp_path / relative, "ignored") == expected


def test_bare_task_run_is_named_after_the_task(tmp_path):
    assert task_name(tmp_path, tmp_path, "align") == "call-align"


def test_context_task_ids_and_held_outcomes(tmp_path):
    emitted = []
    ctx = DriverContext(
        RunSpec("1", "u", "WDL", "w", "/d", "m.wdl", {}, "s3://o/r", "/b", "/l", "/c"),
        emit=emitted.append,
        executor=FakeExecutor(),
        wdl_root=tmp_path,
    )
    ids = {ctx.new_task_id() for _ in range(500)}
    assert len(ids) == 500 and all(len(i) == 7 and i.isdigit() for i in ids)
    ctx.defer("/t1", TaskOutcome("1111111", "call-a", 0, 1.0))
    ctx.defer("/t2", TaskOutcome("2222222", "call-b", 0, 2.0))
    ctx.settle("/t1")
    ctx.settle("/t2", error="Task call-b failed: OutputError")
    ctx.settle("/t3")  # nothing held: no event
    assert [(e.task_id, e.status, e.failure_reason) for e in emitted] == [
        ("1111111", "COMPLETED", ""),
        ("2222222", "FAILED", "RUN_TASK_FAILED"),
    ]
    assert ctx.failure("/t2").status_message == "Task call-b failed: OutputError"
    ctx.defer("/t4", TaskOutcome("4444444", "call-d", 0, 4.0))
    ctx.settle_all()
    assert (emitted[-1].task_id, emitted[-1].status) == ("4444444", "COMPLETED")
