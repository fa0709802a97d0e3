"""SMART Health Cards: read the three forms a citizen may hold, and check the ES256 signature.

SMART Health Cards Framework 1.x (https://spec.smarthealth.cards/):

* a compact JWS (header ``zip: DEF``, ``alg: ES256``, ``kid`` = the key's JWK thumbprint) whose
  payload is raw DEFLATE (RFC 1951, no zlib header) compressed JSON;
* a ``.smart-health-card`` file: ``{"verifiableCredential": ["<jws>", ...]}``;
* QR text: ``shc:/`` then two decimal digits per JWS character (``ord(c) - 45``); a card too
  large for one QR code is split into chunks ``shc:/<i>/<n>/<digits>`` (deprecated by the spec
  but found in its examples), joined here in order.

The issuer's keys are its JWKS at ``<iss>/.well-known/jwks.json``; :func:`fetch_jwks` reads it
through an injected ``httpx.AsyncClient`` (STYLE 9). Verification is ES256 (ECDSA P-256 with
SHA-256, the signature as raw ``r || s``) with ``cryptography``. The JWS is kept exactly as
received; nothing here re-encodes it.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from agent.errors import ErrorCode, InvalidInputError, SignatureError
from agent.jsonio import DEFAULT_MAX_BYTES, parse_json_object
from wallet.errors import CredentialImportError

__all__ = [
    "SHC_FILE_MEMBER",
    "ShcJws",
    "decode_numeric",
    "decode_shc_jws",
    "fetch_jwks",
    "jws_list",
    "verify_shc_jws",
]

#: The member of a ``.smart-health-card`` file that lists the JWSs.
SHC_FILE_MEMBER: Final = "verifiableCredential"
_QR_PREFIX: Final = "shc:/"
_CHUNK: Final = re.compile(r"shc:/(?:(\d+)/(\d+)/)?(\d+)")
_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_JWKS_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ShcJws:
    """A decoded (not yet verified) SMART Health Card JWS.

    :param jws: the compact JWS exactly as received.
    :param header: its protected header.
    :param payload: the inflated JSON payload (``iss``, ``nbf``, ``vc``).
    """

    jws: str
    header: dict[str, Any]
    payload: dict[str, Any]


def _b64url(value: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise _malformed(f"the SMART Health Card {what} is not base64url") from None


def _malformed(message: str) -> CredentialImportError:
    return CredentialImportError(message, code=ErrorCode.MALFORMED_PROOF_ERROR)


def decode_numeric(text: str | Sequence[str]) -> str:
    """The JWS encoded in ``shc:/`` QR text: one string (chunks separated by whitespace) or a
    sequence of chunk strings, in any order.

    :raises CredentialImportError: ``MALFORMED_PROOF_ERROR`` for text that is not ``shc:/``
        numeric data, an odd number of digits, a digit pair above 77, or missing chunks.
    """
    parts = text.split() if isinstance(text, str) else [p.strip() for p in text]
    chunks: dict[int, str] = {}
    total = 1
    for part in parts:
        match = _CHUNK.fullmatch(part)
        if match is None:
            raise _malformed("QR text must be shc:/ followed by digits (or shc:/i/n/digits)")
        index = int(match[1]) if match[1] else 1
        total = int(match[2]) if match[2] else 1
        chunks[index] = match[3]
    if sorted(chunks) != list(range(1, total + 1)):
        raise _malformed(f"the QR text has chunks {sorted(chunks)} of {total}; scan them all")
    digits = "".join(chunks[i] for i in range(1, total + 1))
    if len(digits) % 2:
        raise _malformed("QR numeric data must have an even number of digits")
    out = []
    for i in range(0, len(digits), 2):
        value = int(digits[i : i + 2])
        if value > 77:
            raise _malformed("QR numeric data has a pair above 77, which encodes no character")
        out.append(chr(value + 45))
    return "".join(out)


def jws_list(item: str | Mapping[str, Any]) -> list[str]:
    """The JWSs of any of the three forms: a compact JWS, a file object, or ``shc:/`` text.

    :raises CredentialImportError: ``walletUnsupportedFormat`` for anything else.
    """
    if isinstance(item, Mapping):
        listed = item.get(SHC_FILE_MEMBER)
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(x, str) and _JWS.fullmatch(x) for x in listed)
        ):
            raise CredentialImportError(
                "a .smart-health-card file holds verifiableCredential: a list of compact JWS"
            )
        return list(listed)
    text = item.strip()
    if text.startswith(_QR_PREFIX):
        jws = decode_numeric(text)
        if not _JWS.fullmatch(jws):
            raise _malformed("the shc:/ QR text does not encode a compact JWS")
        return [jws]
    if _JWS.fullmatch(text):
        return [text]
    raise CredentialImportError("not a SMART Health Card JWS, file or shc:/ QR text")


def decode_shc_jws(jws: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ShcJws:
    """Decode a SMART Health Card JWS: header, then the payload inflated when ``zip`` is DEF.

    :raises CredentialImportError: ``MALFORMED_PROOF_ERROR`` for bad base64url or JSON, a
        payload that does not inflate or inflates beyond ``max_bytes``, or a missing ``iss``
        or ``vc``.
    """
    if not _JWS.fullmatch(jws):
        raise _malformed("a SMART Health Card is a compact JWS (three base64url parts)")
    header_b64, payload_b64, _ = jws.split(".")
    try:
        header = parse_json_object(_b64url(header_b64, "header"))
    except InvalidInputError:
        raise _malformed("the SMART Health Card header is not a JSON object") from None
    data = _b64url(payload_b64, "payload")
    if header.get("zip") == "DEF":
        inflater = zlib.decompressobj(wbits=-15)
        try:
            data = inflater.decompress(data, max_bytes)
        except zlib.error:
            raise _malformed("the SMART Health Card payload does not inflate (zip DEF)") from None
        if inflater.unconsumed_tail:
            raise _malformed(f"the SMART Health Card payload inflates beyond {max_bytes} bytes")
    elif "zip" in header:
        raise _malformed("a SMART Health Card header zip must be DEF")
    try:
        payload = parse_json_object(data, max_bytes=max_bytes)
    except InvalidInputError:
        raise _malformed("the SMART Health Card payload is not a JSON object") from None
    if not isinstance(payload.get("iss"), str) or not isinstance(payload.get("vc"), dict):
        raise _malformed("a SMART Health Card payload needs iss (a URL) and vc (an object)")
    return ShcJws(jws, header, payload)


def _coordinate(jwk: Mapping[str, Any], name: str) -> int:
    value = jwk.get(name)
    raw = _b64url(value, f"JWK {name}") if isinstance(value, str) else b""
    if len(raw) != 32:
        raise _malformed(f"the issuer JWK {name} is not a 32-byte P-256 coordinate")
    return int.from_bytes(raw, "big")


def verify_shc_jws(card: ShcJws, jwks: Mapping[str, Any]) -> None:
    """Check the card's ES256 signature with the JWKS key whose ``kid`` it names.

    :raises CredentialImportError: ``walletIssuerKeyNotFound`` when the JWKS has no such
        P-256 key; ``MALFORMED_PROOF_ERROR`` for a header that is not ES256.
    :raises SignatureError: ``PROOF_VERIFICATION_ERROR`` when the signature does not verify.
    """
    if card.header.get("alg") != "ES256":
        raise _malformed("a SMART Health Card must be signed ES256")
    kid = card.header.get("kid")
    keys = jwks.get("keys")
    matches = [
        k
        for k in (keys if isinstance(keys, list) else [])
        if isinstance(k, dict) and k.get("kid") == kid and k.get("kty") == "EC"
    ]
    if not isinstance(kid, str) or len(matches) != 1 or matches[0].get("crv") != "P-256":
        raise CredentialImportError(
            "the issuer's JWKS has no P-256 key with the card's kid; the card was signed by "
            "another key, or the JWKS is of another issuer",
            code=ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND,
            details={"kid": str(kid)[:64], "iss": str(card.payload.get("iss"))[:200]},
        )
    jwk = matches[0]
    try:
        public = ec.EllipticCurvePublicNumbers(
            _coordinate(jwk, "x"), _coordinate(jwk, "y"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise _malformed("the issuer JWK is not a point on P-256") from None
    header_b64, payload_b64, signature_b64 = card.jws.split(".")
    signature = _b64url(signature_b64, "signature")
    if len(signature) != 64:
        raise SignatureError(
            "the SMART Health Card signature is not a 64-byte ES256 signature",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
        )
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{payload_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError(
            "the SMART Health Card signature does not verify: the card was altered, or it was "
            "signed with another key",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"kid": kid[:64]},
        ) from None


async def fetch_jwks(iss: str, client: httpx.AsyncClient) -> dict[str, Any]:
    """The issuer's JWKS from ``<iss>/.well-known/jwks.json`` (SMART Health Cards, "Determining
    keys associated with an issuer").

    :raises CredentialImportError: ``walletIssuerKeyNotFound`` when ``iss`` is not https, the
        fetch fails, or the answer is not a JWKS.
    """
    if not iss.startswith("https://"):
        raise CredentialImportError(
            "a SMART Health Card issuer must be an https URL to fetch its keys",
            code=ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND,
            details={"iss": iss[:200]},
        )
    url = iss.rstrip("/") + "/.well-known/jwks.json"
    try:
        response = await client.get(url)
        body = response.content
        if response.status_code != 200 or len(body) > _MAX_JWKS_BYTES:
            raise ValueError("bad status or size")
        jwks = json.loads(body)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWKS")
    except (httpx.HTTPError, ValueError):
        raise CredentialImportError(
            f"could not read the issuer's keys from {url}; import with jwks= when offline",
            code=ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND,
            details={"url": url},
        ) from None
    return jwks
