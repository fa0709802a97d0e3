"""The aries-askar adapter of the DIDComm layer: the only messaging module that imports it.

askar does the cryptography (reference/packages.md section 4): ECDH-ES and ECDH-1PU key
derivation with A256KW key wrapping, AEAD content encryption (A256CBC-HS512, A256GCM, XC20P),
and EdDSA/ES256/ES256K signature checks. It does not assemble JWE or JWS objects, and it does not
stop ECDH-1PU from being paired with a non-CBC content algorithm; :mod:`agent.messaging.jwe`
does both. This module turns every ``AskarError`` into a :class:`agent.errors.MessagingError`
with a specific code, so that no askar exception leaks out of :mod:`agent.messaging`.

Curves: askar 0.5.0 has X25519, P-256, P-384 and secp256k1, but no P-521. A P-521 key, whether
in a DID document, a secret or an ``epk``, is refused with ``didcommUnsupportedAlg``; the crypto
is not written by hand here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aries_askar import AskarError, Key, KeyAlg
from aries_askar.ecdh import Ecdh1PU, EcdhEs

from agent.errors import ErrorCode, MessagingError

__all__ = [
    "ContentCipher",
    "JoseKey",
    "decrypt_content",
    "encrypt_content",
    "unwrap_1pu",
    "unwrap_es",
    "verify_signature",
    "wrap_1pu",
    "wrap_es",
]

# JOSE ``crv`` names of the key agreement curves askar supports (RFC 8037; RFC 7518 6.2.1.1).
_AGREEMENT_CURVES: Final[dict[Any, str]] = {
    KeyAlg.X25519: "X25519",
    KeyAlg.P256: "P-256",
    KeyAlg.P384: "P-384",
}
# JOSE ``alg`` of each signing key type (RFC 8037 section 3.1; RFC 7518 3.4; RFC 8812 3.2).
_SIGNING_ALGS: Final[dict[Any, str]] = {
    KeyAlg.ED25519: "EdDSA",
    KeyAlg.P256: "ES256",
    KeyAlg.K256: "ES256K",
}
_CURVE_NAMES: Final = frozenset({"Ed25519", "X25519", "P-256", "P-384", "secp256k1"})
_JWK_MEMBERS: Final = ("kty", "crv", "x", "y", "d")
#: Content encryption algorithms by their JOSE ``enc`` name (DIDComm v2, "Curves and Content
#: Encryption Algorithms").
_CONTENT_ALGS: Final[dict[str, Any]] = {
    "A256CBC-HS512": KeyAlg.A256CBC_HS512,
    "A256GCM": KeyAlg.A256GCM,
    "XC20P": KeyAlg.XC20P,
}
_WRAP_ALG: Final = KeyAlg.A256KW


def _unsupported(message: str, **details: Any) -> MessagingError:
    return MessagingError(message, code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG, details=details)


class JoseKey:
    """An askar key handle with its JOSE curve name; public, or with its secret half.

    Build one with :meth:`from_jwk` (DID documents, test vector secrets), :meth:`from_handle`
    (a key from :meth:`agent.keys.AskarKeyStore.agreement_key`) or :meth:`ephemeral`. The secret
    never leaves askar: this class offers no way to read it.
    """

    __slots__ = ("_key", "crv")

    def __init__(self, key: Any) -> None:
        self._key = key
        alg = key.algorithm
        crv = _AGREEMENT_CURVES.get(alg) or {
            KeyAlg.ED25519: "Ed25519",
            KeyAlg.K256: "secp256k1",
        }.get(alg)
        if crv is None:
            raise _unsupported(f"askar key type {alg} is not a DIDComm key type")
        #: The JOSE curve name: ``X25519``, ``P-256``, ``P-384``, ``Ed25519`` or ``secp256k1``.
        self.crv: str = crv

    def __repr__(self) -> str:
        return f"JoseKey(crv={self.crv!r})"

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, private: bool = False) -> JoseKey:
        """A key from a JWK; ``private`` keeps ``d`` (for secrets), otherwise ``d`` is refused.

        :raises MessagingError: ``didcommUnsupportedAlg`` for a curve askar lacks (P-521) or
            does not use here; ``didcommMalformed`` for a JWK that is not a valid key (a point
            off the curve, a bad length, a private part where a public key was expected).
        """
        if not isinstance(jwk, Mapping):
            raise MessagingError("a JWK must be a JSON object")
        crv = jwk.get("crv")
        if crv not in _CURVE_NAMES:
            raise _unsupported(
                f"JWK curve {str(crv)[:16]!r} is not supported (askar 0.5.0 has X25519, P-256, "
                "P-384, Ed25519 and secp256k1; P-521 is missing)",
                crv=str(crv)[:16],
            )
        if "d" in jwk and not private:
            raise MessagingError(
                "a public key JWK contains a private part ('d'); it must never be published"
            )
        clean = {name: jwk[name] for name in _JWK_MEMBERS if name in jwk}
        if not all(isinstance(value, str) for value in clean.values()):
            raise MessagingError("JWK members kty, crv, x, y and d must be strings")
        try:
            key = Key.from_jwk(json.dumps(clean))
        except AskarError as exc:
            raise MessagingError(
                f"the {crv} JWK is not a valid key (bad length or point not on the curve)",
                details={"crv": crv},
            ) from exc
        return cls(key)

    @classmethod
    def from_handle(cls, handle: object) -> JoseKey:
        """Wrap an ``aries_askar.Key`` handed out by a key store (e.g.
        :meth:`agent.keys.AskarKeyStore.agreement_key`).

        :raises MessagingError: ``didcommUnsupportedAlg`` when ``handle`` is not an askar key of
            a DIDComm key type.
        """
        if isinstance(handle, JoseKey):
            return handle
        if not isinstance(handle, Key):
            raise _unsupported(
                f"expected an aries_askar.Key for a recipient key, got {type(handle).__name__}"
            )
        return cls(handle)

    @classmethod
    def ephemeral(cls, crv: str) -> JoseKey:
        """A fresh key pair on ``crv`` for one envelope's ``epk``."""
        for alg, name in _AGREEMENT_CURVES.items():
            if name == crv:
                return cls(Key.generate(alg, ephemeral=True))
        raise _unsupported(f"no key agreement on curve {crv!r}", crv=crv)

    @property
    def is_agreement_key(self) -> bool:
        """Whether the key can do ECDH (X25519, P-256, P-384)."""
        return self._key.algorithm in _AGREEMENT_CURVES

    @property
    def signing_alg(self) -> str | None:
        """The JOSE ``alg`` this key verifies, or ``None`` for key agreement-only keys."""
        return _SIGNING_ALGS.get(self._key.algorithm)

    def public_jwk(self) -> dict[str, str]:
        """The public JWK (``kty``, ``crv``, ``x`` and, for EC keys, ``y``)."""
        value: dict[str, str] = json.loads(self._key.get_jwk_public())
        return value

    @property
    def handle(self) -> Any:
        """The askar key, for this module's functions only."""
        return self._key


