"""DIDResolver keeps dereferenced keys with their cached document: a replaced document (a
refresh, a rotation) is read afresh, a refusal is never kept, relationships stay separate."""

from __future__ import annotations

from typing import Any

import pytest
from nacl.signing import SigningKey

from agent.dids import DIDResolver
from agent.errors import DIDDocumentError, DIDResolutionError, ErrorCode, InvalidInputError
from agent.keys.multikey import KeyType, encode_multikey

DID = "did:web:hospital.example"
URL = f"{DID}#key-1"


def _document(public: bytes, *, relationships: tuple[str, ...] = ("assertionMethod",)) -> Any:
    method = {
        "id": URL,
        "type": "Multikey",
        "controller": DID,
        "publicKeyMultibase": encode_multikey(KeyType.ED25519_PUB, public),
    }
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "verificationMethod": [method],
        **{name: [URL] for name in relationships},
    }


def _public() -> bytes:
    return bytes(SigningKey.generate().verify_key)


async def test_a_replaced_document_is_dereferenced_again() -> None:
    resolver = DIDResolver()
    first, second = _public(), _public()
    resolver.add_document(_document(first))
    assert (await resolver.resolve_key(URL, "assertionMethod")).raw == first
    assert (await resolver.resolve_key(URL, "assertionMethod")).raw == first  # from the entry
    resolver.add_document(_document(second))  # the same DID URL now names another key
    assert (await resolver.resolve_key(URL, "assertionMethod")).raw == second


async def test_a_refusal_is_not_kept() -> None:
    resolver = DIDResolver()
    public = _public()
    resolver.add_document(_document(public, relationships=("authentication",)))
    for _ in range(2):
        with pytest.raises(DIDDocumentError) as refused:
            await resolver.resolve_key(URL, "assertionMethod")
        assert refused.value.code is ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR
    # Authorised for authentication, and that answer does not leak to assertionMethod.
    assert (await resolver.resolve_key(URL, "authentication")).raw == public
    with pytest.raises(DIDDocumentError):
        await resolver.resolve_key(URL, "assertionMethod")


async def test_forgetting_the_document_forgets_its_keys() -> None:
    resolver = DIDResolver()
    resolver.add_document(_document(_public()))
    await resolver.resolve_key(URL, "assertionMethod")
    resolver.forget(DID)
    with pytest.raises(DIDResolutionError) as gone:  # no HTTP client: cannot fetch did:web
        await resolver.resolve_key(URL, "assertionMethod")
    assert gone.value.code is ErrorCode.METHOD_NOT_SUPPORTED


async def test_a_known_key_is_served_only_for_what_was_checked() -> None:
    # Once a key is known, the fast path must not answer inputs that were never checked:
    # another relationship name, a non-string relationship, a URL of the same DID with
    # another fragment, or a non-string URL all take the checking path and fail as before.
    resolver = DIDResolver()
    public = _public()
    resolver.add_document(_document(public))
    key = await resolver.resolve_key(URL, "assertionMethod")
    assert (await resolver.resolve_key(URL, "assertionMethod")) is key
    with pytest.raises(InvalidInputError):
        await resolver.resolve_key(URL, "signing")
    with pytest.raises(InvalidInputError):
        await resolver.resolve_key(URL, ["assertionMethod"])  # type: ignore[arg-type]
    with pytest.raises(DIDDocumentError) as other:
        await resolver.resolve_key(f"{DID}#key-2", "assertionMethod")
    assert other.value.code is ErrorCode.KEY_NOT_FOUND
    with pytest.raises(DIDResolutionError) as not_a_url:
        await resolver.resolve_key(DID, "assertionMethod")
    assert not_a_url.value.code is ErrorCode.INVALID_DID_URL
    with pytest.raises(DIDResolutionError):
        await resolver.resolve_key(None, "assertionMethod")  # type: ignore[arg-type]
