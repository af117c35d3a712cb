"""One empty network namespace per process, shared by its RESTRICTED task commands through ``nsenter``.

Owns: :func:`shared_prefix`, the cheapest isolation prefix. Creating a namespace for every task (bubblewrap
``--unshare-net`` or ``unshare --net``) costs 10-20 ms of wall time per task; entering one that already exists
costs about 2 ms. A driver process runs exactly one run, so its tasks share that run's namespace: they have a
loopback interface and nothing else, as with bubblewrap, and never see another run's.

The namespace is held by a small helper process (:mod:`omicsd.executors._netns_holder`) started on first use.
The helper reads a pipe whose other end only this process holds, so it exits when this process exits, however
that happens. When the helper is found dead, the next call starts another one.

Needs root (``setns`` into a network namespace needs ``CAP_SYS_ADMIN``) and util-linux ``nsenter``; otherwise
:func:`shared_prefix` answers ``None`` and :mod:`omicsd.executors.isolation` uses a per-task mechanism.
Must not: decide which commands are isolated, or probe that the prefix works (the isolation module does).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

HOLDER = Path(__file__).with_name("_netns_holder.py")
READY_TIMEOUT = 10.0

_lock = threading.Lock()
_holder: subprocess.Popen[bytes] | None = None
_prefix: tuple[str, ...] | None = None
_unavailable = False
"""Set once starting a holder failed or cannot work here (not root, no nsenter): not tried again."""


def shared_prefix() -> tuple[str, ...] | None:
    """``nsenter --net=/proc/<holder>/ns/net --`` for this process's namespace, or ``None`` when unavailable."""
    global _holder, _prefix, _unavailable
    with _lock:
        if _unavailable:
            return None
        if _holder is None or _holder.poll() is not None:
            nsenter = shutil.which("nsenter")
            _holder = _start() if nsenter is not None and os.geteuid() == 0 else None
            _prefix = (
                None if _holder is None or nsenter is None else (nsenter, f"--net=/proc/{_holder.pid}/ns/net", "--")
            )
            _unavailable = _prefix is None
        return _prefix


def holder_pid() -> int | None:
    """The pid of this process's namespace holder, if one runs."""
    with _lock:
        return _holder.pid if _holder is not None and _holder.poll() is None else None


def _start() -> subprocess.Popen[bytes] | None:
    try:
        holder = subprocess.Popen(
            [sys.executable, "-S", str(HOLDER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as exn:
        logger.info("executor.netns_unavailable: %s", exn)
        return None
    assert holder.stdout is not None
    line = _read_line(holder, READY_TIMEOUT)
    if line != "ready":
        logger.info("executor.netns_unavailable: %s", line or "the holder did not start")
        holder.kill()
        holder.wait()
        return None
    holder.stdout.close()
    logger.debug("executor.netns_started pid=%d", holder.pid)
    return holder


def _read_line(holder: subprocess.Popen[bytes], timeout: float) -> str:
    found: list[str] = []
    assert holder.stdout is not None
    stdout = holder.stdout
    reader = threading.Thread(target=lambda: found.append(stdout.readline().decode(errors="replace").strip()))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return found[0] if found else ""
