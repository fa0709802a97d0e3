"""A credential id given again to ``POST /credentials/issue`` is a conflict (409
``storeDuplicate``), not a malformed request (it was a 400, QA); nothing more is issued."""

from __future__ import annotations

from pathlib import Path

import httpx

from agent.storage import generate_raw_key
from tests.operations.conftest import ADMIN_TOKEN, build_app, provision

UNSIGNED = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential"],
    "id": "urn:uuid:2f4c6a0e-8d0b-4a59-9f43-0c1f2d7e9b11",
    "credentialSubject": {"id": "did:example:subject"},
}


async def test_an_id_given_again_is_a_conflict(tmp_path: Path) -> None:
    key = generate_raw_key()
    await provision("hospital", tmp_path, key)
    app = build_app("hospital", tmp_path, key)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        first = await client.post(
            "/credentials/issue", json={"credential": UNSIGNED}, headers=admin
        )
        again = await client.post(
            "/credentials/issue", json={"credential": UNSIGNED}, headers=admin
        )
        entries = await app.state.hospital.audit.entries(limit=100)
    assert first.status_code == 201, first.text
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "storeDuplicate"
    assert sum(1 for e in entries if e.event == "credential.issued") == 1
