"""The interfaces between proofs and keys: a signer never hands out its private key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent.keys.multikey import KeyType

__all__ = ["KeyResolver", "ResolvedKey", "Signer", "Verifier"]


@runtime_checkable
class Signer(Protocol):
    """Something that signs bytes with a key it keeps to itself (an askar key, an HSM).

    ``verification_method`` is the DID URL a verifier dereferences to find the public key,
    e.g. ``did:key:z6Mk...#z6Mk...``; ``algorithm`` is the JOSE name (``EdDSA``, ``ES256``).
    """

    @property
    def verification_method(self) -> str: ...

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """A public key that checks signatures and raises :class:`agent.errors.SignatureError`."""

    def verify(self, data: bytes, signature: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A public key found by dereferencing a verification method's DID URL.

    :param id: the absolute DID URL of the verification method (``did:...#fragment``).
    :param controller: the DID that controls the key (the method's ``controller``).
    :param key_type: the multicodec key type.
    :param raw: the raw public key bytes (32 for Ed25519/X25519, 33 compressed for P-256).
    """

    id: str
    controller: str
    key_type: KeyType
    raw: bytes


class KeyResolver(Protocol):
    """Dereferences a verification method for a verification relationship.

    ``relationship`` is a DID document property: ``assertionMethod`` for credentials,
    ``authentication`` for presentations, ``keyAgreement`` for encryption.

    :raises agent.errors.DIDResolutionError: the DID cannot be resolved.
    :raises agent.errors.DIDDocumentError: no such method, or not authorised for ``relationship``.
    """

    async def resolve_key(self, verification_method: str, relationship: str) -> ResolvedKey: ...
