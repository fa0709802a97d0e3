"""SD-JWT VC presentations: every rejection is reported by the check that caught it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent.credentials.token_status_list import TokenStatus
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from agent.storage import Store, generate_raw_key, open_store
from tests.verifier.conftest import Party
from tests.verifier.world import (
    NOW,
    STATUS_URI,
    accreditation,
    claim_evidence,
    emergency_card,
    presentation,
    status_token,
)
from verifier.nonces import NonceStore
from verifier.report import Check, CheckStatus, VerificationReport
from verifier.sdjwt import TokenStatusCache, looks_like_sd_jwt, verify_sd_jwt_presentation
from verifier.trust import TrustRegistry

AUDIENCE = "did:key:z6MkverifierAudience"
DEFINITION = {
    "id": "claim-institutional",
    "purpose": "settle an institutional claim",
    "input_descriptors": [
        {
            "id": "claim",
            "format": {"dc+sd-jwt": {"sd-jwt_alg_values": ["EdDSA"]}},
            "constraints": {
                "limit_disclosure": "required",
                "fields": [
                    {
                        "path": ["$.vct"],
                        "filter": {
                            "type": "string",
                            "const": "https://w3id.org/health-mydata/vct/ClaimEvidence/v1",
                        },
                    },
                    {"path": ["$.diagnoses"]},
                    {"path": ["$.chargeTotal"]},
                ],
            },
        }
    ],
}


@pytest.fixture
async def verifier_store(tmp_path: Path) -> Store:
    store = await open_store(tmp_path / "verifier.sqlite", raw_key=generate_raw_key())
    yield store  # type: ignore[misc]
    await store.close()


def failed(report: VerificationReport) -> dict[str, str | None]:
    return {str(r.check): r.code for r in report.failed}


async def _trust(operator: Party, hospital: Party, resolver: DIDResolver) -> TrustRegistry:
    registry = TrustRegistry({operator.did}, resolver, clock=lambda: NOW)
    await registry.add_accreditation(accreditation(operator, hospital.did))
    return registry


async def _verify(
    text: str, resolver: DIDResolver, nonces: NonceStore | None = None, **kwargs: object
) -> VerificationReport:
    return await verify_sd_jwt_presentation(
        text,
        resolver=resolver,
        now=NOW,
        audience=AUDIENCE,
        nonces=nonces,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_good_presentation_passes_every_check(
    hospital: Party, citizen: Party, operator: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW)
    record = await nonces.issue(
        audience=AUDIENCE, purpose="claims", request={"presentation_definition": DEFINITION}
    )
    cache = TokenStatusCache(offline=True, clock=lambda: NOW)
    cache.seed(STATUS_URI, status_token(hospital, {}), fetched_at=NOW)
    sd = claim_evidence(hospital, citizen, status_idx=3)
    text = presentation(
        sd, citizen, disclose=["diagnoses", "chargeTotal"], nonce=record.nonce, aud=AUDIENCE
    )
    report = await _verify(
        text,
        resolver,
        nonces,
        purpose="claims",
        status=cache,
        trust=await _trust(operator, hospital, resolver),
    )
    assert report.verified, report.to_dict()
    assert [str(r.check) for r in report.results] == [
        "format",
        "proof",
        "issuer",
        "trust",
        "validity",
        "status",
        "holder",
        "challenge",
        "fields",
        "purpose",
    ]
    assert report.warnings == ()
    assert report.claims is not None
    assert "procedures" not in report.claims
    assert "diagnoses" not in str(report.to_dict())  # no health data in the report


async def test_tampered_disclosure_or_signature_fails(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    jwt, rest = text.split("~", 1)
    header, payload, signature = jwt.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    report = await _verify(f"{header}.{payload}.{flipped}~{rest}", resolver, expected_nonce="n")
    assert failed(report)["proof"] == ErrorCode.PROOF_VERIFICATION_ERROR
    assert report.claims is None
    # A Disclosure from elsewhere: the digests do not match (format).
    other = claim_evidence(hospital, citizen).split("~")[1]
    parts = text.split("~")
    parts.insert(1, other)
    report = await _verify("~".join(parts), resolver, expected_nonce="n")
    assert failed(report)["format"] == ErrorCode.SD_JWT_DISCLOSURE_MISMATCH


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"exp": NOW - timedelta(days=1)}, "expired"),
        ({"nbf": NOW + timedelta(days=1)}, "notYetValid"),
    ],
)
async def test_expired_or_not_yet_valid_fails_validity(
    hospital: Party, citizen: Party, resolver: DIDResolver, kwargs: dict[str, object], reason: str
) -> None:
    sd = claim_evidence(hospital, citizen, **kwargs)  # type: ignore[arg-type]
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    report = await _verify(text, resolver, expected_nonce="n")
    assert failed(report) == {"validity": ErrorCode.RANGE_ERROR}
    result = report.result(Check.VALIDITY)
    assert result is not None
    assert result.details["reason"] == reason


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (TokenStatus.INVALID, ErrorCode.CREDENTIAL_REVOKED),
        (TokenStatus.SUSPENDED, ErrorCode.CREDENTIAL_SUSPENDED),
    ],
)
async def test_revoked_or_suspended_fails_status(
    hospital: Party, citizen: Party, resolver: DIDResolver, status: int, code: str
) -> None:
    cache = TokenStatusCache(offline=True, clock=lambda: NOW)
    cache.seed(STATUS_URI, status_token(hospital, {7: status}), fetched_at=NOW - timedelta(hours=2))
    sd = claim_evidence(hospital, citizen, status_idx=7)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    report = await _verify(text, resolver, expected_nonce="n", status=cache)
    assert failed(report) == {"status": code}
    result = report.result(Check.STATUS)
    assert result is not None
    assert result.details["ageSeconds"] == 7200


async def test_offline_status_not_seeded_is_a_retrieval_error(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    sd = claim_evidence(hospital, citizen, status_idx=7)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    cache = TokenStatusCache(offline=True, clock=lambda: NOW)
    report = await _verify(text, resolver, expected_nonce="n", status=cache)
    assert failed(report) == {"status": ErrorCode.STATUS_RETRIEVAL_ERROR}


async def test_untrusted_issuer_fails_trust(
    hospital: Party, citizen: Party, operator: Party, stranger: Party, resolver: DIDResolver
) -> None:
    registry = await _trust(operator, hospital, resolver)
    sd = claim_evidence(stranger, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    report = await _verify(text, resolver, expected_nonce="n", trust=registry)
    assert failed(report) == {"trust": ErrorCode.ISSUER_NOT_TRUSTED}


async def test_wrong_holder_fails_holder(
    hospital: Party, citizen: Party, stranger: Party, resolver: DIDResolver
) -> None:
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, stranger, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    report = await _verify(text, resolver, expected_nonce="n")
    assert failed(report) == {"holder": ErrorCode.PROOF_VERIFICATION_ERROR}
    # No KB-JWT at all, where one is required.
    report = await _verify(sd, resolver, expected_nonce="n")
    assert failed(report) == {"holder": ErrorCode.SD_JWT_KEY_BINDING_MISSING}


async def test_replayed_nonce_fails_challenge(
    hospital: Party, citizen: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW)
    record = await nonces.issue(audience=AUDIENCE)
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce=record.nonce, aud=AUDIENCE)
    first = await _verify(text, resolver, nonces)
    assert first.verified, first.to_dict()
    second = await _verify(text, resolver, nonces)
    assert failed(second) == {"challenge": ErrorCode.NONCE_REPLAYED}
    # A nonce this verifier never issued.
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="made-up", aud=AUDIENCE)
    assert failed(await _verify(text, resolver, nonces)) == {"challenge": ErrorCode.NONCE_UNKNOWN}


async def test_expired_nonce_fails_challenge(
    hospital: Party, citizen: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW, ttl=timedelta(minutes=1))
    record = await nonces.issue(audience=AUDIENCE, now=NOW - timedelta(minutes=2))
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce=record.nonce, aud=AUDIENCE)
    assert failed(await _verify(text, resolver, nonces)) == {"challenge": ErrorCode.NONCE_EXPIRED}


async def test_wrong_audience_fails_challenge(
    hospital: Party, citizen: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW)
    record = await nonces.issue(audience=AUDIENCE)
    sd = claim_evidence(hospital, citizen)
    text = presentation(
        sd, citizen, disclose=["diagnoses"], nonce=record.nonce, aud="did:key:z6Mkanother"
    )
    report = await _verify(text, resolver, nonces)
    assert failed(report) == {"challenge": ErrorCode.INVALID_DOMAIN_ERROR}
    # The nonce was not used up by the misdirected presentation.
    await nonces.peek(record.nonce)


async def test_forged_holder_signature_does_not_burn_the_nonce(
    hospital: Party, citizen: Party, stranger: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW)
    record = await nonces.issue(audience=AUDIENCE)
    sd = claim_evidence(hospital, citizen)
    forged = presentation(sd, stranger, disclose=["diagnoses"], nonce=record.nonce, aud=AUDIENCE)
    report = await _verify(forged, resolver, nonces)
    assert failed(report) == {"holder": ErrorCode.PROOF_VERIFICATION_ERROR}
    genuine = presentation(sd, citizen, disclose=["diagnoses"], nonce=record.nonce, aud=AUDIENCE)
    assert (await _verify(genuine, resolver, nonces)).verified


async def test_missing_requested_field_fails_fields_and_extra_is_a_warning(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce="n", aud=AUDIENCE)
    report = await _verify(text, resolver, expected_nonce="n", definition=DEFINITION)
    assert failed(report) == {"fields": ErrorCode.FIELD_MISSING}
    result = report.result(Check.FIELDS)
    assert result is not None
    assert result.details["missing"] == [{"inputDescriptor": "claim", "path": ["$.chargeTotal"]}]

    text = presentation(
        sd, citizen, disclose=["diagnoses", "chargeTotal", "procedures"], nonce="n", aud=AUDIENCE
    )
    report = await _verify(text, resolver, expected_nonce="n", definition=DEFINITION)
    assert report.verified
    assert any("/procedures" in w for w in report.warnings), report.warnings


async def test_purpose_mismatch_fails_purpose(
    hospital: Party, citizen: Party, resolver: DIDResolver, verifier_store: Store
) -> None:
    nonces = NonceStore(verifier_store, clock=lambda: NOW)
    record = await nonces.issue(audience=AUDIENCE, purpose="marketing")
    sd = claim_evidence(hospital, citizen)
    text = presentation(sd, citizen, disclose=["diagnoses"], nonce=record.nonce, aud=AUDIENCE)
    report = await _verify(text, resolver, nonces, purpose="claims")
    assert failed(report) == {"purpose": ErrorCode.PURPOSE_MISMATCH}


@pytest.mark.parametrize(
    "text",
    ["", "not an sd-jwt", "a.b.c~", "eyJhbGciOiJFZERTQSJ9.e30.AAAA~~", "~" * 10],
)
async def test_malformed_input_fails_format(resolver: DIDResolver, text: str) -> None:
    report = await _verify(text, resolver, expected_nonce="n")
    assert "format" in failed(report)
    assert not report.verified
    assert report.claims is None


async def test_not_a_string_is_invalid_input(resolver: DIDResolver) -> None:
    with pytest.raises(InvalidInputError):
        await _verify({"a": 1}, resolver)  # type: ignore[arg-type]


async def test_emergency_card_without_key_binding(hospital: Party, resolver: DIDResolver) -> None:
    card = emergency_card(hospital)
    report = await verify_sd_jwt_presentation(
        card, resolver=resolver, now=NOW, require_key_binding=False
    )
    assert report.verified, report.to_dict()
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.status is CheckStatus.SKIPPED


def test_looks_like_sd_jwt() -> None:
    assert looks_like_sd_jwt("a.b.c~")
    assert looks_like_sd_jwt("a.b.c~d~e.f.g")
    assert not looks_like_sd_jwt('{"a": "b~"}')
    assert not looks_like_sd_jwt("a.b.c")
