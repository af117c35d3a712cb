from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omicsd.executors import _ledger_store, _proc
from omicsd.executors._ledger_store import LedgerStore, Reservation


def _entry(id: str, cpus: int) -> Reservation:
    pid = os.getpid()
    start = _proc.start_ticks(pid)
    assert start is not None
    return Reservation(id=id, pid=pid, pid_start=start, cpus=cpus, memory_bytes=0, gpus=0, gpu_ids=(), pool="")


def _own() -> tuple[int, int]:
    start = _proc.start_ticks(os.getpid())
    assert start is not None
    return os.getpid(), start


def _foreign_write(path: Path, entries: list[Reservation]) -> None:
    """Replace the file as another process would (its own temp file and rename)."""
    tmp = path.with_name("foreign.tmp")
    tmp.write_text(json.dumps({"version": 1, "entries": [e.__dict__ | {"gpu_ids": []} for e in entries]}))
    os.replace(tmp, path)


def test_an_unchanged_file_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with store.locked():
        store.write([_entry("a", 1)])
    parses: list[bytes] = []
    real_parse = _ledger_store._parse
    monkeypatch.setattr(_ledger_store, "_parse", lambda raw, path: parses.append(raw) or real_parse(raw, path))
    for _ in range(3):
        with store.locked():
            assert [e.id for e in store.live_entries(_own())] == ["a"]
    assert parses == []


def test_a_write_by_another_process_invalidates_the_cache(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with store.locked():
        store.write([_entry("a", 1)])
        assert [e.id for e in store.live_entries(_own())] == ["a"]
    _foreign_write(store.path, [_entry("a", 1), _entry("b", 1)])
    with store.locked():
        assert [e.id for e in store.live_entries(_own())] == ["a", "b"]
    store.path.unlink()
    with store.locked():
        assert store.live_entries(_own()) == []


def test_a_rewrite_with_the_same_size_and_mtime_is_still_seen(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with store.locked():
        store.write([_entry("a", 1)])
        assert [e.cpus for e in store.live_entries(_own())] == [1]
    before = os.stat(store.path)
    store.path.write_bytes(store.path.read_bytes().replace(b'"cpus": 1', b'"cpus": 2'))
    os.utime(store.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(store.path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    with store.locked():
        assert [e.cpus for e in store.live_entries(_own())] == [2]


def test_entries_of_a_process_that_is_gone_are_dropped(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    dead = Reservation(id="x", pid=os.getpid(), pid_start=1, cpus=1, memory_bytes=0, gpus=0, gpu_ids=(), pool="")
    with store.locked():
        store.write([dead, _entry("a", 1)])
        assert [e.id for e in store.live_entries((os.getpid(), 0))] == ["a"]


def test_a_corrupt_ledger_reads_as_empty(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    store.path.write_text("{not json")
    with store.locked():
        assert store.live_entries(_own()) == []


def test_rewrites_keep_the_file_and_free_no_inode(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with store.locked():
        store.write([_entry("a", 1), _entry("b", 1)])
    inode = os.stat(store.path).st_ino
    with store.locked():
        store.write([_entry("c", 2)])
        assert [e.id for e in store.live_entries(_own())] == ["c"]
    assert os.stat(store.path).st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json", "ledger.lock"]
    assert store.path.read_bytes().endswith(b"}\n"), "the shorter document is not followed by the old tail"


def test_the_tail_of_an_interrupted_rewrite_is_ignored(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    short = json.dumps({"version": 1, "entries": [_entry("a", 1).__dict__ | {"gpu_ids": []}]}).encode() + b"\n"
    store.path.write_bytes(short + b'ries": [{"id": "old"}]}')  # killed between the write and the truncate
    with store.locked():
        assert [e.id for e in store.live_entries(_own())] == ["a"]


def test_a_replaced_file_is_written_again_not_the_old_one(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with store.locked():
        store.write([_entry("a", 1)])
    _foreign_write(store.path, [_entry("b", 1)])
    with store.locked():
        store.write([_entry("c", 1)])
    other = LedgerStore(tmp_path, "ledger.json", "ledger.lock")
    with other.locked():
        assert [e.id for e in other.live_entries(_own())] == ["c"]
