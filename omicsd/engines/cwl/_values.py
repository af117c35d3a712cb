"""CWL values at the edges of a run: HealthOmics parameters in, exported outputs out.

Owns:

- :class:`JobOrder`: run parameters → a cwltool job order. A ``File`` / ``Directory`` object (``location``
  or ``path``), or a plain string where the input's type is ``File`` / ``Directory`` (and not ``string``),
  is staged through the :class:`~omicsd.engines._staging.InputStager` and becomes a local ``file://``
  location; its ``secondaryFiles`` are staged too. A primary given without them gets the objects its
  input's ``secondaryFiles`` patterns name (``.bai``, ``^.fai``) when they exist next to it in the bucket.
- :func:`output_namespace` and :func:`export_cwl_outputs`: outputs under ``<run_output_uri>/out/<name>/``
  exactly like the engine-neutral :func:`~omicsd.engines._staging.export_outputs` (which writes
  ``logs/outputs.json``), plus each file's secondary files next to it. In ``outputs.json`` a File is its
  URI, a Directory its URI ending in ``/``, arrays and records nest.

Must not: validate values against their types (cwltool does, and its message fails the run) or run anything.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from omicsd.blobs.base import ObjectStore
from omicsd.engines._staging import LocalDirectory, LocalFile, StagingFailed, export_outputs

logger = logging.getLogger(__name__)

FILE = "File"
DIRECTORY = "Directory"

Stage = Callable[[str, bool], str]
"""``stage(uri, is_directory)`` → local path."""


class JobOrder:
    """Builds a cwltool job order from HealthOmics run parameters (see the module docstring)."""

    def __init__(self, process: Any, stage: Stage, exists: Callable[[str], bool]) -> None:
        """Prepare the translation for ``process`` (a loaded cwltool process).

        Args:
            process: the main process; its ``inputs`` give each parameter's type and secondary files.
            stage: stages a URI and returns its local path.
            exists: whether a URI names an object (used to discover secondary files).
        """
        self.stage = stage
        self.exists = exists
        self.schema_defs = _schema_defs(process)
        self.inputs = {_short(str(entry["id"])): entry for entry in process.tool.get("inputs", [])}

    def build(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """The job order: every parameter translated (unknown names pass through for cwltool to judge)."""
        order: dict[str, Any] = {}
        for name, value in parameters.items():
            entry = self.inputs.get(name)
            if entry is None:
                order[name] = value
                continue
            order[name] = self._convert(value, entry.get("type"), _patterns(entry.get("secondaryFiles")))
        return order

    # translation, outermost first

    def _convert(self, value: Any, kind: Any, patterns: list[str]) -> Any:
        if value is None:
            return None
        if isinstance(value, Mapping) and value.get("class") in (FILE, DIRECTORY):
            return self._object(value, patterns)
        alternatives = list(self._alternatives(kind))
        names = {item for item in alternatives if isinstance(item, str)}
        if isinstance(value, str) and "string" not in names and "Any" not in names:
            if FILE in names:
                return self._object({"class": FILE, "location": value}, patterns)
            if DIRECTORY in names:
                return self._object({"class": DIRECTORY, "location": value}, patterns)
            return value
        if isinstance(value, list):
            items = [item["items"] for item in alternatives if _schema_type(item) == "array"]
            item_kind = items[0] if items else "Any"
            return [self._convert(item, item_kind, patterns) for item in value]
        if isinstance(value, Mapping):
            records = [item for item in alternatives if _schema_type(item) == "record"]
            fields = {_short(str(f["name"])): f for f in records[0].get("fields", [])} if records else {}
            converted: dict[str, Any] = {}
            for key, item in value.items():
                field = fields.get(key)
                if field is None:
                    converted[key] = self._convert(item, "Any", [])
                else:
                    converted[key] = self._convert(item, field.get("type"), _patterns(field.get("secondaryFiles")))
            return converted
        return value

    def _alternatives(self, kind: Any) -> Iterable[Any]:
        """The members of a (possibly nested, possibly named) union type."""
        if isinstance(kind, list):
            for item in kind:
                yield from self._alternatives(item)
        elif isinstance(kind, str) and kind in self.schema_defs:
            yield from self._alternatives(self.schema_defs[kind])
        elif isinstance(kind, Mapping) and isinstance(kind.get("type"), list | str) and _schema_type(kind) is None:
            yield from self._alternatives(kind["type"])
        elif kind is not None:
            yield kind

    def _object(self, obj: Mapping[str, Any], patterns: list[str]) -> dict[str, Any]:
        """A File / Directory object with its location (and secondary files) staged."""
        out = dict(obj)
        is_directory = out.get("class") == DIRECTORY
        location = out.get("location", out.get("path"))
        out.pop("path", None)
        if isinstance(location, str) and not location.startswith("_:"):
            out["location"] = Path(self.stage(location, is_directory)).as_uri()
            if is_directory:
                out.pop("listing", None)
        secondary = obj.get("secondaryFiles")
        if isinstance(secondary, list):
            out["secondaryFiles"] = [self._object(item, []) for item in secondary if isinstance(item, Mapping)]
        elif not is_directory and patterns and isinstance(location, str) and "://" in location:
            found = [self._object({"class": FILE, "location": uri}, []) for uri in self._siblings(location, patterns)]
            if found:
                out["secondaryFiles"] = found
        return out

    def _siblings(self, uri: str, patterns: list[str]) -> list[str]:
        """URIs next to ``uri`` named by secondary file ``patterns`` that exist (expressions are skipped)."""
        from cwltool.builder import substitute  # delay heavy import

        parent, _, basename = uri.rpartition("/")
        found: list[str] = []
        for pattern in patterns:
            if "$(" in pattern or "${" in pattern:
                continue
            candidate = f"{parent}/{substitute(basename, pattern)}"
            if candidate not in found and self._exists(candidate):
                found.append(candidate)
        return found

    def _exists(self, uri: str) -> bool:
        try:
            return self.exists(uri)
        except Exception:
            logger.debug("input.secondary_probe_failed uri=%s", uri, exc_info=True)
            return False


def output_namespace(process: Any) -> str:
    """The prefix of the keys of ``outputs.json``: the main process's id (``main`` for ``main.cwl``)."""
    name = _short(str(process.tool.get("id", "main")))
    return name[: -len(".cwl")] if name.endswith(".cwl") else name


