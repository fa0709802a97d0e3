"""The JOSE pieces: base64url, strict JSON, compact JWS, EdDSA and ES256 keys.

Used by SD-JWT (:mod:`agent.credentials.sd_jwt`, kept apart so that the SD-JWT logic reads as
the spec's steps), Token Status Lists, the emergency QR codec, SMART Health Cards and the
verifier. Nothing here uses jwcrypto: a JWS is ``base64url(header) "." base64url(payload) "."
base64url(signature)`` (RFC 7515, section 7.1), and verifying one is a dictionary look-up and one
signature check. Ed25519 goes through :class:`agent.keys.ed25519.Ed25519PublicKey` (libsodium);
P-256 through ``cryptography``. Public keys built from a JWK or a resolved DID key are cached, so
a verifier that sees the same issuer and holder keys again does not rebuild them.

Errors are :class:`agent.errors.CryptosuiteError` (``MALFORMED_PROOF_ERROR``,
``unsupportedCryptosuite``) and :class:`agent.errors.SignatureError`, each with
``details['part']`` naming the part being read (for SD-JWT: ``issuerJwt``, ``disclosure``,
``keyBindingJwt``).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from agent.errors import CryptosuiteError, ErrorCode, ProofError, SignatureError
from agent.keys.convert import public_key_from_jwk
from agent.keys.ed25519 import Ed25519PublicKey
from agent.keys.multikey import KeyType
from agent.keys.signer import ResolvedKey, Signer

__all__ = [
    "ALGORITHM_KEY_TYPES",
    "JwsKey",
    "b64url_decode",
    "b64url_encode",
    "b64url_json",
    "decode_jws",
    "key_from_jwk",
    "key_from_resolved",
    "loads_json",
    "sign_jws",
]

#: The JWS algorithms this module signs and verifies, and the key type each needs. An
#: algorithm must match its key (RFC 8725, section 3.1): an ES256 header with an Ed25519 key is
#: refused, not tried.
ALGORITHM_KEY_TYPES: Final[Mapping[str, KeyType]] = {
    "EdDSA": KeyType.ED25519_PUB,
    "ES256": KeyType.P256_PUB,
}

# Padding that completes unpadded base64 of each length modulo 4 (1 is never valid, and
# binascii refuses it).
_PADDING: Final = (b"", b"", b"==", b"=")
# base64url to the standard alphabet in one pass; the standard alphabet's own ``+``, ``/`` and
# ``=`` become ``!``, which strict binascii refuses, so that one ``translate`` does both the
# mapping and the alphabet check (no scan of the text per refused character).
_FROM_URL_ALPHABET: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URL_ALPHABET: Final = bytes.maketrans(b"+/", b"-_")
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())
_SIGNATURE_LENGTH: Final = 64


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515, section 2)."""
    return (
        binascii.b2a_base64(data, newline=False)
        .rstrip(b"=")
        .translate(_TO_URL_ALPHABET)
        .decode("ascii")
    )


def _not_base64url(part: str) -> CryptosuiteError:
    return CryptosuiteError(
        f"the {part} is not unpadded base64url (RFC 7515, section 2); was it copied with "
        "line breaks, padding or a different alphabet?",
        code=ErrorCode.MALFORMED_PROOF_ERROR,
        details={"part": part, "reason": "notBase64url"},
    )


def _b64url_bytes(data: bytes) -> bytes:
    """Decode ASCII unpadded base64url; ``binascii.Error`` for anything else."""
    return binascii.a2b_base64(
        data.translate(_FROM_URL_ALPHABET) + _PADDING[len(data) & 3], strict_mode=True
    )


def b64url_decode(text: str, part: str) -> bytes:
    """Decode unpadded base64url strictly: only the URL-safe alphabet, no padding, no spaces.

    ``binascii`` in strict mode refuses anything outside the standard alphabet once ``-_`` are
    mapped to ``+/``; the characters of the standard alphabet that base64url does not use
    (``+``, ``/``, ``=``) are mapped to a character it refuses in the same ``translate``, and
    non-ASCII text fails to encode. Cheaper than a regular expression per part.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for anything else.
    """
    try:
        return _b64url_bytes(text.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error):
        raise _not_base64url(part) from None


