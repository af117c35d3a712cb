"""Turn a workflow definition ZIP into an :class:`~omicsd.engines.base.Inspection`.

Owns: safe unpacking of definition archives (:func:`unpack_definition`), the HealthOmics rules that pick the
engine and the main file, and :func:`inspect_definition`, the entry point the workflow services call while
a workflow is CREATING.

Rules (HealthOmics CreateWorkflow):

* The definition must be a ZIP ("Invalid zip file" otherwise). Directory entries and desktop junk
  (``__MACOSX/``, ``.DS_Store``, ``._*``) are ignored. When every file sits under one top-level folder (the
  ZIP of a folder), that folder is the root.
* Engine, when not given: from ``main`` when it is given and recognisable, else from the top-level files:
  ``.wdl`` → WDL, ``.nf`` or ``nextflow.config`` → NEXTFLOW, ``.cwl`` (or ``.yml``/``.yaml``/``.json`` with a
  top-level ``cwlVersion``) → CWL. Several engines at the top level → ``engine`` must be given. WDL_LENIENT is
  never detected, and is read like WDL.
* Main, when not given: the only definition file of the engine at the top level, or the one named
  ``main.<ext>``.

Must not: parse a language itself (each engine adapter does, found through :mod:`omicsd.engines.registry`),
touch the store, or reach the network.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import posixpath
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from omicsd.engines.base import Inspection, ParameterTemplate
from omicsd.engines.registry import get_engine
from omicsd.errors import DefinitionError, OmicsdError

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_UNPACKED_BYTES",
    "detect_engine",
    "inspect_definition",
    "select_main",
    "unpack_definition",
]

logger = logging.getLogger(__name__)

MAX_ARCHIVE_BYTES = 100 * 1024 * 1024
"""Largest definition archive accepted (HealthOmics: 100 MB through the API)."""
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
"""Largest total size of the files in an archive once unpacked (1 GiB)."""
MAX_ENTRIES = 100_000
"""Most entries an archive may hold."""
MAX_DESCRIPTION = 256
"""Longest parameter description a template may carry (the model's limit)."""

_FAMILY = {"WDL": "WDL", "WDL_LENIENT": "WDL", "CWL": "CWL", "NEXTFLOW": "NEXTFLOW"}
_EXTENSIONS = {"WDL": ".wdl", "CWL": ".cwl", "NEXTFLOW": ".nf"}
_CWL_DATA_SUFFIXES = (".yml", ".yaml", ".json")
_CWL_YAML_VERSION = re.compile(r"^[\"']?cwlVersion[\"']?\s*:", re.MULTILINE)
_CWL_SNIFF_BYTES = 32 * 1024 * 1024
_JUNK_NAMES = {".DS_Store", "Thumbs.db"}


def inspect_definition(archive: bytes, *, engine: str | None = None, main: str | None = None) -> Inspection:
    """Unpack a definition ZIP, pick its engine and main file, parse it and infer its parameter template.

    Args:
        archive: The ZIP bytes (``definitionZip``, or the object ``definitionUri`` names).
        engine: ``WDL``, ``WDL_LENIENT``, ``CWL``, ``NEXTFLOW`` or a plugin engine; detected when ``None``.
        main: Path of the main file inside the archive; chosen by the rules above when ``None``.

    Returns:
        The inspection; ``main`` is relative to the archive root (without a wrapping folder).

    Raises:
        DefinitionError: The archive is unsafe or not a ZIP, the engine or main file cannot be determined,
            or the definition does not parse (the message is the parser's, with positions).
    """
    with tempfile.TemporaryDirectory(prefix="omicsd-definition-") as tmp:
        root = Path(tmp)
        files = unpack_definition(archive, root)
        name = detect_engine(root, files, engine=engine, main=main)
        main_path = select_main(root, files, engine=name, main=main)
        try:
            adapter = get_engine(name)
        except OmicsdError as exn:
            raise DefinitionError(exn.message) from exn
        result = adapter.inspect(root, main_path)
    result = dataclasses.replace(
        result,
        engine=name,
        main=main_path,
        parameter_template=_clip(result.parameter_template),
        profile_parameter_templates={
            profile: _clip(template) for profile, template in result.profile_parameter_templates.items()
        },
    )
    logger.info(
        "definition.inspected engine=%s main=%s parameters=%d warnings=%d",
        name,
        main_path,
        len(result.parameter_template),
        len(result.warnings),
    )
    return result


def unpack_definition(archive: bytes, dest: Path) -> list[str]:
    """Safely extract a definition ZIP into ``dest``.

    Absolute paths, ``..`` components, symbolic links and encrypted entries are refused; directory entries
    and desktop junk are skipped; a single folder wrapping every file is removed, so ``dest`` becomes the
    definition root. Executable bits are kept.

    Args:
        archive: The ZIP bytes (at most :data:`MAX_ARCHIVE_BYTES`).
        dest: An existing, preferably empty, directory.

    Returns:
        The extracted files as sorted ``/``-separated paths relative to ``dest``.

    Raises:
        DefinitionError: Not a ZIP ("Invalid zip file"), too large, unsafe, or empty.
    """
    return _unpack(archive, dest)


def detect_engine(root: Path, files: list[str], *, engine: str | None = None, main: str | None = None) -> str:
    """Decide which engine reads an unpacked definition.

    Args:
        root: The unpacked definition root.
        files: Files under ``root`` (as :func:`unpack_definition` returns them).
        engine: The engine the caller asked for, if any; returned (upper-cased) when given.
        main: The main file the caller named, if any; its kind decides when ``engine`` is not given.

    Returns:
        The engine name.

    Raises:
        DefinitionError: No definition file, or files of several engines and no ``engine``.
    """
    if engine:
        return engine.strip().upper()
    if main is not None:
        kind = _kind(root, _locate_main(files, main))
        if kind is not None:
            return kind
    found: dict[str, list[str]] = {}
    for name in files:
        kind = _kind(root, name) if "/" not in name else None
        if kind is not None:
            found.setdefault(kind, []).append(name)
    if len(found) > 1:
        listing = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(found.items()))
        raise DefinitionError(
            f"The archive holds definition files for more than one engine ({listing}); specify engine"
        )
    if not found:
        raise DefinitionError(
            "No workflow definition file (.wdl, .cwl or .nf) found at the top level of the archive; "
            f"top-level files: {_listing(name for name in files if '/' not in name)}"
        )
    return next(iter(found))


