import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

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
from tests.engines.wdl.driver_support import make_run, outputs_json, pid_alive

HELLO = """
version 1.0
workflow hello {
  input { String name }
  call greet { input: name = name }
  output {
    File greeting = greet.out
    Int n = greet.n
  }
}
task greet {
  input { String name }
  command <<<
    echo "hello ~{name}" > out.txt
    echo "stdout of greet"
    echo "stderr of greet" >&2
  >>>
  output {
    File out = "out.txt"
    Int n = 42
  }
  runtime { docker: "ubuntu:22.04" cpu: 1 memory: "1 GiB" }
}
"""


@pytest.mark.slow
def test_hello_world(tmp_path):
    run = make_run(tmp_path, HELLO, {"name": "omics"}).run()
    assert run.returncode == 0, run.stderr
    events = run.events()
    kinds = [type(e) for e in events]
    assert kinds == [
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
    assert started.engine_version.startswith("miniwdl ")
    assert created.name == "call-greet" and len(created.task_id) == 7 and created.task_id.isdigit()
    assert (created.cpus, created.memory_gib, created.gpus) == (1, 1, 0)
    assert created.instance_type == "omics.c.large" and created.image == "ubuntu:22.04"
    assert created.time <= starting.time <= running.time <= finished.time <= done.time
    assert finished.status == "COMPLETED" and finished.exit_status == 0
    assert done.status == "COMPLETED" and done.failure_reason == "" and done.storage_max_bytes > 0

    base = run.spec.run_output_uri
    assert outputs.outputs == {"hello.greeting": f"{base}/out/greeting/out.txt", "hello.n": 42}
    assert outputs.outputs_uri == f"{base}/logs/outputs.json"
    assert outputs_json(run) == outputs.outputs
    assert run.bucket_file(f"{base}/out/greeting/out.txt").read_text() == "hello omics\n"

    assert (run.run_dir / "driver.pid").read_text().strip().isdigit()
    assert any("workflow start" in m for m in run.engine_log())
    task_log = run.task_log(created.task_id)
    assert "stdout of greet" in task_log and "stderr of greet" in task_log


@pytest.mark.slow
def test_scatter_gather_fifty_tasks(tmp_path):
    source = """
version 1.0
workflow sg {
  input { Int n }
  scatter (i in range(n)) {
    call x { input: i = i }
  }
  output { Array[Int] squares = x.sq  Array[File] files = x.f }
}
task x {
  input { Int i }
  command <<< echo $(( ~{i} * ~{i} )) > sq.txt >>>
  output { Int sq = read_int("sq.txt")  File f = "sq.txt" }
}
"""
    run = make_run(tmp_path, source, {"n": 50}).run()
    done = run.finished()
    assert done.status == "COMPLETED", (done, run.stderr)
    created = run.tasks()
    assert sorted(t.name for t in created) == sorted(f"call-x-{i}" for i in range(50))
    assert len({t.task_id for t in created}) == 50
    results = run.task_results()
    assert {results[t.task_id].status for t in created} == {"COMPLETED"}
    summary = outputs_json(run)
    assert summary["sg.squares"] == [i * i for i in range(50)]
    base = run.spec.run_output_uri
    assert summary["sg.files"][7] == f"{base}/out/files/7/sq.txt"
    assert run.bucket_file(summary["sg.files"][7]).read_text() == "49\n"


@pytest.mark.slow
def test_nested_scatter_and_subworkflow_names(tmp_path):
    source = """
version 1.0
import "sub.wdl" as sub
workflow nest {
  scatter (i in range(2)) {
    scatter (j in range(3)) {
      call t { input: v = i * 10 + j }
    }
  }
  call sub.inner as inner
  output { Array[Array[Int]] vs = t.v2  Int w = inner.w }
}
task t {
  input { Int v }
  command <<< echo ~{v} >>>
  output { Int v2 = read_int(stdout()) }
}
"""
    sub = """
version 1.0
workflow inner {
  call leaf
  output { Int w = leaf.w }
}
task leaf {
  command <<< echo 7 >>>
  output { Int w = read_int(stdout()) }
}
"""
    run = make_run(tmp_path, source, files={"sub.wdl": sub}).run()
    assert run.finished().status == "COMPLETED", run.stderr
    names = sorted(t.name for t in run.tasks())
    expected = sorted([f"call-t-{i}-{j}" for i in range(2) for j in range(3)] + ["call-inner.call-leaf"])
    assert names == expected
    assert outputs_json(run) == {"nest.vs": [[0, 1, 2], [10, 11, 12]], "nest.w": 7}


@pytest.mark.slow
def test_failing_task_fails_the_run(tmp_path):
    source = """
version 1.0
workflow f {
  call boom
}
task boom {
  command <<< echo "about to fail" >&2; exit 3 >>>
}
"""
    run = make_run(tmp_path, source).run()
    assert run.returncode == 0
    done = run.finished()
    assert done.status == "FAILED"
    assert done.failure_reason == "RUN_TASK_FAILED"
    assert "call-boom" in done.status_message and "exit status 3" in done.status_message
    (task,) = run.tasks()
    result = run.task_results()[task.task_id]
    assert (result.status, result.exit_status, result.failure_reason) == ("FAILED", 3, "RUN_TASK_FAILED")
    assert "about to fail" in run.task_log(task.task_id)
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    assert not run.bucket_file(run.spec.run_output_uri).exists()


@pytest.mark.slow
def test_out_of_memory(tmp_path):
    source = """
version 1.0
workflow oom {
  call hog
}
task hog {
  command <<<
    python3 -c 'import time; b = b"x" * (1536 * 1024 * 1024); time.sleep(30)'
  >>>
  runtime { memory: "1 GiB" }
}
"""
    run = make_run(tmp_path, source).run(timeout=60)
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "OUT_OF_MEMORY_ERROR")
    assert "out of memory" in done.status_message and "call-hog" in done.status_message
    (result,) = run.task_results().values()
    assert (result.exit_status, result.failure_reason) == (137, "OUT_OF_MEMORY_ERROR")


