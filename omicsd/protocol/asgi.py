"""The ASGI application that serves a botocore-modelled AWS API from a mapping of handlers.

Owns: the request life cycle — read the body, pick the operation (rest-json: method + raw path through the
route table; json-1.x: the ``X-Amz-Target`` header), refuse operations without a handler
(``NotSupportedOperationException``), parse and validate the input, run the handler and serialize its output
in a worker thread (:class:`~omicsd.protocol.workers.WorkerPool`) or, for the short reads named in
:class:`InlineReads`, on the event loop itself, render any error — and the
``x-amzn-RequestId`` / ``Content-Length`` headers on every response. One rest-json service (omics) and any
number of json-1.x services (CloudWatch Logs, Pricing, dispatched by target prefix) share one port.

Must not: contain per-operation code, look at the Host header for routing, or touch persistence. Handlers map
wire members to service calls; everything about the wire lives here and in the modules it calls.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from urllib.parse import quote

from omicsd.errors import NotSupportedError, WouldBlockError
from omicsd.protocol._shapes import Compiler
from omicsd.protocol._types import Handler, Receive, RequestContext, Scope, Send
from omicsd.protocol.errors import ErrorRenderer, UnknownOperationError
from omicsd.protocol.model import RouteTable, ServiceModel
from omicsd.protocol.parse import HttpRequest, InputPlan, parse, parse_query
from omicsd.protocol.serialize import HttpResponse, OutputPlan, serialize
from omicsd.protocol.workers import DEFAULT_MAX_THREADS, WorkerPool

logger = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")
"""The access key id and region of a SigV4 credential scope (header or presigned ``X-Amz-Credential``)."""


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """A service model and the handlers that implement (some of) its operations."""

    model: ServiceModel
    """The botocore ``ServiceModel`` (``protocol.model.load("logs")``)."""
    handlers: Mapping[str, Handler]
    """Handlers keyed by operation name; operations without one answer NotSupportedOperationException."""


@dataclass(frozen=True, slots=True)
class InlineReads:
    """Operations answered on the event loop itself, skipping the hand-off to a worker thread.

    Handing a call to a worker thread and its result back costs two thread switches and the hand-offs of the
    interpreter lock between them, which for GetRun was more than a third of the server's time per request.
    A short read needs none of that, provided it can never wait: ``context`` (the store's ``inline_reads``)
    makes every wait raise :class:`~omicsd.errors.WouldBlockError`, and the call is then run again on a
    worker thread, as every other call is. Name only read-only operations: an inline call may run twice.
    """

    operations: frozenset[str]
    context: Callable[[], AbstractContextManager[object]]


def new(
    *,
    model: ServiceModel,
    handlers: Mapping[str, Handler],
    strict: bool = False,
    json_services: Sequence[ServiceBinding] = (),
    max_threads: int | None = None,
    inline: InlineReads | None = None,
) -> ProtocolApp:
    """Build the ASGI application.

    Args:
        model: The rest-json service model served by method + path (``protocol.model.load("omics")``).
        handlers: Its handlers keyed by operation name.
        strict: Check every output strictly against its shape (tests); see :mod:`omicsd.protocol.serialize`.
        json_services: json-1.x services served on the same port, dispatched by ``X-Amz-Target`` prefix.
        max_threads: Hard cap on handlers running at once (default 40); normally fewer run at once, see
            :mod:`omicsd.protocol.workers`.
        inline: Read operations answered on the event loop (see :class:`InlineReads`); ``None``: none.

    Returns:
        The ASGI callable.
    """
    return ProtocolApp(
        ServiceBinding(model, handlers), json_services, strict=strict, max_threads=max_threads, inline=inline
    )


class ProtocolApp:
    """ASGI callable serving one rest-json service and any number of json-1.x services."""

    def __init__(
        self,
        rest: ServiceBinding,
        json_services: Sequence[ServiceBinding] = (),
        *,
        strict: bool = False,
        max_threads: int | None = None,
        inline: InlineReads | None = None,
    ) -> None:
        """Compile every operation's plans up front; see :func:`new`."""
        if rest.model.protocol != "rest-json":
            raise ValueError(f"{rest.model.service_name} is {rest.model.protocol}, not rest-json")
        self.strict = strict
        self._rest = _Service(rest)
        self._routes = RouteTable.from_model(rest.model)
        self._targets: dict[str, _Service] = {}
        for binding in json_services:
            if binding.model.protocol != "json":
                raise ValueError(f"{binding.model.service_name} is {binding.model.protocol}, not json")
            self._targets[binding.model.metadata["targetPrefix"]] = _Service(binding)
        self.workers = WorkerPool(max_threads or DEFAULT_MAX_THREADS, name="omicsd-handler")
        self.inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (``http``; ``lifespan`` is acknowledged)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        body = await _read_body(receive)
        response, operation = await self._respond(scope, body, request_id)
        headers = [(b"x-amzn-requestid", request_id.encode())]
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "http.request method=%s path=%s operation=%s status=%d ms=%.1f request_id=%s",
                scope.get("method"),
                scope.get("path"),
                operation,
                response.status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )

    async def _respond(self, scope: Scope, body: bytes, request_id: str) -> tuple[HttpResponse, str | None]:
        headers = _headers(scope)
        method: str = scope.get("method", "GET")
        raw_path = _raw_path(scope)
        query = parse_query(scope.get("query_string", b"").decode("latin-1"))
        service, operation, labels = self._rest, None, {}
        try:
            target = headers.get("x-amz-target")
            if target is not None and self._targets:
                prefix, _, operation = target.rpartition(".")
                service = self._targets.get(prefix) or next(iter(self._targets.values()))
                if prefix not in self._targets or operation not in service.inputs:
                    raise UnknownOperationError(f"Unknown operation target {target!r}")
            else:
                found = self._routes.match(method, raw_path, query)
                if found is None:
                    raise UnknownOperationError(f"No operation matches {method} {raw_path}")
                operation, labels = found.operation, found.labels
            handler = service.handlers.get(operation)
            if handler is None:
                raise NotSupportedError(f"Operation {operation} is not supported by omicsd")
            request = HttpRequest(method, raw_path, query, headers, body)
            params = parse(service.inputs[operation], labels, request)
            ctx = _context(scope, headers, query, request_id, operation)
            plan, strict = service.outputs[operation], self.strict

            def call() -> HttpResponse:
                return serialize(plan, handler(ctx, params), strict=strict)

            if self.inline is not None and operation in self.inline.operations and service is self._rest:
                try:
                    with self.inline.context():
                        return call(), operation
                except WouldBlockError:
                    pass  # it would have to wait: a worker thread runs it
            return await self.workers.run(call), operation
        except Exception as exc:
            return service.errors.render(exc), operation

    def close(self) -> None:
        """Stop the worker threads (after the calls they are running)."""
        self.workers.close()


class _Service:
    """One service's handlers, compiled input/output plans and error renderer."""

    def __init__(self, binding: ServiceBinding) -> None:
        model = binding.model
        compiler = Compiler()
        protocol = "rest-json" if model.protocol == "rest-json" else "json"
        self.handlers = binding.handlers
        self.inputs: dict[str, InputPlan] = {}
        self.outputs: dict[str, OutputPlan] = {}
        for name in model.operation_names:
            operation = model.operation_model(name)
            self.inputs[name] = InputPlan(operation, compiler, protocol=protocol)
            self.outputs[name] = OutputPlan(operation, compiler, protocol=protocol)
        self.errors = ErrorRenderer(model)
        unknown = sorted(set(binding.handlers) - set(self.inputs))
        if unknown:
            raise ValueError(f"handlers for operations not in the {model.service_name} model: {unknown}")


_UUID4_CLEAR = ((1 << 128) - 1) ^ (0xF << 76) ^ (0x3 << 62)
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


def new_request_id() -> str:
    """A random version-4 UUID string for ``x-amzn-RequestId`` (unique, not secret: no system call per id)."""
    h = f"{random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _raw_path(scope: Scope) -> str:
    raw: bytes | None = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").partition("?")[0]
    return quote(scope.get("path", "/"), safe="/")


def _context(
    scope: Scope, headers: dict[str, str], query: dict[str, list[str]], request_id: str, operation: str
) -> RequestContext:
    access_key_id = region = None
    credential = headers.get("authorization") or "Credential=" + query.get("X-Amz-Credential", [""])[0]
    found = _CREDENTIAL.search(credential)
    if found:
        access_key_id, region = found.group(1), found.group(2)
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    base_url = f"{scope.get('scheme', 'http')}://{host}"
    return RequestContext(request_id, operation, access_key_id, region, headers, base_url)
