"""/healthz and /readyz on every service: ready, starting, store gone, shutting down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.observability import NotReady, NotReadyReason, operations_of
from agent.storage import generate_raw_key
from tests.operations.conftest import SERVICES, build_app, provision, store_of


@pytest.mark.parametrize("service", SERVICES)
async def test_live_and_ready(start: Any, service: str) -> None:
    running = await start(service)
    live = await running.client.get("/healthz")
    ready = await running.client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize("service", SERVICES)
async def test_not_ready_when_the_store_is_closed(start: Any, service: str) -> None:
    running = await start(service)
    await store_of(running.app).close()
    live = await running.client.get("/healthz")
    ready = await running.client.get("/readyz")
    assert live.status_code == 200  # the process lives; it cannot serve
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "storeUnavailable"}


async def test_wallet_not_ready_when_the_citizens_store_is_closed(start: Any) -> None:
    """The wallet service keeps two stores: its agent's and the citizen's; both are probed."""
    running = await start("wallet")
    assert (await running.client.get("/readyz")).status_code == 200
    await running.app.state.wallet.store.close()
    ready = await running.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "storeUnavailable"}


@pytest.mark.parametrize("service", SERVICES)
async def test_not_ready_once_shutdown_begins(start: Any, service: str) -> None:
    running = await start(service)
    assert (await running.client.get("/readyz")).status_code == 200
    operations_of(running.app).begin_shutdown()
    ready = await running.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "shuttingDown"
    # Requests already accepted are still served while it drains.
    assert (await running.client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("service", SERVICES)
async def test_not_ready_before_start(tmp_path: Path, service: str) -> None:
    app = build_app(service, tmp_path, generate_raw_key())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "starting"}


@pytest.mark.parametrize("service", SERVICES)
async def test_lifespan_shutdown_turns_readiness_off(tmp_path: Path, service: str) -> None:
    key = generate_raw_key()
    await provision(service, tmp_path, key)
    app = build_app(service, tmp_path, key)
    operations = operations_of(app)
    async with app.router.lifespan_context(app):
        assert await operations.probe() is None
    assert await operations.probe() is NotReadyReason.SHUTTING_DOWN


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (NotReady(NotReadyReason.STARTING), "starting"),
        (RuntimeError("boom"), "checkFailed"),
    ],
)
async def test_a_failing_check_is_a_503_with_its_reason(
    start: Any, failure: Exception, reason: str
) -> None:
    running = await start("vault")

    async def check() -> None:
        raise failure

    operations_of(running.app).readiness = check
    ready = await running.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": reason}
