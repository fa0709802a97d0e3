"""Every route that needs a token refuses a missing, wrong or lesser one, on every service.

The routes come from each app's OpenAPI: an operation that declares ``security`` (the bearer
dependency of :func:`agent.service.admin_guard` and of ``/metrics``) is tested, so a new admin
route is tested as soon as it exists. A route without ``security`` must be listed in
:data:`PUBLIC` below, and nothing under ``/admin``, ``/wallet`` or ``/metrics`` may be public,
so a new route cannot be left open by forgetting its guard.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.operations.conftest import ADMIN_TOKEN, METRICS_TOKEN, SERVICES, build_app

#: Routes open to anyone, by design, per service: probes, DIDComm (envelopes authenticate
#: their senders), public identity documents, status and trust lists, VC-API verification,
#: hospitals applying to the operator, and the vault's slots (their own slot token, below).
PUBLIC: dict[str, set[str]] = {
    "hospital": {
        "GET /healthz",
        "GET /readyz",
        "POST /didcomm",
        "GET /.well-known/did.json",
        "GET /accreditation",
        "GET /status-lists/{list_id}",
        "GET /status-lists/{list_id}/token",
    },
    "verifier": {
        "GET /healthz",
        "GET /readyz",
        "POST /didcomm",
        "POST /credentials/verify",
        "POST /presentations/verify",
        "POST /presentations/submit",
        "GET /verifier",
    },
    "wallet": {"GET /healthz", "GET /readyz", "POST /didcomm"},
    "vault": {
        "GET /healthz",
        "GET /readyz",
        "PUT /vault/{slot_id}",
        "GET /vault/{slot_id}",
        "HEAD /vault/{slot_id}",
        "DELETE /vault/{slot_id}",
    },
    "operator": {
        "GET /healthz",
        "GET /readyz",
        "POST /didcomm",
        "GET /operator",
        "GET /trust-list",
        "GET /accreditations/{accreditation_id}",
        "GET /status-lists/{list_id}",
        "GET /.well-known/did.json",
        "POST /registrations/challenge",
        "POST /registrations",
        "GET /registrations/{registration_id}",
    },
}
NEVER_PUBLIC = re.compile(r"^/(admin|wallet|metrics)(/|$)")
_UNOPENED = Path("/nonexistent-ops-test")  # no store is opened: the apps are not started


def _apps() -> dict[str, FastAPI]:
    return {name: build_app(name, _UNOPENED, "unused-key", "unused-key") for name in SERVICES}


def _operations(app: FastAPI) -> list[tuple[str, str, bool]]:
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), path, bool(operation.get("security"))))
    return found


APPS = _apps()
GUARDED = [
    pytest.param(name, method, path, id=f"{name}:{method} {path}")
    for name, app in APPS.items()
    for method, path, secured in _operations(app)
    if secured
]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x0", path)


async def _call(app: FastAPI, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        return await client.request(method, _concrete(path), headers=headers)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_either_guarded_or_listed_public(service: str) -> None:
    operations = _operations(APPS[service])
    open_ = {f"{m} {p}" for m, p, secured in operations if not secured}
    assert open_ <= PUBLIC[service], (
        f"unguarded routes not listed public: {open_ - PUBLIC[service]}"
    )
    assert not [o for o in open_ if NEVER_PUBLIC.match(o.split(" ", 1)[1])]
    guarded = [p for _, p, secured in operations if secured]
    assert "/metrics" in guarded
    assert any(p.startswith("/admin") for p in guarded)


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_hides_from_the_openapi(service: str) -> None:
    app = APPS[service]
    documented = {(m, p) for m, p, _ in _operations(app)}
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods:
                assert (method, route.path) in documented, (method, route.path)


@pytest.mark.parametrize(("service", "method", "path"), GUARDED)
async def test_a_guarded_route_refuses_without_the_right_token(
    service: str, method: str, path: str
) -> None:
    app = APPS[service]
    lesser = [] if path == "/metrics" else [METRICS_TOKEN]  # the metrics token opens no admin
    for token in [None, "", "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], *lesser]:
        response = await _call(app, method, path, token)
        assert response.status_code == 401, (token, response.status_code, response.text)
        if method != "HEAD":
            assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
async def test_a_vault_slot_refuses_the_admin_token(method: str) -> None:
    # A slot opens only with its own secret (wallet/vault.py); the operator's token is not it.
    slot = "A" * 43
    for token in [None, ADMIN_TOKEN, METRICS_TOKEN]:
        response = await _call(APPS["vault"], method, f"/vault/{slot}", token)
        assert response.status_code == 401, (token, response.text)


@pytest.mark.parametrize("service", SERVICES)
async def test_the_right_token_opens_an_admin_route(start: Any, service: str) -> None:
    running = await start(service)
    path = "/admin/stats" if service == "vault" else "/admin/connections"
    assert (await running.client.get(path)).status_code == 401
    response = await running.client.get(path, headers=running.admin)
    assert response.status_code == 200, response.text
