from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from omicsd.logs.files import LogReader, LogWriter
from omicsd.protocol import asgi, model
from omicsd.protocol.handlers import logs as logs_handlers
from omicsd.services.logs import LogsService
from tests.support.boto_asgi import call_asgi, client_for_app
from tests.support.shapes import assert_matches_output_shape

G = "/aws/omics/WorkflowLog"


@pytest.fixture
def writer(tmp_path: Path) -> LogWriter:
    return LogWriter(tmp_path / "logs")


@pytest.fixture
def app(tmp_path: Path) -> Any:
    service = LogsService(LogReader(tmp_path / "logs"), region="us-east-1", account_id="123456789012")
    binding = asgi.ServiceBinding(model.load("logs"), logs_handlers.handlers(service))
    return asgi.new(model=model.load("omics"), handlers={}, strict=True, json_services=[binding])


@pytest.fixture
def logs(app: Any) -> Any:
    return client_for_app(app, "logs")


def test_describe_log_groups_and_streams(writer: LogWriter, logs: Any) -> None:
    writer.append(G, "run/1234567", [(1_000, "created")])
    writer.append(G, "manifest/run/1234567/0f7d1f0e-8c9b-4f47-9b0f-7d3c1f0e8c9b", [(2_000, "{}")])
    groups = logs.describe_log_groups()
    assert_matches_output_shape("DescribeLogGroups", groups, service="logs")
    assert [g["logGroupName"] for g in groups["logGroups"]] == [G]
    assert groups["logGroups"][0]["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{G}:*"
    streams = logs.describe_log_streams(logGroupName=G, logStreamNamePrefix="manifest/run/1234567/")
    assert_matches_output_shape("DescribeLogStreams", streams, service="logs")
    (stream,) = streams["logStreams"]
    assert stream["logStreamName"].startswith("manifest/run/1234567/")
    assert stream["lastEventTimestamp"] == stream["firstEventTimestamp"] == 2_000
    assert stream["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{G}:log-stream:{stream['logStreamName']}"
    assert isinstance(stream["creationTime"], int)
    paginator = logs.get_paginator("describe_log_streams")
    pages = list(
        paginator.paginate(logGroupName=G, orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 1})
    )
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == [
        "manifest/run/1234567/0f7d1f0e-8c9b-4f47-9b0f-7d3c1f0e8c9b",
        "run/1234567",
    ]
    assert len(pages) == 2
    by_arn = logs.describe_log_streams(logGroupIdentifier=f"arn:aws:logs:us-east-1:123456789012:log-group:{G}")
    assert len(by_arn["logStreams"]) == 2
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName="/aws/omics/Nothing")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=G, logStreamNamePrefix="run/", orderBy="LastEventTime")


def test_get_log_events_loop_like_run_analyzer(writer: LogWriter, logs: Any) -> None:
    stream = "manifest/run/1234567/0f7d1f0e-8c9b-4f47-9b0f-7d3c1f0e8c9b"
    writer.append(G, stream, [(5_000, json.dumps({"arn": f"arn:aws:omics:us-east-1:1:task/{i}"})) for i in range(7)])
    last = logs.describe_log_streams(logGroupName=G)["logStreams"][0]["lastEventTimestamp"]
    request: dict[str, Any] = {
        "logGroupName": G,
        "logStreamName": stream,
        "startFromHead": True,
        "endTime": last + 1,
        "limit": 3,
    }
    records, calls = [], 0
    while True:
        response = logs.get_log_events(**request)
        assert_matches_output_shape("GetLogEvents", response, service="logs")
        calls += 1
        records += [json.loads(e["message"]) for e in response["events"]]
        token = response.get("nextForwardToken")
        if not token or token == request.get("nextToken"):
            break
        request["nextToken"] = token
    assert [r["arn"].rsplit("/", 1)[1] for r in records] == [str(i) for i in range(7)]
    assert calls == 4
    tail = logs.get_log_events(logGroupName=G, logStreamName=stream, limit=2)
    assert [json.loads(e["message"])["arn"][-1] for e in tail["events"]] == ["5", "6"]
    assert tail["events"][0]["timestamp"] == 5_000 and isinstance(tail["events"][0]["ingestionTime"], int)
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
        logs.get_log_events(logGroupName=G, logStreamName="run/404")
    assert "log stream does not exist" in str(info.value)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName=G, logStreamName=stream, nextToken="not-a-token")


def test_filter_log_events_paginator_and_patterns(writer: LogWriter, logs: Any) -> None:
    writer.append(G, "run/1", [(100 * i, f"run line {i}") for i in range(1, 6)])
    writer.append(G, "run/1/task/2", [(150, "ERROR task failed"), (250, "task line")])
    paginator = logs.get_paginator("filter_log_events")
    pages = list(paginator.paginate(logGroupName=G, logStreamNamePrefix="run/1", PaginationConfig={"PageSize": 2}))
    for page in pages:
        assert_matches_output_shape("FilterLogEvents", page, service="logs")
    events = [e for p in pages for e in p["events"]]
    assert [e["timestamp"] for e in events] == [100, 150, 200, 250, 300, 400, 500]
    assert events[1]["logStreamName"] == "run/1/task/2" and events[1]["eventId"]
    errors = logs.filter_log_events(logGroupName=G, filterPattern="ERROR", interleaved=True)["events"]
    assert [e["message"] for e in errors] == ["ERROR task failed"]
    windowed = logs.filter_log_events(logGroupName=G, logStreamNames=["run/1"], startTime=200, endTime=300)
    assert [e["message"] for e in windowed["events"]] == ["run line 2", "run line 3"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=G, filterPattern="[a, b]")


def test_operations_without_handlers_name_themselves(app: Any, logs: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.create_log_group(logGroupName="/x")
    assert info.value.response["Error"]["Code"] == "NotSupportedOperationException"
    assert "CreateLogGroup" in info.value.response["Error"]["Message"]
    status, headers, body = call_asgi(
        app,
        "POST",
        "http://omicsd.test/",
        [("x-amz-target", "Logs_20140328.GetLogEvents"), ("content-type", "application/x-amz-json-1.1")],
        b'{"logGroupName": "/aws/omics/WorkflowLog", "logStreamName": "nope"}',
    )
    assert status == 400 and headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(body)["__type"] == "ResourceNotFoundException"


def test_follow_like_aws_logs_tail(writer: LogWriter, logs: Any) -> None:
    """``aws logs tail --follow`` polls FilterLogEvents from the last timestamp seen and drops repeated eventIds."""
    writer.append(G, "run/1", [(1_000, "one"), (2_000, "two")])
    seen: dict[str, str] = {}
    since = 0

    def poll() -> list[str]:
        nonlocal since
        fresh = []
        paginator = logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=G, logStreamNamePrefix="run/", startTime=since, interleaved=True):
            for event in page["events"]:
                if event["eventId"] not in seen:
                    seen[event["eventId"]] = event["message"]
                    fresh.append(event["message"])
                since = max(since, event["timestamp"])
        return fresh

    assert poll() == ["one", "two"]
    writer.append(G, "run/1", [(2_000, "two again"), (3_000, "three")])
    writer.append(G, "run/1/task/5", [(2_500, "task output")])
    assert poll() == ["two again", "task output", "three"]
    assert poll() == []
