"""The CWL driver end to end: definition + spec in, journal, task logs and exported outputs out."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from omicsd.engines.events import (
    InputsStaged,
    RunFinished,
    RunOutputs,
    RunStarted,
    TaskCreated,
    TaskFinished,
    TaskRunning,
    TaskStarting,
)
from omicsd.engines.journal import journal_path, read_events
from tests.engines.cwl.driver_support import make_run, pid_alive

pytestmark = pytest.mark.slow


def test_hello_tool_as_the_supervisor_starts_it(tmp_path: Path) -> None:
    run = make_run(tmp_path, "hello", {"name": "omics", "times": 2})
    run.start_process()
    run.wait()
    assert run.returncode == 0, run.stderr
    events = run.events()
    assert [type(e) for e in events] == [
        RunStarted,
        InputsStaged,
        TaskCreated,
        TaskStarting,
        TaskRunning,
        TaskFinished,
        RunOutputs,
        RunFinished,
    ]
    started, _, created, starting, running, finished, outputs, done = events
    assert isinstance(started, RunStarted) and started.engine_version.startswith("cwltool ")
    assert isinstance(created, TaskCreated)
    assert created.name == "hello" and len(created.task_id) == 7 and created.task_id.isdigit()
    assert (created.cpus, created.memory_gib, created.gpus) == (3, 10, 0)  # ramMin 10240 MiB
    assert created.instance_type == "omics.m.xlarge" and created.image == "ubuntu:22.04"
    assert created.time <= starting.time <= running.time <= finished.time <= done.time
    assert isinstance(finished, TaskFinished) and (finished.status, finished.exit_status) == ("COMPLETED", 0)
    assert isinstance(done, RunFinished) and done.status == "COMPLETED" and done.storage_max_bytes > 0

    base = run.spec.run_output_uri
    assert isinstance(outputs, RunOutputs)
    assert outputs.outputs == {"hello.greeting": f"{base}/out/greeting/greeting.txt"}
    assert outputs.outputs_uri == f"{base}/logs/outputs.json"
    assert run.outputs_json() == outputs.outputs
    assert run.bucket_file(f"{base}/out/greeting/greeting.txt").read_text() == "Hello, omics!\nHello, omics!\n"
    assert (run.run_dir / "driver.pid").read_text().strip() == str(run.pid)
    assert any("[job hello]" in m for m in run.engine_log())
    assert run.task_log(created.task_id) == ["stdout of hello", "stderr of hello"]


def test_multi_step_v1_0_workflow_with_an_s3_input(tmp_path: Path) -> None:
    data = b"hello world\nsecond line here\n"
    run = make_run(
        tmp_path, "multi", {"text": "s3://inputs/texts/in.txt"}, bucket_objects={"s3://inputs/texts/in.txt": data}
    ).run()
    assert run.finished().status == "COMPLETED", run.stderr
    staged = next(e for e in run.events() if isinstance(e, InputsStaged))
    assert staged.resource_digests == {"s3://inputs/texts/in.txt": f"etag:{hashlib.md5(data).hexdigest()}"}
    assert sorted(t.name for t in run.tasks()) == ["lines", "upper", "words"]
    assert run.task_named("upper").image == "ubuntu:22.04"  # DockerRequirement as a hint
    assert (run.task_named("lines").memory_gib, run.task_named("lines").image) == (2, "")  # ramMin 1500 MiB
    summary = run.outputs_json()
    base = run.spec.run_output_uri
    assert summary == {
        "main.upper_text": f"{base}/out/upper_text/upper.txt",
        "main.line_count": f"{base}/out/line_count/count.txt",
        "main.word_count": f"{base}/out/word_count/count.txt",
    }
    assert run.bucket_file(summary["main.upper_text"]).read_bytes() == data.upper()
    assert run.bucket_file(summary["main.line_count"]).read_text().strip() == "2"
    assert run.bucket_file(summary["main.word_count"]).read_text().strip() == "5"


def test_run_directory_holds_only_what_the_jobs_used(tmp_path: Path) -> None:
    data = b"one two\n"
    run = make_run(
        tmp_path, "multi", {"text": "s3://inputs/texts/in.txt"}, bucket_objects={"s3://inputs/texts/in.txt": data}
    ).run()
    assert run.finished().status == "COMPLETED", run.stderr
    labels = {f"{t.name}-{t.task_id}" for t in run.tasks()}
    cwl = run.run_dir / "cwl"
    commands = [json.loads(line) for line in (cwl / "tasks" / "commands.jsonl").read_text().splitlines()]
    assert {c["task"] for c in commands} == labels
    assert all(c["command"].endswith(("wc -l", "wc -w", "tr '[:lower:]' '[:upper:]'")) for c in commands)
    assert sorted(p.name for p in (cwl / "tasks").iterdir()) == sorted(
        ["commands.jsonl", *(f"{label}.stderr.txt" for label in labels)]  # stdout goes to the tools' files
    )
    assert len(list((cwl / "out").iterdir())) == 3  # one per job: the workflow's own is never made
    staged = sorted(p.parent.parent.name for p in (cwl / "tmp").glob("*/stg*/*"))
    assert len(staged) == 3 and len(list((cwl / "tmp").iterdir())) == 6  # each job's TMPDIR and staging


def test_scatter_runs_shards_in_parallel_with_cwltool_job_names(tmp_path: Path) -> None:
    run = make_run(tmp_path, "scatter", {"items": list(range(60))}).run()
    assert run.finished().status == "COMPLETED", run.stderr
    names = [t.name for t in run.tasks()]
    assert sorted(names) == sorted(["echo_i", *(f"echo_i_{n}" for n in range(2, 61)), "gather"])
    assert len({t.task_id for t in run.tasks()}) == 61
    assert {r.status for r in run.task_results().values()} == {"COMPLETED"}
    events = run.events()
    first_finish = next(i for i, e in enumerate(events) if isinstance(e, TaskFinished))
    assert sum(isinstance(e, TaskCreated) for e in events[:first_finish]) > 1, "shards are created together"
    summary = run.outputs_json()
    base = run.spec.run_output_uri
    assert summary["main.parts"][7] == f"{base}/out/parts/7/part.txt"
    assert run.bucket_file(summary["main.parts"][7]).read_text() == "7\n"
    assert run.bucket_file(summary["main.total"]).read_text().strip() == str(sum(range(60)))


def test_failing_step_fails_the_run_naming_the_task(tmp_path: Path) -> None:
    run = make_run(tmp_path, "failing").run()
    assert run.returncode == 0
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
    assert done.status_message == "Task boom failed with exit status 3"
    results = run.task_results()
    assert results[run.task_named("ok").task_id].status == "COMPLETED"
    boom = results[run.task_named("boom").task_id]
    assert (boom.status, boom.exit_status, boom.failure_reason) == ("FAILED", 3, "RUN_TASK_FAILED")
    assert run.task_log(boom.task_id) == ["about to fail"]
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    assert not run.bucket_file(run.spec.run_output_uri).exists()


def test_exit_137_is_out_of_memory(tmp_path: Path) -> None:
    run = make_run(tmp_path, "failing", {"status": 137}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "OUT_OF_MEMORY_ERROR")
    assert done.status_message == "Task boom ran out of memory (exit status 137)"


def test_memory_limit_kills_a_hog(tmp_path: Path) -> None:
    hog = """cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {ramMin: 512}
