"""Wire mapping of the run-cache operations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services import Services
from omicsd.services.run_caches import RunCacheView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    caches = services.run_caches

    def create_run_cache(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = caches.create(services.caller(ctx.access_key_id), p)
        return {"arn": view.arn, "id": view.record.id, "status": view.record.status, "tags": view.tags}

    def get_run_cache(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = caches.get(p["id"])
        r = view.record
        return compact(
            {
                **_item(view),
                "description": r.description,
                "cacheBucketOwnerId": r.cache_bucket_owner_id,
                "tags": view.tags,
            }
        )

    def update_run_cache(ctx: RequestContext, p: dict[str, Any]) -> None:
        caches.update(p["id"], p)

    def delete_run_cache(ctx: RequestContext, p: dict[str, Any]) -> None:
        caches.delete(p["id"])

    def list_run_caches(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = caches.list(token=p.get("startingToken"), max_results=p.get("maxResults"))
        return compact({"items": [_item(v) for v in page.items], "nextToken": page.next_token})

    return {
        "CreateRunCache": create_run_cache,
        "GetRunCache": get_run_cache,
        "UpdateRunCache": update_run_cache,
        "DeleteRunCache": delete_run_cache,
        "ListRunCaches": list_run_caches,
    }


def _item(view: RunCacheView) -> dict[str, Any]:
    r = view.record
    return compact(
        {
            "arn": view.arn,
            "id": r.id,
            "name": r.name,
            "cacheBehavior": r.cache_behavior,
            "cacheS3Uri": r.cache_s3_uri,
            "status": r.status,
            "creationTime": r.creation_time,
        }
    )
