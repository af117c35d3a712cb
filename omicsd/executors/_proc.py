"""Reading ``/proc`` and the machine's size: the Linux facts the local executor and the ledger need.

Owns: parsing ``/proc/<pid>/stat``, scanning every process once, telling whether a pid is still the
process it was (start time), and detecting the CPUs and memory this process may use (affinity, cgroup
limits, ``/proc/meminfo``).
Must not: start, signal or account for processes (that is :mod:`omicsd.executors.local` and
:mod:`omicsd.executors.capacity`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


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
