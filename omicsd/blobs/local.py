"""Buckets as directories: ``s3://bucket/key`` ↔ ``<root>/<bucket>/<key>``, plus ``file://`` paths.

Owns: :class:`LocalObjectStore`, the default object store, and the mapping of URIs to paths (rejecting keys
that cannot live on a file system: ``.``/``..``/empty segments). Writes are atomic; ETags are S3's.
Must not: reach the network, or leave files a listing could mistake for objects (temporary names start
with ``.omicsd-tmp-`` and are skipped).

Differences from S3 that a file system imposes: a key cannot be both an object and a prefix of other
objects (``a`` and ``a/b``); writing one of them while the other exists is a ``ValidationError``.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from omicsd.blobs import _files
from omicsd.blobs.base import ObjectInfo, join_uri, parse_uri
from omicsd.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)


class LocalObjectStore:
    """An :class:`~omicsd.blobs.base.ObjectStore` over local directories."""

    def __init__(self, root: Path) -> None:
        """Serve buckets from ``root`` (created on first write); ``file://`` URIs are absolute paths."""
        self.root = Path(root).resolve()

    def head(self, uri: str) -> ObjectInfo:
        """Metadata of one object."""
        path, owned = self._object_path(uri)
        return self._info(uri, path, owned)

    def exists(self, uri: str) -> bool:
        """Whether the object exists, or for a URI ending in ``/``, whether any object is under it."""
        if uri.endswith("/"):
            return next(self._iter_keys(uri, missing_ok=True), None) is not None
        path, _ = self._object_path(uri, must_exist=False)
        return path.is_file()

    def get_bytes(self, uri: str) -> bytes:
        """The content of one object."""
        path, _ = self._object_path(uri)
        return path.read_bytes()

    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo:
        """Write one object atomically."""
        path, owned = self._object_path(uri, must_exist=False)
        with self._writing(uri), _files.atomic_writer(path, remember_etag=owned) as out:
            out.write(data)
        return self._info(uri, path, owned)

    def download(self, uri: str, dest: Path, link: bool = False) -> Path:
        """Copy an object to the file ``dest``, or every object under a prefix into the directory ``dest``."""
        dest = Path(dest)
        if not uri.endswith("/"):
            path, _ = self._object_path(uri)
            dest.parent.mkdir(parents=True, exist_ok=True)
            _files.place_copy(path, dest, link=link)
            return dest
        keys = self._keys(uri)
        directory, _ = self._object_path(uri, must_exist=False)
        if not keys and not directory.is_dir():
            raise NotFoundError(f"No objects found under {uri}.")
        for _, path in keys:
            target = dest / path.relative_to(directory)
            target.parent.mkdir(parents=True, exist_ok=True)
            _files.place_copy(path, target, link=link)
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def upload(self, src: Path, uri: str, link: bool = False) -> builtins.list[ObjectInfo]:
        """Store a file, or a directory recursively; returns the objects written, sorted by key.

        A file goes to ``uri`` (or ``uri`` + its name when ``uri`` ends in ``/``); a directory's files go
        under the prefix ``uri`` with their relative paths as the rest of the key.

        ``link=True`` hard-links files into a local bucket when possible (only when ``src`` will not change).
        """
        src = Path(src)
        if src.is_file():
            target = join_uri(uri, src.name) if uri.endswith("/") else uri
            return [self._upload_file(src, target, link)]
        if not src.is_dir():
            raise NotFoundError(f"Cannot upload {src}: no such file or directory.")
        infos = [
            self._upload_file(path, join_uri(uri, path.relative_to(src).as_posix()), link)
            for path in sorted(_walk_files(src))
        ]
        return sorted(infos, key=lambda info: info.uri.encode("utf-8", "surrogateescape"))

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """Every object whose URI starts with ``prefix_uri`` (a string prefix, as S3 matches), sorted by key."""
        owned = parse_uri(prefix_uri)[0] == "s3"
        for key_uri, path in self._keys(prefix_uri):
            with contextlib.suppress(FileNotFoundError):
                yield self._info(key_uri, path, owned)

    def delete(self, uri: str) -> None:
        """Delete one object, or every object under a prefix ending in ``/``; missing objects are fine."""
        paths = (
            [path for _, path in self._keys(uri, missing_ok=True)]
            if uri.endswith("/")
            else [self._object_path(uri, must_exist=False)[0]]
        )
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._prune(path.parent)

    def copy(self, src_uri: str, dst_uri: str) -> ObjectInfo:
        """Copy one object; the copy keeps the source's ETag, as S3's CopyObject does."""
        src, src_owned = self._object_path(src_uri)
        dst, dst_owned = self._object_path(dst_uri, must_exist=False)
        etag = _files.etag_of(src, persist=src_owned)
        with self._writing(dst_uri):
            dst.parent.mkdir(parents=True, exist_ok=True)
            _files.place_copy(src, dst, link=False)
        _files.remember_etag(dst, etag, persist=dst_owned)
        return self._info(dst_uri, dst, dst_owned)

    def local_path(self, uri: str) -> Path | None:
        """The file of an existing object, or the directory of an existing prefix; ``None`` otherwise."""
        path, _ = self._object_path(uri, must_exist=False)
        if uri.endswith("/"):
            return path if path.is_dir() else None
        return path if path.is_file() else None

    def _object_path(self, uri: str, *, must_exist: bool = True) -> tuple[Path, bool]:
        """The path of ``uri`` and whether omicsd owns it (a bucket object rather than a user's file)."""
        scheme, bucket, key = parse_uri(uri)
        if scheme == "file":
            path = Path(key)
            owned = False
        else:
            segments = key.rstrip("/").split("/") if key else []
            if any(s in ("", ".", "..") for s in segments):
                raise ValidationError(f"Key of {uri!r} cannot be stored locally: empty, '.' or '..' segment.")
            path = self.root / bucket / key
            owned = True
            if must_exist and not (self.root / bucket).is_dir():
                raise NotFoundError(f"The bucket of {uri} does not exist.")
        if must_exist and not path.is_file():
            raise NotFoundError(f"The object {uri} does not exist.")
        return path, owned

    def _info(self, uri: str, path: Path, owned: bool) -> ObjectInfo:
        try:
            stat = path.stat()
            etag = _files.etag_of(path, persist=owned)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"The object {uri} does not exist.") from None
        return ObjectInfo(uri=uri, size=stat.st_size, etag=etag, last_modified=_modified(stat))

    def _upload_file(self, src: Path, uri: str, link: bool) -> ObjectInfo:
        path, owned = self._object_path(uri, must_exist=False)
        if link and owned:
            with self._writing(uri):
                path.parent.mkdir(parents=True, exist_ok=True)
                _files.place_copy(src, path, link=True)
            stat, etag = _files.stat_and_etag(path, persist=True)  # a link shares the source's xattr and content
            return ObjectInfo(uri=uri, size=stat.st_size, etag=etag, last_modified=_modified(stat))
        with self._writing(uri), open(src, "rb") as source, _files.atomic_writer(path, remember_etag=owned) as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        return self._info(uri, path, owned)

    def _keys(self, prefix_uri: str, *, missing_ok: bool = False) -> builtins.list[tuple[str, Path]]:
        """``(uri, path)`` of every object under a string prefix, sorted by key bytes."""
        found = builtins.list(self._iter_keys(prefix_uri, missing_ok=missing_ok))
        found.sort(key=lambda item: item[0].encode("utf-8", "surrogateescape"))
        return found

    def _iter_keys(self, prefix_uri: str, *, missing_ok: bool = False) -> Iterator[tuple[str, Path]]:
        """``(uri, path)`` of every object under a string prefix, in directory order."""
        scheme, bucket, key = parse_uri(prefix_uri)
        directory_key = key[: key.rfind("/") + 1]
        if scheme == "file":
            base_dir = Path(directory_key or "/")
            base_uri, want = file_uri(directory_key), file_uri(key)
        else:
            bucket_dir = self.root / bucket
            if not bucket_dir.is_dir():
                if missing_ok:
                    return
                raise NotFoundError(f"The bucket of {prefix_uri} does not exist.")
            base_dir = bucket_dir / directory_key
            base_uri, want = f"s3://{bucket}/{directory_key}", f"s3://{bucket}/{key}"
        walk = _walk_prefix(base_dir, base_uri, want, quote=scheme == "file", seen=set())
        yield from ((uri, path) for uri, path in walk if uri.startswith(want))

    @contextlib.contextmanager
    def _writing(self, uri: str) -> Iterator[None]:
        """Turn the file-system clashes of a write into clear errors."""
        try:
            yield
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise ValidationError(
                f"Cannot write {uri}: a local bucket cannot hold both an object and a prefix of the same name."
            ) from exc
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                raise ValidationError(f"Cannot write {uri}: a prefix of that name holds objects.") from exc
            raise

    def _prune(self, directory: Path) -> None:
        """Remove empty directories left by deletes, up to (not including) the bucket directory."""
        try:
            relative = directory.relative_to(self.root)
        except ValueError:
            return
        while len(relative.parts) > 1:
            try:
                (self.root / relative).rmdir()
            except OSError:
                return
            relative = relative.parent


