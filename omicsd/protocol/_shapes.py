"""Compiled shapes: a flat, cached view of botocore shapes that parse, validate and serialize walk per request.

Botocore builds fresh ``Shape`` objects on every lookup; walking them per request is slow. A :class:`Node`
is built once per shape name (recursive shapes are supported through the memo) and holds exactly what the
walkers need: type, members with wire names, required members, enum, ranges, lengths and the compiled
pattern (third-party ``regex``, which understands ``\\p{L}``).
"""

from __future__ import annotations

import logging
from typing import Any

import regex  # type: ignore[import-untyped, unused-ignore]

logger = logging.getLogger(__name__)

SCALARS = frozenset({"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"})


class Member:
    """A structure member: its name, wire name, location and shape."""

    __slots__ = ("idempotency_token", "location", "name", "node", "timestamp_format", "wire")

    def __init__(
        self,
        name: str,
        wire: str,
        location: str | None,
        node: Node,
        *,
        idempotency_token: bool = False,
        timestamp_format: str | None = None,
    ) -> None:
        self.name = name
        self.wire = wire
        self.location = location
        self.node = node
        self.idempotency_token = idempotency_token
        self.timestamp_format = timestamp_format or node.timestamp_format


class Node:
    """One compiled shape."""

    __slots__ = (
        "document",
        "enum",
        "key",
        "max",
        "member",
        "members",
        "min",
        "name",
        "pattern",
        "pattern_source",
        "required",
        "streaming",
        "timestamp_format",
        "type",
        "union",
        "value",
        "wire_members",
    )

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type = type_name
        self.members: dict[str, Member] = {}
        self.wire_members: dict[str, Member] = {}
        self.required: tuple[str, ...] = ()
        self.enum: dict[str, None] | None = None
        self.min: int | float | None = None
        self.max: int | float | None = None
        self.pattern: regex.Pattern[str] | None = None
        self.pattern_source: str | None = None
        self.member: Node | None = None
        self.key: Node | None = None
        self.value: Node | None = None
        self.timestamp_format: str | None = None
        self.union = False
        self.document = False
        self.streaming = False

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.type!r})"


class Compiler:
    """Compiles botocore shapes into :class:`Node` objects, once per shape name."""

    def __init__(self) -> None:
        self._memo: dict[str, Node] = {}
        self._patterns: dict[str, regex.Pattern[str] | None] = {}

    def compile(self, shape: Any) -> Node:
        """Return the node of a botocore ``Shape`` (cached by shape name)."""
        name: str = shape.name
        node = self._memo.get(name)
        if node is not None:
            return node
        node = Node(name, shape.type_name)
        self._memo[name] = node
        meta = shape.metadata
        if shape.type_name == "string" and shape.enum:
            node.enum = dict.fromkeys(shape.enum)
        node.min = meta.get("min")
        node.max = meta.get("max")
        source = meta.get("pattern")
        if source:
            node.pattern_source = source
            node.pattern = self._pattern(source)
        node.timestamp_format = shape.serialization.get("timestampFormat")
        node.streaming = bool(shape.serialization.get("streaming"))
        if shape.type_name == "structure":
            node.union = bool(getattr(shape, "is_tagged_union", False) or meta.get("union"))
            node.document = bool(getattr(shape, "is_document_type", False) or meta.get("document"))
            node.required = tuple(meta.get("required", ()))
            for member_name, member_shape in shape.members.items():
                ser = member_shape.serialization
                member = Member(
                    member_name,
                    ser.get("name", member_name),
                    ser.get("location"),
                    self.compile(member_shape),
                    idempotency_token=bool(member_shape.metadata.get("idempotencyToken")),
                    timestamp_format=ser.get("timestampFormat"),
                )
                node.members[member_name] = member
                if member.location is None:
                    node.wire_members[member.wire] = member
        elif shape.type_name == "list":
            node.member = self.compile(shape.member)
        elif shape.type_name == "map":
            node.key = self.compile(shape.key)
            node.value = self.compile(shape.value)
        return node

    def _pattern(self, source: str) -> regex.Pattern[str] | None:
        if source not in self._patterns:
            try:
                self._patterns[source] = regex.compile(source)
            except regex.error:
                logger.warning("shape pattern %r does not compile; not checked", source)
                self._patterns[source] = None
        return self._patterns[source]
