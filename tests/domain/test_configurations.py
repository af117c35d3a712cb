import re
from datetime import UTC, datetime

import pytest

from omicsd.domain.configurations import (
    CONFIGURATION_TRANSITIONS,
    ConfigurationRecord,
    ConfigurationStatus,
    check_quota,
    check_run_configurations,
    vpc_id,
)
from omicsd.domain.transitions import decide
from omicsd.errors import QuotaExceededError, ValidationError

S = ConfigurationStatus
ACCOUNT = "123456789012"


def test_status_machine() -> None:
    assert set(CONFIGURATION_TRANSITIONS) == set(S)
    assert decide(CONFIGURATION_TRANSITIONS, "c", S.CREATING, S.ACTIVE).accepted
    assert decide(CONFIGURATION_TRANSITIONS, "c", S.ACTIVE, S.DELETING).accepted
    assert decide(CONFIGURATION_TRANSITIONS, "c", S.DELETING, S.DELETED).accepted
    assert not decide(CONFIGURATION_TRANSITIONS, "c", S.ACTIVE, S.UPDATING).accepted, "configurations are immutable"
    assert not CONFIGURATION_TRANSITIONS[S.DELETED]


def test_vpc_id_is_deterministic_and_order_free() -> None:
    first = vpc_id(["subnet-a1", "subnet-b2"])
    assert first == vpc_id(["subnet-b2", "subnet-a1"])
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", first)
    assert first != vpc_id(["subnet-a1"])


def test_run_configurations_are_validated_and_completed() -> None:
    stored = check_run_configurations(
        {"vpcConfig": {"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1", "subnet-2"]}}, ACCOUNT
    )
    vpc = stored["vpcConfig"]
    assert vpc["vpcId"] == vpc_id(["subnet-1", "subnet-2"]) and vpc["vpcOwnerAccountId"] == ACCOUNT
    shared = check_run_configurations(
        {"vpcConfig": {"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"], "vpcOwnerAccountId": "2" * 12}},
        ACCOUNT,
    )
    assert shared["vpcConfig"]["vpcOwnerAccountId"] == "2" * 12
    record = ConfigurationRecord("c", "u", S.ACTIVE, datetime.now(UTC), stored)
    assert record.vpc_config == vpc and record.label == "Configuration c"


@pytest.mark.parametrize(
    ("vpc", "message"),
    [
        (None, "vpcConfig is required"),
        ({"securityGroupIds": [f"sg-{i}" for i in range(6)], "subnetIds": ["subnet-1"]}, "at most 5"),
        ({"securityGroupIds": ["sg-1"], "subnetIds": [f"subnet-{i:x}" for i in range(17)]}, "at most 16"),
        ({"securityGroupIds": [], "subnetIds": ["subnet-1"]}, "at least one"),
        ({"securityGroupIds": ["sg-1"]}, "subnetIds needs at least one"),
        ({"securityGroupIds": ["group"], "subnetIds": ["subnet-1"]}, "sg-<hex>"),
        ({"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1", "subnet-1"]}, "more than once"),
        ({"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"], "vpcOwnerAccountId": "12"}, "12-digit"),
    ],
)
def test_run_configuration_errors(vpc: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_run_configurations({} if vpc is None else {"vpcConfig": vpc}, ACCOUNT)


def test_quota() -> None:
    check_quota(9)
    with pytest.raises(QuotaExceededError, match="limit is 10"):
        check_quota(10)
    with pytest.raises(QuotaExceededError):
        check_quota(2, limit=2)
