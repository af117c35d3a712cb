"""Warm drivers on demand: one fork-server helper per engine, started by the first run and stopped when idle.

Owns: :class:`WarmDrivers`, the scheduler's pool of :class:`~omicsd.scheduler.forkserver.ForkServer` helpers.
A helper costs 45-60 MB (it has imported miniwdl or cwltool), so none runs while the server is idle:

- :meth:`WarmDrivers.take` is asked for a helper at every launch. A ready helper is returned; otherwise one is
  started in the background and ``None`` is returned, so that this launch starts a fresh interpreter at once
  instead of waiting for the helper's imports (the helper serves the runs that follow).
- :meth:`WarmDrivers.housekeep` (called on the scheduler's housekeeping pass) closes a helper that has launched
  nothing for ``idle_seconds`` and whose drivers have all ended, and forgets helpers that died. After a helper
  fails to start or dies, no new one is started for :data:`RETRY_SECONDS`.

Must not: block a launch on a helper's start-up, or close a helper whose forked drivers still run (their exit
status would be lost; the scheduler would then settle them from /proc and the journal, as after a restart).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from omicsd.scheduler.forkserver import ForkServer

logger = logging.getLogger(__name__)

RETRY_SECONDS = 60.0
"""How long no helper is started for a module after one failed to start or died."""

Starter = Callable[[list[str], Path | None], ForkServer]
"""Starts a helper for some driver modules, writing its stderr to a log file (``ForkServer.start``)."""


@dataclass
class _Helper:
    server: ForkServer
    last_used: float
    drivers: set[int] = field(default_factory=set)


class WarmDrivers:
    """Per-engine fork-server helpers, started on demand and stopped after ``idle_seconds`` without launches."""

    def __init__(
        self,
        modules: Iterable[str],
        *,
        idle_seconds: float,
        log_path: Path | None = None,
        enabled: bool = True,
        on_exit: Callable[[int], None] | None = None,
        start: Starter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Set up an empty pool.

        Args:
            modules: the driver modules that may be served warm (one helper each).
            idle_seconds: a helper that launched nothing for this long, with no driver of its own running, is
                stopped; ``0`` stops it as soon as its drivers have ended.
            log_path: where helpers write their own stderr.
            enabled: ``False`` makes :meth:`take` always answer ``None`` (``server.warm_drivers = false``).
            on_exit: called with the pid of each driver a helper forked, as soon as it has ended (from the
                helper handle's reader thread; see :meth:`ForkServer.start`).
            start: how a helper is started (tests pass a fake); default: :meth:`ForkServer.start`.
            clock: monotonic seconds (tests pass a fake).
        """
        self.modules = frozenset(modules)
        self.idle_seconds = idle_seconds
        self.enabled = enabled
        self._log_path = log_path
        self._start = start or (lambda modules, log: ForkServer.start(modules, log_path=log, on_exit=on_exit))
        self._clock = clock
        self._helpers: dict[str, _Helper] = {}
        self._retry_after: dict[str, float] = {}

    def take(self, module: str) -> ForkServer | None:
        """The ready helper for ``module``, or ``None`` (then one is started for the launches that follow)."""
        if not self.enabled or module not in self.modules:
            return None
        now = self._clock()
        helper = self._helpers.get(module)
        if helper is not None and not helper.server.alive():
            self._forget(module, now, died=True)
            helper = None
        if helper is None:
            self._spawn(module, now)
            return None
        helper.last_used = now
        if module in helper.server.preloaded:
            return helper.server
        if helper.server.wait_ready(0):  # ready, but the module failed to import there
            self._forget(module, now, died=True)
        return None  # still importing: this launch starts a fresh interpreter

    def launched(self, module: str, pid: int) -> None:
        """Note a driver the helper for ``module`` forked (it keeps the helper alive until it ends)."""
        helper = self._helpers.get(module)
        if helper is not None:
            helper.drivers.add(pid)
            helper.last_used = self._clock()

    def housekeep(self) -> None:
        """Stop idle helpers and forget dead ones."""
        now = self._clock()
        for module, helper in list(self._helpers.items()):
            if not helper.server.alive():
                self._forget(module, now, died=True)
                continue
            helper.drivers = {pid for pid in helper.drivers if helper.server.exit_status(pid) is None}
            if not helper.drivers and now - helper.last_used >= self.idle_seconds:
                logger.info("forkserver.idle_stop module=%s pid=%d", module, helper.server.process.pid)
                self._forget(module, now, died=False)

    def running(self) -> dict[str, ForkServer]:
        """The helpers currently started, by module."""
        return {module: helper.server for module, helper in self._helpers.items()}

    def close(self) -> None:
        """Stop every helper (drivers they forked keep running)."""
        for helper in self._helpers.values():
            helper.server.close()
        self._helpers.clear()

    def _spawn(self, module: str, now: float) -> None:
        if now < self._retry_after.get(module, 0.0):
            return
        try:
            self._helpers[module] = _Helper(self._start([module], self._log_path), now)
        except OSError:
            logger.warning("forkserver.start_failed module=%s", module, exc_info=True)
            self._retry_after[module] = now + RETRY_SECONDS

    def _forget(self, module: str, now: float, *, died: bool) -> None:
        helper = self._helpers.pop(module)
        if died:
            logger.warning("forkserver.died module=%s pid=%d", module, helper.server.process.pid)
            self._retry_after[module] = now + RETRY_SECONDS
        helper.server.close()
