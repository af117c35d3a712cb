"""Workflows and workflow versions: the stored record and the rules that are not wire-shape validation.

Owns: :class:`WorkflowRecord` (one class for a workflow and for each of its versions: HealthOmics treats the
workflow itself as its default version and a version repeats every definition field), the definition-source
and README rules of CreateWorkflow / CreateWorkflowVersion, and the DeleteWorkflow conflict rules.
Must not: parse definitions (engines do) or touch storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omicsd.domain.states import WorkflowStatus
from omicsd.errors import ConflictError, ValidationError

DEFAULT_VERSION = ""
"""``version_name`` of the record that is the workflow itself (its default version)."""

MAX_VERSIONS = 1000
MAX_TEMPLATE_ENTRIES = 1000
ENGINES = ("WDL", "NEXTFLOW", "CWL", "WDL_LENIENT")


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow (``version_name == ""``) or one of its versions, as stored."""

    id: str
    version_name: str
    uuid: str
    name: str | None
    status: WorkflowStatus
    creation_time: datetime
    type: str = "PRIVATE"
    description: str | None = None
    status_message: str | None = None
    engine: str | None = None
    requested_engine: str | None = None
    main: str | None = None
    requested_main: str | None = None
    digest: str | None = None
    parameter_template: dict[str, Any] | None = None
    supplied_template: bool = False
    storage_type: str | None = None
    storage_capacity: int | None = None
    accelerators: str | None = None
    container_registry_map: dict[str, Any] | None = None
    readme_markdown: str | None = None
    readme_path: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    """Where the definition came from: ``{"zip": True}``, ``{"uri": "s3://..."}`` or the repository fields."""
    definition_repository_details: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    profile_parameter_templates: dict[str, Any] = field(default_factory=dict)
    workflow_bucket_owner_id: str | None = None
    language_version: str | None = None

    @property
    def is_version(self) -> bool:
        """Whether this record is a named version rather than the workflow itself."""
        return self.version_name != DEFAULT_VERSION

    @property
    def label(self) -> str:
        """How messages name this record."""
        if self.is_version:
            return f"Workflow {self.id} version {self.version_name}"
        return f"Workflow {self.id}"


def digest_of(archive: bytes) -> str:
    """``sha256:<hex>`` of a definition archive, as HealthOmics reports ``digest``."""
    return "sha256:" + hashlib.sha256(archive).hexdigest()


def check_sources(params: Mapping[str, Any]) -> str:
    """Which definition source a create request uses: ``zip``, ``uri`` or ``repository``.

    Raises:
        ValidationError: none or more than one source, or members that only go with another source.
    """
    present = [k for k in ("definitionZip", "definitionUri", "definitionRepository") if params.get(k)]
    if len(present) != 1:
        if not present:
            raise ValidationError(
                "Exactly one of definitionZip, definitionUri or definitionRepository must be specified"
            )
        raise ValidationError(f"Only one definition source may be specified, got {', '.join(present)}")
    source = {"definitionZip": "zip", "definitionUri": "uri", "definitionRepository": "repository"}[present[0]]
    readmes = [k for k in ("readmeMarkdown", "readmeUri", "readmePath") if params.get(k)]
    if len(readmes) > 1:
        raise ValidationError(f"Only one README source may be specified, got {', '.join(readmes)}")
    if source != "repository":
        for member in ("parameterTemplatePath", "readmePath"):
            if params.get(member):
                raise ValidationError(f"{member} can only be used with definitionRepository")
    if params.get("parameterTemplate") and params.get("parameterTemplatePath"):
        raise ValidationError("Specify parameterTemplate or parameterTemplatePath, not both")
    if params.get("containerRegistryMap") and params.get("containerRegistryMapUri"):
        raise ValidationError("Specify containerRegistryMap or containerRegistryMapUri, not both")
    template = params.get("parameterTemplate")
    if template is not None and len(template) > MAX_TEMPLATE_ENTRIES:
        raise ValidationError(f"A parameter template can have at most {MAX_TEMPLATE_ENTRIES} entries")
    engine = params.get("engine")
    if engine is not None and engine not in ENGINES:
        raise ValidationError(f"Unsupported engine {engine}")
    return source


def check_deletable(workflow: WorkflowRecord, live_versions: int) -> None:
    """DeleteWorkflow / DeleteWorkflowVersion preconditions.

    Raises:
        ConflictError: the record is still being created, or (for a workflow) versions still exist.
    """
    if workflow.status not in (WorkflowStatus.ACTIVE, WorkflowStatus.FAILED, WorkflowStatus.INACTIVE):
        raise ConflictError(f"{workflow.label} is {workflow.status.value} and cannot be deleted now")
    if not workflow.is_version and live_versions:
        raise ConflictError(
            f"{workflow.label} still has {live_versions} version(s); delete them before deleting the workflow"
        )


def check_runnable(workflow: WorkflowRecord) -> None:
    """Runs may only start against ACTIVE workflows and versions.

    Raises:
        ConflictError: the record is not ACTIVE.
    """
    if workflow.status != WorkflowStatus.ACTIVE:
        raise ConflictError(f"{workflow.label} is {workflow.status.value}; runs need an ACTIVE workflow")
