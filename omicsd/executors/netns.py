"""One empty network namespace per process, shared by its RESTRICTED task commands.

Owns: :func:`thread_namespace` (the cheapest isolation: the thread that starts a task command enters the
namespace for the length of the fork and returns, so the command starts inside it with no extra program) and
:func:`shared_prefix` (the same namespace as an ``nsenter`` argv prefix, for commands this process does not start
itself). Creating a namespace for every task (bubblewrap ``--unshare-net`` or ``unshare --net``) costs 10-20 ms
of wall time per task; ``nsenter`` costs one more exec (about 1-2 ms of CPU); entering the namespace from the
spawning thread costs two ``setns`` calls (microseconds). A driver process runs exactly one run, so its tasks share
that run's namespace: they have a loopback interface and nothing else, as with bubblewrap, and never see another
run's.

A network namespace belongs to a thread, not to a process: ``unshare`` and ``setns`` move only the calling
thread, and a child forked by that thread starts in the thread's namespace. The namespace is made once per
process by a short-lived thread that leaves the host's namespace (``unshare(CLONE_NEWNET)``), brings the new
namespace's loopback up (as bubblewrap does, so tasks may still talk to themselves on 127.0.0.1), keeps a file
descriptor of it and ends. That descriptor keeps the namespace alive exactly as long as this process, and
``/proc/<pid>/fd/<n>`` names it for ``nsenter``. :meth:`ThreadNamespace.entered` puts a spawning thread into it
and back into the namespace the thread came from.

Needs root (``CAP_SYS_ADMIN``); :func:`shared_prefix` also needs util-linux ``nsenter``. Otherwise both answer
``None`` and :mod:`omicsd.executors.isolation` uses a per-task mechanism.
Must not: decide which commands are isolated, or probe that commands started this way are isolated (the
isolation module does).
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from omicsd.errors import OmicsdError

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH14s"

_lock = threading.Lock()
_namespace: ThreadNamespace | None = None
_failed_in: int | None = None
"""The pid of a process where making the namespace failed (not tried again there)."""


class NamespaceError(OmicsdError):
    """A namespace could not be made, or a thread could not enter it or return from it."""


class ThreadNamespace:
    """This process's empty network namespace, entered by one calling thread at a time (see the module docstring)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        """Keeps the namespace alive for the life of this process."""
        self.owner_pid = os.getpid()
        self.nsenter_prefix: tuple[str, ...] | None = None
        """:func:`shared_prefix`'s answer, once asked."""

    @property
    def path(self) -> str:
        """A path that names the namespace for other programs (``nsenter --net=PATH``)."""
        return f"/proc/{self.owner_pid}/fd/{self.fd}"

    @contextmanager
    def entered(self) -> Iterator[None]:
        """While open, the calling thread (and every child it forks) is in the namespace.

        Raises:
            NamespaceError: the thread could not enter the namespace (nothing changed), or could not return
                to its own (it then stays isolated: it has lost the network, never gained one).
        """
        own = _own_namespace()
        _setns(self.fd, "enter the shared network namespace")
        try:
            yield
        finally:
            _setns(own, "return to the thread's network namespace")

    def __repr__(self) -> str:
        return f"ThreadNamespace(path={self.path!r})"


class _OwnDescriptor:
    """A thread's descriptor of its own namespace, closed when the thread ends (its thread-local goes)."""

    def __init__(self) -> None:
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def __del__(self) -> None:
        os.close(self.fd)


_own = threading.local()


def _own_namespace() -> int:
    """A descriptor of the namespace the calling thread is in outside :meth:`ThreadNamespace.entered`."""
    held: _OwnDescriptor | None = getattr(_own, "held", None)
    if held is None:
        held = _own.held = _OwnDescriptor()
    return held.fd


def thread_namespace() -> ThreadNamespace | None:
    """This process's namespace (made on first use), or ``None`` when it cannot be made here."""
    global _namespace, _failed_in
    with _lock:
        pid = os.getpid()
        if _namespace is not None and _namespace.owner_pid == pid:
            return _namespace
        if _failed_in == pid or _SETNS is None or _UNSHARE is None or os.geteuid() != 0:
            return None
        try:
            _namespace = ThreadNamespace(_make())  # a forked child makes its own: never its parent's runs'
        except (OSError, NamespaceError) as exn:
            logger.info("executor.netns_unavailable: %s", exn)
            _failed_in = pid
            return None
        logger.debug("executor.netns_made path=%s", _namespace.path)
        return _namespace


def shared_prefix() -> tuple[str, ...] | None:
    """``nsenter --net=<namespace> --`` for this process's namespace, or ``None`` when unavailable."""
    namespace = thread_namespace()
    if namespace is None:
        return None
    if namespace.nsenter_prefix is None:
        nsenter = shutil.which("nsenter")
        if nsenter is None:
            return None
        namespace.nsenter_prefix = (nsenter, f"--net={namespace.path}", "--")
    return namespace.nsenter_prefix


def _make() -> int:
    """Make the namespace in a thread of its own; returns a descriptor of it."""
    made: list[int] = []
    failed: list[BaseException] = []

    def leave_and_come_back() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _unshare()
            try:
                fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                made.append(fd)
                _loopback_up()
            finally:
                _setns(own, "return to the host's network namespace")  # the thread ends next in any case
        except BaseException as exn:
            failed.append(exn)
        finally:
            os.close(own)

    maker = threading.Thread(target=leave_and_come_back, name="omicsd-netns", daemon=True)
    maker.start()
    maker.join()
    if failed:
        for fd in made:
            os.close(fd)
        raise failed[0]
    return made[0]


def _loopback_up() -> None:
    """Bring ``lo`` up in the calling thread's namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        current = fcntl.ioctl(sock, _SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0, b""))
        flags = struct.unpack(_IFREQ, current)[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP, b""))


def _libc_call(name: str) -> Callable[..., int] | None:
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    return function


_SETNS = _libc_call("setns")
_UNSHARE = _libc_call("unshare")


def _unshare() -> None:
    if _UNSHARE is None or _UNSHARE(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(f"unshare(CLONE_NEWNET): {os.strerror(errno) if errno else 'not available'}")


def _setns(fd: int, action: str) -> None:
    if _SETNS is None or _SETNS(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(f"cannot {action}: {os.strerror(errno) if errno else 'setns is not available'}")
