"""The CWL engine driver: one process runs one run with cwltool and journals what happens.

Owns: :func:`main` (``python -m omicsd.engines.cwl.driver <run_dir>``), :func:`run_driver` (the same,
callable by a pre-warmed fork server on its main thread) and :func:`preload` (the imports and schema
builds such a server does ahead of time).

Must not: touch the database or the services. The supervisor reads ``<run_dir>/events.jsonl`` (see
:mod:`omicsd.engines.events`) and applies it; everything the driver writes stays inside the run
directory, the buckets and the log root.

Life of a run: write ``driver.pid``; read ``spec.json``; RunStarted; load the definition (CWL v1.0, v1.1 or
v1.2); turn the HealthOmics parameters into a job order, staging File/Directory inputs (InputsStaged); open the
run cache, if any; run cwltool's parallel executor, each command-line job a task run by omicsd's executor or
served from the run cache (see :mod:`omicsd.engines.cwl.cache`); export outputs (RunOutputs); export cache
entries as the cache behavior says; RunFinished. SIGTERM (or SIGINT/SIGHUP/SIGQUIT) cancels: running task
process groups are killed through the executor, no further job starts, no output is exported (cache entries of
the tasks completed before are), the run ends CANCELLED. The exit status is 0 once RunFinished is journaled,
whatever the run's outcome; non-zero means the driver crashed before that.

Tasks: every ``CommandLineTool`` job is one task, named as cwltool names its jobs: the step name for a single
step (``count``), the step name with ``_<n>`` for a step's further jobs (scatter shards ``echo_i``,
``echo_i_2``, ... ``echo_i_50``), the tool's id or file stem for a bare tool (``main``). Expression-only work
(``ExpressionTool`` steps, ``valueFrom``) runs inside the driver and makes no task, as on HealthOmics. Commands
run on the host even when a ``DockerRequirement`` names an image (recorded as the task's image);
JavaScript expressions are evaluated by the host's ``node``.
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
from omicsd.engines.spec import read_spec

logger = logging.getLogger(__name__)

PID_FILE = "driver.pid"

_CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m omicsd.engines.cwl.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m omicsd.engines.cwl.driver <run_dir>", file=sys.stderr)
        return 2
    try:
        return run_driver(args[0])
    except BaseException:
        traceback.print_exc()
        return 1


def preload() -> None:
    """Import everything a run needs and build cwltool's schemas, so a forked child only pays for the run."""
    import cwltool.executors
    import cwltool.main
    import cwltool.secrets  # noqa: F401

    import omicsd.engines.cwl._run
    import omicsd.executors.local  # noqa: F401
    from omicsd.engines.cwl._load import preload_schemas
    from omicsd.engines.cwl._tool import install_host_runner

    install_host_runner()
    try:
        preload_schemas()
    except Exception:
        logger.debug("driver.preload_schemas_failed", exc_info=True)


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
        from omicsd.engines.cwl._run import CwlRun  # delay heavy import (cwltool)

        run = CwlRun(spec, root, emit)
        with _cancel_on_signals(run.request_cancel):
            run.execute()
    except Exception as exn:
        logger.exception("driver.crashed")
        if not finished:
            try:
                emit(RunFinished(FAILED, time.time(), "SERVICE_ERROR", f"Internal error in the CWL driver: {exn}"))
            except Exception:
                logger.exception("driver.journal_failed")
    finally:
        journal.close()
    return 0 if finished else 1


@contextmanager
def _cancel_on_signals(request_cancel: Callable[[], None]) -> Iterator[None]:
    """Turn termination signals into a cancel request for the duration of the run."""
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        request_cancel()

    for sig in _CANCEL_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for signum, prior in previous.items():
            signal.signal(signum, prior)


if __name__ == "__main__":
    raise SystemExit(main())
