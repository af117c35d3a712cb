"""kill -9 of the server while runs execute, then a restart on the same data dir: every run still ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import all_tasks, omics_client, register, start, wait_run

pytestmark = pytest.mark.slow

NAP = """version 1.0
workflow nap {
  input { Int seconds }
  call sleep_task { input: seconds = seconds }
  output { String said = sleep_task.said }
}
task sleep_task {
  input { Int seconds }
  command <<< sleep ~{seconds}; echo rested >>>
  output { String said = read_string(stdout()) }
}
"""


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_"))}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "omicsd"), "serve", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)


def _processes_in(directory: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/cwd").startswith(directory):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _running(omics: Any, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while not any(t["status"] == "RUNNING" for t in all_tasks(omics, run_id)):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_kill_9_and_restart(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = tmp_path / "data"
    server = _serve(data, port)
    omics = omics_client(f"http://127.0.0.1:{port}")
    try:
        wid = register(omics, {"main.wdl": NAP})
        survivor = start(omics, wid, parameters={"seconds": 4})["id"]
        orphan = start(omics, wid, parameters={"seconds": 20})["id"]
        _running(omics, survivor)
        _running(omics, orphan)
        orphan_uuid = omics.get_run(id=orphan)["uuid"]
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    driver_pid = int((data / "runs" / orphan_uuid / "driver.pid").read_text())
    os.kill(driver_pid, signal.SIGKILL)

    server = _serve(data, port)
    try:
        done = wait_run(omics, survivor, timeout=60)
        assert done["status"] == "COMPLETED", done.get("statusMessage")
        lost = wait_run(omics, orphan, timeout=30)
        assert lost["status"] == "FAILED"
        assert "not running" in lost["statusMessage"]
        run_dir = str((data / "runs" / orphan_uuid).resolve())
        assert not _processes_in(run_dir), "the orphaned task was killed"
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
