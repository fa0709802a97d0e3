"""Credentials a batch issued are revoked, suspended and reinstated like any other (QA: they
were not found by id: ``[notFound] no credential with that id was issued here``), in both
formats, through the library, the HTTP API and the CLI, on SQLite and PostgreSQL; a store an
earlier version wrote (chunk records without the credential id tag) is upgraded once when the
hospital loads; a batch credential's id given again to ``POST /credentials/issue`` is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.credentials.token_status_list import check_token_status
from agent.dids import DIDResolver
from agent.encoding import b64url_decode
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.service import AgentServiceConfig
from agent.status.checker import StatusChecker
from agent.storage import Store, open_store
from agent.storeconfig import key_file_for
from issuer.api import create_hospital_app
from issuer.audit import AuditEvent
from issuer.batch import ID_TAG, ISSUED_CATEGORY, BatchJobs, find_issued
from issuer.fhir import validate_resource
from issuer.hospital import STORE_VERSION, Hospital
from issuer.templates import claims_for_resource
from tests.conftest import mydata

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"
SUBJECT = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
HOLDER_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
ADMIN_TOKEN = "batch-revocation-admin-token-0123"
BASE_URL = "http://127.0.0.1:8000"


def _resources() -> list[dict[str, Any]]:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    kinds = {"AllergyIntolerance", "Condition", "MedicationStatement", "Observation"}
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] in kinds]


def _patients(n: int, *, failing: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``n`` patients cycling through the sample's resources; ``failing``: that one's item
    fails (no subject), so its chunk holds fewer credentials than items."""
    resources = _resources()
    patients: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        payload = {"subject": SUBJECT, "fhir": resources[i % len(resources)]}
        payload["holderJwk"] = HOLDER_JWK
        if i == failing:
            del payload["subject"]
        patients.append((f"p{i:03d}", payload))
    return patients


async def _hospital(store: Store) -> Hospital:
    return await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)


async def _resolver(hospital: Hospital) -> DIDResolver:
    resolver = DIDResolver()
    if hospital.did.startswith("did:web:"):
        resolver.add_document(await hospital.did_document())
    return resolver


def _list_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


async def _w3c_status(hospital: Hospital, credential: dict[str, Any]) -> dict[str, bool]:
    """What a verifier sees: each status entry checked against the hospital's signed list."""
    checker = StatusChecker(None, await _resolver(hospital), offline=True, clock=lambda: NOW)
    for entry in credential["credentialStatus"]:
        url = entry["statusListCredential"]
        listed = await hospital.status_list_credential(_list_id(url), entry["statusPurpose"])
        await checker.seed(url, listed, fetched_at=NOW)
    return {r.purpose: r.set for r in await checker.check(credential, now=NOW)}


def _sd_jwt_payload(sd_jwt: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(sd_jwt.split("~")[0].split(".")[1]))
    return payload


async def _sd_jwt_valid(hospital: Hospital, sd_jwt: str) -> bool:
    """What a verifier sees: the Token Status List the SD-JWT's status claim points at."""
    claim = _sd_jwt_payload(sd_jwt)["status"]
    list_id = claim["status_list"]["uri"].removesuffix("/token").rsplit("/", 1)[1]
    token = await hospital.status_list_token(list_id, "revocation")
    result = await check_token_status(
        claim,
        token,
        issuer_key_resolver=await _resolver(hospital),
        now=NOW,
        expected_issuer=hospital.did,
    )
    return result.valid


async def _events(hospital: Hospital, credential_id: str) -> list[str]:
    entries = await hospital.audit.entries(limit=1000)
    return [e.event for e in entries if e.fields.get("credential_id") == credential_id]


async def _simulate_old_store(store: Store) -> int:
    """Make the store as the version before this fix left it: chunk records tagged ``job``
    only, rows of four members, no store version. Returns how many chunk records there are."""
    async with store.transaction() as txn:
        records = await txn.fetch_all(ISSUED_CATEGORY)
        for record in records:
            value = record.json()
            assert isinstance(value, dict)
            value["credentials"] = [row[:4] for row in value["credentials"]]
            await txn.replace(ISSUED_CATEGORY, record.name, value, tags={"job": record.tags["job"]})
        await txn.remove("hospital", "store-version")
        await txn.commit()
    return len(records)


