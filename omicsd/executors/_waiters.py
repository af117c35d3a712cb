"""The capacity ledger's side within one process: its waiters, and reservations passed on without the file.

Owns: :class:`Waker`, one per ledger directory and process (:func:`waker_for`). Waiters sleep on it until a
release wakes them, or until a release hands them its reservation (:meth:`Waker.hand_over`) because they ask
for exactly its resources (a :class:`Slot`). A release nobody here is waiting for is *parked* for
:data:`LINGER` seconds (:meth:`Waker.park`): the next request of the same shape in this process takes it over
(:meth:`Waker.unpark`), so that a run whose tasks start one after another does not rewrite the ledger twice per
task; a parked reservation nobody took is released through the file by a flusher thread.
Which reservations this process holds is tracked by object, so that releasing one twice is harmless.
Must not: read or write the ledger file (the callback given to :meth:`Waker.park` does) or decide what fits.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from omicsd.executors._ledger_store import Reservation

logger = logging.getLogger(__name__)

LINGER = 0.02
"""Seconds a released reservation stays parked for a request of the same shape in this process."""

Flush = Callable[[Sequence[Reservation]], None]
"""Releases reservations through the ledger file."""


@dataclass(eq=False)
class Slot:
    """A waiter of this process, asking for one shape of reservation."""

    cpus: int
    memory_bytes: int
    gpus: int
    pool: str
    reservation: Reservation | None = None
    """Set when a released reservation was handed to this waiter."""
    wakeup: threading.Condition | None = None
    """What its waiter sleeps on once queued (it shares the :class:`Waker`'s lock)."""

    def fits(self, reservation: Reservation) -> bool:
        """Whether ``reservation`` is exactly what this waiter asks for."""
        return (self.cpus, self.memory_bytes, self.gpus, self.pool) == (
            reservation.cpus,
            reservation.memory_bytes,
            reservation.gpus,
            reservation.pool,
        )


class Waker:
    """The waiters and the held and parked reservations of one ledger in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._slots: list[Slot] = []
        self._held: dict[str, Reservation] = {}
        self._parked: list[tuple[Reservation, float]] = []
        self._flush: Flush | None = None
        self._flusher: threading.Thread | None = None
        self.generation = 0

    # ownership

    def hold(self, reservation: Reservation) -> None:
        """Note that ``reservation`` (just written to the ledger) is owned in this process."""
        with self._cond:
            self._held[reservation.id] = reservation

    def stale(self, reservation: Reservation) -> bool:
        """Whether ``reservation`` was passed on already: its entry now belongs to another object."""
        with self._cond:
            owner = self._held.get(reservation.id)
            return owner is not None and owner is not reservation

    def drop(self, reservations: Sequence[Reservation]) -> None:
        """Note that ``reservations`` left the ledger."""
        with self._cond:
            for reservation in reservations:
                if self._held.get(reservation.id) is reservation:
                    del self._held[reservation.id]

    # waiting

    def notify(self) -> None:
        """Wake every waiter (a reservation was released)."""
        with self._cond:
            self.generation += 1
            self._cond.notify_all()
            for slot in self._slots:
                if slot.wakeup is not None:
                    slot.wakeup.notify()

    def wait(self, seen: int, timeout: float, slot: Slot | None = None) -> bool:
        """Sleep until the generation differs from ``seen``, ``slot`` is handed a reservation, or ``timeout`` passes.

        Returns:
            Whether the generation changed or the slot was filled.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            cond = slot.wakeup if slot is not None and slot.wakeup is not None else self._cond
            while self.generation == seen and (slot is None or slot.reservation is None):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                cond.wait(left)
            return True

    def enlist(self, slot: Slot) -> None:
        """Queue ``slot`` for hand-overs (a no-op when it is queued)."""
        with self._cond:
            if slot not in self._slots:
                slot.wakeup = slot.wakeup or threading.Condition(self._lock)
                self._slots.append(slot)

    def withdraw(self, slot: Slot) -> Reservation | None:
        """Stop queueing ``slot``; returns the reservation it was handed meanwhile, which its waiter now owns."""
        with self._cond:
            if slot in self._slots:
                self._slots.remove(slot)
            handed, slot.reservation = slot.reservation, None
            return handed

    # passing reservations on

    def hand_over(self, reservation: Reservation) -> bool:
        """Pass ``reservation`` to the longest-waiting slot of exactly its shape; whether one took it.

        The ledger entry is neither removed nor rewritten: it keeps naming this process, which still holds it.
        The slot gets a copy, so that releasing the original again is recognised as :meth:`stale`.
        """
        with self._cond:
            if self._held.get(reservation.id) is not reservation:
                return False
            for slot in self._slots:
                if slot.reservation is None and slot.fits(reservation):
                    slot.reservation = self._held[reservation.id] = replace(reservation)
                    self._slots.remove(slot)
                    if slot.wakeup is not None:
                        slot.wakeup.notify()  # only this waiter: the others keep sleeping
                    return True
        return False

    def park(self, reservation: Reservation, flush: Flush) -> bool:
        """Keep ``reservation`` for :data:`LINGER` seconds for the next request of its shape; whether it was.

        It is not parked when a waiter of another shape needs the capacity now. ``flush`` releases it (with
        others that expired) once nobody took it.
        """
        with self._cond:
            if self._held.get(reservation.id) is not reservation or self._slots:
                return False
            self._parked.append((reservation, time.monotonic() + LINGER))
            self._flush = flush
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._flush_loop, name="omicsd-ledger-linger", daemon=True)
                self._flusher.start()
            self._cond.notify_all()
            return True

    def unpark(self, slot: Slot) -> Reservation | None:
        """Take the newest parked reservation of exactly ``slot``'s shape (a copy, now its owner's), if any."""
        with self._cond:
            for index in range(len(self._parked) - 1, -1, -1):
                parked = self._parked[index][0]
                if slot.fits(parked):
                    del self._parked[index]
                    taken = self._held[parked.id] = replace(parked)
                    return taken
        return None

    def take_parked(self) -> list[Reservation]:
        """Take every parked reservation, for the caller to release through the file now."""
        with self._cond:
            taken, self._parked = [reservation for reservation, _ in self._parked], []
            return taken

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    expired = [reservation for reservation, until in self._parked if until <= now]
                    if expired:
                        self._parked = [(r, until) for r, until in self._parked if until > now]
                        flush = self._flush
                        break
                    self._cond.wait(min((until for _, until in self._parked), default=now + 60.0) - now)
            try:
                if flush is not None:
                    flush(expired)
            except Exception:  # keep lingering working; the ledger's liveness check reclaims on exit anyway
                logger.exception("capacity.linger_flush_failed")


_WAKERS: dict[str, Waker] = {}
_WAKERS_LOCK = threading.Lock()


def waker_for(directory: Path) -> Waker:
    """The one :class:`Waker` this process uses for the ledger in ``directory``."""
    key = os.path.realpath(directory)
    with _WAKERS_LOCK:
        return _WAKERS.setdefault(key, Waker())
