"""The operator's HTTP service (in-process, with its lifespan): public documents, admin auth,
registration by DID-auth, and refusals as 4xx with a machine-readable code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.clock import utcnow
from agent.dids import DIDResolver, did_key_from_public
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.service import AgentServiceConfig
from agent.status import StatusChecker
from agent.storage import generate_raw_key, open_store
from governance import Operator, did_auth_presentation
from governance.api import create_operator_app
from verifier.trust import TrustRegistry

TOKEN = "operator-admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
BASE = "https://operator.example"
ROLE = "AccreditedHealthcareProvider"


async def _app(tmp_path: Path, did_method: str = "key") -> tuple[FastAPI, str]:
    uri, key = f"sqlite://{tmp_path / 'operator.sqlite'}", generate_raw_key()
    store = await open_store(uri, raw_key=key)
    try:
        base = "https://trust.example.org" if did_method == "web" else BASE
        did = (await Operator.init(store, base_url=base, did_method=did_method)).did
    finally:
        await store.close()
    config = AgentServiceConfig(
        store_uri=uri, store_key=key, public_url=BASE, title="operator", admin_token=TOKEN
    )
    return create_operator_app(config), did


async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield http


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app, did = await _app(tmp_path)
    async for http in _serve(app):
        yield http, did


async def _party(tmp_path: Path, name: str) -> tuple[str, AskarSigner]:
    """A did:key applicant; its askar key stays loaded after the store closes."""
    store = await open_store(f"sqlite://{tmp_path / name}.sqlite", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
        return did, await keys.signer(multikey, verification_method=f"{did}#{multikey}")
    finally:
        await store.close()


async def _register(
    http: httpx.AsyncClient, did: str, signer: AskarSigner, challenge: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    if challenge is None:
        answer = await http.post("/registrations/challenge")
        assert answer.status_code == 201
        challenge = answer.json()
    presentation = did_auth_presentation(
        did, signer, challenge=challenge["challenge"], domain=challenge["domain"], created=utcnow()
    )
    response = await http.post(
        "/registrations", json={"presentation": presentation, "role": ROLE, "name": "St. Olav"}
    )
    return response.status_code, response.json(), presentation


async def test_trust_list_is_cacheable_and_changes_with_accreditations(
    client: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    http, operator_did = client
    first = await http.get("/trust-list")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=300"
    etag = first.headers["etag"]
    assert (await http.get("/trust-list", headers={"If-None-Match": etag})).status_code == 304
    assert first.json()["credentialSubject"] == {"id": operator_did, "trustListEntry": []}

    hospital, _ = await _party(tmp_path, "hospital")
    created = await http.post(
        "/admin/accreditations", json={"subject": hospital, "role": ROLE}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    second = await http.get("/trust-list", headers={"If-None-Match": etag})
    assert second.status_code == 200
    assert second.headers["etag"] != etag
    accreditation = created.json()["accreditation"]
    assert second.json()["credentialSubject"]["trustListEntry"] == [
        {"id": hospital, "accreditedRole": ROLE, "accreditation": accreditation["id"]}
    ]
    assert (await http.get("/operator")).json()["did"] == operator_did


async def test_published_documents_satisfy_the_trust_registry(
    client: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    """Everything a verifier fetches from the service: accreditation, status lists, trust list."""
    http, operator_did = client
    hospital, _ = await _party(tmp_path, "hospital")
    created = await http.post(
        "/admin/accreditations",
        json={"subject": hospital, "role": ROLE, "name": "St. Olav", "validDays": 30},
        headers=ADMIN,
    )
    credential = created.json()["accreditation"]

    async def decide() -> Any:
        resolver = DIDResolver()
        checker = StatusChecker(None, resolver, offline=True)
        for entry in credential["credentialStatus"]:
            url = entry["statusListCredential"]
            served = await http.get(url.removeprefix(BASE))
            assert served.status_code == 200
            assert served.headers["cache-control"] == "public, max-age=300"
            await checker.seed(url, served.json())
        registry = TrustRegistry({operator_did}, resolver, checker)
        await registry.add_accreditation(
            (await http.get(f"/accreditations/{credential['id']}")).json()
        )
        await registry.load_trust_list((await http.get("/trust-list")).json())
        return await registry.check_issuer(hospital, ROLE)

    assert (await decide()).trusted
    revoked = await http.post(
        "/admin/accreditations/status",
        json={"id": credential["id"], "status": "revoked"},
        headers=ADMIN,
    )
    assert revoked.json() == {"id": credential["id"], "state": "revoked"}
    decision = await decide()
    assert not decision.trusted
    assert decision.code == "credentialRevoked"
    listing = (await http.get("/admin/accreditations", headers=ADMIN)).json()
    assert [(a["id"], a["state"]) for a in listing] == [(credential["id"], "revoked")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/admin/registrations", None),
        ("GET", "/admin/accreditations", None),
        ("POST", "/admin/accreditations", {"subject": "did:key:z6Mkx", "role": ROLE}),
        ("POST", "/admin/accreditations/status", {"id": "urn:uuid:x", "status": "revoked"}),
        ("POST", "/admin/registrations/some-id/approve", {}),
        ("POST", "/admin/registrations/some-id/reject", {}),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_admin_endpoints_refuse_missing_or_wrong_token(
    client: tuple[httpx.AsyncClient, str], method: str, path: str, body: Any, token: str | None
) -> None:
    http, _ = client
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert (await http.get("/admin/accreditations", headers=ADMIN)).json() == []


async def test_registration_approval_and_refusals(
    client: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    http, _ = client
    did, signer = await _party(tmp_path, "applicant")
    status, registration, presentation = await _register(http, did, signer)
    assert status == 201, registration
    assert (registration["did"], registration["state"]) == (did, "pending")
    public = (await http.get(f"/registrations/{registration['id']}")).json()
    assert (public["state"], public["accreditation"]) == ("pending", None)

    # The same presentation again: its challenge is used up.
    replay = await http.post("/registrations", json={"presentation": presentation, "role": ROLE})
    assert replay.status_code == 400
    assert replay.json()["code"] == "INVALID_CHALLENGE_ERROR"

    pending = (await http.get("/admin/registrations?state=pending", headers=ADMIN)).json()
    assert [r["id"] for r in pending] == [registration["id"]]
    approved = await http.post(f"/admin/registrations/{registration['id']}/approve", headers=ADMIN)
    assert approved.status_code == 200, approved.text
    accreditation = approved.json()["accreditation"]
    assert accreditation["credentialSubject"]["id"] == did
    public = (await http.get(f"/registrations/{registration['id']}")).json()
    assert public["state"] == "approved"
    assert public["accreditation"] == accreditation
    again = await http.post(f"/admin/registrations/{registration['id']}/approve", headers=ADMIN)
    assert again.status_code == 422


async def test_registration_with_a_did_the_applicant_cannot_sign_for(
    client: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    http, _ = client
    victim, _ = await _party(tmp_path, "victim")
    _, attacker = await _party(tmp_path, "attacker")
    status, body, _ = await _register(http, victim, attacker)
    assert status == 400
    assert body["code"] == "PROOF_VERIFICATION_ERROR"
    assert (await http.get("/admin/registrations", headers=ADMIN)).json() == []


async def test_registration_with_an_invented_challenge(
    client: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    http, operator_did = client
    did, signer = await _party(tmp_path, "applicant")
    status, body, _ = await _register(
        http, did, signer, {"challenge": "not-issued-here", "domain": operator_did}
    )
    assert status == 400
    assert body["code"] == "INVALID_CHALLENGE_ERROR"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "PARSING_ERROR"),
        (b'{"role": "AccreditedHealthcareProvider"}', 400, "PARSING_ERROR"),
        (b'{"presentation": {}, "role": "Hospital"}', 422, "invalidInput"),
    ],
)
async def test_malformed_registrations_are_4xx(
    client: tuple[httpx.AsyncClient, str], body: bytes, status: int, code: str
) -> None:
    http, _ = client
    response = await http.post(
        "/registrations", content=body, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_unknown_ids_are_404(client: tuple[httpx.AsyncClient, str]) -> None:
    http, _ = client
    for path in ("/accreditations/urn:uuid:nope", "/registrations/nope", "/status-lists/ab12"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "notFound"
    assert (await http.get("/.well-known/did.json")).status_code == 404  # a did:key operator


async def test_did_web_operator_serves_its_did_document(tmp_path: Path) -> None:
    app, did = await _app(tmp_path, did_method="web")
    async for http in _serve(app):
        document = await http.get("/.well-known/did.json")
    assert document.status_code == 200
    assert document.json()["id"] == did == "did:web:trust.example.org"
