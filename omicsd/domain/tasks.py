"""Tasks: the stored record of one task attempt.

Owns: :class:`TaskRecord`. Must not: touch storage. Each retry of a task is its own record with its own ID, as
on HealthOmics; task IDs are scoped by run (``GET /run/{id}/task/{taskId}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omicsd.domain.states import TaskStatus


@dataclass(frozen=True)
class TaskRecord:
    """A task attempt as stored (column names of the ``tasks`` table)."""

    run_id: str
    task_id: str
    uuid: str
    seq: int
    name: str
    status: TaskStatus
    cpus: int
    memory: int
    gpus: int
    creation_time: datetime
    instance_type: str | None = None
    image: str | None = None
    image_digest: str | None = None
    status_message: str | None = None
    failure_reason: str | None = None
    cache_hit: bool | None = None
    cache_s3_uri: str | None = None
    exit_status: int | None = None
    metrics: dict[str, Any] | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None

    @property
    def label(self) -> str:
        """How messages name this task."""
        return f"Task {self.task_id} ({self.name}) of run {self.run_id}"
