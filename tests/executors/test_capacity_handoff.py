"""A release handed straight to a waiter of the same process, without rewriting the ledger."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from omicsd.executors import _waiters, capacity
from omicsd.executors._ledger_store import Reservation
from omicsd.executors.capacity import LEDGER_FILE, CapacityLedger, Resources

GIB = 1024**3


@pytest.fixture(autouse=True)
def _never_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an in-process hand-over or wake-up can end a wait in time."""
    for name in ("_FIRST_BACKOFF", "_MAX_BACKOFF", "_BUSY_MAX_BACKOFF"):
        monkeypatch.setattr(capacity, name, 60.0)


def _waiter(ledger: CapacityLedger, cpus: int, memory_bytes: int = 0, pool: str = "") -> tuple[threading.Thread, list]:
    """A thread blocked in ``acquire`` once its slot is queued for hand-overs."""
    got: list[Reservation | None] = []
    queued = len(ledger._waker._slots)
    thread = threading.Thread(target=lambda: got.append(ledger.acquire(cpus, memory_bytes, pool=pool)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while len(ledger._waker._slots) == queued:
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.001)
    return thread, got


def _file_key(directory: Path) -> tuple[int, int]:
    stat = os.stat(directory / LEDGER_FILE)
    return stat.st_ino, stat.st_mtime_ns


def test_a_release_hands_the_reservation_over_without_rewriting_the_ledger(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1, memory_bytes=4 * GIB)
    held = ledger.try_acquire(1, GIB)
    assert held is not None
    thread, got = _waiter(ledger, 1, GIB)
    before = _file_key(tmp_path)
    ledger.release(held)
    thread.join(5)
    assert not thread.is_alive() and len(got) == 1
    (taken,) = got
    assert taken is not None and taken.id == held.id and taken is not held
    assert _file_key(tmp_path) == before, "a hand-over must not touch the ledger file"
    assert ledger.usage().entries == 1
    ledger.release(taken)
    assert ledger.usage().entries == 0


def test_releasing_a_handed_over_reservation_again_changes_nothing(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    thread, got = _waiter(ledger, 1)
    ledger.release(held)
    thread.join(5)
    ledger.release(held)  # a second release of the original: its entry now belongs to the waiter
    assert ledger.usage().entries == 1
    assert ledger.try_acquire(1) is None, "the waiter's reservation must still count"
    (taken,) = got
    assert taken is not None
    ledger.release(taken)
    assert ledger.usage().entries == 0


def test_a_waiter_of_another_shape_gets_capacity_through_the_ledger(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1, memory_bytes=4 * GIB)
    held = ledger.try_acquire(1)
    assert held is not None
    thread, got = _waiter(ledger, 1, GIB)
    ledger.release(held)
    thread.join(5)
    (taken,) = got
    assert taken is not None and taken.id != held.id and taken.memory_bytes == GIB


def test_a_pool_with_a_limit_is_admitted_again_through_the_ledger(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2)
    ledger.write_pool_limits({"group": Resources(cpus=1)})
    held = ledger.try_acquire(1, pool="group")
    assert held is not None
    thread, got = _waiter(ledger, 1, pool="group")
    ledger.release(held)
    thread.join(5)
    (taken,) = got
    assert taken is not None and taken.id != held.id and taken.pool == "group"


def test_a_release_nobody_waits_for_is_taken_over_by_the_next_acquire(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1)
    first = ledger.try_acquire(1)
    assert first is not None
    before = _file_key(tmp_path)
    ledger.release(first)
    again = ledger.acquire(1)
    assert again is not None and again.id == first.id
    assert _file_key(tmp_path) == before, "a reservation taken over from the parking must not touch the file"
    ledger.release(again)
    assert ledger.usage().entries == 0, "usage() releases what is parked"


def test_a_parked_reservation_leaves_the_ledger_after_the_linger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_waiters, "LINGER", 0.05)
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    ledger.release(held)
    other = CapacityLedger(tmp_path, cpus=1)
    other._waker = _waiters.Waker()  # as another process sees it: no parked reservation to take over
    assert other.try_acquire(1) is None, "parked capacity still counts for everyone else"
    deadline = time.monotonic() + 5
    while (late := other.try_acquire(1)) is None:
        assert time.monotonic() < deadline, "the parked reservation was never released"
        time.sleep(0.01)
    assert late.id != held.id


def test_a_request_that_does_not_fit_releases_the_parked_reservations_first(tmp_path: Path) -> None:
    ledger = CapacityLedger(tmp_path, cpus=2)
    small = ledger.try_acquire(1)
    assert small is not None
    ledger.release(small)
    big = ledger.try_acquire(2)
    assert big is not None and big.cpus == 2
    assert ledger.usage().entries == 1


def test_a_reservation_handed_to_a_failing_waiter_is_passed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    errors: list[BaseException] = []

    def waiting() -> None:
        try:
            ledger.acquire(1)
        except OSError as exc:
            errors.append(exc)

    thread = threading.Thread(target=waiting, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not ledger._waker._slots:
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.001)

    def handed_over_then_failing(*args: object, **kwargs: object) -> None:
        assert ledger._waker.hand_over(held)  # a release lands just as the waiter's next attempt fails
        raise OSError("the ledger became unreadable")

    monkeypatch.setattr(ledger, "try_acquire", handed_over_then_failing)
    ledger._waker.notify()
    thread.join(5)
    assert not thread.is_alive() and len(errors) == 1
    monkeypatch.undo()
    assert ledger.usage().entries == 0, "the reservation the failing waiter was handed is released"


def test_a_release_during_a_waiters_attempt_is_handed_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_waiters, "LINGER", 60.0)  # a parked reservation would keep the waiter waiting
    ledger = CapacityLedger(tmp_path, cpus=1)
    held = ledger.try_acquire(1)
    assert held is not None
    attempt = ledger.try_acquire

    def released_meanwhile(*args: object, **kwargs: object) -> Reservation | None:
        found = attempt(1)
        ledger.release(held)  # lands after the attempt failed, before the waiter sleeps
        return found

    monkeypatch.setattr(ledger, "try_acquire", released_meanwhile)
    got: list[Reservation | None] = []
    thread = threading.Thread(target=lambda: got.append(ledger.acquire(1)), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the release was parked instead of handed to the waiter"
    (taken,) = got
    assert taken is not None and taken.id == held.id
