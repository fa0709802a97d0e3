"""Generic verification (VC-API ``/presentations/verify``, decision 0007) and what the role
policies still refuse.

``options.checks: []`` runs the default checks; under ``require_holder_binding=False`` a VP
without ``holder``, a holder presenting another subject's credential, an empty
``verifiableCredential`` and a holder's own claim are verified with warnings, while the
emergency and insurer policies refuse each of them, naming the check.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.credentials.proofs import add_proof
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from agent.storage import Store
from tests.verifier.conftest import Party
from tests.verifier.test_verify import NOW, allergy_credential, statuses
from verifier.policy import EmergencyPolicy, GenericPolicy, InsurerClaimPolicy
from verifier.report import Check, CheckStatus, VerificationReport
from verifier.verify import (
    CREDENTIAL_CHECKS,
    PRESENTATION_CHECKS,
    verify_credential,
    verify_presentation,
)

V2 = "https://www.w3.org/ns/credentials/v2"


def _vp(credentials: list[dict[str, Any]], holder: str | None) -> dict[str, Any]:
    vp: dict[str, Any] = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    }
    if holder is not None:
        vp["holder"] = holder
    return vp


def _sign(vp: dict[str, Any], party: Party, **options: Any) -> dict[str, Any]:
    options.setdefault("challenge", "nonce-1")
    options.setdefault("proof_purpose", "authentication")
    return add_proof(copy.deepcopy(vp), party.signer, created=NOW, **options)


async def _generic(vp: dict[str, Any], resolver: DIDResolver, **kw: Any) -> VerificationReport:
    kw.setdefault("challenge", "nonce-1")
    return await verify_presentation(
        vp, resolver=resolver, now=NOW, require_holder_binding=False, **kw
    )


async def _strict(vp: dict[str, Any], resolver: DIDResolver) -> VerificationReport:
    return await verify_presentation(vp, resolver=resolver, now=NOW, challenge="nonce-1")


def _holder_claim(citizen: Party) -> dict[str, Any]:
    """A credential the citizen "issues" to itself, with no proof of its own."""
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": citizen.did,
        "credentialSubject": {"id": citizen.did, "name": "self-asserted"},
    }


# --- gap 10: options.checks: [] ----------------------------------------------------------


async def test_empty_check_list_runs_the_default_checks(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    report = await verify_credential(credential, resolver=resolver, now=NOW, checks=[])
    assert report.verified, report.to_dict()
    assert [str(r.check) for r in report.results] == [str(c) for c in CREDENTIAL_CHECKS]
    vp = _sign(_vp([credential], citizen.did), citizen)
    presented = await _strict(vp, resolver)
    again = await verify_presentation(
        vp, resolver=resolver, now=NOW, challenge="nonce-1", checks=[]
    )
    assert [str(r.check) for r in again.results] == [str(c) for c in PRESENTATION_CHECKS]
    assert again.to_dict() == presented.to_dict()


async def test_unknown_check_name_is_still_refused(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    credential = allergy_credential(hospital, citizen)
    with pytest.raises(InvalidInputError, match="unknown check"):
        await verify_credential(credential, resolver=resolver, now=NOW, checks=["nonsense"])


# --- gaps 11-13 under the generic rules ---------------------------------------------------


async def test_generic_no_holder_is_verified_with_holder_not_applicable(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(_vp([allergy_credential(hospital, citizen)], None), citizen)
    report = await _generic(vp, resolver)
    assert report.verified, report.to_dict()
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.status is CheckStatus.SKIPPED
    assert holder.details == {"reason": "noHolder"}
    assert any("names no holder" in w for w in report.warnings)
    assert report.to_dict()["errors"] == []
    strict = await _strict(vp, resolver)
    assert [str(r.check) for r in strict.failed] == ["holder"]


async def test_generic_no_holder_still_needs_an_authentication_proof(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(
        _vp([allergy_credential(hospital, citizen)], None), citizen, proof_purpose="assertionMethod"
    )
    report = await _generic(vp, resolver)
    assert not report.verified
    assert statuses(report)["proof"] == "failed"


async def test_generic_no_holder_still_checks_the_challenge(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(_vp([allergy_credential(hospital, citizen)], None), citizen)
    report = await _generic(vp, resolver, challenge="another-nonce")
    assert not report.verified
    assert statuses(report)["challenge"] == "failed"


async def test_generic_holder_of_another_subjects_credential_is_a_warning(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    """The hospital presents the citizen's credential: VCDM allows it; generic warns."""
    vp = _sign(_vp([allergy_credential(hospital, citizen)], hospital.did), hospital)
    report = await _generic(vp, resolver)
    assert report.verified, report.to_dict()
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.status is CheckStatus.PASSED
    assert holder.details == {"reason": "subjectNotHolder", "indexes": [0]}
    assert any("another subject" in w for w in report.warnings)
    strict = await _strict(vp, resolver)
    assert [str(r.check) for r in strict.failed] == ["holder"]


