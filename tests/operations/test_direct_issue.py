"""The hospital's ``POST /credentials/issue`` answers alike on the direct path
(agent.service.DirectRoutes, taken only with the admin token) and through FastAPI's routing
and guard: same status, same body (apart from what each issuance makes new: ids, status
indexes, proof values), same headers but the request id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

import issuer.api
from agent.jsonio import DEFAULT_MAX_BYTES
from agent.storage import generate_raw_key
from tests.operations.conftest import ADMIN_TOKEN, build_app, provision

UNSIGNED = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential"],
    "credentialSubject": {"id": "did:example:subject"},
}
JSON_TYPE = {"content-type": "application/json"}
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}", **JSON_TYPE}


def _cases() -> list[tuple[str, bytes, dict[str, str]]]:
    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    bad_type = {**UNSIGNED, "type": "NotAList"}
    return [
        ("issued", body({"credential": UNSIGNED}), ADMIN),
        (
            "scheme in lower case",
            body({"credential": UNSIGNED}),
            {"authorization": f"bearer {ADMIN_TOKEN}", **JSON_TYPE},
        ),
        ("no token", body({"credential": UNSIGNED}), JSON_TYPE),
        (
            "wrong token",
            body({"credential": UNSIGNED}),
            {"authorization": "Bearer not-the-token", **JSON_TYPE},
        ),
        ("basic scheme", body({"credential": UNSIGNED}), {"authorization": f"Basic {ADMIN_TOKEN}"}),
        ("not JSON", b'{"credential": ', ADMIN),
        ("no credential", body({"options": {}}), ADMIN),
        ("options not an object", body({"credential": UNSIGNED, "options": [1]}), ADMIN),
        ("not a credential", body({"credential": bad_type}), ADMIN),
        ("too large", b'{"credential": "' + b"a" * DEFAULT_MAX_BYTES + b'"}', ADMIN),
        (
            "not declared as JSON",
            body({"credential": UNSIGNED}),
            {"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "text/plain"},
        ),
    ]


def _comparable(status: int, content: Any, headers: dict[str, str]) -> tuple[Any, ...]:
    if status == 201:
        credential = content["verifiableCredential"]
        # What differs between two issuances: the id, the status indexes, the proof value.
        content = {
            "keys": sorted(credential),
            "type": credential["type"],
            "proof": sorted(credential["proof"]),
            "status purposes": [e["statusPurpose"] for e in credential["credentialStatus"]],
        }
    shown = {k: v for k, v in headers.items() if k not in ("x-request-id", "content-length")}
    return status, content, sorted(shown.items())


async def _answers(directory: Path, *, direct: bool) -> tuple[list[tuple[Any, ...]], str]:
    """Every case's comparable answer from a hospital built with or without the direct path,
    and its metrics text afterwards."""
    key = generate_raw_key()
    await provision("hospital", directory, key)
    routes = issuer.api.ADMIN_DIRECT_ROUTES
    issuer.api.ADMIN_DIRECT_ROUTES = routes if direct else {}
    try:
        app = build_app("hospital", directory, key)
    finally:
        issuer.api.ADMIN_DIRECT_ROUTES = routes
    assert any(m.cls.__name__ == "DirectRoutes" for m in app.user_middleware) is direct
    answers = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        for _, data, headers in _cases():
            response = await client.post("/credentials/issue", content=data, headers=headers)
            try:
                content: Any = response.json()
            except ValueError:
                content = response.text
            answers.append(_comparable(response.status_code, content, dict(response.headers)))
        metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return answers, metrics.text


async def test_issue_answers_alike_on_both_paths(tmp_path: Path) -> None:
    for name in ("direct", "fastapi"):
        (tmp_path / name).mkdir()
    fast, fast_metrics = await _answers(tmp_path / "direct", direct=True)
    slow, slow_metrics = await _answers(tmp_path / "fastapi", direct=False)
    statuses = [status for status, _, _ in fast]
    assert statuses == [201, 201, 401, 401, 401, 400, 400, 400, 422, 413, 415]
    for (name, _, _), mine, theirs in zip(_cases(), fast, slow, strict=True):
        assert mine == theirs, name
    for text in (fast_metrics, slow_metrics):
        lines = [
            line for line in text.splitlines() if line.startswith("mydata_http_requests_total{")
        ]
        assert any('route="/credentials/issue"' in x and 'status="201"' in x for x in lines)
        assert not any('route="unmatched"' in x for x in lines)
