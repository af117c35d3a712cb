"""Fixtures for the engine tests: the sample workflows and ZIP builders."""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "workflows"

ZipFiles = Callable[..., bytes]


def build_zip(
    files: Mapping[str, str | bytes],
    *,
    links: Mapping[str, str] | None = None,
    directories: tuple[str, ...] = (),
    modes: Mapping[str, int] | None = None,
) -> bytes:
    """ZIP holding ``files`` (path → content), optional symlink entries, directory entries and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in directories:
            zf.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | (modes or {}).get(name, 0o644)) << 16
            zf.writestr(info, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buffer.getvalue()


def folder_files(folder: Path, *, prefix: str = "") -> dict[str, bytes]:
    """Every file under ``folder`` keyed by its ``/`` path (with ``prefix`` prepended)."""
    return {
        prefix + path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def workflows() -> Path:
    """tests/data/workflows."""
    return WORKFLOWS


@pytest.fixture
def zip_files() -> ZipFiles:
    """Build a ZIP from a mapping of paths to contents (see :func:`build_zip`)."""
    return build_zip


@pytest.fixture
def zip_folder() -> Callable[..., bytes]:
    """ZIP a sample workflow folder: ``zip_folder("wdl/align_multi", prefix="pipeline/")``."""

    def make(folder: str | Path, *, prefix: str = "", extra: Mapping[str, str | bytes] | None = None) -> bytes:
        files: dict[str, str | bytes] = dict(folder_files(WORKFLOWS / folder, prefix=prefix))
        files.update(extra or {})
        return build_zip(files)

    return make
