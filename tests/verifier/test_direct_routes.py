"""The VC-API verify routes answer alike on the direct path (agent.service.DirectRoutes) and
through FastAPI's routing: same status, same body, same headers but the request id, for
good, tampered, malformed, oversized and mis-declared requests."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import verifier.api
from agent.clock import utcnow
from agent.credentials.proofs import add_proof
from agent.jsonio import DEFAULT_MAX_BYTES
from agent.service import AgentServiceConfig
from agent.storage import generate_raw_key
from tests.verifier.conftest import Party
from tests.verifier.test_verify import allergy_credential
from verifier.api import VerifierSettings, create_verifier_app

Request = tuple[str, str, bytes, dict[str, str]]
JSON_TYPE = {"content-type": "application/json"}


@asynccontextmanager
async def _client(tmp_path: Path, name: str, *, direct: bool) -> AsyncIterator[httpx.AsyncClient]:
    config = AgentServiceConfig(
        store_uri=f"sqlite://{tmp_path}/{name}.sqlite",
        store_key=generate_raw_key(),
        public_url="http://127.0.0.1:9",
        title="verifier",
        admin_token="direct-routes-test-token",
    )
    routes = verifier.api.DIRECT_ROUTES
    verifier.api.DIRECT_ROUTES = routes if direct else {}
    try:
        app = create_verifier_app(config, VerifierSettings())
    finally:
        verifier.api.DIRECT_ROUTES = routes
    has_direct = any(m.cls.__name__ == "DirectRoutes" for m in app.user_middleware)
    assert has_direct is direct
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def _requests(hospital: Party, citizen: Party) -> list[Request]:
    credential = allergy_credential(hospital, citizen)
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["id"] = hospital.did
    vp = add_proof(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": citizen.did,
            "verifiableCredential": [credential],
        },
        citizen.signer,
        created=utcnow(),
        proof_purpose="authentication",
        challenge="c-1",
        domain="https://verifier.example",
    )

    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    oversized = b'{"verifiableCredential": "' + b"a" * DEFAULT_MAX_BYTES + b'"}'
    deep = copy.deepcopy(credential)
    deep["credentialSubject"]["nested"] = json.loads("[" * 70 + "]" * 70)
    return [
        ("POST", "/credentials/verify", body({"verifiableCredential": credential}), JSON_TYPE),
        ("POST", "/credentials/verify", body({"verifiableCredential": tampered}), JSON_TYPE),
        (
            "POST",
            "/credentials/verify",
            body({"verifiableCredential": credential, "options": {"checks": ["nope"]}}),
            JSON_TYPE,
        ),
        ("POST", "/credentials/verify", b'{"verifiableCredential": ', JSON_TYPE),
        ("POST", "/credentials/verify", b'{"a": 1, "a": 2}', JSON_TYPE),
        ("POST", "/credentials/verify", b"[1, 2]", JSON_TYPE),
        ("POST", "/credentials/verify", oversized, JSON_TYPE),
        ("POST", "/credentials/verify", body({"verifiableCredential": deep}), JSON_TYPE),
        ("POST", "/credentials/verify", body({"verifiableCredential": credential}), {}),
        (
            "POST",
            "/credentials/verify",
            body({"verifiableCredential": credential}),
            {"content-type": "text/plain"},
        ),
        ("GET", "/credentials/verify", b"", {}),
        (
            "POST",
            "/presentations/verify",
            body(
                {
                    "verifiablePresentation": vp,
                    "options": {"challenge": "c-1", "domain": "https://verifier.example"},
                }
            ),
            {"content-type": "application/ld+json; charset=utf-8"},
        ),
        (
            "POST",
            "/presentations/verify",
            body({"verifiablePresentation": vp, "options": {"challenge": "other"}}),
            JSON_TYPE,
        ),
        ("POST", "/presentations/verify", body({"verifiablePresentation": 5}), JSON_TYPE),
    ]


def _comparable(response: httpx.Response) -> tuple[int, Any, list[tuple[str, str]]]:
    headers = sorted(
        (name, value) for name, value in response.headers.items() if name != "x-request-id"
    )
    try:
        content: Any = response.json()
    except ValueError:
        content = response.text
    return response.status_code, content, headers


async def test_direct_and_fastapi_paths_answer_alike(
    tmp_path: Path, hospital: Party, citizen: Party
) -> None:
    requests = _requests(hospital, citizen)
    answers: dict[bool, list[tuple[int, Any, list[tuple[str, str]]]]] = {}
    for direct in (True, False):
        async with _client(tmp_path, f"direct-{direct}", direct=direct) as client:
            answers[direct] = [
                _comparable(await client.request(m, path, content=data, headers=headers))
                for m, path, data, headers in requests
            ]
    statuses = [status for status, _, _ in answers[True]]
    # The cases are what they claim to be: verified, refused, malformed, too large, 415, 405.
    assert statuses == [200, 400, 400, 400, 400, 400, 413, 400, 415, 415, 405, 200, 400, 400]
    too_deep = answers[True][7][1]["errors"][0]
    assert too_deep["code"] == "PARSING_ERROR"
    assert "deeper than" in too_deep["message"]
    for case, (fast, slow) in enumerate(zip(answers[True], answers[False], strict=True)):
        assert fast == slow, f"case {case}: {requests[case][:2]}"


@pytest.mark.parametrize("direct", [True, False])
async def test_metrics_label_the_route_template_on_both_paths(
    tmp_path: Path, hospital: Party, citizen: Party, direct: bool
) -> None:
    credential = allergy_credential(hospital, citizen)
    async with _client(tmp_path, f"metrics-{direct}", direct=direct) as client:
        answer = await client.post("/credentials/verify", json={"verifiableCredential": credential})
        assert answer.status_code == 200
        metrics = await client.get(
            "/metrics", headers={"Authorization": "Bearer direct-routes-test-token"}
        )
    lines: Callable[[str], list[str]] = lambda text: [  # noqa: E731
        line for line in text.splitlines() if line.startswith("mydata_http_requests_total{")
    ]
    verify_lines = [line for line in lines(metrics.text) if "/credentials/verify" in line]
    assert verify_lines, lines(metrics.text)
    assert all('route="/credentials/verify"' in line for line in verify_lines)
    assert any('status="200"' in line and line.endswith(" 1.0") for line in verify_lines)
