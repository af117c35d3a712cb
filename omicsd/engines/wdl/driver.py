"""The WDL engine driver: one process runs one run with miniwdl and journals what happens.

Owns: :func:`main` (``python -m omicsd.engines.wdl.driver <run_dir>``), :func:`run_driver` (the same,
callable by a pre-warmed fork server on its main thread) and :func:`preload` (the imports such a server
does ahead of time).

Must not: touch the database or the services. The supervisor reads ``<run_dir>/events.jsonl`` (see
:mod:`omicsd.engines.events`) and applies it; everything the driver writes stays inside the run
directory, the buckets and the log root.

Life of a run: write ``driver.pid``; read ``spec.json``; RunStarted; load the definition; parse the
HealthOmics parameters; stage File/Directory inputs (InputsStaged); index the run cache, if any; run
``WDL.runtime.run`` with the ``omicsd_local`` backend, which hands each attempt to the executor, and
omicsd's call cache, which serves cache hits; export outputs (RunOutputs); export cache entries (as the
cache behavior says); RunFinished. SIGTERM (or SIGINT/SIGHUP/SIGQUIT) cancels: running tasks are killed
through the executor, no outputs are exported, the run ends CANCELLED. The exit status is 0 once
RunFinished is journaled, whatever the run's outcome; non-zero means the driver crashed before that.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from contextlib import ExitStack
from pathlib import Path

from omicsd.engines._driver import Emit, cancel_on_signals, command_line, drive
from omicsd.engines.spec import RunSpec

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m omicsd.engines.wdl.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    return command_line("omicsd.engines.wdl.driver", run_driver, argv)


def preload() -> None:
    """Import everything a run needs and warm miniwdl's parser and plugin lookups ahead of any run.

    See :mod:`omicsd.engines.wdl._warmup`; a forked child then only pays for its run.
    """
    from omicsd.engines.wdl._warmup import warm

    warm()
    gc.freeze()  # the collector never rescans the preloaded modules (and forked children share their pages)


def run_driver(run_dir: str | os.PathLike[str]) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir`` to its end; call on the main thread.

    Termination signals are caught from the very start (a cancel sent while miniwdl is still being imported
    still ends the run CANCELLED), then chained to miniwdl's own handlers once they are in place.
    """
    cancel = threading.Event()

    def execute(spec: RunSpec, root: Path, emit: Emit) -> None:
        from omicsd.engines.wdl._run import WdlRun  # delay heavy import (miniwdl)

        gc.freeze()  # modules and the spec live as long as the process: the collector need not rescan them
        run = WdlRun(spec, root, emit, cancel_requested=cancel)
        with ExitStack() as stack:
            terminating = run.enter_signal_handling(stack)
            stack.enter_context(cancel_on_signals(cancel.set, chain=True))
            run.execute(terminating)

    with cancel_on_signals(cancel.set):  # until miniwdl's handlers are in place
        return drive(run_dir, "WDL", execute)


if __name__ == "__main__":
    raise SystemExit(main())
