"""``s3://`` on an S3-compatible endpoint through boto3 (``file://`` stays local).

Owns: :class:`S3ObjectStore`, the same contract as the local store over ``HeadObject``, ``GetObject``,
``PutObject``, ``ListObjectsV2``, ``DeleteObjects``, ``CopyObject`` and boto3's managed transfers, with
the standard AWS credential chain; S3 "not found" errors become :class:`omicsd.errors.NotFoundError`.
Must not: re-implement ETags (the endpoint's are authoritative) or cache anything.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from omicsd.blobs.base import ObjectInfo, join_uri, parse_uri
from omicsd.blobs.local import LocalObjectStore
from omicsd.errors import NotFoundError

logger = logging.getLogger(__name__)

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_MULTIPART_THRESHOLD = 64 * 1024 * 1024


class S3ObjectStore:
    """An :class:`~omicsd.blobs.base.ObjectStore` over an S3-compatible endpoint."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region_name: str | None = None,
        addressing_style: str = "path",
        client: Any = None,
    ) -> None:
        """Connect lazily to ``endpoint_url``.

        Args:
            endpoint_url: The S3 endpoint (``http://127.0.0.1:9000`` for MinIO, ``https://s3.amazonaws.com``).
            region_name: Signing region; ``None`` uses the credential chain's configuration.
            addressing_style: ``path`` (what most S3-compatible servers need) or ``virtual``.
            client: A ready boto3 S3 client (tests pass a stubbed one).
        """
        self.endpoint_url = endpoint_url
        self._region_name = region_name
        self._addressing_style = addressing_style
        self._client = client
        self._files = LocalObjectStore(Path("/"))

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self._region_name,
                config=Config(s3=cast(Any, {"addressing_style": self._addressing_style})),
            )
        return self._client

    def head(self, uri: str) -> ObjectInfo:
        """Metadata of one object."""
        if _is_file(uri):
            return self._files.head(uri)
        bucket, key = _split(uri)
        with _translate(uri):
            response = self.client.head_object(Bucket=bucket, Key=key)
        return ObjectInfo(uri, int(response["ContentLength"]), response["ETag"], _utc(response["LastModified"]))

    def exists(self, uri: str) -> bool:
        """Whether the object exists, or for a URI ending in ``/``, whether any object is under it."""
        if _is_file(uri):
            return self._files.exists(uri)
        if uri.endswith("/"):
            bucket, key = _split(uri)
            with _translate(uri):
                response = self.client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            return bool(response.get("Contents"))
        try:
            self.head(uri)
        except NotFoundError:
            return False
        return True

    def get_bytes(self, uri: str) -> bytes:
        """The content of one object."""
        if _is_file(uri):
            return self._files.get_bytes(uri)
        bucket, key = _split(uri)
        with _translate(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo:
        """Write one object (``PutObject`` is atomic on S3)."""
        if _is_file(uri):
            return self._files.put_bytes(uri, data)
        bucket, key = _split(uri)
        with _translate(uri):
            response = self.client.put_object(Bucket=bucket, Key=key, Body=data)
        return ObjectInfo(uri, len(data), response["ETag"], datetime.now(UTC))

    def download(self, uri: str, dest: Path, link: bool = False) -> Path:
        """Copy an object to the file ``dest``, or every object under a prefix into the directory ``dest``."""
        if _is_file(uri):
            return self._files.download(uri, dest, link=link)
        dest = Path(dest)
        if not uri.endswith("/"):
            self._download_one(uri, dest)
            return dest
        infos = builtins.list(self.list(uri))
        if not infos:
            raise NotFoundError(f"No objects found under {uri}.")
        for info in infos:
            relative = info.uri[len(uri) :]
            if relative and not relative.endswith("/"):
                self._download_one(info.uri, dest / relative)
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def upload(self, src: Path, uri: str, link: bool = False) -> builtins.list[ObjectInfo]:
        """Store a file, or a directory recursively under the prefix ``uri`` (``link`` is ignored)."""
        if _is_file(uri):
            return self._files.upload(src, uri, link=link)
        from boto3.s3.transfer import TransferConfig

        src = Path(src)
        if src.is_file():
            pairs = [(src, join_uri(uri, src.name) if uri.endswith("/") else uri)]
        elif src.is_dir():
            pairs = [
                (path, join_uri(uri, path.relative_to(src).as_posix()))
                for path in sorted(p for p in src.rglob("*") if p.is_file())
            ]
        else:
            raise NotFoundError(f"Cannot upload {src}: no such file or directory.")
        config = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD, multipart_chunksize=_MULTIPART_THRESHOLD)
        infos = []
        for path, target in pairs:
            bucket, key = _split(target)
            with _translate(target):
                self.client.upload_file(str(path), bucket, key, Config=config)
            infos.append(self.head(target))
        return sorted(infos, key=lambda info: info.uri.encode("utf-8", "surrogateescape"))

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """Every object whose URI starts with ``prefix_uri``, sorted by key (S3's own order)."""
        if _is_file(prefix_uri):
            yield from self._files.list(prefix_uri)
            return
        bucket, prefix = _split(prefix_uri)
        paginator = self.client.get_paginator("list_objects_v2")
        with _translate(prefix_uri):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        f"s3://{bucket}/{item['Key']}", int(item["Size"]), item["ETag"], _utc(item["LastModified"])
                    )

    def delete(self, uri: str) -> None:
        """Delete one object, or every object under a prefix ending in ``/``."""
        if _is_file(uri):
            self._files.delete(uri)
            return
        bucket, key = _split(uri)
        if not uri.endswith("/"):
            with _translate(uri):
                self.client.delete_object(Bucket=bucket, Key=key)
            return
        keys = [_split(info.uri)[1] for info in self.list(uri)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            with _translate(uri):
                self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def copy(self, src_uri: str, dst_uri: str) -> ObjectInfo:
        """Copy one object: server-side between ``s3://`` URIs, through a transfer otherwise."""
        if _is_file(src_uri) and _is_file(dst_uri):
            return self._files.copy(src_uri, dst_uri)
        if _is_file(src_uri):
            path = self._files.local_path(src_uri)
            if path is None:
                raise NotFoundError(f"The object {src_uri} does not exist.")
            return self.upload(path, dst_uri)[0]
        if _is_file(dst_uri):
            self._download_one(src_uri, Path(parse_uri(dst_uri)[2]))
            return self._files.head(dst_uri)
        src_bucket, src_key = _split(src_uri)
        dst_bucket, dst_key = _split(dst_uri)
        with _translate(src_uri):
            self.client.copy({"Bucket": src_bucket, "Key": src_key}, dst_bucket, dst_key)
        return self.head(dst_uri)

    def local_path(self, uri: str) -> Path | None:
        """The local path of a ``file://`` URI; ``None`` for ``s3://`` (remote)."""
        return self._files.local_path(uri) if _is_file(uri) else None

    def _download_one(self, uri: str, dest: Path) -> None:
        bucket, key = _split(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".omicsd-tmp-")
        os.close(fd)
        try:
            with _translate(uri):
                self.client.download_file(bucket, key, tmp)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _is_file(uri: str) -> bool:
    return parse_uri(uri)[0] == "file"


def _split(uri: str) -> tuple[str, str]:
    _, bucket, key = parse_uri(uri)
    return bucket, key


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


@contextlib.contextmanager
def _translate(uri: str) -> Iterator[None]:
    """S3 "not found" client errors → :class:`NotFoundError` naming ``uri``."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            raise NotFoundError(f"The object {uri} does not exist ({code}).") from exc
        raise