def verify_signature(key: JoseKey, alg: str, data: bytes, signature: bytes) -> None:
    """Check a JWS signature (``r || s`` for ES256/ES256K, RFC 7518 section 3.4).

    :raises MessagingError: ``didcommUnsupportedAlg`` when ``alg`` does not fit the key type;
        ``didcommBadSignature`` when the signature does not verify.
    """
    if key.signing_alg != alg:
        raise _unsupported(
            f"JWS alg {alg!r} does not fit the signer's {key.crv} key "
            f"(expected {key.signing_alg!r})",
            alg=alg,
            crv=key.crv,
        )
    try:
        valid = bool(key.handle.verify_signature(data, signature))
    except AskarError as exc:
        raise MessagingError(
            "the JWS signature could not be checked (malformed signature)",
            code=ErrorCode.DIDCOMM_BAD_SIGNATURE,
        ) from exc
    if not valid:
        raise MessagingError(
            "the JWS signature does not verify with the signer's key; the message was altered "
            "or signed by another key",
            code=ErrorCode.DIDCOMM_BAD_SIGNATURE,
        )


@dataclass(frozen=True, slots=True)
class ContentCipher:
    """The output of content encryption: the CEK handle, nonce, ciphertext and tag."""

    cek: Any
    iv: bytes
    ciphertext: bytes
    tag: bytes


def _content_alg(enc: str) -> Any:
    try:
        return _CONTENT_ALGS[enc]
    except KeyError:
        raise _unsupported(
            f"content encryption {enc[:32]!r} is not allowed; use A256CBC-HS512, A256GCM or XC20P",
            enc=enc[:32],
        ) from None


