import pytest

from omicsd.domain.ids import Arns, new_id, new_uuid
from omicsd.errors import NotFoundError, ValidationError

ARNS = Arns(region="us-east-1", account_id="123456789012")


def test_new_id_is_seven_digits() -> None:
    ids = {new_id() for _ in range(200)}
    assert all(len(i) == 7 and i.isdigit() and i[0] != "0" for i in ids)
    assert len(ids) > 190


def test_new_uuid_shape() -> None:
    parts = new_uuid().split("-")
    assert [len(p) for p in parts] == [8, 4, 4, 4, 12]


def test_arn_round_trip() -> None:
    arn = ARNS.of("run", "1234567")
    assert arn == "arn:aws:omics:us-east-1:123456789012:run/1234567"
    ref = ARNS.parse(arn)
    assert (ref.kind, ref.resource_id, ref.version_name) == ("run", "1234567", None)


def test_workflow_version_arn() -> None:
    arn = ARNS.workflow_version("1234567", "v1.0")
    assert arn.endswith(":workflow/1234567/version/v1.0")
    ref = ARNS.parse(arn)
    assert (ref.kind, ref.resource_id, ref.version_name) == ("workflow", "1234567", "v1.0")


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:us-east-1:123456789012:bucket/x",
        "arn:aws:omics:us-east-1:123456789012:sequenceStore/1",
        "arn:aws:omics:us-east-1:123456789012:run/",
        "arn:aws:omics:us-east-1:123456789012:run/1/extra",
    ],
)
def test_parse_rejects_non_taggable(arn: str) -> None:
    with pytest.raises(ValidationError):
        ARNS.parse(arn)


def test_parse_other_account_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        ARNS.parse("arn:aws:omics:us-west-2:123456789012:run/1234567")
