"""SMART Health Cards (ES256 compact JWS) as a report of named checks.

https://spec.smarthealth.cards/: an external issuer (a pharmacy, a public health authority)
signs ``{"iss", "nbf", "exp"?, "vc": {"type": ["https://smarthealth.cards#health-card", ...],
"credentialSubject": {"fhirVersion", "fhirBundle"}}}`` with ES256; the payload is raw DEFLATE
(header ``zip: "DEF"``); the key is in the issuer's JWKS at ``<iss>/.well-known/jwks.json``,
named by ``kid`` (its JWK thumbprint). QR codes carry ``shc:/`` and two digits per character.

Checks: ``format`` (header, inflated payload, health-card type), ``proof`` (the ES256
signature with the ``kid``'s key of the issuer's JWKS), ``issuer`` (the key is published by
``iss`` itself), ``validity`` (``nbf``, ``exp``), ``trust`` (skipped: SMART issuers are
recognised by a directory such as the VCI list, not by this project's operator), ``status``
(skipped: SMART revocation lists are not checked).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, utcnow
from agent.credentials._sd_jwt_jose import b64url_decode, key_from_jwk, loads_json
from agent.errors import (
    CredentialError,
    CryptosuiteError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
)
from verifier.report import Check, CheckResult, VerificationReport

__all__ = ["HEALTH_CARD_TYPE", "decode_shc_numeric", "verify_smart_health_card"]

HEALTH_CARD_TYPE: Final = "https://smarthealth.cards#health-card"
_MAX_INFLATED: Final = 1024 * 1024

JwksSource = Mapping[str, Any] | Callable[[str], Awaitable[Mapping[str, Any]]]


def decode_shc_numeric(text: str) -> str:
    """The JWS of a ``shc:/<digits>`` QR payload (each pair of digits + 45 is a character).

    :raises InvalidInputError: not a single-chunk ``shc:/`` numeric payload.
    """
    body = text.strip().removeprefix("shc:/")
    if not body.isdigit() or len(body) % 2:
        raise InvalidInputError(
            "a SMART Health Card QR payload is 'shc:/' and an even number of digits "
            "(multi-chunk cards are not supported)",
            code=ErrorCode.PARSING_ERROR,
        )
    return "".join(chr(int(body[i : i + 2]) + 45) for i in range(0, len(body), 2))


def _malformed(message: str, reason: str) -> CryptosuiteError:
    return CryptosuiteError(
        message, code=ErrorCode.MALFORMED_PROOF_ERROR, details={"part": "jws", "reason": reason}
    )


def _decode(jws: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    pieces = jws.strip().split(".")
    if len(pieces) != 3:
        raise _malformed("a SMART Health Card is a compact JWS of three parts", "notCompactJws")
    header = loads_json(b64url_decode(pieces[0], "jws"), "jws")
    if not isinstance(header, dict):
        raise _malformed("the JWS header is not a JSON object", "header")
    if header.get("alg") != "ES256" or header.get("zip") != "DEF" or "kid" not in header:
        raise _malformed("a SMART Health Card header is alg ES256, zip DEF and a kid", "header")
    raw = b64url_decode(pieces[1], "jws")
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw, _MAX_INFLATED + 1)
    except zlib.error:
        raise _malformed("the payload is not raw DEFLATE", "deflate") from None
    if len(data) > _MAX_INFLATED or not inflater.eof:
        raise _malformed("the payload inflates beyond 1 MiB or is truncated", "deflate")
    payload = loads_json(data, "jws")
    if not isinstance(payload, dict):
        raise _malformed("the payload is not a JSON object", "payload")
    vc = payload.get("vc")
    types = vc.get("type") if isinstance(vc, dict) else None
    if (
        not isinstance(payload.get("iss"), str)
        or not isinstance(types, list)
        or HEALTH_CARD_TYPE not in types
        or not isinstance(vc, dict)
        or not isinstance(vc.get("credentialSubject"), dict)
    ):
        raise _malformed(
            f"the payload needs iss and vc.type including {HEALTH_CARD_TYPE}", "payload"
        )
    signing_input = f"{pieces[0]}.{pieces[1]}".encode("ascii")
    return header, payload, signing_input, b64url_decode(pieces[2], "jws")


async def verify_smart_health_card(
    jws: object,
    *,
    jwks: JwksSource,
    now: datetime | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> VerificationReport:
    """Verify a SMART Health Card JWS (or its ``shc:/`` QR text).

    :param jwks: the issuer's JWKS, or ``await jwks(iss)`` returning it (fetched from
        ``<iss>/.well-known/jwks.json``, or a cached copy offline).
    :raises InvalidInputError: ``jws`` is not a string.
    """
    if not isinstance(jws, str):
        raise InvalidInputError("a SMART Health Card is a string", code=ErrorCode.PARSING_ERROR)
    at = now or utcnow()
    text = decode_shc_numeric(jws) if jws.strip().startswith("shc:/") else jws
    results: list[CheckResult] = []
    try:
        header, payload, signing_input, signature = _decode(text)
    except HealthMyDataError as error:
        results.append(CheckResult.failed(Check.FORMAT, error))
        for check in (Check.PROOF, Check.ISSUER, Check.VALIDITY):
            results.append(CheckResult.skipped(check, "not checked: the card could not be read"))
        return VerificationReport("smart-health-card", tuple(results))
    results.append(CheckResult.passed(Check.FORMAT, "a SMART Health Card (ES256, DEFLATE)"))
    iss = str(payload["iss"])
    proof_ok = False
    try:
        keys = jwks if isinstance(jwks, Mapping) else await jwks(iss)
        matching = [
            k for k in keys.get("keys", []) if isinstance(k, dict) and k.get("kid") == header["kid"]
        ]
        if not matching:
            raise ProofError(
                "the issuer's JWKS has no key with the card's kid",
                code=ErrorCode.PROOF_VERIFICATION_ERROR,
                details={"part": "jws", "reason": "unknownKid"},
            )
        public = {k: v for k, v in matching[0].items() if k in ("kty", "crv", "x", "y")}
        key_from_jwk(public, "jws").verify("ES256", signing_input, signature, "jws")
        proof_ok = True
        results.append(CheckResult.passed(Check.PROOF, "ES256 signature verifies"))
    except HealthMyDataError as error:
        results.append(CheckResult.failed(Check.PROOF, error))
    if proof_ok:
        results.append(
            CheckResult.passed(Check.ISSUER, f"the key is in the JWKS published by {iss[:60]}")
        )
    else:
        results.append(CheckResult.skipped(Check.ISSUER, "the signature did not verify"))
    try:
        instant, skew = at.timestamp(), max_clock_skew.total_seconds()
        nbf, exp = payload.get("nbf"), payload.get("exp")
        if isinstance(nbf, int | float) and instant + skew < nbf:
            raise CredentialError(
                "the card is not valid yet (nbf)",
                code=ErrorCode.RANGE_ERROR,
                details={"reason": "notYetValid"},
            )
        if isinstance(exp, int | float) and instant - skew > exp:
            raise CredentialError(
                "the card has expired (exp)",
                code=ErrorCode.RANGE_ERROR,
                details={"reason": "expired"},
            )
        results.append(CheckResult.passed(Check.VALIDITY, "within its validity period"))
    except HealthMyDataError as error:
        results.append(CheckResult.failed(Check.VALIDITY, error))
    results.append(
        CheckResult.skipped(Check.STATUS, "SMART Health Card revocation lists are not checked")
    )
    claims = payload["vc"]["credentialSubject"] if proof_ok else None
    return VerificationReport(
        "smart-health-card",
        tuple(results),
        ("the issuer is recognised by its JWKS only, not by a trusted operator",),
        claims=json.loads(json.dumps(claims)) if claims is not None else None,
        issuer=iss,
    )
