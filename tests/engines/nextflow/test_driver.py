"""The Nextflow driver end to end: the real driver process against a fake ``nextflow`` (see fake_nextflow.py)."""

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
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
from omicsd.engines.nextflow import driver
from omicsd.executors.isolation import NetworkIsolationError, network_prefix
from tests.engines.nextflow.nf_support import EVENTS_DIR, RUN_ID, make_nf_run

READS = b"@r1\nACGT\n+\nIIII\n"
SUCCESS = {
    "weblog": str(EVENTS_DIR / "weblog_success.jsonl"),
    "publish": {"result.txt": "reads={reads}\n", "qc/summary.txt": "ok\n"},
}
FAILURE = {"weblog": str(EVENTS_DIR / "weblog_failure.jsonl"), "exit": 1}
EXPECTED_NAMES = Counter(["PREPARE", "ALIGN (1)", "ALIGN (2)", "ALIGN (3)", "ALIGN (3)", "ALIGN (4)", "MERGE"])


def _run_with_inputs(tmp_path, **kwargs):
    return make_nf_run(
        tmp_path,
        parameters={"reads": "s3://inputs/reads/s1.fq", "ref": "s3://inputs/ref/", "outdir": "/mnt/workflow/pubdir"},
        bucket_objects={"s3://inputs/reads/s1.fq": READS, "s3://inputs/ref/genome.fa": b">chr1\n"},
        **kwargs,
    )


def _assert_task_lives(run):
    """Every task has Created, Starting, (Running,) Finished in that order."""
    order = {TaskCreated: 0, TaskStarting: 1, TaskRunning: 2, TaskFinished: 3}
    seen = {}
    for event in run.events():
        if type(event) in order:
            seen.setdefault(event.task_id, []).append(order[type(event)])
    for steps in seen.values():
        assert steps in ([0, 1, 2, 3], [0, 1, 3]), steps


def test_completed_run_journals_tasks_from_the_weblog_and_exports_pubdir(tmp_path):
    run = _run_with_inputs(tmp_path, scenario=SUCCESS).run()
    assert run.returncode == 0, run.stderr
    events = run.events()
    assert isinstance(events[0], RunStarted) and events[0].engine_version == "24.10.4"  # from `nextflow -version`
    assert isinstance(events[1], InputsStaged)
    assert events[1].resource_digests["s3://inputs/reads/s1.fq"] == "etag:" + hashlib.md5(READS).hexdigest()
    assert set(events[1].resource_digests) == {"s3://inputs/reads/s1.fq", "s3://inputs/ref/"}
    assert isinstance(events[-2], RunOutputs) and isinstance(events[-1], RunFinished)
    assert events[-1].status == COMPLETED and events[-1].failure_reason == "" and events[-1].storage_max_bytes > 0

    tasks = run.tasks()
    assert Counter(t.name for t in tasks) == EXPECTED_NAMES
    _assert_task_lives(run)
    results = run.results()
    first_align3 = next(t for t in tasks if t.name == "ALIGN (3)")
    assert results[first_align3.task_id].status == FAILED
    assert results[first_align3.task_id].failure_reason == "OUT_OF_MEMORY_ERROR"
    assert sorted(r.status for r in results.values()) == [COMPLETED] * 6 + [FAILED]
    merge = next(t for t in tasks if t.name == "MERGE")
    assert (merge.cpus, merge.memory_gib, merge.instance_type, merge.image) == (2, 16, "omics.r.large", "ubuntu:22.04")

    base = f"s3://outputs/runs/{RUN_ID}"
    outputs = events[-2]
    assert outputs.outputs == {"pubdir": [f"{base}/pubdir/prepare/qc/summary.txt", f"{base}/pubdir/prepare/result.txt"]}
    assert outputs.outputs_uri == f"{base}/logs/outputs.json"
    assert json.loads(run.bucket_file(outputs.outputs_uri).read_text()) == outputs.outputs
    local_reads = run.buckets / "inputs" / "reads" / "s1.fq"
    assert run.bucket_file(f"{base}/pubdir/prepare/result.txt").read_text() == f"reads={local_reads}\n"

    call = run.invocation()
    argv = call["argv"]
    assert argv[argv.index("-with-weblog") + 1].startswith("http://127.0.0.1:")
    assert argv[argv.index("-work-dir") + 1] == str(run.run_dir / "work") and "-profile" not in argv
    assert call["cwd"] == str(run.run_dir / "definition")
    assert call["params"] == {
        "reads": str(local_reads),
        "ref": f"{run.buckets}/inputs/ref/",
        "outdir": str(run.run_dir / "pubdir"),
    }
    env = call["env"]
    assert (env["NXF_OFFLINE"], env["NXF_ANSI_LOG"]) == ("true", "false")
    assert env["NXF_HOME"] == str(run.run_dir / "nxf-home")
    assert env["AWS_WORKFLOW_RUN"] == f"arn:aws:omics:us-east-1:123456789012:run/{RUN_ID}"
    assert "fields = 'task_id,hash," in call["config"]
    assert "/mnt/workflow" not in (run.run_dir / "definition" / "main.nf").read_text()
    assert (run.run_dir / "driver.pid").read_text().strip().isdigit()
    assert any("nextflow.launch source=weblog" in line for line in run.engine_log())
    assert all(run.task_log(t.task_id) == [] for t in tasks)  # streams exist; the fake's tasks print nothing


