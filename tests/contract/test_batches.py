"""Run batches through a real boto3 client; every response checked against its output shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import omicsd.app
from omicsd.app import build_app, build_services
from omicsd.config import Settings
from omicsd.services import Services
from tests.conftest import make_settings
from tests.services.test_batches import ROLE, register_workflow, wire, with_handlers
from tests.support.boto_asgi import client_for_app
from tests.support.shapes import assert_matches_output_shape


@pytest.fixture
def wired(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Services, Settings]]:
    """A boto3 client for an app without a scheduler (runs stay PENDING), its services and settings."""
    settings = make_settings(tmp_path / "data", db_url, server={"scheduler": False})
    services = build_services(settings)
    wire(services, settings)
    monkeypatch.setattr(omicsd.app, "build_handlers", with_handlers(omicsd.app.build_handlers))
    app = build_app(settings, services)
    app.startup()
    try:
        yield client_for_app(app), services, settings
    finally:
        app.shutdown()
        services.runs.store.close()


def call(client: Any, method: str, operation: str, **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = getattr(client, method)(**kwargs)
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert_matches_output_shape(operation, body)
    return body


def advance(client: Any, services: Services, batch_id: str, until: str) -> dict[str, Any]:
    batches = getattr(services, "batches")  # noqa: B009
    for _ in range(1000):
        got = call(client, "get_batch", "GetBatch", batchId=batch_id)
        if got["status"] == until:
            return got
        batches.step()
    raise AssertionError(f"batch {batch_id} is still {got['status']}")


def test_inline_batch_end_to_end_on_the_wire(wired: tuple[Any, Services, Settings]) -> None:
    client, services, _ = wired
    wid = register_workflow(services)
    default = {"workflowId": wid, "roleArn": ROLE, "outputUri": "s3://out/b/", "runTags": {"k": "v"}}
    inline = [{"runSettingId": f"r{i}", "parameters": {"name": f"n{i}"}} for i in range(3)]
    inline.append({"runSettingId": "broken"})
    started = call(
        client,
        "start_run_batch",
        "StartRunBatch",
        batchName="wire",
        defaultRunSetting=default,
        batchRunSettings={"inlineSettings": inline},
        tags={"batch": "1"},
    )
    assert started["status"] == "CREATING" and started["tags"] == {"batch": "1"}
    assert started["arn"] == f"arn:aws:omics:us-east-1:123456789012:runBatch/{started['id']}"
    got = call(client, "get_batch", "GetBatch", batchId=started["id"])
    assert got["defaultRunSetting"] == default and got["name"] == "wire"
    assert "failureReason" not in got and "submittedTime" not in got

    got = advance(client, services, started["id"], "INPROGRESS")
    assert got["totalRuns"] == 4 and got["submittedTime"] >= got["creationTime"]
    summary = got["submissionSummary"]
    assert (summary["successfulStartSubmissionCount"], summary["failedStartSubmissionCount"]) == (3, 1)
    assert summary["pendingStartSubmissionCount"] == 0
    assert got["runSummary"]["pendingRunCount"] == 3

    runs = call(client, "list_runs_in_batch", "ListRunsInBatch", batchId=started["id"])["runs"]
    assert [r["runSettingId"] for r in runs] == ["r0", "r1", "r2", "broken"]
    assert runs[3]["submissionStatus"] == "FAILED" and "runId" not in runs[3]
    assert runs[3]["submissionFailureReason"] == "ValidationException"
    first = runs[0]
    assert first["runArn"].endswith(f":run/{first['runId']}") and first["submissionStatus"] == "SUCCESS"
    run = call(client, "get_run", "GetRun", id=first["runId"])
    assert run["batchId"] == started["id"] and run["uuid"] == first["runInternalUuid"]
    assert run["tags"] == {"k": "v"} and run["parameters"] == {"name": "n0"}
    listed = client.list_runs(batchId=started["id"])["items"]
    assert {r["id"] for r in listed} == {r["runId"] for r in runs[:3]}
    assert all(r["batchId"] == started["id"] for r in listed)
    only = client.list_runs_in_batch(batchId=started["id"], runSettingId="r1")["runs"]
    assert [r["runId"] for r in only] == [runs[1]["runId"]]
    assert client.list_runs_in_batch(batchId=started["id"], submissionStatus="FAILED")["runs"] == [runs[3]]
    assert client.list_runs_in_batch(batchId=started["id"], runId=runs[2]["runId"])["runs"] == [runs[2]]
    with pytest.raises(client.exceptions.ValidationException, match="one filter"):
        client.list_runs_in_batch(batchId=started["id"], runId=runs[2]["runId"], runSettingId="r2")
    pages = list(
        client.get_paginator("list_runs_in_batch").paginate(batchId=started["id"], PaginationConfig={"PageSize": 3})
    )
    assert [len(p["runs"]) for p in pages] == [3, 1]

    client.tag_resource(resourceArn=started["arn"], tags={"more": "2"})
    assert client.list_tags_for_resource(resourceArn=started["arn"])["tags"] == {"batch": "1", "more": "2"}

    with pytest.raises(client.exceptions.ConflictException):
        client.delete_batch(batchId=started["id"])
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_run_batch(batchId=started["id"])
    cancelled = client.cancel_run_batch(batchId=started["id"])
    assert cancelled["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(client.exceptions.ConflictException):
        client.cancel_run_batch(batchId=started["id"])
    got = advance(client, services, started["id"], "CANCELLED")
    assert got["submissionSummary"]["successfulCancelSubmissionCount"] == 3
    assert got["runSummary"]["cancelledRunCount"] == 3 and "processedTime" not in got
    assert client.list_runs_in_batch(batchId=started["id"], submissionStatus="CANCEL_SUCCESS")["runs"]

    deleted = client.delete_run_batch(batchId=started["id"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    got = advance(client, services, started["id"], "RUNS_DELETED")
    assert got["submissionSummary"]["successfulDeleteSubmissionCount"] == 3
    assert got["runSummary"]["deletedRunCount"] == 3
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_run(id=first["runId"])
    assert client.delete_batch(batchId=started["id"])["ResponseMetadata"]["HTTPStatusCode"] == 202
    for method in ("get_batch", "delete_batch", "cancel_run_batch", "delete_run_batch", "list_runs_in_batch"):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            getattr(client, method)(batchId=started["id"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags_for_resource(resourceArn=started["arn"])


def test_s3_settings_list_batch_and_failures(wired: tuple[Any, Services, Settings]) -> None:
    client, services, settings = wired
    wid = register_workflow(services)
    folder = settings.buckets_path / "inputs"
    folder.mkdir(parents=True)
    (folder / "ok.json").write_text(
        json.dumps([{"runSettingId": f"s{i}", "parameters": {"name": "n"}} for i in range(30)])
    )
    (folder / "dup.json").write_text(json.dumps([{"runSettingId": "same"}, {"runSettingId": "same"}]))
    default = {"workflowId": wid, "roleArn": ROLE, "outputUri": "s3://out/"}
    ok = client.start_run_batch(
        batchName="ok", defaultRunSetting=default, batchRunSettings={"s3UriSettings": "s3://inputs/ok.json"}
    )
    dup = client.start_run_batch(
        batchName="dup", defaultRunSetting=default, batchRunSettings={"s3UriSettings": "s3://inputs/dup.json"}
    )
    with pytest.raises(client.exceptions.ValidationException, match="cannot be read"):
        client.start_run_batch(defaultRunSetting=default, batchRunSettings={"s3UriSettings": "s3://inputs/none.json"})
    advance(client, services, ok["id"], "INPROGRESS")
    failed = advance(client, services, dup["id"], "FAILED")
    assert failed["failureReason"] == "Expected 2 unique runSettingIds but there were 1"
    assert failed["failedTime"] and "totalRuns" not in failed

    listed = call(client, "list_batch", "ListBatch")["items"]
    assert [(b["id"], b["name"], b["workflowId"]) for b in listed] == [(dup["id"], "dup", wid), (ok["id"], "ok", wid)]
    assert listed[1]["totalRuns"] == 30
    assert [b["id"] for b in client.list_batch(status="FAILED")["items"]] == [dup["id"]]
    assert [b["id"] for b in client.list_batch(name="ok")["items"]] == [ok["id"]]
    assert client.list_batch(runGroupId="1234567")["items"] == []
    with pytest.raises(client.exceptions.ValidationException, match="one filter"):
        client.list_batch(name="ok", status="FAILED")
    pages = list(client.get_paginator("list_batch").paginate(PaginationConfig={"PageSize": 1}))
    assert [p["items"][0]["id"] for p in pages] == [dup["id"], ok["id"]]
    with pytest.raises(client.exceptions.ConflictException):
        client.cancel_run_batch(batchId=dup["id"])
    client.delete_batch(batchId=dup["id"])
    assert [b["id"] for b in client.list_batch()["items"]] == [ok["id"]]

    same = client.start_run_batch(
        requestId="again", defaultRunSetting=default, batchRunSettings={"s3UriSettings": "s3://inputs/ok.json"}
    )
    repeat = client.start_run_batch(
        requestId="again", defaultRunSetting=default, batchRunSettings={"s3UriSettings": "s3://inputs/ok.json"}
    )
    assert repeat["id"] == same["id"]
    assert len(client.list_runs(batchId=ok["id"], maxResults=100)["items"]) == 30
