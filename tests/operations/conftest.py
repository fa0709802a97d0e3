"""Every party's service built in-process on its own SQLite store, started through its lifespan
and reached through httpx's ASGI transport; a log capture in the services' JSON format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.observability import QUIET_LOGGERS, configure_logging
from agent.service import AgentServiceConfig
from agent.storage import Store, generate_raw_key, open_store
from governance.api import create_operator_app
from governance.operator import Operator
from issuer.api import create_hospital_app
from issuer.hospital import Hospital
from verifier.api import VerifierSettings, create_verifier_app
from wallet.api import WalletOpenArgs, create_wallet_app
from wallet.vault import create_vault_app

ADMIN_TOKEN = "ops-admin-token-0123456789"
METRICS_TOKEN = "ops-metrics-token-0123456789"
PUBLIC_URL = "http://127.0.0.1:8000"
SERVICES = ("hospital", "verifier", "wallet", "vault", "operator")
#: A health datum that must never reach a log line.
MARKER = "OPSMARKER-4417-ANAPHYLAXIS"
SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"


def config(store_uri: str, store_key: str, **extra: Any) -> AgentServiceConfig:
    return AgentServiceConfig(
        store_uri=store_uri,
        store_key=store_key,
        public_url=PUBLIC_URL,
        title="ops test",
        admin_token=ADMIN_TOKEN,
        metrics_token=METRICS_TOKEN,
        **extra,
    )


def build_app(service: str, directory: Path, key: str, wallet_key: str = "") -> FastAPI:
    """The ``service``'s app over stores in ``directory`` (not started: no store is opened)."""
    cfg = config(f"sqlite://{directory / f'{service}.db'}", key)
    if service == "hospital":
        return create_hospital_app(cfg)
    if service == "verifier":
        return create_verifier_app(cfg, VerifierSettings())
    if service == "wallet":
        args = WalletOpenArgs(
            uri=f"sqlite://{directory / 'wallet-holder.db'}",
            raw_key=wallet_key or generate_raw_key(),
            create=True,
        )
        return create_wallet_app(cfg, args)
    if service == "vault":
        return create_vault_app(cfg)
    if service == "operator":
        return create_operator_app(cfg)
    raise AssertionError(service)


async def provision(service: str, directory: Path, key: str) -> None:
    """What ``mydata <role> init`` does before ``mydata serve <role>``."""
    if service not in ("hospital", "operator"):
        return
    store = await open_store(f"sqlite://{directory / f'{service}.db'}", raw_key=key)
    try:
        if service == "hospital":
            await Hospital.init(store, base_url=PUBLIC_URL, did_method="key")
        else:
            await Operator.init(store, base_url=PUBLIC_URL, did_method="key")
    finally:
        await store.close()


def store_of(app: FastAPI) -> Store:
    """The store a running app's readiness check reads."""
    store = getattr(app.state, "store", None)
    if store is None:
        store = app.state.agent.store
    assert isinstance(store, Store)
    return store


@dataclass
class Running:
    name: str
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @property
    def scraper(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {METRICS_TOKEN}"}

    async def metrics(self) -> str:
        response = await self.client.get("/metrics", headers=self.scraper)
        assert response.status_code == 200, response.text
        return response.text


StartService = Callable[[str], Any]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await start(name)``: the named service, provisioned and started; stopped at the end."""
    async with AsyncExitStack() as stack:

        async def _start(name: str, *, base_url: str = "http://service.test") -> Running:
            directory = tmp_path / name
            directory.mkdir(exist_ok=True)
            key = generate_raw_key()
            await provision(name, directory, key)
            app = build_app(name, directory, key)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
            await stack.enter_async_context(client)
            return Running(name, app, client)

        yield _start


class LogCapture:
    """Everything logged (DEBUG and up) while the fixture is active, as the services write it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Each line parsed: every line must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines() if line]


@pytest.fixture
def json_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in loggers]
    handler = configure_logging("debug", "json", stream=capture.stream)
    try:
        yield capture
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def allergy_resource() -> dict[str, Any]:
    """The sample AllergyIntolerance with :data:`MARKER` as its substance's text."""
    resource: dict[str, Any] = json.loads((SAMPLES / "allergy-intolerance.json").read_text())
    resource["code"]["text"] = MARKER
    return resource
