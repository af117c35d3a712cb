"""What an engine driver needs to know to run one run: the ``spec.json`` in the run directory.

Owns: :class:`RunSpec` (with its :class:`ExecutorSpec` and :class:`CacheSpec` sections) and its JSON
(de)serialization, :func:`write_spec` / :func:`read_spec`.

Must not: depend on a workflow language. The supervisor writes the spec before it starts the
driver; WDL and CWL drivers read the same file. Reading ignores keys it does not know, so a newer
supervisor can add fields without breaking an older driver.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: File name of the spec inside a run directory.
SPEC_FILE: Final = "spec.json"

LOG_LEVELS: Final = ("OFF", "FATAL", "ERROR", "ALL")
STORAGE_TYPES: Final = ("STATIC", "DYNAMIC")


@dataclass(frozen=True)
class ExecutorSpec:
    """Which executor runs the task commands, and the capacity it may hand out."""

    name: str = "local"
    """Executor name, as ``omicsd.executors`` selects it."""
    cpus: int = 0
    """vCPUs the executor may hand out (0: the machine's)."""
    memory_gib: int = 0
    """GiB the executor may hand out (0: the machine's)."""
    gpus: int = 0
    """GPUs the executor may hand out."""
    network_isolation: str = "auto"
    """How RESTRICTED networking is enforced (``auto``, ``bwrap``, ``unshare``, ``none``)."""


@dataclass(frozen=True)
class CacheSpec:
    """The run cache attached to the run (reserved; read by the WDL and CWL drivers)."""

    cache_id: str = ""
    cache_uri: str = ""
    cache_behavior: str = ""


@dataclass(frozen=True)
class RunSpec:
    """Everything a driver needs to run one run."""

    run_id: str
    run_uuid: str
    engine: str
    """``WDL`` or ``CWL``."""
    workflow_name: str
    """The workflow's HealthOmics name (for messages; output keys use the definition's own name)."""
    definition_dir: str
    """Absolute path of the unpacked workflow definition."""
    main: str
    """Path of the main definition file, relative to ``definition_dir``."""
    parameters: Mapping[str, Any]
    """Run parameters as given to StartRun (un-namespaced names, s3:// URIs for files)."""
    run_output_uri: str
    """``s3://bucket/prefix/<runId>``: outputs go under ``out/``, outputs.json under ``logs/``."""
    buckets_root: str
    """Directory holding the local buckets (``<data_dir>/buckets``)."""
    logs_root: str
    """Directory holding the log streams."""
    capacity_dir: str
    """Directory where executors account for capacity shared between runs."""
    s3_endpoint_url: str = ""
    """S3-compatible endpoint; empty: buckets are directories under ``buckets_root``."""
    log_level: str = "ALL"
    """``OFF``, ``FATAL``, ``ERROR`` or ``ALL``: verbosity of the engine log stream."""
    network: bool = False
    """``False``: RESTRICTED networking (tasks get no network); ``True``: tasks may reach the network."""
    pool: str = ""
    """Run group id whose limits the run's tasks count against; empty for none."""
    storage_type: str = "DYNAMIC"
    """``STATIC`` fails the run when the run directory outgrows ``storage_capacity_gib``."""
    storage_capacity_gib: int = 1200
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    region: str = "us-east-1"
    account: str = "123456789012"
    cache: CacheSpec | None = None
    engine_settings: Mapping[str, Any] | None = None
    """The run's ``engineSettings`` (Nextflow only; WDL and CWL runs never carry them)."""

    @property
    def main_path(self) -> Path:
        """Absolute path of the main definition file."""
        return Path(self.definition_dir) / self.main

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping of the spec."""
        body = dataclasses.asdict(self)
        body["parameters"] = dict(self.parameters)
        return body

    def to_json(self) -> str:
        """The spec as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> RunSpec:
        """Build a spec from :meth:`to_dict` output; unknown keys are ignored.

        Raises:
            ValueError: a required field is missing or a field has the wrong shape.
        """
        if not isinstance(body, Mapping):
            raise ValueError("a run spec must be a JSON object")
        kwargs = _known(cls, body)
        if isinstance(kwargs.get("executor"), Mapping):
            kwargs["executor"] = ExecutorSpec(**_known(ExecutorSpec, kwargs["executor"]))
        if isinstance(kwargs.get("cache"), Mapping):
            kwargs["cache"] = CacheSpec(**_known(CacheSpec, kwargs["cache"]))
        if not isinstance(kwargs.get("parameters", {}), Mapping):
            raise ValueError("run spec parameters must be a JSON object")
        try:
            spec = cls(**kwargs)
        except TypeError as exn:
            raise ValueError(f"invalid run spec: {exn}") from None
        if spec.log_level not in LOG_LEVELS:
            raise ValueError(f"invalid run spec log_level: {spec.log_level!r}")
        if spec.storage_type not in STORAGE_TYPES:
            raise ValueError(f"invalid run spec storage_type: {spec.storage_type!r}")
        return spec

    @classmethod
    def from_json(cls, text: str | bytes) -> RunSpec:
        """Parse a spec written by :meth:`to_json`.

        Raises:
            ValueError: not JSON, or not a valid spec.
        """
        return cls.from_dict(json.loads(text))


def spec_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where the spec of the run in ``run_dir`` lives."""
    return Path(run_dir) / SPEC_FILE


def write_spec(run_dir: str | os.PathLike[str], spec: RunSpec) -> Path:
    """Write ``spec.json`` into ``run_dir`` atomically (write then rename) and return its path."""
    path = spec_path(run_dir)
    tmp = path.with_name(f".{SPEC_FILE}.tmp")
    tmp.write_text(spec.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_spec(run_dir: str | os.PathLike[str]) -> RunSpec:
    """Read ``spec.json`` from ``run_dir``.

    Raises:
        FileNotFoundError: no spec in ``run_dir``.
        ValueError: the file is not a valid spec.
    """
    return RunSpec.from_json(spec_path(run_dir).read_bytes())


def _known(cls: type[Any], body: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in body.items() if k in names}
