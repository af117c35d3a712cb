from __future__ import annotations

import datetime as dt
import io

import pytest
from botocore.response import StreamingBody

from tests.support.shapes import assert_matches_output_shape

NOW = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
META = {"ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200}}


def test_accepts_a_good_response() -> None:
    assert_matches_output_shape(
        "GetRun",
        {
            **META,
            "id": "1234567",
            "status": "COMPLETED",
            "creationTime": NOW,
            "priority": 3,
            "tags": {"k": "v"},
            "parameters": {"anything": [1, {"goes": None}]},
            "accelerators": "GPU",
            "resourceDigests": {"s3://b/k": "etag"},
        },
    )
    assert_matches_output_shape("ListRuns", {**META, "items": [{"id": "1", "stopTime": NOW}]})
    assert_matches_output_shape("CancelRun", META)
    assert_matches_output_shape("GetReadSet", {**META, "payload": StreamingBody(io.BytesIO(b"x"), 1)})


@pytest.mark.parametrize(
    ("operation", "response", "message"),
    [
        ("GetRun", {"id": "1", "bogus": 1}, "GetRun.bogus: not a member of GetRunResponse"),
        ("ListRuns", {"items": [{"id": "1", "nope": True}]}, r"ListRuns.items\[0\].nope: not a member"),
        ("ListTagsForResource", {}, "ListTagsForResource.tags: required member missing"),
        ("GetBatch", {"defaultRunSetting": {"workflowId": "1"}}, "GetBatch.defaultRunSetting.roleArn: required"),
        ("GetRun", {"status": "DONE"}, "GetRun.status: 'DONE' is not one of"),
        ("GetRun", {"creationTime": "2024-01-02"}, "GetRun.creationTime: expected a datetime"),
        ("GetRun", {"priority": True}, "GetRun.priority: expected an integer"),
        ("GetRun", {"tags": {"k": 1}}, "GetRun.tags.k: expected a string"),
        ("ListRuns", {"items": {}}, "ListRuns.items: expected a list"),
        ("CancelRun", {"id": "1"}, "CancelRun has no output"),
    ],
)
def test_rejects_mismatches_naming_the_path(operation: str, response: dict[str, object], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_matches_output_shape(operation, {**META, **response})
