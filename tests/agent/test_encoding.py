"""agent.encoding: the one base64url helper pair (did:peer services, JWK coordinates)."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.dids.peer import PeerPurpose, did_peer_2_document, encode_did_peer_2
from agent.encoding import b64url_decode, b64url_encode
from agent.keys.convert import public_key_from_jwk, public_key_to_jwk
from agent.keys.multikey import KeyType


def test_url_alphabet_and_no_padding() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    assert b64url_decode("-_8=") == b"\xfb\xff"


@given(st.binary(max_size=64))
def test_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data


def test_malformed_input_is_a_value_error() -> None:
    with pytest.raises(binascii.Error):
        b64url_decode("a")


def test_callers_use_the_same_encoding() -> None:
    raw = bytes(range(32))
    jwk = public_key_to_jwk(KeyType.ED25519_PUB, raw)
    assert jwk["x"] == b64url_encode(raw)
    assert public_key_from_jwk(jwk) == (KeyType.ED25519_PUB, raw)
    key = "z6Mkj3PUd1WjvaDhNZhhhXQdz5UnZXmS7ehtx8bsPpD47kKc"
    did = encode_did_peer_2(
        [(PeerPurpose.VERIFICATION, key)],
        [{"type": "DIDCommMessaging", "serviceEndpoint": "https://x"}],
    )
    encoded = did.split(".S", 1)[1]
    assert b64url_decode(encoded) == b'{"t":"dm","s":"https://x"}'
    assert did_peer_2_document(did)["service"][0]["serviceEndpoint"] == "https://x"