def _walk_prefix(
    directory: Path, base_uri: str, want: str, *, quote: bool, seen: set[tuple[int, int]]
) -> Iterator[tuple[str, Path]]:
    """Objects below ``directory``, skipping subtrees that cannot match the prefix ``want``."""
    try:
        stat = directory.stat()
        if (stat.st_dev, stat.st_ino) in seen:
            return
        seen.add((stat.st_dev, stat.st_ino))
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(_files.TEMP_PREFIX):
            continue
        uri = base_uri + (_quote(entry.name) if quote else entry.name)
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if is_dir:
            if (uri + "/").startswith(want) or want.startswith(uri + "/"):
                yield from _walk_prefix(Path(entry.path), uri + "/", want, quote=quote, seen=seen)
        elif is_file:
            yield uri, Path(entry.path)


def _walk_files(directory: Path) -> Iterator[Path]:
    for current, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(_files.TEMP_PREFIX)]
        for name in files:
            if not name.startswith(_files.TEMP_PREFIX):
                yield Path(current) / name


def file_uri(path: str) -> str:
    """The ``file://`` URI of an absolute path, percent-encoded as :func:`parse_uri` expects."""
    return "file://" + _quote(path, safe="/")


def _quote(name: str, safe: str = "") -> str:
    return quote(name, safe=safe + "!$&'()*+,;=:@-._~")


def _modified(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC)
