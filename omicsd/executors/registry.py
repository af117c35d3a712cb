"""Selecting an executor by the name the configuration gives.

Owns: :func:`new`, the one place that maps ``executor.name`` to an implementation.
Must not: hold executor logic; implementations live in their own modules and are imported lazily.
"""

from __future__ import annotations

from pathlib import Path

from omicsd.errors import NotSupportedError, ValidationError
from omicsd.executors.base import TaskExecutor

NAMES = ("local", "slurm")


def new(
    name: str,
    *,
    capacity_dir: Path,
    cpus: int = 0,
    memory_bytes: int = 0,
    gpus: int = 0,
    network_isolation: str = "auto",
    tmp_root: Path | None = None,
) -> TaskExecutor:
    """Create the executor called ``name``.

    Args:
        name: ``local`` (host processes); ``slurm`` is reserved and not available yet.
        capacity_dir: Directory of the machine-wide capacity ledger (``<data_dir>/capacity``).
        cpus: CPUs to hand out; 0 detects the machine's.
        memory_bytes: Memory to hand out; 0 detects the machine's.
        gpus: GPUs to hand out.
        network_isolation: ``auto``, ``bwrap``, ``unshare`` or ``none``.
        tmp_root: Directory of reusable task ``TMPDIR`` directories (``None``: one per attempt, in its
            working directory).

    Raises:
        NotSupportedError: ``slurm`` (not implemented yet).
        ValidationError: an unknown name.
    """
    if name == "local":
        from omicsd.executors.capacity import CapacityLedger
        from omicsd.executors.local import LocalExecutor

        ledger = CapacityLedger(capacity_dir, cpus=cpus, memory_bytes=memory_bytes, gpus=gpus)
        return LocalExecutor(ledger, network_isolation=network_isolation, tmp_root=tmp_root)
    if name == "slurm":
        raise NotSupportedError("The slurm executor is not available yet; use executor.name = 'local'.")
    raise ValidationError(f"Unknown executor {name!r}; expected one of {', '.join(NAMES)}.")
