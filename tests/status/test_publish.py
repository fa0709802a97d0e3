"""agent.status.publish: one signature per list version, ETag/304 answers, purpose lookup."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.status import StatusListAllocator
from agent.status.publish import RESIGN_AFTER, SignedCache, find_list, status_list_response
from agent.storage import Store
from tests.status.conftest import FakeClock, make_allocator

CACHE_CONTROL = "public, max-age=60"


class CountingSigner:
    """Stands in for a party's list signer: a distinct document per call, counted."""

    def __init__(self, allocator: StatusListAllocator) -> None:
        self.allocator = allocator
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, list_id: str, purpose: str) -> dict[str, Any]:
        self.calls.append((list_id, purpose))
        encoded = await self.allocator.encoded(list_id, purpose)
        return {
            "id": list_id,
            "purpose": purpose,
            "bits": encoded.encoded_list,
            "n": len(self.calls),
        }


@pytest.fixture
async def served(
    store: Store, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, StatusListAllocator, CountingSigner]]:
    allocator = make_allocator(store, list_size=64)
    signer = CountingSigner(allocator)
    cache = SignedCache(clock)
    app = FastAPI()

    @app.get("/status-lists/{list_id}")
    async def status_list(request: Request, list_id: str) -> Response:
        return await status_list_response(
            request,
            list_id,
            allocator=allocator,
            sign=signer,
            cache=cache,
            cache_control=CACHE_CONTROL,
        )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, allocator, signer


async def test_list_is_signed_once_per_version_and_answers_304(
    served: tuple[httpx.AsyncClient, StatusListAllocator, CountingSigner],
) -> None:
    http, allocator, signer = served
    list_id, index = await allocator.allocate("suspension")
    first = await http.get(f"/status-lists/{list_id}")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/vc+ld+json"
    assert first.headers["cache-control"] == CACHE_CONTROL
    etag = first.headers["etag"]
    assert etag == '"' + hashlib.sha256(first.content).hexdigest()[:32] + '"'
    assert first.json()["purpose"] == "suspension"

    again = await http.get(f"/status-lists/{list_id}")
    assert again.content == first.content
    not_modified = await http.get(f"/status-lists/{list_id}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert not_modified.headers["cache-control"] == CACHE_CONTROL
    assert signer.calls == [(list_id, "suspension")]

    await allocator.set_status(list_id, index, "suspension", True)
    changed = await http.get(f"/status-lists/{list_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(signer.calls) == 2


async def test_unchanged_list_is_signed_again_after_the_resign_interval(
    served: tuple[httpx.AsyncClient, StatusListAllocator, CountingSigner], clock: FakeClock
) -> None:
    http, allocator, signer = served
    list_id, _ = await allocator.allocate("revocation")
    await http.get(f"/status-lists/{list_id}")
    clock.advance(RESIGN_AFTER.total_seconds())
    await http.get(f"/status-lists/{list_id}")
    assert len(signer.calls) == 1
    clock.advance(1)
    await http.get(f"/status-lists/{list_id}")
    assert len(signer.calls) == 2


async def test_find_list_tries_each_purpose_and_refuses_unknown_ids(store: Store) -> None:
    allocator = make_allocator(store, list_size=64)
    list_id, _ = await allocator.allocate("suspension")
    purpose, encoded = await find_list(list_id, lambda p: allocator.encoded(list_id, p))
    assert purpose == "suspension"
    assert encoded == await allocator.encoded(list_id, "suspension")
    with pytest.raises(InvalidInputError) as caught:
        await find_list("no-such-list", lambda p: allocator.encoded("no-such-list", p))
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_find_list_passes_other_storage_errors_on() -> None:
    async def broken(purpose: str) -> str:
        raise StorageError("store unavailable", code=ErrorCode.STORE_BACKEND_ERROR)

    with pytest.raises(StorageError) as caught:
        await find_list("any", broken)
    assert caught.value.code is ErrorCode.STORE_BACKEND_ERROR
