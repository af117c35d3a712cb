"""The capacity ledger's files: the lock, a cached read of the entries, the rewrite in place.

Owns: holding ``ledger.lock`` (a per-process file description guarded by a thread lock, since threads
sharing one ``flock`` would not exclude each other), parsing ``ledger.json`` only when it changed, telling
which entries' owners still run (re-checking other processes at most every :data:`LIVENESS_TTL` seconds),
and rewriting the file.

The file is rewritten in place (one ``pwrite`` of the whole document and its closing newline, then a
truncate), never by a temporary file and a rename: every task start and end rewrites it, and a rename frees
an inode each time, which on ext4 without a journal makes every later file creation on the same file system
slower for minutes (the allocator skips recently freed inodes one by one). Only holders of the lock read or
write it, so nobody sees a half-written document; a process killed between the write and the truncate leaves
the old document's tail after the first newline, which the parser ignores.
Must not: decide what fits (that is :mod:`omicsd.executors.capacity`, which re-exports
:class:`Reservation`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omicsd.executors import _proc

logger = logging.getLogger(__name__)

LIVENESS_TTL = 0.1
"""Seconds a live owner (another process) is trusted before ``/proc`` is asked again."""
_RACY_NS = 50_000_000
"""A file modified this recently may be rewritten within the same timestamp tick: compare its bytes."""


@dataclass(frozen=True)
class Reservation:
    """One live entry of the ledger, returned by :meth:`CapacityLedger.acquire`."""

    id: str
    pid: int
    pid_start: int
    cpus: int
    memory_bytes: int
    gpus: int
    gpu_ids: tuple[int, ...]
    """The GPU indexes handed to this reservation (for ``CUDA_VISIBLE_DEVICES``)."""
    pool: str


class LedgerStore:
    """Reads and writes one ledger directory for one process (thread-safe)."""

    def __init__(self, directory: Path, ledger_file: str, lock_file: str) -> None:
        self.path = directory / ledger_file
        self._lock_path = directory / lock_file
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._fd_pid = 0
        self._file_fd: int | None = None
        self._file_key: tuple[int, int] | None = None
        self._file_pid = 0
        self._stat_key: tuple[int, int, int] | None = None
        self._trust_stat = False
        self._raw: bytes | None = None
        self._parsed: list[Reservation] = []
        self._alive_until: dict[tuple[int, int], float] = {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the ledger lock against every other thread and process."""
        with self._thread_lock:
            fd = self._lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def live_entries(self, own: tuple[int, int]) -> list[Reservation]:
        """Entries whose owner still runs (call with the lock held); ``own`` is this process's identity."""
        entries = self._read()
        now = time.monotonic()
        live = []
        for entry in entries:
            owner = (entry.pid, entry.pid_start)
            if owner == own or self._alive_until.get(owner, 0.0) > now:
                live.append(entry)
            elif _proc.is_same_process(entry.pid, entry.pid_start):
                self._alive_until[owner] = now + LIVENESS_TTL
                live.append(entry)
            else:
                self._alive_until.pop(owner, None)
                logger.info("capacity.reclaimed id=%s pid=%d cpus=%d", entry.id, entry.pid, entry.cpus)
        if len(self._alive_until) > 2 * len(live) + 16:
            owners = {(e.pid, e.pid_start) for e in live}
            self._alive_until = {o: t for o, t in self._alive_until.items() if o in owners}
        return live

    def write(self, entries: list[Reservation]) -> None:
        """Replace the ledger's entries with ``entries`` (call with the lock held)."""
        data = json.dumps({"version": 1, "entries": [asdict(e) for e in entries]}).encode() + b"\n"
        fd = self._writable()
        written = os.pwrite(fd, data, 0)
        if written != len(data):  # a short write to a regular file: the file system is full
            raise OSError(f"short write to {self.path} ({written} of {len(data)} bytes)")
        os.ftruncate(fd, len(data))
        self._remember(os.fstat(fd), data, list(entries))

    def _writable(self) -> int:
        """This process's descriptor of the ledger file, reopened when the file was replaced or removed."""
        try:
            stat = os.stat(self.path)
            key: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            key = None
        if self._file_fd is not None and (self._file_key != key or self._file_pid != os.getpid()):
            os.close(self._file_fd)
            self._file_fd = None
        if self._file_fd is None:
            self._file_fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            stat = os.fstat(self._file_fd)
            self._file_key = (stat.st_dev, stat.st_ino)
            self._file_pid = os.getpid()
        return self._file_fd

    def stat_key(self) -> tuple[int, int, int] | None:
        """``(inode, mtime_ns, size)`` of the ledger file now, or ``None`` when it does not exist."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _lock_fd(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._fd_pid = os.getpid()
        return self._fd

    def _read(self) -> list[Reservation]:
        """The parsed entries, re-parsed only when the file changed."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._stat_key, self._raw, self._parsed = None, None, []
            return []
        try:
            stat = os.fstat(fd)
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._trust_stat and key == self._stat_key:
                return self._parsed
            raw = _read_all(fd, stat.st_size)
        finally:
            os.close(fd)
        if raw == self._raw:
            self._remember(stat, raw, self._parsed)
            return self._parsed
        self._remember(stat, raw, _parse(raw, self.path))
        return self._parsed

    def _remember(self, stat: os.stat_result, raw: bytes, entries: list[Reservation]) -> None:
        self._stat_key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        self._trust_stat = time.time_ns() - stat.st_mtime_ns > _RACY_NS
        self._raw = raw
        self._parsed = entries


def _read_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, max(size, 65536))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _parse(raw: bytes, path: Path) -> list[Reservation]:
    """The entries of a ledger document: its first line (anything after the first newline is left over)."""
    try:
        data: Any = json.loads(raw.split(b"\n", 1)[0] or b"{}")
        items = data.get("entries", [])
    except (ValueError, AttributeError):
        logger.warning("capacity.ledger_corrupt path=%s", path)
        return []
    entries = []
    for item in items:
        try:
            entries.append(
                Reservation(
                    id=str(item["id"]),
                    pid=int(item["pid"]),
                    pid_start=int(item["pid_start"]),
                    cpus=int(item["cpus"]),
                    memory_bytes=int(item["memory_bytes"]),
                    gpus=int(item["gpus"]),
                    gpu_ids=tuple(int(i) for i in item.get("gpu_ids", ())),
                    pool=str(item.get("pool", "")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return entries
