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
(skipped: SMART revocation lists are not checked). The codec and the signature check are
:mod:`agent.credentials.smart_health_cards`, shared with the wallet.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, utcnow
from agent.credentials.smart_health_cards import (
    HEALTH_CARD_TYPE,
    QR_PREFIX,
    SmartHealthCard,
    decode_card,
    decode_numeric,
    issuer_key,
    verify_card,
)
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

_MAX_INFLATED: Final = 1024 * 1024

JwksSource = Mapping[str, Any] | Callable[[str], Awaitable[Mapping[str, Any]]]


def decode_shc_numeric(text: str) -> str:
    """The JWS of a ``shc:/<digits>`` QR payload (each pair of digits + 45 is a character).

    :raises InvalidInputError: not a single-chunk ``shc:/`` numeric payload.
    """
    body = text.strip().removeprefix(QR_PREFIX)
    if not body.isdigit():
        raise InvalidInputError(
            "a SMART Health Card QR payload is 'shc:/' and an even number of digits "
            "(multi-chunk cards are not supported)",
            code=ErrorCode.PARSING_ERROR,
        )
    return decode_numeric(QR_PREFIX + body)


def _malformed(message: str, reason: str) -> CryptosuiteError:
    return CryptosuiteError(
        message, code=ErrorCode.MALFORMED_PROOF_ERROR, details={"part": "jws", "reason": reason}
    )


def _decode(jws: str) -> SmartHealthCard:
    card = decode_card(jws.strip(), max_bytes=_MAX_INFLATED)
    header, vc = card.header, card.payload["vc"]
    if header.get("alg") != "ES256" or header.get("zip") != "DEF" or "kid" not in header:
        raise _malformed("a SMART Health Card header is alg ES256, zip DEF and a kid", "header")
    types = vc.get("type")
    if (
        not isinstance(types, list)
        or HEALTH_CARD_TYPE not in types
        or not isinstance(vc.get("credentialSubject"), dict)
    ):
        raise _malformed(
            f"the payload needs iss and vc.type including {HEALTH_CARD_TYPE}", "payload"
        )
    return card


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
    text = decode_shc_numeric(jws) if jws.strip().startswith(QR_PREFIX) else jws
    results: list[CheckResult] = []
    try:
        card = _decode(text)
    except HealthMyDataError as error:
        results.append(CheckResult.failed(Check.FORMAT, error))
        for check in (Check.PROOF, Check.ISSUER, Check.VALIDITY):
            results.append(CheckResult.skipped(check, "not checked: the card could not be read"))
        return VerificationReport("smart-health-card", tuple(results))
    results.append(CheckResult.passed(Check.FORMAT, "a SMART Health Card (ES256, DEFLATE)"))
    payload = card.payload
    iss = str(payload["iss"])
    proof_ok = False
    try:
        keys = jwks if isinstance(jwks, Mapping) else await jwks(iss)
        key = issuer_key(keys, card.header["kid"])
        if key is None:
            raise ProofError(
                "the issuer's JWKS has no P-256 key with the card's kid",
                code=ErrorCode.PROOF_VERIFICATION_ERROR,
                details={"part": "jws", "reason": "unknownKid"},
            )
        verify_card(card, key)
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
