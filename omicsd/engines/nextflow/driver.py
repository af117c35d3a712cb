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
from pathlib import Path

from omicsd.engines._driver import PID_FILE, Emit, cancel_on_signals, command_line, drive
from omicsd.engines.nextflow._launch import NOT_INSTALLED_MESSAGE, find_executable
from omicsd.engines.spec import RunSpec

__all__ = ["NOT_INSTALLED_MESSAGE", "PID_FILE", "find_executable", "main", "run_driver"]

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m omicsd.engines.nextflow.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    return command_line("omicsd.engines.nextflow.driver", run_driver, argv)


def run_driver(run_dir: str | os.PathLike[str]) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir`` to its end; call on the main thread.

    Returns:
        0 once RunFinished is journaled; 1 if the driver failed before it could journal it.
    """
    return drive(run_dir, "Nextflow", _execute)


def _execute(spec: RunSpec, root: Path, emit: Emit) -> None:
    from omicsd.engines.nextflow._run import NextflowRun

    run = NextflowRun(spec, root, emit)
    with cancel_on_signals(run.request_cancel):
        run.execute()


if __name__ == "__main__":
    raise SystemExit(main())
