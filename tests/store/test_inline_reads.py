"""Inline reads: prepared reads that never wait, and transactions refused while they are on."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from omicsd.domain.states import RunStatus
from omicsd.errors import WouldBlockError
from omicsd.store import open_store
from omicsd.store import runs as repo
from tests.store.test_runs import ARN, _run


def test_sqlite_reads_inline_and_refuses_transactions(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'omicsd.db'}")
    try:
        with store.write() as conn:
            repo.insert(conn, _run("1000001", 0, name="x"))
        assert store.supports_inline_reads
        with store.inline_reads():
            found = repo.read_with_tags(store, "1000001", ARN.format("1000001"))
            with pytest.raises(WouldBlockError), store.read():
                pass
            with pytest.raises(WouldBlockError), store.write():
                pass
        assert found is not None and found[0].name == "x"
        with store.write() as conn:  # transactions work again afterwards, and inline reads see their writes
            repo.update(conn, "1000001", {"status": RunStatus.RUNNING.value})
        with store.inline_reads():
            again = repo.read_with_tags(store, "1000001", ARN.format("1000001"))
        assert again is not None and again[0].status is RunStatus.RUNNING
    finally:
        store.close()


def test_an_inline_read_gives_up_instead_of_waiting_for_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "omicsd.db"
    store = open_store(f"sqlite:///{path}")
    with store.write() as conn:
        repo.insert(conn, _run("1000001", 0))
    store.engine.dispose()  # no connection of the store stays open: the holder can lock the whole file
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE runs SET name = 'locked'")
        began = time.monotonic()
        with pytest.raises(WouldBlockError), store.inline_reads():
            repo.read_with_tags(store, "1000001", ARN.format("1000001"))
        assert time.monotonic() - began < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()


def test_stores_without_inline_reads_refuse_them(db_url: str) -> None:
    store = open_store(db_url)
    try:
        if db_url.startswith("sqlite"):
            assert store.supports_inline_reads
            return
        assert not store.supports_inline_reads
        with pytest.raises(WouldBlockError), store.inline_reads():
            pass
    finally:
        store.close()