async def test_generic_holder_must_still_own_the_proof_key(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(_vp([allergy_credential(hospital, citizen)], citizen.did), hospital)
    report = await _generic(vp, resolver)
    assert not report.verified
    assert [str(r.check) for r in report.failed] == ["holder"]
    assert report.failed[0].code == ErrorCode.PROOF_VERIFICATION_ERROR


async def test_generic_empty_credential_list_is_a_did_auth_presentation(
    citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(_vp([], citizen.did), citizen)
    report = await _generic(vp, resolver)
    assert report.verified, report.to_dict()
    assert statuses(report)["credentials"] == "skipped"
    strict = await _strict(vp, resolver)
    assert [str(r.check) for r in strict.failed] == ["format"]


async def test_generic_holder_claim_is_secured_by_the_presentation(
    citizen: Party, resolver: DIDResolver
) -> None:
    vp = _sign(_vp([_holder_claim(citizen)], citizen.did), citizen)
    report = await _generic(vp, resolver)
    assert report.verified, report.to_dict()
    [nested] = report.credentials
    issuer = nested.result(Check.ISSUER)
    assert issuer is not None
    assert issuer.details == {"reason": "holderClaim"}
    assert nested.result(Check.PROOF) is None
    strict = await _strict(vp, resolver)
    assert [str(r.check) for r in strict.failed] == ["credentials"]


async def test_generic_self_asserted_claim_without_holder_is_refused(
    citizen: Party, resolver: DIDResolver
) -> None:
    """VCDM 2.0 4.12.4: a self-asserted credential secured only by the VP needs a holder."""
    vp = _sign(_vp([_holder_claim(citizen)], None), citizen)
    report = await _generic(vp, resolver)
    assert not report.verified
    holder = report.result(Check.HOLDER)
    assert holder is not None
    assert holder.status is CheckStatus.FAILED
    assert holder.code == ErrorCode.HOLDER_BINDING_ERROR
    assert {str(r.check) for r in report.failed} == {"holder", "credentials"}


async def test_generic_claim_of_another_issuer_without_proof_is_refused(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    claim = {**_holder_claim(citizen), "issuer": hospital.did}
    vp = _sign(_vp([claim], citizen.did), citizen)
    report = await _generic(vp, resolver)
    assert [str(r.check) for r in report.failed] == ["credentials"]
    [nested] = report.credentials
    assert statuses(nested)["proof"] == "failed"


# --- the role policies keep the holder rules -----------------------------------------------


async def _cases(hospital: Party, citizen: Party, resolver: DIDResolver) -> dict[str, Any]:
    issued = allergy_credential(hospital, citizen)
    return {
        "noHolder": await _generic(_sign(_vp([issued], None), citizen), resolver),
        "subjectNotHolder": await _generic(_sign(_vp([issued], hospital.did), hospital), resolver),
        "emptyCredentials": await _generic(_sign(_vp([], citizen.did), citizen), resolver),
        "holderClaim": await _generic(
            _sign(_vp([_holder_claim(citizen)], citizen.did), citizen), resolver
        ),
    }


#: the reason each policy must give, by the check it names
EXPECTED_REASON = {
    "noHolder": "holder not established",
    "subjectNotHolder": "holder failed",
    "emptyCredentials": "credentials failed",
    "holderClaim": "credential 0: issuer failed",
}


async def test_generic_policy_accepts_what_generic_verification_verified(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    for case, report in (await _cases(hospital, citizen, resolver)).items():
        assert report.verified, (case, report.to_dict())
        decision = await GenericPolicy().decide(report)
        assert decision.accepted, (case, decision)
        assert decision.warnings or case in ("emptyCredentials", "holderClaim"), case


async def test_emergency_policy_refuses_each_generic_case_by_check(
    hospital: Party, citizen: Party, resolver: DIDResolver
) -> None:
    for case, report in (await _cases(hospital, citizen, resolver)).items():
        decision = await EmergencyPolicy().decide(report)
        assert not decision.accepted, case
        assert any(r.startswith(EXPECTED_REASON[case]) for r in decision.reasons), (
            case,
            decision.reasons,
        )


async def test_insurer_policy_refuses_each_generic_case_by_check(
    hospital: Party, citizen: Party, resolver: DIDResolver, stores: tuple[Store, Store]
) -> None:
    policy = InsurerClaimPolicy(stores[0])
    for case, report in (await _cases(hospital, citizen, resolver)).items():
        decision = await policy.decide(
            report, claim_id="claim-1", claim_type="pharmacy", evidence_key=f"k-{case}"
        )
        assert not decision.accepted, case
        assert any(r.startswith(EXPECTED_REASON[case]) for r in decision.reasons), (
            case,
            decision.reasons,
        )
    assert await policy.flags() == []


async def test_policies_name_the_failed_holder_check_of_a_strict_report(
    hospital: Party, citizen: Party, resolver: DIDResolver, stores: tuple[Store, Store]
) -> None:
    issued = allergy_credential(hospital, citizen)
    for vp in (_sign(_vp([issued], None), citizen), _sign(_vp([issued], hospital.did), hospital)):
        report = await _strict(vp, resolver)
        for decision in (
            await EmergencyPolicy().decide(report),
            await InsurerClaimPolicy(stores[0]).decide(
                report, claim_id="c", claim_type="pharmacy", evidence_key="k"
            ),
        ):
            assert not decision.accepted
            assert any(r.startswith("holder failed") for r in decision.reasons), decision


async def test_holder_claim_needs_the_presentation_proof_checked(
    citizen: Party, resolver: DIDResolver
) -> None:
    """Without the ``proof`` check nothing secures a holder claim: it is verified as any
    credential, and its missing proof fails."""
    vp = _sign(_vp([_holder_claim(citizen)], citizen.did), citizen)
    report = await _generic(vp, resolver, checks=["holder", "credentials"])
    assert not report.verified
    [nested] = report.credentials
    assert statuses(nested)["proof"] == "failed"
    tampered = {**vp, "verifiableCredential": [{**_holder_claim(citizen), "name": "changed"}]}
    report = await _generic(tampered, resolver)
    assert statuses(report)["proof"] == "failed"
    assert not report.verified
