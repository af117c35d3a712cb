"""What every benchmark case receives: repetition count, quick mode, a scratch directory and a logger.

Owns: :class:`Context` and the :data:`Case` signature.
Must not: know any particular case.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench._stats import Row

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKFLOWS = HERE / "workflows"

OMICSD = "omicsd"
"""Variant name: ``omicsd serve`` as shipped."""
OMICSD_COLD = "omicsd, warm drivers off"
"""Variant name: ``omicsd serve`` with ``server.warm_drivers = false`` (every driver is a fresh interpreter)."""
COLD_ENV = {"OMICSD__SERVER__WARM_DRIVERS": "false"}
"""The environment that selects :data:`OMICSD_COLD`."""
VARIANTS: dict[str, dict[str, str]] = {OMICSD: {}, OMICSD_COLD: COLD_ENV}
"""Every omicsd variant a workflow case compares, with the extra environment of its server."""


@dataclass(frozen=True)
class Context:
    """Settings of one benchmark invocation."""

    reps: int
    """Repetitions per measurement (medians are taken over them)."""
    quick: bool
    """Smaller sizes where a case offers them (batch and ListRuns at 10,000 instead of 100,000 runs)."""
    work: Path
    """Scratch directory of this invocation (one sub-directory per case)."""
    verbose: bool = False
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def scratch(self, name: str) -> Path:
        """A new, empty directory for ``name``."""
        path = self.work / f"{next(self._counter):02d}-{name}"
        path.mkdir(parents=True)
        return path

    def log(self, message: str) -> None:
        """Progress on stderr (the table goes to stdout)."""
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Case = Callable[[Context], list[Row]]
"""A benchmark case: measures, returns its rows (never raises for a missing feature: it reports it)."""