def test_failed_task_fails_the_run_and_cancels_unfinished_tasks(tmp_path):
    run = make_nf_run(tmp_path, scenario=FAILURE).run()
    assert run.returncode == 0, run.stderr
    done = run.finished()
    assert (done.status, done.failure_reason) == (FAILED, "RUN_TASK_FAILED")
    assert done.status_message == "Task ALIGN (sample_3) failed with exit status 1"
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    by_name = {t.name: run.results()[t.task_id] for t in run.tasks()}
    assert {name: r.status for name, r in by_name.items()} == {
        "PREPARE": COMPLETED,
        "ALIGN (sample_1)": COMPLETED,
        "ALIGN (sample_2)": COMPLETED,
        "ALIGN (sample_3)": FAILED,
        "ALIGN (sample_4)": CANCELLED,
    }
    _assert_task_lives(run)


def test_restricted_run_isolates_nextflow_and_reads_the_trace_file(tmp_path):
    try:
        network_prefix("auto")
    except NetworkIsolationError as exn:
        pytest.skip(f"network isolation is not available here: {exn.message}")
    run = _run_with_inputs(tmp_path, scenario=SUCCESS, network=False).run()
    assert run.returncode == 0, run.stderr
    assert run.finished().status == COMPLETED
    call = run.invocation()
    assert "-with-weblog" not in call["argv"]
    assert set(call["interfaces"]) <= {"lo"}  # the launcher ran without the host network
    tasks = run.tasks()
    assert Counter(t.name for t in tasks) == EXPECTED_NAMES
    _assert_task_lives(run)
    created = {t.task_id: t for t in tasks}
    running = {e.task_id: e.time for e in run.events() if isinstance(e, TaskRunning)}
    merge = next(t for t in tasks if t.name == "MERGE")
    assert (created[merge.task_id].time, running[merge.task_id]) == (1717236026.5, 1717236027.0)  # trace times
    assert sorted(r.status for r in run.results().values()) == [COMPLETED] * 6 + [FAILED]
    assert any("nextflow.launch source=trace" in line for line in run.engine_log())
    outputs = next(e for e in run.events() if isinstance(e, RunOutputs))
    assert len(outputs.outputs["pubdir"]) == 2


def test_cancel_stops_the_launcher_and_cancels_open_tasks(tmp_path):
    run = make_nf_run(tmp_path, scenario={**SUCCESS, "hang_after": 5})
    run.start()
    align = run.wait_for_event(lambda e: isinstance(e, TaskCreated) and e.name == "ALIGN (1)")
    pid = run.invocation()["pid"]
    run.signal()
    run.wait()
    assert run.returncode == 0, run.stderr
    done = run.finished()
    assert (done.status, done.status_message) == (CANCELLED, "Run cancelled")
    assert run.results()[align.task_id].status == CANCELLED
    assert not any(isinstance(e, RunOutputs) for e in run.events())
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text()  # the launcher is gone


def test_engine_settings_choose_version_and_profiles(tmp_path):
    run = make_nf_run(tmp_path, scenario=SUCCESS, engine_settings={"engineVersion": "23.10", "profile": "test,fast"})
    run.run()
    assert run.events()[0].engine_version == "23.10.0"
    argv = run.invocation()["argv"]
    assert argv[argv.index("-profile") + 1] == "test,fast"
    assert run.finished().status == COMPLETED


