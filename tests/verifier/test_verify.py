"""The verification report: each named check passes or fails for the right reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.credentials.proofs import add_proof
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from issuer.issue import issue_credential, record_credential
from tests.conftest import load_vector
from tests.verifier.conftest import Party
from verifier.report import Check, CheckStatus
from verifier.verify import verify_credential, verify_presentation

SAMPLE = Path(__file__).resolve().parents[2] / "mydata" / "samples" / "allergy-intolerance.json"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def allergy_credential(hospital: Party, citizen: Party, **kwargs: Any) -> dict[str, Any]:
    resource = json.loads(SAMPLE.read_text())
    unsigned = record_credential(
        resource,
        issuer=hospital.did,
        subject=citizen.did,
        valid_from=NOW - timedelta(days=1),
        **kwargs,
    )
    return issue_credential(unsigned, hospital.signer, created=NOW - timedelta(days=1))


def statuses(report: Any) -> dict[str, str]:
    return {str(r.check): str(r.status) for r in report.results}


async def test_issued_credential_passes_every_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    assert report.verified, report.to_dict()
    assert statuses(report) == {
        "format": "passed",
        "proof": "passed",
        "issuer": "passed",
        "validity": "passed",
        "status": "skipped",
    }
    assert report.to_dict()["errors"] == []


_SIGNATURE = ErrorCode.PROOF_VERIFICATION_ERROR


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        pytest.param(
            ("credentialSubject", "fhirResource", "criticality"), "higH", _SIGNATURE, id="claim"
        ),
        pytest.param(
            ("credentialSubject", "id"), "did:example:someone-else", _SIGNATURE, id="subject"
        ),
        pytest.param(("validFrom",), "2026-11-27T12:00:00Z", _SIGNATURE, id="validFrom"),
        # One second later than signed, still in the past: only the signature can notice.
        pytest.param(("proof", "created"), "2026-11-28T12:00:01Z", _SIGNATURE, id="proof-created"),
        pytest.param(
            ("proof", "proofPurpose"),
            "authentication",
            ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
            id="proof-purpose",
        ),
    ],
)
async def test_one_changed_value_fails_the_proof_check(
    hospital: Party,
    citizen: Party,
    resolver: DIDResolver,
    path: tuple[str, ...],
    value: str,
    code: ErrorCode,
) -> None:
    credential = allergy_credential(hospital, citizen)
    target = credential
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    assert not report.verified
    proof = report.result(Check.PROOF)
    assert proof is not None
    assert proof.status is CheckStatus.FAILED
    assert proof.code == code


async def test_changed_proof_value_character_is_rejected(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    value = credential["proof"]["proofValue"]
    credential["proof"]["proofValue"] = value[:-5] + ("A" if value[-5] != "A" else "B") + value[-4:]
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    assert [str(r.check) for r in report.failed] == ["proof"]


async def test_expired_credential_fails_validity_only(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen, valid_until=NOW - timedelta(hours=1))
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    assert [str(r.check) for r in report.failed] == ["validity"]
    failed = report.result(Check.VALIDITY)
    assert failed is not None
    assert failed.details.get("reason") == "expired"


async def test_credential_signed_by_another_key_than_the_issuers_fails_the_issuer_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """A valid signature is not enough: the key must belong to the credential's issuer."""
    resource = json.loads(SAMPLE.read_text())
    unsigned = record_credential(
        resource, issuer=hospital.did, subject=citizen.did, valid_from=NOW - timedelta(days=1)
    )
    forged = add_proof(unsigned, citizen.signer, created=NOW)
    report = await verify_credential(forged, resolver=resolver, now=NOW)
    assert statuses(report)["proof"] == "passed"
    assert [str(r.check) for r in report.failed] == ["issuer"]


async def test_checks_option_selects_checks(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen, valid_until=NOW - timedelta(hours=1))
    report = await verify_credential(credential, resolver=resolver, now=NOW, checks=["proof"])
    assert report.verified
    assert [str(r.check) for r in report.results] == ["proof"]


async def test_unknown_check_name_is_invalid_input(resolver: DIDResolver) -> None:
    with pytest.raises(InvalidInputError, match="unknown check"):
        await verify_credential({}, resolver=resolver, checks=["signature"])


async def test_non_object_is_invalid_input(resolver: DIDResolver) -> None:
    with pytest.raises(InvalidInputError) as info:
        await verify_credential(["not", "a", "credential"], resolver=resolver)
    assert info.value.code is ErrorCode.PARSING_ERROR


async def test_format_failure_names_the_path(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    del credential["issuer"]
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    fmt = report.result(Check.FORMAT)
    assert fmt is not None
    assert fmt.status is CheckStatus.FAILED
    assert fmt.details["path"] == "issuer"


async def test_undefined_term_fails_format(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    resource = json.loads(SAMPLE.read_text())
    unsigned = record_credential(
        resource, issuer=hospital.did, subject=citizen.did, valid_from=NOW - timedelta(days=1)
    )
    unsigned["credentialSubject"]["undefinedClaim"] = "x"
    credential = issue_credential(unsigned, hospital.signer, created=NOW)
    report = await verify_credential(credential, resolver=resolver, now=NOW)
    fmt = report.result(Check.FORMAT)
    assert fmt is not None
    assert fmt.status is CheckStatus.FAILED
    assert fmt.code == ErrorCode.UNDEFINED_TERM


async def test_spec_vector_verifies_with_proof_check(resolver: DIDResolver) -> None:
    signed = load_vector("vc-di-eddsa", "eddsa-jcs-2022", "signedJCS.json")
    report = await verify_credential(signed, resolver=resolver, checks=["proof"])
    assert report.verified, report.to_dict()


def _presentation(holder: str, credential: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": [credential],
    }


async def test_presentation_with_challenge_and_domain(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    vp = add_proof(
        _presentation(citizen.did, credential),
        citizen.signer,
        created=NOW,
        proof_purpose="authentication",
        challenge="nonce-123",
        domain="https://er.example",
    )
    report = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-123", domain="https://er.example", now=NOW
    )
    assert report.verified, report.to_dict()
    assert len(report.credentials) == 1
    assert report.credentials[0].verified

    replay = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-456", domain="https://er.example", now=NOW
    )
    assert not replay.verified
    failed = replay.result(Check.CHALLENGE)
    assert failed is not None
    assert failed.code == ErrorCode.INVALID_CHALLENGE_ERROR

    other = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-123", domain="https://insurer.example", now=NOW
    )
    assert not other.verified


async def test_presentation_with_a_tampered_credential_fails_the_credentials_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["fhirResource"]["criticality"] = "low"
    vp = add_proof(
        _presentation(citizen.did, tampered),
        citizen.signer,
        created=NOW,
        proof_purpose="authentication",
        challenge="c",
        domain="d",
    )
    report = await verify_presentation(vp, resolver=resolver, challenge="c", domain="d", now=NOW)
    assert [str(r.check) for r in report.failed] == ["credentials"]
    assert not report.credentials[0].verified
    failed = report.result(Check.CREDENTIALS)
    assert failed is not None
    assert failed.code == ErrorCode.CREDENTIAL_NOT_VERIFIED
