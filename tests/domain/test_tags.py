import pytest

from omicsd.domain import tags
from omicsd.errors import ValidationError


def test_merge_overwrites_and_keeps() -> None:
    assert tags.merge({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == {"a": "1", "b": "3", "c": "4"}


def test_remove_ignores_missing_keys() -> None:
    assert tags.remove({"a": "1", "b": "2"}, ["b", "zzz"]) == {"a": "1"}


def test_limit_counts_the_merged_set() -> None:
    current = {f"k{i}": "v" for i in range(45)}
    with pytest.raises(ValidationError, match="at most 50"):
        tags.merge(current, {f"n{i}": "v" for i in range(6)})
    assert len(tags.merge(current, {f"k{i}": "w" for i in range(10)})) == 45


def test_reserved_prefix() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        tags.check_new({"aws:createdBy": "x"})
