"""CWL job outputs to and from run-cache entries.

Owns: :func:`entry_material` (a job's outputs as the files and JSON of a
:class:`~omicsd.engines._cache.CompletedTask`), :func:`hit_outputs` (outputs again, from an entry whose files
were copied), :func:`declared_outputs`, :data:`CONSTANTS_FILE` and the File / Directory helpers the key
shares (:func:`is_object`, :func:`file_objects`, :func:`local_path`).

Must not: decide hits or misses, or import cwltool (outputs are plain CWL JSON values).

Entry layout (file names relative to the task's directory ``cwl/tasks/<name>-<taskId>/``)::

    out/<path>              a file under the job's output directory (its working directory)
    external/<n>/<name>     an output outside it (an input passed through)
    cwl.output.json         the outputs that hold no file: as on HealthOmics, a CWL task's constant outputs
                            are cached as an intermediate file, not as the manifest's ``otherOutputs``

In the stored outputs every File / Directory ``location`` is such a name (``path`` and ``dirname`` are
dropped; cwltool derives them again); literals (``contents``, ``_:`` locations) are kept as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from omicsd.engines._cache import CachedFile, Hit

CONSTANTS_FILE = "cwl.output.json"
"""Entry file holding the outputs that hold no file (a JSON object)."""

FILE = "File"
DIRECTORY = "Directory"

_DERIVED = ("path", "dirname")


def entry_material(
    outputs: Mapping[str, Any], outdir: str, task_dir: Path
) -> tuple[tuple[CachedFile, ...], dict[str, Any]]:
    """A job's output files (named as in the entry layout) and the outputs that hold files, names as locations.

    The outputs that hold no file are written to ``task_dir/cwl.output.json``, itself one of the files.
    """
    namer = _Namer(outdir)
    with_files: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    for name, value in outputs.items():
        if _holds_files(value):
            with_files[name] = namer.rewrite(value)
        else:
            constants[name] = value
    files = list(namer.files.values())
    if constants:
        task_dir.mkdir(parents=True, exist_ok=True)
        path = task_dir / CONSTANTS_FILE
        path.unlink(missing_ok=True)  # may be a hard link into a cache entry (an unusable hit): never write through
        path.write_text(json.dumps(constants, sort_keys=True, default=str))
        files.append(CachedFile(CONSTANTS_FILE, str(path)))
    return tuple(files), with_files


def hit_outputs(hit: Hit, task_dir: Path, declared: Iterable[str]) -> dict[str, Any]:
    """A job's outputs from an entry whose files were copied into ``task_dir``.

    Raises:
        ValueError: the entry lacks a declared output or a file its outputs name.
    """
    stored = hit.entry.task.outputs
    if not isinstance(stored, Mapping):
        raise ValueError("the entry's outputs are not an object")
    outputs = {str(name): _localized(value, task_dir) for name, value in stored.items()}
    constants = hit.files.get(CONSTANTS_FILE)
    if constants is not None:
        body = json.loads(constants.read_text())
        if not isinstance(body, dict):
            raise ValueError(f"{CONSTANTS_FILE} is not an object")
        outputs.update(body)
    for name in declared:
        if name not in outputs:
            raise ValueError(f"the entry has no output {name!r}")
    return outputs


def declared_outputs(tool: Mapping[str, Any]) -> list[str]:
    """The short names of a tool's outputs."""
    return [_short(str(item.get("id", ""))) for item in tool.get("outputs") or []]


def is_object(value: Any) -> bool:
    """Whether ``value`` is a File or Directory object."""
    return isinstance(value, Mapping) and value.get("class") in (FILE, DIRECTORY)


def file_objects(value: Any) -> Iterable[Mapping[str, Any]]:
    """Every File / Directory object in a value, outermost first."""
    if isinstance(value, Mapping):
        if is_object(value):
            yield value
        for item in value.values():
            yield from file_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_objects(item)


def local_path(obj: Mapping[str, Any]) -> str | None:
    """The local path of a File / Directory object; ``None`` for a literal (``contents``, ``_:`` location)."""
    location = obj.get("location") or obj.get("path")
    if not isinstance(location, str) or not location or location.startswith("_:"):
        return None
    if location.startswith("file://"):
        return unquote(urlsplit(location).path)
    if "://" not in location and os.path.isabs(location):
        return location
    return None


# helpers, in the order the public functions use them


def _holds_files(value: Any) -> bool:
    return any(local_path(obj) is not None for obj in file_objects(value))


class _Namer:
    """Names output files as in the entry layout, collecting them as :class:`CachedFile`."""

    def __init__(self, outdir: str) -> None:
        self.bases: dict[str, str] = {os.path.abspath(outdir): "out"}
        self.files: dict[str, CachedFile] = {}

    def rewrite(self, value: Any) -> Any:
        """``value`` with each File / Directory location replaced by its name (derived paths dropped)."""
        if isinstance(value, Mapping):
            out = {str(k): v for k, v in value.items() if k not in _DERIVED}
            local = local_path(value) if is_object(value) else None
            if local is not None:
                out["location"] = self.name(local, value.get("class") == DIRECTORY)
            return {k: v if k == "location" else self.rewrite(v) for k, v in out.items()}
        if isinstance(value, list):
            return [self.rewrite(v) for v in value]
        return value

    def name(self, local: str, is_directory: bool) -> str:
        path = os.path.abspath(local)
        name = self._relative(path)
        if name is None:
            external = sum(1 for base in self.bases.values() if base.startswith("external/"))
            name = f"external/{external}/{os.path.basename(path) or 'root'}"
            self.bases[path] = name
        if not is_directory:
            self.files[name] = CachedFile(name, path)
            return name
        for root, _, found in os.walk(path, followlinks=True):
            for item in sorted(found):
                member = os.path.join(root, item)
                if os.path.isfile(member):
                    relative = PurePosixPath(name, os.path.relpath(member, path)).as_posix()
                    self.files[relative] = CachedFile(relative, member)
        return name

    def _relative(self, path: str) -> str | None:
        for base, prefix in self.bases.items():
            if path == base:
                return prefix
            if path.startswith(base.rstrip(os.sep) + os.sep):
                return PurePosixPath(prefix, os.path.relpath(path, base)).as_posix()
        return None


def _localized(value: Any, task_dir: Path) -> Any:
    """A stored output with each name turned into the ``file://`` location of its copy in ``task_dir``."""
    if isinstance(value, list):
        return [_localized(v, task_dir) for v in value]
    if not isinstance(value, Mapping):
        return value
    out = {str(k): _localized(v, task_dir) for k, v in value.items() if k != "location"}
    name = value.get("location")
    if not is_object(value) or not isinstance(name, str) or name.startswith("_:"):
        if name is not None:
            out["location"] = name
        return out
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts):
        raise ValueError(f"unsafe file name in the entry: {name!r}")
    target = task_dir.joinpath(*parts)
    if value.get("class") == DIRECTORY:
        target.mkdir(parents=True, exist_ok=True)  # an empty directory has no file in the entry
    elif not target.is_file():
        raise ValueError(f"the entry has no file {name!r}")
    out["location"] = target.as_uri()
    return out


def _short(identifier: str) -> str:
    fragment = urlsplit(identifier).fragment
    return (fragment or urlsplit(identifier).path).rsplit("/", 1)[-1]
