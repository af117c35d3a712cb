"""Downloads the API hands out as URLs: workflow definitions and READMEs (HealthOmics presigns S3 URLs).

Owns: the ``/_omicsd/export/...`` routes. Must not: be reachable under a path the ``omics`` model uses.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router

from omicsd.domain.workflows import DEFAULT_VERSION
from omicsd.errors import OmicsdError
from omicsd.protocol.handlers._common import EXPORT_PREFIX
from omicsd.services import Services


def router(services: Services) -> Router:
    """Routes serving exported definitions and READMEs."""

    async def definition(request: Request) -> Response:
        wid = request.path_params["id"]
        version = request.path_params.get("version", DEFAULT_VERSION)
        try:
            data = await run_in_threadpool(services.workflows.archive, wid, version)
        except OmicsdError as exc:
            return _error(exc)
        name = f"workflow-{wid}{'-' + version if version else ''}.zip"
        return Response(
            data, media_type="application/zip", headers={"content-disposition": f'attachment; filename="{name}"'}
        )

    async def readme(request: Request) -> Response:
        wid = request.path_params["id"]
        version = request.path_params.get("version", DEFAULT_VERSION)
        try:
            view = await run_in_threadpool(services.workflows.get, wid, version)
        except OmicsdError as exc:
            return _error(exc)
        if not view.record.readme_markdown:
            return PlainTextResponse("no README", status_code=404)
        return PlainTextResponse(view.record.readme_markdown, media_type="text/markdown")

    base = EXPORT_PREFIX
    return Router(
        routes=[
            Route(base + "/workflow/{id}/definition.zip", definition),
            Route(base + "/workflow/{id}/version/{version}/definition.zip", definition),
            Route(base + "/workflow/{id}/README.md", readme),
            Route(base + "/workflow/{id}/version/{version}/README.md", readme),
        ]
    )


def _error(exc: OmicsdError) -> Response:
    status = 404 if exc.code == "ResourceNotFoundException" else 400
    return JSONResponse({"message": exc.message, "__type": exc.code}, status_code=status)
