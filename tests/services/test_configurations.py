"""Configurations at the service level: the scheduler's activation step rests while there is nothing to do."""

from __future__ import annotations

from typing import Any

import pytest

from omicsd.domain.configurations import ConfigurationStatus
from omicsd.services import Services
from omicsd.services import configurations as configuration_service

VPC = {"vpcConfig": {"securityGroupIds": ["sg-0a1b"], "subnetIds": ["subnet-01", "subnet-02"]}}


def _count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = configuration_service.repo.names_in_status

    def counted(*args: Any, **kwargs: Any) -> list[str]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(configuration_service.repo, "names_in_status", counted)
    return calls


def test_step_rests_until_a_configuration_is_created(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = _count_lookups(monkeypatch)
    configurations = services.configurations
    assert configurations.step() is False
    assert configurations.step() is False and configurations.step() is False
    assert len(lookups) == 1, "after finding nothing, ticks cost no query"

    configurations.create(services.caller(None), {"name": "net", "runConfigurations": VPC})
    assert configurations.step() is True, "a new configuration is activated at the next tick"
    assert len(lookups) == 2
    record = services.configurations.get("net").record
    assert record.status == ConfigurationStatus.ACTIVE


def test_step_looks_again_after_resting(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = _count_lookups(monkeypatch)
    configurations = services.configurations
    configurations.step()
    monkeypatch.setattr(configuration_service.time, "monotonic", lambda: 10**9)
    configurations.step()
    assert len(lookups) == 2