# --- the library ----------------------------------------------------------------------------


async def test_batch_w3c_credentials_are_suspended_reinstated_and_revoked(store: Store) -> None:
    hospital = await _hospital(store)
    result = await hospital.run_batch("night", _patients(7, failing=1), chunk_size=3)
    assert (result.issued, result.failed) == (6, 1)
    jobs = BatchJobs(store, clock=lambda: NOW)
    issued = await jobs.credentials("night", limit=10)
    target, neighbour = issued[4], issued[3]  # the last chunk's and the one before it
    credential = target.credential
    assert isinstance(credential, dict)

    record = await hospital.issued(target.credential_id)
    assert record.credential_id == credential["id"] == target.credential_id
    assert record.types == tuple(credential["type"])
    assert record.key == credential["proof"]["verificationMethod"]
    assert record.status == tuple(credential["credentialStatus"])
    assert {e["statusPurpose"] for e in record.status} == {"revocation", "suspension"}

    clear = {"revocation": False, "suspension": False}
    assert await _w3c_status(hospital, credential) == clear
    assert await hospital.update_status(target.credential_id, "suspended") == {"suspension": True}
    assert await _w3c_status(hospital, credential) == {**clear, "suspension": True}
    assert await hospital.update_status(target.credential_id, "active") == {"suspension": False}
    assert await _w3c_status(hospital, credential) == clear
    assert await hospital.update_status(target.credential_id, "revoked") == {"revocation": True}
    assert await _w3c_status(hospital, credential) == {**clear, "revocation": True}
    with pytest.raises(InvalidInputError, match="revocation is final"):
        await hospital.update_status(target.credential_id, "active")

    assert await _events(hospital, target.credential_id) == [
        AuditEvent.CREDENTIAL_SUSPENDED,
        AuditEvent.CREDENTIAL_REINSTATED,
        AuditEvent.CREDENTIAL_REVOKED,
    ]
    other = neighbour.credential
    assert isinstance(other, dict)
    assert await _w3c_status(hospital, other) == clear  # only the one credential changed
    with pytest.raises(InvalidInputError) as unknown:
        await hospital.issued("urn:uuid:00000000-0000-4000-8000-000000000000")
    assert unknown.value.code is ErrorCode.NOT_FOUND


async def test_batch_sd_jwt_credentials_are_revoked_through_their_token_status_list(
    store: Store,
) -> None:
    hospital = await _hospital(store)
    result = await hospital.run_batch(
        "night-sd", _patients(5), credential_format="sd-jwt", chunk_size=2
    )
    assert result.issued == 5
    issued = await BatchJobs(store, clock=lambda: NOW).credentials("night-sd", limit=10)
    target = issued[2]
    sd_jwt = target.credential
    assert isinstance(sd_jwt, str)
    assert target.credential_id.startswith("urn:sd-jwt:")

    # The record a single issuance keeps: both status entries, the key, the type.
    single = await hospital.issue_record(
        claims_for_resource(validate_resource(_resources()[2])),
        subject_did=SUBJECT,
        credential_format="sd-jwt",
        holder_jwk=HOLDER_JWK,
    )
    single_record = await hospital.issued(single.id)
    record = await hospital.issued(target.credential_id)
    assert record.types == single_record.types
    assert record.key == single_record.key == (await hospital.active_signer()).verification_method
    assert record.issued == single_record.issued
    assert [e["statusPurpose"] for e in record.status] == ["revocation", "suspension"]
    claim = _sd_jwt_payload(sd_jwt)["status"]["status_list"]
    assert record.status[0]["statusListIndex"] == str(claim["idx"])

    for action in ("suspended", "active"):  # as for one issued singly: revocation only
        with pytest.raises(InvalidInputError) as refused:
            await hospital.update_status(target.credential_id, action)
        assert refused.value.details["reason"] == "suspensionNotSupported"
    assert await _sd_jwt_valid(hospital, sd_jwt) is True
    assert await hospital.update_status(target.credential_id, "revoked") == {"revocation": True}
    assert await _sd_jwt_valid(hospital, sd_jwt) is False
    other = issued[3].credential
    assert isinstance(other, str)
    assert await _sd_jwt_valid(hospital, other) is True
    assert await _events(hospital, target.credential_id) == [AuditEvent.CREDENTIAL_REVOKED]


