"""Ed25519 signature verification with PyNaCl (libsodium).

Only this module and :mod:`agent.keys.convert` (Ed25519 to X25519 conversion) import nacl.

Signing stays in askar (:mod:`agent.keys.askar`); verification needs only the public key and
libsodium is the fastest verifier available here.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from agent.errors import ErrorCode, KeyMaterialError, SignatureError

__all__ = ["Ed25519PublicKey"]


class Ed25519PublicKey:
    """An Ed25519 public key that verifies signatures or raises :class:`SignatureError`."""

    __slots__ = ("_key", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise KeyMaterialError(
                f"Ed25519 public key must be 32 bytes, got {len(raw)}",
                code=ErrorCode.INVALID_MULTIKEY,
            )
        self.raw = raw
        self._key = VerifyKey(raw)

    def verify(self, data: bytes, signature: bytes) -> None:
        """:raises SignatureError: when the signature is not valid for ``data``."""
        if len(signature) != 64:
            raise SignatureError(
                f"Ed25519 signature must be 64 bytes, got {len(signature)}",
                code=ErrorCode.PROOF_VERIFICATION_ERROR,
            )
        try:
            self._key.verify(data, signature)
        except BadSignatureError as exc:
            raise SignatureError(
                "Ed25519 signature does not verify: the document, the proof options or the "
                "signature was changed, or it was signed with a different key"
            ) from exc
