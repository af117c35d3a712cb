"""Helpers for tests of the CWL driver: a run directory with a definition, local buckets and logs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omicsd.engines.cwl.driver import preload, run_driver
from omicsd.engines.events import Event, RunFinished, TaskCreated, TaskFinished
from omicsd.engines.journal import journal_path, read_events
from omicsd.engines.spec import ExecutorSpec, RunSpec, write_spec
from omicsd.logs.files import LogReader
from omicsd.logs.streams import LOG_GROUP, engine_stream, task_stream

RUN_ID = "7654321"
CWL_RUNS = Path(__file__).resolve().parents[2] / "data" / "cwl_runs"


@dataclass
class Run:
    """One CWL driver run laid out under a temporary directory."""

    root: Path
    run_dir: Path
    buckets: Path
    logs: Path
    spec: RunSpec
    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    returncode: int | None = None
    stderr: str = ""

    def start(self) -> int:
        """Start the driver the way a warm fork server does: fork this (preloaded) process, run the run.

        A process with other threads is not forked (a lock one of them holds would stay locked in the
        child): the driver then starts as a new interpreter instead.
        """
        if threading.active_count() > 1:
            return self.start_process().pid
        preload()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                fd = os.open(self.root / "driver.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.setsid()
                code = run_driver(self.run_dir)
            finally:
                os._exit(code)
        self.pid = pid
        return pid

    def start_process(self) -> subprocess.Popen[bytes]:
        """Start the driver as the supervisor does: ``python -m omicsd.engines.cwl.driver <run_dir>``."""
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omicsd.engines.cwl.driver", str(self.run_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.pid = self.process.pid
        return self.process

    def wait(self, timeout: float = 120) -> Run:
        if self.process is not None:
            _, err = self.process.communicate(timeout=timeout)
            self.returncode = self.process.returncode
            self.stderr = err.decode(errors="replace")
            return self
        assert self.pid is not None
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"driver still running after {timeout}s")
            time.sleep(0.01)
        log = self.root / "driver.log"
        self.stderr = log.read_text(errors="replace") if log.exists() else ""
        return self

    def run(self, timeout: float = 120) -> Run:
        self.start()
        return self.wait(timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.pid is not None
        os.kill(self.pid, sig)

    def events(self) -> list[Event]:
        return read_events(journal_path(self.run_dir))[0]

    def finished(self) -> RunFinished:
        last = self.events()[-1]
        assert isinstance(last, RunFinished), (last, self.stderr[-3000:])
        return last

    def tasks(self) -> list[TaskCreated]:
        return [e for e in self.events() if isinstance(e, TaskCreated)]

    def task_named(self, name: str) -> TaskCreated:
        (task,) = [t for t in self.tasks() if t.name == name]
        return task

    def task_results(self) -> dict[str, TaskFinished]:
        return {e.task_id: e for e in self.events() if isinstance(e, TaskFinished)}

    def wait_for_event(self, predicate: Any, timeout: float = 30) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no matching event within {timeout}s: {self.events()}")

    def bucket_file(self, uri: str) -> Path:
        assert uri.startswith("s3://")
        return self.buckets / uri[5:]

    def outputs_json(self) -> dict[str, Any]:
        path = self.bucket_file(f"{self.spec.run_output_uri}/logs/outputs.json")
        result: dict[str, Any] = json.loads(path.read_text())
        return result

    def stream_messages(self, stream: str) -> list[str]:
        reader = LogReader(self.logs)
        if not reader.exists(LOG_GROUP, stream):
            return []
        page = reader.read(LOG_GROUP, stream, limit=10000)
        return [event.message for event in page.events]

    def engine_log(self) -> list[str]:
        return self.stream_messages(engine_stream(self.spec.run_id))

    def task_log(self, task_id: str) -> list[str]:
        return self.stream_messages(task_stream(self.spec.run_id, task_id))


def make_run(
    tmp_path: Path,
    definition: str | dict[str, str],
    parameters: dict[str, Any] | None = None,
    *,
    main: str = "main.cwl",
    bucket_objects: dict[str, bytes] | None = None,
    network: bool = True,
    storage_type: str = "DYNAMIC",
    storage_capacity_gib: int = 1200,
    log_level: str = "ALL",
    cpus: int = 2,
    memory_gib: int = 8,
) -> Run:
    """Lay out a run.

    ``definition`` is a folder name under ``tests/data/cwl_runs`` (copied) or a mapping of file names to
    their text; ``bucket_objects`` maps ``s3://`` URIs to their bytes.
    """
    root = tmp_path
    target = root / "definition"
    if isinstance(definition, str):
        shutil.copytree(CWL_RUNS / definition, target)
    else:
        for name, text in definition.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(text)
    buckets = root / "buckets"
    buckets.mkdir()
    for uri, data in (bucket_objects or {}).items():
        path = buckets / uri[5:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    run_dir = root / "run"
    run_dir.mkdir()
    spec = RunSpec(
        run_id=RUN_ID,
        run_uuid="0a8b6f3a-1111-4222-8333-444455556666",
        engine="CWL",
        workflow_name="test",
        definition_dir=str(target),
        main=main,
        parameters=parameters or {},
        run_output_uri=f"s3://outputs/runs/{RUN_ID}",
        buckets_root=str(buckets),
        logs_root=str(root / "logs"),
        capacity_dir=str(root / "capacity"),
        log_level=log_level,
        network=network,
        storage_type=storage_type,
        storage_capacity_gib=storage_capacity_gib,
        executor=ExecutorSpec(cpus=cpus, memory_gib=memory_gib, network_isolation="auto"),
    )
    write_spec(run_dir, spec)
    return Run(root=root, run_dir=run_dir, buckets=buckets, logs=root / "logs", spec=spec)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False
