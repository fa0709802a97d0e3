"""A credential from ``Hospital.run_batch`` is the one a single issuance makes (the batch path
skips no check and adds nothing), apart from what must differ: id, status indexes, signature."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.credentials.model import validate_credential
from agent.credentials.proofs import verify_proofs
from agent.dids.resolver import DIDResolver
from agent.storage import Store
from issuer.batch import BatchJobs
from issuer.fhir import validate_resource
from issuer.hospital import Hospital
from issuer.templates import claims_for_resource

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "mydata" / "samples" / "ips-emergency-bundle.json"
SUBJECT = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _resources() -> list[dict[str, Any]]:
    bundle = json.loads(SAMPLE.read_text())
    kinds = {"AllergyIntolerance", "Condition", "MedicationStatement", "Observation"}
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] in kinds]


def _modulo_varying(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential without its id, status indexes and proof value."""
    rest = {key: value for key, value in credential.items() if key != "id"}
    rest["credentialStatus"] = [
        {k: v for k, v in entry.items() if k not in {"id", "statusListIndex"}}
        for entry in credential["credentialStatus"]
    ]
    rest["proof"] = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
    return rest


async def test_batch_credentials_equal_single_ones_and_verify(store: Store) -> None:
    hospital = await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)
    resolver = DIDResolver()
    resolver.add_document(await hospital.did_document())
    resources = _resources()
    assert len(resources) >= 3
    patients = [(f"p{n}", {"subject": SUBJECT, "fhir": r}) for n, r in enumerate(resources)]
    result = await hospital.run_batch("equivalence", patients, chunk_size=2)
    assert (result.issued, result.failed) == (len(resources), 0)
    jobs = BatchJobs(store, clock=lambda: NOW)
    for (patient_key, _), resource in zip(patients, resources, strict=True):
        found = await jobs.credential_for("equivalence", patient_key)
        assert found is not None
        batch = found.credential
        assert isinstance(batch, dict)
        single = (
            await hospital.issue_record(
                claims_for_resource(validate_resource(resource)), subject_did=SUBJECT, record=False
            )
        ).credential
        assert isinstance(single, dict)
        assert batch["id"] == found.credential_id != single["id"]
        assert batch["credentialStatus"] != single["credentialStatus"]
        assert _modulo_varying(batch) == _modulo_varying(single)
        assert batch["credentialSubject"]["fhirResource"] == resource
        for credential in (batch, single):
            validate_credential(credential)
            results = await verify_proofs(credential, resolver, now=NOW)
            assert [r.controller for r in results] == [hospital.did]


async def test_a_credential_does_not_share_the_input_resource(store: Store) -> None:
    """The template no longer copies the resource; the credential builder must."""
    hospital = await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)
    resource = copy.deepcopy(_resources()[0])
    issued = await hospital.issue_record(
        claims_for_resource(validate_resource(resource)), subject_did=SUBJECT, record=False
    )
    credential = issued.credential
    assert isinstance(credential, dict)
    before = copy.deepcopy(credential)
    resource["code"]["coding"][0]["code"] = "changed"
    resource["extra"] = 1
    assert credential == before
    resolver = DIDResolver()
    resolver.add_document(await hospital.did_document())
    await verify_proofs(credential, resolver, now=NOW)
