from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from omicsd.errors import ValidationError
from omicsd.protocol.parse import HttpRequest, InputPlan, parse, parse_query

Plan = Callable[[str], InputPlan]

ROLE = "arn:aws:iam::123456789012:role/OmicsRole"


def _body(plan: Plan, operation: str, body: Any, labels: dict[str, str] | None = None) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse(plan(operation), labels or {}, HttpRequest("POST", "/", body=raw))


def _query(plan: Plan, operation: str, query: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return parse(plan(operation), labels or {}, HttpRequest("GET", "/", query=parse_query(query)))


def _error(call: Callable[[], Any]) -> str:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message


def test_parse_query_repeated_keys_and_rfc3986_decoding() -> None:
    assert parse_query("export=DEFINITION&export=README&name=my%20run&t=a%2Fb%2Bc%3D&p=a+b&flag") == {
        "export": ["DEFINITION", "README"],
        "name": ["my run"],
        "t": ["a/b+c="],
        "p": ["a+b"],
        "flag": [""],
    }


def test_query_members_are_coerced_and_lists_repeat(input_plan: Plan) -> None:
    params = _query(input_plan, "ListRuns", "name=my%20run&maxResults=10&status=RUNNING&startingToken=a%2Fb")
    assert params == {"name": "my run", "maxResults": 10, "status": "RUNNING", "startingToken": "a/b"}
    params = _query(input_plan, "GetWorkflow", "export=DEFINITION&export=README&type=PRIVATE", {"id": "1234567"})
    assert params == {"id": "1234567", "export": ["DEFINITION", "README"], "type": "PRIVATE"}


def test_untag_keys_list_from_repeated_query(input_plan: Plan) -> None:
    arn = "arn:aws:omics:us-east-1:123456789012:run/1234567"
    params = _query(input_plan, "UntagResource", "tagKeys=k1&tagKeys=k%202", {"resourceArn": arn})
    assert params == {"resourceArn": arn, "tagKeys": ["k1", "k 2"]}


def test_bad_enum_message_is_aws_style(input_plan: Plan) -> None:
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "logLevel": "LOUD"}
    assert _error(lambda: _body(input_plan, "StartRun", body)) == (
        "1 validation error detected: Value 'LOUD' at 'logLevel' failed to satisfy constraint: "
        "Member must satisfy enum value set: [OFF, FATAL, ERROR, ALL]"
    )


def test_out_of_range_integer_from_query(input_plan: Plan) -> None:
    assert _error(lambda: _query(input_plan, "ListRuns", "maxResults=0")) == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert "less than or equal to 100" in _error(lambda: _query(input_plan, "ListRuns", "maxResults=101"))


def test_non_integer_query_value(input_plan: Plan) -> None:
    message = _error(lambda: _query(input_plan, "ListRuns", "maxResults=ten"))
    assert message == (
        "1 validation error detected: Value 'ten' at 'maxResults' failed to satisfy constraint: "
        "Member must be of type integer"
    )


def test_too_long_string(input_plan: Plan) -> None:
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "name": "n" * 129}
    message = _error(lambda: _body(input_plan, "StartRun", body))
    assert message.startswith("1 validation error detected: Value 'nnn")
    assert message.endswith("at 'name' failed to satisfy constraint: Member must have length less than or equal to 128")


def test_bad_pattern_on_label_and_body(input_plan: Plan) -> None:
    assert _error(lambda: _query(input_plan, "GetRun", "", {"id": "abc"})) == (
        "1 validation error detected: Value 'abc' at 'id' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [0-9]+"
    )
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "workflowId": "abc"}
    assert "at 'workflowId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+" in (
        _error(lambda: _body(input_plan, "StartRun", body))
    )


def test_pattern_is_a_full_match_and_understands_unicode_classes(input_plan: Plan) -> None:
    ok = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "name": "Ünïcode run ✓"}
    assert _body(input_plan, "StartRun", ok)["name"] == "Ünïcode run ✓"
    bad = {**ok, "name": "tab\there"}
    assert "Member must satisfy regular expression pattern" in _error(lambda: _body(input_plan, "StartRun", bad))
    assert _error(lambda: _query(input_plan, "GetRun", "", {"id": "12a"}))  # digits prefix is not enough


def test_missing_required_members_are_all_reported(input_plan: Plan) -> None:
    message = _error(lambda: _body(input_plan, "StartRun", {"priority": -1}))
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value '-1' at 'priority' failed to satisfy constraint: Member must have value greater than or equal to 0"
        in (message)
    )
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in message
    assert "Value null at 'outputUri' failed to satisfy constraint: Member must not be null" in message
    assert message.count("; ") == 2


def test_wrong_json_types(input_plan: Plan) -> None:
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "priority": "high", "tags": ["x"]}
    message = _error(lambda: _body(input_plan, "StartRun", body))
    assert "Value 'high' at 'priority' failed to satisfy constraint: Member must be of type integer" in message
    assert "Value '[x]' at 'tags' failed to satisfy constraint: Member must be of type map" in message
    assert "at 'priority'" in _error(lambda: _body(input_plan, "StartRun", {**body, "priority": True, "tags": {}}))


def test_nested_member_paths(input_plan: Plan) -> None:
    body = {
        "requestId": "r1",
        "defaultRunSetting": {"roleArn": ROLE, "logLevel": "LOUD"},
        "batchRunSettings": {"inlineSettings": [{"runSettingId": "a", "priority": -5}]},
    }
    message = _error(lambda: _body(input_plan, "StartRunBatch", body))
    assert (
        "Value null at 'defaultRunSetting.workflowId' failed to satisfy constraint: Member must not be null" in message
    )
    assert "Value 'LOUD' at 'defaultRunSetting.logLevel'" in message
    assert "at 'batchRunSettings.inlineSettings.1.member.priority'" in message


