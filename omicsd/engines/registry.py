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

from importlib.metadata import EntryPoint

from omicsd.engines.base import Engine
from omicsd.plugins import PluginTable

__all__ = ["GROUP", "engine_names", "get_engine", "register_engine"]

GROUP = "omicsd.engines"
"""Entry-point group that engine plugins register under; the entry point name is the engine name."""

_BUILTINS = (
    EntryPoint(name="WDL", value="omicsd.engines.wdl.inspect:WDL_ENGINE", group=GROUP),
    EntryPoint(name="WDL_LENIENT", value="omicsd.engines.wdl.inspect:WDL_LENIENT_ENGINE", group=GROUP),
    EntryPoint(name="CWL", value="omicsd.engines.cwl.inspect:CWL_ENGINE", group=GROUP),
    EntryPoint(name="NEXTFLOW", value="omicsd.engines.nextflow.inspect:NEXTFLOW_ENGINE", group=GROUP),
)

_TABLE: PluginTable[Engine] = PluginTable(
    GROUP, _BUILTINS, kind="workflow engine", check=lambda obj: obj if isinstance(obj, Engine) else None
)


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
    return _TABLE.get(name)


def engine_names() -> tuple[str, ...]:
    """Names of every engine that :func:`get_engine` can return, sorted."""
    return _TABLE.names()


def register_engine(engine: Engine, *, name: str | None = None) -> None:
    """Register an adapter object directly, replacing any engine of the same name.

    Meant for embedding and tests; installed plugins use the ``omicsd.engines`` entry-point group.

    Args:
        engine: The adapter.
        name: Name to register under; defaults to ``engine.name``.
    """
    _TABLE.register(name or engine.name, engine)
