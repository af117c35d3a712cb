"""What every workflow engine offers to the rest of omicsd, and what inspecting a definition yields.

Owns: the :class:`Inspection` value (engine, main file, HealthOmics parameter template, warnings, profiles,
language version) and the :class:`Engine` protocol that the language adapters (``wdl``, ``cwl``,
``nextflow``) implement and :mod:`omicsd.engines.registry` hands out.

Must not: import an engine library (miniwdl, cwltool) or touch archives, the store or the services. This
module is imported by everything that talks about engines, so it stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Engine", "Inspection", "ParameterTemplate", "parameter"]

ParameterTemplate = dict[str, dict[str, Any]]
"""A HealthOmics parameter template: ``{name: {"description": str, "optional": bool}}``."""


@dataclass(frozen=True)
class Inspection:
    """What omicsd learned from a workflow definition, in HealthOmics terms."""

    engine: str
    """Engine name as HealthOmics spells it: ``WDL``, ``WDL_LENIENT``, ``CWL`` or ``NEXTFLOW``."""
    main: str
    """Path of the main definition file, relative to the archive root (``/``-separated)."""
    parameter_template: ParameterTemplate
    """Inputs of the main workflow: ``{name: {"description": str, "optional": bool}}``, no namespacing."""
    warnings: tuple[str, ...] = ()
    """Non-blocking findings worth showing in ``statusMessage`` (e.g. ``no input parameters found``)."""
    profiles: tuple[str, ...] = ()
    """Nextflow configuration profiles, in declaration order; empty for other engines."""
    profile_parameter_templates: dict[str, ParameterTemplate] = field(default_factory=dict)
    """Nextflow: the parameter template that applies when a profile is selected; empty otherwise."""
    language_version: str | None = None
    """Language version declared by the definition: ``1.0``/``1.1``/``draft-2`` (WDL), ``v1.2`` (CWL),
    ``DSL2`` (Nextflow)."""
    engine_version: str | None = None
    """Engine version the definition asks for, when it says (Nextflow ``manifest.nextflowVersion``)."""


@runtime_checkable
class Engine(Protocol):
    """A workflow language adapter, able to read a definition that has been unpacked on disk."""

    name: str
    """The engine name the adapter answers to (``WDL``, ``CWL``, ...)."""

    def inspect(self, root: Path, main: str) -> Inspection:
        """Parse the definition and infer its parameter template.

        Args:
            root: Directory holding the unpacked archive; imports resolve inside it only.
            main: Path of the main file relative to ``root``.

        Returns:
            The inspection result, with ``engine`` set to :attr:`name`.

        Raises:
            DefinitionError: The definition does not parse or type-check; the message is the parser's,
                with ``file:line:column`` positions relative to ``root``.
        """
        ...


def parameter(description: str = "", *, optional: bool) -> dict[str, Any]:
    """Build one parameter template entry.

    Args:
        description: Human-readable description; empty when the definition has none.
        optional: Whether the parameter may be left out of a run.

    Returns:
        ``{"description": description, "optional": optional}``.
    """
    return {"description": description, "optional": optional}
