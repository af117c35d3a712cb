"""The vocabulary of a run's event journal: what an engine driver reports to the supervisor.

Owns: one frozen dataclass per event, the :data:`Event` union, and the JSON-lines codec
(:func:`encode` / :func:`decode`). Every event has a stable ``type`` name; times are epoch seconds
(floats); sizes are bytes unless the field says otherwise.

Must not: do I/O (see :mod:`omicsd.engines.journal`) or know what the supervisor does with an event.

The life of a run in events::

    RunStarted → InputsStaged → (TaskCreated → TaskStarting → TaskRunning → TaskFinished)* →
    RunOutputs (only when COMPLETED) → RunFinished

A task served from the run cache is ``TaskCreated → TaskFinished`` with ``cache_hit`` set.

Each attempt of a task is a new task with its own ``task_id`` (a random 7-digit string unique
within the run). Decoding ignores keys it does not know, so a newer driver can add fields without
breaking an older supervisor.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

#: Terminal statuses of a task or a run.
COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"
CANCELLED: Final = "CANCELLED"


@dataclass(frozen=True)
class RunStarted:
    """The driver is up and the engine is about to run."""

    type: ClassVar[str] = "run.started"
    time: float
    engine_version: str = ""
    """The engine and its version, for example ``miniwdl 1.16.0``."""


@dataclass(frozen=True)
class InputsStaged:
    """Every input URI of the run was resolved and made local."""

    type: ClassVar[str] = "inputs.staged"
    time: float
    resource_digests: Mapping[str, str] = field(default_factory=dict)
    """Input URI → ``etag:<ETag>``, as GetRun ``resourceDigests`` reports them."""


@dataclass(frozen=True)
class TaskCreated:
    """The engine created one attempt of a task (status PENDING)."""

    type: ClassVar[str] = "task.created"
    task_id: str
    name: str
    """HealthOmics task name: ``call-<name>`` with scatter suffixes ``-<i>`` / ``-<i>-<j>``."""
    cpus: int
    """Requested vCPUs, rounded up, at least 1."""
    memory_gib: int
    """Requested memory in GiB, rounded up, at least 1."""
    gpus: int
    instance_type: str
    image: str
    """The container image the task names; empty when it names none."""
    time: float


@dataclass(frozen=True)
class TaskStarting:
    """The attempt is waiting for capacity on the executor."""

    type: ClassVar[str] = "task.starting"
    task_id: str
    time: float


@dataclass(frozen=True)
class TaskRunning:
    """The attempt's command started."""

    type: ClassVar[str] = "task.running"
    task_id: str
    time: float


@dataclass(frozen=True)
class TaskMetrics:
    """Resource use of one attempt (the manifest's task ``metrics``)."""

    cpus_max: float = 0.0
    cpus_avg: float = 0.0
    memory_max_gib: float = 0.0
    memory_avg_gib: float = 0.0
    running_seconds: float = 0.0


@dataclass(frozen=True)
class TaskFinished:
    """The attempt ended: ``status`` is COMPLETED, FAILED or CANCELLED."""

    type: ClassVar[str] = "task.finished"
    task_id: str
    status: str
    time: float
    exit_status: int | None = None
    """The command's exit status; ``None`` when it never ran."""
    failure_reason: str = ""
    status_message: str = ""
    metrics: TaskMetrics = field(default_factory=TaskMetrics)
    cache_hit: bool = False
    """The task's outputs came from a run-cache entry; its command did not run."""
    cache_s3_uri: str = ""
    """The ``s3://`` prefix of the cache entry a cache hit used (empty otherwise)."""


@dataclass(frozen=True)
class RunOutputs:
    """The run's outputs were exported (only for a COMPLETED run)."""

    type: ClassVar[str] = "run.outputs"
    outputs: Mapping[str, Any]
    """``<WorkflowName>.<output>`` → exported ``s3://`` URI(s) or plain values (the outputs.json body)."""
    outputs_uri: str
    """Where outputs.json was written (``<runOutputUri>/logs/outputs.json``)."""


@dataclass(frozen=True)
class RunFinished:
    """The run ended: ``status`` is COMPLETED, FAILED or CANCELLED. Always the last event."""

    type: ClassVar[str] = "run.finished"
    status: str
    time: float
    failure_reason: str = ""
    status_message: str = ""
    storage_max_bytes: int = 0
    """Largest size the run directory reached."""


Event = RunStarted | InputsStaged | TaskCreated | TaskStarting | TaskRunning | TaskFinished | RunOutputs | RunFinished

EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        InputsStaged,
        TaskCreated,
        TaskStarting,
        TaskRunning,
        TaskFinished,
        RunOutputs,
        RunFinished,
    )
}


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""One encoder for every line (``json.dumps`` with options builds a new one per call)."""


class EventDecodeError(ValueError):
    """A journal line is not a known event."""


_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in EVENT_TYPES.values()
}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_dict(event: Event) -> dict[str, Any]:
    """The JSON-able mapping of an event, with its ``type`` first."""
    body: dict[str, Any] = {"type": event.type}
    names = _FIELD_NAMES.get(type(event)) or tuple(f.name for f in dataclasses.fields(event))
    for name in names:
        value = getattr(event, name)
        if type(value) in _SCALARS:  # most fields: skip the abstract-class checks below
            pass
        elif isinstance(value, TaskMetrics):
            value = dataclasses.asdict(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        body[name] = value
    return body


def encode(event: Event) -> bytes:
    """One journal line (UTF-8 JSON, compact, ending with a newline)."""
    return (_ENCODER.encode(to_dict(event)) + "\n").encode()


def from_dict(body: Mapping[str, Any]) -> Event:
    """Rebuild an event from :func:`to_dict` output; unknown keys are ignored.

    Raises:
        EventDecodeError: unknown ``type`` or missing required fields.
    """
    kind = body.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event type: {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in body.items() if k in names}
    if cls is TaskFinished and isinstance(kwargs.get("metrics"), Mapping):
        metric_names = {f.name for f in dataclasses.fields(TaskMetrics)}
        kwargs["metrics"] = TaskMetrics(**{k: v for k, v in kwargs["metrics"].items() if k in metric_names})
    if cls is TaskFinished:
        if "cache_hit" in kwargs:
            kwargs["cache_hit"] = kwargs["cache_hit"] is True
        if "cache_s3_uri" in kwargs:
            kwargs["cache_s3_uri"] = kwargs["cache_s3_uri"] if isinstance(kwargs["cache_s3_uri"], str) else ""
    try:
        return cls(**kwargs)
    except TypeError as exn:
        raise EventDecodeError(f"malformed {kind} event: {exn}") from None


def decode(line: bytes | str) -> Event:
    """Parse one journal line.

    Raises:
        EventDecodeError: not JSON, not an object, or not a known event.
    """
    try:
        body = json.loads(line)
    except ValueError as exn:
        raise EventDecodeError(f"not JSON: {exn}") from None
    if not isinstance(body, dict):
        raise EventDecodeError("an event must be a JSON object")
    return from_dict(body)
