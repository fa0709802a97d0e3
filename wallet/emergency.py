"""The emergency card: the sections of the EmergencySummary a citizen chooses, in ONE QR code.

:func:`emergency_card` presents the hospital-signed EmergencySummary SD-JWT VC with only the
chosen sections (``allergies``, ``problems``, ``medications``, ``bloodType``,
``advanceDirective``, ``emergencyContact``), binds it with a Key Binding JWT that carries the
expiry the citizen chose (:func:`agent.credentials.emergency_qr.bind_emergency_card`: the
module docstring there says why), packs it with
:func:`agent.credentials.emergency_qr.encode_emergency_qr` and draws the QR code with segno at
error correction level L (boosted to a higher level when that fits the same version). The card
is refused, with the number of digits over the limit, when it needs a QR code larger than
version 22 (SMART Health Cards' single-QR limit), so the wallet can offer fewer sections;
:func:`emergency_sections` lists the sections a credential has.

Rules for the Key Binding JWT: a credential bound to the citizen's key (``cnf``, as the
hospital issues every SD-JWT VC) needs ``holder_signer`` and ``lifetime``, since a verifier
refuses a card of such a credential without its KB-JWT (otherwise removing it would remove the
expiry). A credential without ``cnf`` gives a card without KB-JWT, valid as long as the
credential (``lifetime`` must then be ``None``: there is no key to sign a chosen expiry).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from agent.credentials.emergency_qr import (
    EMERGENCY_SUMMARY_VCT,
    MAX_CARD_LIFETIME,
    MAX_DIGITS,
    MAX_QR_VERSION,
    PREFIX,
    bind_emergency_card,
    card_expiry,
    encode_emergency_qr,
    qr_segments,
)
from agent.credentials.sd_jwt import SdJwt, parse_sd_jwt, present
from agent.errors import CredentialError, ErrorCode, InvalidInputError, ProofError
from agent.keys.signer import Signer

__all__ = ["PNG_SCALE", "SECTIONS", "EmergencyCard", "emergency_card", "emergency_sections"]

#: The EmergencySummary's sections in the order a doctor reads them (``issuer.templates``).
SECTIONS = (
    "allergies",
    "problems",
    "medications",
    "bloodType",
    "advanceDirective",
    "emergencyContact",
)

#: Pixels per QR module in the PNG: a version 20 card is 505 pixels wide with its border.
PNG_SCALE = 5


@dataclass(frozen=True, slots=True)
class EmergencyCard:
    """An emergency card ready to print or show.

    :param payload_text: the QR code's text, ``HM1:`` and digits.
    :param qr_version: the QR version (at most 22).
    :param png_bytes: the QR code as PNG.
    :param svg_text: the QR code as SVG.
    :param expires: when verifiers stop accepting it: the earlier of the chosen expiry and the
        credential's ``exp``; ``None`` when neither exists.
    :param sections: the sections on the card, in the order asked for.
    :param presentation: the SD-JWT presentation the QR code holds.
    :param error_level: the QR error correction level used (``L``, or higher when it fitted).
    :param status_warning: set by :func:`wallet.api.make_emergency_card` when the summary's
        status (revoked?) could not be checked: why, to show the citizen.
    """

    payload_text: str
    qr_version: int
    png_bytes: bytes
    svg_text: str
    expires: datetime | None
    sections: tuple[str, ...]
    presentation: str
    error_level: str
    status_warning: str | None = None


def _parse_summary(sd_jwt_credential: str) -> SdJwt:
    parsed = parse_sd_jwt(sd_jwt_credential)
    if parsed.payload.get("vct") != EMERGENCY_SUMMARY_VCT:
        raise InvalidInputError(
            "an emergency card is made from an EmergencySummary credential (vct "
            f"{EMERGENCY_SUMMARY_VCT}); ask the hospital for one",
            details={"reason": "notEmergencySummary"},
        )
    return parsed


def emergency_sections(sd_jwt_credential: str | SdJwt) -> list[str]:
    """The sections an EmergencySummary SD-JWT VC can disclose, in the order of :data:`SECTIONS`
    (then any others by name).

    :raises InvalidInputError: not an EmergencySummary SD-JWT VC.
    :raises agent.errors.CryptosuiteError: a malformed SD-JWT.
    """
    parsed = (
        _parse_summary(sd_jwt_credential)
        if isinstance(sd_jwt_credential, str)
        else sd_jwt_credential
    )
    disclosed = {str(path[0]) for path in parsed.paths.values() if len(path) == 1}
    known = [name for name in SECTIONS if name in disclosed]
    return known + sorted(disclosed.difference(SECTIONS))


def _check_sections(sections: Sequence[str], available: list[str]) -> tuple[str, ...]:
    chosen = (sections,) if isinstance(sections, str) else tuple(sections)
    unknown = sorted({str(s)[:40] for s in chosen if s not in available})
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise InvalidInputError(
            "choose one or more different sections of this credential: "
            + ", ".join(available)
            + (f" (not in it: {', '.join(unknown)})" if unknown else ""),
            details={"reason": "sections", "unknown": unknown, "available": available},
        )
    return chosen


def _issuer_exp(parsed: SdJwt) -> float | None:
    exp = parsed.payload.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _bind(
    presentation: str,
    parsed: SdJwt,
    holder_signer: Signer | None,
    lifetime: timedelta | None,
    now: datetime,
) -> str:
    bound = isinstance(parsed.payload.get("cnf"), dict)
    if not bound:
        if holder_signer is not None or lifetime is not None:
            raise ProofError(
                "this credential is not bound to your key (no cnf), so the card cannot carry "
                "an expiry you choose; make it without holder_signer and lifetime (it is then "
                "valid as long as the credential) or ask the hospital for a key-bound one",
                code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
                details={"part": "issuerJwt", "reason": "noHolderKey"},
            )
        return presentation
    if holder_signer is None or lifetime is None:
        raise ProofError(
            "this credential is bound to your key: sign the card (holder_signer) and choose how "
            "long it is valid (lifetime); verifiers refuse it unsigned",
            code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
            details={"part": "keyBindingJwt", "reason": "holderSignerRequired"},
        )
    if not timedelta(0) < lifetime <= MAX_CARD_LIFETIME:
        raise InvalidInputError(
            f"a card's lifetime is more than zero and at most {MAX_CARD_LIFETIME.days} days",
            details={"reason": "lifetime"},
        )
    exp = now + lifetime
    issuer_exp = _issuer_exp(parsed)
    if issuer_exp is not None:
        exp = min(exp, datetime.fromtimestamp(issuer_exp, UTC))
    return bind_emergency_card(presentation, holder_signer, iat=now, exp=exp)


def _too_large(
    digits: int | None, version: int | None, sections: tuple[str, ...]
) -> InvalidInputError:
    over = None if digits is None else max(digits - MAX_DIGITS, 1)
    need = "far more than" if digits is None else f"{digits} digits, {over} over"
    return InvalidInputError(
        f"these {len(sections)} sections need {need} the {MAX_DIGITS} digits that fit one QR "
        f"code (version {MAX_QR_VERSION}, error correction L); choose fewer sections",
        code=ErrorCode.EMERGENCY_CARD_TOO_LARGE,
        details={
            "digits": digits,
            "limit": MAX_DIGITS,
            "over": over,
            "version": version,
            "sections": list(sections),
        },
    )


def emergency_card(
    sd_jwt_credential: str,
    *,
    sections: Sequence[str],
    holder_signer: Signer | None,
    lifetime: timedelta | None,
    now: datetime,
) -> EmergencyCard:
    """An emergency card of ``sections`` of an EmergencySummary SD-JWT VC, in one QR code.

    :param sd_jwt_credential: the SD-JWT VC as the hospital issued it (no KB-JWT).
    :param sections: the sections to disclose (:func:`emergency_sections`); the others stay
        hidden.
    :param holder_signer: the citizen's key of the credential's ``cnf``; ``None`` for a
        credential without ``cnf``.
    :param lifetime: how long the card is valid from ``now`` (at most
        :data:`agent.credentials.emergency_qr.MAX_CARD_LIFETIME`); never past the
        credential's own ``exp``. ``None`` for a credential without ``cnf``.
    :param now: the current instant, timezone-aware.
    :raises InvalidInputError: not an EmergencySummary, unknown or no sections, a bad lifetime;
        ``emergencyCardTooLarge`` (``details['over']``: digits over the limit) when the
        sections do not fit one QR code of version 22.
    :raises ProofError: ``sdJwtKeyBindingMissing`` when the signer and lifetime do not match
        the credential's binding (see the module docstring); ``PROOF_VERIFICATION_ERROR`` when
        ``holder_signer`` is not the credential's key.
    :raises CredentialError: ``RANGE_ERROR`` when the credential has expired.
    :raises agent.errors.CryptosuiteError: a malformed SD-JWT.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError("now must be a timezone-aware datetime")
    parsed = _parse_summary(sd_jwt_credential)
    chosen = _check_sections(sections, emergency_sections(parsed))
    issuer_exp = _issuer_exp(parsed)
    if issuer_exp is not None and issuer_exp <= now.timestamp():
        raise CredentialError(
            "the EmergencySummary credential has expired; ask the hospital for a new one",
            code=ErrorCode.RANGE_ERROR,
            details={"part": "issuerJwt", "claim": "exp", "reason": "expired"},
        )
    presentation = present(parsed, disclose=[(name,) for name in chosen])
    presentation = _bind(presentation, parsed, holder_signer, lifetime, now)
    try:
        payload = encode_emergency_qr(presentation)
    except InvalidInputError as exc:
        if exc.code is not ErrorCode.INPUT_TOO_LARGE:
            raise
        # Over MAX_PACKED_BYTES before compression: no QR code of any version holds it.
        raise _too_large(None, None, chosen) from exc
    digits = len(payload) - len(PREFIX)
    if digits > MAX_DIGITS:
        raise _too_large(digits, None, chosen)
    import segno  # with the first card drawn, not with the wallet service's start-up

    # segno's annotations know neither a list of segments nor that version is an int here.
    qr: Any = segno.make(cast(Any, qr_segments(payload)), error="l", micro=False, boost_error=True)
    if qr.version > MAX_QR_VERSION:  # pragma: no cover - MAX_DIGITS always fits version 22
        raise _too_large(digits, qr.version, chosen)
    png = io.BytesIO()
    qr.save(png, kind="png", scale=PNG_SCALE, border=4)
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=PNG_SCALE, border=4, xmldecl=False, title="Emergency card")
    return EmergencyCard(
        payload_text=payload,
        qr_version=qr.version,
        png_bytes=png.getvalue(),
        svg_text=svg.getvalue().decode("utf-8"),
        expires=card_expiry(presentation),
        sections=chosen,
        presentation=presentation,
        error_level=str(qr.error),
    )