def select_main(root: Path, files: list[str], *, engine: str, main: str | None = None) -> str:
    """Pick the main definition file for ``engine``.

    Args:
        root: The unpacked definition root.
        files: Files under ``root``.
        engine: The engine that will read the definition.
        main: The main file the caller named, if any (a leading wrapping folder is tolerated).

    Returns:
        The main file's path relative to ``root``.

    Raises:
        DefinitionError: ``main`` is not in the archive or is another engine's file; or, without ``main``,
            there is no single candidate at the top level.
    """
    family = _FAMILY.get(engine)
    if main is not None:
        path = _locate_main(files, main)
        kind = _kind(root, path)
        if family is not None and kind is not None and kind != family:
            raise DefinitionError(f"The main file {main!r} is a {kind} definition, not {engine}")
        return path
    if family is None:
        raise DefinitionError(f"Engine {engine} cannot choose a main file by itself; specify main")
    candidates = [name for name in files if "/" not in name and _is_definition(root, name, family)]
    if len(candidates) == 1:
        return candidates[0]
    named_main = [name for name in candidates if posixpath.splitext(name)[0] == "main"]
    if len(named_main) == 1:
        return named_main[0]
    ext = _EXTENSIONS[family]
    if not candidates:
        raise DefinitionError(
            f"No {family} definition file ({ext}) at the top level of the archive; specify main "
            "(the path of the main definition file inside the archive)"
        )
    raise DefinitionError(
        f"Cannot choose the main {family} file among {_listing(candidates)}; specify main, "
        f"or name the main file main{ext}"
    )


# -- unpacking ---------------------------------------------------------------------------------------------


def _unpack(archive: bytes, dest: Path) -> list[str]:
    if len(archive) > MAX_ARCHIVE_BYTES:
        raise DefinitionError(
            f"The definition archive is {len(archive)} bytes; the limit is {MAX_ARCHIVE_BYTES} bytes (100 MB)"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(archive))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exn:
        raise DefinitionError("Invalid zip file") from exn
    with zf:
        plan = _plan(zf.infolist())
        root = dest.resolve()
        written = 0
        for info, rel in plan:
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                raise DefinitionError(f"Unsafe path in zip file: {info.filename!r}")
            written = _extract(zf, info, target, written)
    return sorted(rel for _, rel in plan)


