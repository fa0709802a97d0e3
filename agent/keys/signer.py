"""The interfaces between proofs and keys: a signer never hands out its private key."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Signer", "Verifier"]


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
