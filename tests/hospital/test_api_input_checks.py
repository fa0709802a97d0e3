"""The hospital's HTTP API checks its input before acting (QA defects on issuer/api.py).

1. ``POST /batches`` checks every member before the 202 (an unknown ``format``, a bad
   ``jobId``, a patient's ``key``, ``subject``, ``fhir``, ``holderJwk``): a 422 naming the
   path, and nothing stored; a background run that fails ends ``failed``, never ``pending``.
2. ``GET /batches/{id}`` counts the failed items and ``GET /batches/{id}/failures`` lists
   them (key, code, message), without a value of the record.
3. ``POST /fhir/import``'s flags are JSON booleans; ``POST /credentials/status`` refuses a
   ``type`` that is not the Bitstring Status List, and applies nothing of a refused request.

Most tests run against ``mydata serve hospital`` (the ``hospital`` fixture); those that read the
store or break a run run the same app in-process on its own askar store (``app_client``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aries_askar import Key, KeyAlg
from fastapi import FastAPI

from agent.errors import StorageError
from agent.service import AgentServiceConfig
from agent.storage import generate_raw_key, open_store
from issuer.api import create_hospital_app
from issuer.batch import BatchJobs
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY
from tests.hospital.conftest import HospitalService

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
#: A health datum that must never be echoed by an error or a failure listing.
MARKER = "QAMARKER-5521-PENICILLIN"
TOKEN = "api-input-checks-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _allergy() -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((SAMPLES / "allergy-intolerance.json").read_text())
    return resource


def _holder_jwk() -> dict[str, Any]:
    return dict(json.loads(Key.generate(KeyAlg.ED25519).get_jwk_public()))


def _patient(patient_key: str, **change: Any) -> dict[str, Any]:
    return {"key": patient_key, "subject": CITIZEN, "fhir": _allergy(), **change}


def _wait_done(service: HospitalService, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = service.admin.get(f"/batches/{job_id}").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {state}")


# --- 1. POST /batches: every member checked before the 202 --------------------------------------

_ONE = [_patient("a")]


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"format": "xml", "patients": _ONE}, "invalidInput", "format"),
        ({"format": 7, "patients": _ONE}, "invalidInput", "format"),
        ({"format": None, "patients": _ONE}, "invalidInput", "format"),
        ({"jobId": 5, "patients": _ONE}, "invalidInput", "jobId"),
        ({"jobId": "", "patients": _ONE}, "invalidInput", "jobId"),
        ({"jobId": "a b/c", "patients": _ONE}, "invalidInput", "jobId"),
        ({"patients": {"a": 1}}, "invalidInput", "patients"),
        ({}, "invalidInput", "patients"),
        ({"patients": [5]}, "batchItemInvalid", "patients[0]"),
        ({"patients": [_patient("a", subject=5)]}, "batchItemInvalid", "patients[0].subject"),
        ({"patients": [_patient("a", subject=MARKER)]}, "batchItemInvalid", "patients[0].subject"),
        ({"patients": [_patient("a", fhir="no")]}, "batchItemInvalid", "patients[0].fhir"),
        ({"patients": [_patient("a", fhir=[MARKER])]}, "batchItemInvalid", "patients[0].fhir"),
        ({"patients": [_patient("a", key=7)]}, "batchItemInvalid", "patients[0].key"),
        ({"patients": [_patient("a", key="")]}, "batchItemInvalid", "patients[0].key"),
        ({"patients": [_patient("a", holderJwk="k")]}, "batchItemInvalid", "patients[0].holderJwk"),
        (
            {
                "format": "sd-jwt",
                "patients": [_patient("a", holderJwk={"kty": "OKP"}), _patient("b")],
            },
            "batchItemInvalid",
            "patients[1].holderJwk",
        ),
        (
            {"patients": [_patient("a"), _patient("b"), {"key": "c", "fhir": _allergy()}]},
            "batchItemInvalid",
            "patients[2].subject",
        ),
    ],
)
def test_a_bad_batch_request_is_a_422_naming_the_member_and_stores_nothing(
    hospital: HospitalService, body: dict[str, Any], code: str, path: str
) -> None:
    job_id = f"refused-{abs(hash(json.dumps(body, sort_keys=True))) % 10**8}"
    body = {"jobId": job_id, **body}
    response = hospital.admin.post("/batches", json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == code
    assert answer["details"]["path"] == path
    assert MARKER not in response.text
    if body["jobId"] == job_id:
        assert hospital.admin.get(f"/batches/{job_id}").status_code == 404


def test_duplicate_or_overlong_keys_are_refused_before_anything_is_stored(
    hospital: HospitalService,
) -> None:
    for job_id, patients in (
        ("dup-keys", [_patient("a"), _patient("a")]),
        ("long-key", [_patient("k" * 201)]),
        # Without a key an item is keyed by its position: "1" is then taken twice.
        ("dup-position", [_patient("1"), {"subject": CITIZEN, "fhir": _allergy()}]),
    ):
        response = hospital.admin.post("/batches", json={"jobId": job_id, "patients": patients})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "batchItemInvalid"
        assert hospital.admin.get(f"/batches/{job_id}").status_code == 404


def test_the_qa_request_with_an_unknown_format_leaves_no_job_and_no_error_log(
    hospital: HospitalService,
) -> None:
    body = {
        "jobId": "j4",
        "format": "xml",
        "patients": [{"key": "a", "subject": "did:example:1", "fhir": {}}],
    }
    response = hospital.admin.post("/batches", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["details"] == {
        "path": "format",
        "reason": "unknownFormat",
        "formats": ["sd-jwt", "vc"],
    }
    assert hospital.admin.get("/batches/j4").status_code == 404
    time.sleep(0.3)  # a background run, if one had started, would have failed by now
    log = hospital.log_path.read_text()
    assert "Traceback" not in log
    assert "batch job j4" not in log


def test_an_sd_jwt_batch_runs_and_its_job_keeps_its_format(hospital: HospitalService) -> None:
    patients = [_patient(f"p{i}", holderJwk=_holder_jwk()) for i in range(3)]
    body = {"jobId": "sd-ward", "format": "sd-jwt", "patients": patients}
    started = hospital.admin.post("/batches", json=body)
    assert started.status_code == 202, started.text
    assert started.json() == {"jobId": "sd-ward", "total": 3}
    state = _wait_done(hospital, "sd-ward")
    assert state == {
        "jobId": "sd-ward",
        "state": "done",
        "done": 3,
        "total": 3,
        "issued": 3,
        "failed": 0,
        "error": None,
    }
    page = hospital.admin.get("/batches/sd-ward/credentials").json()["credentials"]
    assert [c["key"] for c in page] == ["p0", "p1", "p2"]
    assert all(isinstance(c["credential"], str) and "~" in c["credential"] for c in page)
    # The same patients under another format would mix formats in one job: refused.
    conflict = hospital.admin.post("/batches", json={**body, "format": "vc"})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["code"] == "batchJobConflict"
    assert conflict.json()["details"]["format"] == "sd-jwt"
    again = hospital.admin.post("/batches", json=body)  # resuming a done job issues nothing
    assert again.status_code == 202, again.text
    assert _wait_done(hospital, "sd-ward")["issued"] == 3


def test_a_random_job_id_when_none_is_given(hospital: HospitalService) -> None:
    started = hospital.admin.post("/batches", json={"patients": [_patient("a")]})
    assert started.status_code == 202, started.text
    job_id = started.json()["jobId"]
    assert job_id.startswith("job-")
    assert _wait_done(hospital, job_id)["issued"] == 1


# --- 2. failed items are counted and listed ------------------------------------------------------


def _failing_patients() -> list[dict[str, Any]]:
    bad_date = _allergy()
    bad_date["code"]["text"] = MARKER
    bad_date["recordedDate"] = MARKER  # not a FHIR dateTime
    unknown_member = _allergy()
    unknown_member["noSuchElement"] = MARKER
    return [
        _patient("good-1"),
        _patient("nope", fhir={"resourceType": "Nope"}),
        _patient("bad-date", fhir=bad_date),
        _patient("not-a-topic", fhir={"resourceType": "Patient", "id": "x"}),
        _patient("no-type", fhir={"code": {"text": MARKER}}),
        _patient("unknown-member", fhir=unknown_member),
        _patient("good-2"),
    ]


def test_failed_items_are_counted_and_listed_without_the_record(
    hospital: HospitalService,
) -> None:
    started = hospital.admin.post(
        "/batches", json={"jobId": "ward-failures", "patients": _failing_patients()}
    )
    assert started.status_code == 202, started.text
    state = _wait_done(hospital, "ward-failures")
    assert state == {
        "jobId": "ward-failures",
        "state": "done",
        "done": 7,
        "total": 7,
        "issued": 2,
        "failed": 5,
        "error": None,
    }
    credentials = hospital.admin.get("/batches/ward-failures/credentials").json()
    assert [c["key"] for c in credentials["credentials"]] == ["good-1", "good-2"]

    response = hospital.admin.get("/batches/ward-failures/failures")
    assert response.status_code == 200, response.text
    failures = response.json()["failures"]
    assert [(f["key"], f["code"]) for f in failures] == [
        ("nope", "invalidFhir"),
        ("bad-date", "invalidFhir"),
        ("not-a-topic", "invalidFhir"),
        ("no-type", "invalidFhir"),
        ("unknown-member", "invalidFhir"),
    ]
    messages = {f["key"]: f["message"] for f in failures}
    assert "resourceType is not a FHIR R4 resource type" in messages["nope"]
    assert "Nope" not in messages["nope"]
    assert "AllergyIntolerance.recordedDate" in messages["bad-date"]
    assert "no credential type for FHIR Patient" in messages["not-a-topic"]
    assert "resourceType is missing" in messages["no-type"]
    assert "element is not defined" in messages["unknown-member"]
    assert all(0 < len(m) <= 300 for m in messages.values())
    assert MARKER not in response.text

    # Paged like /credentials: offset and limit (at least 1, at most 1,000).
    def keys(**params: int) -> list[str]:
        page = hospital.admin.get("/batches/ward-failures/failures", params=params)
        assert page.status_code == 200, page.text
        return [f["key"] for f in page.json()["failures"]]

    assert keys(offset=1, limit=2) == ["bad-date", "not-a-topic"]
    assert keys(offset=4) == ["unknown-member"]
    assert keys(offset=9) == []
    assert keys(limit=0) == ["nope"]
    assert keys(offset=-3, limit=1) == ["nope"]
    assert hospital.admin.get("/batches/no-such-job/failures").status_code == 404


def test_a_job_without_failures_lists_none(hospital: HospitalService) -> None:
    started = hospital.admin.post(
        "/batches", json={"jobId": "all-good", "patients": [_patient("a"), _patient("b")]}
    )
    assert started.status_code == 202, started.text
    assert _wait_done(hospital, "all-good")["failed"] == 0
    assert hospital.admin.get("/batches/all-good/failures").json() == {"failures": []}


def test_the_batch_routes_document_their_answers(hospital: HospitalService) -> None:
    spec = hospital.admin.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    status = spec["paths"]["/batches/{job_id}"]["get"]["responses"]["200"]
    assert status["content"]["application/json"]["schema"]["$ref"].endswith("/BatchStatus")
    assert set(schemas["BatchStatus"]["properties"]) == {
        "jobId", "state", "done", "total", "issued", "failed", "error",
    }  # fmt: skip
    failures = spec["paths"]["/batches/{job_id}/failures"]["get"]
    assert [p["name"] for p in failures["parameters"]] == ["job_id", "offset", "limit"]
    assert set(schemas["BatchFailedItem"]["properties"]) == {"key", "code", "message"}
    body = spec["paths"]["/batches"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["format"]["enum"] == ["sd-jwt", "vc"]
    assert "422" in spec["paths"]["/batches"]["post"]["responses"]


# --- 3. /fhir/import flags, /credentials/status type ------------------------------------------


def _import(service: HospitalService, **options: Any) -> httpx.Response:
    body = {"fhir": _allergy(), "subject": CITIZEN, **options}
    return service.admin.post("/fhir/import", json=body)


@pytest.mark.parametrize("name", ["emergencySummary", "claimEvidence", "topics"])
@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, [], {}])
def test_import_flags_must_be_json_booleans(
    hospital: HospitalService, name: str, value: Any
) -> None:
    response = _import(hospital, **{name: value})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == "invalidInput"
    assert answer["details"] == {"path": name, "reason": "notABoolean"}


def test_import_flags_as_booleans_select_the_credentials(hospital: HospitalService) -> None:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    for summary in (False, True):
        response = hospital.admin.post(
            "/fhir/import",
            json={"fhir": bundle, "subject": CITIZEN, "topics": False, "emergencySummary": summary,
                  "claimEvidence": False},
        )  # fmt: skip
        if summary:
            assert response.status_code == 201, response.text
            assert [c["kind"] for c in response.json()["credentials"]] == [
                "EmergencySummaryCredential"
            ]
        else:  # nothing asked for: nothing to issue
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "invalidFhir"


@pytest.mark.parametrize(
    ("formats", "status"),
    [([{}], 422), (["vc", "vc"], 422), (["xml"], 422), ([], 422), ("vc", 422), ([7], 422)],
)
def test_import_formats_are_listed_each_once(
    hospital: HospitalService, formats: Any, status: int
) -> None:
    response = _import(hospital, formats=formats)
    assert response.status_code == status, response.text
    assert response.json()["details"]["path"] == "formats"


def _issue(service: HospitalService) -> str:
    response = service.admin.post("/credentials/issue", json={"credential": UNSIGNED_ALLERGY})
    assert response.status_code == 201, response.text
    return str(response.json()["verifiableCredential"]["id"])


def _status(service: HospitalService, credential_id: str, *changes: Any) -> httpx.Response:
    return service.admin.post(
        "/credentials/status",
        json={"credentialId": credential_id, "credentialStatus": list(changes)},
    )


def test_status_update_type_names_the_bitstring_status_list_or_is_left_out(
    hospital: HospitalService,
) -> None:
    credential_id = _issue(hospital)
    for change, path in (
        ({"type": "Other", "status": "revoked"}, "credentialStatus[0].type"),
        ({"type": "StatusList2021Credential", "status": "revoked"}, "credentialStatus[0].type"),
        ({"type": 5, "status": "revoked"}, "credentialStatus[0].type"),
        ({"type": None, "status": "revoked"}, "credentialStatus[0].type"),
    ):
        refused = _status(hospital, credential_id, change)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalidInput"
        assert refused.json()["details"] == {"path": path, "reason": "unsupportedStatusType"}
    # Nothing of a refused request is applied: the second item is bad, the first not revoked.
    refused = _status(
        hospital, credential_id, {"status": "revoked"}, {"type": "Other", "status": "suspended"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"]["path"] == "credentialStatus[1].type"
    unknown = _status(hospital, credential_id, {"status": "revoked"}, {"status": "deleted"})
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["details"] == {
        "path": "credentialStatus[1].status",
        "reason": "unknownStatus",
    }
    for kind in ("BitstringStatusListEntry", "BitstringStatusListCredential", None):
        change = {"status": "suspended"} | ({"type": kind} if kind else {})
        suspended = _status(hospital, credential_id, change)
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["status"] == {"suspension": True}
        # Reinstating is refused once revoked: it works, so nothing above revoked it.
        active = _status(hospital, credential_id, {"status": "active"})
        assert active.status_code == 200, active.text


# --- in-process: the store read directly, a run broken on purpose -------------------------------


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The hospital app on its own SQLite store, started through its lifespan."""
    key = generate_raw_key()
    uri = f"sqlite://{tmp_path / 'hospital.db'}"
    store = await open_store(uri, raw_key=key)
    try:
        await Hospital.init(store, base_url="http://127.0.0.1:8000", did_method="key")
    finally:
        await store.close()
    app = create_hospital_app(
        AgentServiceConfig(
            store_uri=uri, store_key=key, public_url="http://127.0.0.1:8000", admin_token=TOKEN
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
            yield app, client


async def _audit_count(app: FastAPI) -> int:
    hospital: Hospital = app.state.hospital
    return len(await hospital.audit.entries(limit=1000))


async def test_refused_imports_issue_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    base = {"fhir": bundle, "subject": CITIZEN}
    before = await _audit_count(app)
    for body in (
        {**base, "emergencySummary": "false"},
        {**base, "claimEvidence": "no"},
        {**base, "formats": [{}]},  # was a 500 (an object is not hashable)
        # The vc credentials came first, then the sd-jwt one failed: now refused up front.
        {**base, "formats": ["vc", "sd-jwt"]},
        {**base, "formats": ["vc", "sd-jwt"], "holderJwk": {"kty": "OKP", "crv": "Ed25519"}},
        {**base, "formats": ["sd-jwt"], "holderJwk": {**_holder_jwk(), "d": "secret"}},
    ):
        response = await client.post("/fhir/import", json=body, headers=ADMIN)
        assert response.status_code == 422, (body.keys(), response.text)
        assert response.json()["code"] == "invalidInput"
    assert await _audit_count(app) == before
    # The emergency card alone needs no holder key (it is shown without key binding).
    summary = {**base, "topics": False, "emergencySummary": True, "formats": ["sd-jwt"]}
    response = await client.post("/fhir/import", json=summary, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert await _audit_count(app) == before + 1


async def test_refused_status_updates_change_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    issued = await client.post(
        "/credentials/issue", json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)}, headers=ADMIN
    )
    assert issued.status_code == 201, issued.text
    credential_id = issued.json()["verifiableCredential"]["id"]
    before = await _audit_count(app)
    refused = await client.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": [{"status": "revoked"}, {"type": "Other", "status": "revoked"}],
        },
        headers=ADMIN,
    )
    assert refused.status_code == 422, refused.text
    assert await _audit_count(app) == before