def export_cwl_outputs(
    store: ObjectStore, run_output_uri: str, namespace: str, outputs: Mapping[str, Any], scratch: Path
) -> tuple[dict[str, Any], str]:
    """Upload cwltool's final outputs and write ``logs/outputs.json``; returns its body and URI.

    Args:
        store: the object store.
        run_output_uri: ``s3://bucket/prefix/<runId>``.
        namespace: prefix of the keys in outputs.json.
        outputs: cwltool's output object (short output names → CWL values).
        scratch: a directory where file literals (``contents`` without a file) are written first.

    Raises:
        StagingFailed: EXPORT_FAILED.
    """
    base = run_output_uri.rstrip("/")
    extras: list[tuple[Path, str]] = []
    try:
        neutral = {name: _neutral(value, f"{base}/out/{name}", extras, scratch) for name, value in outputs.items()}
        for path, uri in extras:
            store.upload(path, uri)
    except Exception as exn:
        raise StagingFailed("EXPORT_FAILED", f"Could not export outputs to {base}: {exn}") from exn
    return export_outputs(store, run_output_uri, namespace, neutral)


def _neutral(value: Any, prefix: str, extras: list[tuple[Path, str]], scratch: Path) -> Any:
    """A CWL value as :func:`export_outputs` takes it; secondary files are queued in ``extras``."""
    if isinstance(value, Mapping) and value.get("class") == FILE:
        for item in value.get("secondaryFiles") or []:
            path = _local(item, scratch)
            suffix = "/" if item.get("class") == DIRECTORY else ""
            extras.append((path, f"{prefix}/{path.name}{suffix}"))
        return LocalFile(str(_local(value, scratch)))
    if isinstance(value, Mapping) and value.get("class") == DIRECTORY:
        return LocalDirectory(str(_local(value, scratch)))
    if isinstance(value, Mapping):
        return {str(k): _neutral(v, f"{prefix}/{k}", extras, scratch) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutral(v, f"{prefix}/{i}", extras, scratch) for i, v in enumerate(value)]
    return value


def _local(obj: Mapping[str, Any], scratch: Path) -> Path:
    """The local path of a File / Directory object, realizing literals under ``scratch``."""
    location = obj.get("path") or obj.get("location") or ""
    if isinstance(location, str) and location.startswith("file://"):
        return Path(unquote(urlsplit(location).path))
    if isinstance(location, str) and location and not location.startswith("_:") and "://" not in location:
        return Path(location)
    target = scratch / str(len(os.listdir(scratch)) if scratch.exists() else 0) / str(obj.get("basename") or "literal")
    target.parent.mkdir(parents=True, exist_ok=True)
    if obj.get("class") == DIRECTORY:
        target.mkdir()
        for item in obj.get("listing") or []:
            source = _local(item, scratch)
            name = str(item.get("basename") or source.name)
            if source.is_dir():
                shutil.copytree(source, target / name)
            else:
                shutil.copyfile(source, target / name)
        return target
    target.write_text(str(obj.get("contents") or ""))
    return target


def _schema_defs(process: Any) -> dict[str, Any]:
    """Named types of the process's ``SchemaDefRequirement``, by their full name."""
    requirement, _ = process.get_requirement("SchemaDefRequirement")
    types = requirement.get("types", []) if isinstance(requirement, Mapping) else []
    return {str(t["name"]): t for t in types if isinstance(t, Mapping) and "name" in t}


def _patterns(secondary: Any) -> list[str]:
    """The patterns of a ``secondaryFiles`` declaration (a string, an object, or a list of them)."""
    items = secondary if isinstance(secondary, list) else [secondary] if secondary else []
    patterns: list[str] = []
    for item in items:
        pattern = item.get("pattern") if isinstance(item, Mapping) else item
        if isinstance(pattern, str) and pattern:
            patterns.append(pattern)
    return patterns


def _schema_type(kind: Any) -> str | None:
    """``array`` / ``record`` / ``enum`` for a schema object, ``None`` for anything else."""
    if isinstance(kind, Mapping) and kind.get("type") in ("array", "record", "enum"):
        return str(kind["type"])
    return None


def _short(identifier: str) -> str:
    fragment = urlsplit(identifier).fragment
    tail = fragment or urlsplit(identifier).path
    return tail.rsplit("/", 1)[-1]