baseCommand: [python3, -c, "import time; b = b'x' * (1536 * 1024 * 1024); time.sleep(30)"]
inputs: []
outputs: []
"""
    run = make_run(tmp_path, {"main.cwl": hog}).run(timeout=60)
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "OUT_OF_MEMORY_ERROR")
    (task,) = run.tasks()
    assert (task.name, task.memory_gib) == ("main", 1)
    assert run.task_results()[task.task_id].exit_status == 137


def test_sigterm_cancels_running_tasks_and_exports_nothing(tmp_path: Path) -> None:
    run = make_run(tmp_path, "sleepy")
    run.start()
    running = run.wait_for_event(lambda e: isinstance(e, TaskRunning))
    deadline = time.monotonic() + 10
    pid_files: list[Path] = []
    while time.monotonic() < deadline:
        pid_files = [p for p in (run.run_dir / "cwl" / "out").glob("*/pid.txt") if p.read_text().strip()]
        if pid_files:
            break
        time.sleep(0.02)
    task_pid = int(pid_files[0].read_text())
    assert pid_alive(task_pid)
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.wait(timeout=30)
    assert time.monotonic() - sent < 5
    assert run.returncode == 0
    done = run.finished()
    assert (done.status, done.status_message) == ("CANCELLED", "Run cancelled")
    assert run.task_results()[running.task_id].status == "CANCELLED"
    assert not pid_alive(task_pid)
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    assert not run.bucket_file(run.spec.run_output_uri).exists()


def test_secondary_files_in_and_out(tmp_path: Path) -> None:
    objects = {
        "s3://inputs/s/sample.bam": b"BAM\n",
        "s3://inputs/s/sample.bam.bai": b"BAI\n",
        "s3://inputs/s/sample.idx": b"IDX\n",
        "s3://inputs/s/unrelated.txt": b"no\n",
    }
    run = make_run(tmp_path, "secondary", {"bam": "s3://inputs/s/sample.bam"}, bucket_objects=objects).run()
    assert run.finished().status == "COMPLETED", run.stderr
    staged = next(e for e in run.events() if isinstance(e, InputsStaged))
    assert sorted(staged.resource_digests) == sorted(k for k in objects if "unrelated" not in k)
    summary = run.outputs_json()
    base = run.spec.run_output_uri
    assert summary["main.merged"] == f"{base}/out/merged/merged.txt"
    assert run.bucket_file(summary["main.merged"]).read_text() == "BAM\nBAI\n"
    assert run.bucket_file(f"{base}/out/merged/merged.txt.sig").read_text() == "signed\n"
    assert run.bucket_file(summary["main.listing"]).read_text().split() == [
        "sample.bam",
        "sample.bam.bai",
        "sample.idx",
    ]


def test_missing_required_secondary_file_is_a_workflow_failure(tmp_path: Path) -> None:
    objects = {"s3://inputs/s/sample.bam": b"BAM\n"}
    run = make_run(tmp_path, "secondary", {"bam": "s3://inputs/s/sample.bam"}, bucket_objects=objects).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert "Missing required secondary file 'sample.bam.bai'" in done.status_message
    assert str(tmp_path / "definition") not in done.status_message
    assert run.tasks() == []


def test_subworkflow(tmp_path: Path) -> None:
    run = make_run(tmp_path, "subworkflow", {"word": "quiet"}).run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert [t.name for t in run.tasks()] == ["first", "leaf"]
    summary = run.outputs_json()
    assert run.bucket_file(summary["main.final"]).read_text() == "QUIET\n"


def test_expression_tool_and_javascript_run_on_host_node(tmp_path: Path) -> None:
    run = make_run(tmp_path, "expression", {"n": 4}).run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert [t.name for t in run.tasks()] == ["show"]  # the ExpressionTool step makes no task
    assert run.outputs_json() == {"main.doubled": 8, "main.shown": 90}


def test_directory_input_and_output_with_initial_workdir(tmp_path: Path) -> None:
    objects = {"s3://inputs/refs/a.fa": b">a\n", "s3://inputs/refs/b.fa": b">b\n"}
    params = {"refs": "s3://inputs/refs/", "message": "hi there"}
    run = make_run(tmp_path, "directory", params, bucket_objects=objects).run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert [t.name for t in run.tasks()] == ["main"]
    staged = next(e for e in run.events() if isinstance(e, InputsStaged))
    assert list(staged.resource_digests) == ["s3://inputs/refs/"]
    summary = run.outputs_json()
    assert summary["main.bundle"] == f"{run.spec.run_output_uri}/out/bundle/bundle/"
    bundle = run.bucket_file(summary["main.bundle"])
    assert (bundle / "msg.txt").read_text() == "hi there"
    assert (bundle / "refs.txt").read_text().split() == ["a.fa", "b.fa"]


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"name": {"not": "a string"}}, "the 'name' field is not valid"),
        ({"times": 2}, "Missing required input parameter 'name'"),
    ],
)
def test_invalid_job_inputs_are_a_workflow_failure(tmp_path: Path, parameters: dict[str, object], detail: str) -> None:
    run = make_run(tmp_path, "hello", parameters).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert done.status_message.startswith("Invalid job input record")
    assert detail in done.status_message
    assert run.tasks() == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("s3://inputs/texts/missing.txt", "INPUT_URI_NOT_FOUND"),
        ("/etc/hostname", "INVALID_URI_INPUT"),
    ],
)
def test_bad_input_uris_fail_before_any_task(tmp_path: Path, text: str, reason: str) -> None:
    run = make_run(tmp_path, "multi", {"text": {"class": "File", "location": text}}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", reason)
    assert text in done.status_message
    assert run.tasks() == []


def test_invalid_definition_is_a_workflow_failure(tmp_path: Path) -> None:
    broken = "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: {x: {type: nosuchtype}}\noutputs: []\n"
    run = make_run(tmp_path, {"main.cwl": broken}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert "nosuchtype" in done.status_message


def test_too_large_resource_request_fails_the_task(tmp_path: Path) -> None:
    greedy = """cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {coresMin: 500}
