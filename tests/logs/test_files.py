from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from omicsd.errors import NotFoundError
from omicsd.logs import _layout, _lines
from omicsd.logs.files import LogReader, LogWriter

G = "/aws/omics/WorkflowLog"


@pytest.fixture
def writer(tmp_path: Path) -> LogWriter:
    return LogWriter(tmp_path / "logs")


@pytest.fixture
def reader(tmp_path: Path) -> LogReader:
    return LogReader(tmp_path / "logs")


def _fill(writer: LogWriter, stream: str, count: int, base: int = 1_000) -> None:
    writer.append(G, stream, [(base + i, f"m{i}") for i in range(count)])


def test_escaping_is_reversible_and_dot_free() -> None:
    for segment in ["run", "", "a.log", "x/y", "%41", "~", "naïve", "-_"]:
        escaped = _layout.escape(segment)
        assert _layout.unescape(escaped) == segment
        assert "." not in escaped and "/" not in escaped


def test_append_and_read_forward_pages(writer: LogWriter, reader: LogReader) -> None:
    _fill(writer, "run/1/task/2", 25)
    page = reader.read(G, "run/1/task/2", limit=10)
    assert [e.message for e in page.events] == [f"m{i}" for i in range(10)]
    assert page.events[0].timestamp == 1000 and page.events[0].ingestion_time > 0
    second = reader.read(G, "run/1/task/2", offset=page.next_forward, limit=10)
    assert [e.message for e in second.events] == [f"m{i}" for i in range(10, 20)]
    back = reader.read(G, "run/1/task/2", offset=second.next_backward, limit=5, forward=False)
    assert [e.message for e in back.events] == [f"m{i}" for i in range(5, 10)]
    third = reader.read(G, "run/1/task/2", offset=second.next_forward, limit=10)
    assert len(third.events) == 5
    end = reader.read(G, "run/1/task/2", offset=third.next_forward)
    assert end.events == () and end.next_forward == third.next_forward


def test_read_backward_from_the_tail(writer: LogWriter, reader: LogReader) -> None:
    _fill(writer, "s", 25)
    page = reader.read(G, "s", limit=10, forward=False)
    assert [e.message for e in page.events] == [f"m{i}" for i in range(15, 25)]
    older = reader.read(G, "s", offset=page.next_backward, limit=100, forward=False)
    assert [e.message for e in older.events] == [f"m{i}" for i in range(15)]
    assert reader.read(G, "s", offset=older.next_backward, forward=False).events == ()
    newer = reader.read(G, "s", offset=page.next_forward)
    assert newer.events == ()
    writer.append(G, "s", ["late"])
    assert [e.message for e in reader.read(G, "s", offset=page.next_forward).events] == ["late"]


def test_paging_through_many_blocks(writer: LogWriter, reader: LogReader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lines, "BLOCK", 64)
    _fill(writer, "s", 300)
    writer.append(G, "s", [(5000, "x" * 500)])
    seen, offset = [], None
    while True:
        page = reader.read(G, "s", offset=offset, limit=7)
        if not page.events:
            break
        seen += [e.message for e in page.events]
        offset = page.next_forward
    assert seen == [f"m{i}" for i in range(300)] + ["x" * 500]
    seen, offset = [], None
    while True:
        page = reader.read(G, "s", offset=offset, limit=7, forward=False)
        if not page.events:
            break
        seen = [e.message for e in page.events] + seen
        offset = page.next_backward
    assert seen == [f"m{i}" for i in range(300)] + ["x" * 500]


def test_time_ranges(writer: LogWriter, reader: LogReader) -> None:
    _fill(writer, "s", 100)
    page = reader.read(G, "s", start_time=1040, end_time=1049)
    assert [e.timestamp for e in page.events] == list(range(1040, 1050))
    back = reader.read(G, "s", start_time=1040, end_time=1049, forward=False, limit=3)
    assert [e.timestamp for e in back.events] == [1047, 1048, 1049]
    assert reader.read(G, "s", start_time=5000).events == ()
    assert len(reader.read(G, "s", end_time=999).events) == 0


def test_max_bytes_bounds_a_page(writer: LogWriter, reader: LogReader) -> None:
    writer.append(G, "s", ["y" * 1000] * 10)
    assert len(reader.read(G, "s", max_bytes=3000).events) == 3


def test_partial_last_line_is_ignored(writer: LogWriter, reader: LogReader) -> None:
    _fill(writer, "s", 2)
    path = _layout.stream_path(writer.root, G, "s")
    with open(path, "ab") as handle:
        handle.write(b'{"timestamp": 9, "ingest')
    assert [e.message for e in reader.read(G, "s").events] == ["m0", "m1"]
    assert [e.message for e in reader.read(G, "s", forward=False).events] == ["m0", "m1"]
    assert reader.stream_info(G, "s").last_event_ms == 1001


def test_list_streams_with_prefix(writer: LogWriter, reader: LogReader) -> None:
    for name in ["run/1", "run/1/engine", "run/1/task/7", "run/12/engine", "run/2", "manifest/run/1/u"]:
        writer.append(G, name, [(100, "x"), (200, "y")])
    writer.create_stream(G, "run/3")
    names = [s.name for s in reader.list_streams(G)]
    assert names == sorted(
        ["run/1", "run/1/engine", "run/1/task/7", "run/12/engine", "run/2", "manifest/run/1/u", "run/3"]
    )
    assert [s.name for s in reader.list_streams(G, "run/1")] == [
        "run/1",
        "run/1/engine",
        "run/1/task/7",
        "run/12/engine",
    ]
    assert [s.name for s in reader.list_streams(G, "run/1/")] == ["run/1/engine", "run/1/task/7"]
    assert [s.name for s in reader.list_streams(G, "run/1/task/")] == ["run/1/task/7"]
    assert reader.list_streams(G, "nothing") == []
    info = reader.list_streams(G, "run/1/engine")[0]
    assert (info.first_event_ms, info.last_event_ms) == (100, 200)
    assert info.creation_ms > 0 and info.last_ingestion_ms and info.stored_bytes > 0
    empty = reader.stream_info(G, "run/3")
    assert empty.first_event_ms is None and empty.last_event_ms is None
    assert reader.list_groups() == [G]
    with pytest.raises(NotFoundError):
        reader.list_streams("/no/such/group")
    with pytest.raises(NotFoundError):
        reader.read(G, "run/9")


def test_file_format(writer: LogWriter) -> None:
    writer.append(G, "run/1", ["hello\nworld", (42, "ünïcode")])
    lines = _layout.stream_path(writer.root, G, "run/1").read_text().splitlines()
    assert json.loads(lines[0])["logStreamName"] == "run/1"
    assert json.loads(lines[1])["message"] == "hello\nworld"
    assert json.loads(lines[2])["timestamp"] == 42 and json.loads(lines[2])["message"] == "ünïcode"


def _append_many(root: str, tag: str) -> None:
    writer = LogWriter(Path(root))
    for i in range(200):
        writer.append(G, "shared", [f"{tag}-{i}-" + tag * 3000, f"{tag}-{i}-b"])


def test_concurrent_appends_from_two_processes_do_not_interleave(tmp_path: Path, reader: LogReader) -> None:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_append_many, args=(str(tmp_path / "logs"), tag)) for tag in "AB"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    events = reader.read(G, "shared", limit=10_000, max_bytes=1 << 30).events
    assert len(events) == 800
    for tag in "AB":
        mine = [e.message for e in events if e.message.startswith(tag)]
        assert mine == [m for i in range(200) for m in (f"{tag}-{i}-" + tag * 3000, f"{tag}-{i}-b")]
