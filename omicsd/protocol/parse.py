"""HTTP request → an operation's input dict, keyed by the model's member names, validated.

Owns: the per-operation :class:`InputPlan` (which member comes from which path label, query key, header or
the body, computed once), reading those places, coercing strings from the path/query/headers to the member's
type, filling missing idempotency tokens with a UUID4, and handing the result to
:func:`omicsd.protocol.validate.check_input`.

Protocols: ``rest-json`` uses each member's ``location``; ``json`` (1.0/1.1, ``X-Amz-Target`` services) reads
every member from the JSON body. Unknown body members are ignored, as AWS does. An empty body is ``{}``.
Query strings are decoded per RFC 3986 (``%20`` is a space, ``+`` stays a plus sign, as botocore sends it).

Must not: route, call handlers or render responses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from omicsd.errors import ValidationError
from omicsd.protocol._shapes import Compiler, Member, Node
from omicsd.protocol.validate import check_input, parse_timestamp

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The parts of an HTTP request the parser reads."""

    method: str
    raw_path: str
    """The path as sent, percent-encoding intact, without the query string."""
    query: Mapping[str, list[str]] = field(default_factory=dict)
    """Decoded query parameters; a repeated key keeps every value in order."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header values keyed by lower-case name."""
    body: bytes = b""


class InputPlan:
    """Where each input member of one operation comes from (computed once per operation)."""

    def __init__(self, operation_model: Any, compiler: Compiler, *, protocol: str = "rest-json") -> None:
        """Build the plan.

        Args:
            operation_model: The botocore ``OperationModel``.
            compiler: The shape compiler of the operation's service.
            protocol: ``"rest-json"`` (members bound by location) or ``"json"`` (everything in the body).
        """
        self.operation: str = operation_model.name
        shape = operation_model.input_shape
        self.node: Node | None = compiler.compile(shape) if shape is not None else None
        self.labels: dict[str, Member] = {}
        self.query: dict[str, Member] = {}
        self.query_map: Member | None = None
        self.headers: dict[str, Member] = {}
        self.header_maps: list[tuple[str, Member]] = []
        self.body: dict[str, Member] = {}
        self.payload: Member | None = None
        self.tokens: tuple[str, ...] = ()
        if self.node is None:
            return
        payload_name = shape.serialization.get("payload") if protocol == "rest-json" else None
        for member in self.node.members.values():
            location = member.location if protocol == "rest-json" else None
            if member.name == payload_name:
                self.payload = member
            elif location == "uri":
                self.labels[member.wire] = member
            elif location == "querystring":
                if member.node.type == "map":
                    self.query_map = member
                else:
                    self.query[member.wire] = member
            elif location == "header":
                self.headers[member.wire.lower()] = member
            elif location == "headers":
                self.header_maps.append((member.wire.lower(), member))
            elif location is None:
                self.body[member.wire] = member
        self.tokens = tuple(m.name for m in self.node.members.values() if m.idempotency_token)


def parse_query(query_string: str) -> dict[str, list[str]]:
    """Decode a raw query string (RFC 3986: ``+`` is literal); repeated keys keep all values in order."""
    result: dict[str, list[str]] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        result.setdefault(unquote(key), []).append(unquote(value))
    return result


def parse(plan: InputPlan, labels: Mapping[str, str], request: HttpRequest) -> dict[str, Any]:
    """Read, coerce and validate an operation's input.

    Args:
        plan: The operation's input plan.
        labels: Decoded path label values from routing, keyed by label name.
        request: The HTTP request.

    Returns:
        The validated input keyed by member name.

    Raises:
        ValidationError: If the body is not a JSON object or any constraint fails.
    """
    if plan.node is None:
        return {}
    raw: dict[str, Any] = {}
    if plan.body or plan.payload is not None:
        _read_body(plan, request.body, raw)
    for name, member in plan.labels.items():
        if name in labels:
            raw[member.name] = _coerce(member, labels[name], "uri")
    for key, member in plan.query.items():
        values = request.query.get(key)
        if values is not None:
            raw[member.name] = _coerce_many(member, values, "querystring")
    if plan.query_map is not None:
        raw[plan.query_map.name] = _query_map(plan, request.query)
    if plan.headers or plan.header_maps:
        _read_headers(plan, request.headers, raw)
    for name in plan.tokens:
        if raw.get(name) is None:
            raw[name] = str(uuid.uuid4())
    return check_input(plan.node, raw)


def _read_body(plan: InputPlan, body: bytes, raw: dict[str, Any]) -> None:
    payload = plan.payload
    if payload is not None and payload.node.type in ("blob", "string"):
        if body:
            raw[payload.name] = body if payload.node.type == "blob" else body.decode("utf-8", "replace")
        return
    if not body.strip():
        return
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Could not parse the request body as JSON: {exc}") from None
    if payload is not None:
        raw[payload.name] = document
        return
    if not isinstance(document, dict):
        raise ValidationError("The request body must be a JSON object")
    for wire, member in plan.body.items():
        if wire in document:
            raw[member.name] = document[wire]


def _read_headers(plan: InputPlan, headers: Mapping[str, str], raw: dict[str, Any]) -> None:
    for name, member in plan.headers.items():
        value = headers.get(name)
        if value is None:
            continue
        if member.node.type == "list":
            raw[member.name] = _coerce_many(member, [v.strip() for v in value.split(",")], "header")
        else:
            raw[member.name] = _coerce(member, value, "header")
    for prefix, member in plan.header_maps:
        found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
        if found:
            raw[member.name] = found


def _query_map(plan: InputPlan, query: Mapping[str, list[str]]) -> dict[str, Any]:
    assert plan.query_map is not None
    value_node = plan.query_map.node.value
    taken = set(plan.query)
    many = value_node is not None and value_node.type == "list"
    return {k: (v if many else v[0]) for k, v in query.items() if k not in taken}


def _coerce_many(member: Member, values: list[str], location: str) -> Any:
    node = member.node
    if node.type == "list" and node.member is not None:
        return [_coerce_scalar(node.member, v, member.timestamp_format, location) for v in values]
    return _coerce(member, values[0], location)


def _coerce(member: Member, text: str, location: str) -> Any:
    return _coerce_scalar(member.node, text, member.timestamp_format, location)


def _coerce_scalar(node: Node, text: str, timestamp_format: str | None, location: str) -> Any:
    """Turn a path/query/header string into the member's type, or leave it for validation to reject."""
    kind = node.type
    try:
        if kind in ("integer", "long"):
            return int(text) if text.strip().lstrip("+-").isdigit() else text
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.lower(), text)
        if kind == "timestamp":
            fmt = timestamp_format or ("rfc822" if location == "header" else "iso8601")
            if fmt == "rfc822":
                try:
                    parsed = parsedate_to_datetime(text)
                except (TypeError, ValueError):
                    pass
                else:
                    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
            return parse_timestamp(text) or text
    except ValueError:
        return text
    return text
