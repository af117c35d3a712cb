"""A Nextflow run's data in and out: run parameters to ``params.json``, published files to the output bucket.

Owns: :class:`ParamsMapper` (``s3://`` strings in the run parameters → local paths, with the inputs'
digests for ``resourceDigests``), :func:`write_params` and :func:`export_published`.

Must not: know the pipeline: which parameter is a file is Nextflow's business (it turns strings into
paths lazily), so every ``s3://`` string is mapped, wherever it sits in the parameters.

Mapping an ``s3://bucket/key`` string:

* local buckets (no S3 endpoint): the bucket directory's path ``<buckets_root>/bucket/key``, as text (a
  trailing ``/`` and glob characters are kept, so ``s3://b/reads/*_{1,2}.fq.gz`` still globs). Nothing is
  copied; an object that does not exist fails in the task that opens it, as a lazy path does in Nextflow.
* an S3 endpoint: the object is downloaded under ``<run_dir>/inputs``; a key with no object behind it is
  taken as a prefix and downloaded as a directory; a glob downloads its fixed leading prefix and keeps the
  pattern below it.

``file://`` strings and plain paths are left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from omicsd.blobs.base import ObjectStore, parse_uri
from omicsd.engines._staging import InputStager, StagingFailed
from omicsd.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)

GLOB_CHARACTERS: Final = frozenset("*?[{")
OUTPUTS_FILE: Final = "logs/outputs.json"


class ParamsMapper:
    """Maps the ``s3://`` strings of one run's parameters to local paths."""

    def __init__(self, store: ObjectStore, inputs_dir: Path, *, local_buckets: Path | None) -> None:
        """Create a mapper.

        Args:
            store: the object store that resolves the URIs (for digests and remote downloads).
            inputs_dir: where remote inputs are downloaded.
            local_buckets: the local bucket root when buckets are directories; ``None`` for an S3 endpoint.
        """
        self.store = store
        self.local_buckets = local_buckets
        self.stager = InputStager(store, inputs_dir)
        self.resource_digests: dict[str, str] = {}
        """Input URI → ``etag:<ETag>`` of every mapped URI that names an existing object or prefix."""

    def map(self, value: Any) -> Any:
        """``value`` with every ``s3://`` string replaced by its local path (lists and objects too).

        Raises:
            StagingFailed: INVALID_URI_INPUT (malformed URI), or a download failure (S3 endpoint only).
        """
        if isinstance(value, str):
            return self._map_uri(value) if value.startswith("s3://") else value
        if isinstance(value, list):
            return [self.map(item) for item in value]
        if isinstance(value, dict):
            return {key: self.map(item) for key, item in value.items()}
        return value

    def _map_uri(self, uri: str) -> str:
        try:
            _, bucket, key = parse_uri(uri)
        except ValidationError as exn:
            raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {exn.message}") from None
        if any(part in (".", "..") for part in key.split("/")):
            raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI (a '.' or '..' segment): {uri}")
        glob_at = next((i for i, part in enumerate(key.split("/")) if set(part) & GLOB_CHARACTERS), None)
        if self.local_buckets is not None:
            if glob_at is None:
                self._note_digest(uri)
            return str(self.local_buckets / bucket / key) + ("/" if key.endswith("/") or not key else "")
        if glob_at is not None:
            parts = key.split("/")
            fixed = "/".join(parts[:glob_at])
            local = self.stager.stage(f"s3://{bucket}/{fixed}/" if fixed else f"s3://{bucket}/", directory=True)
            self.resource_digests.update(self.stager.resource_digests)
            return f"{local}/{'/'.join(parts[glob_at:])}"
        local = self._stage_remote(uri)
        self.resource_digests.update(self.stager.resource_digests)
        return local + ("/" if uri.endswith("/") else "")

    def _stage_remote(self, uri: str) -> str:
        if uri.endswith("/"):
            return self.stager.stage(uri, directory=True)
        try:
            return self.stager.stage(uri)
        except StagingFailed as exn:
            if exn.failure_reason != "INPUT_URI_NOT_FOUND":
                raise
        return self.stager.stage(uri + "/", directory=True)

    def _note_digest(self, uri: str) -> None:
        try:
            if not uri.endswith("/") and self.store.exists(uri):
                etag = self.store.head(uri).etag
            else:
                prefix = uri if uri.endswith("/") else uri + "/"
                etags = sorted((info.uri, info.etag) for info in self.store.list(prefix))
                if not etags:
                    return
                etag = _combined_etag([tag for _, tag in etags])
        except (NotFoundError, ValidationError, OSError):
            return
        self.resource_digests[uri] = f"etag:{etag.strip(chr(34))}"


def write_params(path: Path, params: Mapping[str, Any]) -> None:
    """Write the parameters as the JSON file ``-params-file`` reads."""
    path.write_text(json.dumps(dict(params), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def export_published(
    store: ObjectStore, run_output_uri: str, folders: Mapping[str, Path]
) -> tuple[dict[str, Any], str]:
    """Upload each folder to ``<run_output_uri>/<name>/`` and write ``logs/outputs.json``.

    Args:
        store: the object store.
        run_output_uri: ``s3://bucket/prefix/<runId>``.
        folders: name → local folder (``pubdir`` → ``<run_dir>/pubdir``, ``output`` → ``<run_dir>/output``);
            a folder is listed in outputs.json when it is ``pubdir`` or holds files.

    Returns:
        outputs.json's body (name → the exported objects' URIs, sorted) and its URI.

    Raises:
        StagingFailed: EXPORT_FAILED.
    """
    base = run_output_uri.rstrip("/")
    summary: dict[str, Any] = {}
    try:
        for name, folder in folders.items():
            has_files = folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))
            if has_files:
                summary[name] = [info.uri for info in store.upload(folder, f"{base}/{name}/")]
            elif name == "pubdir":
                summary[name] = []
        outputs_uri = f"{base}/{OUTPUTS_FILE}"
        store.put_bytes(outputs_uri, json.dumps(summary, indent=2, sort_keys=True).encode())
    except Exception as exn:
        raise StagingFailed("EXPORT_FAILED", f"Could not export outputs to {base}: {exn}") from exn
    return summary, outputs_uri


def _combined_etag(etags: list[str]) -> str:
    """One digest for a prefix: MD5 over its objects' ETags, with a ``-<count>`` suffix (as the stager does)."""
    md5 = hashlib.md5(usedforsecurity=False)
    for etag in etags:
        md5.update(etag.strip('"').encode())
    return f"{md5.hexdigest()}-{len(etags)}"