async def test_a_batch_credential_id_given_again_is_refused(store: Store) -> None:
    hospital = await _hospital(store)
    await hospital.run_batch("ids", _patients(3), chunk_size=2)
    (found,) = await BatchJobs(store, clock=lambda: NOW).credentials("ids", limit=1, offset=2)
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "id": found.credential_id,
        "credentialSubject": {"id": SUBJECT},
    }
    with pytest.raises(StorageError) as taken:
        await hospital.issue(unsigned)
    assert taken.value.code is ErrorCode.STORE_DUPLICATE
    assert taken.value.details["reason"] == "credentialIdTaken"
    entries = await hospital.audit.entries(limit=1000)
    assert not [e for e in entries if e.event == AuditEvent.CREDENTIAL_ISSUED]
    # A new id is still issued, and then taken too.
    unsigned["id"] = "urn:uuid:9b6f8d7e-1c2a-4e3b-8f4d-5a6b7c8d9e0f"
    await hospital.issue(unsigned)
    with pytest.raises(StorageError):
        await hospital.issue(unsigned)


async def test_a_store_an_earlier_version_wrote_is_upgraded_once_on_load(store: Store) -> None:
    hospital = await _hospital(store)
    await hospital.run_batch("old-vc", _patients(5, failing=4), chunk_size=2)
    await hospital.run_batch("old-sd", _patients(3), credential_format="sd-jwt", chunk_size=2)
    jobs = BatchJobs(store, clock=lambda: NOW)
    vc = (await jobs.credentials("old-vc", limit=10))[3]
    sd = (await jobs.credentials("old-sd", limit=10))[2]
    chunks = await _simulate_old_store(store)
    assert chunks == 3 + 2  # "old-vc"'s third chunk holds only the failed item

    # What QA saw: the hospital as it was, without the upgrade, finds none of them.
    before = Hospital(store, did=hospital.did, base_url=hospital.base_url, clock=lambda: NOW)
    for credential_id in (vc.credential_id, sd.credential_id):
        with pytest.raises(InvalidInputError) as missing:
            await before.issued(credential_id)
        assert missing.value.code is ErrorCode.NOT_FOUND

    loaded = await Hospital.load(store, clock=lambda: NOW)
    assert loaded is not None
    async with store.session() as session:
        assert (await session.get("hospital", "store-version")).json() == {"version": STORE_VERSION}
        untagged = await session.count(ISSUED_CATEGORY, {"$not": {"$exist": [ID_TAG]}})
        assert untagged == 1  # the chunk without credentials: nothing to find there
        assert await find_issued(session, vc.credential_id) == vc
    assert await loaded.upgrade() == 0  # once
    assert await jobs.tag_credential_ids() == 0  # idempotent

    # A W3C credential: its whole record is in the credential.
    credential = vc.credential
    assert isinstance(credential, dict)
    assert await loaded.update_status(vc.credential_id, "suspended") == {"suspension": True}
    assert (await _w3c_status(loaded, credential))["suspension"] is True
    assert await loaded.update_status(vc.credential_id, "active") == {"suspension": False}
    assert await loaded.update_status(vc.credential_id, "revoked") == {"revocation": True}
    assert (await _w3c_status(loaded, credential))["revocation"] is True

    # An SD-JWT VC stored without its status entries: its status claim names the revocation
    # entry, the one it can use.
    record = await loaded.issued(sd.credential_id)
    assert [e["statusPurpose"] for e in record.status] == ["revocation"]
    kind = claims_for_resource(validate_resource(_resources()[2])).kind
    assert record.types == ("VerifiableCredential", str(kind))
    sd_jwt = sd.credential
    assert isinstance(sd_jwt, str)
    assert await loaded.update_status(sd.credential_id, "revoked") == {"revocation": True}
    assert await _sd_jwt_valid(loaded, sd_jwt) is False

    # Their ids are taken for client-given ids too.
    with pytest.raises(StorageError) as taken:
        await loaded.issue(
            {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "id": vc.credential_id,
                "credentialSubject": {"id": SUBJECT},
            }
        )
    assert taken.value.details["reason"] == "credentialIdTaken"


