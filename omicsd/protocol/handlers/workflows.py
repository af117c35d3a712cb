"""Wire mapping of the workflow and workflow-version operations.

Owns: turning parsed wire members into :class:`~omicsd.services.workflows.WorkflowService` calls and records
into output members. Must not: hold business rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.domain.workflows import DEFAULT_VERSION, WorkflowRecord
from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact, export_url
from omicsd.services import Services
from omicsd.services.workflows import WorkflowView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    workflows = services.workflows

    def create_workflow(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = workflows.create(services.caller(ctx.access_key_id), p)
        return {
            "arn": view.arn,
            "id": view.record.id,
            "status": view.record.status.value,
            "tags": view.tags,
            "uuid": view.record.uuid,
        }

    def create_workflow_version(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = workflows.create(services.caller(ctx.access_key_id), p, workflow_id=p["workflowId"])
        return {
            "arn": view.arn,
            "workflowId": view.record.id,
            "versionName": view.record.version_name,
            "status": view.record.status.value,
            "tags": view.tags,
            "uuid": view.record.uuid,
        }

    def get_workflow(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = workflows.get(p["id"], type=p.get("type"), owner=p.get("workflowOwnerId"))
        return {"id": view.record.id, "name": view.record.name, **_details(ctx, view, p.get("export") or [])}

    def get_workflow_version(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = workflows.get(p["workflowId"], p["versionName"], type=p.get("type"), owner=p.get("workflowOwnerId"))
        return {
            "workflowId": view.record.id,
            "versionName": view.record.version_name,
            "workflowBucketOwnerId": view.record.workflow_bucket_owner_id,
            **_details(ctx, view, p.get("export") or []),
        }

    def list_workflows(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = workflows.list(
            name=p.get("name"), type=p.get("type"), token=p.get("startingToken"), max_results=p.get("maxResults")
        )
        items = [compact({"id": v.record.id, "name": v.record.name, **_summary(v)}) for v in page.items]
        return compact({"items": items, "nextToken": page.next_token})

    def list_workflow_versions(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = workflows.list(
            workflow_id=p["workflowId"],
            type=p.get("type"),
            owner=p.get("workflowOwnerId"),
            token=p.get("startingToken"),
            max_results=p.get("maxResults"),
        )
        items = [
            compact(
                {
                    "workflowId": v.record.id,
                    "versionName": v.record.version_name,
                    "description": v.record.description,
                    **_summary(v),
                }
            )
            for v in page.items
        ]
        return compact({"items": items, "nextToken": page.next_token})

    def update_workflow(ctx: RequestContext, p: dict[str, Any]) -> None:
        workflows.update(p["id"], DEFAULT_VERSION, p)

    def update_workflow_version(ctx: RequestContext, p: dict[str, Any]) -> None:
        workflows.update(p["workflowId"], p["versionName"], {k: v for k, v in p.items() if k != "name"})

    def delete_workflow(ctx: RequestContext, p: dict[str, Any]) -> None:
        workflows.delete(p["id"])

    def delete_workflow_version(ctx: RequestContext, p: dict[str, Any]) -> None:
        workflows.delete(p["workflowId"], p["versionName"])

    return {
        "CreateWorkflow": create_workflow,
        "CreateWorkflowVersion": create_workflow_version,
        "GetWorkflow": get_workflow,
        "GetWorkflowVersion": get_workflow_version,
        "ListWorkflows": list_workflows,
        "ListWorkflowVersions": list_workflow_versions,
        "UpdateWorkflow": update_workflow,
        "UpdateWorkflowVersion": update_workflow_version,
        "DeleteWorkflow": delete_workflow,
        "DeleteWorkflowVersion": delete_workflow_version,
    }


def export_parts(record: WorkflowRecord) -> tuple[str, ...]:
    """Path segments of a record under the export route."""
    if record.is_version:
        return ("workflow", record.id, "version", record.version_name)
    return ("workflow", record.id)


def _summary(view: WorkflowView) -> dict[str, Any]:
    r = view.record
    return {
        "arn": view.arn,
        "status": r.status.value,
        "type": r.type,
        "digest": r.digest,
        "creationTime": r.creation_time,
        "metadata": _metadata(r),
    }


def _details(ctx: RequestContext, view: WorkflowView, export: list[str]) -> dict[str, Any]:
    r = view.record
    out: dict[str, Any] = {
        **_summary(view),
        "uuid": r.uuid,
        "description": r.description,
        "engine": r.engine,
        "main": r.main,
        "parameterTemplate": r.parameter_template or None,
        "storageType": r.storage_type,
        "storageCapacity": r.storage_capacity,
        "statusMessage": r.status_message,
        "tags": view.tags,
        "accelerators": r.accelerators,
        "containerRegistryMap": r.container_registry_map,
        "definitionRepositoryDetails": r.definition_repository_details,
        "readmePath": r.readme_path,
        "profiles": r.profiles or None,
        "profileParameterTemplates": r.profile_parameter_templates or None,
    }
    if "DEFINITION" in export and r.digest:
        out["definition"] = export_url(ctx.base_url, *export_parts(r), "definition.zip")
    if "README" in export and r.readme_markdown:
        out["readme"] = export_url(ctx.base_url, *export_parts(r), "README.md")
    return compact(out)


def _metadata(record: WorkflowRecord) -> dict[str, str]:
    meta = dict(record.metadata)
    if record.language_version:
        meta.setdefault("languageVersion", record.language_version)
    return meta
