"""Pieces every engine's run uses, whatever its language.

Owns: :class:`Outcome` (how a run ended, before it is journaled), the run's executor, the storage watch that
aborts a STATIC run out of space, :func:`report_run` (the journal around an engine's run: RunStarted, RunOutputs
when it completed) and the final :class:`~omicsd.engines.events.RunFinished` event.
Must not: know a workflow language or run anything itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omicsd.engines._storage import GIB, StorageMonitor
from omicsd.engines.events import COMPLETED, Event, RunFinished, RunOutputs, RunStarted
from omicsd.engines.spec import RunSpec
from omicsd.executors import registry
from omicsd.executors.base import TaskExecutor

MAX_MESSAGE = 1000
"""Longest ``status_message`` a driver journals."""


@dataclass(frozen=True)
class Outcome:
    """How a run ended."""

    status: str
    failure_reason: str = ""
    status_message: str = ""
    outputs: dict[str, Any] | None = None
    outputs_uri: str = ""

    def finished(self, time: float, storage_max_bytes: int) -> RunFinished:
        """The journal event that ends the run."""
        return RunFinished(
            status=self.status,
            time=time,
            failure_reason=self.failure_reason,
            status_message=self.status_message[:MAX_MESSAGE],
            storage_max_bytes=storage_max_bytes,
        )


TASK_TMP_DIR = "task-tmp"
"""Directory of a run directory that holds the reusable ``TMPDIR`` directories of its task commands."""


def new_executor(spec: RunSpec, run_dir: Path | None = None) -> TaskExecutor:
    """The executor the run's spec names, sharing the machine's capacity ledger.

    Args:
        spec: the run.
        run_dir: the run directory; task commands that bring no ``TMPDIR`` of their own then get reusable ones
            under ``<run_dir>/task-tmp/`` (emptied after each attempt) instead of a new ``work/.tmp`` each.
    """
    return registry.new(
        spec.executor.name,
        capacity_dir=Path(spec.capacity_dir),
        cpus=spec.executor.cpus,
        memory_bytes=spec.executor.memory_gib * GIB,
        gpus=spec.executor.gpus,
        network_isolation=spec.executor.network_isolation,
        tmp_root=run_dir / TASK_TMP_DIR if run_dir is not None else None,
    )


def watch_storage(spec: RunSpec, run_dir: Path, abort: Callable[[str, str], None]) -> StorageMonitor:
    """Start measuring the run directory; a STATIC run that outgrows its capacity is aborted out of space."""
    capacity = spec.storage_capacity_gib

    def exceeded(size: int) -> None:
        message = f"Run storage exceeded its capacity of {capacity} GiB ({size / GIB:.2f} GiB used)"
        abort("FILE_SYSTEM_OUT_OF_SPACE", message)

    limit = capacity * GIB if spec.storage_type == "STATIC" else 0
    return StorageMonitor(run_dir, limit_bytes=limit, on_exceeded=exceeded).start()


def report_run(
    spec: RunSpec,
    run_dir: Path,
    emit: Callable[[Event], None],
    *,
    engine_version: str,
    abort: Callable[[str, str], None],
    run: Callable[[], Outcome],
    conclude: Callable[[Outcome], None],
    log: logging.Logger,
) -> tuple[Outcome, int]:
    """An engine's run between its RunStarted and its RunFinished, the same for every language.

    Journals RunStarted, calls ``run`` while the run directory is measured (:func:`watch_storage`; ``abort`` ends
    a STATIC run out of space), lets ``conclude`` settle what the engine left open (tasks still running, the run
    cache's export), journals RunOutputs when the run completed, and logs how it ended to ``log`` (an engine
    logger, so the line reaches the engine log stream).

    Returns:
        The outcome and the most storage the run used: the caller journals ``outcome.finished(...)`` once its
        own contexts (log sinks, signal handlers) are closed, so RunFinished is the journal's last line.
    """
    emit(RunStarted(time=time.time(), engine_version=engine_version))
    monitor = watch_storage(spec, run_dir, abort)
    try:
        outcome = run()
    finally:
        storage_max = monitor.stop()
    conclude(outcome)
    if outcome.status == COMPLETED and outcome.outputs is not None:
        emit(RunOutputs(outputs=outcome.outputs, outputs_uri=outcome.outputs_uri))
    log.info(
        "run.finished status=%s reason=%s message=%s",
        outcome.status,
        outcome.failure_reason,
        outcome.status_message,
    )
    return outcome, storage_max