def test_unknown_profile_fails_before_nextflow_starts(tmp_path):
    run = make_nf_run(tmp_path, scenario=SUCCESS, engine_settings={"profile": "test,nope"}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == (FAILED, "WORKFLOW_RUN_FAILED")
    assert done.status_message == (
        "ValidationException: Nextflow profile 'nope' not defined by the workflow (declared profiles: test, fast)"
    )
    assert not run.record.exists() and run.tasks() == []


def test_unsupported_engine_version_fails_validation(tmp_path):
    run = make_nf_run(tmp_path, scenario=SUCCESS, engine_settings={"engineVersion": "21.10"}).run()
    events = run.events()
    assert [type(e) for e in events] == [RunStarted, RunFinished]
    assert events[0].engine_version == ""
    assert (events[1].status, events[1].failure_reason) == (FAILED, "WORKFLOW_VER_VALIDATION_FAILED")
    assert "'21.10' is not supported" in events[1].status_message
    assert not run.record.exists()


def test_invalid_input_uri_fails_before_nextflow_starts(tmp_path):
    run = make_nf_run(tmp_path, scenario=SUCCESS, parameters={"reads": "s3://Not_A_Bucket/x"}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == (FAILED, "INVALID_URI_INPUT")
    assert not run.record.exists()


def test_missing_launcher_fails_fast_with_the_scheduler_message(tmp_path):
    run = make_nf_run(tmp_path, fake=False).run()
    events = run.events()
    assert [type(e) for e in events] == [RunStarted, RunFinished]
    assert (events[1].failure_reason, events[1].status_message) == ("WORKFLOW_RUN_FAILED", driver.NOT_INSTALLED_MESSAGE)
    assert "`nextflow` launcher (and Java 17+)" in driver.NOT_INSTALLED_MESSAGE


def test_launcher_error_before_any_task_is_reported(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    console = ["N E X T F L O W  ~  version 24.10.4", "ERROR ~ No such variable: foo", "", " -- Check script 'main.nf'"]
    run = make_nf_run(tmp_path, scenario={"weblog": str(empty), "exit": 1, "console": console}).run()
    done = run.finished()
    assert (done.status, done.failure_reason) == (FAILED, "WORKFLOW_RUN_FAILED")
    assert done.status_message == "Nextflow exited with status 1: ERROR ~ No such variable: foo"
    log = run.engine_log()
    assert "ERROR omicsd.engines.nextflow.console ERROR ~ No such variable: foo" in log
    assert (run.run_dir / "nextflow.out").read_text().startswith("N E X T F L O W")


def test_driver_usage_and_bad_spec(tmp_path):
    assert driver.main([]) == 2
    (tmp_path / "spec.json").write_text("{}")
    assert driver.main([str(tmp_path)]) == 0
    (finished,) = read_events(journal_path(tmp_path))[0]
    assert finished.failure_reason == "SERVICE_ERROR" and finished.status_message.startswith("Invalid run spec")


REAL_MAIN = """\
nextflow.enable.dsl = 2
params.greeting = 'hello'
params.outdir = '/mnt/workflow/pubdir'

process SAY {
    tag "${word}"
    publishDir "${params.outdir}/say", mode: 'copy'
    input: val word
    output: path "${word}.txt"
    script:
    \"\"\"
    echo ${word} > ${word}.txt
    \"\"\"
}

process JOIN {
    publishDir "${params.outdir}", mode: 'copy'
    input: path files
    output: path 'all.txt'
    script:
    \"\"\"
    cat ${files} > all.txt
    \"\"\"
}

workflow {
    JOIN(SAY(Channel.of(params.greeting, 'world')).collect())
}
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nextflow") is None, reason="needs a real `nextflow` launcher (and its jar) on PATH")
def test_real_nextflow_run(tmp_path):
    run = make_nf_run(tmp_path, main_nf=REAL_MAIN, fake=False, search_path=os.environ["PATH"])
    run.env.update({k: v for k, v in os.environ.items() if k.startswith("NXF_") or k in ("HOME", "JAVA_HOME")})
    run.run(timeout=600)
    done = run.finished()
    assert done.status == COMPLETED, (done, (run.run_dir / "nextflow.out").read_text())
    assert Counter(t.name for t in run.tasks()) == Counter(["SAY (hello)", "SAY (world)", "JOIN"])
    _assert_task_lives(run)
    assert all(r.status == COMPLETED and r.exit_status == 0 for r in run.results().values())
    assert len(run.events()[0].engine_version.split(".")) == 3
    base = f"s3://outputs/runs/{RUN_ID}/pubdir"
    outputs = next(e for e in run.events() if isinstance(e, RunOutputs)).outputs
    assert outputs == {"pubdir": [f"{base}/all.txt", f"{base}/say/hello.txt", f"{base}/say/world.txt"]}
    assert sorted(run.bucket_file(f"{base}/all.txt").read_text().split()) == ["hello", "world"]
