"""Object storage behind ``s3://`` and ``file://`` URIs: local bucket directories or an S3 endpoint.

Owns: :func:`open_store`, the factory the composition root calls, and the package's re-exports.
Must not: import boto3 unless an S3 endpoint is configured.
"""

from __future__ import annotations

from pathlib import Path

from omicsd.blobs.base import ObjectInfo, ObjectStore, parse_uri
from omicsd.blobs.local import LocalObjectStore

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "open_store", "parse_uri"]


def open_store(*, root: Path, s3_endpoint_url: str = "") -> ObjectStore:
    """The object store the settings select.

    Args:
        root: Directory of the local buckets (``<data_dir>/buckets``); ``s3://bucket/key`` is
            ``<root>/bucket/key`` when no endpoint is set.
        s3_endpoint_url: An S3-compatible endpoint; when set, ``s3://`` goes there (standard AWS credential
            chain) and ``file://`` stays local.
    """
    if s3_endpoint_url:
        from omicsd.blobs.s3 import S3ObjectStore

        return S3ObjectStore(s3_endpoint_url)
    return LocalObjectStore(root)
