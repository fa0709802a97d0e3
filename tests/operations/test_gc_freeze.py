"""A served process freezes what it loaded before its first request (agent.observability.
GracefulServer.startup), so the cyclic collector's full collections scan only what requests
allocate: the verifier's p99 (docs/performance.md)."""

from __future__ import annotations

import asyncio
import gc
import socket

import uvicorn
from fastapi import FastAPI

from agent.observability import GracefulServer


async def test_startup_freezes_the_loaded_heap() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    config = uvicorn.Config(FastAPI(), host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = GracefulServer(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            for _ in range(500):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            assert server.started
            frozen = gc.get_freeze_count()
        finally:
            server.should_exit = True
            await serving
            gc.unfreeze()  # the rest of the test session collects as before
    # Everything alive then: modules, the app, this test's objects (tens of thousands).
    assert frozen > 10_000