def encrypt_content(enc: str, plaintext: bytes, aad: bytes) -> ContentCipher:
    """Encrypt ``plaintext`` under a fresh CEK with a fresh random nonce (RFC 7516 5.1)."""
    cek = Key.generate(_content_alg(enc))
    nonce = bytes(cek.aead_random_nonce())
    encrypted = cek.aead_encrypt(plaintext, nonce=nonce, aad=aad)
    return ContentCipher(cek, nonce, bytes(encrypted.ciphertext), bytes(encrypted.tag))


def decrypt_content(
    enc: str, cek: Any, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
) -> bytes:
    """Decrypt and authenticate the JWE content (RFC 7516 section 5.2, steps 14-16).

    :raises MessagingError: ``didcommDecryptFailed`` when the tag does not verify (the
        ciphertext, iv, tag or protected header was altered) or the iv has the wrong length.
    """
    try:
        return bytes(cek.aead_decrypt(ciphertext, nonce=iv, tag=tag, aad=aad))
    except AskarError as exc:
        raise MessagingError(
            f"the {enc} content does not decrypt: the ciphertext, iv, tag or protected header "
            "was altered",
            code=ErrorCode.DIDCOMM_DECRYPT_FAILED,
        ) from exc


def _unwrap_failed(kid: str) -> MessagingError:
    return MessagingError(
        f"the content key for {kid} does not unwrap: the encrypted_key, epk, apu/apv or (for "
        "authcrypt) the tag was altered, or the sender key is not the one that encrypted",
        code=ErrorCode.DIDCOMM_DECRYPT_FAILED,
        details={"kid": kid},
    )


def wrap_es(alg: str, apv: bytes, epk: JoseKey, recipient: JoseKey, cek: Any) -> bytes:
    """ECDH-ES+A256KW: wrap ``cek`` for one recipient (RFC 7518 section 4.6); no ``apu``, since
    an anonymous sender names no party."""
    try:
        wrapped = EcdhEs(alg, b"", apv).sender_wrap_key(
            _WRAP_ALG, epk.handle, recipient.handle, cek
        )
    except AskarError as exc:
        raise MessagingError(
            "could not wrap the content key for a recipient (key types differ?)",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        ) from exc
    return bytes(wrapped.ciphertext)


def unwrap_es(
    alg: str,
    enc: str,
    apu: bytes,
    apv: bytes,
    epk: JoseKey,
    recipient: JoseKey,
    encrypted_key: bytes,
    kid: str,
) -> Any:
    """ECDH-ES+A256KW: unwrap the CEK with our recipient key; ``apu`` is the header's, if any
    (RFC 7518 section 4.6.2 puts it in the KDF input).

    :raises MessagingError: ``didcommDecryptFailed`` when it does not unwrap.
    """
    try:
        return EcdhEs(alg, apu, apv).receiver_unwrap_key(
            _WRAP_ALG, _content_alg(enc), epk.handle, recipient.handle, encrypted_key
        )
    except AskarError as exc:
        raise _unwrap_failed(kid) from exc


def wrap_1pu(
    alg: str,
    apu: bytes,
    apv: bytes,
    epk: JoseKey,
    sender: JoseKey,
    recipient: JoseKey,
    cek: Any,
    tag: bytes,
) -> bytes:
    """ECDH-1PU+A256KW: wrap ``cek`` with the content ``tag`` as ``cc_tag`` (draft-madden-jose-
    ecdh-1pu-04 section 2.3, key wrapping mode)."""
    try:
        wrapped = Ecdh1PU(alg, apu, apv).sender_wrap_key(
            _WRAP_ALG, epk.handle, sender.handle, recipient.handle, cek, cc_tag=tag
        )
    except AskarError as exc:
        raise MessagingError(
            "could not wrap the content key with ECDH-1PU (is the sender key private, and on the "
            "recipients' curve?)",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        ) from exc
    return bytes(wrapped.ciphertext)


def unwrap_1pu(
    alg: str,
    enc: str,
    apu: bytes,
    apv: bytes,
    epk: JoseKey,
    sender: JoseKey,
    recipient: JoseKey,
    encrypted_key: bytes,
    tag: bytes,
    kid: str,
) -> Any:
    """ECDH-1PU+A256KW: unwrap the CEK with our key and the sender's public key.

    :raises MessagingError: ``didcommDecryptFailed`` when it does not unwrap.
    """
    try:
        return Ecdh1PU(alg, apu, apv).receiver_unwrap_key(
            _WRAP_ALG,
            _content_alg(enc),
            epk.handle,
            sender.handle,
            recipient.handle,
            encrypted_key,
            cc_tag=tag,
        )
    except AskarError as exc:
        raise _unwrap_failed(kid) from exc
