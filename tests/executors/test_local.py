from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omicsd.errors import ValidationError
from omicsd.executors import _proc
from omicsd.executors.base import TaskRequest
from omicsd.executors.capacity import CapacityLedger
from omicsd.executors.local import LocalExecutor

Make = Callable[..., TaskRequest]


def _alive(pid: int) -> bool:
    stat = _proc.read_stat(pid)
    return stat is not None and not stat.zombie


def _wait_for_file(path: Path, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.01)


def test_exit_status_and_output_files_are_appended(executor: LocalExecutor, make_request: Make) -> None:
    request = make_request(["bash", "-c", "echo out; echo err >&2; exit 3"])
    first = executor.run(request)
    second = executor.run(request)
    assert first.exit_status == 3 and second.exit_status == 3
    assert request.stdout_path.read_text() == "out\nout\n"
    assert request.stderr_path.read_text() == "err\nerr\n"
    assert first.start_time <= first.end_time <= second.start_time
    assert not (first.cancelled or first.timed_out or first.oom_killed)


def test_on_start_receives_the_start_time(executor: LocalExecutor, make_request: Make) -> None:
    seen: list[float] = []
    result = executor.run(make_request(["true"]), on_start=seen.append)
    assert seen == [result.start_time]


def test_killed_by_signal_reports_128_plus_signal(executor: LocalExecutor, make_request: Make) -> None:
    assert executor.run(make_request(["bash", "-c", "kill -USR1 $$"])).exit_status == 128 + 10


def test_environment_is_minimal_and_cwd_is_the_work_dir(
    executor: LocalExecutor, make_request: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMICSD_TEST_SECRET", "leak")
    request = make_request(
        ["bash", "-c", 'pwd; echo "H=$HOME S=${OMICSD_TEST_SECRET:-none} X=$X"; test -d "$TMPDIR" && echo "T=$TMPDIR"'],
        env={"X": "1"},
    )
    result = executor.run(request)
    assert result.exit_status == 0
    lines = request.stdout_path.read_text().splitlines()
    assert lines[0] == str(request.cwd)
    assert lines[1] == f"H={request.cwd} S=none X=1"
    assert lines[2] == f"T={request.cwd / '.tmp'}"
    assert not (request.cwd / ".tmp").exists(), "the TMPDIR omicsd created is removed afterwards"


def test_a_tmpdir_left_with_files_is_removed(executor: LocalExecutor, make_request: Make) -> None:
    request = make_request(["bash", "-c", 'mkdir -p "$TMPDIR/sub" && echo x > "$TMPDIR/sub/f"'])
    assert executor.run(request).exit_status == 0
    assert not (request.cwd / ".tmp").exists()


def test_missing_command_is_exit_127(executor: LocalExecutor, make_request: Make) -> None:
    request = make_request(["/nonexistent/tool", "x"])
    assert executor.run(request).exit_status == 127
    assert "/nonexistent/tool" in request.stderr_path.read_text()


def test_background_children_are_killed_when_the_command_exits(executor: LocalExecutor, make_request: Make) -> None:
    request = make_request(["bash", "-c", "sleep 1000 & echo $! > bg.pid; exit 0"])
    result = executor.run(request)
    assert result.exit_status == 0
    assert not _alive(int((request.cwd / "bg.pid").read_text()))


def test_children_that_left_the_session_are_killed_too(executor: LocalExecutor, make_request: Make) -> None:
    script = "setsid sleep 1000 & echo $! > bg.pid; while [ ! -e sampled ]; do sleep 0.01; done"
    request = make_request(["bash", "-c", script])

    def sample_then_release() -> None:
        _wait_for_file(request.cwd / "bg.pid")
        deadline = time.monotonic() + 5
        while not executor.monitor._watches:  # run() registers the task right after starting it
            assert time.monotonic() < deadline, "the task was never watched"
            time.sleep(0.005)
        executor.monitor.sample_now()
        (request.cwd / "sampled").touch()

    helper = threading.Thread(target=sample_then_release)
    helper.start()
    executor.run(request)
    helper.join()
    pid = int((request.cwd / "bg.pid").read_text())
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("a process that called setsid outlived its task")


def test_cancel_kills_the_whole_group(executor: LocalExecutor, make_request: Make) -> None:
    request = make_request(["bash", "-c", "sleep 1000 & echo $! > bg.pid; trap '' TERM; sleep 1000"])
    pid_file = request.cwd / "bg.pid"
    cancel = threading.Event()
    threading.Timer(0.2, lambda: (_wait_for_file(pid_file), cancel.set())).start()
    begun = time.monotonic()
    result = executor.run(request, should_cancel=cancel.is_set)
    assert result.cancelled and not result.timed_out
    assert result.exit_status in (143, 137)
    assert time.monotonic() - begun < 5
    assert not _alive(int(pid_file.read_text()))


def test_timeout_terminates_the_command(executor: LocalExecutor, make_request: Make) -> None:
    result = executor.run(make_request(["sleep", "30"], timeout_seconds=0.2))
    assert result.timed_out and not result.cancelled
    assert result.exit_status == 143
    assert result.end_time - result.start_time < 5


def test_memory_limit_kills_with_137(executor: LocalExecutor, make_request: Make) -> None:
    code = "import time; x = bytearray(256 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); time.sleep(30)"
    result = executor.run(make_request([sys.executable, "-c", code], memory_bytes=64 * 1024 * 1024))
    assert result.oom_killed
    assert result.exit_status == 137
    assert result.max_memory_bytes > 64 * 1024 * 1024


def test_metrics_of_a_busy_task(executor: LocalExecutor, make_request: Make) -> None:
    code = "import time\nwhile time.process_time() < 0.5: pass"
    result = executor.run(make_request([sys.executable, "-c", code]))
    assert result.exit_status == 0
    assert result.cpu_seconds >= 0.5
    assert result.max_cpus > 0 and result.avg_cpus > 0
    assert result.max_memory_bytes > 1024 * 1024
    assert 0 < result.avg_memory_bytes <= result.max_memory_bytes


def test_restricted_network_cannot_reach_a_local_listener(executor: LocalExecutor, make_request: Make) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2).close()"
        allowed = executor.run(make_request([sys.executable, "-c", code], network=True))
        blocked = executor.run(make_request([sys.executable, "-c", code], network=False))
    assert allowed.exit_status == 0
    assert blocked.exit_status != 0


