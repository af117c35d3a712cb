"""Run-group operations through a real boto3 client."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_workflows import call


def test_lifecycle(client: Any) -> None:
    created = call(client, "CreateRunGroup", name="batch-a", maxCpus=8, maxRuns=2, maxDuration=60, tags={"t": "1"})
    assert created["arn"].endswith(f":runGroup/{created['id']}")
    assert created["tags"] == {"t": "1"}
    got = call(client, "GetRunGroup", id=created["id"])
    assert (got["name"], got["maxCpus"], got["maxRuns"], got["maxDuration"]) == ("batch-a", 8, 2, 60)
    assert "maxGpus" not in got
    call(client, "UpdateRunGroup", id=created["id"], maxGpus=2, name="renamed")
    got = call(client, "GetRunGroup", id=created["id"])
    assert (got["name"], got["maxGpus"], got["maxCpus"]) == ("renamed", 2, 8)
    assert call(client, "ListTagsForResource", resourceArn=created["arn"])["tags"] == {"t": "1"}
    call(client, "DeleteRunGroup", id=created["id"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_run_group(id=created["id"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_run_group(id=created["id"])


def test_list_filter_and_pages(client: Any) -> None:
    made = [call(client, "CreateRunGroup", name=f"g{i % 2}")["id"] for i in range(3)]
    assert {g["id"] for g in call(client, "ListRunGroups", name="g0")["items"]} == {made[0], made[2]}
    first = call(client, "ListRunGroups", maxResults=2)
    rest = call(client, "ListRunGroups", maxResults=2, startingToken=first["nextToken"])
    assert [g["id"] for g in first["items"] + rest["items"]] == list(reversed(made))


@pytest.mark.parametrize("member", ["maxCpus", "maxGpus", "maxRuns", "maxDuration"])
def test_limits_above_the_model_range_are_rejected(client: Any, member: str) -> None:
    with pytest.raises(client.exceptions.ValidationException, match=member):
        client.create_run_group(**{member: 100001})
    assert call(client, "ListRunGroups")["items"] == []


def test_idempotent_create(client: Any) -> None:
    first = call(client, "CreateRunGroup", name="x", requestId="r-1")
    again = call(client, "CreateRunGroup", name="x", requestId="r-1")
    assert first["id"] == again["id"]
    assert len(call(client, "ListRunGroups")["items"]) == 1