def _plan(infos: list[zipfile.ZipInfo]) -> list[tuple[zipfile.ZipInfo, str]]:
    if len(infos) > MAX_ENTRIES:
        raise DefinitionError(f"The zip file has {len(infos)} entries; the limit is {MAX_ENTRIES}")
    entries: list[tuple[zipfile.ZipInfo, list[str]]] = []
    total = 0
    for info in infos:
        parts = _safe_parts(info)
        if info.is_dir() or not parts or _is_junk(parts):
            continue
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise DefinitionError(f"The zip file unpacks to more than {MAX_UNPACKED_BYTES} bytes (1 GiB), the limit")
        entries.append((info, parts))
    if not entries:
        raise DefinitionError("The zip file contains no files")
    tops = {parts[0] for _, parts in entries}
    if len(tops) == 1 and all(len(parts) > 1 for _, parts in entries):
        entries = [(info, parts[1:]) for info, parts in entries]
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    folders: set[str] = set()
    for info, parts in entries:
        rel = "/".join(parts)
        if rel in seen:
            raise DefinitionError(f"Duplicate entry in zip file: {rel!r}")
        seen.add(rel)
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        plan.append((info, rel))
    clash = sorted(seen & folders)
    if clash:
        raise DefinitionError(f"Zip entry {clash[0]!r} is both a file and a folder")
    return plan


def _safe_parts(info: zipfile.ZipInfo) -> list[str]:
    name = info.filename.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise DefinitionError(f"Unsafe path in zip file (absolute): {info.filename!r}")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise DefinitionError(f"Unsafe path in zip file (parent reference): {info.filename!r}")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DefinitionError(f"Symbolic links are not allowed in zip file: {info.filename!r}")
    if info.flag_bits & 0x1:
        raise DefinitionError(f"Encrypted entries are not supported: {info.filename!r}")
    return parts


def _is_junk(parts: list[str]) -> bool:
    return "__MACOSX" in parts or parts[-1] in _JUNK_NAMES or parts[-1].startswith("._")


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int) -> int:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("wb") as out:
            while chunk := src.read(1024 * 1024):
                written += len(chunk)
                if written > MAX_UNPACKED_BYTES:
                    raise DefinitionError(
                        f"The zip file unpacks to more than {MAX_UNPACKED_BYTES} bytes (1 GiB), the limit"
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exn:
        raise DefinitionError(f"Invalid zip file: cannot read {info.filename!r}: {exn}") from exn
    except OSError as exn:
        raise DefinitionError(f"Cannot unpack {info.filename!r}: {exn.strerror or exn}") from exn
    mode = (info.external_attr >> 16) & 0o777
    if info.create_system == 3 and mode & 0o111:
        target.chmod(0o755)
    return written


# -- detection ---------------------------------------------------------------------------------------------


def _locate_main(files: list[str], main: str) -> str:
    path = posixpath.normpath(main.replace("\\", "/").strip()).lstrip("/")
    if path in files:
        return path
    head, _, rest = path.partition("/")
    if rest in files and head and not any(name.startswith(head + "/") for name in files):
        return rest  # the caller named the folder that wrapped the archive
    raise DefinitionError(
        f"The main file {main!r} is not in the archive; "
        f"top-level files: {_listing(name for name in files if '/' not in name)}"
    )


def _kind(root: Path, name: str) -> str | None:
    base = posixpath.basename(name)
    ext = posixpath.splitext(base)[1].lower()
    if ext == ".wdl":
        return "WDL"
    if ext == ".nf" or base == "nextflow.config":
        return "NEXTFLOW"
    if ext == ".cwl" or (ext in _CWL_DATA_SUFFIXES and _declares_cwl(root / name)):
        return "CWL"
    return None


def _is_definition(root: Path, name: str, family: str) -> bool:
    if posixpath.basename(name) == "nextflow.config":
        return False
    return _kind(root, name) == family


def _declares_cwl(path: Path) -> bool:
    try:
        if path.stat().st_size > _CWL_SNIFF_BYTES:
            return False
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError:
            return False
        return isinstance(doc, dict) and "cwlVersion" in doc
    return _CWL_YAML_VERSION.search(text) is not None


# -- results -----------------------------------------------------------------------------------------------


def _clip(template: ParameterTemplate) -> ParameterTemplate:
    clipped: ParameterTemplate = {}
    for name, entry in template.items():
        description = entry.get("description")
        if isinstance(description, str) and len(description) > MAX_DESCRIPTION:
            entry = {**entry, "description": description[: MAX_DESCRIPTION - 1] + "…"}
        clipped[name] = entry
    return clipped


def _listing(names: Iterable[str]) -> str:
    items = sorted(names)
    if not items:
        return "(none)"
    shown = ", ".join(items[:20])
    return shown + (f" and {len(items) - 20} more" if len(items) > 20 else "")
