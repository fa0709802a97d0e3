"""FHIR import over HTTP: records become credentials in both formats, revocable in both."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aries_askar import Key, KeyAlg

from agent.credentials.sd_jwt import present, verify_sd_jwt
from agent.credentials.token_status_list import check_token_status
from agent.dids import DIDResolver
from tests.hospital.conftest import HospitalService
from tests.hospital.test_hospital_service import set_status, verify

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


class _HolderSigner:
    def __init__(self) -> None:
        self.key = Key.generate(KeyAlg.ED25519)

    @property
    def verification_method(self) -> str:
        return CITIZEN + "#holder"

    @property
    def algorithm(self) -> str:
        return "EdDSA"

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign_message(data))

    def jwk(self) -> dict[str, Any]:
        return dict(json.loads(self.key.get_jwk_public()))


def _import(service: HospitalService, bundle: str, **options: Any) -> httpx.Response:
    body = {"fhir": json.loads((SAMPLES / bundle).read_text()), "subject": CITIZEN, **options}
    return service.admin.post("/fhir/import", json=body)


def test_ips_bundle_becomes_topic_credentials_and_an_emergency_summary(
    hospital: HospitalService,
) -> None:
    response = _import(hospital, "ips-emergency-bundle.json", emergencySummary=True)
    assert response.status_code == 201, response.text
    credentials = response.json()["credentials"]
    kinds = {c["kind"] for c in credentials}
    assert "EmergencySummaryCredential" in kinds
    assert "AllergyIntoleranceCredential" in kinds
    for item in credentials:
        checks = verify(item["credential"])
        assert all(status == "passed" for status, _ in checks.values()), (item["kind"], checks)


def test_sd_jwt_vc_is_key_bound_and_revocable_through_its_token_status_list(
    hospital: HospitalService,
) -> None:
    holder = _HolderSigner()
    response = _import(
        hospital,
        "discharge-bundle.json",
        formats=["sd-jwt"],
        topics=False,
        claimEvidence=True,
        holderJwk=holder.jwk(),
    )
    assert response.status_code == 201, response.text
    (item,) = response.json()["credentials"]
    assert item["kind"] == "ClaimEvidenceCredential"
    sd_jwt = item["credential"]
    now = datetime.now(UTC)
    presentation = present(
        sd_jwt,
        disclose=[("diagnoses",)],
        holder_signer=holder,
        nonce="n-1",
        aud="did:web:insurer.example",
        iat=now,
    )

    async def check() -> tuple[Any, bool]:
        async with httpx.AsyncClient() as http:
            resolver = DIDResolver(http_client=http, insecure_http_hosts={"localhost"})
            verified = await verify_sd_jwt(
                presentation,
                issuer_key_resolver=resolver,
                now=now,
                expected_aud="did:web:insurer.example",
                expected_nonce="n-1",
            )
            claim = verified.payload["status"]
            token = (
                await http.get(claim["status_list"]["uri"].replace("localhost", "127.0.0.1"))
            ).text
            status = await check_token_status(
                claim, token, issuer_key_resolver=resolver, now=now, expected_issuer=verified.issuer
            )
            return verified, status.valid

    verified, valid = asyncio.run(check())
    assert "diagnoses" in verified.payload
    assert "charges" not in verified.payload  # not disclosed
    assert valid is True
    assert set_status(hospital, item["id"], "revoked").status_code == 200
    assert asyncio.run(check())[1] is False


def test_sd_jwt_vc_cannot_be_suspended_only_revoked(hospital: HospitalService) -> None:
    """Its Token Status List carries revocation only: a suspension would not be seen, so it is
    refused instead of answered with a status no verifier can read."""
    response = _import(
        hospital,
        "discharge-bundle.json",
        formats=["sd-jwt"],
        topics=False,
        claimEvidence=True,
        holderJwk=_HolderSigner().jwk(),
    )
    assert response.status_code == 201, response.text
    (item,) = response.json()["credentials"]
    for action in ("suspended", "active"):
        refused = set_status(hospital, item["id"], action)
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"]["reason"] == "suspensionNotSupported"
    assert set_status(hospital, item["id"], "revoked").status_code == 200


def test_invalid_fhir_is_a_422_naming_the_element(hospital: HospitalService) -> None:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "AllergyIntolerance":
            entry["resource"]["reaction"] = [{"severity": 7, "manifestation": []}]
            break
    response = hospital.admin.post("/fhir/import", json={"fhir": bundle, "subject": CITIZEN})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalidFhir"
    assert body["details"]["path"].endswith("AllergyIntolerance.reaction[0].severity")
    assert "7" not in body["message"]


def test_sd_jwt_needs_a_holder_key(hospital: HospitalService) -> None:
    response = _import(hospital, "ips-emergency-bundle.json", formats=["sd-jwt"])
    assert response.status_code == 422
    assert "holderJwk" in response.json()["message"]


def test_batch_job_over_http_with_progress(hospital: HospitalService) -> None:
    import time

    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    resource = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "AllergyIntolerance"
    )
    patients = [{"key": f"p{i}", "subject": CITIZEN, "fhir": resource} for i in range(120)]
    started = hospital.admin.post("/batches", json={"jobId": "ward-7", "patients": patients})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = hospital.admin.get("/batches/ward-7").json()
        if state["state"] == "done":
            break
        time.sleep(0.1)
    assert state == {
        "jobId": "ward-7",
        "state": "done",
        "done": 120,
        "total": 120,
        "issued": 120,
        "failed": 0,
        "error": None,
    }
    page = hospital.admin.get("/batches/ward-7/credentials", params={"limit": 5}).json()
    assert [c["key"] for c in page["credentials"]] == ["p0", "p1", "p2", "p3", "p4"]
    assert all(s == "passed" for s, _ in verify(page["credentials"][0]["credential"]).values())
    again = hospital.admin.post("/batches", json={"jobId": "ward-7", "patients": patients})
    assert again.status_code == 202
    conflict = hospital.admin.post("/batches", json={"jobId": "ward-7", "patients": patients[:3]})
    assert conflict.status_code == 409
    assert hospital.admin.get("/batches/nope").status_code == 404