baseCommand: "true"
inputs: []
outputs: []
"""
    run = make_run(tmp_path, {"main.cwl": greedy}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "INVALID_TASK_RESOURCE_VALUE")
    (task,) = run.tasks()
    assert (task.cpus, task.instance_type) == (500, "")
    assert run.task_results()[task.task_id].status == "FAILED"


def test_restricted_network_blocks_connections(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    connections: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                connections.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    probe = f"""cwlVersion: v1.2
class: CommandLineTool
baseCommand: [bash, -c, "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"]
inputs: []
outputs: []
"""
    try:
        restricted = make_run(tmp_path / "restricted", {"main.cwl": probe}, network=False).run()
        done = restricted.finished()
        assert (done.status, done.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
        assert connections == []
        opened = make_run(tmp_path / "open", {"main.cwl": probe}, network=True).run()
        assert opened.finished().status == "COMPLETED", opened.stderr
        assert len(connections) == 1
    finally:
        listener.close()


def test_log_level_off_writes_no_engine_log(tmp_path: Path) -> None:
    run = make_run(tmp_path, "hello", {"name": "quiet"}, log_level="OFF").run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert run.engine_log() == []
    (task,) = run.tasks()
    assert "stdout of hello" in run.task_log(task.task_id)


def test_invalid_spec_is_journaled(tmp_path: Path) -> None:
    (tmp_path / "spec.json").write_text('{"run_id": "1"}')
    proc = subprocess.run(
        [sys.executable, "-m", "omicsd.engines.cwl.driver", str(tmp_path)], capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    (done,) = read_events(journal_path(tmp_path))[0]
    assert isinstance(done, RunFinished)
    assert (done.status, done.failure_reason) == ("FAILED", "SERVICE_ERROR")
    assert "spec" in done.status_message


def test_usage_error() -> None:
    from omicsd.engines.cwl.driver import main

    assert main([]) == 2
    assert main(["a", "b"]) == 2


def test_a_failing_shard_cancels_its_running_siblings(tmp_path: Path) -> None:
    run = make_run(tmp_path, "failfast", {"items": [0, 1, 2, 3], "bad": 3}, cpus=4)
    began = time.monotonic()
    run.run(timeout=60)
    assert time.monotonic() - began < 15
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
    assert done.status_message == "Task shard_4 failed with exit status 1"
    statuses = {t.name: run.task_results()[t.task_id].status for t in run.tasks()}
    assert statuses == {"shard": "CANCELLED", "shard_2": "CANCELLED", "shard_3": "CANCELLED", "shard_4": "FAILED"}


def test_an_expression_error_fails_the_run_and_stops_running_tasks(tmp_path: Path) -> None:
    run = make_run(tmp_path, "broken_expression")
    began = time.monotonic()
    run.run(timeout=60)
    assert time.monotonic() - began < 15
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert done.status_message == (
        "[step broken] Cannot make job: Expression evaluation error:\n"
        "TypeError: Cannot read properties of undefined (reading 'deeper')"
    )
    statuses = {t.name: run.task_results()[t.task_id].status for t in run.tasks()}
    assert statuses == {"slow": "CANCELLED", "quick": "COMPLETED"}


def test_tool_time_limit_times_the_task_out(tmp_path: Path) -> None:
    slow = """cwlVersion: v1.2
