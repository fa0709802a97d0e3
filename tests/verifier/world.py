"""Builders for verifier tests: emergency and claim SD-JWT VCs, status tokens, accreditations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.credentials import add_proof
from agent.credentials.contexts import HEALTH_V1
from agent.credentials.sd_jwt import issue_sd_jwt, present
from agent.credentials.token_status_list import TokenStatusList, status_list_token
from agent.keys import KeyType, decode_multikey
from agent.keys.convert import public_key_to_jwk
from tests.verifier.conftest import Party
from verifier.policy import VCT_CLAIM_EVIDENCE, VCT_EMERGENCY_SUMMARY

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
STATUS_URI = "https://hospital.example/status-lists/1/token"

SUMMARY: dict[str, Any] = {
    "allergies": [{"code": "sct|762952008", "text": "Peanut", "criticality": "high"}],
    "problems": [{"code": "sct|44054006", "text": "Diabetes mellitus type 2"}],
    "medications": [{"code": "atc|A10BA02", "text": "metformin", "dose": "500 mg 2/d"}],
    "bloodType": {"code": "sct|278149003", "text": "Blood group A Rh(D) positive"},
    "advanceDirective": {
        "code": "sct|89666000",
        "text": "Cardiopulmonary resuscitation",
        "provision": "deny",
        "date": "2023-09-12",
    },
    "emergencyContact": [{"name": "Ola Nordmann", "phone": "+4791234567"}],
}

CLAIM: dict[str, Any] = {
    "encounter": {"class": "IMP", "period": {"start": "2025-03-02", "end": "2025-03-05"}},
    "diagnoses": [{"code": {"system": "http://hl7.org/fhir/sid/icd-10", "code": "K35.8"}}],
    "procedures": [{"code": {"system": "http://snomed.info/sct", "code": "174041007"}}],
    "charges": [{"code": {"code": "OR-LAP-60"}, "net": {"value": 2400.0, "currency": "EUR"}}],
    "chargeTotal": {"value": 2400.0, "currency": "EUR"},
    "claimType": "institutional",
}


def jwk_of(party: Party) -> dict[str, str]:
    multikey = party.signer.verification_method.split("#", 1)[1]
    return public_key_to_jwk(KeyType.ED25519_PUB, decode_multikey(multikey)[1])


def issue(
    hospital: Party,
    claims: dict[str, Any],
    vct: str,
    *,
    holder: Party | None = None,
    exp: datetime | None = None,
    nbf: datetime | None = None,
    status_idx: int | None = None,
    status_uri: str = STATUS_URI,
    iat: datetime = NOW - timedelta(days=1),
) -> str:
    payload = dict(claims)
    if status_idx is not None:
        payload["status"] = {"status_list": {"idx": status_idx, "uri": status_uri}}
    return issue_sd_jwt(
        payload,
        hospital.signer,
        iss=hospital.did,
        iat=iat,
        exp=exp,
        nbf=nbf,
        disclosable=[(name,) for name in claims],
        holder_jwk=jwk_of(holder) if holder is not None else None,
        vct=vct,
    )


def emergency_card(hospital: Party, **kwargs: Any) -> str:
    return issue(hospital, SUMMARY, VCT_EMERGENCY_SUMMARY, **kwargs)


def claim_evidence(hospital: Party, holder: Party, **kwargs: Any) -> str:
    return issue(hospital, CLAIM, VCT_CLAIM_EVIDENCE, holder=holder, **kwargs)


def presentation(
    sd_jwt: str,
    holder: Party,
    *,
    disclose: list[str],
    nonce: str,
    aud: str,
    iat: datetime = NOW,
) -> str:
    return present(
        sd_jwt,
        disclose=[(name,) for name in disclose],
        holder_signer=holder.signer,
        nonce=nonce,
        aud=aud,
        iat=iat,
    )


def status_token(
    hospital: Party, statuses: dict[int, int], *, iat: datetime = NOW, uri: str = STATUS_URI
) -> str:
    lst = TokenStatusList(1024, bits=2)
    for idx, value in statuses.items():
        lst.set(idx, value)
    return status_list_token(
        uri, lst, hospital.signer, iat=iat - timedelta(hours=1), issuer=hospital.did
    )


def accreditation(
    operator: Party,
    subject: str,
    role: str = "AccreditedHealthcareProvider",
    *,
    valid_until: datetime | None = None,
    status: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2", HEALTH_V1],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", role],
        "issuer": operator.did,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": subject, "accreditedRole": role, "jurisdiction": "NO"},
    }
    if valid_until is not None:
        credential["validUntil"] = valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    if status is not None:
        credential["credentialStatus"] = status
    return add_proof(credential, operator.signer, created=NOW - timedelta(days=30))


def trust_list(
    operator: Party, entries: list[tuple[str, str, str | None]], *, valid_until: str | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2", HEALTH_V1],
        "type": ["VerifiableCredential"],
        "issuer": operator.did,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": operator.did,
            "trustListEntry": [
                {"id": did, "accreditedRole": role, **({"accreditation": acc} if acc else {})}
                for did, role, acc in entries
            ],
        },
    }
    if valid_until is not None:
        document["validUntil"] = valid_until
    return add_proof(document, operator.signer, created=NOW - timedelta(days=1))
