"""Run-cache operations through a real boto3 client, and their effect on StartRun."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_workflows import call, create
from tests.support.workflows import wait_workflow

ROLE = "arn:aws:iam::123456789012:role/r"


def test_lifecycle(client: Any) -> None:
    created = call(client, "CreateRunCache", cacheS3Location="s3://cache-bucket/prefix", name="c", tags={"a": "b"})
    assert created["status"] == "ACTIVE"
    got = call(client, "GetRunCache", id=created["id"])
    assert got["cacheBehavior"] == "CACHE_ON_FAILURE"
    assert got["cacheS3Uri"] == "s3://cache-bucket/prefix"
    assert got["cacheBucketOwnerId"] == "123456789012"
    assert got["tags"] == {"a": "b"}
    call(client, "UpdateRunCache", id=created["id"], cacheBehavior="CACHE_ALWAYS", description="d")
    got = call(client, "GetRunCache", id=created["id"])
    assert (got["cacheBehavior"], got["description"]) == ("CACHE_ALWAYS", "d")
    assert [c["id"] for c in call(client, "ListRunCaches")["items"]] == [created["id"]]
    call(client, "DeleteRunCache", id=created["id"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_run_cache(id=created["id"])


def test_bad_location_is_rejected(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException, match="cacheS3Location"):
        client.create_run_cache(cacheS3Location="/local/path")


def test_run_takes_the_cache_default_behavior(client: Any) -> None:
    wid = create(client, "wdl/hello_v11")["id"]
    wait_workflow(client, wid)
    cache = call(client, "CreateRunCache", cacheS3Location="s3://cache-bucket", cacheBehavior="CACHE_ALWAYS")
    run = client.start_run(
        workflowId=wid, roleArn=ROLE, outputUri="s3://out/", parameters={"name": "x"}, cacheId=cache["id"]
    )
    got = call(client, "GetRun", id=run["id"])
    assert (got["cacheId"], got["cacheBehavior"]) == (cache["id"], "CACHE_ALWAYS")
    other = client.start_run(
        workflowId=wid,
        roleArn=ROLE,
        outputUri="s3://out/",
        parameters={"name": "x"},
        cacheId=cache["id"],
        cacheBehavior="CACHE_ON_FAILURE",
    )
    assert call(client, "GetRun", id=other["id"])["cacheBehavior"] == "CACHE_ON_FAILURE"
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Run cache"):
        client.start_run(
            workflowId=wid, roleArn=ROLE, outputUri="s3://out/", parameters={"name": "x"}, cacheId="7654321"
        )
