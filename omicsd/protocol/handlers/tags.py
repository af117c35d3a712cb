"""Wire mapping of TagResource, UntagResource and ListTagsForResource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.protocol._types import Handler, RequestContext
from omicsd.services import Services


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    tags = services.tags

    def tag_resource(ctx: RequestContext, p: dict[str, Any]) -> None:
        tags.tag(p["resourceArn"], p["tags"])

    def untag_resource(ctx: RequestContext, p: dict[str, Any]) -> None:
        tags.untag(p["resourceArn"], p["tagKeys"])

    def list_tags_for_resource(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        return {"tags": tags.list(p["resourceArn"])}

    return {
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }
