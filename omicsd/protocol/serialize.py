"""An operation's output dict (member names) → HTTP status, headers and body, strictly by the output shape.

Owns: the per-operation :class:`OutputPlan` (status from ``http.responseCode``, which members go to headers,
payload or JSON body) and the output walk: ``datetime`` → ISO-8601 UTC with milliseconds and ``Z`` for
``iso8601`` timestamps (epoch seconds or RFC 822 where the shape or location says so), ``bytes`` → base64
for blobs, ``None`` → member omitted, documents as they are.

Strict mode (on in tests) turns handler mistakes into :class:`OutputShapeError` naming the operation and the
member path: a key the shape does not have, a required member missing, a value of the wrong type or outside
the enum. Lengths, ranges and patterns are never checked on output: real data exceeds them. Lenient mode (the
server's default) encodes JSON bodies with the plan's encoder from :mod:`omicsd.protocol._encoders`, compiled
on first use, which gives the same body as the lenient walk.

Must not: call handlers, render errors, or validate input.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from omicsd.errors import InternalError
from omicsd.protocol._encoders import Encoder, compile_encoder
from omicsd.protocol._shapes import Compiler, Member, Node

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
_JSON = json.JSONEncoder(separators=(",", ":"))
"""What ``json.dumps(value, separators=(",", ":"))`` uses, built once."""


class OutputShapeError(InternalError):
    """A handler returned a response that does not match the operation's output shape."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A rendered response, before the transport adds request id and content length."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class OutputPlan:
    """Where each output member of one operation goes (computed once per operation)."""

    def __init__(self, operation_model: Any, compiler: Compiler, *, protocol: str = "rest-json") -> None:
        """Build the plan.

        Args:
            operation_model: The botocore ``OperationModel``.
            compiler: The shape compiler of the operation's service.
            protocol: ``"rest-json"`` or ``"json"`` (status always 200, everything in the body).
        """
        self.operation: str = operation_model.name
        rest = protocol == "rest-json"
        self.status: int = int(operation_model.http.get("responseCode", 200)) if rest else 200
        if rest:
            self.content_type = JSON_CONTENT_TYPE
        else:
            version = operation_model.service_model.metadata.get("jsonVersion", "1.0")
            self.content_type = f"application/x-amz-json-{version}"
        shape = operation_model.output_shape
        self.node: Node | None = compiler.compile(shape) if shape is not None else None
        self.headers: dict[str, Member] = {}
        self.status_member: str | None = None
        self.payload: Member | None = None
        payload_name = shape.serialization.get("payload") if rest and shape is not None else None
        if self.node is not None and rest:
            for member in self.node.members.values():
                if member.name == payload_name:
                    self.payload = member
                elif member.location in ("header", "headers"):
                    self.headers[member.name] = member
                elif member.location == "statusCode":
                    self.status_member = member.name
        self.body_only = not self.headers and self.status_member is None and self.payload is None
        """Every output member goes to the JSON body (no header, status or payload members)."""
        self._encoder: Encoder | None = None
        self._compiled = False

    def encode_body(self, values: Mapping[str, Any]) -> Any:
        """The JSON-ready body of the output members ``values`` (lenient: no checks)."""
        if not self._compiled:
            assert self.node is not None
            self._encoder, self._compiled = compile_encoder(self.node, _formatter), True
        encoder = self._encoder
        return values if encoder is None else encoder(values)


def serialize(plan: OutputPlan, output: Mapping[str, Any] | None, *, strict: bool = False) -> HttpResponse:
    """Render an operation's output.

    Args:
        plan: The operation's output plan.
        output: The handler's result keyed by member name (None means empty).
        strict: Raise :class:`OutputShapeError` on unknown keys, missing required members, wrong types or
            values outside an enum instead of passing them through.

    Returns:
        Status, headers and body.

    Raises:
        OutputShapeError: In strict mode, when the output does not match the shape.
    """
    problems: list[str] = []
    output = output or {}
    node = plan.node
    if node is None:
        if strict and output:
            problems.append(f"unknown members {sorted(output)} (the operation has no output)")
            _raise(plan, problems)
        return HttpResponse(plan.status, (), b"")
    if plan.body_only and not strict and plan.status != 204:
        return HttpResponse(
            plan.status, (("content-type", plan.content_type),), _JSON.encode(plan.encode_body(output)).encode()
        )
    status = plan.status
    headers: list[tuple[str, str]] = []
    body_values: dict[str, Any] = {}
    payload = plan.payload
    for key, value in output.items():
        if payload is not None and key == payload.name:
            continue
        if value is not None and key in plan.headers:
            headers.extend(_header(plan.headers[key], value))
        elif key == plan.status_member and isinstance(value, int):
            status = value
        else:
            body_values[key] = value
    walker = _Walker(strict, problems)
    if payload is not None:
        body, content_type = _payload(payload, output.get(payload.name), walker)
    elif strict:
        for key in output:
            if key not in node.members:
                problems.append(f"unknown member '{key}'")
        encoded = walker.structure(node, body_values, "", top=True)
        body, content_type = _JSON.encode(encoded).encode(), plan.content_type
    else:
        body, content_type = _JSON.encode(plan.encode_body(body_values)).encode(), plan.content_type
    if strict:
        for name in node.required:
            if output.get(name) is None:
                problems.append(f"required member '{name}' is missing")
    if problems:
        _raise(plan, problems)
    if status == 204:
        return HttpResponse(status, tuple(headers), b"")
    if content_type:
        headers.append(("content-type", content_type))
    return HttpResponse(status, tuple(headers), body)


def format_timestamp(value: dt.datetime | float, fmt: str | None) -> str | float:
    """Render a timestamp as ``iso8601`` (``2024-01-02T03:04:05.123Z``), ``unixTimestamp`` or ``rfc822``."""
    return _formatter(fmt)(value)


_Formatter = Callable[[dt.datetime | float], str | float]


def _utc(value: dt.datetime | float) -> dt.datetime:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, _UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    return value if value.tzinfo is _UTC else value.astimezone(_UTC)


def _iso8601(value: dt.datetime | float) -> str:
    return _utc(value).isoformat(timespec="milliseconds")[:-6] + "Z"


def _unix(value: dt.datetime | float) -> float:
    return round(_utc(value).timestamp(), 3)


def _rfc822(value: dt.datetime | float) -> str:
    return format_datetime(_utc(value), usegmt=True)


_UTC = dt.UTC
_FORMATTERS: dict[str, _Formatter] = {"iso8601": _iso8601, "unixtimestamp": _unix, "rfc822": _rfc822}


@functools.cache
def _formatter(fmt: str | None) -> _Formatter:
    return _FORMATTERS.get((fmt or "iso8601").lower(), _iso8601)


def _raise(plan: OutputPlan, problems: list[str]) -> None:
    detail = "; ".join(problems)
    logger.error("output.invalid operation=%s problems=%s", plan.operation, detail)
    raise OutputShapeError(f"{plan.operation} returned an output that does not match its shape: {detail}")


def _header(member: Member, value: Any) -> list[tuple[str, str]]:
    if member.location == "headers":
        return [(member.wire + str(k), str(v)) for k, v in value.items()]
    kind = member.node.type
    if kind == "timestamp" and isinstance(value, dt.datetime | int | float):
        text = str(format_timestamp(value, member.timestamp_format or "rfc822"))
    elif kind == "boolean":
        text = "true" if value else "false"
    elif kind == "list":
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return [(member.wire.lower(), text)]


def _payload(member: Member, value: Any, walker: _Walker) -> tuple[bytes, str | None]:
    kind = member.node.type
    if value is None:
        return b"", None
    if kind == "blob":
        if isinstance(value, bytes | bytearray):
            return bytes(value), "application/octet-stream"
        walker.problems.append(f"payload member '{member.name}' must be bytes")
        return b"", None
    if kind == "string":
        return str(value).encode(), "text/plain"
    encoded = walker.value(member.node, value, member.name, member.timestamp_format)
    return _JSON.encode(encoded).encode(), JSON_CONTENT_TYPE


class _Walker:
    """Encodes values by shape; in strict mode records every mismatch in ``problems``."""

    def __init__(self, strict: bool, problems: list[str]) -> None:
        self.strict = strict
        self.problems = problems

    def structure(self, node: Node, value: Any, path: str, *, top: bool = False) -> Any:
        if node.document:
            return value
        if not isinstance(value, Mapping):
            return self._bad(value, path, "a structure (mapping)")
        out: dict[str, Any] = {}
        members = node.members
        strict = self.strict
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                if strict and not top:
                    self.problems.append(f"unknown member '{_join(path, key)}'")
                continue
            if item is None:
                continue
            # Paths only name members in strict-mode problems; building them is skipped otherwise.
            sub = _join(path, key) if strict else path
            out[member.wire] = self.value(member.node, item, sub, member.timestamp_format)
        if strict and not top:
            for name in node.required:
                if value.get(name) is None:
                    self.problems.append(f"required member '{_join(path, name)}' is missing")
        return out

    def value(self, node: Node, value: Any, path: str, ts_format: str | None) -> Any:
        kind = node.type
        if kind == "string":
            if not isinstance(value, str):
                return self._bad(value, path, "a string")
            if self.strict and node.enum is not None and value not in node.enum:
                self.problems.append(f"'{path}' value {value!r} is not one of {list(node.enum)}")
            return value
        if kind == "structure":
            return self.structure(node, value, path)
        if kind == "list":
            if not isinstance(value, list | tuple):
                return self._bad(value, path, "a list")
            assert node.member is not None
            item = node.member
            if not self.strict:
                return [self.value(item, v, path, None) for v in value]
            return [self.value(item, v, f"{path}[{i}]", None) for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, Mapping):
                return self._bad(value, path, "a map")
            assert node.value is not None
            entry = node.value
            if not self.strict:
                return {str(k): self.value(entry, v, path, None) for k, v in value.items()}
            return {str(k): self.value(entry, v, f"{path}.{k}", None) for k, v in value.items()}
        if kind == "timestamp":
            if isinstance(value, dt.datetime) or (not self.strict and isinstance(value, int | float)):
                return _formatter(ts_format or node.timestamp_format or "unixtimestamp")(value)
            return self._bad(value, path, "a datetime")
        if kind == "blob":
            if isinstance(value, bytes | bytearray):
                return base64.b64encode(value).decode("ascii")
            return self._bad(value, path, "bytes")
        if kind in ("integer", "long"):
            return value if isinstance(value, int) and not isinstance(value, bool) else self._bad(value, path, "an int")
        if kind in ("float", "double"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return value if ok else self._bad(value, path, "a number")
        if kind == "boolean":
            return value if isinstance(value, bool) else self._bad(value, path, "a bool")
        return value

    def _bad(self, value: Any, path: str, expected: str) -> Any:
        if self.strict:
            self.problems.append(f"'{path}' must be {expected}, got {type(value).__name__} {value!r:.80}")
        return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
