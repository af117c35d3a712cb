"""HealthOmics task sizing: rounding a task's requests and choosing its ``omics.*`` instance type.

Owns: :func:`normalize` (defaults 1 vCPU / 1 GiB / 0 GPUs, fractions round up, minimum 1 vCPU / 1 GiB)
and :func:`instance_type` (the smallest CPU instance ``omics.{c,m,r}.<size>``, or for GPU tasks the
smallest ``omics.<g4dn|g5|g6|g6e>.<size>`` allowed by the accelerator type), per the HealthOmics rules.
Must not: do I/O or reserve anything; the names are what GetRunTask reports, not what runs the task.
"""

from __future__ import annotations

import math

from omicsd.errors import ValidationError

FAILURE_REASON = "INVALID_TASK_RESOURCE_VALUE"

CPU_SIZES: tuple[tuple[str, int], ...] = (
    ("large", 2),
    ("xlarge", 4),
    ("2xlarge", 8),
    ("4xlarge", 16),
    ("8xlarge", 32),
    ("12xlarge", 48),
    ("16xlarge", 64),
    ("24xlarge", 96),
    ("32xlarge", 128),
    ("48xlarge", 192),
)
"""Size name → vCPUs, ascending."""

CPU_FAMILIES: tuple[tuple[str, int], ...] = (("c", 2), ("m", 4), ("r", 8))
"""Family → GiB per vCPU, in the order HealthOmics tries them."""

GPU_FAMILIES: dict[str, tuple[tuple[str, int, int, int], ...]] = {
    family: tuple(
        (size, cpus, cpus * gib_per_cpu, 4 if size in ("12xlarge", "24xlarge") else 1)
        for size, cpus in CPU_SIZES[1:8]
        if not (family == "g4dn" and size == "24xlarge")
    )
    for family, gib_per_cpu in (("g4dn", 4), ("g5", 4), ("g6", 4), ("g6e", 8))
}
"""Family → (size, vCPUs, GiB, GPUs), ascending; xlarge…24xlarge (g4dn has no 24xlarge)."""

ACCELERATORS: dict[str, tuple[str, ...]] = {
    "nvidia-tesla-t4": ("g4dn",),
    "nvidia-tesla-t4-a10g": ("g4dn", "g5"),
    "nvidia-tesla-a10g": ("g5",),
    "nvidia-t4-a10g-l4": ("g6", "g5", "g4dn"),
    "nvidia-l4-a10g": ("g6", "g5"),
    "nvidia-l4": ("g6",),
    "nvidia-l40s": ("g6e",),
}
"""Accelerator type → GPU families in order of preference: the cheaper first, except ``nvidia-t4-a10g-l4``
which prefers the newest generation."""

DEFAULT_ACCELERATOR = "nvidia-tesla-t4"
"""Used when a task asks for GPUs without naming an accelerator type."""

MAX_GPUS = 4


def normalize(cpus: float | None, memory_gib: float | None, gpus: int | None) -> tuple[int, int, int]:
    """``(vCPUs, GiB, GPUs)`` as HealthOmics allocates them.

    Unspecified values default to 1 vCPU, 1 GiB and 0 GPUs; fractions round up; the minimum is 1 vCPU and
    1 GiB.

    Raises:
        ValidationError: a value is negative or not a finite number, or more than 4 GPUs.
    """
    values = []
    for what, value, default, minimum in (("cpu", cpus, 1, 1), ("memory", memory_gib, 1, 1), ("gpu", gpus, 0, 0)):
        if value is None:
            values.append(default)
            continue
        if not math.isfinite(value) or value < 0:
            raise _invalid(f"Task {what} request {value!r} is not a valid amount.")
        values.append(max(minimum, math.ceil(value)))
    if values[2] > MAX_GPUS:
        raise _invalid(f"Task requests {values[2]} GPUs; at most {MAX_GPUS} are supported.")
    return values[0], values[1], values[2]


def instance_type(cpus: int, memory_gib: int, gpus: int = 0, accelerator_type: str | None = None) -> str:
    """The smallest omics instance type that holds the (normalized) request.

    CPU tasks: sizes ascending, the first size with enough vCPUs, then the first family (c, m, r) with
    enough memory; if none has, the next size (8 vCPU + 64 GiB → ``omics.r.2xlarge``). GPU tasks (``gpus``
    > 0 or an accelerator type): the families the accelerator type allows, in preference order, each at
    its smallest size with enough vCPUs, memory and GPUs.

    Raises:
        ValidationError: nothing is large enough, or the accelerator type is unknown
            (``details["failure_reason"]`` is ``INVALID_TASK_RESOURCE_VALUE``).
    """
    if gpus > 0 or accelerator_type:
        return _gpu_instance(cpus, memory_gib, max(gpus, 1), accelerator_type or DEFAULT_ACCELERATOR)
    for size, vcpus in CPU_SIZES:
        if vcpus < cpus:
            continue
        for family, gib_per_cpu in CPU_FAMILIES:
            if vcpus * gib_per_cpu >= memory_gib:
                return f"omics.{family}.{size}"
    raise _invalid(
        f"No instance type has {cpus} vCPUs and {memory_gib} GiB of memory "
        f"(the largest is omics.r.48xlarge: 192 vCPUs, 1536 GiB)."
    )


def _gpu_instance(cpus: int, memory_gib: int, gpus: int, accelerator_type: str) -> str:
    families = ACCELERATORS.get(accelerator_type)
    if families is None:
        raise _invalid(
            f"Accelerator type {accelerator_type!r} is not supported; use one of {', '.join(sorted(ACCELERATORS))}."
        )
    for family in families:
        for size, vcpus, gib, family_gpus in GPU_FAMILIES[family]:
            if vcpus >= cpus and gib >= memory_gib and family_gpus >= gpus:
                return f"omics.{family}.{size}"
    raise _invalid(f"No {accelerator_type} instance type has {cpus} vCPUs, {memory_gib} GiB of memory and {gpus} GPUs.")


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, failure_reason=FAILURE_REASON)