def test_list_element_pattern_path(input_plan: Plan) -> None:
    body = {
        "name": "cfg",
        "requestId": "r1",
        "runConfigurations": {"vpcConfig": {"securityGroupIds": ["sg-1", "nope"]}},
    }
    assert _error(lambda: _body(input_plan, "CreateConfiguration", body)) == (
        "1 validation error detected: Value 'nope' at 'runConfigurations.vpcConfig.securityGroupIds.2.member' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: sg-[0-9a-f]+"
    )


def test_union_must_have_exactly_one_member(input_plan: Plan) -> None:
    body = {
        "requestId": "r1",
        "defaultRunSetting": {"roleArn": ROLE, "workflowId": "1234567"},
        "batchRunSettings": {"inlineSettings": [{"runSettingId": "a"}], "s3UriSettings": "s3://b/k.json"},
    }
    assert "at 'batchRunSettings' failed to satisfy constraint: Member must have exactly one member set" in (
        _error(lambda: _body(input_plan, "StartRunBatch", body))
    )


def test_map_key_and_value_constraints(input_plan: Plan) -> None:
    arn = {"resourceArn": "arn:aws:omics:us-east-1:123456789012:run/1"}
    message = _error(lambda: _body(input_plan, "TagResource", {"tags": {"k" * 129: "v", "ok": "v" * 257}}, arn))
    assert message.startswith("2 validation errors detected: ")
    assert (
        "at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length" in message
    )
    assert "at 'tags.ok' failed to satisfy constraint: Member must have length less than or equal to 256" in message


def test_base64_blob_is_decoded(input_plan: Plan) -> None:
    params = _body(
        input_plan, "CreateWorkflow", {"requestId": "r1", "definitionZip": base64.b64encode(b"PK\x03\x04zip").decode()}
    )
    assert params["definitionZip"] == b"PK\x03\x04zip"
    message = _error(lambda: _body(input_plan, "CreateWorkflow", {"requestId": "r1", "definitionZip": "not base64!"}))
    assert "at 'definitionZip' failed to satisfy constraint: Member must be a base64-encoded binary value" in message


def test_document_member_is_any_json(input_plan: Plan) -> None:
    document = {"in": "s3://b/k", "n": 3, "nested": {"x": [1, 2.5, None, True]}}
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "parameters": document, "engineSettings": [1]}
    params = _body(input_plan, "StartRun", body)
    assert params["parameters"] == document
    assert params["engineSettings"] == [1]


def test_idempotency_token_is_filled_when_missing(input_plan: Plan) -> None:
    params = _body(input_plan, "StartRun", {"roleArn": ROLE, "outputUri": "s3://b/o"})
    assert uuid.UUID(params["requestId"]).version == 4
    assert _body(input_plan, "StartRun", {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "mine"})[
        "requestId"
    ] == ("mine")
    assert uuid.UUID(_body(input_plan, "CreateRunGroup", b"")["requestId"])


def test_unknown_members_and_nulls_are_dropped(input_plan: Plan) -> None:
    body = {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1", "bogus": 1, "name": None}
    assert _body(input_plan, "StartRun", body) == {"roleArn": ROLE, "outputUri": "s3://b/o", "requestId": "r1"}


def test_malformed_or_non_object_body(input_plan: Plan) -> None:
    assert "Could not parse the request body as JSON" in _error(lambda: _body(input_plan, "StartRun", b"{nope"))
    assert _error(lambda: _body(input_plan, "StartRun", b"[1, 2]")) == "The request body must be a JSON object"


def test_empty_body_and_no_input_members(input_plan: Plan) -> None:
    assert _body(input_plan, "ListRunGroups", b"") == {}
    assert _body(input_plan, "CancelRun", b"", {"id": "1234567"}) == {"id": "1234567"}


def test_timestamps_in_body_become_aware_datetimes(input_plan: Plan) -> None:
    labels = {"sequenceStoreId": "1234567890"}
    iso = _body(input_plan, "ListReadSets", {"filter": {"createdAfter": "2024-01-02T03:04:05.5Z"}}, labels)
    assert iso["filter"]["createdAfter"] == dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)
    epoch = _body(input_plan, "ListReadSets", {"filter": {"createdBefore": 1704164645}}, labels)
    assert epoch["filter"]["createdBefore"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    offset = _body(input_plan, "ListReadSets", {"filter": {"createdAfter": "2024-01-02T05:04:05+02:00"}}, labels)
    assert offset["filter"]["createdAfter"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    message = _error(lambda: _body(input_plan, "ListReadSets", {"filter": {"createdAfter": "yesterday"}}, labels))
    assert "at 'filter.createdAfter'" in message


def test_header_member_and_blob_payload(input_plan: Plan) -> None:
    request = HttpRequest("GET", "/", query={"partNumber": ["1"]}, headers={"range": "0-9"})
    labels = {"referenceStoreId": "1234567890", "id": "1234567890"}
    assert parse(input_plan("GetReference"), labels, request)["range"] == "0-9"
    labels = {"sequenceStoreId": "1234567890", "uploadId": "1234567890"}
    query = parse_query("partSource=SOURCE1&partNumber=2")
    params = parse(input_plan("UploadReadSetPart"), labels, HttpRequest("PUT", "/", query=query, body=b"\x00raw"))
    assert params["payload"] == b"\x00raw"
    assert params["partNumber"] == 2
