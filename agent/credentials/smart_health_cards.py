"""SMART Health Cards: the ``shc:/`` QR codec, the DEFLATE payload and the ES256 signature.

SMART Health Cards Framework 1.x (https://spec.smarthealth.cards/):

* a compact JWS (header ``zip: DEF``, ``alg: ES256``, ``kid`` = the key's JWK thumbprint) whose
  payload is raw DEFLATE (RFC 1951, no zlib header) compressed JSON ``{"iss", "nbf", "exp"?,
  "vc"}``;
* QR text: ``shc:/`` then two decimal digits per JWS character (``ord(c) - 45``); a card too
  large for one QR code is split into chunks ``shc:/<i>/<n>/<digits>`` (deprecated by the spec
  but found in its examples), joined here in order;
* the issuer's keys: its JWKS at ``<iss>/.well-known/jwks.json``, the card's key named by
  ``kid``.

Shared by the wallet (import, :mod:`wallet.shc`) and the verifier (a report of checks,
:mod:`verifier.shc`); each turns these errors into its own. The JWS is kept exactly as received;
nothing here re-encodes it. Errors: :class:`agent.errors.InvalidInputError` (``PARSING_ERROR``)
for QR text; :class:`agent.errors.CryptosuiteError` (``MALFORMED_PROOF_ERROR``, with
``details['part']`` ``jws`` and a ``reason``) for a card that cannot be read;
:class:`agent.errors.SignatureError` (``PROOF_VERIFICATION_ERROR``) for a signature that does not
verify.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.credentials.jose import b64url_decode, key_from_jwk, loads_json
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError
from agent.jsonio import DEFAULT_MAX_BYTES

__all__ = [
    "HEALTH_CARD_TYPE",
    "QR_PREFIX",
    "SmartHealthCard",
    "decode_card",
    "decode_numeric",
    "issuer_key",
    "verify_card",
]

#: The ``vc.type`` every SMART Health Card has.
HEALTH_CARD_TYPE: Final = "https://smarthealth.cards#health-card"
#: The start of QR text.
QR_PREFIX: Final = "shc:/"
_CHUNK: Final = re.compile(r"shc:/(?:(\d+)/(\d+)/)?(\d+)")
_PART: Final = "jws"


@dataclass(frozen=True, slots=True)
class SmartHealthCard:
    """A decoded (not yet verified) SMART Health Card JWS.

    :param jws: the compact JWS exactly as received.
    :param header: its protected header.
    :param payload: the inflated JSON payload (``iss``, ``nbf``, ``vc``).
    """

    jws: str
    header: dict[str, Any]
    payload: dict[str, Any]


def _unreadable_qr(message: str, reason: str) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.PARSING_ERROR, details={"reason": reason})


def decode_numeric(text: str | Sequence[str]) -> str:
    """The JWS encoded in ``shc:/`` QR text: one string (chunks separated by whitespace) or a
    sequence of chunk strings, in any order.

    :raises InvalidInputError: ``PARSING_ERROR`` for text that is not ``shc:/`` numeric data,
        an odd number of digits, a digit pair above 77, or missing chunks.
    """
    parts = text.split() if isinstance(text, str) else [p.strip() for p in text]
    chunks: dict[int, str] = {}
    total = 1
    for part in parts:
        match = _CHUNK.fullmatch(part)
        if match is None:
            raise _unreadable_qr(
                "QR text must be shc:/ followed by digits (or shc:/i/n/digits)", "notNumeric"
            )
        index = int(match[1]) if match[1] else 1
        total = int(match[2]) if match[2] else 1
        chunks[index] = match[3]
    if sorted(chunks) != list(range(1, total + 1)):
        raise _unreadable_qr(
            f"the QR text has chunks {sorted(chunks)} of {total}; scan them all", "missingChunks"
        )
    digits = "".join(chunks[i] for i in range(1, total + 1))
    if len(digits) % 2:
        raise _unreadable_qr("QR numeric data must have an even number of digits", "oddDigits")
    out = []
    for i in range(0, len(digits), 2):
        value = int(digits[i : i + 2])
        if value > 77:
            raise _unreadable_qr(
                "QR numeric data has a pair above 77, which encodes no character", "outOfRange"
            )
        out.append(chr(value + 45))
    return "".join(out)


def _malformed(message: str, reason: str) -> CryptosuiteError:
    return CryptosuiteError(
        message, code=ErrorCode.MALFORMED_PROOF_ERROR, details={"part": _PART, "reason": reason}
    )


def _inflate(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=-15)
    try:
        inflated = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise _malformed("the payload is not raw DEFLATE (zip DEF)", "deflate") from None
    if len(inflated) > max_bytes or not inflater.eof:
        raise _malformed(
            f"the payload inflates beyond {max_bytes} bytes or is truncated", "deflate"
        )
    return inflated


def decode_card(jws: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SmartHealthCard:
    """Decode a SMART Health Card JWS: header, then the payload inflated when ``zip`` is DEF.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` when it is not three base64url parts,
        for JSON that is not an object, a ``zip`` other than DEF, a payload that does not inflate
        or is larger than ``max_bytes``, or a missing ``iss`` or ``vc``.
    """
    pieces = jws.split(".")
    if len(pieces) != 3:
        raise _malformed("a SMART Health Card is a compact JWS of three parts", "notCompactJws")
    header = loads_json(b64url_decode(pieces[0], _PART), _PART)
    if not isinstance(header, dict):
        raise _malformed("the JWS header is not a JSON object", "header")
    data = b64url_decode(pieces[1], _PART)
    if header.get("zip") == "DEF":
        data = _inflate(data, max_bytes)
    elif "zip" in header:
        raise _malformed("a SMART Health Card header zip must be DEF", "header")
    elif len(data) > max_bytes:
        raise _malformed(f"the payload is larger than {max_bytes} bytes", "payload")
    payload = loads_json(data, _PART)
    if not isinstance(payload, dict):
        raise _malformed("the payload is not a JSON object", "payload")
    if not isinstance(payload.get("iss"), str) or not isinstance(payload.get("vc"), dict):
        raise _malformed(
            "a SMART Health Card payload needs iss (a URL) and vc (an object)", "payload"
        )
    b64url_decode(pieces[2], _PART)
    return SmartHealthCard(jws, header, payload)


def issuer_key(jwks: Mapping[str, Any], kid: object) -> Mapping[str, Any] | None:
    """The one EC P-256 key of ``jwks`` named ``kid``; None when there is none (or several)."""
    keys = jwks.get("keys")
    matches = [
        k
        for k in (keys if isinstance(keys, list) else [])
        if isinstance(k, dict) and k.get("kid") == kid and k.get("kty") == "EC"
    ]
    if not isinstance(kid, str) or len(matches) != 1 or matches[0].get("crv") != "P-256":
        return None
    return matches[0]


def verify_card(card: SmartHealthCard, key: Mapping[str, Any]) -> None:
    """Check the card's ES256 signature with the issuer's public JWK ``key`` (see
    :func:`issuer_key`).

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a header that is not ES256 or a key
        that is not on P-256, ``unsupportedCryptosuite`` for a key of another type.
    :raises agent.errors.KeyMaterialError: for malformed key coordinates.
    :raises SignatureError: ``PROOF_VERIFICATION_ERROR`` when the signature does not verify.
    """
    if card.header.get("alg") != "ES256":
        raise _malformed("a SMART Health Card must be signed ES256", "header")
    header_b64, payload_b64, signature_b64 = card.jws.split(".")
    public = {k: v for k, v in key.items() if k in ("kty", "crv", "x", "y")}
    key_from_jwk(public, _PART).verify(
        "ES256",
        f"{header_b64}.{payload_b64}".encode("ascii"),
        b64url_decode(signature_b64, _PART),
        _PART,
    )
