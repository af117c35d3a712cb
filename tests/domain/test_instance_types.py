from __future__ import annotations

import pytest

from omicsd.domain.instance_types import instance_type, normalize
from omicsd.errors import ValidationError


def test_normalize_defaults_rounding_and_minimums() -> None:
    assert normalize(None, None, None) == (1, 1, 0)
    assert normalize(0.5, 0.2, 0) == (1, 1, 0)
    assert normalize(2.1, 3.5, None) == (3, 4, 0)
    assert normalize(0, 0, 2) == (1, 1, 2)
    for bad in ((-1, 1, 0), (1, float("nan"), 0), (1, 1, 5)):
        with pytest.raises(ValidationError):
            normalize(*bad)


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (1, 1, "omics.c.large"),
        (2, 4, "omics.c.large"),
        (2, 8, "omics.m.large"),
        (2, 16, "omics.r.large"),
        (2, 17, "omics.r.xlarge"),
        (5, 20, "omics.m.2xlarge"),
        (3, 2, "omics.c.xlarge"),
        (8, 64, "omics.r.2xlarge"),
        (8, 16, "omics.c.2xlarge"),
        (96, 768, "omics.r.24xlarge"),
        (192, 1536, "omics.r.48xlarge"),
        (100, 1, "omics.c.32xlarge"),
    ],
)
def test_cpu_instance_types(cpus: int, memory: int, expected: str) -> None:
    assert instance_type(cpus, memory) == expected


def test_too_large_is_invalid_task_resource_value() -> None:
    for cpus, memory in ((193, 1), (1, 1537)):
        with pytest.raises(ValidationError) as caught:
            instance_type(cpus, memory)
        assert caught.value.details["failure_reason"] == "INVALID_TASK_RESOURCE_VALUE"


@pytest.mark.parametrize(
    ("cpus", "memory", "gpus", "accelerator", "expected"),
    [
        (1, 1, 1, "nvidia-tesla-t4", "omics.g4dn.xlarge"),
        (1, 1, 1, None, "omics.g4dn.xlarge"),
        (8, 32, 1, "nvidia-tesla-a10g", "omics.g5.2xlarge"),
        (4, 16, 4, "nvidia-tesla-a10g", "omics.g5.12xlarge"),
        (64, 256, 4, "nvidia-tesla-a10g", "omics.g5.24xlarge"),
        (4, 16, 1, "nvidia-l4", "omics.g6.xlarge"),
        (4, 32, 1, "nvidia-l40s", "omics.g6e.xlarge"),
        (2, 8, 1, "nvidia-t4-a10g-l4", "omics.g6.xlarge"),
        (2, 8, 1, "nvidia-tesla-t4-a10g", "omics.g4dn.xlarge"),
        (96, 300, 1, "nvidia-tesla-t4-a10g", "omics.g5.24xlarge"),
    ],
)
def test_gpu_instance_types(cpus: int, memory: int, gpus: int, accelerator: str | None, expected: str) -> None:
    assert instance_type(cpus, memory, gpus, accelerator) == expected


def test_unknown_accelerator_or_too_large_gpu_request() -> None:
    with pytest.raises(ValidationError, match="not supported"):
        instance_type(1, 1, 1, "nvidia-h100")
    with pytest.raises(ValidationError):
        instance_type(96, 16, 4, "nvidia-tesla-t4")
