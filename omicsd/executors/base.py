"""The contract between engines and the places task commands run.

Owns: :class:`TaskRequest`, :class:`TaskResult` and the :class:`TaskExecutor` protocol.
Must not: import omicsd's domain, store or services (executors are leaves, reusable on their own).

An executor runs one task attempt to completion in :meth:`TaskExecutor.run`, a *blocking* call made from
an engine's worker thread (miniwdl's container backend ``_run`` and cwltool's job runner are both blocking).
The call first waits for capacity (the task is STARTING), then starts the command (``on_start`` fires: the
task is RUNNING), and returns once the command and every process it started are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class TaskRequest:
    """One attempt of one task, as the engine hands it over."""

    name: str
    """Display name (``call-hello``); used in log records only."""
    command: Sequence[str]
    """argv of the command, for example ``["bash", "/runs/1/call-x/command"]``."""
    cwd: Path
    """Working directory; created by the caller."""
    stdout_path: Path
    """File that receives the command's standard output."""
    stderr_path: Path
    """File that receives the command's standard error."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables on top of a minimal host environment."""
    cpus: int = 1
    """vCPUs reserved against the executor's capacity."""
    memory_bytes: int = 0
    """Memory reserved and enforced as a hard limit (0: reserve nothing, enforce nothing)."""
    gpus: int = 0
    """GPUs reserved against the executor's capacity."""
    network: bool = False
    """``False`` runs the command in a network namespace with no interfaces (RESTRICTED runs)."""
    pool: str = ""
    """Accounting pool (a run group id) for limits shared across runs; empty for none."""
    timeout_seconds: float | None = None
    """Wall-clock limit of the command; exceeded → killed, ``timed_out`` set."""


@dataclass(frozen=True)
class TaskResult:
    """What happened to one attempt."""

    exit_status: int
    """The command's exit status; 128+N when killed by signal N (137 for SIGKILL / out of memory)."""
    start_time: float
    """Epoch seconds when the command started."""
    end_time: float
    """Epoch seconds when the command and its process group were gone."""
    oom_killed: bool = False
    """Killed because its memory use exceeded ``memory_bytes``."""
    cancelled: bool = False
    """Killed because ``should_cancel`` returned true."""
    timed_out: bool = False
    """Killed because ``timeout_seconds`` passed."""
    cpu_seconds: float = 0.0
    """User + system CPU time of the process tree."""
    max_cpus: float = 0.0
    """Highest CPU use over one sampling interval, in vCPUs."""
    avg_cpus: float = 0.0
    """Average CPU use over the running time, in vCPUs."""
    max_memory_bytes: int = 0
    """Highest resident set size of the process tree."""
    avg_memory_bytes: int = 0
    """Average resident set size of the process tree."""


class TaskExecutor(Protocol):
    """Runs task commands and accounts for the resources they reserve."""

    name: str
    """The name the configuration selects this executor by (``local``, ``slurm``)."""

    def capacity(self) -> Mapping[str, int]:
        """The resources this executor can hand out: ``{"cpus", "memory_bytes", "gpus"}``."""
        ...

    def run(
        self,
        request: TaskRequest,
        *,
        should_cancel: Callable[[], bool] = lambda: False,
        on_start: Callable[[float], None] | None = None,
    ) -> TaskResult:
        """Wait for capacity, run the command to completion and release the capacity.

        Raises:
            omicsd.errors.ValidationError: the request can never fit this executor (more CPUs, memory or
                GPUs than it has), so waiting would never end.
        """
        ...
