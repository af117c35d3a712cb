"""Find a workflow engine adapter by its HealthOmics name.

Owns: the table of engines, filled lazily from entry points of the group ``omicsd.engines``. The built-ins
(``WDL``, ``WDL_LENIENT``, ``CWL``, ``NEXTFLOW``) are declared as :class:`importlib.metadata.EntryPoint`
objects and go through the same loader as third-party plugins, so an installed distribution can replace a
built-in by registering the same name. An entry point may name an :class:`~omicsd.engines.base.Engine`
instance or a class that builds one without arguments. Nothing is imported until an engine is asked for:
miniwdl and cwltool take a good part of a second to import.

Must not: parse definitions (that is each adapter's job) or know about archives, the store or services.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import EntryPoint, entry_points

from omicsd.engines.base import Engine
from omicsd.errors import InternalError, ValidationError

__all__ = ["GROUP", "engine_names", "get_engine", "register_engine"]

logger = logging.getLogger(__name__)

GROUP = "omicsd.engines"
"""Entry-point group that engine plugins register under; the entry point name is the engine name."""

_BUILTINS = (
    EntryPoint(name="WDL", value="omicsd.engines.wdl.inspect:WDL_ENGINE", group=GROUP),
    EntryPoint(name="WDL_LENIENT", value="omicsd.engines.wdl.inspect:WDL_LENIENT_ENGINE", group=GROUP),
    EntryPoint(name="CWL", value="omicsd.engines.cwl.inspect:CWL_ENGINE", group=GROUP),
    EntryPoint(name="NEXTFLOW", value="omicsd.engines.nextflow.inspect:NEXTFLOW_ENGINE", group=GROUP),
)

_lock = threading.Lock()
_declared: dict[str, EntryPoint] | None = None
_loaded: dict[str, Engine] = {}


def get_engine(name: str) -> Engine:
    """Return the engine adapter registered under ``name``, loading it on first use.

    Args:
        name: Engine name, e.g. ``WDL`` (case-insensitive).

    Returns:
        The adapter; the same object on every call.

    Raises:
        ValidationError: No engine is registered under that name.
        InternalError: The plugin is registered but cannot be loaded.
    """
    key = name.strip().upper()
    with _lock:
        engine = _loaded.get(key)
        if engine is not None:
            return engine
        declared = _declarations()
        entry = declared.get(key)
        if entry is None:
            known = ", ".join(sorted(set(declared) | set(_loaded)))
            raise ValidationError(f"Unknown workflow engine {name!r}; known engines: {known}")
        engine = _load(entry)
        _loaded[key] = engine
        logger.debug("engine.loaded name=%s value=%s", key, entry.value)
        return engine


def engine_names() -> tuple[str, ...]:
    """Names of every engine that :func:`get_engine` can return, sorted."""
    with _lock:
        return tuple(sorted(set(_declarations()) | set(_loaded)))


def register_engine(engine: Engine, *, name: str | None = None) -> None:
    """Register an adapter object directly, replacing any engine of the same name.

    Meant for embedding and tests; installed plugins use the ``omicsd.engines`` entry-point group.

    Args:
        engine: The adapter.
        name: Name to register under; defaults to ``engine.name``.
    """
    key = (name or engine.name).strip().upper()
    with _lock:
        _loaded[key] = engine


def _declarations() -> dict[str, EntryPoint]:
    global _declared
    if _declared is None:
        found = {entry.name: entry for entry in _BUILTINS}
        for entry in entry_points(group=GROUP):
            key = entry.name.strip().upper()
            if key in found and found[key].value != entry.value:
                logger.info("engine.override name=%s value=%s", key, entry.value)
            found[key] = entry
        _declared = found
    return _declared


def _load(entry: EntryPoint) -> Engine:
    try:
        obj = entry.load()
    except Exception as exn:
        raise InternalError(f"Workflow engine {entry.name} ({entry.value}) cannot be loaded: {exn}") from exn
    if isinstance(obj, type):
        obj = obj()
    if not isinstance(obj, Engine):
        raise InternalError(f"Workflow engine {entry.name} ({entry.value}) is not an engine adapter")
    return obj