class: CommandLineTool
requirements:
  ToolTimeLimit: {timelimit: 1}
baseCommand: [sleep, "30"]
inputs: []
outputs: []
"""
    run = make_run(tmp_path, {"main.cwl": slow}).run(timeout=60)
    done = run.finished()
    assert (done.status, done.failure_reason, done.status_message) == (
        "FAILED",
        "TASK_TIMED_OUT",
        "Task main timed out",
    )


def test_static_storage_exceeded(tmp_path: Path) -> None:
    fill = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, "truncate -s 2G big.bin; sleep 60"]
inputs: []
outputs: []
"""
    run = make_run(tmp_path, {"main.cwl": fill}, storage_type="STATIC", storage_capacity_gib=1).run(timeout=60)
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "FILE_SYSTEM_OUT_OF_SPACE")
    assert done.storage_max_bytes >= 2 * 1024**3
    (result,) = run.task_results().values()
    assert result.status == "CANCELLED"


def test_a_failing_expression_tool_fails_the_run_with_its_message(tmp_path: Path) -> None:
    failing = """cwlVersion: v1.2
class: ExpressionTool
requirements:
  InlineJavascriptRequirement: {}
inputs: []
outputs:
  out: int
expression: "${ throw new Error('no can do'); }"
"""
    run = make_run(tmp_path, {"main.cwl": failing}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert "Error: no can do" in done.status_message
    assert run.tasks() == []
