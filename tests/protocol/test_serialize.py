from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from omicsd.protocol import model
from omicsd.protocol._shapes import Compiler
from omicsd.protocol.serialize import OutputPlan, OutputShapeError, _Walker, format_timestamp, serialize

Plan = Callable[[str], OutputPlan]

RUN = {
    "arn": "arn:aws:omics:us-east-1:123456789012:run/1234567",
    "id": "1234567",
    "status": "RUNNING",
    "creationTime": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
}


def _json(plan: OutputPlan, output: dict[str, Any] | None, *, strict: bool = True) -> Any:
    response = serialize(plan, output, strict=strict)
    assert dict(response.headers)["content-type"] == "application/json"
    return json.loads(response.body)


def test_timestamp_formats() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
    assert format_timestamp(moment, "iso8601") == "2024-01-02T03:04:05.123Z"
    assert format_timestamp(moment.replace(microsecond=0), None) == "2024-01-02T03:04:05.000Z"
    assert format_timestamp(moment.replace(tzinfo=None), "iso8601") == "2024-01-02T03:04:05.123Z"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert format_timestamp(dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=plus_two), "iso8601") == "2024-01-02T03:04:05.000Z"
    assert format_timestamp(moment, "unixTimestamp") == 1704164645.123
    assert format_timestamp(moment, "rfc822") == "Tue, 02 Jan 2024 03:04:05 GMT"


def test_get_run_body_timestamps_and_none(output_plan: Plan) -> None:
    body = _json(
        output_plan("GetRun"), {**RUN, "name": None, "tags": {"a": "b"}, "parameters": {"x": [1, {"y": None}]}}
    )
    assert body == {
        "arn": RUN["arn"],
        "id": "1234567",
        "status": "RUNNING",
        "creationTime": "2024-01-02T03:04:05.123Z",
        "tags": {"a": "b"},
        "parameters": {"x": [1, {"y": None}]},
    }


def test_nested_lists_of_structures(output_plan: Plan) -> None:
    items = [{**RUN, "startTime": None, "priority": 5}, {"id": "2", "stopTime": RUN["creationTime"]}]
    body = _json(output_plan("ListRuns"), {"items": items, "nextToken": None})
    assert body == {
        "items": [
            {
                "arn": RUN["arn"],
                "id": "1234567",
                "status": "RUNNING",
                "creationTime": "2024-01-02T03:04:05.123Z",
                "priority": 5,
            },
            {"id": "2", "stopTime": "2024-01-02T03:04:05.123Z"},
        ]
    }


def test_blob_members_are_base64_encoded() -> None:
    node = Compiler().compile(model.load("omics").shape_for("Blob"))
    assert _Walker(True, []).value(node, b"PK\x03\x04", "definitionZip", None) == "UEsDBA=="


@pytest.mark.parametrize(
    ("operation", "status", "output", "body"),
    [
        ("StartRun", 201, {"id": "1234567", "status": "PENDING"}, b'{"id":"1234567","status":"PENDING"}'),
        ("CancelRun", 202, None, b""),
        ("DeleteRun", 202, {}, b""),
        ("TagResource", 204, {}, b""),
        ("UntagResource", 204, None, b""),
        ("CancelRunBatch", 202, None, b"{}"),
        ("DeleteRunBatch", 202, {}, b"{}"),
        ("ListRuns", 200, {}, b"{}"),
    ],
)
def test_status_codes_and_empty_bodies(
    output_plan: Plan, operation: str, status: int, output: dict[str, Any] | None, body: bytes
) -> None:
    response = serialize(output_plan(operation), output, strict=True)
    assert response.status == status
    assert response.body == body
    assert ("content-type" in dict(response.headers)) == bool(body)


def test_strict_rejects_unknown_top_level_and_nested_keys(output_plan: Plan) -> None:
    with pytest.raises(OutputShapeError, match=r"GetRun returned an output .*unknown member 'runStatus'"):
        serialize(output_plan("GetRun"), {**RUN, "runStatus": "RUNNING"}, strict=True)
    with pytest.raises(OutputShapeError, match=r"ListRuns .*unknown member 'items\[1\]\.bogus'"):
        serialize(output_plan("ListRuns"), {"items": [RUN, {**RUN, "bogus": 1}]}, strict=True)


def test_strict_rejects_missing_required(output_plan: Plan) -> None:
    with pytest.raises(OutputShapeError, match=r"ListTagsForResource .*required member 'tags' is missing"):
        serialize(output_plan("ListTagsForResource"), {}, strict=True)
    with pytest.raises(OutputShapeError, match=r"required member 'defaultRunSetting.roleArn' is missing"):
        serialize(output_plan("GetBatch"), {"defaultRunSetting": {"workflowId": "1234567"}}, strict=True)


def test_strict_rejects_bad_enum_and_types(output_plan: Plan) -> None:
    with pytest.raises(OutputShapeError, match=r"'status' value 'RUNNIN' is not one of"):
        serialize(output_plan("GetRun"), {**RUN, "status": "RUNNIN"}, strict=True)
    with pytest.raises(OutputShapeError) as info:
        serialize(
            output_plan("GetRun"), {**RUN, "creationTime": "2024-01-01", "priority": "1", "tags": []}, strict=True
        )
    message = info.value.message
    assert "'creationTime' must be a datetime" in message
    assert "'priority' must be an int" in message
    assert "'tags' must be a map" in message


def test_strict_rejects_output_for_an_operation_without_output(output_plan: Plan) -> None:
    with pytest.raises(OutputShapeError, match="CancelRun"):
        serialize(output_plan("CancelRun"), {"id": "1"}, strict=True)


def test_lenient_mode_drops_unknown_keys(output_plan: Plan) -> None:
    body = _json(output_plan("GetRun"), {**RUN, "runStatus": "x", "status": "WHATEVER"}, strict=False)
    assert body["status"] == "WHATEVER"
    assert "runStatus" not in body


def test_lengths_and_patterns_are_not_checked_on_output(output_plan: Plan) -> None:
    digest = "sha256:" + "a" * 64
    assert _json(output_plan("GetRun"), {**RUN, "digest": digest, "id": "not-numeric"})["digest"] == digest


def test_streaming_blob_payload_is_the_raw_body(output_plan: Plan) -> None:
    response = serialize(output_plan("GetReadSet"), {"payload": b"\x00\x01gz"}, strict=True)
    assert response.status == 200
    assert response.body == b"\x00\x01gz"
    assert dict(response.headers)["content-type"] == "application/octet-stream"


def test_json_protocol_plan_for_logs() -> None:
    logs = model.load("logs")
    plan = OutputPlan(logs.operation_model("GetLogEvents"), Compiler(), protocol="json")
    response = serialize(
        plan, {"events": [{"timestamp": 1, "message": "m", "ingestionTime": 2}], "nextForwardToken": "f"}
    )
    assert response.status == 200
    assert dict(response.headers)["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(response.body) == {
        "events": [{"timestamp": 1, "message": "m", "ingestionTime": 2}],
        "nextForwardToken": "f",
    }
