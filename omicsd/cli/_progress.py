"""Waiting for a run in ``omicsd submit --wait``: polling, progress display and the final report's data.

Owns: :func:`wait_for_run` (adaptive GetRun + ListRunTasks polling until the run ends), the progress displays
(a ``rich`` live bar on a terminal, plain lines otherwise, nothing for ``--json``), :class:`Printer` (every line
``submit`` prints) and :func:`report_run` (outputs from the run's ``logs/outputs.json``, or the failure and
the failed tasks' log streams).
Must not: touch omicsd internals; everything goes through the public ``omics`` API (and S3 or the local bucket
folder for outputs.json).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from omicsd.config import Settings

logger = logging.getLogger(__name__)

TERMINAL_RUN = frozenset({"COMPLETED", "FAILED", "CANCELLED", "DELETED"})
_RUNNING_TASK = frozenset({"STARTING", "RUNNING", "STOPPING"})
_FAILED_TASK = frozenset({"FAILED", "CANCELLED"})
MIN_INTERVAL = 0.1
"""First poll interval, in seconds."""
MAX_INTERVAL = 1.0
"""The interval polling backs off to, in seconds."""
_BACKOFF = 1.5
LOG_GROUP = "/aws/omics/WorkflowLog"


@dataclass(frozen=True)
class TaskCounts:
    """How many of a run's tasks are in which state."""

    total: int = 0
    done: int = 0
    running: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Snapshot:
    """One poll of a run."""

    run_id: str
    status: str
    tasks: TaskCounts


class Display(Protocol):
    """Shows a run's progress while :func:`wait_for_run` polls."""

    def update(self, snapshot: Snapshot) -> None:
        """Show the latest poll."""

    def close(self) -> None:
        """Stop showing progress (the run ended or the wait was interrupted)."""


