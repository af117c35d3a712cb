"""Run batches end to end: boto3 -> live server -> batch steps -> scheduler -> miniwdl -> local executor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import omicsd.app
from omicsd.app import build_app, build_services
from omicsd.config import Settings
from tests.e2e.conftest import ROLE, omics_client, register
from tests.services.test_batches import stepping, wire, with_handlers
from tests.support.live import serve
from tests.support.shapes import assert_matches_output_shape

pytestmark = pytest.mark.slow

HELLO = """version 1.0
workflow hello {
  input { String name  Int times = 1 }
  call greet { input: name = name, times = times }
  output { File greeting = greet.out }
}
task greet {
  input { String name  Int times }
  command <<< for i in $(seq 1 ~{times}); do echo "Hello, ~{name}!"; done > greeting.txt >>>
  output { File out = "greeting.txt" }
}
"""

SLEEPY = """version 1.0
workflow sleepy {
  input { Int seconds = 300 }
  call nap { input: seconds = seconds }
}
task nap {
  input { Int seconds }
  command <<< sleep ~{seconds} >>>
}
"""


@pytest.fixture
def omics_wired(e2e_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 client for a live server whose batches and configurations are wired and stepped."""
    services = build_services(e2e_settings)
    wire(services, e2e_settings)
    monkeypatch.setattr(omicsd.app, "build_handlers", with_handlers(omicsd.app.build_handlers))
    app = build_app(e2e_settings, services)
    with serve(app) as url, stepping(services):
        yield omics_client(url)


def wait_batch(client: Any, batch_id: str, until: tuple[str, ...], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = client.get_batch(batchId=batch_id)
        if got["status"] in until:
            return got
        assert time.monotonic() < deadline, f"batch {batch_id} still {got['status']}: {got}"
        time.sleep(0.05)


def test_inline_batch_runs_to_processed_with_exact_summaries(omics_wired: Any, e2e_settings: Settings) -> None:
    client = omics_wired
    wid = register(client, {"main.wdl": HELLO})
    names = ["ada", "bob", "cy"]
    started = client.start_run_batch(
        batchName="greetings",
        defaultRunSetting={
            "workflowId": wid,
            "roleArn": ROLE,
            "outputUri": "s3://results/batch/",
            "parameters": {"times": 2},
        },
        batchRunSettings={"inlineSettings": [{"runSettingId": n, "parameters": {"name": n}} for n in names]},
    )
    assert started["status"] == "CREATING"
    got = wait_batch(client, started["id"], ("PROCESSED", "FAILED"))
    assert_matches_output_shape("GetBatch", {k: v for k, v in got.items() if k != "ResponseMetadata"})
    assert got["status"] == "PROCESSED", got
    assert got["runSummary"] == {
        "pendingRunCount": 0,
        "startingRunCount": 0,
        "runningRunCount": 0,
        "stoppingRunCount": 0,
        "completedRunCount": 3,
        "deletedRunCount": 0,
        "failedRunCount": 0,
        "cancelledRunCount": 0,
    }
    assert got["submissionSummary"]["successfulStartSubmissionCount"] == 3
    assert got["submissionSummary"]["failedStartSubmissionCount"] == 0
    assert got["creationTime"] <= got["submittedTime"] <= got["processedTime"]
    runs = {r["runSettingId"]: r["runId"] for r in client.list_runs_in_batch(batchId=started["id"])["runs"]}
    assert set(runs) == set(names)
    buckets = Path(e2e_settings.buckets_path) / "results" / "batch"
    for name, run_id in runs.items():
        run = client.get_run(id=run_id)
        assert (run["status"], run["batchId"]) == ("COMPLETED", started["id"])
        greeting = buckets / run_id / "out" / "greeting" / "greeting.txt"
        assert greeting.read_text() == f"Hello, {name}!\n" * 2
    assert {r["id"] for r in client.list_runs(batchId=started["id"], status="COMPLETED")["items"]} == set(runs.values())


def test_cancel_and_delete_a_batch_mid_flight(omics_wired: Any) -> None:
    client = omics_wired
    wid = register(client, {"main.wdl": SLEEPY})
    started = client.start_run_batch(
        defaultRunSetting={"workflowId": wid, "roleArn": ROLE, "outputUri": "s3://results/sleepy/"},
        batchRunSettings={"inlineSettings": [{"runSettingId": f"nap{i}"} for i in range(3)]},
    )
    deadline = time.monotonic() + 60
    while not client.list_runs(batchId=started["id"], status="RUNNING")["items"]:
        assert time.monotonic() < deadline, "no run of the batch started"
        time.sleep(0.05)
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_run_batch(batchId=started["id"])
    client.cancel_run_batch(batchId=started["id"])
    got = wait_batch(client, started["id"], ("CANCELLED",), timeout=60)
    assert got["runSummary"]["cancelledRunCount"] == 3
    assert got["submissionSummary"]["successfulCancelSubmissionCount"] == 3
    assert all(r["status"] == "CANCELLED" for r in client.list_runs(batchId=started["id"])["items"])

    client.delete_run_batch(batchId=started["id"])
    got = wait_batch(client, started["id"], ("RUNS_DELETED", "RUNS_DELETE_FAILED"), timeout=60)
    assert got["status"] == "RUNS_DELETED"
    assert got["runSummary"]["deletedRunCount"] == 3
    assert got["submissionSummary"]["successfulDeleteSubmissionCount"] == 3
    assert client.list_runs(batchId=started["id"])["items"] == []
    client.delete_batch(batchId=started["id"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_batch(batchId=started["id"])
