"""Tag rules shared by every taggable resource.

Owns: the 50-tag limit, reserved keys and the merge/remove semantics of TagResource / UntagResource.
Must not: know which resources exist (the tag service resolves ARNs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from omicsd.errors import ValidationError

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"


def check_new(tags: Mapping[str, str]) -> dict[str, str]:
    """Validate tags given to a create call or TagResource.

    Raises:
        ValidationError: a reserved ``aws:`` key, or more than 50 tags.
    """
    reserved = sorted(k for k in tags if k.lower().startswith(RESERVED_PREFIX))
    if reserved:
        raise ValidationError(f"Tag keys starting with 'aws:' are reserved: {', '.join(reserved)}")
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A resource can have at most {MAX_TAGS} tags; {len(tags)} were given")
    return dict(tags)


def merge(current: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """TagResource: overwrite keys present in ``new``, keep the rest, enforce the 50-tag limit."""
    check_new(new)
    merged = {**current, **new}
    if len(merged) > MAX_TAGS:
        raise ValidationError(
            f"A resource can have at most {MAX_TAGS} tags; this request would leave it with {len(merged)}"
        )
    return merged


def remove(current: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """UntagResource: drop the given keys; keys that are not present are ignored."""
    drop = set(keys)
    return {k: v for k, v in current.items() if k not in drop}
