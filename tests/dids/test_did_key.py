"""did:key against the did-method-key test vectors (tests/vectors/did-key/SOURCE.md)."""

from __future__ import annotations

from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from agent.dids import did_key_document, did_key_from_public, parse_did_key, resolve_did_key
from agent.dids.document import key_from_method
from agent.errors import DIDResolutionError, ErrorCode, KeyMaterialError
from agent.keys.convert import ed25519_to_x25519_public, public_key_from_jwk
from agent.keys.multikey import KeyType, encode_multibase_base58btc
from tests.conftest import load_vector

ED25519_VECTORS: dict[str, Any] = load_vector("did-key", "ed25519-x25519.json")
X25519_VECTORS: dict[str, Any] = load_vector("did-key", "x25519.json")["didDocument"]
RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)


def _vector_public(pair: dict[str, Any]) -> bytes:
    if "publicKeyBase58" in pair:
        return bytes(base58.b58decode(pair["publicKeyBase58"]))
    return public_key_from_jwk(pair["publicKeyJwk"])[1]


def _keys_by_id(document: dict[str, Any]) -> dict[str, tuple[KeyType, bytes]]:
    return {vm["id"]: key_from_method(vm) for vm in document["verificationMethod"]}


ed25519_cases = pytest.mark.parametrize(
    ("did", "case"), list(ED25519_VECTORS.items()), ids=[d[-8:] for d in ED25519_VECTORS]
)
x25519_cases = pytest.mark.parametrize(
    ("did", "expected"), list(X25519_VECTORS.items()), ids=[d[-8:] for d in X25519_VECTORS]
)


@ed25519_cases
def test_did_from_ed25519_public_key(did: str, case: dict[str, Any]) -> None:
    raw = _vector_public(case["verificationKeyPair"])
    assert did_key_from_public(KeyType.ED25519_PUB, raw) == did
    assert parse_did_key(did) == (KeyType.ED25519_PUB, raw)


@ed25519_cases
def test_did_from_seed(did: str, case: dict[str, Any]) -> None:
    public = bytes(SigningKey(bytes.fromhex(case["seed"])).verify_key)
    assert did_key_from_public(KeyType.ED25519_PUB, public) == did


@ed25519_cases
def test_derived_x25519_key_matches(did: str, case: dict[str, Any]) -> None:
    raw = _vector_public(case["verificationKeyPair"])
    expected = _vector_public(case["keyAgreementKeyPair"])
    assert ed25519_to_x25519_public(raw) == expected
    document = resolve_did_key(did).serialize()
    (agreement_id,) = document["keyAgreement"]
    assert _keys_by_id(document)[agreement_id] == (KeyType.X25519_PUB, expected)


@ed25519_cases
@pytest.mark.parametrize("legacy", [False, True], ids=["multikey", "legacy-2020"])
def test_document_matches_vector(did: str, case: dict[str, Any], legacy: bool) -> None:
    expected = case["didDocument"]
    document = resolve_did_key(did, legacy=legacy).serialize()
    assert document["id"] == did
    assert [vm["id"] for vm in document["verificationMethod"]] == [
        vm["id"] for vm in expected["verificationMethod"]
    ]
    for relationship in RELATIONSHIPS:
        assert document[relationship] == expected[relationship], relationship
    assert _keys_by_id(document) == _keys_by_id(expected)
    types = {vm["type"] for vm in document["verificationMethod"]}
    if legacy:
        assert types == {"Ed25519VerificationKey2020", "X25519KeyAgreementKey2020"}
        assert "https://w3id.org/security/suites/x25519-2020/v1" in document["@context"]
    else:
        assert types == {"Multikey"}
        assert document["@context"] == [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
        ]
        assert all(vm["controller"] == did for vm in document["verificationMethod"])


@x25519_cases
def test_x25519_did_key(did: str, expected: dict[str, Any]) -> None:
    raw = _vector_public(expected["verificationMethod"][0])
    assert did_key_from_public(KeyType.X25519_PUB, raw) == did
    document = resolve_did_key(did).serialize()
    assert document["keyAgreement"] == expected["keyAgreement"]
    assert _keys_by_id(document) == _keys_by_id(expected)
    for relationship in ("authentication", "assertionMethod"):
        assert relationship not in document


def test_p256_did_key_signs_but_does_not_derive() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    raw = private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    did = did_key_from_public(KeyType.P256_PUB, raw)
    assert did.startswith("did:key:zDn")
    document = did_key_document(did)
    assert document["assertionMethod"] == [f"{did}#{did[8:]}"]
    assert "keyAgreement" not in document


_ED_PREFIX = b"\xed\x01"


@pytest.mark.parametrize(
    "did",
    [
        pytest.param("did:kee:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", id="wrong-method"),
        pytest.param("did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", id="no-multibase"),
        pytest.param("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDoo0l", id="bad-base58"),
        pytest.param(
            "did:key:" + encode_multibase_base58btc(b"\xe7\x01" + b"\x02" * 33), id="secp256k1"
        ),
        pytest.param(
            "did:key:" + encode_multibase_base58btc(b"\x80\x26" + b"\x07" * 32), id="private-key"
        ),
        pytest.param(
            "did:key:" + encode_multibase_base58btc(_ED_PREFIX + b"\x07" * 31), id="short-key"
        ),
        pytest.param(
            "did:key:" + encode_multibase_base58btc(_ED_PREFIX + b"\x07" * 33), id="long-key"
        ),
        pytest.param(
            "did:key:" + encode_multibase_base58btc(_ED_PREFIX + b"\x01" + b"\x00" * 31),
            id="small-order-point",
        ),
        pytest.param("did:key:z", id="empty"),
    ],
)
def test_bad_did_key_is_invalid_did(did: str) -> None:
    with pytest.raises(DIDResolutionError) as info:
        resolve_did_key(did)
    assert info.value.code is ErrorCode.INVALID_DID


@pytest.mark.parametrize(
    ("key_type", "raw", "code"),
    [
        pytest.param(KeyType.ED25519_PRIV, b"\x01" * 32, ErrorCode.UNSUPPORTED_KEY_TYPE, id="priv"),
        pytest.param(KeyType.ED25519_PUB, b"\x01" * 31, ErrorCode.INVALID_MULTIKEY, id="short"),
        pytest.param(
            KeyType.ED25519_PUB, b"\x01" + b"\x00" * 31, ErrorCode.INVALID_MULTIKEY, id="identity"
        ),
    ],
)
def test_did_key_from_public_rejects(key_type: KeyType, raw: bytes, code: ErrorCode) -> None:
    with pytest.raises(KeyMaterialError) as info:
        did_key_from_public(key_type, raw)
    assert info.value.code is code


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_ed25519_did_key_round_trip(seed: bytes) -> None:
    public = bytes(SigningKey(seed).verify_key)
    did = did_key_from_public(KeyType.ED25519_PUB, public)
    assert parse_did_key(did) == (KeyType.ED25519_PUB, public)
    document = did_key_document(did)
    assert key_from_method(document["verificationMethod"][0]) == (KeyType.ED25519_PUB, public)


@settings(max_examples=50, deadline=None)
@given(raw=st.binary(min_size=32, max_size=32))
def test_x25519_did_key_round_trip(raw: bytes) -> None:
    did = did_key_from_public(KeyType.X25519_PUB, raw)
    assert parse_did_key(did) == (KeyType.X25519_PUB, raw)
