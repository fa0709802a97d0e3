"""agent.keys.multikey's base58btc encoder and decoder equal the ``base58`` package's
on every input."""

from __future__ import annotations

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import KeyMaterialError
from agent.keys.multikey import _b58decode, _b58encode, decode_multibase_base58btc

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@given(st.binary(max_size=100))
def test_decodes_what_the_package_encodes(data: bytes) -> None:
    encoded = base58.b58encode(data).decode()
    assert _b58decode(encoded) == data
    if data:  # "z" alone is refused: a multibase value has at least one digit
        assert decode_multibase_base58btc("z" + encoded) == data


@given(
    st.text(alphabet=ALPHABET + " \t\n0OIl+/é", max_size=120),
)
def test_any_text_decodes_or_fails_like_the_package(text: str) -> None:
    try:
        expected: bytes | None = base58.b58decode(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match=r"Invalid character|ascii"):
            _b58decode(text)
        with pytest.raises(KeyMaterialError):
            decode_multibase_base58btc("z" + text)
    else:
        assert _b58decode(text) == expected
        if text:
            assert decode_multibase_base58btc("z" + text) == expected


def test_leading_ones_are_zero_bytes() -> None:
    assert _b58decode("111") == b"\0\0\0"
    assert _b58decode("11z") == b"\0\0" + base58.b58decode("z")
    assert _b58decode("") == b""


@given(st.binary(max_size=100))
def test_encodes_like_the_package(data: bytes) -> None:
    assert _b58encode(data) == base58.b58encode(data).decode("ascii")


@pytest.mark.parametrize(
    "data", [b"", b"\0", b"\0\0\x01", b"\x01", b"\x39", b"\x3a", b"\xff" * 64, b"\0" + b"\xff" * 32]
)
def test_encodes_edge_values_like_the_package(data: bytes) -> None:
    # Zero bytes, one digit, the 58 boundary, a pair whose high digit is zero, long all-ones.
    assert _b58encode(data) == base58.b58encode(data).decode("ascii")
    assert _b58decode(_b58encode(data)) == data
