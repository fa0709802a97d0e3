"""Test helpers for proofs: an askar signer from a spec secret and a did:key resolver.

Both are deliberately tiny. The real DID resolver is written in agent/dids, and these tests
must not depend on it. Tests may import aries_askar; the library code does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from aries_askar import Key, KeyAlg

from agent.errors import DIDDocumentError
from agent.keys.multikey import KeyType, decode_multikey, encode_multikey
from agent.keys.signer import ResolvedKey


@dataclass
class AskarSigner:
    """A Signer over an askar Ed25519 key built from raw secret bytes."""

    key: Key
    verification_method: str
    algorithm: str = "EdDSA"

    @classmethod
    def from_multikey(cls, private_multibase: str) -> AskarSigner:
        key_type, secret = decode_multikey(private_multibase)
        assert key_type is KeyType.ED25519_PRIV
        key = Key.from_secret_bytes(KeyAlg.ED25519, secret)
        public = encode_multikey(KeyType.ED25519_PUB, bytes(key.get_public_bytes()))
        return cls(key, f"did:key:{public}#{public}")

    @classmethod
    def generate(cls) -> AskarSigner:
        key = Key.generate(KeyAlg.ED25519)
        public = encode_multikey(KeyType.ED25519_PUB, bytes(key.get_public_bytes()))
        return cls(key, f"did:key:{public}#{public}")

    @property
    def did(self) -> str:
        return self.verification_method.split("#", 1)[0]

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign_message(data))


class DidKeyResolver:
    """Resolves did:key verification methods (``did:key:z..#z..``) for any relationship.

    ``relationships`` restricts which relationships a key is authorised for, to test
    purpose checks; by default every did:key key may assert and authenticate.
    """

    def __init__(self, relationships: frozenset[str] | None = None) -> None:
        self.relationships = relationships or frozenset({"assertionMethod", "authentication"})
        self.calls: list[tuple[str, str]] = []

    async def resolve_key(self, verification_method: str, relationship: str) -> ResolvedKey:
        self.calls.append((verification_method, relationship))
        did, _, fragment = verification_method.partition("#")
        if not did.startswith("did:key:") or fragment != did.removeprefix("did:key:"):
            raise DIDDocumentError(f"not a did:key verification method: {verification_method}")
        if relationship not in self.relationships:
            raise DIDDocumentError(f"{verification_method} is not authorised for {relationship}")
        key_type, raw = decode_multikey(fragment)
        return ResolvedKey(id=verification_method, controller=did, key_type=key_type, raw=raw)
