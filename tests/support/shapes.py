"""Strict check of a parsed boto3 response against an operation's botocore output shape.

Every contract test calls :func:`assert_matches_output_shape` on what the real client returned: no key the
shape does not declare (at any depth), every required member present, enum values valid, and the Python types
botocore produces (``datetime`` for timestamps, ``bytes`` for blobs, a stream for streaming payloads).

botocore's parser already drops unknown JSON keys, so unknown keys on the wire are caught by the server's
strict serializer (``protocol.asgi.new(strict=True)``); this check guards the rest.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.response import StreamingBody


@functools.cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def assert_matches_output_shape(operation_name: str, response: Mapping[str, Any], service: str = "omics") -> None:
    """Assert that a parsed response matches the operation's output shape exactly.

    Args:
        operation_name: The model's operation name, e.g. ``"GetRun"``.
        response: What the boto3 client returned (``ResponseMetadata`` is ignored).
        service: The botocore service name.

    Raises:
        AssertionError: Naming the member path of the first mismatch.
    """
    shape = _model(service).operation_model(operation_name).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if shape is None:
        assert not body, f"{operation_name} has no output, but the response has {sorted(body)}"
        return
    _check(shape, body, operation_name)


def _check(shape: Any, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document") or getattr(shape, "is_document_type", False):
            return
        assert isinstance(value, Mapping), f"{path}: expected a structure, got {type(value).__name__}"
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key}: not a member of {shape.name}"
            _check(shape.members[key], item, f"{path}.{key}")
        for name in shape.required_members:
            assert value.get(name) is not None, f"{path}.{name}: required member missing"
        if getattr(shape, "is_tagged_union", False):
            assert len(value) == 1, f"{path}: a union must have exactly one member set, got {sorted(value)}"
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list, got {type(value).__name__}"
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        assert isinstance(value, Mapping), f"{path}: expected a map, got {type(value).__name__}"
        for key, item in value.items():
            _check(shape.key, key, f"{path}.<key {key!r}>")
            _check(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {type(value).__name__} {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} is not one of {shape.enum}"
    elif kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        assert ok, f"{path}: expected an integer, got {type(value).__name__} {value!r}"
    elif kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        assert ok, f"{path}: expected a number, got {type(value).__name__} {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected a boolean, got {type(value).__name__} {value!r}"
    elif kind == "timestamp":
        assert isinstance(value, dt.datetime), f"{path}: expected a datetime, got {type(value).__name__} {value!r}"
    elif kind == "blob":
        ok = isinstance(value, bytes) or (shape.serialization.get("streaming") and isinstance(value, StreamingBody))
        assert ok, f"{path}: expected bytes, got {type(value).__name__}"
