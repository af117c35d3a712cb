import pytest

from omicsd.domain.pagination import decode_token, encode_token, page_size
from omicsd.errors import ValidationError


def test_round_trip() -> None:
    token = encode_token(["2024-01-01T00:00:00+00:00", "1234567"], {"name": "x"})
    assert len(token) <= 128
    assert decode_token(token, {"name": "x"}) == ["2024-01-01T00:00:00+00:00", "1234567"]


def test_none_filters_do_not_matter() -> None:
    token = encode_token([1], {"name": None})
    assert decode_token(token, {}) == [1]


def test_first_page() -> None:
    assert decode_token(None, {}) is None
    assert decode_token("", {}) is None


def test_token_bound_to_filters() -> None:
    token = encode_token([1], {"status": "RUNNING"})
    with pytest.raises(ValidationError, match="filters"):
        decode_token(token, {"status": "FAILED"})


@pytest.mark.parametrize("token", ["garbage!!", "eyJ4IjoxfQ", "bm90IGpzb24"])
def test_malformed_token(token: str) -> None:
    with pytest.raises(ValidationError):
        decode_token(token, {})


def test_page_size_default() -> None:
    assert page_size(None) == 100
    assert page_size(5) == 5
