"""File helpers of the local object store: atomic writes, cheap copies and cached ETags.

Owns: writing a file through a temporary sibling and ``os.replace``, copying by reflink/hard link/copy,
and computing S3 single-part ETags (quoted MD5) with a cache keyed by (path, inode, size, mtime) in memory
and, for files omicsd owns, in a ``user.omicsd.etag`` extended attribute so other processes reuse it.
Must not: know about URIs or buckets (the store maps those to paths).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

TEMP_PREFIX = ".omicsd-tmp-"
"""Name prefix of in-flight writes; listings skip these files."""

_XATTR = "user.omicsd.etag"
_FICLONE = 0x40049409
_CHUNK = 1 << 20
_CACHE_SIZE = 4096

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()


class HashingWriter:
    """A binary file being written that also computes the MD5 of what passes through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> None:
        """Write and hash ``data``."""
        self.handle.write(data)
        self.md5.update(data)


@contextlib.contextmanager
def atomic_writer(path: Path, *, remember_etag: bool = True) -> Iterator[HashingWriter]:
    """Write ``path`` through a temporary file in the same directory, replacing it on success.

    The MD5 of what was written becomes the cached ETag of the new file.
    """
    fd, tmp = _mkstemp(path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            writer = HashingWriter(handle)
            yield writer
            handle.flush()
            stat = os.fstat(handle.fileno())
            etag = f'"{writer.md5.hexdigest()}"'
            if remember_etag:
                _set_xattr(handle.fileno(), stat, etag)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _remember(path, os.stat(path), etag)


def place_copy(src: Path, dest: Path, *, link: bool) -> None:
    """Make ``dest`` a copy of ``src``: a hard link when allowed, else a reflink, else a byte copy."""
    if link and _link_into_place(src, dest):
        return
    fd, tmp = _mkstemp(dest.parent)
    os.fchmod(fd, 0o644)
    os.close(fd)
    _into_place(tmp, dest, lambda: _clone_or_copy(src, Path(tmp)))


def _into_place(tmp: str | Path, dest: Path, fill: Callable[[], None] = lambda: None) -> None:
    """Run ``fill`` (which completes ``tmp``), then rename ``tmp`` over ``dest``; ``tmp`` is removed on failure."""
    try:
        fill()
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _link_into_place(src: Path, dest: Path) -> bool:
    """Hard-link ``src`` to ``dest`` through a temporary name (replacing ``dest``); ``False`` when links cannot work.

    The temporary name is linked directly (no placeholder file is made and removed first, which would cost an
    inode allocation and free for every object).
    """
    directory = dest.parent
    for _ in range(100):
        tmp = directory / f"{TEMP_PREFIX}{os.urandom(6).hex()}"
        try:
            os.link(src, tmp)
        except FileExistsError:
            continue
        except FileNotFoundError:
            if not os.path.exists(src):
                raise
            directory.mkdir(parents=True, exist_ok=True)  # pruned by a delete meanwhile
            continue
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                return False
            raise
        _into_place(tmp, dest)
        return True
    raise FileExistsError(f"no free temporary name in {directory}")


def etag_of(path: Path, *, persist: bool) -> str:
    """The S3 ETag of a file: cached in memory, then in its xattr, else computed (and cached)."""
    return stat_and_etag(path, persist=persist)[1]


def stat_and_etag(path: Path, *, persist: bool) -> tuple[os.stat_result, str]:
    """:func:`etag_of`, with the ``stat`` it was taken for."""
    stat = os.stat(path)
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return stat, _cache[key]
    etag = _read_xattr(path, stat)
    if etag is None:
        md5 = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                md5.update(chunk)
            etag = f'"{md5.hexdigest()}"'
            if persist:
                _set_xattr(handle.fileno(), stat, etag)
    _remember(path, stat, etag)
    return stat, etag


def remember_etag(path: Path, etag: str, *, persist: bool) -> None:
    """Record a known ETag for ``path`` as it is now (after a copy whose source ETag is known)."""
    stat = os.stat(path)
    if persist:
        with contextlib.suppress(OSError), open(path, "rb") as handle:
            _set_xattr(handle.fileno(), stat, etag)
    _remember(path, stat, etag)


def _mkstemp(directory: Path) -> tuple[int, str]:
    """A temporary file in ``directory``, creating the directory (again, if a delete pruned it meanwhile)."""
    for attempt in range(5):
        directory.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
        except FileNotFoundError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _clone_or_copy(src: Path, dest: Path) -> None:
    with open(src, "rb") as source, open(dest, "wb") as target:
        try:
            fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(src, dest)


def _remember(path: Path, stat: os.stat_result, etag: str) -> None:
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _lock:
        _cache[key] = etag
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def _set_xattr(fd: int, stat: os.stat_result, etag: str) -> None:
    value = json.dumps({"etag": etag, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(fd, _XATTR, value.encode())


def _read_xattr(path: Path, stat: os.stat_result) -> str | None:
    try:
        data = json.loads(os.getxattr(path, _XATTR))
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(data, dict) and data.get("size") == stat.st_size and data.get("mtime_ns") == stat.st_mtime_ns:
        etag = data.get("etag")
        return etag if isinstance(etag, str) else None
    return None