async def test_a_new_store_records_its_version_and_never_upgrades(store: Store) -> None:
    hospital = await _hospital(store)
    async with store.session() as session:
        assert (await session.get("hospital", "store-version")).json() == {"version": STORE_VERSION}
    assert await hospital.upgrade() == 0


async def test_an_upgrade_that_fails_does_not_stop_the_hospital_loading(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hospital = await _hospital(store)
    await hospital.run_batch("old", _patients(2), chunk_size=2)
    await _simulate_old_store(store)

    async def busy(self: BatchJobs) -> int:
        raise StorageError("database is locked", code=ErrorCode.STORE_BACKEND_ERROR)

    monkeypatch.setattr(BatchJobs, "tag_credential_ids", busy)
    assert await Hospital.load(store, clock=lambda: NOW) is not None
    assert "not upgraded this time" in caplog.text
    monkeypatch.undo()
    loaded = await Hospital.load(store, clock=lambda: NOW)  # the next load upgrades
    assert loaded is not None
    (found,) = await BatchJobs(store, clock=lambda: NOW).credentials("old", limit=1)
    assert (await loaded.issued(found.credential_id)).credential_id == found.credential_id


async def test_two_processes_loading_an_old_store_at_once_both_load_it_upgraded(
    store_uri: str, raw_key: str
) -> None:
    """As ``mydata serve hospital --workers 2`` starting on a store an earlier version wrote."""
    first = await open_store(store_uri, raw_key=raw_key)
    second = await open_store(store_uri, raw_key=raw_key)
    try:
        hospital = await _hospital(first)
        await hospital.run_batch("old", _patients(24), chunk_size=4)
        assert await _simulate_old_store(first) == 6
        loaded = await asyncio.gather(
            Hospital.load(first, clock=lambda: NOW), Hospital.load(second, clock=lambda: NOW)
        )
        async with first.session() as session:
            assert not await session.count(ISSUED_CATEGORY, {"$not": {"$exist": [ID_TAG]}})
            version = await session.get("hospital", "store-version")
        assert version.json() == {"version": STORE_VERSION}
        issued = await BatchJobs(first, clock=lambda: NOW).credentials("old", limit=24)
        for each in loaded:
            assert each is not None
            record = await each.issued(issued[-1].credential_id)
            assert record.credential_id == issued[-1].credential_id
    finally:
        await second.close()
        await first.close()


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class _Service:
    client: httpx.AsyncClient
    hospital: Hospital


@pytest.fixture
async def service(store_uri: str, raw_key: str) -> AsyncIterator[_Service]:
    """The hospital's service in process (as ``mydata serve hospital``), on each backend."""
    opened = await open_store(store_uri, raw_key=raw_key)
    try:
        await Hospital.init(opened, base_url=BASE_URL, did_method="key")
    finally:
        await opened.close()
    config = AgentServiceConfig(
        store_uri=store_uri,
        store_key=raw_key,
        public_url=BASE_URL,
        title="batch revocation test",
        admin_token=ADMIN_TOKEN,
    )
    app = create_hospital_app(config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as client,
    ):
        yield _Service(client, app.state.hospital)


async def _run_batch_over_http(
    service: _Service, job_id: str, credential_format: str, n: int
) -> list[dict[str, Any]]:
    patients = [{"key": key, **payload} for key, payload in _patients(n)]
    if credential_format == "vc":
        patients = [{k: v for k, v in p.items() if k != "holderJwk"} for p in patients]
    started = await service.client.post(
        "/batches", json={"jobId": job_id, "format": credential_format, "patients": patients}
    )
    assert started.status_code == 202, started.text
    for _ in range(600):
        state = (await service.client.get(f"/batches/{job_id}")).json()
        if state["state"] == "done":
            break
        await asyncio.sleep(0.05)
    assert state["state"] == "done", state
    listed = await service.client.get(f"/batches/{job_id}/credentials")
    credentials: list[dict[str, Any]] = listed.json()["credentials"]
    assert len(credentials) == n
    return credentials


async def _set_status(service: _Service, credential_id: str, status: str) -> httpx.Response:
    return await service.client.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
        },
    )


