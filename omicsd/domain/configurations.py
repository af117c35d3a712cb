"""Configurations (VPC networking for runs): the record, its status machine and the pure creation rules.

Owns: :class:`ConfigurationStatus` and its transition table, :class:`ConfigurationRecord`, the validation of
``runConfigurations`` (security groups, subnets, VPC owner), the computed ``vpcId`` and the per-account limit.
Must not: touch storage or the clock beyond the values callers pass in.

A configuration is immutable once created. It is named by its ``name`` (there is no numeric ID), answers
``CREATING`` on CreateConfiguration and becomes ``ACTIVE`` the first time it is read or used (there are no
network interfaces to provision locally). DeleteConfiguration moves it through ``DELETING`` to ``DELETED``; a
deleted configuration is kept as a tombstone (hidden from Get/List) so runs that used it still describe it,
and its name may be used again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from omicsd.errors import QuotaExceededError, ValidationError

MAX_CONFIGURATIONS = 10
"""Default 'maximum configurations' quota per account (L-D91CDC5E)."""
MAX_SECURITY_GROUPS = 5
MAX_SUBNETS = 16

_SECURITY_GROUP = re.compile(r"sg-[0-9a-f]+")
_SUBNET = re.compile(r"subnet-[0-9a-f]+")
_ACCOUNT = re.compile(r"[0-9]{12}")


class ConfigurationStatus(StrEnum):
    """Configuration status (values of the model's ConfigurationStatus)."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"


CONFIGURATION_TRANSITIONS: dict[ConfigurationStatus, frozenset[ConfigurationStatus]] = {
    ConfigurationStatus.CREATING: frozenset({ConfigurationStatus.ACTIVE, ConfigurationStatus.FAILED}),
    ConfigurationStatus.ACTIVE: frozenset({ConfigurationStatus.DELETING}),
    ConfigurationStatus.UPDATING: frozenset({ConfigurationStatus.ACTIVE, ConfigurationStatus.FAILED}),
    ConfigurationStatus.FAILED: frozenset({ConfigurationStatus.DELETING}),
    ConfigurationStatus.DELETING: frozenset({ConfigurationStatus.DELETED}),
    ConfigurationStatus.DELETED: frozenset(),
}
"""UPDATING exists in the model but is never entered: configurations are immutable."""

DELETABLE: frozenset[ConfigurationStatus] = frozenset({ConfigurationStatus.ACTIVE, ConfigurationStatus.FAILED})


@dataclass(frozen=True)
class ConfigurationRecord:
    """A configuration as stored (column names of the ``configurations`` table)."""

    name: str
    uuid: str
    status: ConfigurationStatus
    creation_time: datetime
    run_configurations: dict[str, Any]
    """``{"vpcConfig": {"securityGroupIds", "subnetIds", "vpcId", "vpcOwnerAccountId"}}`` (computed vpcId)."""
    description: str | None = None

    @property
    def label(self) -> str:
        """How messages name this configuration."""
        return f"Configuration {self.name}"

    @property
    def vpc_config(self) -> dict[str, Any] | None:
        """The stored ``vpcConfig`` (with its computed ``vpcId``), or ``None``."""
        found = self.run_configurations.get("vpcConfig")
        return dict(found) if isinstance(found, Mapping) else None


def check_run_configurations(run_configurations: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """Validate CreateConfiguration's ``runConfigurations`` and return it as stored (``vpcId`` computed).

    The model allows empty lists; HealthOmics requires 1-5 security groups and 1-16 subnets, all in one VPC,
    so omicsd asks for at least one of each and derives one ``vpcId`` from the subnets.

    Raises:
        ValidationError: no vpcConfig, too few or too many security groups or subnets, malformed or repeated
            IDs, or a malformed ``vpcOwnerAccountId``.
    """
    vpc = run_configurations.get("vpcConfig")
    if not isinstance(vpc, Mapping):
        raise ValidationError("runConfigurations.vpcConfig is required")
    groups = _ids(vpc.get("securityGroupIds"), "securityGroupIds", _SECURITY_GROUP, "sg-", MAX_SECURITY_GROUPS)
    subnets = _ids(vpc.get("subnetIds"), "subnetIds", _SUBNET, "subnet-", MAX_SUBNETS)
    owner = vpc.get("vpcOwnerAccountId") or account_id
    if not isinstance(owner, str) or not _ACCOUNT.fullmatch(owner):
        raise ValidationError(f"vpcConfig.vpcOwnerAccountId must be a 12-digit account ID, got {owner!r}")
    return {
        "vpcConfig": {
            "securityGroupIds": groups,
            "subnetIds": subnets,
            "vpcId": vpc_id(subnets),
            "vpcOwnerAccountId": owner,
        }
    }


def vpc_id(subnet_ids: list[str]) -> str:
    """The VPC the subnets belong to: ``vpc-`` and 17 hex digits derived from the sorted subnet IDs."""
    digest = hashlib.sha256(",".join(sorted(subnet_ids)).encode()).hexdigest()
    return "vpc-" + digest[:17]


def check_quota(live: int, limit: int = MAX_CONFIGURATIONS) -> None:
    """A new configuration must fit the per-account limit.

    Raises:
        QuotaExceededError: ``live`` configurations already exist.
    """
    if live >= limit:
        raise QuotaExceededError(
            f"The account already has {live} configurations; the limit is {limit}. Delete one to create another"
        )


def _ids(values: Any, member: str, pattern: re.Pattern[str], prefix: str, limit: int) -> list[str]:
    if values is None:
        values = []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError(f"vpcConfig.{member} must be a list of strings")
    if not values:
        raise ValidationError(f"vpcConfig.{member} needs at least one ID")
    if len(values) > limit:
        raise ValidationError(f"vpcConfig.{member} has {len(values)} IDs; at most {limit} are allowed")
    bad = [v for v in values if not pattern.fullmatch(v)]
    if bad:
        raise ValidationError(f"vpcConfig.{member} must look like {prefix}<hex>: {', '.join(bad)}")
    if len(set(values)) != len(values):
        raise ValidationError(f"vpcConfig.{member} lists the same ID more than once")
    return list(values)
