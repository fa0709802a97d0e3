"""The wallet store's opening begun before the service starts
(``agent.storage.opening.StoreOpening``, what ``mydata serve wallet`` does to overlap Argon2
with its start-up): the service it feeds is the one that opens the store itself, and a wrong
passphrase still stops the start-up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from agent.errors import ErrorCode, StorageError
from agent.service import AgentServiceConfig
from agent.storage import generate_raw_key
from agent.storage.opening import StoreOpening
from tests.conftest import MYDATA, free_port, mydata
from wallet.api import WalletOpenArgs, create_wallet_app
from wallet.holder import open_wallet

TOKEN = "wallet-opening-admin-token"
PASSPHRASE = "wallet opening test passphrase"


async def _holder_in_store(uri: str) -> str:
    wallet = await open_wallet(uri, passphrase=PASSPHRASE, create=True)
    try:
        return await wallet.holder_did()
    finally:
        await wallet.close()


def _config(tmp_path: Path) -> AgentServiceConfig:
    return AgentServiceConfig(
        store_uri=f"sqlite://{tmp_path / 'agent.sqlite'}",
        store_key=generate_raw_key(),
        public_url="http://127.0.0.1:8000",
        title="wallet opening test",
        admin_token=TOKEN,
    )


async def _identity(app: object) -> str:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1:8000",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        response = await client.get("/wallet/identity")
    assert response.status_code == 200, response.text
    holder: str = response.json()["holder"]
    return holder


def _opening(args: WalletOpenArgs) -> StoreOpening:
    """What ``mydata serve wallet`` begins before loading the service."""
    return StoreOpening(args.uri, passphrase=args.passphrase, profile=args.profile, create=False)


async def test_the_opened_store_serves_once_then_the_service_opens_its_own(
    tmp_path: Path,
) -> None:
    uri = f"sqlite://{tmp_path / 'wallet.sqlite'}"
    holder = await _holder_in_store(uri)
    args = WalletOpenArgs(uri=uri, passphrase=PASSPHRASE)
    opening = _opening(args)
    app = create_wallet_app(_config(tmp_path), args, opening=opening)
    for _ in range(2):  # the second start-up has no opening left: it opens the store itself
        async with app.router.lifespan_context(app):
            assert await _identity(app) == holder
    assert await opening.store() is None


async def test_a_wrong_passphrase_fails_the_start_up_from_the_opening(tmp_path: Path) -> None:
    uri = f"sqlite://{tmp_path / 'wallet.sqlite'}"
    await _holder_in_store(uri)
    args = WalletOpenArgs(uri=uri, passphrase="not the passphrase")
    app = create_wallet_app(_config(tmp_path), args, opening=_opening(args))
    with pytest.raises(StorageError) as caught:
        async with app.router.lifespan_context(app):
            pytest.fail("the service started with a wrong passphrase")
    assert caught.value.code == ErrorCode.STORE_WRONG_KEY


@pytest.mark.slow
def test_serve_wallet_with_a_wrong_passphrase_never_answers(tmp_path: Path) -> None:
    env = {**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_ADMIN_TOKEN": TOKEN}
    store = f"sqlite://{tmp_path / 'wallet.sqlite'}"
    mydata("wallet", "init", "--store", store, env={**env, "MYDATA_PASSPHRASE": PASSPHRASE})
    port = free_port()
    result = subprocess.run(
        [MYDATA, "serve", "wallet", "--store", store, "--port", str(port)],
        env={**env, "MYDATA_PASSPHRASE": "not the passphrase"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "storeWrongKey" in result.stdout + result.stderr
    assert "not the passphrase" not in result.stdout + result.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
