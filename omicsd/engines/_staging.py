"""Moving a run's data in and out: input URIs to local files before the run, outputs to the bucket after.

Owns: :class:`InputStager` (resolve ``s3://`` / ``file://`` input URIs to local paths, recording each
input's digest for ``resourceDigests``), :func:`export_outputs` (the ``out/`` layout and
``logs/outputs.json`` under the run output URI) and :class:`StagingFailed` (carrying the HealthOmics
``failureReason``: INVALID_URI_INPUT, INPUT_URI_NOT_FOUND, IMPORT_FAILED, EXPORT_FAILED).

Must not: know a workflow language. Engines decide which parameter values are File/Directory inputs and
hand those URIs to :meth:`InputStager.stage`; they hand their outputs over as JSON-like values whose file
leaves are :class:`LocalFile` / :class:`LocalDirectory`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omicsd.blobs.base import ObjectStore, parse_uri
from omicsd.errors import NotFoundError, OmicsdError, ValidationError

logger = logging.getLogger(__name__)


class StagingFailed(OmicsdError):
    """The run's data could not be moved."""

    def __init__(self, failure_reason: str, message: str) -> None:
        super().__init__(message)
        self.failure_reason = failure_reason


@dataclass(frozen=True)
class LocalFile:
    """An output value that is a file on this host."""

    path: str


@dataclass(frozen=True)
class LocalDirectory:
    """An output value that is a directory on this host."""

    path: str


def check_input_uri(uri: str, *, directory: bool) -> str:
    """Validate an input URI and return it normalized (directories end with ``/``).

    Raises:
        StagingFailed: INVALID_URI_INPUT for anything but a well-formed ``s3://bucket/key`` or
            ``file:///path``, or a ``/``-terminated URI given for a file.
    """
    if not uri.startswith(("s3://", "file://")):
        raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI (expected s3://bucket/key): {uri}")
    try:
        _, _, key = parse_uri(uri)
    except ValidationError as exn:
        raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {exn.message}") from None
    if not key.strip("/") or "//" in key.rstrip("/"):
        raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {uri}")
    if directory:
        return uri if uri.endswith("/") else uri + "/"
    if uri.endswith("/"):
        raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {uri} names a prefix but the input is a file")
    return uri


class InputStager:
    """Stages input URIs under one directory, each URI once, and records their digests."""

    def __init__(self, store: ObjectStore, dest_root: Path, *, link: bool = True) -> None:
        """Create a stager.

        Args:
            store: the object store that resolves the URIs.
            dest_root: directory under which inputs are placed (``<dest_root>/<n>/<basename>``).
            link: let the store link instead of copy where it can (local buckets).
        """
        self.store = store
        self.dest_root = dest_root
        self.link = link
        self.resource_digests: dict[str, str] = {}
        """Input URI → ``etag:<ETag>`` of every URI staged so far."""
        self._staged: dict[str, str] = {}

    def stage(self, uri: str, *, directory: bool = False) -> str:
        """Make ``uri`` a local path and return it (a directory path ends without ``/``).

        Raises:
            StagingFailed: INVALID_URI_INPUT (malformed), INPUT_URI_NOT_FOUND (no such object or an
                empty prefix) or IMPORT_FAILED (anything else).
        """
        uri = check_input_uri(uri, directory=directory)
        if uri in self._staged:
            return self._staged[uri]
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        dest = self.dest_root / str(len(self._staged)) / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if directory:
                etags = sorted((str(info.uri), str(info.etag)) for info in self.store.list(uri))
                if not etags:
                    raise StagingFailed("INPUT_URI_NOT_FOUND", f"Input URI not found: {uri}")
                digest = _combined_etag([etag for _, etag in etags])
            else:
                digest = str(self.store.head(uri).etag)
            self.store.download(uri, dest, link=self.link)
        except StagingFailed:
            raise
        except (NotFoundError, FileNotFoundError) as exn:
            raise StagingFailed("INPUT_URI_NOT_FOUND", f"Input URI not found: {uri}") from exn
        except ValidationError as exn:
            raise StagingFailed("INVALID_URI_INPUT", f"Invalid input URI: {uri}: {exn}") from exn
        except Exception as exn:
            raise StagingFailed("IMPORT_FAILED", f"Could not import input {uri}: {exn}") from exn
        self.resource_digests[uri] = f"etag:{digest.strip(chr(34))}"
        self._staged[uri] = str(dest)
        logger.info("input.staged uri=%s path=%s", uri, dest)
        return str(dest)


def export_outputs(
    store: ObjectStore, run_output_uri: str, namespace: str, outputs: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """Upload the run's outputs and write ``logs/outputs.json``.

    Layout under ``run_output_uri``: ``out/<name>/<basename>`` for a file; ``out/<name>/<i>/...`` for
    array items (nested arrays nest further); ``out/<name>/<key>/...`` for map, pair and struct members;
    a directory is uploaded recursively to ``out/<name>/<basename>/``.

    Args:
        store: the object store.
        run_output_uri: ``s3://bucket/prefix/<runId>``.
        namespace: prefix of the keys in outputs.json (the workflow's name).
        outputs: output name → value, with :class:`LocalFile` / :class:`LocalDirectory` leaves.

    Returns:
        outputs.json's body (``<namespace>.<name>`` → URI(s) or plain values) and its URI.

    Raises:
        StagingFailed: EXPORT_FAILED.
    """
    base = run_output_uri.rstrip("/")
    summary: dict[str, Any] = {}
    try:
        for name, value in outputs.items():
            summary[f"{namespace}.{name}" if namespace else name] = _export(store, value, f"{base}/out/{name}")
        outputs_uri = f"{base}/logs/outputs.json"
        store.put_bytes(outputs_uri, json.dumps(summary, indent=2, sort_keys=True).encode())
    except Exception as exn:
        raise StagingFailed("EXPORT_FAILED", f"Could not export outputs to {base}: {exn}") from exn
    return summary, outputs_uri


def _export(store: ObjectStore, value: Any, prefix: str) -> Any:
    if isinstance(value, LocalFile):
        uri = f"{prefix}/{os.path.basename(value.path)}"
        store.upload(Path(value.path), uri, link=True)  # the run is over: nothing writes its files any more
        return uri
    if isinstance(value, LocalDirectory):
        uri = f"{prefix}/{os.path.basename(value.path.rstrip('/'))}/"
        store.upload(Path(value.path), uri, link=True)
        return uri
    if isinstance(value, list | tuple):
        return [_export(store, item, f"{prefix}/{i}") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _export(store, v, f"{prefix}/{k}") for k, v in value.items()}
    return value


def _combined_etag(etags: list[str]) -> str:
    """One digest for a prefix: MD5 over its objects' ETags with a ``-<count>`` suffix (S3 multipart style)."""
    md5 = hashlib.md5(usedforsecurity=False)
    for etag in etags:
        md5.update(etag.strip('"').encode())
    return f"{md5.hexdigest()}-{len(etags)}"
