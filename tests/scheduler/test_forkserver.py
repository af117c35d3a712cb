"""The fork server: preloads driver modules once, forks session-leader drivers on request, reaps them."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omicsd.scheduler.forkserver import ForkServer, ForkServerUnavailable
from omicsd.scheduler.supervisor import attach, process_start

FAKE_DRIVER = """
import json, os, sys, time
from pathlib import Path

PRELOADED = {}


def preload():
    PRELOADED["pid"] = os.getpid()
    PRELOADED["count"] = PRELOADED.get("count", 0) + 1


def run_driver(run_dir):
    root = Path(run_dir)
    print("to stdout")
    print("to stderr", file=sys.stderr)
    facts = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "preloaded": PRELOADED,
        "stdin": sys.stdin.read(),
    }
    (root / "facts.json").write_text(json.dumps(facts))
    while (root / "hold").exists():
        time.sleep(0.02)
    if (root / "crash").exists():
        raise RuntimeError("driver crashed on purpose")
    return int((root / "code").read_text()) if (root / "code").exists() else 0
"""

BROKEN_DRIVER = """
def preload():
    raise RuntimeError("engine missing")


def run_driver(run_dir):
    return 0
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two driver modules importable by the helper: a working fake and one whose preload fails."""
    lib = tmp_path / "lib"
    lib.mkdir()
    suffix = tmp_path.name.replace("-", "_")
    (lib / f"fake_driver_{suffix}.py").write_text(FAKE_DRIVER)
    (lib / f"broken_driver_{suffix}.py").write_text(BROKEN_DRIVER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")]))
    return suffix


@pytest.fixture
def forkserver(modules: str, tmp_path: Path) -> Iterator[ForkServer]:
    fs = ForkServer.start([f"fake_driver_{modules}", f"broken_driver_{modules}"], log_path=tmp_path / "fs.log")
    assert fs.wait_ready(30)
    yield fs
    fs.close()


def run_dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "runs" / name
    path.mkdir(parents=True)
    return path


def eventually(check: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def facts(path: Path) -> dict[str, object]:
    """What the fake driver recorded, once it has written the whole file."""
    data: dict[str, object] = {}

    def complete() -> bool:
        try:
            data.update(json.loads((path / "facts.json").read_text()))
        except (FileNotFoundError, ValueError):
            return False
        return True

    eventually(complete)
    return data


def test_launch_runs_the_driver_in_a_new_session_in_its_run_dir(
    forkserver: ForkServer, modules: str, tmp_path: Path
) -> None:
    path = run_dir(tmp_path, "a")
    (path / "code").write_text("0")
    pid = forkserver.launch(f"fake_driver_{modules}", path)
    got = facts(path)
    assert got["pid"] == pid
    assert got["sid"] == pid  # its own session: a restart of the server does not take it down
    assert got["ppid"] == forkserver.process.pid  # forked by the helper, not by the server
    assert got["cwd"] == str(path)
    assert got["argv"] == [str(tmp_path / "lib" / f"fake_driver_{modules}.py"), str(path)]
    assert got["stdin"] == ""
    eventually(lambda: forkserver.exit_status(pid) is not None)
    log = (path / "driver.log").read_text()
    assert "to stdout" in log and "to stderr" in log


def test_preload_runs_once_in_the_helper_and_children_inherit_it(
    forkserver: ForkServer, modules: str, tmp_path: Path
) -> None:
    first, second = run_dir(tmp_path, "a"), run_dir(tmp_path, "b")
    forkserver.launch(f"fake_driver_{modules}", first)
    forkserver.launch(f"fake_driver_{modules}", second)
    for path in (first, second):
        assert facts(path)["preloaded"] == {"pid": forkserver.process.pid, "count": 1}
    assert forkserver.preloaded == frozenset({f"fake_driver_{modules}"})


def test_exit_status_is_reported_and_children_are_reaped(forkserver: ForkServer, modules: str, tmp_path: Path) -> None:
    ok, failing, crashing = run_dir(tmp_path, "ok"), run_dir(tmp_path, "failing"), run_dir(tmp_path, "crashing")
    (failing / "code").write_text("3")
    (crashing / "crash").write_text("")
    pids = {name: forkserver.launch(f"fake_driver_{modules}", p) for name, p in (("ok", ok), ("failing", failing))}
    pids["crashing"] = forkserver.launch(f"fake_driver_{modules}", crashing)
    eventually(lambda: all(forkserver.exit_status(pid) is not None for pid in pids.values()))
    assert forkserver.exit_status(pids["ok"]) == 0
    assert forkserver.exit_status(pids["failing"]) == 3
    assert forkserver.exit_status(pids["crashing"]) == 1
    assert "RuntimeError: driver crashed on purpose" in (crashing / "driver.log").read_text()
    for pid in pids.values():  # reaped: no zombie left behind
        assert not Path(f"/proc/{pid}").exists()


def test_on_exit_hears_of_each_ended_driver_once_its_status_is_known(modules: str, tmp_path: Path) -> None:
    heard: list[tuple[int, int | None]] = []
    fs = ForkServer.start(
        [f"fake_driver_{modules}"],
        log_path=tmp_path / "fs.log",
        on_exit=lambda pid: heard.append((pid, fs.exit_status(pid))),
    )
    try:
        assert fs.wait_ready(30)
        failing = run_dir(tmp_path, "failing")
        (failing / "code").write_text("3")
        pids = [
            fs.launch(f"fake_driver_{modules}", run_dir(tmp_path, "ok")),
            fs.launch(f"fake_driver_{modules}", failing),
        ]
        eventually(lambda: len(heard) == 2)
    finally:
        fs.close()
    assert sorted(heard) == sorted([(pids[0], 0), (pids[1], 3)])


def test_a_live_driver_is_seen_through_proc_like_a_reattached_one(
    forkserver: ForkServer, modules: str, tmp_path: Path
) -> None:
    path = run_dir(tmp_path, "held")
    (path / "hold").write_text("")
    pid = forkserver.launch(f"fake_driver_{modules}", path)
    facts(path)
    start = process_start(pid)
    assert start is not None
    driver = attach("run-1", pid, start)
    assert driver is not None and driver.alive()
    (path / "hold").unlink()
    eventually(lambda: not driver.alive())
    assert forkserver.exit_status(pid) == 0


def test_a_driver_whose_preload_failed_is_refused_with_the_reason(
    forkserver: ForkServer, modules: str, tmp_path: Path
) -> None:
    with pytest.raises(ForkServerUnavailable, match="engine missing"):
        forkserver.launch(f"broken_driver_{modules}", run_dir(tmp_path, "a"))
    with pytest.raises(ForkServerUnavailable, match="not requested"):
        forkserver.launch("some.other.driver", run_dir(tmp_path, "b"))


def test_drivers_outlive_the_fork_server(forkserver: ForkServer, modules: str, tmp_path: Path) -> None:
    path = run_dir(tmp_path, "held")
    (path / "hold").write_text("")
    pid = forkserver.launch(f"fake_driver_{modules}", path)
    facts(path)
    forkserver.close()
    assert not forkserver.alive()
    assert process_start(pid) is not None  # still running after the helper left
    with pytest.raises(ForkServerUnavailable):
        forkserver.launch(f"fake_driver_{modules}", run_dir(tmp_path, "late"))
    (path / "hold").unlink()
    eventually(lambda: process_start(pid) is None)


def test_a_killed_helper_is_reported_dead_and_refuses_launches(
    forkserver: ForkServer, modules: str, tmp_path: Path
) -> None:
    assert forkserver.alive()
    os.kill(forkserver.process.pid, signal.SIGKILL)
    eventually(lambda: not forkserver.alive())
    with pytest.raises(ForkServerUnavailable, match="not running"):
        forkserver.launch(f"fake_driver_{modules}", run_dir(tmp_path, "a"))


def test_the_helper_exits_when_the_server_side_closes(forkserver: ForkServer) -> None:
    helper = forkserver.process
    forkserver.close()
    assert helper.poll() == 0


@pytest.mark.slow
def test_the_real_engine_drivers_preload_in_the_helper(tmp_path: Path) -> None:
    modules = ["omicsd.engines.wdl.driver", "omicsd.engines.cwl.driver"]
    fs = ForkServer.start(modules, log_path=tmp_path / "fs.log")
    try:
        assert fs.wait_ready(120)
        assert fs.preloaded == frozenset(modules)
        status = Path(f"/proc/{fs.process.pid}/status").read_text()
        assert "Threads:\t1\n" in status  # forking is only safe from a single-threaded process
    finally:
        fs.close()
