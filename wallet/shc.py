"""SMART Health Cards in the wallet: read the three forms a citizen may hold, check the ES256
signature, fetch the issuer's keys.

The codec and the signature check are :mod:`agent.credentials.smart_health_cards`, shared with
the verifier; this module adds the three forms and the wallet's errors:

* a compact JWS (header ``zip: DEF``, ``alg: ES256``, ``kid`` = the key's JWK thumbprint);
* a ``.smart-health-card`` file: ``{"verifiableCredential": ["<jws>", ...]}``;
* QR text: ``shc:/`` then two decimal digits per JWS character, in one or more chunks.

The issuer's keys are its JWKS at ``<iss>/.well-known/jwks.json``; :func:`fetch_jwks` reads it
through an injected ``httpx.AsyncClient`` (STYLE 9). The JWS is kept exactly as received;
nothing here re-encodes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import httpx

from agent.credentials import smart_health_cards
from agent.credentials.smart_health_cards import QR_PREFIX
from agent.credentials.smart_health_cards import SmartHealthCard as ShcJws
from agent.errors import ErrorCode, HealthMyDataError, SignatureError
from agent.jsonio import DEFAULT_MAX_BYTES
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
_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_JWKS_BYTES: Final = 64 * 1024


def _malformed(message: str) -> CredentialImportError:
    return CredentialImportError(message, code=ErrorCode.MALFORMED_PROOF_ERROR)


@contextmanager
def _import_errors() -> Iterator[None]:
    """The shared codec's errors as the wallet's ``MALFORMED_PROOF_ERROR``; a signature that does
    not verify stays a :class:`SignatureError`."""
    try:
        yield
    except SignatureError:
        raise
    except HealthMyDataError as error:
        raise CredentialImportError(
            f"not a readable SMART Health Card: {error.message}",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details=error.details,
        ) from None


def decode_numeric(text: str | Sequence[str]) -> str:
    """The JWS encoded in ``shc:/`` QR text: one string (chunks separated by whitespace) or a
    sequence of chunk strings, in any order.

    :raises CredentialImportError: ``MALFORMED_PROOF_ERROR`` for text that is not ``shc:/``
        numeric data, an odd number of digits, a digit pair above 77, or missing chunks.
    """
    with _import_errors():
        return smart_health_cards.decode_numeric(text)


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
    if text.startswith(QR_PREFIX):
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
    with _import_errors():
        return smart_health_cards.decode_card(jws, max_bytes=max_bytes)


def verify_shc_jws(card: ShcJws, jwks: Mapping[str, Any]) -> None:
    """Check the card's ES256 signature with the JWKS key whose ``kid`` it names.

    :raises CredentialImportError: ``walletIssuerKeyNotFound`` when the JWKS has no such
        P-256 key; ``MALFORMED_PROOF_ERROR`` for a header that is not ES256.
    :raises SignatureError: ``PROOF_VERIFICATION_ERROR`` when the signature does not verify.
    """
    if card.header.get("alg") != "ES256":
        raise _malformed("a SMART Health Card must be signed ES256")
    kid = card.header.get("kid")
    key = smart_health_cards.issuer_key(jwks, kid)
    if key is None:
        raise CredentialImportError(
            "the issuer's JWKS has no P-256 key with the card's kid; the card was signed by "
            "another key, or the JWKS is of another issuer",
            code=ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND,
            details={"kid": str(kid)[:64], "iss": str(card.payload.get("iss"))[:200]},
        )
    with _import_errors():
        smart_health_cards.verify_card(card, key)


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
