from __future__ import annotations

from pathlib import Path

import pytest

from omicsd.errors import NotFoundError
from omicsd.logs.files import LogReader, LogWriter
from omicsd.services.logs import InvalidParameterError, LogsService

G = "/aws/omics/WorkflowLog"


@pytest.fixture
def writer(tmp_path: Path) -> LogWriter:
    return LogWriter(tmp_path / "logs")


@pytest.fixture
def logs(tmp_path: Path) -> LogsService:
    return LogsService(LogReader(tmp_path / "logs"), region="us-east-1", account_id="123456789012")


def _messages(events: object) -> list[str]:
    return [e.message for e in events]  # type: ignore[attr-defined]


def test_describe_groups_by_prefix_pattern_and_pages(writer: LogWriter, logs: LogsService) -> None:
    for group in (G, "/aws/other", "/custom/Omics"):
        writer.append(group, "s", ["x"])
    assert [g.name for g in logs.describe_groups().groups] == ["/aws/omics/WorkflowLog", "/aws/other", "/custom/Omics"]
    assert [g.name for g in logs.describe_groups(prefix="/aws/").groups] == [G, "/aws/other"]
    assert [g.name for g in logs.describe_groups(pattern="omics").groups] == [G, "/custom/Omics"]
    named = logs.describe_groups(names=[f"arn:aws:logs:us-east-1:123456789012:log-group:{G}:*"])
    assert [g.name for g in named.groups] == [G]
    assert named.groups[0].arn == f"arn:aws:logs:us-east-1:123456789012:log-group:{G}"
    first = logs.describe_groups(limit=2)
    assert len(first.groups) == 2 and first.next_token
    second = logs.describe_groups(limit=2, token=first.next_token)
    assert [g.name for g in second.groups] == ["/custom/Omics"] and second.next_token is None
    with pytest.raises(InvalidParameterError):
        logs.describe_groups(prefix="/aws", token=first.next_token)
    with pytest.raises(InvalidParameterError):
        logs.describe_groups(prefix="/a", pattern="b")


def test_describe_streams_orders_prefixes_and_pages(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "run/1", [(3_000, "a")])
    writer.append(G, "run/1/engine", [(1_000, "b")])
    writer.append(G, "run/1/task/7", [(5_000, "c")])
    writer.append(G, "manifest/run/1/abc", [(2_000, "d")])
    writer.create_stream(G, "run/1/task/8")
    names = [s.name for s in logs.describe_streams(G).streams]
    assert names == ["manifest/run/1/abc", "run/1", "run/1/engine", "run/1/task/7", "run/1/task/8"]
    assert [s.name for s in logs.describe_streams(G, prefix="run/1/").streams] == [
        "run/1/engine",
        "run/1/task/7",
        "run/1/task/8",
    ]
    assert [s.name for s in logs.describe_streams(G, prefix="manifest/run/1/").streams] == ["manifest/run/1/abc"]
    assert logs.describe_streams(G, prefix="manifest/run/2/").streams == []
    by_time = logs.describe_streams(G, order_by="LastEventTime", descending=True).streams
    empty = next(s for s in by_time if s.name == "run/1/task/8")
    assert empty.first_event_ms is None and empty.last_event_ms == empty.creation_ms
    assert [s.name for s in by_time if s.name != "run/1/task/8"] == [
        "run/1/task/7",
        "run/1",
        "manifest/run/1/abc",
        "run/1/engine",
    ]
    collected, token = [], None
    while True:
        page = logs.describe_streams(G, descending=True, limit=2, token=token)
        collected += [s.name for s in page.streams]
        token = page.next_token
        if token is None:
            break
    assert collected == list(reversed(names))
    with pytest.raises(InvalidParameterError, match="LastEventTime"):
        logs.describe_streams(G, prefix="run/", order_by="LastEventTime")
    with pytest.raises(NotFoundError, match="log group does not exist"):
        logs.describe_streams("/nope")


def test_get_events_forward_pages_end_with_the_same_token(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "run/1", [(1_000 + i, f"m{i}") for i in range(5)])
    page = logs.get_events(G, "run/1", start_from_head=True, limit=2)
    assert _messages(page.events) == ["m0", "m1"]
    seen, token = _messages(page.events), page.next_forward_token
    while True:
        page = logs.get_events(G, "run/1", start_from_head=True, limit=2, token=token)
        if page.next_forward_token == token:
            assert page.events == ()
            break
        seen += _messages(page.events)
        token = page.next_forward_token
    assert seen == [f"m{i}" for i in range(5)]
    writer.append(G, "run/1", [(2_000, "late")])
    grown = logs.get_events(G, "run/1", token=token)
    assert _messages(grown.events) == ["late"] and grown.next_forward_token != token


def test_get_events_from_the_tail_and_backward(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "s", [(1_000 + i, f"m{i}") for i in range(6)])
    tail = logs.get_events(G, "s", limit=2)
    assert _messages(tail.events) == ["m4", "m5"]
    assert tail.next_forward_token.startswith("f/") and tail.next_backward_token.startswith("b/")
    older = logs.get_events(G, "s", limit=3, token=tail.next_backward_token)
    assert _messages(older.events) == ["m1", "m2", "m3"]
    oldest = logs.get_events(G, "s", limit=3, token=older.next_backward_token)
    assert _messages(oldest.events) == ["m0"]
    start = logs.get_events(G, "s", limit=3, token=oldest.next_backward_token)
    assert start.events == () and start.next_backward_token == oldest.next_backward_token
    assert logs.get_events(G, "s", token=tail.next_forward_token).next_forward_token == tail.next_forward_token


