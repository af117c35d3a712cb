"""Row <-> record mapping shared by the repositories: a record's fields are named like its table's columns.

Owns: building records from row mappings and column values from records, with a per-class plan (field names and
enum conversions) computed once.
Must not: run queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")

_Plan = tuple[frozenset[str], tuple[tuple[str, type[StrEnum]], ...]]
_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    found = _PLANS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        enums = tuple((name, typ) for name, typ in hints.items() if isinstance(typ, type) and issubclass(typ, StrEnum))
        found = (frozenset(f.name for f in dataclasses.fields(cls)), enums)
        _PLANS[cls] = found
    return found


def to_record(cls: type[T], row: Mapping[Any, Any]) -> T:
    """Build a record of ``cls`` from a row mapping (extra columns are ignored)."""
    names, enums = _plan(cls)
    values = {k: v for k, v in row.items() if k in names}
    for name, enum in enums:
        value = values.get(name)
        if value is not None:
            values[name] = enum(value)
    return cls(**values)


def to_values(record: Any) -> dict[str, Any]:
    """Column values of a record (enums stored as their string values)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out[f.name] = value.value if isinstance(value, StrEnum) else value
    return out
