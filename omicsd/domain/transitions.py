"""Decide whether a proposed status change is allowed.

Owns: :class:`Decision` and :func:`decide`, a pure function over the tables in :mod:`omicsd.domain.states`.
Must not: write anything. ``services.<resource>.transition()`` asks :func:`decide`, then writes the change with
a compare-and-set update, so the database never holds a transition these tables forbid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Decision:
    """The answer to a proposed transition."""

    accepted: bool
    """Whether the change may be written."""
    noop: bool = False
    """The resource is already in the target status: nothing to write, not an error."""
    reason: str = ""
    """Why a change was rejected, for a ConflictException message."""


def decide(table: Mapping[S, frozenset[S]], resource: str, current: S, target: S) -> Decision:
    """Decide a transition of ``resource`` (a label such as ``Run 1234567``) from ``current`` to ``target``."""
    if current == target:
        return Decision(accepted=False, noop=True)
    if target in table.get(current, frozenset()):
        return Decision(accepted=True)
    return Decision(accepted=False, reason=f"{resource} cannot move from {current.value} to {target.value}")