async def _http_w3c_status(service: _Service, credential: dict[str, Any]) -> dict[str, bool]:
    """A verifier's check against the lists as the service publishes them."""
    checker = StatusChecker(None, DIDResolver(), offline=True)
    now = datetime.now(UTC)
    for entry in credential["credentialStatus"]:
        url = entry["statusListCredential"]
        response = await service.client.get(f"/status-lists/{_list_id(url)}")
        assert response.status_code == 200, response.text
        await checker.seed(url, response.json(), fetched_at=now)
    return {r.purpose: r.set for r in await checker.check(credential, now=now)}


async def test_batch_credentials_change_status_over_http(service: _Service) -> None:
    credentials = await _run_batch_over_http(service, "http-vc", "vc", 4)
    target = credentials[2]
    credential_id, credential = target["id"], target["credential"]
    clear = {"revocation": False, "suspension": False}
    assert await _http_w3c_status(service, credential) == clear

    suspended = await _set_status(service, credential_id, "suspended")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {"credentialId": credential_id, "status": {"suspension": True}}
    assert await _http_w3c_status(service, credential) == {**clear, "suspension": True}
    reinstated = await _set_status(service, credential_id, "active")
    assert reinstated.status_code == 200, reinstated.text
    assert await _http_w3c_status(service, credential) == clear
    revoked = await _set_status(service, credential_id, "revoked")
    assert revoked.status_code == 200, revoked.text
    assert await _http_w3c_status(service, credential) == {**clear, "revocation": True}

    again = await service.client.post(
        "/credentials/issue",
        json={
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "id": credentials[0]["id"],
                "credentialSubject": {"id": SUBJECT},
            }
        },
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "storeDuplicate"


async def test_batch_sd_jwt_credentials_are_revoked_over_http(service: _Service) -> None:
    credentials = await _run_batch_over_http(service, "http-sd", "sd-jwt", 3)
    target = credentials[1]
    refused = await _set_status(service, target["id"], "suspended")
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"]["reason"] == "suspensionNotSupported"
    revoked = await _set_status(service, target["id"], "revoked")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == {"revocation": True}

    claim = _sd_jwt_payload(target["credential"])["status"]
    path = claim["status_list"]["uri"].removeprefix(BASE_URL)
    token = (await service.client.get(path)).text
    result = await check_token_status(
        claim,
        token,
        issuer_key_resolver=DIDResolver(),
        now=datetime.now(UTC),
        expected_issuer=service.hospital.did,
    )
    assert result.valid is False


# --- the CLI (QA's repro) -------------------------------------------------------------------


def test_the_cli_suspends_reinstates_and_revokes_a_batch_credential(tmp_path: Path) -> None:
    env = {**os.environ, "MYDATA_HOME": str(tmp_path)}
    env.pop("MYDATA_STORE_KEY", None)
    mydata(
        "hospital",
        "init",
        "--base-url",
        "http://localhost:8766",
        "--insecure-http-host",
        "localhost",
        "--name",
        "Demo General",
        env=env,
    )
    mydata("hospital", "batch", str(SAMPLES / "patients.jsonl"), "--job-id", "night", env=env)
    store_uri = f"sqlite://{tmp_path / 'hospital.sqlite'}"
    key_file = key_file_for(store_uri)
    assert key_file is not None

    async def some_id() -> str:
        opened = await open_store(store_uri, raw_key=key_file.read_text().strip(), create=False)
        try:
            (found,) = await BatchJobs(opened, clock=lambda: NOW).credentials(
                "night", limit=1, offset=150
            )
        finally:
            await opened.close()
        return found.credential_id

    credential_id = asyncio.run(some_id())
    for verb, said in (
        ("suspend", '{"suspension": true}'),
        ("reinstate", '{"suspension": false}'),
        ("revoke", '{"revocation": true}'),
    ):
        done = mydata("hospital", verb, credential_id, env=env)
        assert said in " ".join(done.stdout.split()), done.stdout
    final = mydata("hospital", "reinstate", credential_id, env=env, check=False)
    assert final.returncode != 0
    assert "revocation is final" in " ".join(final.stderr.split())


