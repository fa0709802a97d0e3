"""Who made the proof: issuer and holder binding, challenge/domain, clock skew and warnings.

Regressions from the foundation review (/tmp/rev/t1.py and t2.py); each test failed before.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.credentials.contexts import HEALTH_V1
from agent.credentials.model import ModelRule
from agent.credentials.proofs import add_proof
from agent.dids import DIDResolver
from agent.errors import ErrorCode
from tests.verifier.conftest import Party
from tests.verifier.test_verify import NOW, allergy_credential, statuses
from verifier.report import Check, CheckStatus
from verifier.verify import verify_credential, verify_presentation

DATA = Path(__file__).parent / "data"


def _credential(issuer: str, subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", HEALTH_V1],
        "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": subject,
    }


def _presentation(credential: dict[str, Any], holder: str | None) -> dict[str, Any]:
    vp: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [credential],
    }
    if holder is not None:
        vp["holder"] = holder
    return vp


def _sign_vp(vp: dict[str, Any], party: Party, **options: Any) -> dict[str, Any]:
    options.setdefault("challenge", "nonce-1")
    return add_proof(vp, party.signer, created=NOW, proof_purpose="authentication", **options)


def _code(report: Any, check: Check) -> str | None:
    result = report.result(check)
    assert result is not None, report.to_dict()
    return str(result.code) if result.code is not None else None


# --- C1 ----------------------------------------------------------------------------------


async def test_forged_presentation_fixture_is_rejected(resolver: DIDResolver) -> None:
    """/tmp/rev/forged_vp.json: mallory signs a credential naming alice as issuer, types it
    also as a presentation, and presents it as its own holder. Before: verified."""
    forged = json.loads((DATA / "forged_vp.json").read_text())
    report = await verify_presentation(
        forged, resolver=resolver, now=datetime(2025, 6, 1, tzinfo=UTC)
    )
    assert not report.verified
    fmt = report.result(Check.FORMAT)
    assert fmt is not None
    assert fmt.details == {"path": "verifiableCredential[0].type", "rule": ModelRule.TYPE_CONFLICT}
    assert _code(report, Check.HOLDER) == ErrorCode.HOLDER_BINDING_ERROR
    assert _code(report, Check.CREDENTIALS) == ErrorCode.CREDENTIAL_NOT_VERIFIED
    [nested] = report.credentials
    assert _code(nested, Check.ISSUER) == ErrorCode.PROOF_VERIFICATION_ERROR
    assert not nested.verified


async def test_credential_typed_as_presentation_fails_the_issuer_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """/tmp/rev/t2.py: before, every check passed."""
    forged = _credential(hospital.did, {"id": citizen.did, "fhirResource": {"code": "x"}})
    forged["type"].insert(1, "VerifiablePresentation")
    forged = add_proof(forged, citizen.signer, created=NOW)
    report = await verify_credential(forged, resolver=resolver, now=NOW)
    assert not report.verified
    assert _code(report, Check.FORMAT) == ErrorCode.MALFORMED_VALUE_ERROR
    assert _code(report, Check.ISSUER) == ErrorCode.PROOF_VERIFICATION_ERROR
    # Without the format check the issuer check alone still refuses it.
    report = await verify_credential(forged, resolver=resolver, now=NOW, checks=["issuer"])
    assert _code(report, Check.ISSUER) == ErrorCode.PROOF_VERIFICATION_ERROR


# --- I1: the holder check ----------------------------------------------------------------


async def test_presentation_without_holder_fails_the_holder_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """/tmp/rev/t1.py "vp by mallory no holder": anyone could wrap a copied credential."""
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), None), hospital)
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    assert not report.verified
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.code == ErrorCode.HOLDER_BINDING_ERROR
    assert holder.details["reason"] == "noHolder"
    assert [str(r.check) for r in report.failed] == ["holder"]


async def test_holder_who_is_not_the_subject_fails(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """The hospital presents the citizen's credential as its own holder."""
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), hospital.did), hospital)
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.code == ErrorCode.HOLDER_BINDING_ERROR
    assert holder.details == {"reason": "subjectNotHolder", "indexes": [0]}
    assert [str(r.check) for r in report.failed] == ["holder"]


async def test_proof_by_someone_else_than_the_holder_fails(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), citizen.did), hospital)
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    assert _code(report, Check.HOLDER) == ErrorCode.PROOF_VERIFICATION_ERROR
    assert statuses(report)["proof"] == "passed"


