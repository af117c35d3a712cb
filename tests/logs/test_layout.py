"""The stream file format: event lines exactly as JSON writes them, and a stream created once."""

from __future__ import annotations

import json
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
