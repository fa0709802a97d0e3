"""The operator as a library: accreditation, status changes, the trust list, registrations.

What the operator publishes is checked by the consumer that exists already:
:class:`verifier.trust.TrustRegistry` (with a real status list check) must trust an accredited
hospital, and stop trusting it, for the right reason, after a revocation or suspension.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import utcnow
from agent.credentials import add_proof
from agent.dids import DIDResolver, did_key_from_public
from agent.errors import (
    CredentialError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
)
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.status import StatusChecker
from agent.storage import Store, generate_raw_key, open_store
from governance import Operator, did_auth_presentation
from governance.operator import AccreditationState, Registration, RegistrationState
from verifier.trust import TrustRegistry

BASE = "https://operator.example"
HOSPITAL_ROLE = "AccreditedHealthcareProvider"


@pytest.fixture
async def operator(store: Store) -> Operator:
    return await Operator.init(store, base_url=BASE, name="Test operator", jurisdiction="NO")


async def _party(store: Store) -> tuple[str, AskarSigner]:
    """A did:key party with its key in ``store`` (a hospital applying for accreditation)."""
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    return did, await keys.signer(multikey, verification_method=f"{did}#{multikey}")


async def _registered(operator: Operator, store: Store, role: str) -> Registration:
    """A new :func:`_party`'s pending registration in ``role``, by a valid DID-auth proof."""
    did, signer = await _party(store)
    challenge = await operator.challenge()
    return await operator.register(
        did_auth_presentation(
            did, signer, challenge=challenge["challenge"], domain=operator.did, created=utcnow()
        ),
        role=role,
    )


async def _registry(operator: Operator, *extra_operators: str) -> TrustRegistry:
    """A verifier's registry that trusts ``operator``, with its status lists seeded."""
    resolver = DIDResolver()
    checker = StatusChecker(None, resolver, offline=True)
    for accreditation in await operator.accreditations():
        for entry in accreditation.credential["credentialStatus"]:
            url = entry["statusListCredential"]
            list_id = url.rsplit("/", 1)[1]
            await checker.seed(
                url, await operator.status_list_credential(list_id, entry["statusPurpose"])
            )
    return TrustRegistry({operator.did, *extra_operators}, resolver, checker)


async def test_init_is_idempotent_and_did_key_by_default(store: Store) -> None:
    first = await Operator.init(store, base_url=BASE)
    second = await Operator.init(store, base_url="https://elsewhere.example", did_method="web")
    assert first.did.startswith("did:key:z6Mk")
    assert second.did == first.did
    loaded = await Operator.load(store)
    assert loaded is not None
    assert loaded.did == first.did


@pytest.mark.parametrize(
    "bad",
    ["notaurl", "ftp://trust.example.org", "https://", "https://trust.example.org:abc",
     "https://trust.example.org/?q=1", "https://user@trust.example.org"],
)  # fmt: skip
@pytest.mark.parametrize("party", ["operator", "hospital"])
async def test_a_bad_base_url_writes_nothing_and_init_can_run_again(
    store: Store, bad: str, party: str
) -> None:
    """A mistyped --base-url used to be refused only after the identity was written, and init
    then kept that identity: every later command failed on it (found by a new-user walk)."""
    from issuer.hospital import Hospital

    init = Operator.init if party == "operator" else Hospital.init
    load = Operator.load if party == "operator" else Hospital.load
    with pytest.raises(InvalidInputError) as caught:
        await init(store, base_url=bad, did_method="key")
    assert "base URL" in caught.value.message
    assert await load(store) is None
    async with store.session() as session:
        assert await session.fetch_all_keys(limit=1) == []  # no key made either
    made = await init(store, base_url="https://trust.example.org", did_method="key")
    assert made.did.startswith("did:key:z6Mk")


