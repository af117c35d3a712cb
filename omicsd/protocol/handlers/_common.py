"""Small helpers shared by the handler modules: export URLs and dropping absent members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

EXPORT_PREFIX = "/_omicsd/export"


def export_url(base_url: str, *parts: str) -> str:
    """A URL under the server's export route (what HealthOmics answers with a presigned S3 URL)."""
    return base_url.rstrip("/") + EXPORT_PREFIX + "".join("/" + quote(p, safe="") for p in parts)


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop members whose value is ``None`` (absent on the wire)."""
    return {k: v for k, v in values.items() if v is not None}
