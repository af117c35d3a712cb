"""Typed settings for every part of omicsd, and the loader that builds them.

Owns: :class:`Settings` (one frozen dataclass per section) and :func:`load`.
Must not: import other omicsd modules except :mod:`omicsd.errors`; read settings lazily at run time
(everything reads the one object the composition root built).

Precedence, highest first:

1. explicit overrides passed to :func:`load` (the CLI flags: ``--host``, ``--port``, ``--data-dir``, ``--db``);
2. environment variables ``OMICSD__SECTION__KEY`` (for example ``OMICSD__SERVER__PORT=9000``);
3. a TOML file named by ``OMICSD_CONFIG`` (or ``config_file=``), with one table per section;
4. the defaults below (also written out, with comments, in ``omicsd/default_config.toml``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from omicsd.errors import ValidationError


@dataclass(frozen=True)
class ServerSettings:
    """Where the API listens and where it keeps its files."""

    host: str = "127.0.0.1"
    """Interface to bind."""
    port: int = 8765
    """TCP port for the omics, Logs and Pricing APIs (all on one port)."""
    data_dir: str = ".omicsd"
    """Directory for the SQLite database, local buckets, run directories and logs."""
    scheduler: bool = True
    """Run the scheduler inside ``omicsd serve`` (single-node mode)."""
    warm_drivers: bool = True
    """Start engine drivers from warm helper processes that already imported miniwdl / cwltool (a fork server);
    cuts each run's start-up by about 0.5 to 1 s. A helper starts with the first run of its engine (that run
    starts cold) and stops after ``warm_drivers_idle_seconds`` without runs, so an idle server keeps none.
    Off: every driver is a fresh ``python -m`` process."""
    warm_drivers_idle_seconds: float = 600.0
    """How long a warm-driver helper stays up after its last run started (0: stop as soon as its runs end)."""
    strict_output: bool = False
    """Check every response against its botocore output shape and answer 500 on a mismatch (tests turn it on)."""

    def __post_init__(self) -> None:
        if self.warm_drivers_idle_seconds < 0:
            raise ValidationError(
                f"Setting server.warm_drivers_idle_seconds must be >= 0, got {self.warm_drivers_idle_seconds}"
            )


@dataclass(frozen=True)
class StoreSettings:
    """The metadata database."""

    url: str = ""
    """SQLAlchemy URL; empty means ``sqlite:///<data_dir>/omicsd.db``. PostgreSQL: ``postgresql+psycopg://...``."""


@dataclass(frozen=True)
class IdentitySettings:
    """The account and Region that ARNs and log-stream ARNs carry."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    caller_arn: str = "arn:aws:iam::123456789012:user/omicsd"
    """Reported as ``startedBy`` when a request carries no credentials omicsd can map to a principal."""


@dataclass(frozen=True)
class BlobSettings:
    """How ``s3://`` URIs are resolved."""

    s3_endpoint_url: str = ""
    """Empty: every bucket is a directory under ``<data_dir>/buckets``. Set: an S3-compatible endpoint."""
    buckets_dir: str = ""
    """Override the local bucket root (default ``<data_dir>/buckets``)."""


@dataclass(frozen=True)
class RunSettings:
    """Run defaults and quotas (HealthOmics leaves several of these unpublished; all are configurable)."""

    max_stored_runs: int = 10000
    """The 'maximum runs (active or inactive)' quota that drives retentionMode=REMOVE eviction."""
    default_storage_type: str = "DYNAMIC"
    """Storage type of a run when neither the request nor the workflow names one."""
    default_storage_capacity: int = 1200
    """GiB for STATIC runs when neither the request nor the workflow names a capacity."""
    priority_order: str = "higher-first"
    """``higher-first`` (0 is the lowest priority) or ``lower-first`` (1 is the highest, as one API text says)."""
    max_concurrent_runs: int = 0
    """Runs whose engine drivers run at once; 0 picks max(4, 2 x CPUs). Tasks are limited by the executor."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Where task commands run."""

    name: str = "local"
    """``local`` (host processes) or ``slurm``."""
    cpus: int = 0
    """CPUs the executor may hand out; 0 detects the machine's."""
    memory_gib: int = 0
    """Memory the executor may hand out; 0 detects the machine's."""
    gpus: int = 0
    """GPUs the executor may hand out."""
    network_isolation: str = "auto"
    """How RESTRICTED runs lose the network: ``auto``, ``bwrap``, ``unshare`` or ``none`` (no isolation)."""


@dataclass(frozen=True)
class RepositorySettings:
    """Where ``definitionRepository`` sources are read from (there is no CodeConnections service locally)."""

    root: str = ""
    """Directory holding ``<owner>/<repo>`` git repositories (or plain folders); empty disables the source."""


@dataclass(frozen=True)
class Settings:
    """Every setting omicsd reads, one section per field."""

    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    blobs: BlobSettings = field(default_factory=BlobSettings)
    runs: RunSettings = field(default_factory=RunSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    repositories: RepositorySettings = field(default_factory=RepositorySettings)

    @property
    def data_path(self) -> Path:
        """The data directory as an absolute path."""
        return Path(self.server.data_dir).expanduser().resolve()

    @property
    def store_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        return self.store.url or f"sqlite:///{self.data_path / 'omicsd.db'}"

    @property
    def buckets_path(self) -> Path:
        """Root of the local buckets."""
        return Path(self.blobs.buckets_dir).resolve() if self.blobs.buckets_dir else self.data_path / "buckets"


def load(
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Build :class:`Settings` from overrides, environment, an optional TOML file and the defaults.

    Args:
        overrides: ``{section: {key: value}}``; ``None`` values are ignored so CLI flags can be passed as-is.
        environ: the environment to read (default ``os.environ``).
        config_file: a TOML file; default ``$OMICSD_CONFIG`` when set.

    Raises:
        ValidationError: an unknown section or key, or a value of the wrong type.
    """
    env = os.environ if environ is None else environ
    layers: list[Mapping[str, Mapping[str, Any]]] = []
    path = config_file or env.get("OMICSD_CONFIG")
    if path:
        with open(path, "rb") as fh:
            layers.append(tomllib.load(fh))
    layers.append(_from_environ(env))
    if overrides:
        layers.append({s: {k: v for k, v in kv.items() if v is not None} for s, kv in overrides.items()})
    sections: dict[str, Any] = {}
    hints = get_type_hints(Settings)
    for name, cls in hints.items():
        values: dict[str, Any] = {}
        for layer in layers:
            values.update(layer.get(name, {}))
        sections[name] = _build_section(name, cls, values)
    unknown = {s for layer in layers for s in layer} - set(hints)
    if unknown:
        raise ValidationError(f"Unknown configuration section(s): {', '.join(sorted(unknown))}")
    return Settings(**sections)


def _from_environ(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        if key.startswith("OMICSD__"):
            parts = key[len("OMICSD__") :].lower().split("__")
            if len(parts) == 2:
                out.setdefault(parts[0], {})[parts[1]] = value
    return out


def _build_section(name: str, cls: type[Any], values: Mapping[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    extra = set(values) - known
    if extra:
        raise ValidationError(f"Unknown setting(s) in [{name}]: {', '.join(sorted(extra))}")
    return cls(**{k: _coerce(f"{name}.{k}", hints[k], v) for k, v in values.items()})


def _coerce(where: str, typ: Any, value: Any) -> Any:
    try:
        if typ is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(value)
            return lowered in {"1", "true", "yes", "on"}
        if typ is int and not isinstance(value, bool):
            return int(value)
        if typ is str:
            return str(value)
        return typ(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Setting {where} must be {typ.__name__}, got {value!r}") from exc
