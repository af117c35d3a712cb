"""Status vocabularies of every resource and the transitions each allows.

Owns: the status enums (values equal the botocore model's enum values), the allowed-transition tables and the
terminal sets. :mod:`omicsd.domain.transitions` turns a proposed change into a decision using these tables.
Must not: perform transitions (services do, through one ``transition()`` per resource).
"""

from __future__ import annotations

from enum import StrEnum


class WorkflowStatus(StrEnum):
    """Workflow and workflow-version status."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"
    DELETED = "DELETED"
    FAILED = "FAILED"
    INACTIVE = "INACTIVE"


class RunStatus(StrEnum):
    """Run status."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    COMPLETED = "COMPLETED"
    DELETED = "DELETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class TaskStatus(StrEnum):
    """Task status."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


WORKFLOW_TRANSITIONS: dict[WorkflowStatus, frozenset[WorkflowStatus]] = {
    WorkflowStatus.CREATING: frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.FAILED, WorkflowStatus.DELETED}),
    WorkflowStatus.ACTIVE: frozenset({WorkflowStatus.UPDATING, WorkflowStatus.DELETED, WorkflowStatus.INACTIVE}),
    WorkflowStatus.UPDATING: frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.FAILED}),
    WorkflowStatus.FAILED: frozenset({WorkflowStatus.DELETED}),
    WorkflowStatus.INACTIVE: frozenset({WorkflowStatus.ACTIVE, WorkflowStatus.DELETED}),
    WorkflowStatus.DELETED: frozenset(),
}

_RUN_ACTIVE = (RunStatus.PENDING, RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING)
RUN_ACTIVE: frozenset[RunStatus] = frozenset(_RUN_ACTIVE)
RUN_TERMINAL: frozenset[RunStatus] = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED})

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset(
        {RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING, RunStatus.CANCELLED, RunStatus.FAILED}
    ),
    RunStatus.STARTING: frozenset({RunStatus.RUNNING, RunStatus.STOPPING, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.RUNNING: frozenset({RunStatus.STOPPING, RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.STOPPING: frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.COMPLETED: frozenset({RunStatus.DELETED}),
    RunStatus.CANCELLED: frozenset({RunStatus.DELETED}),
    RunStatus.FAILED: frozenset({RunStatus.DELETED}),
    RunStatus.DELETED: frozenset(),
}

TASK_ACTIVE: frozenset[TaskStatus] = frozenset(
    {TaskStatus.PENDING, TaskStatus.STARTING, TaskStatus.RUNNING, TaskStatus.STOPPING}
)
TASK_TERMINAL: frozenset[TaskStatus] = frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED})

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset(
        {
            TaskStatus.STARTING,
            TaskStatus.RUNNING,
            TaskStatus.CANCELLED,
            TaskStatus.FAILED,
            TaskStatus.COMPLETED,
        }
    ),
    TaskStatus.STARTING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.COMPLETED}),
    TaskStatus.RUNNING: frozenset({TaskStatus.STOPPING, TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.STOPPING: frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.FAILED: frozenset(),
}
