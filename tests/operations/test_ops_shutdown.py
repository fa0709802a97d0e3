"""Graceful shutdown on a real uvicorn server on 127.0.0.1: a request in flight when the server
is told to stop completes; readiness says shuttingDown from that moment; the store closes after.
And ``mydata serve`` itself: JSON log lines with request ids, and a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter

from agent.errors import StorageError
from agent.observability import GracefulServer, NotReadyReason, operations_of
from agent.service import create_agent_app
from agent.storage import generate_raw_key
from tests.conftest import MYDATA
from tests.operations.conftest import ADMIN_TOKEN, config


class Gate:
    """A slow request the test controls: it starts, then waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/slow")
        async def slow() -> dict[str, str]:
            self.entered.set()
            await self.release.wait()
            return {"finished": "yes"}

        return router


@pytest.fixture
def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(server: uvicorn.Server, sock: socket.socket) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield task
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)
        sock.close()


async def refused(port: int) -> bool:
    """Whether a new connection to the port is refused (the server stopped listening)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_a_request_in_flight_completes_when_the_server_stops(
    tmp_path: Path, listening: socket.socket
) -> None:
    gate = Gate()
    app = create_agent_app(
        config(f"sqlite://{tmp_path / 'agent.db'}", generate_raw_key()),
        public_routers=[gate.router()],
    )
    server = GracefulServer(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=60,
            ws="none",
            http="h11",
        )
    )
    port = listening.getsockname()[1]
    async with serving(server, listening) as task:
        operations = operations_of(app)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            assert (await client.get("/readyz")).status_code == 200
            in_flight = asyncio.create_task(client.get("/slow"))
            await gate.entered.wait()

            server.begin_shutdown()
            assert await operations.probe() is NotReadyReason.SHUTTING_DOWN
            for _ in range(300):  # until uvicorn's main loop closes the listening socket
                if await refused(port):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the server kept accepting connections")
            assert not task.done()  # it waits for the request in flight
            assert not in_flight.done()
            store = app.state.agent.store
            async with store.session() as session:  # the store is still open for it
                await session.fetch("ops-test", "probe")

            gate.release.set()
            response = await in_flight
        assert response.status_code == 200
        assert response.json() == {"finished": "yes"}
        await asyncio.wait_for(task, 30)
    # After the requests, the lifespan closed the store.
    with pytest.raises(StorageError):
        async with store.session() as session:
            await session.fetch("ops-test", "probe")


@pytest.mark.slow
def test_mydata_serve_logs_json_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("MYDATA_STORE_KEY", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [MYDATA, "serve", "vault", "--port", str(port), "--store", str(tmp_path / "v.db")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(400):
            if process.poll() is not None:
                raise AssertionError(log_path.read_text())
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"vault did not start: {log_path.read_text()}")
        response = httpx.get(
            f"{url}/admin/stats",
            headers={"X-Request-ID": "serve-test-0001", "Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "serve-test-0001"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (so a supervisor
        # sees why it ended): the exit is by SIGTERM, after the "Finished" line below.
        assert process.wait(30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    lines: list[dict[str, Any]] = [json.loads(line) for line in log_path.read_text().splitlines()]
    access = [line for line in lines if line.get("request_id") == "serve-test-0001"]
    assert [(a["logger"], a["path"], a["status"]) for a in access] == [
        ("mydata.access", "/admin/stats", 200)
    ]
    messages = [line["message"] for line in lines]
    assert any("Shutting down" in m for m in messages)
    assert any("Finished server process" in m for m in messages)
    assert ADMIN_TOKEN not in log_path.read_text()
