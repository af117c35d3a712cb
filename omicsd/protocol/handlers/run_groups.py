"""Wire mapping of the run-group operations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services import Services
from omicsd.services.run_groups import RunGroupView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    groups = services.run_groups

    def create_run_group(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = groups.create(services.caller(ctx.access_key_id), p)
        return {"arn": view.arn, "id": view.record.id, "tags": view.tags}

    def get_run_group(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = groups.get(p["id"])
        return {**_item(view), "tags": view.tags}

    def update_run_group(ctx: RequestContext, p: dict[str, Any]) -> None:
        groups.update(p["id"], p)

    def delete_run_group(ctx: RequestContext, p: dict[str, Any]) -> None:
        groups.delete(p["id"])

    def list_run_groups(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = groups.list(name=p.get("name"), token=p.get("startingToken"), max_results=p.get("maxResults"))
        return compact({"items": [_item(v) for v in page.items], "nextToken": page.next_token})

    return {
        "CreateRunGroup": create_run_group,
        "GetRunGroup": get_run_group,
        "UpdateRunGroup": update_run_group,
        "DeleteRunGroup": delete_run_group,
        "ListRunGroups": list_run_groups,
    }


def _item(view: RunGroupView) -> dict[str, Any]:
    r = view.record
    return compact(
        {
            "arn": view.arn,
            "id": r.id,
            "name": r.name,
            "maxCpus": r.max_cpus,
            "maxGpus": r.max_gpus,
            "maxRuns": r.max_runs,
            "maxDuration": r.max_duration,
            "creationTime": r.creation_time,
        }
    )
