"""Deterministic workflow packaging for ``omicsd submit``: a local file or folder → definition ZIP + digest.

Owns: :func:`package` (the ZIP bytes a ``CreateWorkflow`` call uploads) and :func:`digest_of` (the workflow
``digest`` HealthOmics reports for those bytes: ``sha256:`` + hex SHA-256 of the archive).
Must not: talk to the server or read omicsd settings; the same folder must always give the same bytes, so the
archive carries sorted entries, one fixed timestamp and fixed permissions, never anything from the file system
besides names and contents.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from omicsd.errors import ValidationError

logger = logging.getLogger(__name__)

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
"""The timestamp of every entry (the earliest a ZIP can hold)."""
FILE_MODE = 0o100644
"""Unix mode of every entry: a regular file, rw-r--r--."""
_JUNK_NAMES = frozenset({"__pycache__", "Thumbs.db", "desktop.ini"})
_JUNK_SUFFIXES = (".pyc", ".pyo", "~", ".swp", ".swo")


@dataclass(frozen=True)
class Package:
    """A definition archive ready for ``CreateWorkflow(definitionZip=...)``."""

    data: bytes
    """The ZIP bytes."""
    digest: str
    """``sha256:<hex>`` of :attr:`data`, as the server reports it for a workflow made from these bytes."""
    name: str
    """Default workflow/run name: the file's stem or the folder's name."""
    files: tuple[str, ...]
    """Entry names inside the archive, sorted."""


def digest_of(data: bytes) -> str:
    """The ``digest`` of a workflow whose definition archive is ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def package(path: Path) -> Package:
    """Package a workflow file or folder.

    A single file becomes a ZIP holding that one file at the top level (a ``.zip`` file is uploaded as it
    is); a folder becomes a ZIP of its contents with paths relative to it, skipping hidden files and folders
    (``.git``, ``.DS_Store``…), ``__pycache__`` and editor leftovers.

    Args:
        path: The workflow file or folder.

    Returns:
        The archive, its digest, a default name and the entry names.

    Raises:
        ValidationError: the path does not exist, or the folder holds no files.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ValidationError(f"{path}: no such file or folder")
    resolved = path.resolve()
    if resolved.is_file() and resolved.suffix.lower() == ".zip":
        data = resolved.read_bytes()
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                names = tuple(sorted(i.filename for i in archive.infolist() if not i.is_dir()))
        except zipfile.BadZipFile as exc:
            raise ValidationError(f"{path}: not a valid ZIP file") from exc
        return Package(data=data, digest=digest_of(data), name=_name(resolved.stem), files=names)
    if resolved.is_file():
        entries = {resolved.name: resolved}
        name = resolved.stem
    else:
        entries = _folder_entries(resolved)
        name = resolved.name
        if not entries:
            raise ValidationError(f"{path}: the folder holds no workflow files")
    data = _zip(entries)
    logger.debug("packaged %s: %d file(s), %d bytes", path, len(entries), len(data))
    return Package(data=data, digest=digest_of(data), name=_name(name), files=tuple(sorted(entries)))


def _folder_entries(root: Path) -> dict[str, Path]:
    entries: dict[str, Path] = {}
    for item in sorted(root.rglob("*")):
        relative = item.relative_to(root)
        if any(_is_junk(part) for part in relative.parts) or not item.is_file():
            continue
        entries[relative.as_posix()] = item
    return entries


def _is_junk(part: str) -> bool:
    return part.startswith(".") or part in _JUNK_NAMES or part.endswith(_JUNK_SUFFIXES)


def _zip(entries: dict[str, Path]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, entries[name].read_bytes(), compresslevel=6)
    return buffer.getvalue()


def _name(text: str) -> str:
    cleaned = text.strip() or "workflow"
    return cleaned[:128]
