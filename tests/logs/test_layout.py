"""The stream file format: event lines exactly as JSON writes them, and a stream created once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omicsd.logs import _layout


@pytest.mark.parametrize(
    "message",
    ["plain", "", 'quote " backslash \\ newline \n tab \t', "accents é and ☃", "control \x01", "lone \ud800 surrogate"],
)
def test_an_event_line_is_the_json_of_its_record(message: str) -> None:
    record = {"timestamp": 1732269000000, "ingestionTime": 1732269000001, "message": message}
    try:
        expected = json.dumps(record, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        expected = json.dumps(record).encode()
    line = _layout.event_line(1732269000000, 1732269000001, message)
    assert line == expected + b"\n"
    assert _layout.parse_line(line) == record


def test_a_stream_is_created_with_its_directories_and_header_once(tmp_path: Path) -> None:
    path = _layout.ensure_stream(tmp_path, "/aws/omics/WorkflowLog", "run/1/task/2")
    assert path.read_bytes().count(b"\n") == 1
    header = _layout.parse_line(path.read_bytes())
    assert header is not None and header["logStreamName"] == "run/1/task/2"
    path.write_bytes(path.read_bytes() + _layout.event_line(1, 2, "x"))
    assert _layout.ensure_stream(tmp_path, "/aws/omics/WorkflowLog", "run/1/task/2") == path
    assert path.read_bytes().count(b"\n") == 2, "an existing stream is left alone"
    sibling = _layout.ensure_stream(tmp_path, "/aws/omics/WorkflowLog", "run/1/task/3")
    assert sibling.parent == path.parent
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, sibling.name], "no temporary file is left"


def test_a_temporary_left_by_a_crashed_process_does_not_stop_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _layout.ensure_stream(tmp_path, "g", "run/1/task/1")
    monkeypatch.setattr(_layout, "_TEMPORARIES", iter([0, 0]))  # the next name is the one a crash left behind
    (first.parent / f".tmp-{os.getpid()}-0").write_bytes(b"garbage")
    second = _layout.ensure_stream(tmp_path, "g", "run/1/task/2")
    header = _layout.parse_line(second.read_bytes())
    assert header is not None and header["logStreamName"] == "run/1/task/2"
    assert (first.parent / f".tmp-{os.getpid()}-0").read_bytes() == b"garbage"
    assert oct(second.stat().st_mode & 0o777) == oct(first.stat().st_mode & 0o777)