def wait_for_run(
    client: Any,
    run_id: str,
    display: Display,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll a run until it reaches a terminal status, updating ``display`` after every poll.

    The interval starts at :data:`MIN_INTERVAL` and grows by half each poll up to :data:`MAX_INTERVAL`; it
    drops back to the minimum whenever the run's status changes.

    Args:
        client: A boto3 ``omics`` client.
        run_id: The run to wait for.
        display: Where progress goes.
        sleep: The sleep function (tests pass a no-op).

    Returns:
        The last GetRun response (without ``ResponseMetadata``).
    """
    interval = MIN_INTERVAL
    last_status = ""
    try:
        while True:
            run = _strip(client.get_run(id=run_id))
            status = str(run.get("status", ""))
            display.update(Snapshot(run_id, status, count_tasks(client, run_id)))
            if status in TERMINAL_RUN:
                return run
            if status != last_status:
                interval = MIN_INTERVAL
                last_status = status
            sleep(interval)
            interval = min(MAX_INTERVAL, interval * _BACKOFF)
    finally:
        display.close()


def count_tasks(client: Any, run_id: str) -> TaskCounts:
    """Count a run's tasks by state (every page of ListRunTasks)."""
    total = done = running = pending = failed = 0
    for task in _tasks(client, run_id):
        total += 1
        status = task.get("status")
        if status == "COMPLETED":
            done += 1
        elif status in _RUNNING_TASK:
            running += 1
        elif status in _FAILED_TASK:
            failed += 1
        else:
            pending += 1
    return TaskCounts(total=total, done=done, running=running, pending=pending, failed=failed)


def failed_tasks(client: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's failed tasks with their status message, failure reason and log stream name."""
    out: list[dict[str, Any]] = []
    for item in _tasks(client, run_id, status="FAILED"):
        task = _strip(client.get_run_task(id=run_id, taskId=item["taskId"]))
        out.append(
            {
                "taskId": task.get("taskId", item["taskId"]),
                "name": task.get("name", item.get("name")),
                "status": task.get("status", item.get("status")),
                "failureReason": task.get("failureReason"),
                "statusMessage": task.get("statusMessage"),
                "logStream": stream_name(task.get("logStream")),
            }
        )
    return out


def stream_name(arn: str | None) -> str | None:
    """The log-stream name inside a CloudWatch log-stream ARN (the ARN itself if it is not one)."""
    if not arn:
        return None
    marker = ":log-stream:"
    return arn.split(marker, 1)[1] if marker in arn else arn


def read_outputs(run_output_uri: str, *, s3_endpoint_url: str, buckets_dir: Path, region: str) -> dict[str, Any] | None:
    """Read ``<runOutputUri>/logs/outputs.json``.

    Args:
        run_output_uri: The run's ``runOutputUri`` (``s3://bucket/prefix/<runId>``).
        s3_endpoint_url: An S3-compatible endpoint the server writes to; empty for local buckets.
        buckets_dir: The server's local bucket root (used when ``s3_endpoint_url`` is empty).
        region: The Region for the S3 client.

    Returns:
        The parsed output summary, or ``None`` when it cannot be read from here.
    """
    bucket, _, prefix = run_output_uri.removeprefix("s3://").partition("/")
    if not run_output_uri.startswith("s3://") or not bucket:
        return None
    key = f"{prefix.rstrip('/')}/logs/outputs.json".lstrip("/")
    try:
        if s3_endpoint_url:
            import boto3

            s3 = boto3.client("s3", endpoint_url=s3_endpoint_url, region_name=region)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            path = buckets_dir / bucket / key
            if not path.is_file():
                return None
            body = path.read_bytes()
        parsed = json.loads(body)
    except Exception as exc:  # a missing summary must not turn a completed run into an error
        logger.debug("cannot read outputs.json under %s: %s", run_output_uri, exc)
        return None
    return parsed if isinstance(parsed, dict) else {"outputs": parsed}


class PlainDisplay:
    """One line per change: for logs, pipes and CI."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._last: Snapshot | None = None

    def update(self, snapshot: Snapshot) -> None:
        """Print a line when the status or any task count changed."""
        if snapshot == self._last:
            return
        self._last = snapshot
        t = snapshot.tasks
        self._stream.write(
            f"run {snapshot.run_id} {snapshot.status}: {t.done}/{t.total} tasks done, "
            f"{t.running} running, {t.pending} pending, {t.failed} failed\n"
        )
        self._stream.flush()

    def close(self) -> None:
        """Nothing to release."""


class NullDisplay:
    """Shows nothing (``--json``)."""

    def update(self, snapshot: Snapshot) -> None:
        """Ignore the poll."""

    def close(self) -> None:
        """Nothing to release."""


class RichDisplay:
    """A live ``rich`` progress bar: tasks done out of tasks known so far, plus running/failed counts."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tasks  {task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._bar = self._progress.add_task("starting", total=None, detail="")
        self._progress.start()

    def update(self, snapshot: Snapshot) -> None:
        """Redraw the bar."""
        t = snapshot.tasks
        detail = f"{t.running} running, {t.pending} pending" + (f", [red]{t.failed} failed[/]" if t.failed else "")
        self._progress.update(
            self._bar,
            description=f"run {snapshot.run_id} [bold]{snapshot.status}[/]",
            total=t.total or None,
            completed=t.done,
            detail=detail,
        )

    def close(self) -> None:
        """Leave the last state on screen."""
        self._progress.stop()


def estimated_cost(
    logs_client: Any, run: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep
) -> float | None:
    """The estimated HealthOmics cost from the run manifest (``manifest/run/<id>/<uuid>``), if it is there.

    The manifest is written as the run ends, a moment after its status changes, so absence is retried briefly.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    stream = f"manifest/run/{run.get('id')}/{run.get('uuid')}"
    for delay in (0.0, 0.1, 0.2, 0.4, 0.8):
        sleep(delay)
        try:
            events = logs_client.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True, limit=1
            )["events"]
        except (ClientError, BotoCoreError):
            events = []
        if events:
            try:
                return float(json.loads(events[0]["message"])["metrics"]["estimatedCostUSD"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def report_run(
    client: Any,
    run: Mapping[str, Any],
    summary: dict[str, Any],
    settings: Settings,
    printer: Printer,
    *,
    cost: float | None = None,
) -> int:
    """Report how a run ended: its outputs when COMPLETED, else the reason and the failed tasks' log streams.

    Args:
        client: A boto3 ``omics`` client.
        run: The run's last GetRun answer.
        summary: The ``--json`` summary so far; completed here with status, outputs or failure details.
        settings: omicsd settings (S3 endpoint or local bucket root, to read outputs.json).
        printer: Where the report goes.

    Returns:
        The exit status: 0 for COMPLETED, 1 otherwise.
    """
    status = run.get("status")
    summary.update(status=status, runOutputUri=run.get("runOutputUri") or summary.get("runOutputUri"))
    if cost is not None:
        summary["estimatedCostUSD"] = cost
        printer.line(f"estimated HealthOmics cost of run {run.get('id')}: ${cost:.4f} (list prices, us-east-1)")
    uri = summary.get("runOutputUri") or ""
    if status == "COMPLETED":
        outputs = read_outputs(
            uri,
            s3_endpoint_url=settings.blobs.s3_endpoint_url,
            buckets_dir=settings.buckets_path,
            region=settings.identity.region,
        )
        summary["outputs"] = outputs
        printer.line(f"run {run.get('id')} COMPLETED; outputs under {uri}")
        if outputs is not None:
            printer.json(outputs)
        printer.summary(summary)
        return 0
    summary.update(failureReason=run.get("failureReason"), statusMessage=run.get("statusMessage"))
    printer.line(f"run {run.get('id')} {status}: {run.get('failureReason') or '-'}: {run.get('statusMessage') or '-'}")
    summary["failedTasks"] = failed_tasks(client, str(run.get("id")))
    for task in summary["failedTasks"]:
        reason = task.get("statusMessage") or task.get("failureReason") or ""
        printer.line(f"  task {task['taskId']} {task.get('name')} FAILED: {reason}")
        if task.get("logStream"):
            printer.line(f"    log: {task['logStream']}")
    engine_log = stream_name((run.get("logLocation") or {}).get("engineLogStream"))
    if engine_log:
        summary["engineLogStream"] = engine_log
        printer.line(f"  engine log: {engine_log}")
    if summary["failedTasks"] or engine_log:
        printer.line(f"  read a log: aws logs get-log-events --log-group-name {LOG_GROUP} --log-stream-name <log>")
    printer.summary(summary)
    return 1


class Printer:
    """Human output (``rich`` on a terminal, plain lines otherwise) or, with ``--json``, one summary object."""

    def __init__(self, out: IO[str], *, quiet: bool) -> None:
        self._out = out
        self._quiet = quiet
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._console: Any = None
        if self._tty and not quiet:
            from rich.console import Console

            self._console = Console(file=out, highlight=False)

    def line(self, text: str) -> None:
        """Print one line of human output (nothing with ``--json``)."""
        if self._quiet:
            return
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            self._out.write(text + "\n")
            self._out.flush()

    def json(self, value: Any) -> None:
        """Print a value as indented JSON (nothing with ``--json``)."""
        if self._quiet:
            return
        text = json.dumps(value, indent=2, default=str)
        if self._console is not None:
            self._console.print_json(text)
        else:
            self._out.write(text + "\n")

    def summary(self, summary: Mapping[str, Any]) -> None:
        """Print the machine-readable summary (only with ``--json``)."""
        if self._quiet:
            self._out.write(json.dumps(summary, indent=2, default=str) + "\n")
            self._out.flush()

    def display(self) -> Display:
        """The progress display that fits the output: none, a live bar or plain lines."""
        if self._quiet:
            return NullDisplay()
        if self._console is not None:
            return RichDisplay(self._console)
        return PlainDisplay(self._out)


def _tasks(client: Any, run_id: str, status: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"id": run_id}
    if status:
        kwargs["status"] = status
    for page in client.get_paginator("list_run_tasks").paginate(**kwargs):
        yield from page.get("items", [])


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
