"""A real ``omicsd serve`` subprocess for one benchmark case, and the boto3 client that talks to it.

Owns: :class:`Server` (fresh data directory, free port, readiness wait, RSS of the server and of its run drivers,
clean stop) and the helpers every omicsd case shares: :func:`register` (CreateWorkflow → ACTIVE) and
:func:`time_run` (StartRun → COMPLETED as a client polling every 10 ms sees it).
Must not: import omicsd (the server is measured from the outside, as users run it).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench import _proc

REPO = Path(__file__).resolve().parent.parent

ROLE = "arn:aws:iam::123456789012:role/omicsd-bench"
OUTPUT_URI = "s3://bench-results/runs/"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "DELETED")
POLL_SECONDS = 0.01


class CaseError(Exception):
    """The case could not produce a measurement (the reason is reported in its row)."""


class NotAvailable(CaseError):
    """omicsd does not offer what the case measures yet (an operation or an engine is missing)."""


class Server:
    """``omicsd serve`` on a free port with its own data directory."""

    def __init__(self, root: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        """Start the server and wait until ``/health`` answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICSD", "AWS_", "MINIWDL"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        env.update(self.extra_env)
        cmd = [sys.executable, "-m", "omicsd", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        cmd += ["--log-level", "warning"]
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise CaseError(f"omicsd serve did not become ready; see {self.root / 'server.log'}")
            time.sleep(0.05)

    def client(self, pool: int = 10) -> Any:
        """A boto3 ``omics`` client for this server (keep-alive, no retries, no host prefix)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "omics",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(
                inject_host_prefix=False,
                retries={"total_max_attempts": 1},
                max_pool_connections=pool,
                read_timeout=300,
            ),
        )

    def rss_mb(self) -> float:
        """Resident set size of the server process, in MB."""
        if self.proc is None:
            raise CaseError("server not started")
        return _proc.rss_mb(self.proc.pid)

    def driver_pids(self) -> list[int]:
        """Live engine-driver processes of this server's runs (from each run directory's ``driver.pid``)."""
        pids = []
        for pid_file in (self.data_dir / "runs").glob("*/driver.pid"):
            with suppress(OSError, ValueError):
                pid = int(pid_file.read_text().strip())
                if _proc.alive(pid):
                    pids.append(pid)
        return pids

    def helper_pids(self) -> list[int]:
        """The server's warm-driver helpers (its children running ``omicsd.scheduler.forkserver``)."""
        if self.proc is None:
            return []
        children: list[str] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):  # a helper is a child of whichever thread started it
            with suppress(OSError):
                children += (task / "children").read_text().split()
        found = []
        for child in children:
            with suppress(OSError):
                if b"omicsd.scheduler.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
        return found

    def wait_helpers_settled(self, timeout: float = 60) -> None:
        """Wait until every warm-driver helper has finished its imports (its CPU time stops growing).

        A helper starts with its engine's first run and imports the engine in the background; runs started
        before it is ready start cold. Waiting here keeps that one-off cost out of the timed repetitions.
        """
        deadline = time.monotonic() + timeout
        previous: dict[int, float] | None = None
        while time.monotonic() < deadline:
            now = {pid: _proc.cpu_seconds(pid) for pid in self.helper_pids()}
            if now == previous:  # no helper (warm drivers off), or every helper has stopped working
                return
            previous = now
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and any driver it left behind."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in self.driver_pids():  # drivers outlive the server by design; ours must not
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.driver_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.driver_pids():
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def put_object(self, bucket: str, key: str, body: bytes) -> str:
        """Write an object into the server's local bucket directory; returns its ``s3://`` URI."""
        path = self.data_dir / "buckets" / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return f"s3://{bucket}/{key}"


