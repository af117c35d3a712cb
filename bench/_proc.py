"""Process facts read from /proc: resident and proportional set sizes, liveness, the machine's description.

Owns: the /proc parsing the memory cases and the report header need.
Must not: signal or start processes.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

MB = 1024 * 1024


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split(" ", 1)[0] not in ("Z", "X")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far, in seconds (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``)."""
    return _status_kb(pid, "VmRSS") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` in MB: pages shared with other processes count by their share."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def _status_kb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return 0.0
    return 0.0


def machine() -> dict[str, str | int]:
    """CPU model, CPU count, memory, kernel and Python of this machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024)
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor() or "unknown",
        "cpus": os.cpu_count() or 1,
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages (a shared machine's noise shows here)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return ""
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
