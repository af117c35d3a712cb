"""Identifier and ARN formats of every omicsd resource.

Owns: new numeric IDs and UUIDs, ARN construction, and parsing a taggable ARN back into (kind, id).
Must not: do I/O or know about storage; uniqueness is the store's job (it retries on a collision).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from omicsd.errors import NotFoundError, ValidationError

#: Resource kinds as they appear in ARNs, mapped to the resource family that owns them.
TAGGABLE_KINDS = ("workflow", "run", "runGroup", "runCache", "runBatch", "configuration")


def new_id() -> str:
    """A random 7-digit numeric ID, as HealthOmics hands out for workflows, runs, groups, caches and batches."""
    return str(1_000_000 + secrets.randbelow(9_000_000))


def new_uuid() -> str:
    """A random UUID string (8-4-4-4-12 hex)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Arns:
    """Builds ARNs for one Region and account."""

    region: str
    account_id: str

    def of(self, kind: str, resource_id: str) -> str:
        """ARN of a resource of ``kind`` (``workflow``, ``run``, ``runGroup``, ...)."""
        return f"arn:aws:omics:{self.region}:{self.account_id}:{kind}/{resource_id}"

    def workflow_version(self, workflow_id: str, version_name: str) -> str:
        """ARN of a workflow version."""
        return f"{self.of('workflow', workflow_id)}/version/{version_name}"

    def task(self, task_id: str) -> str:
        """ARN of a task (not nested under its run, as in HealthOmics)."""
        return self.of("task", task_id)

    def parse(self, arn: str) -> ArnRef:
        """Parse a taggable ARN of this account and Region.

        Raises:
            ValidationError: not an omics ARN of a taggable resource.
            NotFoundError: an omics ARN of another account or Region (it cannot exist here).
        """
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "omics":
            raise ValidationError(f"Invalid resource ARN: {arn}")
        region, account, resource = parts[3], parts[4], parts[5]
        segments = resource.split("/")
        kind = segments[0]
        if kind not in TAGGABLE_KINDS or len(segments) < 2 or not segments[1]:
            raise ValidationError(f"Invalid resource ARN: {arn}")
        if region != self.region or account != self.account_id:
            raise NotFoundError(f"Resource {arn} not found")
        version: str | None = None
        if kind == "workflow" and len(segments) == 4 and segments[2] == "version" and segments[3]:
            version = segments[3]
        elif len(segments) != 2:
            raise ValidationError(f"Invalid resource ARN: {arn}")
        return ArnRef(kind=kind, resource_id=segments[1], version_name=version)


@dataclass(frozen=True)
class ArnRef:
    """A parsed resource ARN."""

    kind: str
    resource_id: str
    version_name: str | None = None