async def test_did_web_operator_serves_its_document(store: Store) -> None:
    operator = await Operator.init(store, base_url="https://trust.example.org", did_method="web")
    assert operator.did == "did:web:trust.example.org"
    document = await operator.did_document()
    assert document["id"] == operator.did
    signer = await operator.signer()
    assert signer.verification_method in document["assertionMethod"]


async def test_accreditation_is_trusted_then_revoked(operator: Operator, store: Store) -> None:
    hospital, _ = await _party(store)
    accreditation = await operator.accredit(hospital, HOSPITAL_ROLE, name="St. Olav")
    assert accreditation.credential["credentialSubject"] == {
        "id": hospital,
        "accreditedRole": HOSPITAL_ROLE,
        "name": "St. Olav",
        "jurisdiction": "NO",
    }
    registry = await _registry(operator)
    assert await registry.add_accreditation(accreditation.credential) == accreditation.id
    assert await registry.load_trust_list(await operator.trust_list()) == 1
    decision = await registry.check_issuer(hospital, HOSPITAL_ROLE)
    assert decision.trusted, decision.reason
    assert decision.operator == operator.did
    assert decision.accreditation == accreditation.id
    # Another role is not implied.
    assert not (await registry.check_issuer(hospital, "CertifiedDataBroker")).trusted

    revoked = await operator.revoke(accreditation.id)
    assert revoked.state is AccreditationState.REVOKED
    registry = await _registry(operator)
    await registry.add_accreditation(accreditation.credential)
    await registry.load_trust_list(await operator.trust_list())
    decision = await registry.check_issuer(hospital, HOSPITAL_ROLE)
    assert not decision.trusted
    assert decision.code == str(ErrorCode.CREDENTIAL_REVOKED)
    assert "revoked" in decision.reason
    # The trust list no longer names it either.
    assert (await operator.trust_list())["credentialSubject"]["trustListEntry"] == []
    with pytest.raises(InvalidInputError, match="final"):
        await operator.reinstate(accreditation.id)


async def test_suspend_and_reinstate(operator: Operator, store: Store) -> None:
    hospital, _ = await _party(store)
    accreditation = await operator.accredit(hospital, HOSPITAL_ROLE)
    await operator.suspend(accreditation.id)
    registry = await _registry(operator)
    await registry.add_accreditation(accreditation.credential)
    decision = await registry.check_issuer(hospital, HOSPITAL_ROLE)
    assert (decision.trusted, decision.code) == (False, str(ErrorCode.CREDENTIAL_SUSPENDED))
    assert (await operator.trust_list_entries()) == []

    reinstated = await operator.reinstate(accreditation.id)
    assert reinstated.state is AccreditationState.ACTIVE
    registry = await _registry(operator)
    await registry.add_accreditation(accreditation.credential)
    assert (await registry.check_issuer(hospital, HOSPITAL_ROLE)).trusted
    assert [e["accreditation"] for e in await operator.trust_list_entries()] == [accreditation.id]


async def test_trust_list_alone_is_accepted(operator: Operator, store: Store) -> None:
    hospital, _ = await _party(store)
    accreditation = await operator.accredit(hospital, "LicensedClinician")
    registry = TrustRegistry({operator.did}, DIDResolver())
    await registry.load_trust_list(await operator.trust_list())
    decision = await registry.check_issuer(hospital, "LicensedClinician")
    assert decision.trusted
    assert decision.accreditation == accreditation.id


async def test_expired_accreditation_leaves_the_trust_list(store: Store) -> None:
    now = [utcnow()]
    operator = await Operator.init(store, base_url=BASE, clock=lambda: now[0])
    hospital, _ = await _party(store)
    accreditation = await operator.accredit(hospital, HOSPITAL_ROLE, valid_for=timedelta(days=1))
    now[0] += timedelta(days=2)
    assert (await operator.accreditation(accreditation.id)).state is AccreditationState.EXPIRED
    assert await operator.trust_list_entries() == []


async def test_forged_trust_list_is_refused(
    operator: Operator, store: Store, tmp_path: Path
) -> None:
    """A trust list signed by another key, even one claiming to be the operator, is refused."""
    hospital, _ = await _party(store)
    await operator.accredit(hospital, HOSPITAL_ROLE)
    genuine = await operator.trust_list()
    # Another operator (its own key) signs a list: its DID is not trusted.
    impostor_store = await open_store(
        f"sqlite://{tmp_path / 'impostor.db'}", raw_key=generate_raw_key()
    )
    impostor = await Operator.init(impostor_store, base_url="https://impostor.example")
    await impostor.accredit(hospital, HOSPITAL_ROLE)
    registry = TrustRegistry({operator.did}, DIDResolver())
    with pytest.raises(CredentialError) as refused:
        await registry.load_trust_list(await impostor.trust_list())
    assert refused.value.code is ErrorCode.ISSUER_NOT_TRUSTED
    # The impostor's key signing a list that names the genuine operator as issuer.
    forged = {k: v for k, v in genuine.items() if k != "proof"}
    forged_signed = _sign_as(forged, await impostor.signer())
    with pytest.raises(CredentialError) as refused:
        await registry.load_trust_list(forged_signed)
    assert refused.value.code is ErrorCode.TRUST_LIST_INVALID
    # One changed entry breaks the genuine signature.
    tampered = {**genuine, "credentialSubject": {**genuine["credentialSubject"]}}
    tampered["credentialSubject"]["trustListEntry"] = [
        {"id": "did:example:evil", "accreditedRole": HOSPITAL_ROLE}
    ]
    with pytest.raises(CredentialError) as refused:
        await registry.load_trust_list(tampered)
    assert refused.value.code is ErrorCode.TRUST_LIST_INVALID
    await impostor_store.close()


#: A well-formed did:key (the did:key test vectors' first).
_A_DID = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"


def _sign_as(document: dict[str, Any], signer: AskarSigner) -> dict[str, Any]:
    return add_proof(document, signer, created=utcnow())


@pytest.mark.parametrize(
    ("role", "subject", "name"),
    [
        ("Hospital", _A_DID, ""),
        (HOSPITAL_ROLE, "not-a-did", ""),
        # A malformed did:key: on the trust list it would match nothing (found by a QA walk).
        (HOSPITAL_ROLE, "did:key:z6Mkabc", ""),
        (HOSPITAL_ROLE, _A_DID, "x" * 201),
    ],
)
async def test_accredit_refuses_bad_input(
    operator: Operator, role: str, subject: str, name: str
) -> None:
    with pytest.raises(InvalidInputError):
        await operator.accredit(subject, role, name=name)
    assert await operator.accredit(_A_DID, HOSPITAL_ROLE)  # the good input is accepted


async def test_unknown_accreditation_is_not_found(operator: Operator) -> None:
    with pytest.raises(InvalidInputError) as missing:
        await operator.revoke("urn:uuid:00000000-0000-0000-0000-000000000000")
    assert missing.value.code is ErrorCode.NOT_FOUND


# --- registration ------------------------------------------------------------------------------


async def test_registration_by_did_auth_then_approval(operator: Operator, store: Store) -> None:
    did, signer = await _party(store)
    challenge = await operator.challenge()
    presentation = did_auth_presentation(
        did, signer, challenge=challenge["challenge"], domain=challenge["domain"], created=utcnow()
    )
    registration = await operator.register(presentation, role=HOSPITAL_ROLE, name="St. Olav")
    assert (registration.did, registration.state) == (did, RegistrationState.PENDING)
    assert registration.did_checked == "resolved"
    assert [r.id for r in await operator.registrations(state="pending")] == [registration.id]
    accreditation = await operator.approve(registration.id)
    assert accreditation.subject == did
    approved = await operator.registration(registration.id)
    assert approved.state is RegistrationState.APPROVED
    assert approved.accreditation_id == accreditation.id
    with pytest.raises(InvalidInputError, match="approved already"):
        await operator.approve(registration.id)


async def test_replayed_challenge_is_refused(operator: Operator, store: Store) -> None:
    did, signer = await _party(store)
    challenge = await operator.challenge()
    presentation = did_auth_presentation(
        did, signer, challenge=challenge["challenge"], domain=operator.did, created=utcnow()
    )
    await operator.register(presentation, role=HOSPITAL_ROLE)
    with pytest.raises(ProofError) as replay:
        await operator.register(presentation, role=HOSPITAL_ROLE)
    assert replay.value.code is ErrorCode.INVALID_CHALLENGE_ERROR


async def test_invented_or_expired_challenge_is_refused(store: Store) -> None:
    now = [utcnow()]
    operator = await Operator.init(store, base_url=BASE, clock=lambda: now[0])
    did, signer = await _party(store)
    invented = did_auth_presentation(
        did, signer, challenge="made-up", domain=operator.did, created=now[0]
    )
    with pytest.raises(ProofError) as refused:
        await operator.register(invented, role=HOSPITAL_ROLE)
    assert refused.value.code is ErrorCode.INVALID_CHALLENGE_ERROR
    challenge = await operator.challenge()
    now[0] += timedelta(minutes=11)
    late = did_auth_presentation(
        did, signer, challenge=challenge["challenge"], domain=operator.did, created=now[0]
    )
    with pytest.raises(ProofError, match="expired") as refused:
        await operator.register(late, role=HOSPITAL_ROLE)
    assert refused.value.code is ErrorCode.INVALID_CHALLENGE_ERROR


async def test_wrong_domain_is_refused(operator: Operator, store: Store) -> None:
    did, signer = await _party(store)
    challenge = await operator.challenge()
    presentation = did_auth_presentation(
        did, signer, challenge=challenge["challenge"], domain="did:key:other", created=utcnow()
    )
    with pytest.raises(ProofError) as refused:
        await operator.register(presentation, role=HOSPITAL_ROLE)
    assert refused.value.code is ErrorCode.INVALID_DOMAIN_ERROR


async def test_a_did_the_applicant_cannot_sign_for_is_refused(
    operator: Operator, store: Store
) -> None:
    victim, _ = await _party(store)
    _, attacker_signer = await _party(store)
    challenge = await operator.challenge()
    # The attacker names the victim's DID as holder but signs with its own key.
    presentation = did_auth_presentation(
        victim,
        attacker_signer,
        challenge=challenge["challenge"],
        domain=operator.did,
        created=utcnow(),
    )
    with pytest.raises(HealthMyDataError) as refused:
        await operator.register(presentation, role=HOSPITAL_ROLE)
    assert refused.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    assert await operator.registrations() == []


async def test_rejected_registration_cannot_be_approved(operator: Operator, store: Store) -> None:
    registration = await _registered(operator, store, "CertifiedDataBroker")
    with pytest.raises(InvalidInputError) as too_long:
        await operator.reject(registration.id, reason="x" * 201)
    assert "a rejection's reason is a string" in too_long.value.message  # was "a name" (QA)
    rejected = await operator.reject(registration.id, reason="no certificate on file")
    assert rejected.state is RegistrationState.REJECTED
    with pytest.raises(InvalidInputError):
        await operator.approve(registration.id)
    assert await operator.accreditations() == []


async def test_concurrent_approvals_issue_one_accreditation(
    operator: Operator, store: Store
) -> None:
    registration = await _registered(operator, store, HOSPITAL_ROLE)
    outcomes = await asyncio.gather(
        *(operator.approve(registration.id) for _ in range(4)), return_exceptions=True
    )
    issued = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(issued) == 1
    assert all(isinstance(o, InvalidInputError) for o in refused), refused
    assert [a.id for a in await operator.accreditations()] == [issued[0].id]
    assert (await operator.registration(registration.id)).accreditation_id == issued[0].id
