"""Input validation and type conversion against a compiled input shape.

Owns: one walk over a request's raw values (JSON values, or strings already coerced from the path, query
and headers) that checks every constraint of the model: required members, types, enums, numeric ranges,
lengths of strings/lists/maps/blobs, patterns (full match, third-party ``regex``), unions with exactly
one member set. It converts as it goes: base64 blobs → ``bytes``, timestamps → aware UTC ``datetime``,
unknown members dropped, JSON nulls treated as absent. All violations are collected and reported in one
:class:`~omicsd.errors.ValidationError`, worded the way AWS words them::

    1 validation error detected: Value 'LOUD' at 'logLevel' failed to satisfy constraint: Member must
    satisfy enum value set: [OFF, FATAL, ERROR, ALL]

Member paths use dots for structures, ``.N.member`` (1-based) for list elements and ``.key`` for map values.

Must not: know about HTTP or any particular operation.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from omicsd.errors import ValidationError
from omicsd.protocol._shapes import Node

logger = logging.getLogger(__name__)

_MAX_SHOWN = 200


def check_input(node: Node, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and convert an operation's input, keyed by member name.

    Args:
        node: The compiled input structure.
        params: Raw input values keyed by member name (body members, labels, query, headers).

    Returns:
        The converted input keyed by member name, unknown and null members removed.

    Raises:
        ValidationError: If any constraint fails; the message lists every violation.
    """
    errors: list[str] = []
    result = _structure(node, params, "", errors, by_wire=False)
    if errors:
        raise ValidationError(format_violations(errors))
    return result


def format_violations(errors: list[str]) -> str:
    """Join violations the way AWS does (``N validation error(s) detected: a; b``)."""
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {noun} detected: " + "; ".join(errors)


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Read an ISO-8601 string or epoch seconds (number or numeric string) as an aware UTC datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (OverflowError, OSError, ValueError):
        pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def render_value(value: Any) -> str:
    """Render a value for a violation message (Java-like, as AWS shows it), shortened if long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes | bytearray):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(render_value(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}={render_value(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, dt.datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def _violation(value: Any, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{render_value(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _convert(node: Node, value: Any, path: str, errors: list[str]) -> Any:
    kind = node.type
    if kind == "structure":
        if node.document:
            return value
        if not isinstance(value, Mapping):
            errors.append(_violation(value, path, "Member must be of type structure"))
            return value
        return _structure(node, value, path, errors, by_wire=True)
    if kind == "list":
        return _list(node, value, path, errors)
    if kind == "map":
        return _map(node, value, path, errors)
    converted, problems = _scalar(node, value)
    for problem in problems:
        errors.append(_violation(value, path, problem))
    return converted


def _structure(node: Node, value: Mapping[str, Any], path: str, errors: list[str], *, by_wire: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, member in node.members.items():
        raw = value.get(member.wire if by_wire and member.location is None else name)
        if raw is None:
            continue
        result[name] = _convert(member.node, raw, _join(path, name), errors)
    for name in node.required:
        if name not in result:
            errors.append(_violation(None, _join(path, name), "Member must not be null"))
    if node.union and len(result) != 1:
        errors.append(_violation(value, path or node.name, "Member must have exactly one member set"))
    return result


def _list(node: Node, value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, list | tuple):
        errors.append(_violation(value, path, "Member must be of type list"))
        return value
    errors.extend(_violation(value, path, c) for c in _length(node, len(value)))
    assert node.member is not None
    result = []
    for index, item in enumerate(value, start=1):
        item_path = f"{path}.{index}.member"
        if item is None:
            errors.append(_violation(None, item_path, "Member must not be null"))
            continue
        result.append(_convert(node.member, item, item_path, errors))
    return result


def _map(node: Node, value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, Mapping):
        errors.append(_violation(value, path, "Member must be of type map"))
        return value
    errors.extend(_violation(value, path, c) for c in _length(node, len(value)))
    assert node.key is not None and node.value is not None
    result = {}
    for key, item in value.items():
        _, key_problems = _scalar(node.key, key)
        if key_problems:
            errors.append(_violation(key, path, f"Map keys must satisfy constraint: [{', '.join(key_problems)}]"))
        if item is None:
            errors.append(_violation(None, _join(path, key), "Member must not be null"))
            continue
        result[key] = _convert(node.value, item, _join(path, key), errors)
    return result


def _scalar(node: Node, value: Any) -> tuple[Any, list[str]]:
    kind = node.type
    if kind == "string":
        if not isinstance(value, str):
            return value, ["Member must be of type string"]
        problems = list(_length(node, len(value)))
        if node.enum is not None and value not in node.enum:
            problems.append(f"Member must satisfy enum value set: [{', '.join(node.enum)}]")
        if node.pattern is not None and node.pattern.fullmatch(value) is None:
            problems.append(f"Member must satisfy regular expression pattern: {node.pattern_source}")
        return value, problems
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return value, [f"Member must be of type {kind}"]
        return value, list(_range(node, value))
    if kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return value, [f"Member must be of type {kind}"]
        return value, list(_range(node, value))
    if kind == "boolean":
        if not isinstance(value, bool):
            return value, ["Member must be of type boolean"]
        return value, []
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value, []
        parsed = parse_timestamp(value)
        if parsed is None:
            return value, ["Member must be a timestamp (ISO-8601 or epoch seconds)"]
        return parsed, []
    if kind == "blob":
        if isinstance(value, bytes | bytearray):
            data = bytes(value)
        elif isinstance(value, str):
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return value, ["Member must be a base64-encoded binary value"]
        else:
            return value, ["Member must be of type blob (a base64-encoded string)"]
        return data, list(_length(node, len(data)))
    return value, []


def _length(node: Node, length: int) -> list[str]:
    problems = []
    if node.min is not None and length < node.min:
        problems.append(f"Member must have length greater than or equal to {node.min}")
    if node.max is not None and length > node.max:
        problems.append(f"Member must have length less than or equal to {node.max}")
    return problems


def _range(node: Node, number: float) -> list[str]:
    problems = []
    if node.min is not None and number < node.min:
        problems.append(f"Member must have value greater than or equal to {node.min}")
    if node.max is not None and number > node.max:
        problems.append(f"Member must have value less than or equal to {node.max}")
    return problems
