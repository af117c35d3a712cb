"""Exceptions → AWS error responses, with the HTTP status read from the service model.

Owns: :class:`ErrorRenderer`, which turns any exception into an :class:`~omicsd.protocol.serialize.HttpResponse`:

- an :class:`~omicsd.errors.OmicsdError` keeps its ``code`` and message; the status is the model's
  ``error.httpStatusCode`` of the shape named ``code`` (looked up among *all* shapes of the service, not only
  the operation's declared errors), else 500 for shapes marked ``fault`` and 400 otherwise;
- anything else is logged with its traceback and becomes a 500 ``InternalServerException`` with a generic
  message.

The response carries ``x-amzn-ErrorType: <code>`` (what rest-json clients read) and the body
``{"message": ..., "__type": <code>}`` (what json-1.1 clients read), as ``application/json`` or the
service's ``application/x-amz-json-1.x``.

Must not: decide which error to raise; that is the raiser's job. The status is never hand coded for a code
the model knows.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from omicsd.errors import InternalError, OmicsdError
from omicsd.protocol.model import ServiceModel
from omicsd.protocol.serialize import JSON_CONTENT_TYPE, HttpResponse

logger = logging.getLogger(__name__)

UNKNOWN_OPERATION = "UnknownOperationException"

_SERVER_FAULTS = frozenset({"InternalServerException", "InternalFailure", "ServiceUnavailableException"})


class UnknownOperationError(OmicsdError):
    """The request does not match any operation."""

    code = UNKNOWN_OPERATION


class ErrorRenderer:
    """Renders exceptions for one service (status table computed once from the model)."""

    def __init__(self, model: ServiceModel) -> None:
        """Index the service's error shapes.

        Args:
            model: The botocore ``ServiceModel``.
        """
        self.protocol: str = model.protocol
        if self.protocol == "rest-json":
            self.content_type = JSON_CONTENT_TYPE
            self._unknown_status = 404
        else:
            self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
            self._unknown_status = 400
        self._status: dict[str, int] = {}
        shapes: dict[str, Any] = model._service_description.get("shapes", {})
        for name, shape in shapes.items():
            if not shape.get("exception"):
                continue
            error = shape.get("error") or {}
            code = error.get("code", name)
            status = error.get("httpStatusCode") or (500 if shape.get("fault") else 400)
            self._status[name] = self._status[code] = int(status)

    def status_for(self, code: str) -> int:
        """The HTTP status of an error code: the model's, else 500 for server faults, else 400."""
        status = self._status.get(code)
        if status is not None:
            return status
        if code == UNKNOWN_OPERATION:
            return self._unknown_status
        return 500 if code in _SERVER_FAULTS else 400

    def render(self, exc: BaseException) -> HttpResponse:
        """Render an exception as an AWS error response (unexpected ones are logged with a traceback)."""
        if not isinstance(exc, OmicsdError):
            logger.exception("request.failed unexpected error", exc_info=exc)
            exc = InternalError()
        code = exc.code
        body = json.dumps({"message": exc.message, "__type": code}, separators=(",", ":")).encode()
        headers = (("x-amzn-errortype", code), ("content-type", self.content_type))
        return HttpResponse(self.status_for(code), headers, body)
