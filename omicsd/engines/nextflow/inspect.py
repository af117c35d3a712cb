"""Infer a Nextflow pipeline's HealthOmics parameter template and profiles from its files.

Owns: :class:`NextflowEngine` (the ``NEXTFLOW`` adapter's inspect side). Nextflow cannot run on this machine
(its launcher downloads jars), so the definition is read, not evaluated:

* ``nextflow_schema.json`` (nf-core style, JSON-schema ``definitions``/``$defs`` groups plus top-level
  ``properties``) wins when present: a parameter is required when a ``required`` list names it and it has no
  ``default``; its description is the schema's ``description``.
* Otherwise ``params.x = v`` and ``params { x = v }`` in ``nextflow.config`` (and files it includes) and
  ``params.x = v`` in the main script give optional parameters (they have defaults); a ``params.x`` the main
  script only reads, with no default anywhere, is required (unless read as ``params.x ?: fallback``).
* Profiles are the blocks of ``profiles { name { ... } }``; each profile's template is the base template
  with the parameters the profile sets made optional (added when new).
* ``manifest.nextflowVersion`` is reported as ``engine_version``; ``language_version`` is ``DSL2`` unless
  ``nextflow.enable.dsl = 1``.

Unbalanced brackets, unterminated strings and comments are reported as definition errors; anything else
the reader does not understand is skipped.

Must not: run Nextflow, download anything, or read outside the archive root.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omicsd.engines.base import Inspection, ParameterTemplate, parameter
from omicsd.engines.nextflow._groovy import Setting, check_balanced, read_config, scan_script, tokenize
from omicsd.errors import DefinitionError

__all__ = ["NEXTFLOW_ENGINE", "NextflowEngine"]

logger = logging.getLogger(__name__)

SCHEMA_FILE = "nextflow_schema.json"
CONFIG_FILE = "nextflow.config"


class NextflowEngine:
    """The Nextflow adapter's inspect side, reading files without Nextflow."""

    name: str = "NEXTFLOW"
    """Always ``NEXTFLOW``."""

    def inspect(self, root: Path, main: str) -> Inspection:
        """Read the main script, ``nextflow.config`` and ``nextflow_schema.json`` and infer the template.

        Args:
            root: The unpacked archive.
            main: The main script (``main.nf``), relative to ``root``.

        Returns:
            The inspection, with profiles and per-profile templates.

        Raises:
            DefinitionError: A file cannot be read, ``nextflow_schema.json`` is not a JSON object, or a
                script or config has unbalanced brackets or an unterminated string.
        """
        root = root.resolve()
        warnings: list[str] = []
        tokens = tokenize(_read(root, main), main)
        check_balanced(tokens, main)
        facts = scan_script(tokens)
        config_name = _beside(root, main, CONFIG_FILE)
        settings = read_config(root, config_name, warnings) if config_name else []
        schema_name = _beside(root, main, SCHEMA_FILE)
        if schema_name:
            template = _schema_template(root, schema_name)
        else:
            template = _params_template(settings, facts.assigned, facts.read, facts.soft)
        if not template:
            warnings.append("no input parameters found")
        profiles = _profiles(settings)
        dsl = facts.dsl or _value(settings, ("nextflow", "enable", "dsl"))
        if dsl is not None and dsl.strip() == "1":
            warnings.append("DSL1 declared (nextflow.enable.dsl = 1); HealthOmics runs DSL2 pipelines")
        return Inspection(
            engine=self.name,
            main=main,
            parameter_template=template,
            warnings=tuple(warnings),
            profiles=tuple(profiles),
            profile_parameter_templates={
                profile: _profile_template(template, settings, profile) for profile in profiles
            },
            language_version="DSL1" if dsl is not None and dsl.strip() == "1" else "DSL2",
            engine_version=_value(settings, ("manifest", "nextflowVersion")),
        )


NEXTFLOW_ENGINE = NextflowEngine()
"""The built-in ``NEXTFLOW`` engine."""


# -- files -------------------------------------------------------------------------------------------------


def _read(root: Path, name: str) -> str:
    try:
        return (root / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exn:
        raise DefinitionError(f"{name}: cannot read: {exn}") from exn


def _beside(root: Path, main: str, name: str) -> str | None:
    """Find ``name`` in the main script's folder (Nextflow's projectDir), else at the archive root."""
    folder = Path(main).parent.as_posix()
    for candidate in (f"{folder}/{name}" if folder != "." else name, name):
        if (root / candidate).is_file():
            return candidate
    return None


# -- templates ---------------------------------------------------------------------------------------------


def _schema_template(root: Path, name: str) -> ParameterTemplate:
    try:
        doc = json.loads(_read(root, name))
    except ValueError as exn:
        raise DefinitionError(f"{name}: not valid JSON: {exn}") from exn
    if not isinstance(doc, dict):
        raise DefinitionError(f"{name}: expected a JSON object")
    groups: list[Any] = [doc]
    for key in ("definitions", "$defs"):
        section = doc.get(key)
        if isinstance(section, dict):
            groups.extend(section.values())
    required: set[str] = set()
    properties: dict[str, dict[str, Any]] = {}
    for group in groups:
        if not isinstance(group, dict):
            continue
        names = group.get("required")
        if isinstance(names, list):
            required.update(item for item in names if isinstance(item, str))
        props = group.get("properties")
        if isinstance(props, dict):
            for key, spec in props.items():
                properties.setdefault(key, spec if isinstance(spec, dict) else {})
    return {
        key: parameter(
            str(spec.get("description") or ""),
            optional=key not in required or "default" in spec,
        )
        for key, spec in properties.items()
    }


def _params_template(
    settings: list[Setting], assigned: list[str], read: list[str], soft: set[str]
) -> ParameterTemplate:
    template: ParameterTemplate = {}
    for setting in settings:
        if setting.path[0] == "params" and len(setting.path) > 1:
            template.setdefault(setting.path[1], parameter(optional=True))
    for name in assigned:
        template.setdefault(name, parameter(optional=True))
    for name in read:
        template.setdefault(name, parameter(optional=name in soft))
    return template


def _profiles(settings: list[Setting]) -> list[str]:
    names: list[str] = []
    for setting in settings:
        if setting.path[0] == "profiles" and len(setting.path) > 1 and setting.path[1] not in names:
            names.append(setting.path[1])
    return names


def _profile_template(base: ParameterTemplate, settings: list[Setting], profile: str) -> ParameterTemplate:
    template = {name: dict(entry) for name, entry in base.items()}
    prefix = ("profiles", profile, "params")
    for setting in settings:
        if setting.path[:3] == prefix and len(setting.path) > 3:
            name = setting.path[3]
            template[name] = {**template.get(name, parameter(optional=True)), "optional": True}
    return template


def _value(settings: list[Setting], path: tuple[str, ...]) -> str | None:
    found = [setting.value for setting in settings if setting.path == path and setting.value is not None]
    return found[-1] if found else None
