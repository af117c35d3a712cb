"""Finding the processes created after a task's leader without reading every process."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omicsd.executors import _proc

FAMILY = "sleep 60 & echo $! > bg.pid; setsid sleep 60 & echo $! > away.pid; wait"


def _read_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)
    return int(path.read_text())


@pytest.fixture
def family(tmp_path: Path) -> Iterator[tuple[int, int, int, int]]:
    """``(leader, background child, child that left the session, unrelated process started later)``."""
    leader = subprocess.Popen(["bash", "-c", FAMILY], cwd=tmp_path, start_new_session=True)
    background, away = _read_pid(tmp_path / "bg.pid"), _read_pid(tmp_path / "away.pid")
    deadline = time.monotonic() + 5
    while os.getsid(away) != away:  # its pid is written before the child has left the session
        assert time.monotonic() < deadline, "setsid never ran"
        time.sleep(0.005)
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        yield leader.pid, background, away, unrelated.pid
    finally:
        for process in (leader, unrelated):
            process.kill()
            process.wait()
        for pid in (background, away):
            subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)


def test_the_pids_after_a_process_include_every_later_one(family: tuple[int, int, int, int]) -> None:
    leader, background, away, unrelated = family
    pids = _proc.pids_after(leader)
    assert pids is not None
    assert {background, away, unrelated} <= set(pids) and leader not in pids


def test_the_family_is_the_session_and_the_known_processes(family: tuple[int, int, int, int]) -> None:
    leader, background, away, unrelated = family
    found = _proc.family_after(leader)
    assert found is not None
    assert {s.pid for s in found} == {background}
    with_known = _proc.family_after(leader, {away})
    assert with_known is not None
    assert {s.pid for s in with_known} == {background, away}
    assert unrelated not in {s.pid for s in with_known}


def test_many_pids_are_narrowed_down_by_the_proc_listing(
    family: tuple[int, int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    leader, background, away, _ = family
    monkeypatch.setattr(_proc, "PROBE_LIMIT", 0)
    found = _proc.family_after(leader, {away})
    assert found is not None and {s.pid for s in found} == {background, away}


def test_the_stats_since_a_process_start_with_it(family: tuple[int, int, int, int]) -> None:
    leader, background, away, unrelated = family
    stats = _proc.stats_since(leader)
    assert stats is not None
    assert stats[0].pid == leader
    assert {background, away, unrelated} <= {s.pid for s in stats}


def test_pids_wrap_around_pid_max(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_proc, "last_pid", lambda: 3)
    monkeypatch.setattr(_proc, "pid_max", lambda: 10)
    assert _proc.pids_after(7) == [8, 9, 1, 2, 3]
    assert _proc.pids_after(3) == []


def test_without_the_last_pid_callers_scan_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_proc, "last_pid", lambda: None)
    assert _proc.pids_after(1) is None
    assert _proc.family_after(1) is None
    assert _proc.stats_since(1) is None


def test_the_last_pid_and_the_cycle_bound_are_read() -> None:
    last = _proc.last_pid()
    assert last is not None and 0 < last < _proc.pid_max()
    assert _proc.pid_cycle_seconds() == _proc.pid_max() / _proc.MAX_FORKS_PER_SECOND
