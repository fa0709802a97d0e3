"""DIDComm test helpers: the spec's Appendix A/B keys and DID documents, and did:peer:2 parties.

The Appendix B documents are ``did:example`` DIDs, which :class:`agent.dids.DIDResolver` refuses
(``methodNotSupported``, checked in ``test_didcomm_vectors.py``), and some of their keys are on
curves the project's Multikey types do not cover (P-384, P-521, secp256k1). So
:class:`AppendixResolver` is a tiny in-test :class:`agent.messaging.DIDCommResolver` that
dereferences ``publicKeyJwk`` methods by relationship, as DID Core section 5.3 says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.dids import PeerPurpose, create_did_peer_2, didcomm_service, encode_did_peer_2
from agent.errors import DIDDocumentError, DIDResolutionError, ErrorCode
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.messaging import InMemorySecrets, JwkKey, KeyStoreRecipientKeys
from agent.storage import Store
from tests.conftest import load_vector


def didcomm_vector(name: str) -> Any:
    """A file of tests/vectors/didcomm/ (see its SOURCE.md)."""
    return load_vector("didcomm", name)


def _secrets(name: str) -> list[dict[str, Any]]:
    # Appendix A.2 spells the member "kid " (trailing space); SOURCE.md notes it.
    return [{key.strip(): value for key, value in jwk.items()} for jwk in didcomm_vector(name)]


def bob_secrets(*kids: str) -> InMemorySecrets:
    """Bob's secrets (Appendix A.2), only ``kids`` when given; P-521 ones skipped."""
    jwks = _secrets("recipient-secrets.json")
    chosen = [jwk for jwk in jwks if not kids or jwk["kid"] in kids]
    return InMemorySecrets.from_jwks(chosen, skip_unsupported=True)


def alice_secrets() -> InMemorySecrets:
    """Alice's secrets (Appendix A.1); P-521 skipped."""
    return InMemorySecrets.from_jwks(_secrets("sender-secrets.json"), skip_unsupported=True)


class AppendixResolver:
    """Resolves the Appendix B documents (and any added) for :mod:`agent.messaging`."""

    def __init__(self, *documents: Mapping[str, Any]) -> None:
        self._documents: dict[str, Mapping[str, Any]] = {}
        for document in documents or (
            didcomm_vector("sender-did-docs.json"),
            didcomm_vector("recipient-did-docs.json"),
        ):
            self.add(document)

    def add(self, document: Mapping[str, Any]) -> None:
        self._documents[str(document["id"])] = document

    async def resolve_key(self, verification_method: str, relationship: str) -> JwkKey:
        did = verification_method.partition("#")[0]
        document = self._documents.get(did)
        if document is None:
            raise DIDResolutionError(
                f"{did} is not in this test resolver", code=ErrorCode.NOT_FOUND
            )
        methods = {
            m["id"]: m for m in document.get("verificationMethod", []) if isinstance(m, dict)
        }
        found: Mapping[str, Any] | None = None
        for entry in document.get(relationship, []):
            if entry == verification_method:
                found = methods.get(entry)
            elif isinstance(entry, dict) and entry.get("id") == verification_method:
                found = entry
        if found is None:
            raise DIDDocumentError(
                f"{verification_method} is not listed under {relationship}",
                code=ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
            )
        return JwkKey(id=found["id"], controller=found["controller"], jwk=found["publicKeyJwk"])


@dataclass
class Party:
    """A did:peer:2 party whose keys live in its own askar store."""

    did: str
    keys: AskarKeyStore
    signer: AskarSigner
    recipient_keys: KeyStoreRecipientKeys

    @property
    def signing_kid(self) -> str:
        return f"{self.did}#key-1"

    @property
    def agreement_kid(self) -> str:
        return f"{self.did}#key-2"


async def make_party(store: Store, *, p256_signer: bool = False) -> Party:
    """A did:peer:2 with an Ed25519 (or P-256) ``#key-1`` and an X25519 ``#key-2``, both held
    in ``store`` and bound to their verification methods."""
    keys = AskarKeyStore(store)
    signing = await keys.create_key(KeyType.P256_PUB if p256_signer else KeyType.ED25519_PUB)
    agreement = await keys.create_key(KeyType.X25519_PUB)
    if p256_signer:
        did = encode_did_peer_2(
            [(PeerPurpose.VERIFICATION, signing), (PeerPurpose.ENCRYPTION, agreement)]
        )
    else:
        did = create_did_peer_2(
            decode_multikey(signing)[1],
            decode_multikey(agreement)[1],
            [didcomm_service("https://agent.example/didcomm")],
        )
    await keys.bind(
        signing, did=did, verification_method=f"{did}#key-1", relationships=["authentication"]
    )
    await keys.bind(
        agreement, did=did, verification_method=f"{did}#key-2", relationships=["keyAgreement"]
    )
    return Party(
        did=did,
        keys=keys,
        signer=await keys.signer(f"{did}#key-1"),
        recipient_keys=KeyStoreRecipientKeys(keys),
    )


def run(coroutine: Any) -> Any:
    """Run a coroutine from a synchronous (hypothesis) test."""
    return asyncio.run(coroutine)
