from __future__ import annotations

import threading
import time
from pathlib import Path

from omicsd.logs.files import LogReader, LogWriter
from omicsd.logs.tail import MAX_MESSAGE_BYTES, FileFollower, follow_into_stream

G = "/aws/omics/WorkflowLog"


def _messages(root: Path, stream: str = "run/1/task/2") -> list[str]:
    return [e.message for e in LogReader(root).read(G, stream, max_bytes=1 << 30).events]


def test_poll_copies_complete_lines_and_flush_the_rest(tmp_path: Path) -> None:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    follower = FileFollower([out, err], LogWriter(tmp_path / "logs"), G, "run/1/task/2")
    assert follower.poll() == 0, "missing files are fine"
    out.write_bytes(b"one\ntwo\r\nthr")
    assert follower.poll() == 2
    with open(out, "ab") as handle:
        handle.write(b"ee\n")
    err.write_bytes(b"oops\nlast")
    assert follower.poll() == 2
    assert follower.poll() == 0
    assert follower.flush() == 1
    assert _messages(tmp_path / "logs") == ["one", "two", "three", "oops", "last"]


def test_long_lines_are_split(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    out.write_bytes(b"z" * (MAX_MESSAGE_BYTES + 10) + b"\n")
    FileFollower([out], LogWriter(tmp_path / "logs"), G, "run/1/task/2").flush()
    assert [len(m) for m in _messages(tmp_path / "logs")] == [MAX_MESSAGE_BYTES, 10]


def test_follower_thread_copies_while_running(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    with FileFollower([out], LogWriter(tmp_path / "logs"), G, "run/1/task/2", interval=0.01):
        out.write_text("early\n")
        deadline = time.monotonic() + 5
        while not LogReader(tmp_path / "logs").exists(G, "run/1/task/2") or not _messages(tmp_path / "logs"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with open(out, "a") as handle:
            handle.write("final without newline")
    assert _messages(tmp_path / "logs") == ["early", "final without newline"]


def test_follow_into_stream_blocks_until_stopped(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    out.write_text("a\nb")
    stop = threading.Event()
    worker = threading.Thread(
        target=follow_into_stream, args=(out, LogWriter(tmp_path / "logs"), G, "run/1/task/2", stop, 0.01)
    )
    worker.start()
    stop.set()
    worker.join(5)
    assert _messages(tmp_path / "logs") == ["a", "b"]
