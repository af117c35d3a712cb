"""When the loop reads a driver's journal: run events at once, task events gathered for a while."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omicsd.engines import events as ev
from omicsd.scheduler import supervisor
from omicsd.scheduler.supervisor import Driver


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(supervisor.time, "monotonic", clock)
    return clock


def _driver(tmp_path: Path) -> Driver:
    journal = tmp_path / "events.jsonl"
    journal.touch()
    return Driver(run_id="1234567", pid=os.getpid(), start="", journal=journal)


def _append(driver: Driver, *events: ev.Event) -> None:
    assert driver.journal is not None
    with open(driver.journal, "ab") as handle:
        for event in events:
            handle.write(ev.encode(event))


def _task(n: int) -> ev.TaskStarting:
    return ev.TaskStarting(task_id=f"{n:07d}", time=1.0)


def test_task_events_wait_until_the_batch_interval_passed(tmp_path: Path, clock: Clock) -> None:
    driver = _driver(tmp_path)
    _append(driver, ev.RunStarted(time=1.0))
    assert driver.journal_grew()
    assert not driver.journal_grew(), "nothing new"
    _append(driver, _task(1))
    clock.now += supervisor.TASK_EVENTS_BATCH / 2
    assert not driver.journal_grew(), "task events alone wait for the batch interval"
    _append(driver, _task(2))
    clock.now += supervisor.TASK_EVENTS_BATCH / 2
    assert driver.journal_grew()
    assert not driver.journal_grew()


@pytest.mark.parametrize(
    "event",
    [
        ev.RunFinished(status="COMPLETED", time=2.0),
        ev.RunOutputs(outputs={}, outputs_uri="s3://b/o.json"),
        ev.InputsStaged(time=1.5),
    ],
    ids=lambda e: e.type,
)
def test_an_event_of_the_run_is_read_at_once(tmp_path: Path, clock: Clock, event: ev.Event) -> None:
    driver = _driver(tmp_path)
    _append(driver, ev.RunStarted(time=1.0))
    assert driver.journal_grew()
    _append(driver, _task(1))
    assert not driver.journal_grew()
    _append(driver, _task(2), event)
    assert driver.journal_grew(), "the run's own events are never held back"


def test_an_event_split_across_two_checks_is_still_seen(tmp_path: Path, clock: Clock) -> None:
    driver = _driver(tmp_path)
    _append(driver, ev.RunStarted(time=1.0))
    assert driver.journal_grew()
    line = ev.encode(ev.RunFinished(status="COMPLETED", time=2.0))
    cut = line.index(b'"type":"') + 3
    assert driver.journal is not None
    with open(driver.journal, "ab") as handle:
        handle.write(ev.encode(_task(1)) + line[:cut])
    assert not driver.journal_grew()
    with open(driver.journal, "ab") as handle:
        handle.write(line[cut:])
    assert driver.journal_grew()


def test_a_driver_without_a_journal_is_always_read(tmp_path: Path) -> None:
    assert Driver(run_id="1", pid=os.getpid(), start="").journal_grew()
    missing = Driver(run_id="1", pid=os.getpid(), start="", journal=tmp_path / "none.jsonl")
    assert not missing.journal_grew()
