"""The life of an engine-driver process, shared by the WDL, CWL and Nextflow drivers.

Owns: the command line (``python -m omicsd.engines.<lang>.driver <run_dir>``), the pid file, the journal, reading
the run spec, turning termination signals into a cancel request, and the guarantee that a driver which gets as
far as opening its journal always ends it with ``RunFinished`` — a crash becomes FAILED / SERVICE_ERROR.
Must not: know a workflow language; each driver passes an ``execute`` function that builds and runs its run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from omicsd.engines.events import FAILED, Event, RunFinished
from omicsd.engines.journal import JournalWriter, journal_path
from omicsd.engines.spec import RunSpec, read_spec

logger = logging.getLogger(__name__)

PID_FILE = "driver.pid"
"""File in the run directory holding the driver's pid."""

CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)

Emit = Callable[[Event], None]
Execute = Callable[[RunSpec, Path, Emit], None]
"""Build the engine's run from the spec and run it to the end, journaling through ``emit``."""


def command_line(module: str, run_driver: Callable[[str], int], argv: list[str] | None = None) -> int:
    """The ``main()`` of a driver module.

    Returns:
        0 once RunFinished is journaled (whatever the run's outcome), 2 on bad usage, 1 on a crash.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {module} <run_dir>", file=sys.stderr)
        return 2
    try:
        return run_driver(args[0])
    except BaseException:
        traceback.print_exc()
        return 1


def drive(run_dir: str | os.PathLike[str], engine: str, execute: Execute) -> int:
    """Run the run whose ``spec.json`` is in ``run_dir``; call on the main thread.

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
        execute(spec, root, emit)
    except Exception as exn:
        logger.exception("driver.crashed")
        if not finished:
            try:
                emit(RunFinished(FAILED, time.time(), "SERVICE_ERROR", f"Internal error in the {engine} driver: {exn}"))
            except Exception:
                logger.exception("driver.journal_failed")
    finally:
        journal.close()
    return 0 if finished else 1


@contextmanager
def cancel_on_signals(request_cancel: Callable[[], None], *, chain: bool = False) -> Iterator[None]:
    """Turn termination signals into a cancel request while the block runs.

    With ``chain``, the handler a signal replaced (an engine's own, such as miniwdl's) runs next. The outermost
    block also watches the signals from a thread (:func:`_watched_signals`), so the cancel request is made at once
    even while the main thread waits in an engine's loop.
    """
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        request_cancel()
        chained = previous.get(signum)
        if chain and callable(chained):
            chained(signum, frame)

    for sig in CANCEL_SIGNALS:
        previous[int(sig)] = signal.signal(sig, handler)
    try:
        with _watched_signals(request_cancel):
            yield
    finally:
        for signum, prior in previous.items():
            signal.signal(signum, prior)


@contextmanager
def _watched_signals(request_cancel: Callable[[], None]) -> Iterator[None]:
    """While open, a thread makes the cancel request as soon as a termination signal arrives.

    Python runs signal handlers on the main thread only. The kernel delivers a signal sent to the process to
    any thread that does not block it; the main thread blocks every signal for a moment whenever it starts a
    thread (glibc's ``pthread_create``). A signal caught by another thread then waits until the main thread
    runs Python code again, and an engine's main loop that waits for its next finished task with no timeout
    (miniwdl's) would not pass the cancel on until a task ends by itself. The C-level handler writes the signal
    number to :func:`signal.set_wakeup_fd` whichever thread it runs on; this thread reads it.

    Does nothing when not on the main thread or when a wakeup fd is in use already (an outer block, asyncio).
    """
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        previous = None
    if previous != -1:
        if previous is not None:
            signal.set_wakeup_fd(previous, warn_on_full_buffer=False)
        os.close(read_fd)
        os.close(write_fd)
        yield
        return
    stop = threading.Event()
    cancel_signals = {int(sig) for sig in CANCEL_SIGNALS}

    def watch() -> None:
        poller = select.poll()
        poller.register(read_fd, select.POLLIN)
        while not stop.is_set():
            poller.poll()
            try:
                received = os.read(read_fd, 512)
            except BlockingIOError:
                continue
            if cancel_signals.intersection(received):
                request_cancel()

    watcher = threading.Thread(target=watch, name="omicsd-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        stop.set()
        with contextlib.suppress(BlockingIOError):  # a full pipe wakes the watcher as well
            os.write(write_fd, b"\0")  # not a signal number: wakes the watcher to see that the block has ended
        watcher.join()
        os.close(read_fd)
        os.close(write_fd)
