"""Helpers for tests of the Nextflow driver: a run directory, local buckets and a fake ``nextflow`` on PATH."""

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
from omicsd.engines.spec import ExecutorSpec, RunSpec, spec_path, write_spec
from omicsd.logs.files import LogReader
from omicsd.logs.streams import LOG_GROUP, engine_stream, task_stream

RUN_ID = "1234567"
RUN_UUID = "5b8b6f3a-1111-4222-8333-444455556666"
EVENTS_DIR = Path(__file__).resolve().parents[2] / "data" / "nextflow_events"
FAKE_NEXTFLOW = Path(__file__).resolve().with_name("fake_nextflow.py")

MAIN_NF = """\
nextflow.enable.dsl = 2
params.reads = null
params.outdir = '/mnt/workflow/pubdir'

process PREPARE {
    publishDir "/mnt/workflow/pubdir/prepare", mode: 'copy'
    output: path 'result.txt'
    script: "echo ${params.reads} > result.txt"
}

workflow { PREPARE() }
"""

NEXTFLOW_CONFIG = """\
params.genome = 'GRCh38'
profiles {
    test { params.reads = 'tests/sample.fq' }
    fast { process.cpus = 1 }
}
"""


def install_fake_nextflow(bin_dir: Path) -> Path:
    """Put an executable ``nextflow`` running :mod:`fake_nextflow` in ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = bin_dir / "nextflow"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_NEXTFLOW}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


@dataclass
class NfRun:
    """One Nextflow driver run laid out under a temporary directory."""

    root: Path
    run_dir: Path
    buckets: Path
    logs: Path
    spec: RunSpec
    env: dict[str, str]
    record: Path
    process: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omicsd.engines.nextflow.driver", str(self.run_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        return self.process

    def wait(self, timeout: float = 60) -> NfRun:
        assert self.process is not None
        _, err = self.process.communicate(timeout=timeout)
        self.returncode = self.process.returncode
        self.stderr = err.decode(errors="replace")
        return self

    def run(self, timeout: float = 60) -> NfRun:
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

    def results(self) -> dict[str, TaskFinished]:
        return {e.task_id: e for e in self.events() if isinstance(e, TaskFinished)}

    def wait_for_event(self, predicate: Any, timeout: float = 30) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no matching event within {timeout}s: {self.events()}")

    def invocation(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.record.read_text())
        return result

    def bucket_file(self, uri: str) -> Path:
        assert uri.startswith("s3://")
        return self.buckets / uri[5:]

    def stream_messages(self, stream: str) -> list[str]:
        reader = LogReader(self.logs)
        if not reader.exists(LOG_GROUP, stream):
            return []
        return [event.message for event in reader.read(LOG_GROUP, stream, limit=10000).events]

    def engine_log(self) -> list[str]:
        return self.stream_messages(engine_stream(self.spec.run_id))

    def task_log(self, task_id: str) -> list[str]:
        return self.stream_messages(task_stream(self.spec.run_id, task_id))


def make_nf_run(
    tmp_path: Path,
    *,
    scenario: dict[str, Any] | None = None,
    main_nf: str = MAIN_NF,
    files: dict[str, str] | None = None,
    parameters: dict[str, Any] | None = None,
    bucket_objects: dict[str, bytes] | None = None,
    network: bool = True,
    network_isolation: str = "auto",
    engine_settings: dict[str, Any] | None = None,
    fake: bool = True,
    log_level: str = "ALL",
    search_path: str | None = None,
) -> NfRun:
    """Lay out a run: definition (``main.nf``, ``nextflow.config``, ``files``) inside the run directory, spec,
    local buckets, a fake ``nextflow`` replaying ``scenario`` (when ``fake``), and the driver's environment
    (``PATH``: ``search_path``, else the fake's directory, ``/usr/bin`` and ``/bin``)."""
    root = tmp_path
    run_dir = root / "run"
    definition = run_dir / "definition"
    definition.mkdir(parents=True)
    (definition / "main.nf").write_text(main_nf)
    (definition / "nextflow.config").write_text(NEXTFLOW_CONFIG)
    for name, text in (files or {}).items():
        (definition / name).parent.mkdir(parents=True, exist_ok=True)
        (definition / name).write_text(text)
    buckets = root / "buckets"
    buckets.mkdir()
    for uri, data in (bucket_objects or {}).items():
        path = buckets / uri[5:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    spec = RunSpec(
        run_id=RUN_ID,
        run_uuid=RUN_UUID,
        engine="NEXTFLOW",
        workflow_name="example",
        definition_dir=str(definition),
        main="main.nf",
        parameters=parameters or {},
        run_output_uri=f"s3://outputs/runs/{RUN_ID}",
        buckets_root=str(buckets),
        logs_root=str(root / "logs"),
        capacity_dir=str(root / "capacity"),
        log_level=log_level,
        network=network,
        executor=ExecutorSpec(cpus=2, memory_gib=8, network_isolation=network_isolation),
    )
    write_spec(run_dir, spec)
    if engine_settings is not None:
        body = json.loads(spec_path(run_dir).read_text())
        body["engine_settings"] = engine_settings
        spec_path(run_dir).write_text(json.dumps(body))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    if fake:
        install_fake_nextflow(bin_dir)
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NXF_", "FAKE_NEXTFLOW", "PYTHONWARNINGS"))}
    env["PATH"] = search_path if search_path is not None else f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    env["HOME"] = str(home)
    record = root / "invocation.json"
    env["FAKE_NEXTFLOW_RECORD"] = str(record)
    scenario_path = root / "scenario.json"
    scenario_path.write_text(json.dumps(scenario or {"weblog": str(EVENTS_DIR / "weblog_success.jsonl")}))
    env["FAKE_NEXTFLOW_SCENARIO"] = str(scenario_path)
    return NfRun(root=root, run_dir=run_dir, buckets=buckets, logs=root / "logs", spec=spec, env=env, record=record)
