"""S3ObjectStore against botocore's Stubber: the calls made and the answers translated (no server here)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from omicsd.blobs import open_store
from omicsd.blobs.s3 import S3ObjectStore
from omicsd.errors import NotFoundError

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def stubbed() -> Iterator[tuple[S3ObjectStore, Stubber]]:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    with Stubber(client) as stubber:
        yield S3ObjectStore("http://127.0.0.1:9", client=client), stubber
        stubber.assert_no_pending_responses()


def test_open_store_selects_s3_when_an_endpoint_is_set(tmp_path: Path) -> None:
    assert isinstance(open_store(root=tmp_path, s3_endpoint_url="http://127.0.0.1:9"), S3ObjectStore)


def test_head(stubbed: tuple[S3ObjectStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_response(
        "head_object",
        {"ContentLength": 5, "ETag": '"5d41402abc4b2a76b9719d911017c592"', "LastModified": WHEN},
        {"Bucket": "bucket", "Key": "dir/hello.txt"},
    )
    info = store.head("s3://bucket/dir/hello.txt")
    assert (info.size, info.etag, info.last_modified) == (5, '"5d41402abc4b2a76b9719d911017c592"', WHEN)


def test_not_found_is_translated(stubbed: tuple[S3ObjectStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    with pytest.raises(NotFoundError, match="s3://bucket/missing"):
        store.get_bytes("s3://bucket/missing")
    stubber.add_client_error("head_object", "404", http_status_code=404)
    assert not store.exists("s3://bucket/missing")


def test_get_and_put(stubbed: tuple[S3ObjectStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_response(
        "get_object", {"Body": StreamingBody(io.BytesIO(b"hello"), 5)}, {"Bucket": "bucket", "Key": "k"}
    )
    assert store.get_bytes("s3://bucket/k") == b"hello"
    stubber.add_response("put_object", {"ETag": '"e"'}, {"Bucket": "bucket", "Key": "k", "Body": b"data"})
    info = store.put_bytes("s3://bucket/k", b"data")
    assert (info.uri, info.size, info.etag) == ("s3://bucket/k", 4, '"e"')


def test_list_pages_and_prefix_delete(stubbed: tuple[S3ObjectStore, Stubber]) -> None:
    store, stubber = stubbed
    page1 = {
        "Contents": [{"Key": "p/a", "Size": 1, "ETag": '"1"', "LastModified": WHEN}],
        "IsTruncated": True,
        "NextContinuationToken": "t",
    }
    page2 = {"Contents": [{"Key": "p/b", "Size": 2, "ETag": '"2"', "LastModified": WHEN}], "IsTruncated": False}
    stubber.add_response("list_objects_v2", page1, {"Bucket": "bucket", "Prefix": "p/"})
    stubber.add_response("list_objects_v2", page2, {"Bucket": "bucket", "Prefix": "p/", "ContinuationToken": "t"})
    assert [(i.uri, i.size) for i in store.list("s3://bucket/p/")] == [("s3://bucket/p/a", 1), ("s3://bucket/p/b", 2)]
    stubber.add_response(
        "list_objects_v2",
        page2 | {"Contents": page1["Contents"] + page2["Contents"]},
        {"Bucket": "bucket", "Prefix": "p/"},
    )
    stubber.add_response(
        "delete_objects",
        {},
        {"Bucket": "bucket", "Delete": {"Objects": [{"Key": "p/a"}, {"Key": "p/b"}], "Quiet": True}},
    )
    store.delete("s3://bucket/p/")


def test_file_uris_stay_local(stubbed: tuple[S3ObjectStore, Stubber], tmp_path: Path) -> None:
    store, _ = stubbed
    uri = f"file://{tmp_path}/x.txt"
    store.put_bytes(uri, b"local")
    assert store.get_bytes(uri) == b"local"
    assert store.local_path(uri) == tmp_path / "x.txt"
    assert store.local_path("s3://bucket/x") is None
