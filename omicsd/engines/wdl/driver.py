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

import importlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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
    """Command-line entry: ``python -m omicsd.engines.wdl.driver <run_dir>``.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m omicsd.engines.wdl.driver <run_dir>", file=sys.stderr)
        return 2
    try:
        return run_driver(args[0])
    except BaseException:
        traceback.print_exc()
        return 1


def preload() -> None:
    """Import everything a run needs and build miniwdl's parsers, so a forked child only pays for the run."""
    importlib.import_module("docker.errors")  # miniwdl imports it on a task's first attempt
    import WDL
    import WDL.runtime.task_container
    from WDL import _grammar

    import omicsd.engines.wdl._run
    import omicsd.engines.wdl.backend
    import omicsd.engines.wdl.observer
    import omicsd.executors.local  # noqa: F401

    for version in _grammar.versions:  # each WDL version's grammar is compiled on first use
        header = "" if version == "draft-2" else f"version {version}\n"
        try:
            WDL.parse_document(header + "workflow w {}\n", version=version)
        except Exception:
            logger.debug("driver.preload_grammar_failed version=%s", version, exc_info=True)


def run_driver(run_dir: str | os.PathLike[str]) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir`` to its end; call on the main thread.

    Returns:
        0 once RunFinished is journaled; 1 if the driver failed before it could journal it.
    """
    cancel = threading.Event()
    with _cancel_on_signals(cancel.set, chain=False):  # until miniwdl's handlers are in place
        return _drive(Path(run_dir).resolve(), cancel)


def _drive(root: Path, cancel: threading.Event) -> int:
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
        from omicsd.engines.wdl._run import WdlRun  # delay heavy import (miniwdl)

        run = WdlRun(spec, root, emit, cancel_requested=cancel)
        with ExitStack() as stack:
            terminating = run.enter_signal_handling(stack)
            stack.enter_context(_cancel_on_signals(cancel.set, chain=True))
            run.execute(terminating)
    except Exception as exn:
        logger.exception("driver.crashed")
        if not finished:
            try:
                emit(RunFinished(FAILED, time.time(), "SERVICE_ERROR", f"Internal error in the WDL driver: {exn}"))
            except Exception:
                logger.exception("driver.journal_failed")
    finally:
        journal.close()
    return 0 if finished else 1


@contextmanager
def _cancel_on_signals(request_cancel: Callable[[], None], *, chain: bool) -> Iterator[None]:
    """Turn termination signals into a cancel request.

    With ``chain``, the handler a signal replaced (miniwdl's, which stops its tasks and scheduler) runs next.
    """
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        request_cancel()
        chained = previous.get(signum)
        if chain and callable(chained):
            chained(signum, frame)

    for sig in _CANCEL_SIGNALS:
        previous[int(sig)] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for signum, prior in previous.items():
            signal.signal(signum, prior)


if __name__ == "__main__":
    raise SystemExit(main())
