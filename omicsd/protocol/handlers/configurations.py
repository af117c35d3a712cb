"""Wire mapping of the configuration operations (Create/Get/List/DeleteConfiguration).

Owns: turning parsed members into configuration service calls and records into output members.
Must not: hold business rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services import Services
from omicsd.services.configurations import ConfigurationService, ConfigurationView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    service = _service(services)

    def create_configuration(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        return _details(service.create(services.caller(ctx.access_key_id), p))

    def get_configuration(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        return _details(service.get(p["name"]))

    def list_configurations(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = service.list(token=p.get("startingToken"), max_results=p.get("maxResults"))
        return compact({"items": [_item(v) for v in page.items], "nextToken": page.next_token})

    def delete_configuration(ctx: RequestContext, p: dict[str, Any]) -> None:
        service.delete(p["name"])

    return {
        "CreateConfiguration": create_configuration,
        "GetConfiguration": get_configuration,
        "ListConfigurations": list_configurations,
        "DeleteConfiguration": delete_configuration,
    }


def _service(services: Services) -> ConfigurationService:
    found = getattr(services, "configurations", None)
    if not isinstance(found, ConfigurationService):
        raise TypeError("Services.configurations is not a ConfigurationService")
    return found


def _item(view: ConfigurationView) -> dict[str, Any]:
    r = view.record
    return compact(
        {
            "arn": view.arn,
            "name": r.name,
            "description": r.description,
            "status": r.status.value,
            "creationTime": r.creation_time,
        }
    )


def _details(view: ConfigurationView) -> dict[str, Any]:
    r = view.record
    return {
        **_item(view),
        "uuid": r.uuid,
        "runConfigurations": r.run_configurations,
        "tags": view.tags,
    }
