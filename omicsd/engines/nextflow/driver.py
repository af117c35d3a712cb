"""The Nextflow engine driver: one process runs one run with the ``nextflow`` launcher and journals it.

Owns: :func:`main` (``python -m omicsd.engines.nextflow.driver <run_dir>``), :func:`run_driver` (the same,
callable on the main thread of a pre-warmed process) and the re-exported :data:`NOT_INSTALLED_MESSAGE` /
:func:`find_executable`, which the scheduler may use to fail a run fast on a host without Nextflow.

Must not: touch the database or the services. The supervisor reads ``<run_dir>/events.jsonl`` (see
:mod:`omicsd.engines.events`) and applies it; everything the driver writes stays inside the run
directory, the buckets and the log root.

Life of a run: write ``driver.pid``; read ``spec.json``; validate ``engineSettings`` and report the engine
version (RunStarted); check the requested profiles; map ``s3://`` parameters and write ``params.json``
(InputsStaged); run ``nextflow run`` with a generated config, journaling each task from the weblog or the
trace file (see :mod:`omicsd.engines.nextflow._run`); export ``<run_dir>/pubdir`` to
``<runOutputUri>/pubdir/`` (RunOutputs); RunFinished. SIGTERM (or SIGINT/SIGHUP/SIGQUIT) cancels: the
launcher's process group gets SIGTERM, then SIGKILL after a grace period; nothing is exported; the run ends
CANCELLED. The exit status is 0 once RunFinished is journaled, whatever the run's outcome; non-zero means
the driver crashed before that.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from omicsd.engines.events import FAILED, Event, RunFinished
from omicsd.engines.journal import JournalWriter, journal_path
from omicsd.engines.nextflow._launch import NOT_INSTALLED_MESSAGE, find_executable
from omicsd.engines.spec import read_spec

__all__ = ["NOT_INSTALLED_MESSAGE", "PID_FILE", "find_executable", "main", "run_driver"]

logger = logging.getLogger(__name__)

PID_FILE = "driver.pid"

_CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m omicsd.engines.nextflow.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m omicsd.engines.nextflow.driver <run_dir>", file=sys.stderr)
        return 2
    try:
        return run_driver(args[0])
    except BaseException:
        traceback.print_exc()
        return 1


def run_driver(run_dir: str | os.PathLike[str]) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir`` to its end; call on the main thread.

    Returns:
        0 once RunFinished is journaled; 1 if the driver failed before it could journal it.
    """
    root = Path(run_dir).resolve()
    (root / PID_FILE).write_text(f"{os.getpid()}\n")
    journal = JournalWriter(journal_path(root))
    finished = False

    def emit(event: Event) -> None:
        nonlocal finished
        journal.write(event)
        if isinstance(event, RunFinished):
            finished = True

    try:
        try:
            spec = read_spec(root)
        except (OSError, ValueError) as exn:
            emit(RunFinished(FAILED, time.time(), "SERVICE_ERROR", f"Invalid run spec: {exn}"))
            return 0
        from omicsd.engines.nextflow._run import NextflowRun

        run = NextflowRun(spec, root, emit)
        with _cancel_on_signals(run.request_cancel):
            run.execute()
    except Exception as exn:
        logger.exception("driver.crashed")
        if not finished:
            try:
                emit(RunFinished(FAILED, time.time(), "SERVICE_ERROR", f"Internal error in the Nextflow driver: {exn}"))
            except Exception:
                logger.exception("driver.journal_failed")
    finally:
        journal.close()
    return 0 if finished else 1


@contextmanager
def _cancel_on_signals(request_cancel: Callable[[], None]) -> Iterator[None]:
    """Turn termination signals into a cancel request while the run goes."""
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        request_cancel()

    for signum in _CANCEL_SIGNALS:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for sig, prior in previous.items():
            signal.signal(sig, prior)


if __name__ == "__main__":
    raise SystemExit(main())
