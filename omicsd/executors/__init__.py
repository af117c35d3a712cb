"""Where task commands run: the :class:`TaskExecutor` contract and :func:`new` to pick one by name.

Owns: the package's public surface (re-exports only).
Must not: import the implementations eagerly (:func:`new` loads them on demand).
"""

from __future__ import annotations

from omicsd.executors.base import TaskExecutor, TaskRequest, TaskResult
from omicsd.executors.registry import new

__all__ = ["TaskExecutor", "TaskRequest", "TaskResult", "new"]
