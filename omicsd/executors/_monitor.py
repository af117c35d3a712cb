"""One sampler thread per executor that measures every running task's process tree.

Owns: attributing processes to tasks (same session or process group as the task's leader, or a descendant
of a process already attributed), CPU and RSS samples, and the memory limit (SIGKILL to the whole tree when
its RSS exceeds the limit). One ``/proc`` scan per interval serves every task, so many concurrent tasks
cost no more than one, and it reads only the processes created since the oldest task started; a task
younger than :data:`FIRST_SAMPLE_DELAY` is not sampled yet (most tiny tasks end before it, and a scan for
them alone is skipped).
Must not: start, wait for or reap processes (the executor does; the monitor only signals them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from omicsd.executors import _proc

logger = logging.getLogger(__name__)

FIRST_SAMPLE_DELAY = 0.05
"""Seconds after its start before a task is first sampled (and its memory limit first enforced)."""


@dataclass
class Watch:
    """The samples of one task; read the metrics once it is unwatched."""

    leader: int
    """pid of the task's first process; also its session and process-group id."""
    memory_limit: int
    started: float = field(default_factory=time.monotonic)
    known: dict[int, int] = field(default_factory=dict)
    """Every process ever attributed to the task: pid → start ticks."""
    samples: int = 0
    rss_sum: int = 0
    max_rss: int = 0
    max_cpus: float = 0.0
    max_ticks: int = 0
    oom_killed: bool = False
    active: bool = True
    _last_ticks: int = 0
    _last_time: float = 0.0

    def members(self, stats: list[_proc.ProcStat]) -> list[_proc.ProcStat]:
        """The live processes of this task in a fresh scan (for signalling at teardown)."""
        return [
            s
            for s in stats
            if not s.zombie
            and (s.session == self.leader or s.pgrp == self.leader or self.known.get(s.pid) == s.start_ticks)
        ]


class ProcessMonitor:
    """Samples registered tasks every ``interval`` seconds from a daemon thread started on first use."""

    def __init__(self, interval: float = 0.25, first_sample_delay: float = FIRST_SAMPLE_DELAY) -> None:
        self.interval = interval
        self.first_sample_delay = first_sample_delay
        self._watches: dict[int, Watch] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, leader: int, memory_limit: int) -> Watch:
        """Start sampling the tree led by ``leader`` (enforcing ``memory_limit`` bytes when > 0)."""
        watch = Watch(leader=leader, memory_limit=memory_limit)
        watch._last_time = watch.started  # the leader needs no entry in ``known``: it leads the session
        with self._cond:
            self._watches[leader] = watch
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="omicsd-procmon", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return watch

    def unwatch(self, watch: Watch) -> None:
        """Stop sampling; after this returns the monitor never signals the task's processes again."""
        with self._cond:
            watch.active = False
            self._watches.pop(watch.leader, None)

    def sample_now(self, *, include_young: bool = True) -> None:
        """Take one sample of every watched task at once.

        Args:
            include_young: Also sample tasks younger than ``first_sample_delay`` (the thread passes
                ``False``; the ``/proc`` scan is skipped when no task is old enough).
        """
        if not include_young:
            oldest = time.monotonic() - self.first_sample_delay
            with self._cond:
                if not any(w.started <= oldest for w in self._watches.values()):
                    return
        stats = self._processes()
        now = time.monotonic()
        with self._cond:
            watches = [w for w in self._watches.values() if include_young or now - w.started >= self.first_sample_delay]
            if not watches:
                return
            owners = _attribute(stats, watches)
            for watch in watches:
                self._update(watch, owners.get(watch.leader, []), now)

    def _processes(self) -> list[_proc.ProcStat]:
        """Every process that may belong to a watched task.

        While pids cannot have cycled since the oldest watched task started, those are its leader and the
        processes created after it; otherwise every process on the machine.
        """
        with self._cond:
            oldest = min(self._watches.values(), key=lambda w: w.started, default=None)
        if oldest is not None and time.monotonic() - oldest.started < _proc.pid_cycle_seconds():
            stats = _proc.stats_since(oldest.leader)
            if stats is not None:
                return stats
        return list(_proc.iter_stats())

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._watches:
                    self._cond.wait()
            time.sleep(self.interval)
            try:
                self.sample_now(include_young=False)
            except Exception:  # the sampler must survive anything /proc throws at it
                logger.exception("executor.monitor_failed")

    def _update(self, watch: Watch, members: list[_proc.ProcStat], now: float) -> None:
        """Fold one sample into ``watch`` and enforce its memory limit (called with the lock held)."""
        live = [m for m in members if not m.zombie]
        for member in live:
            watch.known[member.pid] = member.start_ticks
        rss = sum(m.rss_bytes for m in live)
        ticks = sum(m.cpu_ticks + m.children_ticks for m in members)
        elapsed = now - watch._last_time
        if elapsed > 0:
            cpus = max(0, ticks - watch._last_ticks) / _proc.CLOCK_TICKS / elapsed
            watch.max_cpus = max(watch.max_cpus, cpus)
        watch._last_ticks, watch._last_time = ticks, now
        watch.max_ticks = max(watch.max_ticks, ticks)
        watch.samples += 1
        watch.rss_sum += rss
        watch.max_rss = max(watch.max_rss, rss)
        if watch.memory_limit > 0 and rss > watch.memory_limit and not watch.oom_killed:
            logger.info("task.oom leader=%d rss=%d limit=%d", watch.leader, rss, watch.memory_limit)
            watch.oom_killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(watch.leader, signal.SIGKILL)
            for member in live:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(member.pid, signal.SIGKILL)


def _attribute(stats: list[_proc.ProcStat], watches: list[Watch]) -> dict[int, list[_proc.ProcStat]]:
    """Leader → the processes of its task in ``stats``."""
    leaders = {w.leader for w in watches}
    known = {(pid, start): w.leader for w in watches for pid, start in w.known.items()}
    by_pid = {s.pid: s for s in stats}
    owner: dict[int, int | None] = {}

    def find(stat: _proc.ProcStat) -> int | None:
        chain: list[int] = []
        current: _proc.ProcStat | None = stat
        result: int | None = None
        while current is not None and current.pid not in owner:
            if current.session in leaders:
                result = current.session
                break
            if current.pgrp in leaders:
                result = current.pgrp
                break
            if (current.pid, current.start_ticks) in known:
                result = known[(current.pid, current.start_ticks)]
                break
            chain.append(current.pid)
            current = by_pid.get(current.ppid) if current.ppid > 1 else None
        else:
            if current is not None:
                result = owner[current.pid]
        for pid in chain:
            owner[pid] = result
        owner[stat.pid] = result
        return result

    grouped: dict[int, list[_proc.ProcStat]] = {}
    for stat in stats:
        leader = find(stat)
        if leader is not None:
            grouped.setdefault(leader, []).append(stat)
    return grouped
