"""The object-store contract: what omicsd needs from ``s3://`` (and ``file://``) storage.

Owns: :class:`ObjectInfo`, the :class:`ObjectStore` protocol every backend implements, and
:func:`parse_uri`, the one parser of data addresses.
Must not: perform I/O (backends do) or know about runs, workflows or any other resource.

Semantics shared by every backend (they mirror S3 so both modes behave alike):

- A URI ending in ``/`` names a *prefix* (a directory input or output); anything else names one object.
- ``list(prefix)`` is a plain string-prefix match on keys, sorted by key (UTF-8 byte order), as
  ``ListObjectsV2`` returns them.
- ETags are S3's: the quoted MD5 hex of the content for objects written in one part.
- Reading a missing object or bucket raises :class:`omicsd.errors.NotFoundError` naming the URI;
  deleting a missing object is not an error.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from omicsd.errors import ValidationError

SCHEMES = ("s3", "file")

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object."""

    uri: str
    """Its full URI (``s3://bucket/key`` or ``file:///path``)."""
    size: int
    """Size in bytes."""
    etag: str
    """S3 ETag, quoted (``"d41d8cd98f00b204e9800998ecf8427e"``)."""
    last_modified: datetime
    """Time of the last write, timezone-aware UTC."""


class ObjectStore(Protocol):
    """Reads and writes objects by URI; ``s3://`` and ``file://`` are always accepted."""

    def head(self, uri: str) -> ObjectInfo:
        """Metadata of one object; raises ``NotFoundError`` when it does not exist."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether the object exists (for a prefix: whether any object is under it)."""
        ...

    def get_bytes(self, uri: str) -> bytes:
        """The content of one object."""
        ...

    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo:
        """Write one object atomically (readers see the old or the new content, never a mix)."""
        ...

    def download(self, uri: str, dest: Path, link: bool = False) -> Path:
        """Copy an object to the file ``dest``, or a prefix (``…/``) to the directory tree ``dest``.

        ``link=True`` allows a hard link when source and destination share a file system; only use it when
        nothing will write to ``dest`` (a link shares its content with the stored object).
        """
        ...

    def upload(self, src: Path, uri: str, link: bool = False) -> builtins.list[ObjectInfo]:
        """Store a file as one object, or a directory recursively under the prefix ``uri``.

        ``link=True`` allows a hard link into a local bucket when both share a file system; only use it when
        nothing will write to ``src`` any more (the object shares its content).
        """
        ...

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """Every object whose URI starts with ``prefix_uri``, sorted by key."""
        ...

    def delete(self, uri: str) -> None:
        """Delete one object, or every object under a prefix ending in ``/``."""
        ...

    def copy(self, src_uri: str, dst_uri: str) -> ObjectInfo:
        """Copy one object (server-side where the backend can)."""
        ...

    def local_path(self, uri: str) -> Path | None:
        """Where the object (or prefix directory) lives on this machine, or ``None`` if it is remote/absent."""
        ...


def parse_uri(uri: str) -> tuple[str, str, str]:
    """Split a data address into ``(scheme, bucket, key)``.

    Accepted forms: ``s3://bucket``, ``s3://bucket/key``, ``s3://bucket/prefix/``, ``file:///abs/path``
    (percent-decoded; ``file://localhost/abs/path`` too) and a plain absolute path (treated as ``file``).
    For ``file`` the bucket is ``""`` and the key is the absolute path.

    Raises:
        ValidationError: anything else, with a message naming the URI and the problem.
    """
    if not isinstance(uri, str) or not uri:
        raise ValidationError("An empty string is not a valid S3 or file URI.")
    if "\x00" in uri:
        raise ValidationError(f"URI {uri!r} contains a NUL character.")
    if uri.startswith("/"):
        return "file", "", _clean_path(uri, uri)
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValidationError(f"URI {uri!r} is not valid: expected s3://bucket/key or file:///absolute/path.")
    if scheme.lower() == "file":
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost") or not slash:
            raise ValidationError(f"URI {uri!r} is not valid: file URIs need an absolute path (file:///path).")
        return "file", "", _clean_path("/" + unquote(path), uri)
    bucket, _, key = rest.partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValidationError(
            f"URI {uri!r} is not valid: bucket {bucket!r} must be 3-63 lowercase letters, digits, dots or hyphens."
        )
    if len(key.encode()) > _MAX_KEY_BYTES:
        raise ValidationError(f"URI {uri!r} is not valid: keys are at most {_MAX_KEY_BYTES} bytes.")
    return "s3", bucket, key


def join_uri(prefix_uri: str, relative: str) -> str:
    """``prefix_uri`` with ``relative`` appended after exactly one ``/``."""
    return prefix_uri.rstrip("/") + "/" + relative.lstrip("/")


def _clean_path(path: str, uri: str) -> str:
    if any(part in (".", "..") for part in path.split("/")):
        raise ValidationError(f"URI {uri!r} is not valid: '.' and '..' path segments are not allowed.")
    return path
