"""agent.status.token_fetch: the one Status List Token fetcher (verifier and wallet) reads
https only, refuses a body past its limit without reading it all, and names why it failed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from agent.errors import ErrorCode, StatusError
from agent.status.token_fetch import http_token_fetcher
from tests.conftest import StatusListServer


@pytest.fixture
def server() -> Iterator[StatusListServer]:
    running = StatusListServer()
    yield running
    running.close()


async def _reason(fetch_uri: str, **options: object) -> str:
    async with httpx.AsyncClient() as client:
        fetch = http_token_fetcher(client, **options)  # type: ignore[arg-type]
        with pytest.raises(StatusError) as failed:
            await fetch(fetch_uri)
    assert failed.value.code is ErrorCode.STATUS_RETRIEVAL_ERROR
    return str(failed.value.details["reason"])


async def test_a_token_is_read_and_trimmed(server: StatusListServer) -> None:
    server.token = "eyJ.a.b\n"
    async with httpx.AsyncClient() as client:
        fetch = http_token_fetcher(client, insecure_http_hosts={"127.0.0.1"})
        assert await fetch(server.uri) == "eyJ.a.b"


async def test_refusals_name_their_reason(server: StatusListServer) -> None:
    assert await _reason(server.uri) == "scheme"  # plain http to a host not allowed it
    hosts = {"insecure_http_hosts": {"127.0.0.1"}}
    assert await _reason(server.uri, **hosts) == "httpStatus"  # empty token: 503
    server.token = "x" * 5000
    assert await _reason(server.uri, max_bytes=1000, **hosts) == "tooLarge"
    server.close()
    assert await _reason(server.uri, **hosts) == "network"
