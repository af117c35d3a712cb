"""Row <-> record mapping shared by the repositories: a record's fields are named like its table's columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")

_ENUM_FIELDS: dict[type[Any], dict[str, type[StrEnum]]] = {}


def _enum_fields(cls: type[Any]) -> dict[str, type[StrEnum]]:
    found = _ENUM_FIELDS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = {name: typ for name, typ in hints.items() if isinstance(typ, type) and issubclass(typ, StrEnum)}
        _ENUM_FIELDS[cls] = found
    return found


def to_record(cls: type[T], row: Mapping[Any, Any]) -> T:
    """Build a record of ``cls`` from a row mapping (extra columns are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in row.items() if k in names}
    for name, enum in _enum_fields(cls).items():
        if values.get(name) is not None:
            values[name] = enum(values[name])
    return cls(**values)


def to_values(record: Any) -> dict[str, Any]:
    """Column values of a record (enums stored as their string values)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out[f.name] = value.value if isinstance(value, StrEnum) else value
    return out
