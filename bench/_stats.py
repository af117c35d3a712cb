"""The numbers a benchmark row reports: samples, their median and range, ratios against a baseline, targets.

Owns: :class:`Row` (one measured quantity of one variant of one case, with every sample kept),
:class:`Target`, :func:`summarize`, :func:`percentile` and :func:`ratio`.
Must not: measure anything or format output (``_report`` does).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

OK = "ok"
NOT_AVAILABLE = "not available"
ERROR = "error"


@dataclass(frozen=True)
class Target:
    """A goal for a row's median: ``op`` is ``"<="`` (times, memory) or ``">="`` (throughput)."""

    op: str
    value: float

    def met(self, median: float) -> bool:
        """Whether ``median`` meets the goal."""
        return median <= self.value if self.op == "<=" else median >= self.value

    def describe(self, unit: str) -> str:
        """``≤ 0.3 s``-style text."""
        sign = "≤" if self.op == "<=" else "≥"
        return f"{sign} {_number(self.value)} {unit}".strip()


@dataclass(frozen=True)
class Summary:
    """Median and range of a row's samples."""

    median: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Row:
    """One measured quantity of one variant of one case."""

    case: str
    variant: str
    metric: str
    unit: str
    samples: tuple[float, ...] = ()
    target: Target | None = None
    baseline: str | None = None
    """The variant of the same case (and metric) whose median divides this one's (the bare engine)."""
    status: str = OK
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    """Further per-row facts (percentiles of the last repetition, counts) kept in the JSON."""

    @property
    def summary(self) -> Summary | None:
        """Median and range, or ``None`` without samples."""
        return summarize(self.samples)

    def met(self) -> bool | None:
        """Whether the median meets the target (``None`` without a target or samples)."""
        summary = self.summary
        if self.target is None or summary is None or self.status != OK:
            return None
        return self.target.met(summary.median)


def summarize(samples: Sequence[float]) -> Summary | None:
    """Median, min and max of ``samples`` (``None`` when empty)."""
    values = [float(v) for v in samples if not math.isnan(v)]
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside 0-100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def ratio(row: Row, rows: Sequence[Row]) -> float | None:
    """``row``'s median over its baseline's median (same case and metric), or ``None``."""
    if row.baseline is None:
        return None
    mine = row.summary
    base = next((r for r in rows if r.case == row.case and r.metric == row.metric and r.variant == row.baseline), None)
    theirs = base.summary if base is not None and base.status == OK else None
    if mine is None or theirs is None or theirs.median == 0:
        return None
    return mine.median / theirs.median


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:g}"
