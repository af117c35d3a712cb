from __future__ import annotations

import pytest

from omicsd.blobs.base import join_uri, parse_uri
from omicsd.errors import ValidationError


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key.txt", ("s3", "bucket", "key.txt")),
        ("s3://my.bucket-1/a/b/", ("s3", "my.bucket-1", "a/b/")),
        ("s3://bucket", ("s3", "bucket", "")),
        ("s3://bucket/", ("s3", "bucket", "")),
        ("file:///abs/path", ("file", "", "/abs/path")),
        ("file://localhost/abs/dir/", ("file", "", "/abs/dir/")),
        ("file:///with%20space", ("file", "", "/with space")),
        ("/plain/path", ("file", "", "/plain/path")),
    ],
)
def test_parse_valid_uris(uri: str, expected: tuple[str, str, str]) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "bucket/key",
        "http://x/y",
        "s3://Bad_Bucket/k",
        "s3://ab/k",
        "file://host/x",
        "file:///a/../b",
        "s3://b..x/k",
    ],
)
def test_parse_invalid_uris(uri: str) -> None:
    with pytest.raises(ValidationError):
        parse_uri(uri)


def test_join_uri() -> None:
    assert join_uri("s3://b/p/", "x/y") == "s3://b/p/x/y"
    assert join_uri("s3://b/p", "x") == "s3://b/p/x"
