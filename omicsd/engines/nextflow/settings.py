"""A Nextflow run's ``engineSettings``: the engine version, profiles and syntax parser it asks for.

Owns: :class:`EngineSettings`, :func:`parse_engine_settings` (validation, as HealthOmics does it at
StartRun), :func:`read_engine_settings` (from the run spec), :func:`check_profiles` and
:func:`parse_version_output` (the version in ``nextflow -version``'s banner).

Must not: run Nextflow or read the definition (the driver hands over the profiles it found).

HealthOmics accepts ``engineVersion`` ``22.04[.0]``, ``23.10[.0]``, ``24.10[.8]``, ``25.10[.0]`` and
``26.04[.0]`` and reports the full ``NN.NN.N`` form; ``profile`` is a comma-separated list of profiles the
definition declares; ``syntaxVersion`` ``v2`` selects Nextflow's strict parser (``NXF_SYNTAX_PARSER``).
``outputFormat`` and ``agentMode`` are accepted and have no effect here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from omicsd.engines.spec import SPEC_FILE, RunSpec
from omicsd.errors import ValidationError

#: Supported ``major.minor`` → the full version HealthOmics runs and reports.
SUPPORTED_VERSIONS: Final = {
    "22.04": "22.04.0",
    "23.10": "23.10.0",
    "24.10": "24.10.8",
    "25.10": "25.10.0",
    "26.04": "26.04.0",
}
SYNTAX_VERSIONS: Final = ("v1", "v2")
OUTPUT_FORMATS: Final = ("json", "text", "none")
#: Failure reason of a run that asks for an unsupported engine version.
VERSION_FAILURE_REASON: Final = "WORKFLOW_VER_VALIDATION_FAILED"

_VERSION_SETTING = re.compile(r"(\d{2}\.\d{2})(?:\.(\d+))?")
_BANNER_VERSION = re.compile(r"\bversion\s+v?(\d+\.\d+\.\d+)")
_PROFILE = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class EngineSettings:
    """The engine settings of one run, validated."""

    engine_version: str = ""
    """The full version asked for (``24.10.8``); empty: whatever ``nextflow`` is installed."""
    profiles: tuple[str, ...] = ()
    """Profiles to activate, in the order given."""
    syntax_version: str = ""
    """``v1``, ``v2`` or empty (Nextflow's default)."""


def parse_engine_settings(body: Mapping[str, Any] | None) -> EngineSettings:
    """Validate a run's ``engineSettings`` object.

    Raises:
        ValidationError: a value of the wrong type or format; an unsupported ``engineVersion`` carries
            ``details["failure_reason"] == "WORKFLOW_VER_VALIDATION_FAILED"``.
    """
    if body is None:
        return EngineSettings()
    if not isinstance(body, Mapping):
        raise ValidationError("engineSettings must be an object")
    version = _version(_string(body, "engineVersion"))
    profiles = _profiles(_string(body, "profile"))
    syntax = _string(body, "syntaxVersion")
    if syntax and syntax not in SYNTAX_VERSIONS:
        raise ValidationError(f"engineSettings.syntaxVersion must be one of {', '.join(SYNTAX_VERSIONS)}: {syntax!r}")
    if syntax == "v2" and version and version < "26.04":
        raise ValidationError(f"engineSettings.syntaxVersion v2 needs engineVersion 26.04 or later, not {version}")
    output_format = _string(body, "outputFormat")
    if output_format and output_format not in OUTPUT_FORMATS:
        raise ValidationError(
            f"engineSettings.outputFormat must be one of {', '.join(OUTPUT_FORMATS)}: {output_format!r}"
        )
    agent_mode = body.get("agentMode")
    if agent_mode is not None and str(agent_mode).lower() not in ("true", "false"):
        raise ValidationError(f"engineSettings.agentMode must be 'true' or 'false': {agent_mode!r}")
    return EngineSettings(engine_version=version, profiles=profiles, syntax_version=syntax)


def read_engine_settings(spec: RunSpec, run_dir: Path) -> Mapping[str, Any] | None:
    """The raw ``engineSettings`` of the run: the spec's ``engine_settings`` field, else its key in ``spec.json``."""
    value = getattr(spec, "engine_settings", None)
    if value is None:
        try:
            value = json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")).get("engine_settings")
        except (OSError, ValueError, AttributeError):
            value = None
    return value if isinstance(value, Mapping) else None


def check_profiles(requested: Sequence[str], declared: Sequence[str]) -> None:
    """Check that every requested profile is declared by the definition.

    Raises:
        ValidationError: a profile the definition does not declare, named in the message.
    """
    unknown = [name for name in requested if name not in declared]
    if not unknown:
        return
    known = ", ".join(declared) if declared else "none"
    noun = "profile" if len(unknown) == 1 else "profiles"
    raise ValidationError(
        f"Nextflow {noun} {', '.join(repr(name) for name in unknown)} not defined by the workflow "
        f"(declared profiles: {known})"
    )


def parse_version_output(text: str) -> str | None:
    """The ``NN.NN.N`` version in ``nextflow -version`` (``version 24.10.4 build 5934``) or ``-v`` output."""
    match = _BANNER_VERSION.search(text)
    return match.group(1) if match else None


def _string(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"engineSettings.{key} must be a string")
    return value.strip()


def _version(text: str) -> str:
    if not text:
        return ""
    match = _VERSION_SETTING.fullmatch(text)
    full = SUPPORTED_VERSIONS.get(match.group(1)) if match else None
    if match is None or full is None or (match.group(2) is not None and text != full):
        supported = ", ".join(sorted(SUPPORTED_VERSIONS.values()))
        raise ValidationError(
            f"Nextflow version {text!r} is not supported; use one of {supported} (or its major.minor)",
            failure_reason=VERSION_FAILURE_REASON,
        )
    return full


def _profiles(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if not _PROFILE.fullmatch(name):
            raise ValidationError(f"engineSettings.profile has an invalid profile name: {name!r}")
    return names
