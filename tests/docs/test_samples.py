"""The sample files the docs' commands use do what the docs say.

``docs/hospital.md`` posts ``mydata/samples/unsigned-credential.json`` to the hospital's
``POST /credentials/issue``: it must be issued (201), as this hospital, and verify.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from agent.dids import DIDResolver
from agent.storage import generate_raw_key
from tests.operations.conftest import ADMIN_TOKEN, build_app, provision
from verifier.verify import verify_credential

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"


async def test_the_unsigned_sample_is_issued_and_verifies(tmp_path: Path) -> None:
    unsigned = json.loads((SAMPLES / "unsigned-credential.json").read_text())
    assert "proof" not in unsigned
    key = generate_raw_key()
    await provision("hospital", tmp_path, key)
    app = build_app("hospital", tmp_path, key)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.post(
            "/credentials/issue",
            json={"credential": unsigned},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        hospital_did = app.state.hospital.did
    assert response.status_code == 201, response.text
    issued = response.json()["verifiableCredential"]
    # Issued as this hospital, whatever issuer the sample names.
    assert issued["issuer"] == hospital_did != unsigned["issuer"]
    report = await verify_credential(issued, resolver=DIDResolver(), checks=["proof", "issuer"])
    assert report.verified, report.to_dict()
