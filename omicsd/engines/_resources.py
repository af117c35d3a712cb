"""A task's resource requests as an engine reads them, sized the HealthOmics way.

Owns: :class:`Requested` (the raw cpu / memory / gpu / accelerator / image requests of one task attempt),
:meth:`Requested.sized` (rounded requests plus the ``omics.*`` instance type) and
:func:`instance_type_or_error`, both through :mod:`omicsd.domain.instance_types`.

Must not: know a workflow language (engines fill :class:`Requested` from their own runtime sections) or
decide what the executor reserves (engines clamp the sized request to the executor's capacity).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from omicsd.domain import instance_types

GIB = 1024**3


@dataclass(frozen=True)
class Sized:
    """A request as HealthOmics allocates it."""

    cpus: int
    memory_gib: int
    gpus: int
    instance_type: str


@dataclass(frozen=True)
class Requested:
    """What a task asked for; defaults are HealthOmics' (1 vCPU, 1 GiB, no GPU)."""

    cpus: float = 1.0
    memory_bytes: int = GIB
    gpus: int = 0
    accelerator_type: str = ""
    image: str = ""
    """Container image named by the task (empty when none)."""

    def normalized(self) -> tuple[int, int, int]:
        """``(cpus, memory GiB, gpus)`` rounded up to integers, at least 1 vCPU and 1 GiB.

        Raises:
            omicsd.errors.ValidationError: negative amounts or more than 4 GPUs.
        """
        return instance_types.normalize(self.cpus, self.memory_bytes / GIB, self.gpus)

    def sized(self) -> Sized:
        """The rounded request and the smallest instance type that holds it.

        Raises:
            omicsd.errors.ValidationError: no instance type is large enough, or the accelerator type is
                unknown (the task fails with INVALID_TASK_RESOURCE_VALUE).
        """
        cpus, memory_gib, gpus = self.normalized()
        return Sized(
            cpus, memory_gib, gpus, instance_types.instance_type(cpus, memory_gib, gpus, self.accelerator_type or None)
        )

    def scaled_memory(self, factor: int) -> Requested:
        """The same request with ``factor`` times the memory (HealthOmics doubles it for an OOM retry)."""
        return self if factor == 1 else replace(self, memory_bytes=self.memory_bytes * factor)


def instance_type_or_error(cpus: int, memory_gib: int, gpus: int, accelerator_type: str = "") -> str:
    """The smallest omics instance type for an already rounded request.

    Raises:
        omicsd.errors.ValidationError: no instance type is large enough, or the accelerator type is unknown.
    """
    return instance_types.instance_type(cpus, memory_gib, gpus, accelerator_type or None)
