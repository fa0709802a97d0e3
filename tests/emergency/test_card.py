"""Emergency cards from real IPS bundles: one QR code each, verified with no network at all."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import segno

from agent.credentials.emergency_qr import (
    EMERGENCY_SUMMARY_VCT,
    MAX_CARD_LIFETIME,
    MAX_DIGITS,
    MAX_QR_VERSION,
    PREFIX,
    bind_emergency_card,
    card_expiry,
    decode_emergency_qr,
    encode_emergency_qr,
    qr_segments,
)
from agent.credentials.sd_jwt import issue_sd_jwt, present
from agent.errors import (
    CredentialError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
)
from issuer.templates import CredentialKind
from tests.emergency.helpers import (
    BUNDLES,
    CITIZEN,
    HOSPITAL,
    HOSPITAL_SIGNER,
    NOW,
    OTHER_CITIZEN,
    credential,
    offline_resolver,
    summary,
    verify_card,
)
from wallet.emergency import PNG_SCALE, EmergencyCard, emergency_card, emergency_sections

YEAR = timedelta(days=365)


def _card(path: Path, *, bound: bool = True, sections: list[str] | None = None) -> EmergencyCard:
    sd_jwt = credential(path, bound=bound)
    return emergency_card(
        sd_jwt,
        sections=emergency_sections(sd_jwt) if sections is None else sections,
        holder_signer=CITIZEN if bound else None,
        lifetime=YEAR if bound else None,
        now=NOW,
    )


@pytest.mark.parametrize("bound", [True, False], ids=["cnf+kb", "no-cnf"])
@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
async def test_card_of_every_section_fits_one_qr_code_and_verifies_offline(
    path: Path, bound: bool
) -> None:
    card = _card(path, bound=bound)
    expected = summary(path).sd_claims
    assert card.sections == tuple(expected)
    digits = len(card.payload_text) - len(PREFIX)
    print(
        f"emergency card {path.name} ({len(card.sections)} sections, "
        f"{'cnf + KB-JWT' if bound else 'no cnf'}): SD-JWT {len(card.presentation)} chars, "
        f"card {len(card.payload_text)} chars ({digits} digits = {(digits + 1) // 2} "
        f"SHC characters), QR version {card.qr_version} at {card.error_level}"
    )
    assert digits <= MAX_DIGITS
    assert (digits + 1) // 2 <= 1195
    assert card.qr_version <= MAX_QR_VERSION
    assert card.png_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    # The PNG is the QR code of that version: 17 + 4v modules and a 4-module border each side.
    width = int.from_bytes(card.png_bytes[16:20], "big")
    assert width == (17 + 4 * card.qr_version + 8) * PNG_SCALE
    assert segno.make(cast(Any, qr_segments(card.payload_text)), error="l").version == (
        card.qr_version
    )
    assert card.svg_text.startswith("<svg")
    assert "Emergency card" in card.svg_text
    assert decode_emergency_qr(card.payload_text) == card.presentation
    assert card.expires == (NOW + YEAR if bound else None)

    resolver, transport = offline_resolver()
    verified = await verify_card(card.payload_text, resolver, NOW + timedelta(days=200))
    assert transport.requests == []
    assert verified.issuer == HOSPITAL
    assert {name: verified.payload[name] for name in expected} == expected
    assert (verified.key_binding is not None) is bound


async def test_chosen_sections_only_are_disclosed() -> None:
    card = _card(BUNDLES[2], sections=["bloodType", "allergies"])
    resolver, _ = offline_resolver()
    verified = await verify_card(card.payload_text, resolver, NOW)
    assert {path[0] for path in verified.disclosed_paths} == {"allergies", "bloodType"}
    assert "problems" not in verified.payload
    assert "emergencyContact" not in verified.payload
    assert card.qr_version < _card(BUNDLES[2]).qr_version


async def test_one_changed_digit_anywhere_never_verifies_and_never_crashes() -> None:
    card = _card(BUNDLES[2])
    resolver, transport = offline_resolver()
    digits = card.payload_text[len(PREFIX) :]
    outcomes: dict[str, int] = {}
    for position in range(len(digits)):
        changed = str((int(digits[position]) + 1 + position % 9) % 10)
        text = PREFIX + digits[:position] + changed + digits[position + 1 :]
        try:
            decoded = decode_emergency_qr(text)
        except InvalidInputError as exc:
            outcomes[str(exc.code)] = outcomes.get(str(exc.code), 0) + 1
            continue
        if decoded == card.presentation:  # Another DEFLATE encoding of the same bytes.
            outcomes["same"] = outcomes.get("same", 0) + 1
            continue
        with pytest.raises(HealthMyDataError) as info:
            await verify_card(text, resolver, NOW)
        outcomes[str(info.value.code)] = outcomes.get(str(info.value.code), 0) + 1
    print(f"one changed digit at each of {len(digits)} positions: {outcomes}")
    # A changed issuer DID is looked up (and fails offline); the hospital's never is.
    assert not [url for url in transport.requests if "//hospital.example/" in url]
    assert sum(outcomes.values()) == len(digits)


async def test_changed_characters_of_the_prefix_or_disclosures_are_refused() -> None:
    card = _card(BUNDLES[0])
    rng = random.Random(7)
    for _ in range(20):
        position = rng.randrange(len(card.payload_text))
        text = card.payload_text[:position] + "A" + card.payload_text[position + 1 :]
        with pytest.raises(InvalidInputError):
            decode_emergency_qr(text)
    # A tampered presentation, re-encoded: the codec carries it, the signatures refuse it.
    parts = card.presentation.split("~")
    parts[1] = parts[1][:-2] + ("A" if parts[1][-2] != "A" else "B") + parts[1][-1]
    resolver, _ = offline_resolver()
    with pytest.raises(ProofError):
        await verify_card(encode_emergency_qr("~".join(parts)), resolver, NOW)


async def test_expiry_is_the_citizens_choice_and_signed() -> None:
    card = _card(BUNDLES[0])
    resolver, _ = offline_resolver()
    await verify_card(card.payload_text, resolver, NOW + YEAR - timedelta(seconds=1))
    with pytest.raises(CredentialError) as info:
        await verify_card(card.payload_text, resolver, NOW + YEAR)
    assert info.value.code is ErrorCode.RANGE_ERROR
    # Removing the KB-JWT (and its expiry) makes the card invalid, not longer-lived.
    stripped = card.presentation[: card.presentation.rindex("~") + 1]
    with pytest.raises(ProofError) as missing:
        await verify_card(encode_emergency_qr(stripped), resolver, NOW)
    assert missing.value.code is ErrorCode.SD_JWT_KEY_BINDING_MISSING
    # Dropping a section breaks sd_hash.
    parts = card.presentation.split("~")
    dropped = "~".join([parts[0], *parts[2:]])
    with pytest.raises(ProofError) as mismatch:
        await verify_card(encode_emergency_qr(dropped), resolver, NOW)
    assert mismatch.value.code is ErrorCode.SD_JWT_KEY_BINDING_MISMATCH


async def test_issuer_exp_caps_the_chosen_lifetime() -> None:
    soon = NOW + timedelta(days=30)
    sd_jwt = credential(BUNDLES[1], exp=soon)
    card = emergency_card(
        sd_jwt, sections=["emergencyContact"], holder_signer=CITIZEN, lifetime=YEAR, now=NOW
    )
    assert card.expires == soon
    assert card_expiry(card.presentation) == soon
    with pytest.raises(CredentialError) as info:
        emergency_card(
            sd_jwt,
            sections=["emergencyContact"],
            holder_signer=CITIZEN,
            lifetime=YEAR,
            now=soon,
        )
    assert info.value.code is ErrorCode.RANGE_ERROR


def test_too_many_sections_are_refused_with_the_overshoot() -> None:
    # An EmergencySummary with long lists: more than one QR code holds.
    rng = random.Random(1)
    allergies = [
        {
            "code": f"sct|{rng.randrange(10**8, 10**9)}",
            "text": " ".join(f"{rng.getrandbits(40):x}" for _ in range(4)),
            "criticality": "high",
        }
        for _ in range(30)
    ]
    claims = {"allergies": allergies, "problems": [{"code": "sct|44054006", "text": "Diabetes"}]}
    sd_jwt = issue_sd_jwt(
        claims,
        HOSPITAL_SIGNER,
        iss=HOSPITAL,
        iat=NOW,
        disclosable=[("allergies",), ("problems",)],
        holder_jwk=CITIZEN.public_jwk,
        vct=EMERGENCY_SUMMARY_VCT,
    )
    with pytest.raises(InvalidInputError) as info:
        emergency_card(
            sd_jwt,
            sections=["allergies", "problems"],
            holder_signer=CITIZEN,
            lifetime=YEAR,
            now=NOW,
        )
    assert info.value.code is ErrorCode.EMERGENCY_CARD_TOO_LARGE
    details = info.value.details
    assert details["over"] == details["digits"] - MAX_DIGITS > 0
    assert f"{details['over']} over" in info.value.message
    fewer = emergency_card(
        sd_jwt, sections=["problems"], holder_signer=CITIZEN, lifetime=YEAR, now=NOW
    )
    assert fewer.qr_version <= MAX_QR_VERSION


@pytest.mark.parametrize(
    "sections",
    [[], ["allergies", "allergies"], ["allergies", "immunizations"], "allergies"],
    ids=["none", "twice", "unknown", "a-string"],
)
def test_sections_must_be_chosen_from_the_credential(sections: list[str] | str) -> None:
    sd_jwt = credential(BUNDLES[0])
    if isinstance(sections, str):  # One name is accepted as that section.
        card = emergency_card(
            sd_jwt, sections=sections, holder_signer=CITIZEN, lifetime=YEAR, now=NOW
        )
        assert card.sections == ("allergies",)
        return
    with pytest.raises(InvalidInputError) as info:
        emergency_card(sd_jwt, sections=sections, holder_signer=CITIZEN, lifetime=YEAR, now=NOW)
    assert info.value.details["available"] == ["allergies", "problems", "medications"]


def test_other_credential_types_are_refused() -> None:
    sd_jwt = issue_sd_jwt(
        {"allergy": {"code": "x"}},
        HOSPITAL_SIGNER,
        iss=HOSPITAL,
        iat=NOW,
        disclosable=[("allergy",)],
        vct="https://w3id.org/health-mydata/vct/AllergyIntolerance/v1",
    )
    with pytest.raises(InvalidInputError) as info:
        emergency_card(sd_jwt, sections=["allergy"], holder_signer=None, lifetime=None, now=NOW)
    assert info.value.details["reason"] == "notEmergencySummary"


def test_vct_matches_the_issuer_template() -> None:
    assert summary(BUNDLES[0]).vct == EMERGENCY_SUMMARY_VCT
    assert CredentialKind.EMERGENCY_SUMMARY.vct == EMERGENCY_SUMMARY_VCT


@pytest.mark.parametrize(
    ("bound", "signer", "lifetime", "error", "code"),
    [
        (True, None, YEAR, ProofError, ErrorCode.SD_JWT_KEY_BINDING_MISSING),
        (True, CITIZEN, None, ProofError, ErrorCode.SD_JWT_KEY_BINDING_MISSING),
        (True, OTHER_CITIZEN, YEAR, ProofError, ErrorCode.PROOF_VERIFICATION_ERROR),
        (True, CITIZEN, timedelta(0), InvalidInputError, ErrorCode.INVALID_INPUT),
        (True, CITIZEN, -YEAR, InvalidInputError, ErrorCode.INVALID_INPUT),
        (True, CITIZEN, MAX_CARD_LIFETIME + timedelta(1), InvalidInputError, None),
        (False, CITIZEN, YEAR, ProofError, ErrorCode.SD_JWT_KEY_BINDING_MISSING),
        (False, None, YEAR, ProofError, ErrorCode.SD_JWT_KEY_BINDING_MISSING),
    ],
    ids=[
        "bound-no-signer",
        "bound-no-lifetime",
        "wrong-key",
        "zero-lifetime",
        "negative-lifetime",
        "too-long",
        "unbound-with-signer",
        "unbound-with-lifetime",
    ],
)
def test_binding_arguments_must_match_the_credential(
    bound: bool,
    signer: object,
    lifetime: timedelta | None,
    error: type[Exception],
    code: ErrorCode | None,
) -> None:
    sd_jwt = credential(BUNDLES[1], bound=bound)
    with pytest.raises(error) as info:
        emergency_card(
            sd_jwt,
            sections=["emergencyContact"],
            holder_signer=signer,  # type: ignore[arg-type]
            lifetime=lifetime,
            now=NOW,
        )
    assert isinstance(info.value, HealthMyDataError)
    assert code is None or info.value.code is code


def test_bind_refuses_a_presentation_with_key_binding_and_naive_times() -> None:
    sd_jwt = credential(BUNDLES[1])
    text = present(sd_jwt, disclose=[("emergencyContact",)])
    bound = bind_emergency_card(text, CITIZEN, iat=NOW, exp=NOW + YEAR)
    with pytest.raises(InvalidInputError):
        bind_emergency_card(bound, CITIZEN, iat=NOW, exp=NOW + YEAR)
    with pytest.raises(InvalidInputError):
        bind_emergency_card(text, CITIZEN, iat=datetime(2026, 1, 1), exp=NOW + YEAR)
    with pytest.raises(InvalidInputError):
        emergency_card(
            sd_jwt,
            sections=["emergencyContact"],
            holder_signer=CITIZEN,
            lifetime=YEAR,
            now=datetime(2026, 1, 1),  # naive on purpose
        )
    assert card_expiry(bound) == (NOW + YEAR).astimezone(UTC)


def test_a_credential_no_qr_code_could_hold_is_too_large_too() -> None:
    rng = random.Random(2)
    claims = {"allergies": [{"text": f"{rng.getrandbits(8 * 40_000):x}"}]}
    sd_jwt = issue_sd_jwt(
        claims,
        HOSPITAL_SIGNER,
        iss=HOSPITAL,
        iat=NOW,
        disclosable=[("allergies",)],
        vct=EMERGENCY_SUMMARY_VCT,
    )
    with pytest.raises(InvalidInputError) as info:
        emergency_card(sd_jwt, sections=["allergies"], holder_signer=None, lifetime=None, now=NOW)
    assert info.value.code is ErrorCode.EMERGENCY_CARD_TOO_LARGE
    assert info.value.details["over"] is None
    assert "far more than" in info.value.message