@contextmanager
def running(root: Path, *, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """A started :class:`Server`, stopped on exit."""
    server = Server(root, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def register(client: Any, definition: Path, *, name: str | None = None, timeout: float = 120) -> str:
    """CreateWorkflow from one WDL/CWL file and wait until it is ACTIVE; returns the workflow ID.

    Raises:
        NotAvailable: omicsd cannot register workflows of this language.
        CaseError: the workflow failed to register.
    """
    from botocore.exceptions import ClientError

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(definition, definition.name)
    engine = {".wdl": "WDL", ".cwl": "CWL", ".nf": "NEXTFLOW"}[definition.suffix]
    try:
        created = client.create_workflow(
            name=name or definition.stem, engine=engine, definitionZip=buffer.getvalue(), main=definition.name
        )
    except ClientError as exn:
        _raise_missing(exn)
        raise CaseError(f"CreateWorkflow failed: {exn}") from exn
    deadline = time.monotonic() + timeout
    while True:
        got = client.get_workflow(id=created["id"])
        if got["status"] == "ACTIVE":
            return str(created["id"])
        if got["status"] != "CREATING" or time.monotonic() > deadline:
            message = f"workflow {definition.name} is {got['status']}: {got.get('statusMessage', '')}"
            if engine != "WDL":
                raise NotAvailable(message)
            raise CaseError(message)
        time.sleep(0.02)


def start_run(client: Any, workflow_id: str, **kwargs: Any) -> str:
    """StartRun with the benchmark's role and output location; returns the run ID."""
    from botocore.exceptions import ClientError

    kwargs.setdefault("roleArn", ROLE)
    kwargs.setdefault("outputUri", OUTPUT_URI)
    try:
        return str(client.start_run(workflowId=workflow_id, **kwargs)["id"])
    except ClientError as exn:
        _raise_missing(exn)
        raise CaseError(f"StartRun failed: {exn}") from exn


def wait_run(
    client: Any, run_id: str, *, until: tuple[str, ...] = TERMINAL, timeout: float = 600, poll: float = POLL_SECONDS
) -> dict[str, Any]:
    """Poll GetRun every ``poll`` seconds until the run's status is in ``until``; returns the last response."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get_run(id=run_id)
        if run["status"] in until or run["status"] in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise CaseError(f"run {run_id} still {run['status']} after {timeout:.0f} s")
        time.sleep(poll)


def time_run(client: Any, workflow_id: str, *, parameters: Mapping[str, Any] | None = None, **kwargs: Any) -> float:
    """Seconds from StartRun to COMPLETED, as a client polling GetRun every 10 ms sees it.

    Raises:
        NotAvailable: the run failed because omicsd has no engine for it.
        CaseError: the run did not complete.
    """
    if parameters is not None:
        kwargs["parameters"] = dict(parameters)
    began = time.perf_counter()
    run_id = start_run(client, workflow_id, **kwargs)
    run = wait_run(client, run_id)
    elapsed = time.perf_counter() - began
    if run["status"] != "COMPLETED":
        message = f"run {run_id} ended {run['status']}: {run.get('failureReason', '')} {run.get('statusMessage', '')}"
        if _engine_missing(run):
            raise NotAvailable(message.strip())
        raise CaseError(message.strip())
    return elapsed


def run_tasks(client: Any, run_id: str) -> list[dict[str, Any]]:
    """Every task of a run (ListRunTasks, all pages)."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("list_run_tasks").paginate(id=run_id):
        items += page["items"]
    return items


def _raise_missing(exn: Any) -> None:
    code = exn.response.get("Error", {}).get("Code", "")
    if code == "NotSupportedOperationException":
        raise NotAvailable(f"{exn.operation_name} is not supported yet") from exn


def _engine_missing(run: Mapping[str, Any]) -> bool:
    text = f"{run.get('failureReason', '')} {run.get('statusMessage', '')}".lower()
    return any(
        marker in text
        for marker in ("not installed", "no driver", "not supported", "keyerror", "unavailable", "no module named")
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dumps(value: Any) -> str:
    """Compact JSON (for run settings files)."""
    return json.dumps(value, separators=(",", ":"))
