"""The trust registry: accreditation by trusted operators only, in force, cacheable offline."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from agent.credentials import add_proof
from agent.dids import DIDResolver
from agent.errors import CredentialError, ErrorCode
from agent.status import StatusChecker, StatusListAllocator
from agent.storage import Store
from tests.verifier.conftest import Party
from tests.verifier.test_verify import allergy_credential
from tests.verifier.world import NOW, accreditation, trust_list
from verifier.report import Check, CheckStatus
from verifier.trust import TrustRegistry
from verifier.verify import verify_credential


def registry(operator: Party, resolver: DIDResolver, **kwargs: object) -> TrustRegistry:
    return TrustRegistry({operator.did}, resolver, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def test_accredited_issuer_is_trusted(
    operator: Party, hospital: Party, resolver: DIDResolver
) -> None:
    trust = registry(operator, resolver)
    await trust.add_accreditation(accreditation(operator, hospital.did))
    decision = await trust.check_issuer(hospital.did, now=NOW)
    assert decision.trusted
    assert decision.operator == operator.did
    # Accredited for one role is not accredited for another.
    other = await trust.check_issuer(hospital.did, "CertifiedDataBroker", now=NOW)
    assert not other.trusted
    assert other.code == ErrorCode.ISSUER_NOT_TRUSTED


async def test_accreditation_signed_by_a_non_operator_is_refused(
    operator: Party, stranger: Party, hospital: Party, resolver: DIDResolver
) -> None:
    trust = registry(operator, resolver)
    forged = accreditation(stranger, hospital.did)
    with pytest.raises(CredentialError) as caught:
        await trust.add_accreditation(forged)
    assert caught.value.code is ErrorCode.ISSUER_NOT_TRUSTED
    # Naming the operator as issuer while signed by the stranger breaks the signature binding.
    relabelled = copy.deepcopy(forged)
    relabelled["issuer"] = operator.did
    with pytest.raises(CredentialError) as caught:
        await trust.add_accreditation(relabelled)
    assert caught.value.code is ErrorCode.TRUST_LIST_INVALID
    assert not (await trust.check_issuer(hospital.did, now=NOW)).trusted


async def test_expired_accreditation_is_not_in_force(
    operator: Party, hospital: Party, resolver: DIDResolver
) -> None:
    trust = registry(operator, resolver)
    await trust.add_accreditation(
        accreditation(operator, hospital.did, valid_until=NOW - timedelta(days=10))
    )
    decision = await trust.check_issuer(hospital.did, now=NOW)
    assert not decision.trusted
    assert decision.code == ErrorCode.RANGE_ERROR


async def test_revoked_accreditation_outweighs_the_trust_list(
    operator: Party, hospital: Party, resolver: DIDResolver, stores: tuple[Store, Store]
) -> None:
    base = "https://operator.example/status"
    allocator = StatusListAllocator(stores[0], issuer=operator.did, base_url=base)
    slot = await allocator.allocate("revocation")
    credential = accreditation(
        operator, hospital.did, status=[allocator.entry(*slot, "revocation")]
    )

    async def checker() -> StatusChecker:
        status = StatusChecker(None, resolver, offline=True, clock=lambda: NOW)
        unsigned = await allocator.list_credential(
            slot[0], "revocation", valid_from=NOW - timedelta(days=2)
        )
        signed = add_proof(unsigned, operator.signer, created=NOW - timedelta(days=2))
        await status.seed(allocator.list_url(slot[0]), signed, fetched_at=NOW)
        return status

    listed = trust_list(
        operator, [(hospital.did, "AccreditedHealthcareProvider", credential["id"])]
    )
    trust = registry(operator, resolver, status_checker=await checker())
    await trust.add_accreditation(credential)
    await trust.load_trust_list(listed)
    assert (await trust.check_issuer(hospital.did, now=NOW)).trusted

    await allocator.set_status(*slot, "revocation", True)
    trust = registry(operator, resolver, status_checker=await checker())
    await trust.add_accreditation(credential)
    await trust.load_trust_list(listed)
    decision = await trust.check_issuer(hospital.did, now=NOW)
    assert not decision.trusted
    assert decision.code == ErrorCode.CREDENTIAL_REVOKED


async def test_trust_list_entry_alone_is_enough(
    operator: Party, hospital: Party, resolver: DIDResolver
) -> None:
    trust = registry(operator, resolver)
    count = await trust.load_trust_list(
        trust_list(operator, [(hospital.did, "AccreditedHealthcareProvider", None)])
    )
    assert count == 1
    assert (await trust.check_issuer(hospital.did, now=NOW)).trusted
    expired = registry(operator, resolver)
    await expired.load_trust_list(
        trust_list(
            operator,
            [(hospital.did, "AccreditedHealthcareProvider", None)],
            valid_until="2026-06-01T00:00:00Z",
        )
    )
    assert not (await expired.check_issuer(hospital.did, now=NOW)).trusted


async def test_export_and_import_keep_the_age(
    operator: Party, hospital: Party, resolver: DIDResolver, tmp_path: Path
) -> None:
    trust = registry(operator, resolver)
    await trust.add_accreditation(
        accreditation(operator, hospital.did), fetched_at=NOW - timedelta(hours=3)
    )
    trust.save(tmp_path / "trust.json")
    again = registry(operator, resolver)
    await again.import_(json.loads((tmp_path / "trust.json").read_text()))
    decision = await again.check_issuer(hospital.did, now=NOW)
    assert decision.trusted
    assert decision.age == timedelta(hours=3)
    # A tampered cache file does not load.
    data = json.loads((tmp_path / "trust.json").read_text())
    data["accreditations"][0]["document"]["credentialSubject"]["id"] = "did:key:z6Mkother"
    with pytest.raises(CredentialError):
        await registry(operator, resolver).import_(data)


async def test_w3c_credential_trust_check(
    operator: Party, hospital: Party, citizen: Party, stranger: Party, resolver: DIDResolver
) -> None:
    trust = registry(operator, resolver)
    await trust.add_accreditation(accreditation(operator, hospital.did))
    report = await verify_credential(
        allergy_credential(hospital, citizen), resolver=resolver, now=NOW, trust=trust
    )
    assert report.verified, report.to_dict()
    assert [str(r.check) for r in report.results][:4] == ["format", "proof", "issuer", "trust"]
    report = await verify_credential(
        allergy_credential(stranger, citizen), resolver=resolver, now=NOW, trust=trust
    )
    result = report.result(Check.TRUST)
    assert result is not None
    assert result.status is CheckStatus.FAILED
    assert [str(r.check) for r in report.failed] == ["trust"]
