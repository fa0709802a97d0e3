"""FHIR batch items and an ``issue_one`` that issues them the way ``Hospital.run_batch`` does
(subject check, then ``validate_resource``, then ``claims_for_resource``), for the tests of the
worker process that computes FHIR outcomes one chunk ahead (``BatchJobs.run(fhir_member=)``).

Also the entry point of the crash test's child process (``run_fhir_job_in_process``).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agent.clock import utcnow
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.storage import open_store
from agent.types import JSONObject
from issuer import batch
from issuer.batch import BatchJobs
from issuer.fhir import validate_resource
from issuer.hospital import Hospital
from issuer.templates import claims_for_resource

SAMPLE = Path(__file__).resolve().parents[2] / "mydata" / "samples" / "ips-emergency-bundle.json"
SUBJECT = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

#: What went wrong with one item: error class, code, message and details.
ItemError = tuple[type[HealthMyDataError], str, str, dict[str, Any]]


def sample_resources() -> dict[str, dict[str, Any]]:
    """The sample bundle's resources by type."""
    bundle = json.loads(SAMPLE.read_text())
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def payload_kinds() -> list[JSONObject]:
    """One payload of each kind a batch meets: four valid records, and items failing in each
    way the FHIR path can fail (in the worker, or before it is consulted)."""
    found = sample_resources()
    bad_element = copy.deepcopy(found["AllergyIntolerance"])
    bad_element["reaction"][0]["severity"] = 7
    extra_element = copy.deepcopy(found["Condition"])
    extra_element["notAnElement"] = True
    missing_type = {k: v for k, v in found["Observation"].items() if k != "resourceType"}
    return [
        {"subject": SUBJECT, "fhir": found["AllergyIntolerance"]},
        {"subject": SUBJECT, "fhir": found["Condition"]},
        {"subject": SUBJECT, "fhir": found["MedicationStatement"]},
        {"subject": SUBJECT, "fhir": found["Observation"]},
        {"subject": SUBJECT, "fhir": bad_element},  # invalid element: validation fails
        {"subject": SUBJECT, "fhir": extra_element},  # extra_forbidden
        {"subject": SUBJECT, "fhir": missing_type},  # missingResourceType
        {"subject": SUBJECT, "fhir": {"resourceType": "Allergy"}},  # unknownResourceType
        {"subject": SUBJECT, "fhir": found["Patient"]},  # valid, but no template: claims fail
        {"subject": SUBJECT, "fhir": "AllergyIntolerance"},  # not an object: never sent
        {"subject": SUBJECT},  # no resource at all
        {"subject": "patient-1", "fhir": bad_element},  # the subject check comes first
    ]


def fhir_patients(n: int, prefix: str = "p") -> list[tuple[str, JSONObject]]:
    """``n`` patients cycling through :func:`payload_kinds`."""
    kinds = payload_kinds()
    return [(f"{prefix}{i:06d}", kinds[i % len(kinds)]) for i in range(n)]


IssueOne = Callable[[str, JSONObject], Awaitable[tuple[str, Any]]]


def make_fhir_issuer(
    hospital: Hospital | None,
    errors: dict[str, ItemError] | None = None,
    delay: float = 0.0,
    record_keys: dict[str, str] | None = None,
) -> IssueOne:
    """``issue_one`` as in ``Hospital.run_batch``: signed by ``hospital`` with fixed status
    indexes from the patient number (so two runs sign the same documents), or, without a
    hospital, the claims' subject as the credential. ``errors`` collects each failed item's
    error, ``record_keys`` each issued item's ``RecordClaims.record_key``."""

    async def issue_one(patient_key: str, payload: JSONObject) -> tuple[str, Any]:
        if delay:
            await asyncio.sleep(delay)
        try:
            subject = payload.get("subject")
            if not isinstance(subject, str) or not subject.startswith("did:"):
                raise InvalidInputError(
                    "a batch item needs 'subject', the citizen's DID",
                    code=ErrorCode.BATCH_ITEM_INVALID,
                )
            claims = claims_for_resource(validate_resource(payload.get("fhir")))
        except HealthMyDataError as exc:
            if errors is not None:
                errors[patient_key] = (type(exc), str(exc.code), exc.message, exc.details)
            raise
        if record_keys is not None:
            record_keys[patient_key] = claims.record_key
        if hospital is None:
            return f"urn:x:{patient_key}", {"kind": str(claims.kind), **claims.subject}
        number = int(patient_key.lstrip("abcdefghijklmnopqrstuvwxyz"))
        issued = await hospital.issue_record(
            claims,
            subject_did=subject,
            status=[("revocation-list", number), ("suspension-list", number)],
            record=False,
        )
        return issued.id, issued.credential

    return issue_one


def run_fhir_job_in_process(
    uri: str, raw_key: str, job_id: str, delay: float, pid_file: str
) -> None:
    """Run ``job_id`` with the FHIR worker in this process, writing the worker's pid to
    ``pid_file`` once it exists (the crash test kills this process before the end)."""
    started = batch._Ahead.__init__

    def record_pid(self: batch._Ahead, member: str) -> None:
        started(self, member)
        assert self._process is not None
        Path(pid_file).write_text(str(self._process.pid))

    batch._Ahead.__init__ = record_pid  # type: ignore[method-assign]
    asyncio.run(_run(uri, raw_key, job_id, delay))


async def _run(uri: str, raw_key: str, job_id: str, delay: float) -> None:
    store = await open_store(uri, raw_key=raw_key, create=False)
    try:
        await BatchJobs(store, clock=utcnow).run(
            job_id, make_fhir_issuer(None, delay=delay), fhir_member="fhir", pool=True
        )
    finally:
        await store.close()
