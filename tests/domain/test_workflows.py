from datetime import UTC, datetime

import pytest

from omicsd.domain.states import WorkflowStatus
from omicsd.domain.workflows import WorkflowRecord, check_deletable, check_sources, digest_of
from omicsd.errors import ConflictError, ValidationError


def test_exactly_one_source() -> None:
    assert check_sources({"definitionZip": b"x"}) == "zip"
    assert check_sources({"definitionUri": "s3://b/k.zip"}) == "uri"
    with pytest.raises(ValidationError, match="Exactly one"):
        check_sources({})
    with pytest.raises(ValidationError, match="Only one definition source"):
        check_sources({"definitionZip": b"x", "definitionUri": "s3://b/k"})


def test_repository_only_members() -> None:
    with pytest.raises(ValidationError, match="parameterTemplatePath"):
        check_sources({"definitionZip": b"x", "parameterTemplatePath": "t.json"})


def test_one_readme_source() -> None:
    with pytest.raises(ValidationError, match="README"):
        check_sources({"definitionZip": b"x", "readmeMarkdown": "# hi", "readmeUri": "s3://b/r.md"})


def test_digest_format() -> None:
    digest = digest_of(b"abc")
    assert digest.startswith("sha256:") and len(digest) == 71


def _record(status: WorkflowStatus, version: str = "") -> WorkflowRecord:
    return WorkflowRecord(
        id="1234567", version_name=version, uuid="u", name="n", status=status, creation_time=datetime.now(UTC)
    )


def test_delete_rules() -> None:
    check_deletable(_record(WorkflowStatus.ACTIVE), 0)
    check_deletable(_record(WorkflowStatus.FAILED), 0)
    with pytest.raises(ConflictError, match="version"):
        check_deletable(_record(WorkflowStatus.ACTIVE), 2)
    with pytest.raises(ConflictError, match="CREATING"):
        check_deletable(_record(WorkflowStatus.CREATING), 0)