@pytest.mark.slow
def test_sigterm_cancels_the_run(tmp_path):
    source = """
version 1.0
workflow c {
  call long
  output { File f = long.f }
}
task long {
  command <<< echo $$ > pid.txt; touch f; sleep 600 >>>
  output { File f = "f" }
}
"""
    run = make_run(tmp_path, source)
    run.start()
    running = run.wait_for_event(lambda e: isinstance(e, TaskRunning))
    pid_file = run.run_dir / "wdl" / "call-long" / "work" / "pid.txt"
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    task_pid = int(pid_file.read_text())
    assert pid_alive(task_pid)
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.wait(timeout=30)
    assert time.monotonic() - sent < 5
    assert run.returncode == 0
    done = run.finished()
    assert done.status == "CANCELLED"
    assert run.task_results()[running.task_id].status == "CANCELLED"
    assert not pid_alive(task_pid)
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    assert not run.bucket_file(run.spec.run_output_uri).exists()


COPY = """
version 1.2
workflow stage {
  input { File reads  Directory refs }
  call cat { input: f = reads, d = refs }
  output {
    String first = cat.first
    Int count = cat.count
    Directory copies = cat.copies
    Pair[String, File] pair = (cat.first, reads)
  }
}
task cat {
  input { File f  Directory d }
  command <<<
    head -n1 ~{f}
    ls ~{d} | wc -l > n.txt
    mkdir -p copies/deep && cp ~{d}/* copies/deep/
  >>>
  output {
    String first = read_string(stdout())
    Int count = read_int("n.txt")
    Directory copies = "copies"
  }
}
"""


@pytest.mark.slow
def test_s3_inputs_are_staged_with_digests(tmp_path):
    data = b"line one\nline two\n"
    objects = {
        "s3://inputs/sample/reads.txt": data,
        "s3://inputs/refs/a.fa": b">a\n",
        "s3://inputs/refs/b.fa": b">b\n",
    }
    params = {"reads": "s3://inputs/sample/reads.txt", "refs": "s3://inputs/refs/"}
    run = make_run(tmp_path, COPY, params, bucket_objects=objects).run()
    assert run.finished().status == "COMPLETED", run.stderr
    staged = next(e for e in run.events() if isinstance(e, InputsStaged))
    assert staged.resource_digests["s3://inputs/sample/reads.txt"] == f"etag:{hashlib.md5(data).hexdigest()}"
    assert staged.resource_digests["s3://inputs/refs/"].startswith("etag:")
    base = run.spec.run_output_uri
    assert outputs_json(run) == {
        "stage.first": "line one",
        "stage.count": 2,
        "stage.copies": f"{base}/out/copies/copies/",
        "stage.pair": {"left": "line one", "right": f"{base}/out/pair/right/reads.txt"},
    }
    assert run.bucket_file(f"{base}/out/copies/copies/deep/b.fa").read_bytes() == b">b\n"
    assert run.bucket_file(f"{base}/out/pair/right/reads.txt").read_bytes() == data


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reads", "reason"),
    [
        ("s3://inputs/sample/missing.txt", "INPUT_URI_NOT_FOUND"),
        ("s3://Bad_Bucket/reads.txt", "INVALID_URI_INPUT"),
        ("/etc/hostname", "INVALID_URI_INPUT"),
    ],
)
def test_bad_inputs_fail_before_any_task(tmp_path, reads, reason):
    objects = {"s3://inputs/refs/a.fa": b">a\n"}
    run = make_run(tmp_path, COPY, {"reads": reads, "refs": "s3://inputs/refs/"}, bucket_objects=objects).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", reason)
    assert reads in done.status_message or reads.split("/")[2] in done.status_message
    assert run.tasks() == []