async def test_credential_without_subject_id_gives_a_warning(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = add_proof(
        _credential(hospital.did, {"fhirResource": {"code": "x"}}), hospital.signer, created=NOW
    )
    vp = _sign_vp(_presentation(credential, citizen.did), citizen)
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    assert report.verified, report.to_dict()
    assert any("no subject id" in warning for warning in report.warnings)


async def test_holder_and_subject_match_passes_without_warnings(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), citizen.did), citizen)
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    assert report.verified, report.to_dict()
    assert statuses(report)["holder"] == "passed"
    assert report.warnings == ()


async def test_no_challenge_requested_is_a_replay_warning(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """/tmp/rev/t1.py "vp replay no challenge asked": it verified without a word."""
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), citizen.did), citizen)
    report = await verify_presentation(vp, resolver=resolver, now=NOW)
    assert any("replay" in warning for warning in report.warnings)
    challenge = report.result(Check.CHALLENGE)
    assert challenge is not None
    assert challenge.status is CheckStatus.SKIPPED


# --- I2: one challenge/domain implementation ------------------------------------------------


async def test_domain_list_is_accepted_by_the_challenge_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """/tmp/rev/t1.py "vp domain list": the verifier's own check compared the list to a string
    and failed what verify_proofs accepted."""
    vp = _sign_vp(
        _presentation(allergy_credential(hospital, citizen), citizen.did),
        citizen,
        domain=["https://x.example", "https://er.example"],
    )
    report = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-1", domain="https://er.example", now=NOW
    )
    assert report.verified, report.to_dict()
    other = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-1", domain="https://w.example", now=NOW
    )
    assert _code(other, Check.CHALLENGE) == ErrorCode.INVALID_DOMAIN_ERROR
    assert _code(other, Check.PROOF) == ErrorCode.INVALID_DOMAIN_ERROR


async def test_malformed_challenge_is_a_typed_failure(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), citizen.did), citizen)
    vp["proof"]["challenge"] = [1]
    report = await verify_presentation(vp, resolver=resolver, challenge="nonce-1", now=NOW)
    assert _code(report, Check.CHALLENGE) == ErrorCode.INVALID_CHALLENGE_ERROR


# --- I4: the caller's clock skew reaches the proof check -------------------------------------


async def test_max_clock_skew_reaches_the_proof_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = copy.deepcopy(allergy_credential(hospital, citizen))
    del credential["proof"]
    credential = add_proof(credential, hospital.signer, created=NOW + timedelta(minutes=10))
    strict = await verify_credential(credential, resolver=resolver, now=NOW)
    assert _code(strict, Check.PROOF) == ErrorCode.INVALID_PROOF_DATETIME
    lenient = await verify_credential(
        credential, resolver=resolver, now=NOW, max_clock_skew=timedelta(hours=1)
    )
    assert lenient.verified, lenient.to_dict()

    vp = _presentation(allergy_credential(hospital, citizen), citizen.did)
    vp = add_proof(
        vp,
        citizen.signer,
        created=NOW + timedelta(minutes=2),
        proof_purpose="authentication",
        challenge="nonce-1",
    )
    report = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-1", now=NOW, max_clock_skew=timedelta(0)
    )
    assert _code(report, Check.PROOF) == ErrorCode.INVALID_PROOF_DATETIME


# --- minor: --checks proof says the signer was not identified --------------------------------


async def test_proof_only_check_warns_that_the_issuer_was_not_checked(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """/tmp/rev/t1.py "mallory proof-only": VERIFIED for a credential signed with a wrong key."""
    forged = add_proof(
        _credential(hospital.did, {"id": citizen.did, "fhirResource": {"code": "x"}}),
        citizen.signer,
        created=NOW,
    )
    report = await verify_credential(forged, resolver=resolver, now=NOW, checks=["proof"])
    assert report.verified
    assert any("issuer check did not run" in warning for warning in report.warnings)
    full = await verify_credential(forged, resolver=resolver, now=NOW, checks=["proof", "issuer"])
    assert not full.verified
    assert not any("did not run" in warning for warning in full.warnings)


async def test_proof_only_check_on_a_presentation_warns_about_the_holder(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign_vp(_presentation(allergy_credential(hospital, citizen), citizen.did), hospital)
    report = await verify_presentation(
        vp, resolver=resolver, challenge="nonce-1", now=NOW, checks=["proof"]
    )
    assert report.verified
    assert any("holder check did not run" in warning for warning in report.warnings)