def test_get_events_time_range(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "s", [(t, f"t{t}") for t in (100, 200, 300, 400)])
    page = logs.get_events(G, "s", start_time=200, end_time=300, start_from_head=True)
    assert _messages(page.events) == ["t200", "t300"]
    again = logs.get_events(G, "s", start_time=200, end_time=300, token=page.next_forward_token)
    assert again.events == () and again.next_forward_token == page.next_forward_token
    assert _messages(logs.get_events(G, "s", end_time=250).events) == ["t100", "t200"]


def test_get_events_errors(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "s", ["x"])
    with pytest.raises(NotFoundError, match="log stream does not exist"):
        logs.get_events(G, "missing")
    with pytest.raises(NotFoundError, match="log group does not exist"):
        logs.get_events("/nope", "s")
    with pytest.raises(InvalidParameterError):
        logs.get_events(G, "s", token="x/12")


def test_group_name_from_name_or_identifier(logs: LogsService) -> None:
    assert logs.group_name(G) == G
    assert logs.group_name(None, G) == G
    assert logs.group_name(None, f"arn:aws:logs:us-east-1:123456789012:log-group:{G}:*") == G
    with pytest.raises(InvalidParameterError):
        logs.group_name(G, G)
    with pytest.raises(InvalidParameterError):
        logs.group_name(None, "arn:aws:s3:::bucket")


def test_filter_events_interleaves_streams_and_filters(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "run/1", [(100, "Run 1 status RUNNING"), (400, "Run 1 status COMPLETED")])
    writer.append(G, "run/1/task/2", [(200, "ERROR disk full"), (300, "WARN slow"), (300, "ok")])
    writer.append(G, "run/9", [(250, "ERROR elsewhere")])
    page = logs.filter_events(G, stream_prefix="run/1")
    assert [(e.stream, e.message) for e in page.events] == [
        ("run/1", "Run 1 status RUNNING"),
        ("run/1/task/2", "ERROR disk full"),
        ("run/1/task/2", "WARN slow"),
        ("run/1/task/2", "ok"),
        ("run/1", "Run 1 status COMPLETED"),
    ]
    assert page.next_token is None
    assert len({e.event_id for e in page.events}) == 5
    assert _messages(logs.filter_events(G, pattern="ERROR").events) == ["ERROR disk full", "ERROR elsewhere"]
    assert _messages(logs.filter_events(G, pattern="?ERROR ?WARN", stream_names=["run/1/task/2"]).events) == [
        "ERROR disk full",
        "WARN slow",
    ]
    assert _messages(logs.filter_events(G, pattern='"status COMPLETED"').events) == ["Run 1 status COMPLETED"]
    assert _messages(logs.filter_events(G, pattern="ERROR -disk").events) == ["ERROR elsewhere"]
    assert _messages(logs.filter_events(G, start_time=250, end_time=300).events) == [
        "ERROR elsewhere",
        "WARN slow",
        "ok",
    ]
    assert logs.filter_events(G, stream_names=["run/404"]).events == []


def test_filter_events_pages_resume_exactly(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "a", [(t, f"a{t}-{i}") for i, t in enumerate((1, 1, 2, 5, 5, 5))])
    writer.append(G, "b", [(t, f"b{t}-{i}") for i, t in enumerate((1, 5, 5, 9))])
    everything = logs.filter_events(G)
    assert everything.next_token is None and len(everything.events) == 10
    paged, token = [], None
    while True:
        page = logs.filter_events(G, limit=3, token=token)
        paged += page.events
        token = page.next_token
        if token is None:
            break
    assert [e.event_id for e in paged] == [e.event_id for e in everything.events]
    assert _messages(paged) == _messages(everything.events)
    assert [e.timestamp for e in paged] == sorted(e.timestamp for e in paged)
    with pytest.raises(InvalidParameterError):
        logs.filter_events(G, pattern="x", limit=3, token=logs.filter_events(G, limit=3).next_token)


def test_filter_events_json_patterns_and_errors(writer: LogWriter, logs: LogsService) -> None:
    writer.append(G, "manifest/run/1/u", ['{"name":"greet","status":"FAILED","metrics":{"cpusMaximum":3.5}}', "plain"])
    assert len(logs.filter_events(G, pattern='{ $.status = "FAILED" }').events) == 1
    assert len(logs.filter_events(G, pattern="{ $.metrics.cpusMaximum > 3 && $.name = gr* }").events) == 1
    assert logs.filter_events(G, pattern='{ $.status = "COMPLETED" }').events == []
    with pytest.raises(InvalidParameterError):
        logs.filter_events(G, pattern="[ip, user]")
    with pytest.raises(InvalidParameterError):
        logs.filter_events(G, stream_names=["a"], stream_prefix="b")
    with pytest.raises(NotFoundError):
        logs.filter_events("/nope")