@pytest.mark.slow
def test_wrong_parameter_type_is_a_workflow_failure(tmp_path):
    run = make_run(tmp_path, HELLO, {"name": {"not": "a string"}}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert "name" in done.status_message


@pytest.mark.slow
def test_max_retries_makes_a_new_task_per_attempt(tmp_path):
    source = """
version 1.0
workflow r {
  call flaky
  output { String s = flaky.s }
}
task flaky {
  command <<<
    if [ "$(basename "$PWD")" = work ]; then echo "first attempt fails" >&2; exit 1; fi
    echo ok
  >>>
  output { String s = read_string(stdout()) }
  runtime { maxRetries: 2 }
}
"""
    run = make_run(tmp_path, source).run()
    assert run.finished().status == "COMPLETED", run.stderr
    first, second = run.tasks()
    assert first.name == second.name == "call-flaky" and first.task_id != second.task_id
    results = run.task_results()
    assert (results[first.task_id].status, results[first.task_id].exit_status) == ("FAILED", 1)
    assert results[second.task_id].status == "COMPLETED"
    assert "first attempt fails" in run.task_log(first.task_id)
    assert outputs_json(run) == {"r.s": "ok"}


@pytest.mark.slow
def test_restricted_network_blocks_connections(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    connections = []

    def accept():
        try:
            while True:
                connections.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    source = f"""
version 1.0
workflow net {{
  call probe
}}
task probe {{
  command <<< exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected >>>
}}
"""
    try:
        restricted = make_run(tmp_path / "restricted", source, network=False).run()
        done = restricted.finished()
        assert (done.status, done.failure_reason) == ("FAILED", "RUN_TASK_FAILED")
        (result,) = restricted.task_results().values()
        assert result.exit_status != 0
        assert connections == []
        open_run = make_run(tmp_path / "open", source, network=True).run()
        assert open_run.finished().status == "COMPLETED", open_run.stderr
        assert len(connections) == 1
    finally:
        listener.close()


@pytest.mark.slow
def test_static_storage_exceeded(tmp_path):
    source = """
version 1.0
workflow s {
  call fill
}
task fill {
  command <<< truncate -s 2G big.bin; sleep 60 >>>
}
"""
    run = make_run(tmp_path, source, storage_type="STATIC", storage_capacity_gib=1).run(timeout=60)
    done = run.finished()
    assert (done.status, done.failure_reason) == ("FAILED", "FILE_SYSTEM_OUT_OF_SPACE")
    assert done.storage_max_bytes >= 2 * 1024**3
    (result,) = run.task_results().values()
    assert result.status == "CANCELLED"


@pytest.mark.slow
def test_log_level_off_writes_no_engine_log(tmp_path):
    run = make_run(tmp_path, HELLO, {"name": "quiet"}, log_level="OFF").run()
    assert run.finished().status == "COMPLETED", run.stderr
    assert run.engine_log() == []
    (task,) = run.tasks()
    assert "stdout of greet" in run.task_log(task.task_id)


def test_invalid_spec_is_journaled(tmp_path):
    (tmp_path / "spec.json").write_text('{"run_id": "1"}')
    proc = subprocess.run(
        [sys.executable, "-m", "omicsd.engines.wdl.driver", str(tmp_path)], capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    (done,) = read_events(journal_path(tmp_path))[0]
    assert isinstance(done, RunFinished)
    assert (done.status, done.failure_reason) == ("FAILED", "SERVICE_ERROR")
    assert "spec" in done.status_message


def test_usage_error():
    from omicsd.engines.wdl.driver import main

    assert main([]) == 2
    assert main(["a", "b"]) == 2


def test_pid_file_names_the_driver(tmp_path):
    from omicsd.engines.wdl.driver import run_driver

    assert run_driver(tmp_path) == 0  # no spec: RunFinished FAILED is still journaled
    assert (tmp_path / "driver.pid").read_text().strip() == str(os.getpid())
    (done,) = read_events(journal_path(tmp_path))[0]
    assert isinstance(done, RunFinished) and done.status == "FAILED"


@pytest.mark.slow
def test_sigterm_right_after_start_still_journals_cancelled(tmp_path):
    run = make_run(tmp_path, HELLO, {"name": "early"})
    run.start()
    pid_file = run.run_dir / "driver.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    run.signal(signal.SIGTERM)
    run.wait(timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.finished().status == "CANCELLED"
    assert run.tasks() == []