async def test_an_old_batch_sd_jwt_is_revoked_over_http(store_uri: str, raw_key: str) -> None:
    """A store an earlier version's batch wrote keeps only an SD-JWT VC's revocation entry
    (from its status claim): ``POST /credentials/status`` revokes it (it answered 404
    ``clientStatus``, taking it for a credential whose status the client manages)."""
    opened = await open_store(store_uri, raw_key=raw_key)
    try:
        await Hospital.init(opened, base_url=BASE_URL, did_method="key")
        hospital = await _hospital(opened)
        await hospital.run_batch("old-sd", _patients(2), credential_format="sd-jwt")
        jobs = BatchJobs(opened, clock=lambda: NOW)
        sd = (await jobs.credentials("old-sd", limit=10))[1]
        await _simulate_old_store(opened)
    finally:
        await opened.close()
    config = AgentServiceConfig(
        store_uri=store_uri,
        store_key=raw_key,
        public_url=BASE_URL,
        title="old batch over http",
        admin_token=ADMIN_TOKEN,
    )
    app = create_hospital_app(config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as client,
    ):
        service = _Service(client, app.state.hospital)
        revoked = await _set_status(service, sd.credential_id, "revoked")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["status"] == {"revocation": True}
    sd_jwt = sd.credential
    assert isinstance(sd_jwt, str)
    reopened = await open_store(store_uri, raw_key=raw_key)
    try:  # what a verifier sees, at the tests' fixed time
        assert await _sd_jwt_valid(await _hospital(reopened), sd_jwt) is False
    finally:
        await reopened.close()


async def test_a_job_is_not_resumed_in_another_format(store: Store) -> None:
    """Below the API too (the CLI's ``--format``): a job resumed in another format would hold
    both, its record naming one (review)."""
    hospital = await _hospital(store)
    patients = _patients(3)
    await hospital.run_batch("fmt", patients, chunk_size=2)
    with pytest.raises(StorageError) as conflict:
        await hospital.run_batch("fmt", patients, credential_format="sd-jwt", chunk_size=2)
    assert conflict.value.code is ErrorCode.BATCH_JOB_CONFLICT
    jobs = BatchJobs(store, clock=lambda: NOW)
    listed = await jobs.credentials("fmt", limit=10)
    assert len(listed) == 3
    assert all(isinstance(c.credential, dict) for c in listed)


async def test_a_damaged_record_does_not_stop_the_hospital_loading(store: Store) -> None:
    """The upgrade on load meets a batch job record it cannot read: the hospital still loads
    (it raised KeyError, stopping every command and the service, review)."""
    hospital = await _hospital(store)
    await hospital.run_batch("ok", _patients(2), chunk_size=2)
    await _simulate_old_store(store)
    async with store.transaction() as txn:
        await txn.insert("batch_job", "damaged", {"state": "done"})
        await txn.commit()
    loaded = await Hospital.load(store, clock=lambda: NOW)
    assert loaded is not None
    assert loaded.did == hospital.did


async def test_failures_are_paged_reading_only_chunks_that_hold_one(store: Store) -> None:
    """A page of failures reads only the chunk records with a failure, and stops when full
    (every chunk record of the job, up to 1 MB each, was read for every page: review)."""
    hospital = await _hospital(store)
    patients = _patients(4)
    bad = {"resourceType": "Nope"}
    patients = [
        (f"p{i}", {**payload, "fhir": bad} if i in (2, 7) else payload)
        for i, (_, payload) in enumerate(patients + _patients(4))
    ]
    await hospital.run_batch("paged", patients, chunk_size=2)
    jobs = BatchJobs(store, clock=lambda: NOW)
    everything = await jobs.failure_details("paged")
    assert [f.patient_key for f in everything] == ["p2", "p7"]
    # Chunks 0 and 2 hold no failure: without their records the pages still read.
    async with store.transaction() as txn:
        for number in (0, 2):
            await txn.remove(ISSUED_CATEGORY, f"paged:{number:06d}")
        await txn.commit()
    assert await jobs.failure_details("paged", offset=0, limit=1) == everything[:1]
    assert await jobs.failure_details("paged", offset=1, limit=5) == everything[1:]
    assert await jobs.failure_details("paged", offset=2, limit=5) == []
