"""One empty network namespace per process, shared by its RESTRICTED task commands.

Owns: :func:`thread_namespace` (the cheapest isolation: the thread that starts a task command enters the
namespace for the length of the fork and returns, so the command starts inside it with no extra program) and
:func:`shared_prefix` (the same namespace as an ``nsenter`` argv prefix, for commands this process does not start
itself). Creating a namespace for every task (bubblewrap ``--unshare-net`` or ``unshare --net``) costs 10-20 ms
of wall time per task; ``nsenter`` costs one more exec (about 1-2 ms of CPU); entering the namespace from the
spawning thread costs two ``setns`` calls (microseconds). A driver process runs exactly one run, so its tasks share
that run's namespace: they have a loopback interface and nothing else, as with bubblewrap, and never see another
run's.

A network namespace belongs to a thread, not to a process: ``setns`` moves only the calling thread, and a child
forked by that thread starts in the thread's namespace. :meth:`ThreadNamespace.entered` relies on exactly that,
and puts the thread back into the namespace it came from before it returns.

The namespace is held by a small helper process (:mod:`omicsd.executors._netns_holder`) started on first use.
The helper reads a pipe whose other end only this process holds, so it exits when this process exits, however
that happens. When the helper is found dead, the next call starts another one.

Needs root (``setns`` into a network namespace needs ``CAP_SYS_ADMIN``); :func:`shared_prefix` also needs
util-linux ``nsenter``. Otherwise both answer ``None`` and :mod:`omicsd.executors.isolation` uses a per-task
mechanism.
Must not: decide which commands are isolated, or probe that the namespace works (the isolation module does).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omicsd.errors import OmicsdError

logger = logging.getLogger(__name__)

HOLDER = Path(__file__).with_name("_netns_holder.py")
READY_TIMEOUT = 10.0

_lock = threading.Lock()
_holder: subprocess.Popen[bytes] | None = None
_prefix: tuple[str, ...] | None = None
_unavailable = False
"""Set once starting a holder failed or cannot work here (not root): not tried again."""
_namespace: ThreadNamespace | None = None

CLONE_NEWNET = 0x40000000


class NamespaceError(OmicsdError):
    """A thread could not enter the shared namespace, or could not return from it."""


class ThreadNamespace:
    """The shared namespace, entered by the calling thread only (see the module docstring)."""

    def __init__(self, holder_pid: int) -> None:
        self.holder_pid = holder_pid
        self.owner_pid = os.getpid()
        self._fd = os.open(f"/proc/{holder_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        """Keeps the namespace itself alive for as long as this object is in use, even past its holder."""

    @contextmanager
    def entered(self) -> Iterator[None]:
        """While open, the calling thread (and every child it forks) is in the namespace.

        Raises:
            NamespaceError: the thread could not enter the namespace (nothing changed), or could not return
                to its own (it then stays isolated: it has lost the network, never gained one).
        """
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._fd, "enter the shared network namespace")
            try:
                yield
            finally:
                _setns(own, "return to the thread's network namespace")
        finally:
            os.close(own)

    def __repr__(self) -> str:
        return f"ThreadNamespace(holder_pid={self.holder_pid})"


def thread_namespace() -> ThreadNamespace | None:
    """This process's namespace for spawning threads to enter, or ``None`` when unavailable.

    Made once per process: its file descriptor keeps the namespace alive even if the holder dies later.
    """
    global _namespace
    with _lock:
        if _namespace is None or _namespace.owner_pid != os.getpid():  # a forked child gets its own
            holder = _live_holder()
            if holder is None or _SETNS is None:
                return None
            try:
                _namespace = ThreadNamespace(holder.pid)
            except OSError as exn:
                logger.info("executor.netns_unavailable: %s", exn)
                return None
        return _namespace


def shared_prefix() -> tuple[str, ...] | None:
    """``nsenter --net=/proc/<holder>/ns/net --`` for this process's namespace, or ``None`` when unavailable."""
    global _prefix
    with _lock:
        holder = _live_holder()
        nsenter = shutil.which("nsenter")
        if holder is None or nsenter is None:
            return None
        if _prefix is None or _prefix[1] != f"--net=/proc/{holder.pid}/ns/net":
            _prefix = (nsenter, f"--net=/proc/{holder.pid}/ns/net", "--")
        return _prefix


def _live_holder() -> subprocess.Popen[bytes] | None:
    """The running holder, started (again) when needed; call with ``_lock`` held."""
    global _holder, _unavailable
    if _unavailable:
        return None
    if _holder is None or _holder.poll() is not None:
        _holder = _start() if os.geteuid() == 0 else None
        _unavailable = _holder is None
    return _holder


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


def _setns_function() -> Callable[[int, int], int] | None:
    """``setns(fd, nstype)`` returning 0 or -1 (errno set): ``os.setns`` from Python 3.12, else libc's."""
    native = getattr(os, "setns", None)
    if native is not None:

        def call(fd: int, nstype: int) -> int:
            native(fd, nstype)
            return 0

        return call
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int, int], int] = libc.setns
    except (OSError, AttributeError):
        return None
    return function


_SETNS = _setns_function()


def _setns(fd: int, action: str) -> None:
    if _SETNS is None:
        raise NamespaceError(f"cannot {action}: setns is not available")
    try:
        failed = _SETNS(fd, CLONE_NEWNET) != 0
        errno = ctypes.get_errno()
    except OSError as exn:
        raise NamespaceError(f"cannot {action}: {exn}") from exn
    if failed:
        raise NamespaceError(f"cannot {action}: {os.strerror(errno)}")
