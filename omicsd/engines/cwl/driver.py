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
from pathlib import Path

from omicsd.engines._driver import Emit, cancel_on_signals, command_line, drive
from omicsd.engines.spec import RunSpec

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m omicsd.engines.cwl.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    return command_line("omicsd.engines.cwl.driver", run_driver, argv)


def preload() -> None:
    """Import everything a run needs and build cwltool's schemas, so a forked child only pays for the run."""
    import cwltool.executors
    import cwltool.main
    import cwltool.secrets  # noqa: F401

    import omicsd.engines.cwl._run
    import omicsd.executors.local  # noqa: F401
    from omicsd.engines.cwl._lean import freeze_long_lived
    from omicsd.engines.cwl._load import preload_schemas
    from omicsd.engines.cwl._tool import install_host_runner

    install_host_runner()
    try:
        preload_schemas()
    except Exception:
        logger.debug("driver.preload_schemas_failed", exc_info=True)
    freeze_long_lived()  # forked drivers never rescan (nor copy) the preloaded modules and schemas


def run_driver(run_dir: str | os.PathLike[str]) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir`` to its end; call on the main thread.

    Returns:
        0 once RunFinished is journaled; 1 if the driver failed before it could journal it.
    """
    return drive(run_dir, "CWL", _execute)


def _execute(spec: RunSpec, root: Path, emit: Emit) -> None:
    from omicsd.engines.cwl._run import CwlRun  # delay heavy import (cwltool)

    run = CwlRun(spec, root, emit)
    with cancel_on_signals(run.request_cancel):
        run.execute()


if __name__ == "__main__":
    raise SystemExit(main())
