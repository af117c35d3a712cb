"""Network isolation for RESTRICTED task commands: how a command started here loses the network.

Owns: choosing a mechanism — the process's shared empty namespace (:mod:`omicsd.executors.netns`, root only),
entered by the spawning thread (:func:`network_isolation`, microseconds per task) or by an ``nsenter`` prefix
(:func:`network_prefix`, one more exec), else a new namespace per task with bubblewrap ``--unshare-net`` or
util-linux ``unshare --net`` (with a user namespace when not root; 10-20 ms per task) — proving once that it
works (a tiny probe whose result is cached), and failing closed with :class:`NetworkIsolationError` when
isolation is requested but impossible.
Must not: start task commands (the executor does, through :class:`NetworkIsolation`) or decide which runs are
RESTRICTED.

Modes (setting ``executor.network_isolation``): ``auto`` (the shared namespace when it works, else bubblewrap,
else ``unshare``), ``bwrap`` (a bubblewrap sandbox per task), ``unshare`` (the shared namespace, else ``unshare``
per task) and ``none`` (no isolation at all; a warning is logged once).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from omicsd.errors import OmicsdError
from omicsd.executors import netns

logger = logging.getLogger(__name__)

MODES = ("auto", "bwrap", "unshare", "none")

_lock = threading.Lock()
_cache: dict[str, tuple[str, ...] | str] = {}
_proven: dict[object, bool] = {}
"""Probe results of shared namespaces: per ``nsenter`` prefix and per :class:`netns.ThreadNamespace`."""
_warned_none = False


class NetworkIsolationError(OmicsdError):
    """Network isolation was requested but this machine cannot provide it."""


@dataclass(frozen=True)
class NetworkIsolation:
    """How the executor starts a command without the network: under :meth:`spawning`, as :meth:`argv`."""

    prefix: tuple[str, ...] = ()
    """Prepended to the command (a per-task namespace), or empty."""
    namespace: netns.ThreadNamespace | None = None
    """The shared namespace the spawning thread enters, or ``None``."""

    def argv(self, command: Sequence[str]) -> list[str]:
        """The command line to start."""
        return [*self.prefix, *command]

    def spawning(self) -> AbstractContextManager[None]:
        """Hold this open around the fork: the calling thread is in the namespace meanwhile (if there is one)."""
        return self.namespace.entered() if self.namespace is not None else nullcontext()


NO_ISOLATION = NetworkIsolation()
"""Commands keep the host network (VPC runs, or mode ``none``)."""


def network_isolation(mode: str = "auto") -> NetworkIsolation:
    """How to start a command in a network namespace with no usable interface.

    The shared namespace entered by the spawning thread when it works (modes ``auto`` and ``unshare``), else
    :func:`network_prefix`'s answer as a prefix.

    Raises:
        NetworkIsolationError: as :func:`network_prefix`.
    """
    if mode in ("auto", "unshare"):
        namespace = netns.thread_namespace()
        if namespace is not None and _works(namespace):
            return NetworkIsolation(namespace=namespace)
    return NetworkIsolation(prefix=network_prefix(mode))


def network_prefix(mode: str = "auto") -> tuple[str, ...]:
    """The argv prefix that runs a command in a network namespace with no usable interface.

    Args:
        mode: ``auto``, ``bwrap``, ``unshare`` or ``none``.

    Returns:
        The prefix (empty for ``none``), proven to work by a probe the first time it is asked for.

    Raises:
        NetworkIsolationError: the mode is unknown, or no candidate mechanism works on this machine.
    """
    global _warned_none
    if mode not in MODES:
        raise NetworkIsolationError(f"Unknown network isolation mode {mode!r}; expected one of {MODES}.")
    if mode == "none":
        if not _warned_none:
            _warned_none = True
            logger.warning("executor.network_isolation_disabled RESTRICTED tasks keep the host network")
        return ()
    if mode in ("auto", "unshare"):
        shared = netns.shared_prefix()
        if shared is not None and _works(shared):
            return shared
    with _lock:
        if mode not in _cache:
            _cache[mode] = _choose(mode)
        found = _cache[mode]
    if isinstance(found, str):
        raise NetworkIsolationError(found)
    return found


def _works(shared: tuple[str, ...] | netns.ThreadNamespace) -> bool:
    """Whether the shared namespace (as a prefix, or entered by this thread) isolates (probed once each)."""
    with _lock:
        if shared not in _proven:
            if isinstance(shared, tuple):
                problem, shown = _probe(shared), " ".join(shared)
            else:
                problem, shown = _probe((), shared), repr(shared)
            if problem is None:
                logger.info("executor.network_isolation mode=shared via=%s", shown)
            else:
                logger.info("executor.network_isolation_shared_failed %s: %s", shown, problem)
            _proven[shared] = problem is None
        return _proven[shared]


def _candidates(mode: str) -> list[tuple[str, ...]]:
    candidates: list[tuple[str, ...]] = []
    bwrap = shutil.which("bwrap")
    if bwrap and mode in ("auto", "bwrap"):
        candidates.append((bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--"))
    unshare = shutil.which("unshare")
    if unshare and mode in ("auto", "unshare"):
        candidates.append((unshare, "--net", "--"))
        candidates.append((unshare, "--user", "--map-current-user", "--net", "--"))
        candidates.append((unshare, "--map-root-user", "--net", "--"))
    return candidates


def _choose(mode: str) -> tuple[str, ...] | str:
    """The first working candidate, or an error message saying what was tried."""
    candidates = _candidates(mode)
    failures = []
    for prefix in candidates:
        problem = _probe(prefix)
        if problem is None:
            logger.info("executor.network_isolation mode=%s prefix=%s", mode, " ".join(prefix))
            return prefix
        failures.append(f"{' '.join(prefix)}: {problem}")
    wanted = {"auto": "bwrap or unshare", "bwrap": "bwrap", "unshare": "unshare"}[mode]
    if not candidates:
        return (
            f"RESTRICTED networking needs {wanted} on PATH to isolate task commands, and none was found; "
            "install bubblewrap or util-linux, or set executor.network_isolation = 'none' to run without isolation."
        )
    return (
        f"RESTRICTED networking could not isolate task commands with {wanted} "
        f"({'; '.join(failures)}); set executor.network_isolation = 'none' to run without isolation."
    )


def _probe(prefix: tuple[str, ...], namespace: netns.ThreadNamespace | None = None) -> str | None:
    """Run ``cat /proc/self/net/dev`` isolated that way: ``None`` when only a loopback is visible."""
    try:
        with NetworkIsolation(prefix, namespace).spawning():
            done = subprocess.run(
                [*prefix, "cat", "/proc/self/net/dev"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
                check=False,
            )
    except (OSError, subprocess.SubprocessError, netns.NamespaceError) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    interfaces = [
        line.split(":", 1)[0].strip() for line in done.stdout.decode(errors="replace").splitlines() if ":" in line
    ]
    if any(name != "lo" for name in interfaces):
        return f"interfaces still visible: {', '.join(interfaces)}"
    return None
