"""CWL runs end to end: boto3 -> live server -> scheduler -> cwltool driver -> local executor -> outputs."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import all_tasks, register, start, wait_run

pytestmark = pytest.mark.slow

CWL_RUNS = Path(__file__).resolve().parents[1] / "data" / "cwl_runs"


def definition(folder: str) -> dict[str, str]:
    """The files of a sample under tests/data/cwl_runs, keyed by their path inside the archive."""
    root = CWL_RUNS / folder
    return {path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*.cwl"))}


def register_cwl(omics: Any, folder: str) -> str:
    return register(omics, definition(folder), name=folder, engine="CWL", main="main.cwl")


def put_object(settings: Any, uri: str, data: bytes) -> None:
    path = Path(settings.buckets_path) / uri.removeprefix("s3://")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def output_dir(settings: Any, run: dict[str, Any]) -> Path:
    return Path(settings.buckets_path) / run["runOutputUri"].removeprefix("s3://")


def test_single_tool_completes_with_outputs_task_and_logs(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "hello")
    assert omics.get_workflow(id=wid)["engine"] == "CWL"
    run = wait_run(omics, start(omics, wid, parameters={"name": "omics", "times": 2})["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    out = output_dir(e2e_settings, run)
    assert (out / "out" / "greeting" / "greeting.txt").read_text() == "Hello, omics!\nHello, omics!\n"
    summary = json.loads((out / "logs" / "outputs.json").read_text())
    assert summary == {"hello.greeting": f"{run['runOutputUri']}/out/greeting/greeting.txt"}
    (task,) = all_tasks(omics, run["id"])
    assert (task["name"], task["status"]) == ("hello", "COMPLETED")
    assert (task["cpus"], task["memory"], task["instanceType"]) == (3, 10, "omics.m.xlarge")
    detail = omics.get_run_task(id=run["id"], taskId=task["taskId"])
    assert detail["imageDetails"]["image"] == "ubuntu:22.04"
    assert detail["logStream"].endswith(f"run/{run['id']}/task/{task['taskId']}")


def test_multi_step_workflow_with_an_s3_input(omics: Any, e2e_settings: Any) -> None:
    data = b"hello world\nsecond line here\n"
    put_object(e2e_settings, "s3://inputs/texts/in.txt", data)
    wid = register_cwl(omics, "multi")
    run = wait_run(omics, start(omics, wid, parameters={"text": "s3://inputs/texts/in.txt"})["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    assert run["resourceDigests"] == {"s3://inputs/texts/in.txt": f"etag:{hashlib.md5(data).hexdigest()}"}
    assert sorted(t["name"] for t in all_tasks(omics, run["id"])) == ["lines", "upper", "words"]
    out = output_dir(e2e_settings, run) / "out"
    assert (out / "upper_text" / "upper.txt").read_bytes() == data.upper()
    assert (out / "line_count" / "count.txt").read_text().strip() == "2"
    assert (out / "word_count" / "count.txt").read_text().strip() == "5"


def test_scatter_of_fifty(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "scatter")
    run = wait_run(omics, start(omics, wid, parameters={"items": list(range(50))})["id"], timeout=300)
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    tasks = all_tasks(omics, run["id"])
    assert sorted(t["name"] for t in tasks) == sorted(["echo_i", *(f"echo_i_{n}" for n in range(2, 51)), "gather"])
    assert {t["status"] for t in tasks} == {"COMPLETED"}
    out = output_dir(e2e_settings, run) / "out"
    assert (out / "total" / "total.txt").read_text().strip() == str(sum(range(50)))
    assert (out / "parts" / "49" / "part.txt").read_text() == "49\n"


def test_failing_step_fails_the_run(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "failing")
    run = wait_run(omics, start(omics, wid)["id"])
    assert (run["status"], run["failureReason"]) == ("FAILED", "RUN_TASK_FAILED")
    assert run["statusMessage"] == "Task boom failed with exit status 3"
    statuses = {t["name"]: t["status"] for t in all_tasks(omics, run["id"])}
    assert statuses == {"ok": "COMPLETED", "boom": "FAILED"}
    assert not output_dir(e2e_settings, run).exists()


def test_cancel_a_long_step(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "sleepy")
    run_id = start(omics, wid)["id"]
    deadline = time.monotonic() + 60
    while not any(t["status"] == "RUNNING" for t in all_tasks(omics, run_id)):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    omics.cancel_run(id=run_id)
    began = time.monotonic()
    run = wait_run(omics, run_id, timeout=30)
    assert run["status"] == "CANCELLED"
    assert time.monotonic() - began < 15
    assert [t["status"] for t in all_tasks(omics, run_id)] == ["CANCELLED"]
    assert not output_dir(e2e_settings, run).exists()


def test_secondary_files_from_the_bucket(omics: Any, e2e_settings: Any) -> None:
    for key, data in (("sample.bam", b"BAM\n"), ("sample.bam.bai", b"BAI\n"), ("sample.idx", b"IDX\n")):
        put_object(e2e_settings, f"s3://inputs/s/{key}", data)
    wid = register_cwl(omics, "secondary")
    run = wait_run(omics, start(omics, wid, parameters={"bam": "s3://inputs/s/sample.bam"})["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    assert sorted(run["resourceDigests"]) == [
        f"s3://inputs/s/{k}" for k in ("sample.bam", "sample.bam.bai", "sample.idx")
    ]
    merged = output_dir(e2e_settings, run) / "out" / "merged"
    assert (merged / "merged.txt").read_text() == "BAM\nBAI\n"
    assert (merged / "merged.txt.sig").read_text() == "signed\n"


def test_subworkflow(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "subworkflow")
    run = wait_run(omics, start(omics, wid, parameters={"word": "quiet"})["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    assert sorted(t["name"] for t in all_tasks(omics, run["id"])) == ["first", "leaf"]
    assert (output_dir(e2e_settings, run) / "out" / "final" / "shout.txt").read_text() == "QUIET\n"


def test_expression_tool_and_javascript(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "expression")
    run = wait_run(omics, start(omics, wid, parameters={"n": 4})["id"])
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    assert [t["name"] for t in all_tasks(omics, run["id"])] == ["show"]
    summary = json.loads((output_dir(e2e_settings, run) / "logs" / "outputs.json").read_text())
    assert summary == {"main.doubled": 8, "main.shown": 90}


def test_wrong_input_type_is_a_workflow_failure(omics: Any) -> None:
    wid = register_cwl(omics, "hello")
    run = wait_run(omics, start(omics, wid, parameters={"name": "x", "times": "many"})["id"])
    assert (run["status"], run["failureReason"]) == ("FAILED", "WORKFLOW_RUN_FAILED")
    assert "times" in run["statusMessage"]
    assert all_tasks(omics, run["id"]) == []
