"""Machine-wide accounting of CPUs, memory and GPUs, shared by every process on the machine.

Owns: the capacity ledger, a directory (``<data_dir>/capacity/``) that any number of processes (one engine
driver per run, each with its own executor) use to reserve resources so that together they never exceed
the machine, and the per-pool limits (run groups) read from the same directory. Within one process, a
released reservation goes straight to a waiter asking for the same resources, or is parked for a moment for
the next such request (:mod:`omicsd.executors._waiters`): the file changes only when the capacity a process
holds does, not twice per task.
Must not: start or stop processes, or know what a run or a run group is beyond an opaque pool name.

Files in the directory:

``ledger.lock``
    Empty; every read-modify-write of the ledger holds ``fcntl.flock(LOCK_EX)`` on it. The kernel drops a
    flock when its holder dies, so a crashed process never leaves the ledger locked.
``ledger.json``
    ``{"version": 1, "entries": [{"id", "pid", "pid_start", "cpus", "memory_bytes", "gpus", "gpu_ids",
    "pool"}]}``, replaced atomically. ``pid_start`` is the owner's start time (field 22 of
    ``/proc/<pid>/stat``); an entry whose pid is gone, or now names another process, is dropped by the next
    writer, so the reservations of a killed process come back on their own.
``pool_limits.json``
    Written by the scheduler (see :meth:`CapacityLedger.write_pool_limits`), read here:
    ``{"<pool>": {"cpus": 8, "gpus": 1, "memory_bytes": 0}}``. A missing pool, key or a value of 0 means
    no limit for that resource; the sums of the pool's live entries must stay within the limits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from omicsd.errors import ValidationError
from omicsd.executors import _proc
from omicsd.executors._ledger_store import LedgerStore, Reservation
from omicsd.executors._waiters import Slot, waker_for

__all__ = ["LEDGER_FILE", "LOCK_FILE", "POOL_LIMITS_FILE", "CapacityLedger", "Reservation", "Resources", "Usage"]

logger = logging.getLogger(__name__)

LEDGER_FILE = "ledger.json"
LOCK_FILE = "ledger.lock"
POOL_LIMITS_FILE = "pool_limits.json"

_FIRST_BACKOFF = 0.005
_MAX_BACKOFF = 0.1
_BUSY_MAX_BACKOFF = 0.02
"""Longest poll while the ledger file keeps changing (other processes acquire and release)."""


@dataclass(frozen=True)
class Resources:
    """An amount of CPUs, memory and GPUs (a capacity, a usage or a limit; 0 in a limit: no limit)."""

    cpus: int = 0
    memory_bytes: int = 0
    gpus: int = 0


@dataclass(frozen=True)
class Usage:
    """What the live entries reserve, in total and per pool."""

    total: Resources
    pools: Mapping[str, Resources]
    entries: int


class CapacityLedger:
    """Reserves resources against one machine's capacity, across processes (see the module docstring)."""

    def __init__(self, directory: Path, *, cpus: int = 0, memory_bytes: int = 0, gpus: int = 0) -> None:
        """Open (and create) the ledger in ``directory``.

        Args:
            directory: The shared ledger directory.
            cpus: CPUs to hand out; 0 detects the machine's (affinity and cgroup quota).
            memory_bytes: Memory to hand out; 0 detects the machine's (``MemTotal``, cgroup limit).
            gpus: GPUs to hand out.
        """
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.total = Resources(
            cpus=cpus if cpus > 0 else _proc.detect_cpus(),
            memory_bytes=memory_bytes if memory_bytes > 0 else _proc.detect_memory_bytes(),
            gpus=max(0, gpus),
        )
        self._pid = os.getpid()
        self._pid_start = _proc.start_ticks(self._pid) or 0
        self._limits_cache: tuple[tuple[int, int], dict[str, Resources]] | None = None
        self._store = LedgerStore(self.directory, LEDGER_FILE, LOCK_FILE)
        self._waker = waker_for(self.directory)

    def acquire(
        self,
        cpus: int,
        memory_bytes: int = 0,
        gpus: int = 0,
        pool: str = "",
        *,
        should_cancel: Callable[[], bool] = lambda: False,
    ) -> Reservation | None:
        """Wait until the request fits, then reserve it.

        A release in this process wakes the waiters at once, and hands its reservation straight to the
        longest waiter asking for exactly the same resources and pool (no pool limit in the way): the entry
        stays in the ledger, so a scatter of equal tasks rewrites the file only when capacity really changes.
        Releases by other processes are noticed by polling, 5 ms doubling to 20 ms while the ledger keeps
        changing and to 100 ms while it does not.

        Returns:
            The reservation, or ``None`` when ``should_cancel`` turned true while waiting.

        Raises:
            ValidationError: the request can never fit (more than the machine or the pool's limit).
        """
        self.check_fits(cpus, memory_bytes, gpus, pool)
        slot = Slot(cpus, memory_bytes, gpus, pool)
        reservation: Reservation | None = None
        cancelled = False
        self._waker.enlist(slot)  # from now on a release here is handed to this slot, never parked past it
        try:
            backoff = _FIRST_BACKOFF
            while slot.reservation is None:
                seen = self._waker.generation
                before = self._store.stat_key()
                reservation = self.try_acquire(cpus, memory_bytes, gpus, pool)
                if reservation is not None:
                    break
                if should_cancel():
                    cancelled = True
                    break
                if self._waker.wait(seen, backoff, slot):
                    backoff = _FIRST_BACKOFF
                elif self._store.stat_key() != before:
                    backoff = min(backoff * 2, _BUSY_MAX_BACKOFF)
                else:
                    backoff = min(backoff * 2, _MAX_BACKOFF)
        except BaseException:
            handed = self._waker.withdraw(slot)
            if handed is not None:
                self.release(handed)  # handed over while this waiter was failing: pass it on
            raise
        handed = self._waker.withdraw(slot)
        if handed is not None:
            if reservation is None and not cancelled:
                logger.debug("capacity.handed_over id=%s", handed.id)
                return handed
            self.release(handed)  # got one of its own meanwhile, or was cancelled: pass it on
        return reservation

    def try_acquire(self, cpus: int, memory_bytes: int = 0, gpus: int = 0, pool: str = "") -> Reservation | None:
        """Reserve the request if it fits now; ``None`` otherwise (never waits).

        A reservation of the same shape that this process released moments ago and parked is taken over
        without touching the file; when the request does not fit, parked reservations are released first.
        """
        self.check_fits(cpus, memory_bytes, gpus, pool)
        limits = self.pool_limits()
        if not pool or pool not in limits:
            taken = self._waker.unpark(Slot(cpus, memory_bytes, gpus, pool))
            if taken is not None:
                logger.debug("capacity.taken_over id=%s", taken.id)
                return taken
        want = Resources(cpus, memory_bytes, gpus)
        reservation: Reservation | None = None
        with self._store.locked():
            entries = self._live_entries()
            parked = [] if self._fits(entries, want, pool, limits) else self._waker.take_parked()
            if parked:
                gone = {p.id for p in parked}
                entries = [e for e in entries if e.id not in gone]
            if self._fits(entries, want, pool, limits):
                taken_gpus = {i for e in entries for i in e.gpu_ids}
                pid, pid_start = self._owner()
                reservation = Reservation(
                    id=uuid.uuid4().hex,
                    pid=pid,
                    pid_start=pid_start,
                    cpus=cpus,
                    memory_bytes=memory_bytes,
                    gpus=gpus,
                    gpu_ids=tuple(i for i in range(self.total.gpus) if i not in taken_gpus)[:gpus],
                    pool=pool,
                )
                self._store.write([*entries, reservation])
            elif parked:
                self._store.write(entries)
        if parked:
            self._waker.drop(parked)
            self._waker.notify()
        if reservation is not None:
            self._waker.hold(reservation)
            logger.debug("capacity.acquired id=%s cpus=%d memory=%d gpus=%d", reservation.id, cpus, memory_bytes, gpus)
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back (a no-op when it is already gone).

        A waiter of this process asking for exactly the same resources takes it over as it is (see
        :meth:`acquire`). Otherwise, when no waiter of this process needs the capacity, it is parked for a
        moment for the next request of its shape here (:data:`~omicsd.executors._waiters.LINGER` seconds,
        after which it leaves the ledger); or it leaves the ledger at once and every waiter here is woken.
        """
        if self._waker.stale(reservation):
            logger.debug("capacity.released_twice id=%s", reservation.id)
            return
        if self._may_hand_over(reservation) and (
            self._waker.hand_over(reservation) or self._waker.park(reservation, self._release_now)
        ):
            return
        self._release_now([reservation])

    @contextlib.contextmanager
    def reserved(
        self,
        cpus: int,
        memory_bytes: int = 0,
        gpus: int = 0,
        pool: str = "",
        *,
        should_cancel: Callable[[], bool] = lambda: False,
    ) -> Iterator[Reservation | None]:
        """:meth:`acquire` for the duration of a ``with`` block (``None`` when cancelled while waiting)."""
        reservation = self.acquire(cpus, memory_bytes, gpus, pool, should_cancel=should_cancel)
        try:
            yield reservation
        finally:
            if reservation is not None:
                self.release(reservation)

    def check_fits(self, cpus: int, memory_bytes: int = 0, gpus: int = 0, pool: str = "") -> None:
        """Raise :class:`ValidationError` when the request could never fit, however long it waited."""
        if cpus < 0 or memory_bytes < 0 or gpus < 0:
            raise ValidationError(f"Resource requests cannot be negative (cpus={cpus}, memory={memory_bytes}).")
        for what, want, have in (
            ("CPUs", cpus, self.total.cpus),
            ("bytes of memory", memory_bytes, self.total.memory_bytes),
            ("GPUs", gpus, self.total.gpus),
        ):
            if want > have:
                raise ValidationError(f"The task requests {want} {what} but this machine has {have}.")
        if pool:
            limit = self.pool_limits().get(pool)
            if limit is not None:
                for what, want, most in (
                    ("CPUs", cpus, limit.cpus),
                    ("bytes of memory", memory_bytes, limit.memory_bytes),
                    ("GPUs", gpus, limit.gpus),
                ):
                    if most > 0 and want > most:
                        raise ValidationError(f"The task requests {want} {what} but pool {pool} allows {most}.")

    def usage(self) -> Usage:
        """What the live reservations of every process hold now (parked ones of this process are released)."""
        parked = self._waker.take_parked()
        if parked:
            self._release_now(parked)
        with self._store.locked():
            entries = self._live_entries()
        pools: dict[str, list[Reservation]] = {}
        for entry in entries:
            if entry.pool:
                pools.setdefault(entry.pool, []).append(entry)
        return Usage(total=_sum(entries), pools={p: _sum(e) for p, e in pools.items()}, entries=len(entries))

    def pool_limits(self) -> dict[str, Resources]:
        """The per-pool limits file, re-read only when it changed."""
        path = self.directory / POOL_LIMITS_FILE
        try:
            stat = path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        if self._limits_cache is not None and self._limits_cache[0] == key:
            return self._limits_cache[1]
        limits: dict[str, Resources] = {}
        try:
            raw = json.loads(path.read_text())
            for pool, value in raw.items():
                limits[str(pool)] = Resources(
                    cpus=int(value.get("cpus", 0) or 0),
                    memory_bytes=int(value.get("memory_bytes", 0) or 0),
                    gpus=int(value.get("gpus", 0) or 0),
                )
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            logger.warning("capacity.pool_limits_unreadable path=%s error=%s", path, exc)
            return {}
        self._limits_cache = (key, limits)
        return limits

    def write_pool_limits(self, limits: Mapping[str, Resources]) -> None:
        """Replace the per-pool limits file atomically (the scheduler calls this for run groups)."""
        data = {pool: asdict(limit) for pool, limit in limits.items()}
        _atomic_write(self.directory / POOL_LIMITS_FILE, json.dumps(data, sort_keys=True).encode())

    def _release_now(self, reservations: Sequence[Reservation]) -> None:
        """Remove ``reservations`` from the ledger and wake this process's waiters."""
        gone = {r.id for r in reservations}
        with self._store.locked():
            entries = self._live_entries()
            self._store.write([e for e in entries if e.id not in gone])
        self._waker.drop(reservations)
        self._waker.notify()
        logger.debug("capacity.released ids=%s", ",".join(sorted(gone)))

    def _fits(self, entries: list[Reservation], want: Resources, pool: str, limits: Mapping[str, Resources]) -> bool:
        """Whether ``want`` fits beside ``entries``, on the machine and within its pool's limit."""
        if not _fits(_sum(entries), want, self.total):
            return False
        if not pool:
            return True
        return _fits(_sum([e for e in entries if e.pool == pool]), want, limits.get(pool, Resources()))

    def _may_hand_over(self, reservation: Reservation) -> bool:
        """Whether ``reservation`` may pass to another waiter unchanged.

        It must be this process's, and no pool limit, which may have been lowered since it was granted, may
        need checking again.
        """
        if reservation.pid != self._owner()[0]:
            return False
        return not reservation.pool or reservation.pool not in self.pool_limits()

    def _owner(self) -> tuple[int, int]:
        """This process's pid and start time (re-read after a fork)."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._pid_start = _proc.start_ticks(self._pid) or 0
        return self._pid, self._pid_start

    def _live_entries(self) -> list[Reservation]:
        """Ledger entries whose owner still runs (call with the lock held)."""
        return self._store.live_entries(self._owner())


def _sum(entries: list[Reservation]) -> Resources:
    return Resources(
        cpus=sum(e.cpus for e in entries),
        memory_bytes=sum(e.memory_bytes for e in entries),
        gpus=sum(e.gpus for e in entries),
    )


def _fits(used: Resources, want: Resources, limit: Resources) -> bool:
    """Whether ``used + want`` stays within ``limit``; a 0 in ``limit`` means unlimited."""
    return all(
        most <= 0 or have + more <= most
        for have, more, most in (
            (used.cpus, want.cpus, limit.cpus),
            (used.memory_bytes, want.memory_bytes, limit.memory_bytes),
            (used.gpus, want.gpus, limit.gpus),
        )
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
