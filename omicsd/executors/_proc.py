"""Reading ``/proc`` and the machine's size: the Linux facts the local executor and the ledger need.

Owns: parsing ``/proc/<pid>/stat``, scanning every process once, reading only the processes created after
a given one (:func:`stats_since`, :func:`family_after`: the pids allocated since, not every process),
telling whether a pid is still the process it was (start time), and detecting the CPUs and memory this
process may use (affinity, cgroup limits, ``/proc/meminfo``).
Must not: start, signal or account for processes (that is :mod:`omicsd.executors.local` and
:mod:`omicsd.executors.capacity`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PROBE_LIMIT = 4096
"""Most pids :func:`pids_after` returns as a range before it lists ``/proc`` instead."""
MAX_FORKS_PER_SECOND = 100_000
"""A rate of process (and thread) creation no machine sustains; bounds how fast pids can cycle."""


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the executor uses (times in clock ticks, memory in bytes)."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    cpu_ticks: int
    """utime + stime of the process itself."""
    children_ticks: int
    """cutime + cstime: CPU time of children it has waited for."""
    start_ticks: int
    """Start time after boot; with ``pid`` it names one process for the lifetime of the machine."""
    rss_bytes: int

    @property
    def zombie(self) -> bool:
        """The process has exited and waits to be reaped."""
        return self.state in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """The stat of one process, or ``None`` when it does not exist (any more)."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _parse_stat(pid, data)


def iter_stats() -> Iterator[ProcStat]:
    """Every process on the machine, read once (processes that vanish meanwhile are skipped)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                yield stat


def pids_after(first: int) -> list[int] | None:
    """The pids that may name processes (or threads) created after ``first``, oldest allocation first.

    Pids are handed out cyclically, so these are the pids after ``first`` up to the last one allocated
    (wrapping once past ``pid_max``): every descendant of ``first`` is among them. When few were allocated
    they are listed as a range (most no longer exist); otherwise the ``/proc`` listing is narrowed to them.
    The answer is exact only while fewer than ``pid_max`` pids were allocated since ``first``: callers bound
    the time that may have passed (see :func:`pid_cycle_seconds`).

    Returns:
        The pids, or ``None`` when the last allocated pid cannot be read (scan everything instead).
    """
    last = last_pid()
    if last is None:
        return None
    top = pid_max() - 1
    ranges = [(first + 1, last)] if last >= first else [(first + 1, top), (1, last)]
    ranges = [(lo, hi) for lo, hi in ranges if lo <= hi]
    if sum(hi - lo + 1 for lo, hi in ranges) <= PROBE_LIMIT:
        return [pid for lo, hi in ranges for pid in range(lo, hi + 1)]
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    return [pid for pid in map(int, filter(str.isdigit, names)) if any(lo <= pid <= hi for lo, hi in ranges)]


def stats_since(first: int) -> list[ProcStat] | None:
    """``first`` and the processes created after it (see :func:`pids_after`); ``None``: scan everything."""
    pids = pids_after(first)
    if pids is None:
        return None
    return [stat for stat in map(read_stat, [first, *pids]) if stat is not None]


def family_after(leader: int, known: Collection[int] = ()) -> list[ProcStat] | None:
    """The processes in ``leader``'s session (so also in its group) or in ``known``, ``leader`` excluded.

    Only the pids allocated after ``leader`` (see :func:`pids_after`) are asked for their session, with
    ``getsid``, a system call that never blocks; ``/proc`` is read only for the ones that belong.

    Returns:
        The stats, or ``None`` when the last allocated pid cannot be read (scan everything instead).
    """
    pids = pids_after(leader)
    if pids is None:
        return None
    found = []
    for pid in pids:
        try:
            if pid not in known and os.getsid(pid) != leader:
                continue
        except OSError:  # no such process (or thread)
            continue
        stat = read_stat(pid)
        if stat is not None:
            found.append(stat)
    return found


def last_pid() -> int | None:
    """The pid allocated last in this pid namespace (the last field of ``/proc/loadavg``)."""
    try:
        fd = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return int(os.read(fd, 256).split()[-1])
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)


@functools.cache
def pid_max() -> int:
    """One more than the largest pid the kernel hands out (``/proc/sys/kernel/pid_max``)."""
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        return 1 << 22


def pid_cycle_seconds() -> float:
    """Seconds within which the kernel surely cannot hand out every pid once (at :data:`MAX_FORKS_PER_SECOND`)."""
    return pid_max() / MAX_FORKS_PER_SECOND


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks after boot, or ``None`` when no such process runs."""
    stat = read_stat(pid)
    return None if stat is None or stat.zombie else stat.start_ticks


def is_same_process(pid: int, started: int) -> bool:
    """Whether ``pid`` still names the process that started at ``started`` (ticks after boot)."""
    return start_ticks(pid) == started


def detect_cpus() -> int:
    """vCPUs this process may use: its affinity mask, lowered by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def detect_memory_bytes() -> int:
    """Memory this process may use: ``MemTotal`` lowered by a cgroup memory limit."""
    total = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        total = 0
    limit = _cgroup_memory_limit()
    if limit is not None and (total == 0 or limit < total):
        total = limit
    return total


def _parse_stat(pid: int, data: bytes) -> ProcStat | None:
    try:
        fields = data[data.rindex(b")") + 2 :].split()
        return ProcStat(
            pid=pid,
            state=fields[0].decode(),
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            cpu_ticks=int(fields[11]) + int(fields[12]),
            children_ticks=int(fields[13]) + int(fields[14]),
            start_ticks=int(fields[19]),
            rss_bytes=max(0, int(fields[21])) * PAGE_SIZE,
        )
    except (ValueError, IndexError):
        return None


def _cgroup_paths() -> dict[str, str]:
    """Controller (``""`` for the v2 unified tree) → this process's cgroup path."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _read_first_line(path: Path) -> str | None:
    try:
        return path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None


def _cgroup_memory_limit() -> int | None:
    paths = _cgroup_paths()
    candidates: list[Path] = []
    if "" in paths:
        candidates.append(Path("/sys/fs/cgroup") / paths[""].lstrip("/") / "memory.max")
    if "memory" in paths:
        candidates.append(Path("/sys/fs/cgroup/memory") / paths["memory"].lstrip("/") / "memory.limit_in_bytes")
    limits = []
    for candidate in candidates:
        text = _read_first_line(candidate)
        if text and text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    return min(limits) if limits else None


def _cgroup_cpu_quota() -> float | None:
    paths = _cgroup_paths()
    if "" in paths:
        text = _read_first_line(Path("/sys/fs/cgroup") / paths[""].lstrip("/") / "cpu.max")
        if text:
            quota, _, period = text.partition(" ")
            if quota.isdigit() and period.isdigit() and int(period) > 0:
                return int(quota) / int(period)
    if "cpu" in paths:
        base = Path("/sys/fs/cgroup/cpu") / paths["cpu"].lstrip("/")
        quota_text = _read_first_line(base / "cpu.cfs_quota_us")
        period_text = _read_first_line(base / "cpu.cfs_period_us")
        if quota_text and period_text and quota_text.isdigit() and period_text.isdigit() and int(period_text):
            return int(quota_text) / int(period_text)
    return None
