"""Fetch a workflow definition archive and README from where a create request says they are.

Sources: ``definitionZip`` (already bytes), ``definitionUri`` (an ``s3://`` ZIP read through blobs) and
``definitionRepository`` (a git repository or folder ``<repositories.root>/<owner>/<repo>``, archived at the
requested branch, tag or commit with ``git archive``; there is no CodeConnections service locally).
"""

from __future__ import annotations

import fnmatch
import io
import json
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omicsd.blobs.base import ObjectStore
from omicsd.errors import DefinitionError, OmicsdError

MAX_README_BYTES = 500 * 1024


@dataclass(frozen=True)
class Fetched:
    """A definition archive plus what a repository source contributes."""

    archive: bytes
    parameter_template: dict[str, Any] | None = None
    readme: str | None = None
    repository_details: dict[str, Any] | None = None


def fetch(source: dict[str, Any], *, blobs: ObjectStore, repositories_root: str, stored_zip: bytes | None) -> Fetched:
    """Resolve a record's ``source`` to the definition archive.

    Raises:
        DefinitionError: the archive cannot be read.
    """
    if "uri" in source:
        try:
            return Fetched(archive=blobs.get_bytes(source["uri"]))
        except OmicsdError as exc:
            raise DefinitionError(f"Cannot read definitionUri {source['uri']}: {exc.message}") from exc
    if "repository" in source:
        return _from_repository(source["repository"], source, repositories_root)
    if stored_zip is None:
        raise DefinitionError("The definition archive is missing")
    return Fetched(archive=stored_zip)


def read_readme_uri(uri: str, blobs: ObjectStore) -> str:
    """README text from ``readmeUri``.

    Raises:
        DefinitionError: unreadable, too large or not UTF-8.
    """
    try:
        data = blobs.get_bytes(uri)
    except OmicsdError as exc:
        raise DefinitionError(f"Cannot read readmeUri {uri}: {exc.message}") from exc
    if len(data) > MAX_README_BYTES:
        raise DefinitionError(f"The README at {uri} is larger than 500 KiB")
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"The README at {uri} is not UTF-8 text") from exc


def _from_repository(repo: dict[str, Any], source: dict[str, Any], root: str) -> Fetched:
    if not root:
        raise DefinitionError(
            "definitionRepository sources need the setting repositories.root "
            "(OMICSD__REPOSITORIES__ROOT): a folder of <owner>/<repo> git repositories"
        )
    full_id = str(repo.get("fullRepositoryId", ""))
    path = (Path(root) / full_id).resolve()
    if not path.is_relative_to(Path(root).resolve()) or not path.is_dir():
        raise DefinitionError(f"Repository {full_id} was not found")
    reference = repo.get("sourceReference") or {}
    files = _repository_files(path, str(reference.get("value") or ""))
    excludes = list(repo.get("excludeFilePatterns") or [])
    files = {name: data for name, data in files.items() if not any(fnmatch.fnmatch(name, p) for p in excludes)}
    template = None
    if source.get("parameterTemplatePath"):
        raw = files.get(source["parameterTemplatePath"])
        if raw is None:
            raise DefinitionError(f"parameterTemplatePath {source['parameterTemplatePath']} is not in the repository")
        try:
            template = json.loads(raw)
        except ValueError as exc:
            raise DefinitionError(f"parameterTemplatePath {source['parameterTemplatePath']} is not JSON") from exc
    readme_name = source.get("readmePath") or ("README.md" if "README.md" in files else None)
    readme = files[readme_name].decode(errors="replace") if readme_name and readme_name in files else None
    if source.get("readmePath") and readme is None:
        raise DefinitionError(f"readmePath {source['readmePath']} is not in the repository")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    details = {
        "connectionArn": repo.get("connectionArn"),
        "fullRepositoryId": full_id,
        "providerType": "Local",
        "providerEndpoint": str(path),
    }
    if reference:
        details["sourceReference"] = reference
    return Fetched(archive=buffer.getvalue(), parameter_template=template, readme=readme, repository_details=details)


def _repository_files(path: Path, ref: str) -> dict[str, bytes]:
    if (path / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "-C", str(path), "archive", "--format=zip", ref or "HEAD"],
                check=True,
                capture_output=True,
                timeout=120,
            ).stdout
        except subprocess.CalledProcessError as exc:
            raise DefinitionError(
                f"Cannot read {ref or 'HEAD'} of the repository: {exc.stderr.decode().strip()}"
            ) from exc
        with zipfile.ZipFile(io.BytesIO(out)) as archive:
            return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    if ref:
        raise DefinitionError("sourceReference needs a git repository; this one is a plain folder")
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }
