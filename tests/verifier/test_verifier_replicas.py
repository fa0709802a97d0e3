"""Single use and duplicate detection hold across verifier replicas: concurrent tasks on one
SQLite store, and two verifier processes on one PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import utcnow
from agent.dids import DIDResolver
from agent.errors import ErrorCode, ProofError
from agent.storage import generate_raw_key, open_store, remove_store
from tests.verifier.conftest import Party, _party
from tests.verifier.service import VerifierService
from tests.verifier.world import NOW, accreditation, claim_evidence, presentation
from verifier.nonces import NonceStore
from verifier.policy import CLAIM_FIELDS, InsurerClaimPolicy
from verifier.report import Check, CheckResult, VerificationReport
from verifier.trust import TrustRegistry


async def test_concurrent_consumers_use_a_nonce_once(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "v.sqlite", raw_key=generate_raw_key())
    try:
        nonces = NonceStore(store, clock=lambda: NOW)
        record = await nonces.issue(audience="did:key:z6Mkv")
        outcomes = await asyncio.gather(
            *(nonces.consume(record.nonce, audience="did:key:z6Mkv") for _ in range(8)),
            return_exceptions=True,
        )
        assert sum(not isinstance(o, Exception) for o in outcomes) == 1
        codes = {o.code for o in outcomes if isinstance(o, ProofError)}
        assert codes == {ErrorCode.NONCE_REPLAYED}
    finally:
        await store.close()


def _evidence_report(claims: dict[str, Any]) -> VerificationReport:
    passed = tuple(CheckResult.passed(c) for c in (Check.FORMAT, Check.PROOF, Check.TRUST))
    return VerificationReport("sd-jwt", passed, claims=claims)


async def test_duplicate_claim_is_flagged_durably(tmp_path: Path) -> None:
    from tests.verifier.world import CLAIM

    claims = {**CLAIM, "vct": "https://w3id.org/health-mydata/vct/ClaimEvidence/v1"}
    key = generate_raw_key()
    store = await open_store(tmp_path / "i.sqlite", raw_key=key)
    try:
        policy = InsurerClaimPolicy(store)
        report = _evidence_report(claims)
        first = await policy.decide(
            report, claim_id="A", evidence_key="k", claim_type="institutional"
        )
        assert first.accepted
        assert set(first.show) == set(CLAIM)
        again = await policy.decide(
            report, claim_id="A", evidence_key="k", claim_type="institutional"
        )
        assert again.accepted  # the same claim re-submitted: idempotent
        second = await policy.decide(
            report, claim_id="B", evidence_key="k", claim_type="institutional"
        )
        assert not second.accepted
        assert second.flags == ("duplicateClaim",)
        missing = await policy.decide(
            _evidence_report({"vct": claims["vct"], "diagnoses": []}),
            claim_id="C",
            evidence_key="k2",
            claim_type="institutional",
        )
        assert not missing.accepted
        assert "needs" in missing.reasons[-1]
    finally:
        await store.close()
    # Durable: a restarted insurer still knows the evidence.
    store = await open_store(tmp_path / "i.sqlite", raw_key=key)
    try:
        policy = InsurerClaimPolicy(store)
        third = await policy.decide(
            report, claim_id="D", evidence_key="k", claim_type="institutional"
        )
        assert third.flags == ("duplicateClaim",)
        assert [f["claimId"] for f in await policy.flags()] == ["B", "D"] or sorted(
            f["claimId"] for f in await policy.flags()
        ) == ["B", "D"]
    finally:
        await store.close()


# --- two processes on one PostgreSQL -----------------------------------------------------------


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Any:
    async def parties() -> tuple[Party, Party, Party, dict[str, Any]]:
        store = await open_store(tmp_path / "parties.sqlite", raw_key=generate_raw_key())
        hospital, citizen, operator = [await _party(store) for _ in range(3)]
        trust = TrustRegistry({operator.did}, DIDResolver())
        await trust.add_accreditation(accreditation(operator, hospital.did))
        return hospital, citizen, operator, trust.export()

    hospital, citizen, operator, exported = asyncio.run(parties())
    (tmp_path / "trust.json").write_text(json.dumps(exported))
    key = generate_raw_key()
    env = {
        "VERIFIER_OPERATORS": operator.did,
        "VERIFIER_TRUST_CACHE": str(tmp_path / "trust.json"),
        "VERIFIER_ROLE": "insurer",
    }
    first = VerifierService(postgres_url, key, tmp_path, **env)
    services = [first]
    try:
        services.append(VerifierService(postgres_url, key, tmp_path, **env))
        yield hospital, citizen, services
    finally:
        for service in services:
            service.stop()
        asyncio.run(remove_store(postgres_url))


def _request(service: VerifierService, claim_id: str) -> str:
    response = service.admin.post(
        "/presentation-requests",
        json={
            "presentation_definition": {
                "id": "c",
                "input_descriptors": [
                    {"id": "claim", "constraints": {"fields": [{"path": ["$.chargeTotal"]}]}}
                ],
            },
            "role": "insurer",
            "claim_id": claim_id,
            "claim_type": "institutional",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["nonce"])


FIELDS = list(CLAIM_FIELDS["institutional"])


def test_two_replicas_nonce_single_use_and_duplicate_claims(replicas: Any) -> None:
    hospital, citizen, (a, b) = replicas
    did_a = a.client.get("/verifier").json()["did"]
    assert b.client.get("/verifier").json()["did"] == did_a  # one verifier identity
    sd = claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1))

    def submit(service: VerifierService, text: str) -> tuple[int, dict[str, Any]]:
        response = service.client.post("/presentations/submit", json={"presentation": text})
        return response.status_code, response.json()

    # A nonce made on A, submitted to A and B at once, several times: one success.
    nonce = _request(a, "claim-1")
    text = presentation(sd, citizen, disclose=FIELDS, nonce=nonce, aud=did_a, iat=utcnow())
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda s: submit(s, text), [a, b] * 3))
    assert [status for status, _ in outcomes].count(200) == 1, outcomes
    for status, body in outcomes:
        if status != 200:
            assert status == 422
            assert {e["check"]: e["code"] for e in body["errors"]} == {"challenge": "nonceReplayed"}

    # The same evidence for a second claim, on the other replica: flagged.
    nonce = _request(b, "claim-2")
    text = presentation(sd, citizen, disclose=FIELDS, nonce=nonce, aud=did_a, iat=utcnow())
    status, body = submit(b, text)
    assert status == 422, body
    assert body["decision"]["flags"] == ["duplicateClaim"], body

    # Two different claims racing with the same (new) evidence on both replicas: one wins.
    fresh = claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1))
    texts = [
        (
            service,
            presentation(
                fresh,
                citizen,
                disclose=FIELDS,
                nonce=_request(service, f"race-{i}"),
                aud=did_a,
                iat=utcnow(),
            ),
        )
        for i, service in enumerate([a, b, a, b])
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        raced = list(pool.map(lambda pair: submit(*pair), texts))
    accepted = [body for status, body in raced if status == 200]
    assert len(accepted) == 1, raced
    assert all(body["decision"]["flags"] == ["duplicateClaim"] for s, body in raced if s != 200)
