"""Conversions between public key representations: Ed25519 to X25519, and JWK to raw bytes.

DID documents carry the same public key in several shapes (Multikey, base58, JWK), and a
did:key built from an Ed25519 key also offers the X25519 key derived from it for encryption
(did:key, section "Encryption Method Creation Algorithm",
https://w3c-ccg.github.io/did-method-key/#encryption-method-creation-algorithm). Those
conversions live here so that :mod:`agent.dids` never touches a native library: only this module
imports ``nacl`` for the birational map, and ``cryptography`` for P-256 point checks.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.encoding import b64url_decode, b64url_encode
from agent.errors import ErrorCode, KeyMaterialError
from agent.keys.multikey import KeyType

__all__ = ["ed25519_to_x25519_public", "public_key_from_jwk", "public_key_to_jwk"]

_JWK_OKP_CURVES: dict[str, KeyType] = {
    "Ed25519": KeyType.ED25519_PUB,
    "X25519": KeyType.X25519_PUB,
}


def ed25519_to_x25519_public(raw: bytes) -> bytes:
    """The X25519 public key that corresponds to an Ed25519 public key.

    did:key derives its ``keyAgreement`` key this way, so that one Ed25519 key serves both for
    signatures and, through its Montgomery form, for DIDComm encryption (RFC 7748, section 4.1;
    libsodium ``crypto_sign_ed25519_pk_to_curve25519``).

    :raises KeyMaterialError: (``invalidMultikey``) when ``raw`` is not 32 bytes or is not a
        point of the Ed25519 curve (or is a small-order point), which means it cannot be a real
        Ed25519 public key.
    """
    if len(raw) != 32:
        raise KeyMaterialError(
            f"Ed25519 public key must be 32 bytes, got {len(raw)}",
            code=ErrorCode.INVALID_MULTIKEY,
        )
    try:
        return bytes(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(raw))
    except nacl.exceptions.CryptoError as exc:
        raise KeyMaterialError(
            "the bytes are not a valid Ed25519 public key (not on the curve or of small order); "
            "check that the key was not truncated or taken from another key type",
            code=ErrorCode.INVALID_MULTIKEY,
        ) from exc


def _b64url_decode(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise KeyMaterialError(
            f"JWK member {name!r} must be a non-empty base64url string",
            code=ErrorCode.INVALID_MULTIKEY,
        )
    try:
        return b64url_decode(value)
    except (binascii.Error, ValueError) as exc:
        raise KeyMaterialError(
            f"JWK member {name!r} is not valid base64url", code=ErrorCode.INVALID_MULTIKEY
        ) from exc


def public_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[KeyType, bytes]:
    """The key type and raw public key of a public JWK (RFC 7517; OKP keys per RFC 8037).

    Accepted: ``OKP`` with ``crv`` ``Ed25519`` or ``X25519``, and ``EC`` with ``crv`` ``P-256``,
    which is returned as a 33-byte compressed SEC1 point so that it compares equal to the same
    key given as a ``p256-pub`` Multikey.

    :raises KeyMaterialError: ``invalidMultikey`` when the JWK is malformed, the point is not on
        the curve, or it contains a private part (``d``), which a DID document must never
        publish; ``unsupportedKeyType`` for any other ``kty``/``crv``.
    """
    if "d" in jwk:
        raise KeyMaterialError(
            "the JWK contains a private key ('d'); a DID document must publish public keys only, "
            "so rotate this key now and remove 'd' from the document",
            code=ErrorCode.INVALID_MULTIKEY,
        )
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and isinstance(crv, str) and crv in _JWK_OKP_CURVES:
        raw = _b64url_decode(jwk.get("x"), "x")
        if len(raw) != 32:
            raise KeyMaterialError(
                f"{crv} JWK 'x' must be 32 bytes, got {len(raw)}",
                code=ErrorCode.INVALID_MULTIKEY,
            )
        return _JWK_OKP_CURVES[crv], raw
    if kty == "EC" and crv == "P-256":
        x = _b64url_decode(jwk.get("x"), "x")
        y = _b64url_decode(jwk.get("y"), "y")
        if len(x) != 32 or len(y) != 32:
            raise KeyMaterialError(
                "P-256 JWK coordinates 'x' and 'y' must be 32 bytes each",
                code=ErrorCode.INVALID_MULTIKEY,
            )
        try:
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            ).public_key()
        except ValueError as exc:
            raise KeyMaterialError(
                "P-256 JWK point is not on the curve", code=ErrorCode.INVALID_MULTIKEY
            ) from exc
        return KeyType.P256_PUB, key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    raise KeyMaterialError(
        f"JWK with kty={kty!r} crv={crv!r} is not supported "
        "(supported: OKP Ed25519, OKP X25519, EC P-256)",
        code=ErrorCode.UNSUPPORTED_KEY_TYPE,
    )


def public_key_to_jwk(key_type: KeyType, raw: bytes) -> dict[str, str]:
    """The public JWK of a raw key, the inverse of :func:`public_key_from_jwk`.

    :raises KeyMaterialError: ``unsupportedKeyType`` for private key types, ``invalidMultikey``
        for a wrong length or a P-256 point that is not on the curve.
    """
    if key_type in (KeyType.ED25519_PUB, KeyType.X25519_PUB):
        if len(raw) != 32:
            raise KeyMaterialError(
                f"{key_type} key must be 32 bytes, got {len(raw)}",
                code=ErrorCode.INVALID_MULTIKEY,
            )
        crv = "Ed25519" if key_type is KeyType.ED25519_PUB else "X25519"
        return {"kty": "OKP", "crv": crv, "x": b64url_encode(raw)}
    if key_type is KeyType.P256_PUB:
        try:
            numbers = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), raw
            ).public_numbers()
        except ValueError as exc:
            raise KeyMaterialError(
                "P-256 key is not a valid SEC1 point", code=ErrorCode.INVALID_MULTIKEY
            ) from exc
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
    raise KeyMaterialError(
        f"{key_type} cannot be published as a JWK (only public key types can)",
        code=ErrorCode.UNSUPPORTED_KEY_TYPE,
    )
