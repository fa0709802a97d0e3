"""Asking for what is already so changes nothing and audits nothing (QA): retiring a key that is
retired already, and reinstating a credential that is not suspended, write no second audit
entry; the CLI and HTTP answers stay what they were (exit 0, 200)."""

from __future__ import annotations

import asyncio
import copy
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.errors import ErrorCode, InvalidInputError
from agent.service import AgentServiceConfig
from agent.storage import Store, open_store
from agent.storeconfig import key_file_for
from issuer.api import create_hospital_app
from issuer.audit import AuditEvent
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY, mydata

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN_TOKEN = "idempotent-admin-token-0123456789"
BASE_URL = "http://127.0.0.1:8000"


async def _events(hospital: Hospital, event: str) -> int:
    entries = await hospital.audit.entries(limit=1000)
    return sum(1 for entry in entries if entry.event == event)


async def test_retiring_a_retired_key_writes_no_second_entry(store: Store) -> None:
    hospital = await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)
    old = str((await hospital.identity())["active_key"])
    await hospital.rotate_key()
    assert await hospital.retire_key(old) is True
    assert await hospital.retire_key(old) is False
    assert await _events(hospital, AuditEvent.KEY_RETIRED) == 1
    infos = {info.multikey: info for info in await hospital.keys.keys_for(hospital.did)}
    assert infos[old].retired
    assert old not in str(await hospital.did_document())
    assert (await hospital.audit.verify()).ok  # the chain is intact


async def test_reinstating_a_credential_not_suspended_writes_no_entry(store: Store) -> None:
    hospital = await Hospital.init(store, base_url="https://hospital.example", clock=lambda: NOW)
    credential = await hospital.issue(copy.deepcopy(UNSIGNED_ALLERGY))
    credential_id = credential["id"]
    assert await hospital.update_status(credential_id, "active") == {"suspension": False}
    assert await _events(hospital, AuditEvent.CREDENTIAL_REINSTATED) == 0

    assert await hospital.update_status(credential_id, "suspended") == {"suspension": True}
    assert await hospital.update_status(credential_id, "active") == {"suspension": False}
    assert await hospital.update_status(credential_id, "active") == {"suspension": False}
    assert await _events(hospital, AuditEvent.CREDENTIAL_REINSTATED) == 1
    suspension = next(
        e for e in credential["credentialStatus"] if e["statusPurpose"] == "suspension"
    )
    assert await hospital._get(suspension) is False

    # A revoked credential is still refused, suspended or not.
    await hospital.update_status(credential_id, "revoked")
    with pytest.raises(InvalidInputError, match="revocation is final") as refused:
        await hospital.update_status(credential_id, "active")
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert await _events(hospital, AuditEvent.CREDENTIAL_REINSTATED) == 1


async def test_reinstating_over_http_answers_200_and_audits_nothing(
    store_uri: str, raw_key: str
) -> None:
    opened = await open_store(store_uri, raw_key=raw_key)
    try:
        await Hospital.init(opened, base_url=BASE_URL, did_method="key")
    finally:
        await opened.close()
    config = AgentServiceConfig(
        store_uri=store_uri,
        store_key=raw_key,
        public_url=BASE_URL,
        title="idempotent status test",
        admin_token=ADMIN_TOKEN,
    )
    app = create_hospital_app(config)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=admin
        ) as client,
    ):
        issued = await client.post(
            "/credentials/issue", json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)}
        )
        assert issued.status_code == 201, issued.text
        credential_id = issued.json()["verifiableCredential"]["id"]
        body: dict[str, Any] = {
            "credentialId": credential_id,
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "active"}],
        }
        for _ in range(2):
            answer = await client.post("/credentials/status", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"credentialId": credential_id, "status": {"suspension": False}}
        hospital: Hospital = app.state.hospital
        assert await _events(hospital, AuditEvent.CREDENTIAL_REINSTATED) == 0


def test_the_cli_retires_a_key_twice_with_one_audit_entry(tmp_path: Path) -> None:
    env = {**os.environ, "MYDATA_HOME": str(tmp_path)}
    env.pop("MYDATA_STORE_KEY", None)
    mydata("hospital", "init", "--base-url", "https://hospital.example", env=env)
    store_uri = f"sqlite://{tmp_path / 'hospital.sqlite'}"
    key_file = key_file_for(store_uri)
    assert key_file is not None

    async def active_key_and_retirements() -> tuple[str, int]:
        opened = await open_store(store_uri, raw_key=key_file.read_text().strip(), create=False)
        try:
            hospital = await Hospital.load(opened)
            assert hospital is not None
            active = str((await hospital.identity())["active_key"])
            return active, await _events(hospital, AuditEvent.KEY_RETIRED)
        finally:
            await opened.close()

    old, _ = asyncio.run(active_key_and_retirements())
    mydata("hospital", "rotate-key", env=env)
    first = mydata("hospital", "retire-key", old, env=env)
    second = mydata("hospital", "retire-key", old, env=env)
    assert first.returncode == second.returncode == 0
    assert old in second.stdout
    _, retirements = asyncio.run(active_key_and_retirements())
    assert retirements == 1
