import pytest

from omicsd.engines._resources import GIB, Requested, Sized, instance_type_or_error
from omicsd.errors import ValidationError


def test_defaults_are_one_cpu_one_gib():
    assert Requested().sized() == Sized(1, 1, 0, "omics.c.large")


def test_fractions_round_up_and_pick_the_smallest_instance():
    assert Requested(cpus=7.5, memory_bytes=60 * GIB + 1).sized() == Sized(8, 61, 0, "omics.r.2xlarge")
    assert Requested(cpus=0.25, memory_bytes=10**9).sized() == Sized(1, 1, 0, "omics.c.large")


def test_gpu_requests_get_a_gpu_instance():
    sized = Requested(cpus=4, memory_bytes=16 * GIB, gpus=1, accelerator_type="nvidia-tesla-a10g").sized()
    assert (sized.gpus, sized.instance_type) == (1, "omics.g5.xlarge")


@pytest.mark.parametrize(
    "requested",
    [Requested(cpus=500), Requested(memory_bytes=4096 * GIB), Requested(gpus=1, accelerator_type="quantum-9000")],
)
def test_impossible_requests_are_invalid(requested):
    with pytest.raises(ValidationError):
        requested.sized()


def test_oom_retry_scaling():
    base = Requested(memory_bytes=3 * GIB)
    assert base.scaled_memory(1) is base
    assert base.scaled_memory(2).sized().memory_gib == 6


def test_instance_type_or_error():
    assert instance_type_or_error(8, 64, 0) == "omics.r.2xlarge"
    with pytest.raises(ValidationError):
        instance_type_or_error(1, 1, 1, "quantum-9000")
