"""Helpers for end-to-end tests of the WDL driver: a run directory with local buckets and logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omicsd.engines.events import Event, RunFinished, TaskCreated, TaskFinished
from omicsd.engines.journal import journal_path, read_events
from omicsd.engines.spec import ExecutorSpec, RunSpec, write_spec
from omicsd.logs.files import LogReader
from omicsd.logs.streams import LOG_GROUP, engine_stream, task_stream

RUN_ID = "1234567"


@dataclass
class Run:
    """One driver run laid out under a temporary directory."""

    root: Path
    run_dir: Path
    buckets: Path
    logs: Path
    spec: RunSpec
    process: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omicsd.engines.wdl.driver", str(self.run_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        return self.process

    def wait(self, timeout: float = 120) -> Run:
        assert self.process is not None
        _, err = self.process.communicate(timeout=timeout)
        self.returncode = self.process.returncode
        self.stderr = err.decode(errors="replace")
        return self

    def run(self, timeout: float = 120) -> Run:
        self.start()
        return self.wait(timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def events(self) -> list[Event]:
        return read_events(journal_path(self.run_dir))[0]

    def finished(self) -> RunFinished:
        last = self.events()[-1]
        assert isinstance(last, RunFinished), (last, self.stderr)
        return last

    def tasks(self) -> list[TaskCreated]:
        return [e for e in self.events() if isinstance(e, TaskCreated)]

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
    source: str,
    parameters: dict[str, Any] | None = None,
    *,
    files: dict[str, str] | None = None,
    bucket_objects: dict[str, bytes] | None = None,
    network: bool = True,
    storage_type: str = "DYNAMIC",
    storage_capacity_gib: int = 1200,
    log_level: str = "ALL",
    cpus: int = 2,
    memory_gib: int = 8,
    network_isolation: str = "auto",
) -> Run:
    """Lay out a run: definition (``main.wdl`` plus ``files``), spec, buckets (``bucket_objects`` by URI)."""
    root = tmp_path
    definition = root / "definition"
    definition.mkdir(parents=True)
    (definition / "main.wdl").write_text(source)
    for name, text in (files or {}).items():
        (definition / name).parent.mkdir(parents=True, exist_ok=True)
        (definition / name).write_text(text)
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
        run_uuid="5b8b6f3a-1111-4222-8333-444455556666",
        engine="WDL",
        workflow_name="test",
        definition_dir=str(definition),
        main="main.wdl",
        parameters=parameters or {},
        run_output_uri=f"s3://outputs/runs/{RUN_ID}",
        buckets_root=str(buckets),
        logs_root=str(root / "logs"),
        capacity_dir=str(root / "capacity"),
        log_level=log_level,
        network=network,
        storage_type=storage_type,
        storage_capacity_gib=storage_capacity_gib,
        executor=ExecutorSpec(cpus=cpus, memory_gib=memory_gib, network_isolation=network_isolation),
    )
    write_spec(run_dir, spec)
    return Run(root=root, run_dir=run_dir, buckets=buckets, logs=root / "logs", spec=spec)


def outputs_json(run: Run) -> dict[str, Any]:
    path = run.bucket_file(f"{run.spec.run_output_uri}/logs/outputs.json")
    result: dict[str, Any] = json.loads(path.read_text())
    return result


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
