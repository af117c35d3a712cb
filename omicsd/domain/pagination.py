"""Opaque pagination tokens bound to the filters of the list call that issued them.

Owns: :class:`Page` and the token codec. Lists use keyset pagination: a token carries the sort key of the last
item returned and a digest of the filters, so a token reused with other filters is rejected (as moto's
``paginate`` does) and a token stays valid while items are added or removed.
Must not: query anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from omicsd.errors import ValidationError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call."""

    items: list[T]
    next_token: str | None


def _digest(filters: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in filters.items() if v is not None}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def encode_token(after: Sequence[Any], filters: Mapping[str, Any]) -> str:
    """Make a token that resumes after the item whose sort key is ``after``."""
    payload = json.dumps({"a": list(after), "f": _digest(filters)}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_token(token: str | None, filters: Mapping[str, Any]) -> list[Any] | None:
    """The sort key a token resumes after, or ``None`` for the first page.

    Raises:
        ValidationError: the token is malformed or was issued for other filters.
    """
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, digest = data["a"], data["f"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationError("The pagination token is not valid") from exc
    if digest != _digest(filters) or not isinstance(after, list):
        raise ValidationError("The pagination token does not match the filters of this request")
    return after


def page_size(requested: int | None, default: int = DEFAULT_PAGE_SIZE) -> int:
    """The page size to use for a request's ``maxResults`` / ``maxItems``."""
    return requested if requested else default
