"""The waiters of one process: wake-ups, hand-overs and parked reservations."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from omicsd.executors import _waiters
from omicsd.executors._ledger_store import Reservation
from omicsd.executors._waiters import Slot, Waker, waker_for


def _reservation(id: str = "r", cpus: int = 1) -> Reservation:
    return Reservation(id, os.getpid(), 1, cpus=cpus, memory_bytes=0, gpus=0, gpu_ids=(), pool="")


def test_one_waker_per_directory(tmp_path: Path) -> None:
    assert waker_for(tmp_path) is waker_for(tmp_path / ".")
    assert waker_for(tmp_path) is not waker_for(tmp_path / "other")
    waker = waker_for(tmp_path)
    seen = waker.generation
    assert not waker.wait(seen, 0.0)
    waker.notify()
    assert waker.wait(seen, 60.0)


def test_the_longest_waiting_slot_of_the_shape_is_handed_the_reservation() -> None:
    waker = Waker()
    reservation = _reservation()
    other_shape, first, second = Slot(2, 0, 0, ""), Slot(1, 0, 0, ""), Slot(1, 0, 0, "")
    for slot in (other_shape, first, second):
        waker.enlist(slot)
    assert not waker.hand_over(reservation), "only a reservation held in this process is handed over"
    waker.hold(reservation)
    assert waker.hand_over(reservation)
    assert other_shape.reservation is None and second.reservation is None
    handed = waker.withdraw(first)
    assert handed == reservation and handed is not reservation
    assert waker.stale(reservation) and not waker.stale(handed)
    assert not waker.hand_over(reservation), "a stale original cannot be handed over twice"
    assert waker.withdraw(second) is None and waker.withdraw(other_shape) is None


def test_a_waiter_woken_by_another_slot_keeps_waiting() -> None:
    waker = Waker()
    reservation = _reservation()
    waker.hold(reservation)
    mine, theirs = Slot(2, 0, 0, ""), Slot(1, 0, 0, "")
    waker.enlist(mine)
    waker.enlist(theirs)
    threading.Timer(0.05, waker.hand_over, args=(reservation,)).start()
    began = time.monotonic()
    assert not waker.wait(waker.generation, 0.3, mine), "a hand-over to another slot is not a wake-up for this one"
    assert time.monotonic() - began >= 0.25
    assert theirs.reservation is not None


class Flushes:
    """Records what the flusher releases."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.done = threading.Event()

    def __call__(self, reservations: Sequence[Reservation]) -> None:
        self.batches.append([r.id for r in reservations])
        self.done.set()


def test_a_parked_reservation_is_taken_over_by_the_next_request_of_its_shape() -> None:
    waker, flushes = Waker(), Flushes()
    reservation = _reservation()
    waker.hold(reservation)
    assert waker.park(reservation, flushes)
    assert waker.unpark(Slot(2, 0, 0, "")) is None, "another shape does not take it"
    taken = waker.unpark(Slot(1, 0, 0, ""))
    assert taken == reservation and taken is not reservation
    assert waker.stale(reservation), "the original was passed on"
    assert not flushes.done.wait(_waiters.LINGER * 5), "a reservation taken over is never released"


def test_a_parked_reservation_nobody_takes_is_released_after_the_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_waiters, "LINGER", 0.05)
    waker, flushes = Waker(), Flushes()
    reservation = _reservation()
    waker.hold(reservation)
    began = time.monotonic()
    assert waker.park(reservation, flushes)
    assert flushes.done.wait(5)
    assert flushes.batches == [["r"]] and time.monotonic() - began >= 0.05
    assert waker.unpark(Slot(1, 0, 0, "")) is None


def test_nothing_is_parked_while_a_waiter_needs_the_capacity() -> None:
    waker, flushes = Waker(), Flushes()
    reservation = _reservation()
    waker.hold(reservation)
    waker.enlist(Slot(2, 0, 0, ""))
    assert not waker.park(reservation, flushes)
    assert not waker.park(_reservation("never-held"), flushes), "only a reservation held here is parked"


def test_parked_reservations_can_be_taken_to_release_them_at_once() -> None:
    waker, flushes = Waker(), Flushes()
    first, second = _reservation("a"), _reservation("b", cpus=2)
    for reservation in (first, second):
        waker.hold(reservation)
        assert waker.park(reservation, flushes)
    assert waker.take_parked() == [first, second]
    assert waker.take_parked() == [] and waker.unpark(Slot(1, 0, 0, "")) is None
