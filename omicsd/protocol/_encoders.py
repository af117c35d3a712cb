"""Lenient output encoders compiled once per shape: what serialization runs when output checking is off.

Owns: :func:`compile_encoder`, which turns a compiled shape (:class:`~omicsd.protocol._shapes.Node`) into a
function from an output value to its JSON-ready form. It does exactly what the lenient walk in
:mod:`omicsd.protocol.serialize` does — members renamed to their wire names, ``None`` and unknown members
dropped, timestamps formatted, blobs base64-encoded, map keys made strings, values of an unexpected type passed
through unchanged — but decides per shape, once, what has to happen: a value whose shape needs no conversion
(strings, numbers, booleans, documents, lists of those) is taken as it is, without a call per value.

Must not: check anything (strict mode keeps the walker, which reports every mismatch), or know about
operations, HTTP or JSON encoding.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from omicsd.protocol._shapes import Member, Node

Encoder = Callable[[Any], Any]
"""Maps an output value to its JSON-ready form."""
FormatterFor = Callable[[str], Callable[[Any], Any]]
"""Gives the timestamp formatter of a ``timestampFormat`` name (``iso8601``, ``unixTimestamp``, ``rfc822``)."""

_PASS_THROUGH = frozenset({"string", "integer", "long", "float", "double", "boolean"})


def compile_encoder(node: Node, formatter_for: FormatterFor) -> Encoder | None:
    """The lenient encoder of ``node``, or ``None`` when every value of the shape is already JSON-ready.

    Args:
        node: The compiled shape.
        formatter_for: Timestamp formatter lookup (timestamps without a format use ``unixTimestamp``).
    """
    return _Compiling(formatter_for).node(node, None)


class _Compiling:
    """One compilation; structures are memoized so recursive shapes compile to recursive encoders."""

    def __init__(self, formatter_for: FormatterFor) -> None:
        self.formatter_for = formatter_for
        self.structures: dict[int, Encoder | None] = {}

    def node(self, node: Node, ts_format: str | None) -> Encoder | None:
        kind = node.type
        if kind in _PASS_THROUGH:
            return None
        if kind == "timestamp":
            return _timestamp(self.formatter_for(ts_format or node.timestamp_format or "unixtimestamp"))
        if kind == "blob":
            return _blob
        if kind == "list":
            assert node.member is not None
            return _list(self.node(node.member, None))
        if kind == "map":
            assert node.value is not None
            return _map(self.node(node.value, None))
        if kind == "structure":
            return None if node.document else self.structure(node)
        return None

    def structure(self, node: Node) -> Encoder:
        found = self.structures.get(id(node))
        if found is not None:
            return found
        members: dict[str, tuple[str, Encoder | None]] = {}
        encoder = _structure(members)
        self.structures[id(node)] = encoder  # before the members: a recursive member finds it
        for name, member in node.members.items():
            members[name] = (member.wire, self.member(member))
        return encoder

    def member(self, member: Member) -> Encoder | None:
        return self.node(member.node, member.timestamp_format)


def _structure(members: dict[str, tuple[str, Encoder | None]]) -> Encoder:
    def encode(value: Any) -> Any:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            found = members.get(key)
            if found is None:
                continue
            wire, encoder = found
            out[wire] = item if encoder is None else encoder(item)
        return out

    return encode


def _list(item: Encoder | None) -> Encoder:
    if item is None:
        return _plain_list

    def encode(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return [item(v) for v in value]

    return encode


def _plain_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _map(entry: Encoder | None) -> Encoder:
    def encode(value: Any) -> Any:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return value
        if entry is None:
            return {str(k): v for k, v in value.items()}
        return {str(k): entry(v) for k, v in value.items()}

    return encode


def _timestamp(formatter: Callable[[Any], Any]) -> Encoder:
    def encode(value: Any) -> Any:
        return formatter(value) if isinstance(value, dt.datetime | int | float) else value

    return encode


def _blob(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value
