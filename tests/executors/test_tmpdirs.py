"""Reusable task TMPDIRs: one per attempt running at once, emptied and handed out again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from omicsd.executors._tmpdirs import TmpDirs
from omicsd.executors.base import TaskRequest
from omicsd.executors.capacity import CapacityLedger
from omicsd.executors.local import LocalExecutor

Make = Callable[..., TaskRequest]


def test_a_given_back_directory_is_emptied_and_reused(tmp_path: Path) -> None:
    pool = TmpDirs(tmp_path / "tmp")
    first = pool.take()
    (first / "sub").mkdir()
    (first / "sub" / "f").write_text("x")
    (first / "g").write_text("y")
    (first / "link").symlink_to(tmp_path / "outside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_text("z")
    pool.give_back(first)
    assert list(first.iterdir()) == []
    assert (tmp_path / "outside" / "keep").read_text() == "z", "a symlink is removed, never followed"
    assert pool.take() == first


def test_attempts_at_the_same_time_get_distinct_directories(tmp_path: Path) -> None:
    pool = TmpDirs(tmp_path / "tmp")
    taken = [pool.take() for _ in range(3)]
    assert len(set(taken)) == 3 and all(path.is_dir() and path.parent == tmp_path / "tmp" for path in taken)
    for path in taken:
        pool.give_back(path)
    assert {pool.take() for _ in range(3)} == set(taken), "no new directory while old ones are free"


def test_leftovers_of_an_earlier_process_are_emptied(tmp_path: Path) -> None:
    (tmp_path / "tmp" / "1").mkdir(parents=True)
    (tmp_path / "tmp" / "1" / "old").write_text("x")
    path = TmpDirs(tmp_path / "tmp").take()
    assert path == tmp_path / "tmp" / "1" and list(path.iterdir()) == []


def test_a_directory_that_cannot_be_emptied_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = TmpDirs(tmp_path / "tmp")
    first = pool.take()
    monkeypatch.setattr("omicsd.executors._tmpdirs._emptied", lambda path: False)
    pool.give_back(first)
    monkeypatch.undo()
    assert not first.exists()
    assert pool.take() != first


@pytest.fixture
def pooled(ledger: CapacityLedger, tmp_path: Path) -> LocalExecutor:
    return LocalExecutor(ledger, network_isolation="auto", kill_grace=0.5, tmp_root=tmp_path / "task-tmp")


def test_the_executor_hands_tasks_pooled_tmpdirs(pooled: LocalExecutor, make_request: Make, tmp_path: Path) -> None:
    script = 'echo "$TMPDIR" > "$HOME/where"; test -z "$(ls -A "$TMPDIR")" && echo data > "$TMPDIR/f"'
    request = make_request(["bash", "-c", script])
    assert pooled.run(request).exit_status == 0
    first = Path((request.cwd / "where").read_text().strip())
    assert first.parent == tmp_path / "task-tmp" and list(first.iterdir()) == []
    assert not (request.cwd / ".tmp").exists()
    assert pooled.run(request).exit_status == 0, "the second attempt finds the directory empty"
    assert Path((request.cwd / "where").read_text().strip()) == first


def test_concurrent_tasks_never_share_a_tmpdir(pooled: LocalExecutor, make_request: Make) -> None:
    requests = [make_request(["bash", "-c", f'echo "$TMPDIR" > "$HOME/where{i}"; sleep 0.3'], cpus=1) for i in (0, 1)]
    threads = [threading.Thread(target=pooled.run, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    seen = {(requests[0].cwd / f"where{i}").read_text() for i in (0, 1)}
    assert len(seen) == 2


def test_a_request_naming_its_tmpdir_keeps_it(pooled: LocalExecutor, make_request: Make, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    request = make_request(["bash", "-c", 'echo "$TMPDIR" > "$HOME/where"'], env={"TMPDIR": str(mine)})
    assert pooled.run(request).exit_status == 0
    assert (request.cwd / "where").read_text().strip() == str(mine) and mine.is_dir()