async def test_a_refused_batch_leaves_no_record(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    hospital: Hospital = app.state.hospital
    body = {"jobId": "j4", "format": "xml", "patients": [_patient("a")]}
    response = await client.post("/batches", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert not app.state.background_tasks
    for category in ("batch_job", "batch_items", "batch_index"):
        async with hospital.store.session() as session:
            assert await session.fetch_all(category, limit=10) == [], category


async def test_a_run_that_fails_before_its_job_starts_shows_failed_then_resumes(
    app_client: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = app_client
    run = BatchJobs._run

    async def store_down(self: BatchJobs, job_id: str, *args: Any, **kwargs: Any) -> Any:
        raise StorageError("the store is unreachable")

    monkeypatch.setattr(BatchJobs, "_run", store_down)
    body = {"jobId": "ward-3", "patients": [_patient("a"), _patient("b")]}
    started = await client.post("/batches", json=body, headers=ADMIN)
    assert started.status_code == 202, started.text
    await asyncio.gather(*app.state.background_tasks)
    state = (await client.get("/batches/ward-3", headers=ADMIN)).json()
    # The run never started the job: its record says it failed, for every replica.
    assert state == {
        "jobId": "ward-3",
        "state": "failed",
        "done": 0,
        "total": 2,
        "issued": 0,
        "failed": 0,
        "error": "StorageError",
    }
    monkeypatch.setattr(BatchJobs, "_run", run)
    again = await client.post("/batches", json=body, headers=ADMIN)
    assert again.status_code == 202, again.text
    await asyncio.gather(*app.state.background_tasks)
    state = (await client.get("/batches/ward-3", headers=ADMIN)).json()
    assert (state["state"], state["issued"], state["error"]) == ("done", 2, None)


async def test_a_run_that_fails_midway_is_failed_in_its_record(
    app_client: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = app_client
    hospital: Hospital = app.state.hospital
    issue_record = Hospital.issue_record

    async def broken(self: Hospital, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("signer crashed")

    monkeypatch.setattr(Hospital, "issue_record", broken)
    body = {"jobId": "ward-4", "patients": [_patient("a")]}
    assert (await client.post("/batches", json=body, headers=ADMIN)).status_code == 202
    await asyncio.gather(*app.state.background_tasks)
    state = (await client.get("/batches/ward-4", headers=ADMIN)).json()
    assert (state["state"], state["error"]) == ("failed", "RuntimeError")
    job = await BatchJobs(hospital.store, clock=hospital.clock).job("ward-4")
    assert str(job.state) == "failed"
    monkeypatch.setattr(Hospital, "issue_record", issue_record)
    assert (await client.post("/batches", json=body, headers=ADMIN)).status_code == 202
    await asyncio.gather(*app.state.background_tasks)
    state = (await client.get("/batches/ward-4", headers=ADMIN)).json()
    assert (state["state"], state["issued"], state["error"]) == ("done", 1, None)


async def test_posting_a_running_job_again_starts_no_second_run(
    app_client: tuple[FastAPI, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = app_client
    gate = asyncio.Event()
    run = BatchJobs.run

    async def held(self: BatchJobs, *args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await run(self, *args, **kwargs)

    monkeypatch.setattr(BatchJobs, "run", held)
    body = {"jobId": "ward-5", "patients": [_patient("a")]}
    assert (await client.post("/batches", json=body, headers=ADMIN)).status_code == 202
    assert (await client.post("/batches", json=body, headers=ADMIN)).status_code == 202
    assert len(app.state.background_tasks) == 1
    gate.set()
    await asyncio.gather(*app.state.background_tasks)
    state = (await client.get("/batches/ward-5", headers=ADMIN)).json()
    assert (state["state"], state["issued"]) == ("done", 1)