class _DuplicateMemberError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateMemberError
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant
)
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads_json(data: bytes, part: str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate member names, no NaN or Infinity, bounded depth.

    Duplicate names are refused because two parsers may disagree on which value was signed
    (RFC 7515, section 5.2; RFC 8725, section 3.7).

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` naming ``part``; the message never
        quotes the content, which may be health data.
    """
    error: Exception
    try:
        # One decoder for all calls: json.loads(..., object_pairs_hook=...) builds a new one
        # each time, which costs more than parsing a Disclosure. The C scanner handles the
        # usual case; text with surrounding whitespace, or invalid, takes the full path.
        text = data.decode("utf-8")
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        return value if end == len(text) else _DECODER.decode(text)
    except _DuplicateMemberError as exc:
        reason, what = "duplicateMember", "has a duplicate member name"
        error = exc
    except RecursionError as exc:
        reason, what = "tooDeep", "nests too deeply"
        error = exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors.
        reason, what = "notJson", "is not UTF-8 JSON"
        error = exc
    raise CryptosuiteError(
        f"the {part} {what}; the SD-JWT was damaged or built incorrectly",
        code=ErrorCode.MALFORMED_PROOF_ERROR,
        details={"part": part, "reason": reason},
    ) from error


def _b64url_json(data: bytes, part: str) -> tuple[Any, str]:
    """base64url-decode ASCII ``data`` and parse the JSON strictly: the value and the JSON text.

    One pass, without a Python call between the C functions, for the usual case; anything
    unusual (bad base64url or JSON, surrounding whitespace) takes the checked path, which
    raises the errors of :func:`b64url_decode` and :func:`loads_json`, or accepts it.
    """
    try:
        text = _b64url_bytes(data).decode("utf-8")
        value, end = _SCAN(text, 0)
        if end == len(text):
            return value, text
    except (ValueError, StopIteration, RecursionError):  # binascii.Error is a ValueError.
        pass
    try:
        raw = _b64url_bytes(data)
    except binascii.Error:
        raise _not_base64url(part) from None
    return loads_json(raw, part), raw.decode("utf-8")


def b64url_json(text: str, part: str) -> tuple[Any, str]:
    """:func:`b64url_decode` then :func:`loads_json` in one step: the value and its JSON text.

    The text lets a caller look for a substring without walking the value.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` as those two functions.
    """
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        raise _not_base64url(part) from None
    return _b64url_json(data, part)


def _dumps(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], signer: Signer) -> str:
    """A compact JWS of ``payload`` signed by ``signer``; ``header['alg']`` must be its algorithm.

    :raises CryptosuiteError: ``unsupportedCryptosuite`` for an algorithm other than EdDSA or
        ES256.
    :raises ProofError: ``PROOF_GENERATION_ERROR`` when the signer returns a signature of the
        wrong length (ES256 signatures are ``r || s``, RFC 7518 section 3.4, not DER).
    """
    algorithm = header.get("alg")
    if algorithm not in ALGORITHM_KEY_TYPES or algorithm != signer.algorithm:
        raise CryptosuiteError(
            f"cannot sign a JWS with algorithm {algorithm!r} (signer: {signer.algorithm!r}); "
            "supported: EdDSA and ES256",
            code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            details={"alg": str(algorithm)},
        )
    signing_input = f"{b64url_encode(_dumps(header))}.{b64url_encode(_dumps(payload))}"
    signature = signer.sign(signing_input.encode("ascii"))
    if len(signature) != _SIGNATURE_LENGTH:
        raise ProofError(
            f"the {algorithm} signer returned {len(signature)} bytes, expected 64 "
            "(raw r || s for ES256, not DER)",
            code=ErrorCode.PROOF_GENERATION_ERROR,
            details={"alg": str(algorithm)},
        )
    return f"{signing_input}.{b64url_encode(signature)}"


# JOSE headers repeat: every credential of an issuer, every KB-JWT of an algorithm has the same
# one. Decoded headers whose members are all strings, keyed on their exact base64url bytes; a
# copy is handed out, so a caller cannot change what the next one gets. Bounded: once full, it
# starts again empty.
_HEADERS: Final[dict[bytes, dict[str, str]]] = {}
_MAX_HEADERS: Final = 256
_MAX_HEADER_BYTES: Final = 1024


def _decode_header(data: bytes, part: str) -> Any:
    cached = _HEADERS.get(data)
    if cached is not None:
        return cached.copy()
    header = _b64url_json(data, part)[0]
    if (
        type(header) is dict
        and len(data) <= _MAX_HEADER_BYTES
        and all(type(value) is str for value in header.values())
    ):
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()  # Simpler than LRU, and safe with threads; headers are few.
        _HEADERS[data] = header.copy()
    return header


def decode_jws(token: str, part: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Split a compact JWS into header, payload, signing input and signature, without verifying.

    The token is encoded to bytes once; the signing input is a slice of those bytes, and each
    part is decoded from them.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` when it is not three base64url parts
        whose first two are JSON objects.
    """
    if token.count(".") != 2:
        raise CryptosuiteError(
            f"the {part} is not a compact JWS (three base64url parts separated by '.')",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": part, "reason": "notCompactJws"},
        )
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError:
        raise _not_base64url(part) from None
    head, body, tail = data.split(b".")
    header = _decode_header(head, part)
    payload = _b64url_json(body, part)[0]
    if type(header) is not dict or type(payload) is not dict:
        raise CryptosuiteError(
            f"the {part} header and payload must be JSON objects",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": part, "reason": "notJsonObject"},
        )
    try:
        signature = _b64url_bytes(tail)
    except binascii.Error:
        raise _not_base64url(part) from None
    return header, payload, data[: len(head) + 1 + len(body)], signature


class JwsKey:
    """A public key bound to the one JWS algorithm it verifies; raises, never returns False."""

    __slots__ = ("_ed25519", "_p256", "algorithm")

    def __init__(self, key_type: KeyType, raw: bytes) -> None:
        self._ed25519: Ed25519PublicKey | None = None
        self._p256: ec.EllipticCurvePublicKey | None = None
        if key_type is KeyType.ED25519_PUB:
            self.algorithm = "EdDSA"
            self._ed25519 = Ed25519PublicKey(raw)
        elif key_type is KeyType.P256_PUB:
            self.algorithm = "ES256"
            try:
                self._p256 = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
            except ValueError as exc:
                raise CryptosuiteError(
                    "the P-256 public key is not a point on the curve",
                    code=ErrorCode.MALFORMED_PROOF_ERROR,
                    details={"reason": "invalidKey"},
                ) from exc
        else:
            raise CryptosuiteError(
                f"a {key_type} key cannot verify a JWS; use an Ed25519 (EdDSA) or P-256 "
                "(ES256) key",
                code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
                details={"keyType": str(key_type)},
            )

    def verify(self, algorithm: object, signing_input: bytes, signature: bytes, part: str) -> None:
        """Check ``signature`` over ``signing_input`` for the header's ``algorithm``.

        :raises SignatureError: ``PROOF_VERIFICATION_ERROR`` when the algorithm does not belong
            to this key (``reason`` ``algorithmMismatch``) or the signature does not verify
            (``reason`` ``badSignature``).
        """
        if algorithm != self.algorithm:
            raise SignatureError(
                f"the {part} says alg {algorithm!r} but the key is for {self.algorithm}; "
                "refusing to verify with an algorithm the key was not made for",
                code=ErrorCode.PROOF_VERIFICATION_ERROR,
                details={"part": part, "reason": "algorithmMismatch"},
            )
        valid = len(signature) == _SIGNATURE_LENGTH
        if valid and self._ed25519 is not None:
            try:
                self._ed25519.verify(signing_input, signature)
            except SignatureError:
                valid = False
        elif valid and self._p256 is not None:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            try:
                self._p256.verify(der, signing_input, _ECDSA_SHA256)
            except InvalidSignature:
                valid = False
        if not valid:
            raise SignatureError(
                f"the {part} signature does not verify: it was changed after signing, or it "
                "was signed by a different key",
                code=ErrorCode.PROOF_VERIFICATION_ERROR,
                details={"part": part, "reason": "badSignature"},
            )


@lru_cache(maxsize=1024)
def _key_from_raw(key_type: KeyType, raw: bytes) -> JwsKey:
    return JwsKey(key_type, raw)


@lru_cache(maxsize=1024)
def _key_from_jwk_members(kty: str, crv: str, x: str, y: str | None) -> JwsKey:
    jwk = {"kty": kty, "crv": crv, "x": x}
    if y is not None:
        jwk["y"] = y
    return _key_from_raw(*public_key_from_jwk(jwk))


def key_from_jwk(jwk: object, part: str) -> JwsKey:
    """The verification key of a public JWK: ``OKP``/``Ed25519`` or ``EC``/``P-256``.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` when it is not a JWK object, or holds a
        private key; ``unsupportedCryptosuite`` for other key types.
    :raises agent.errors.KeyMaterialError: for a malformed key (bad coordinates).
    """
    # The exact-type test first: a JWK parsed from JSON is a dict, and an ABC check costs more.
    if not (type(jwk) is dict or isinstance(jwk, Mapping)) or "d" in jwk:
        raise CryptosuiteError(
            f"the {part} key must be a public JWK object (without 'd')",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": part, "reason": "invalidJwk"},
        )
    kty, crv, x, y = jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y")
    if not (
        (kty == "OKP" and crv == "Ed25519" and isinstance(x, str) and y is None)
        or (kty == "EC" and crv == "P-256" and isinstance(x, str) and isinstance(y, str))
    ):
        raise CryptosuiteError(
            f"the {part} key is kty={kty!r} crv={crv!r}; supported: OKP Ed25519 (EdDSA) and "
            "EC P-256 (ES256)",
            code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            details={"part": part, "kty": str(kty)[:16], "crv": str(crv)[:16]},
        )
    return _key_from_jwk_members(kty, crv, x, y)


def key_from_resolved(key: ResolvedKey) -> JwsKey:
    """The verification key of a key dereferenced from a DID document.

    :raises CryptosuiteError: ``unsupportedCryptosuite`` for a key that is neither Ed25519 nor
        P-256.
    """
    return _key_from_raw(key.key_type, key.raw)