def test_a_request_larger_than_the_machine_is_rejected(executor: LocalExecutor, make_request: Make) -> None:
    with pytest.raises(ValidationError):
        executor.run(make_request(["true"], cpus=3))


def test_cancelled_while_waiting_for_capacity(
    ledger: CapacityLedger, executor: LocalExecutor, make_request: Make
) -> None:
    held = ledger.try_acquire(2)
    assert held is not None
    started: list[float] = []
    deadline = time.monotonic() + 0.2
    result = executor.run(
        make_request(["true"]), should_cancel=lambda: time.monotonic() > deadline, on_start=started.append
    )
    ledger.release(held)
    assert result.cancelled and started == []
    assert result.start_time == result.end_time


def test_capacity_is_released_after_the_run(
    ledger: CapacityLedger, executor: LocalExecutor, make_request: Make
) -> None:
    executor.run(make_request(["true"], cpus=2))
    assert ledger.usage().total.cpus == 0
    assert executor.capacity() == {"cpus": 2, "memory_bytes": 4 * 1024**3, "gpus": 0}


def test_cancelled_while_waiting_leaves_no_tmpdir(
    ledger: CapacityLedger, executor: LocalExecutor, make_request: Make
) -> None:
    held = ledger.try_acquire(2)
    assert held is not None
    request = make_request(["true"])
    result = executor.run(request, should_cancel=lambda: True)
    ledger.release(held)
    assert result.cancelled
    assert not (request.cwd / ".tmp").exists()
    open_files = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            open_files.add(os.readlink(f"/proc/self/fd/{fd}"))
    assert not open_files & {str(request.stdout_path), str(request.stderr_path)}, "the prepared files are closed"


def test_children_are_found_by_a_full_scan_when_the_last_pid_is_unknown(
    executor: LocalExecutor, make_request: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_proc, "last_pid", lambda: None)
    request = make_request(["bash", "-c", "sleep 1000 & echo $! > bg.pid; exit 0"])
    assert executor.run(request).exit_status == 0
    assert not _alive(int((request.cwd / "bg.pid").read_text()))


def test_children_of_a_task_older_than_a_pid_cycle_are_found_by_a_full_scan(
    executor: LocalExecutor, make_request: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_proc, "pid_cycle_seconds", lambda: 0.0)
    monkeypatch.setattr(_proc, "family_after", lambda *_: pytest.fail("the range must not be trusted"))
    request = make_request(["bash", "-c", "sleep 1000 & echo $! > bg.pid; exit 0"])
    assert executor.run(request).exit_status == 0
    assert not _alive(int((request.cwd / "bg.pid").read_text()))


def test_a_command_whose_thread_cannot_leave_the_namespace_is_killed(
    executor: LocalExecutor, make_request: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    from omicsd.executors import local
    from omicsd.executors.isolation import NetworkIsolation
    from omicsd.executors.netns import NamespaceError

    started: list[int] = []
    real_spawn = local._Workspace.spawn

    def spawn(self: object, *args: object) -> object:
        process = real_spawn(self, *args)  # type: ignore[arg-type]
        started.append(process.pid)
        return process

    class Stuck(NetworkIsolation):
        @contextmanager
        def spawning(self):  # type: ignore[no-untyped-def,override]
            yield
            raise NamespaceError("cannot return to the thread's network namespace")

    monkeypatch.setattr(local._Workspace, "spawn", spawn)
    monkeypatch.setattr(local, "network_isolation", lambda mode: Stuck())
    with pytest.raises(NamespaceError):
        executor.run(make_request(["sleep", "30"], network=False))
    assert len(started) == 1 and not _alive(started[0]), "the command does not outlive the failure"
    assert executor.ledger.try_acquire(2) is not None, "its capacity was released"
