"""agent.status.checker: lists served by a real uvicorn server, and failures from MockTransport."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.credentials import status_list as status_list_module
from agent.credentials.model import build_credential
from agent.credentials.proofs import add_proof
from agent.credentials.status_list import Bitstring, encode_list, status_list_credential
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError, StatusError
from agent.keys import AskarKeyStore, KeyType
from agent.keys.askar import AskarSigner
from agent.status import StatusChecker, StatusListAllocator
from agent.storage import Store, generate_raw_key, open_store
from tests.status.conftest import FakeClock

LIST_MEDIA_TYPE = "application/vc+ld+json"


@dataclass
class Issuer:
    """An issuer DID with its signer, and an allocator over the same store."""

    did: str
    signer: AskarSigner
    allocator: StatusListAllocator

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return add_proof(document, self.signer, created=None)

    async def signed_list(self, list_id: str, purpose: str, clock: FakeClock) -> dict[str, Any]:
        document = await self.allocator.list_credential(
            list_id,
            purpose,
            valid_from=clock.now - timedelta(hours=1),
            valid_until=clock.now + timedelta(days=1),
        )
        return self.sign(document)

    def credential(self, *entries: dict[str, Any]) -> dict[str, Any]:
        return build_credential(
            types=["ExampleCredential"],
            issuer=self.did,
            subject={"id": "did:example:holder", "name": "Alice"},
            valid_from=FakeClock().now - timedelta(days=1),
            status=list(entries) or None,
        )


async def _new_issuer(store: Store, base_url: str) -> Issuer:
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = f"did:key:{multikey}"
    method = f"{did}#{multikey}"
    await keys.bind(
        multikey, did=did, verification_method=method, relationships=["assertionMethod"]
    )
    allocator = StatusListAllocator(store, issuer=did, base_url=base_url)
    return Issuer(did, await keys.signer(method), allocator)


@dataclass
class ListServer:
    """Serves signed list credentials at ``<base_url>/<list_id>``; counts requests."""

    base_url: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_control: str | None = "max-age=60"
    hits: Counter[str] = field(default_factory=Counter)

    def publish(self, document: dict[str, Any]) -> str:
        url = str(document["id"])
        self.documents[url.rsplit("/", 1)[1]] = document
        return url

    async def endpoint(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        self.hits[list_id] += 1
        if list_id not in self.documents:
            return JSONResponse({"error": "not found"}, status_code=404)
        headers = {"Cache-Control": self.cache_control} if self.cache_control else {}
        return JSONResponse(self.documents[list_id], headers=headers, media_type=LIST_MEDIA_TYPE)


@pytest.fixture
async def key_store() -> AsyncIterator[Store]:
    store = await open_store("sqlite://:memory:", raw_key=generate_raw_key())
    yield store
    await store.close()


@pytest.fixture
async def server() -> AsyncIterator[ListServer]:
    """A real HTTP server on 127.0.0.1 (an ephemeral port), run in the test's event loop."""
    listing = ListServer()
    app = Starlette(routes=[Route("/status/{list_id}", listing.endpoint)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve(sockets=[sock]))
    while not uvicorn_server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event.
        await asyncio.sleep(0.01)
    listing.base_url = f"http://127.0.0.1:{port}/status"
    yield listing
    uvicorn_server.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def issuer(key_store: Store, server: ListServer) -> Issuer:
    return await _new_issuer(key_store, server.base_url)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _checker(client: httpx.AsyncClient, clock: FakeClock, **options: Any) -> StatusChecker:
    return StatusChecker(
        client, DIDResolver(), clock=clock, insecure_http_hosts={"127.0.0.1"}, **options
    )


# --- against the uvicorn server --------------------------------------------------------------


async def test_revoked_and_suspended_credentials_are_detected(
    issuer: Issuer, server: ListServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    allocator = issuer.allocator
    (rev_list, revoked), (_, active) = await allocator.allocate_many("revocation", 2)
    sus_list, suspended = await allocator.allocate("suspension")
    await allocator.set_status(rev_list, revoked, "revocation", True)
    await allocator.set_status(sus_list, suspended, "suspension", True)
    server.publish(await issuer.signed_list(rev_list, "revocation", clock))
    server.publish(await issuer.signed_list(sus_list, "suspension", clock))
    checker = _checker(http_client, clock)

    revoked_vc = issuer.credential(allocator.entry(rev_list, revoked, "revocation"))
    (result,) = await checker.check(revoked_vc, now=clock.now)
    assert (result.purpose, result.index, result.set, result.valid) == (
        "revocation",
        revoked,
        True,
        False,
    )
    assert result.list_issuer == issuer.did
    assert result.fetched_at == clock.now
    assert result.age == timedelta(0)

    both = issuer.credential(
        allocator.entry(rev_list, active, "revocation"),
        allocator.entry(sus_list, suspended, "suspension"),
    )
    results = await checker.check(both, now=clock.now)
    assert [(r.purpose, r.set) for r in results] == [("revocation", False), ("suspension", True)]
    # Each list was fetched once: the second check of the revocation list used the cache.
    assert server.hits == Counter({rev_list: 1, sus_list: 1})


async def test_cache_respects_max_age_then_refetches(
    issuer: Issuer, server: ListServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    allocator = issuer.allocator
    list_id, index = await allocator.allocate("revocation")
    server.publish(await issuer.signed_list(list_id, "revocation", clock))
    credential = issuer.credential(allocator.entry(list_id, index, "revocation"))
    checker = _checker(http_client, clock, ttl=3600)  # The server's max-age=60 wins.

    assert not (await checker.check(credential, now=clock.now))[0].set
    # The issuer revokes and republishes; the verifier's copy is fresh for 60 s.
    await allocator.set_status(list_id, index, "revocation", True)
    server.publish(await issuer.signed_list(list_id, "revocation", clock))
    clock.advance(59)
    cached = (await checker.check(credential, now=clock.now))[0]
    assert not cached.set
    assert cached.age == timedelta(seconds=59)
    assert server.hits[list_id] == 1
    clock.advance(2)
    fresh = (await checker.check(credential, now=clock.now))[0]
    assert fresh.set
    assert fresh.age == timedelta(0)
    assert server.hits[list_id] == 2


async def test_default_ttl_and_no_store(
    issuer: Issuer, server: ListServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    allocator = issuer.allocator
    list_id, index = await allocator.allocate("revocation")
    server.publish(await issuer.signed_list(list_id, "revocation", clock))
    credential = issuer.credential(allocator.entry(list_id, index, "revocation"))

    server.cache_control = None
    checker = _checker(http_client, clock, ttl=300)
    await checker.check(credential, now=clock.now)
    clock.advance(299)
    await checker.check(credential, now=clock.now)
    assert server.hits[list_id] == 1
    clock.advance(1)
    await checker.check(credential, now=clock.now)
    assert server.hits[list_id] == 2

    server.cache_control = "no-store"
    checker = _checker(http_client, clock, ttl=300)
    await checker.check(credential, now=clock.now)
    await checker.check(credential, now=clock.now)
    assert server.hits[list_id] == 4


async def test_offline_checker_reports_the_age_of_a_seeded_list(
    issuer: Issuer, clock: FakeClock
) -> None:
    allocator = issuer.allocator
    list_id, index = await allocator.allocate("suspension")
    await allocator.set_status(list_id, index, "suspension", True)
    document = await issuer.signed_list(list_id, "suspension", clock)
    synced_at = clock.now
    checker = StatusChecker(None, DIDResolver(), clock=clock, offline=True)
    await checker.seed(allocator.list_url(list_id), document, fetched_at=synced_at)

    clock.advance(3 * 3600)  # Hours later, without a network; far beyond any ttl.
    credential = issuer.credential(allocator.entry(list_id, index, "suspension"))
    (result,) = await checker.check(credential, now=clock.now)
    assert result.set
    assert result.fetched_at == synced_at
    assert result.age == timedelta(hours=3)

    other_list, other_index = await allocator.allocate("revocation")
    unseeded = issuer.credential(allocator.entry(other_list, other_index, "revocation"))
    with pytest.raises(StatusError) as caught:
        await checker.check(unseeded, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_RETRIEVAL_ERROR
    assert caught.value.details["reason"] == "notSeeded"


async def test_list_of_another_issuer_is_rejected(
    issuer: Issuer,
    key_store: Store,
    server: ListServer,
    http_client: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    # Another issuer publishes a list at the URL the credential names, signed with its own key.
    other = await _new_issuer(key_store, server.base_url)
    list_id, index = await other.allocator.allocate("revocation")
    server.publish(await other.signed_list(list_id, "revocation", clock))
    credential = issuer.credential(issuer.allocator.entry(list_id, index, "revocation"))
    with pytest.raises(StatusError) as caught:
        await _checker(http_client, clock).check(credential, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "issuerMismatch"

    # Claiming the credential's issuer without its key fails the proof's key binding.
    forged = await other.allocator.list_credential(
        list_id, "revocation", valid_from=clock.now - timedelta(hours=1)
    )
    forged["issuer"] = issuer.did
    server.publish(other.sign(forged))
    with pytest.raises(StatusError) as caught:
        await _checker(http_client, clock).check(credential, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "proof"


async def test_tampered_list_is_rejected(
    issuer: Issuer, server: ListServer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    allocator = issuer.allocator
    list_id, index = await allocator.allocate("revocation")
    await allocator.set_status(list_id, index, "revocation", True)
    document = await issuer.signed_list(list_id, "revocation", clock)
    # Someone between issuer and verifier clears the revocation bit.
    document["credentialSubject"]["encodedList"] = encode_list(Bitstring())
    server.publish(document)
    credential = issuer.credential(allocator.entry(list_id, index, "revocation"))
    checker = _checker(http_client, clock)
    with pytest.raises(StatusError) as caught:
        await checker.check(credential, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    assert caught.value.details["reason"] == "proof"
    assert checker.cached_urls() == []  # A list that fails is not cached.
    unsigned = dict(document)
    del unsigned["proof"]
    server.publish(unsigned)
    with pytest.raises(StatusError) as caught:
        await checker.check(credential, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_VERIFICATION_ERROR


async def test_missing_list_is_a_retrieval_error(
    issuer: Issuer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    credential = issuer.credential(issuer.allocator.entry("nope", 5, "revocation"))
    with pytest.raises(StatusError) as caught:
        await _checker(http_client, clock).check(credential, now=clock.now)
    assert caught.value.code is ErrorCode.STATUS_RETRIEVAL_ERROR
    assert caught.value.details["status"] == 404


async def test_credential_without_status_has_no_results(
    issuer: Issuer, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    credential = issuer.credential()
    assert "credentialStatus" not in credential
    assert await _checker(http_client, clock).check(credential, now=clock.now) == []


# --- failures, through httpx.MockTransport ----------------------------------------------------

MOCK_BASE = "https://issuer.example/status"


@pytest.fixture
async def mock_issuer(key_store: Store) -> Issuer:
    return await _new_issuer(key_store, MOCK_BASE)


async def _mock_check(
    issuer: Issuer,
    clock: FakeClock,
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    url: str | None = None,
    **options: Any,
) -> StatusError:
    entry = issuer.allocator.entry("list1", 7, "revocation")
    if url is not None:
        entry |= {"statusListCredential": url, "id": f"{url}#7"}
    credential = issuer.credential(entry)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        checker = StatusChecker(client, DIDResolver(), clock=clock, **options)
        with pytest.raises(StatusError) as caught:
            await checker.check(credential, now=clock.now)
    return caught.value


def _raise(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (lambda r: httpx.Response(500), "httpStatus"),
        (lambda r: httpx.Response(302, headers={"Location": "https://elsewhere/"}), "httpStatus"),
        (_raise(httpx.ReadTimeout), "timeout"),
        (_raise(httpx.ConnectError), "network"),
        (
            lambda r: httpx.Response(200, text="<html/>", headers={"Content-Type": "text/html"}),
            "contentType",
        ),
        (
            lambda r: httpx.Response(
                200, text="not json", headers={"Content-Type": "application/json"}
            ),
            "notJson",
        ),
        (lambda r: httpx.Response(200, json=[1, 2]), "notJson"),
        (lambda r: httpx.Response(200, json={"pad": "x" * 5000}), "tooLarge"),
    ],
    ids=["500", "redirect", "timeout", "connect", "html", "not-json", "array", "too-large"],
)
async def test_retrieval_failures(
    mock_issuer: Issuer,
    clock: FakeClock,
    handler: Callable[[httpx.Request], httpx.Response],
    reason: str,
) -> None:
    error = await _mock_check(mock_issuer, clock, handler, max_bytes=4096)
    assert error.code is ErrorCode.STATUS_RETRIEVAL_ERROR
    assert error.details["reason"] == reason


async def test_plain_http_is_refused_unless_allowed(mock_issuer: Issuer, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be fetched")

    error = await _mock_check(mock_issuer, clock, handler, url="http://issuer.example/status/l1")
    assert error.code is ErrorCode.STATUS_RETRIEVAL_ERROR
    assert error.details["reason"] == "scheme"


async def test_short_signed_list_is_a_length_error(mock_issuer: Issuer, clock: FakeClock) -> None:
    url = f"{MOCK_BASE}/list1"
    document = status_list_credential(
        url, mock_issuer.did, "revocation", Bitstring(), clock.now - timedelta(hours=1)
    )
    document["credentialSubject"]["encodedList"] = encode_list(Bitstring(1024, min_length=8))
    signed = mock_issuer.sign(document)

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == url
        return httpx.Response(200, json=signed, headers={"Content-Type": "application/vc"})

    error = await _mock_check(mock_issuer, clock, handler)
    assert error.code is ErrorCode.STATUS_LIST_LENGTH_ERROR


@pytest.mark.parametrize(
    ("ttl", "valid_for", "cached_for"),
    [(30, 3600, 30), (3600, 90, 90)],
    ids=["list-ttl", "valid-until"],
)
async def test_list_ttl_and_valid_until_bound_the_cache(
    mock_issuer: Issuer, clock: FakeClock, ttl: int, valid_for: int, cached_for: int
) -> None:
    url = f"{MOCK_BASE}/list1"
    document = status_list_credential(
        url,
        mock_issuer.did,
        "revocation",
        Bitstring(),
        clock.now - timedelta(hours=1),
        clock.now + timedelta(seconds=valid_for),
        ttl=timedelta(seconds=ttl),
    )
    signed = mock_issuer.sign(document)
    hits: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        return httpx.Response(200, json=signed, headers={"Content-Type": "application/vc"})

    credential = mock_issuer.credential(mock_issuer.allocator.entry("list1", 7, "revocation"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        checker = StatusChecker(client, DIDResolver(), clock=clock, ttl=86_400)
        await checker.check(credential, now=clock.now)
        clock.advance(cached_for - 1)
        await checker.check(credential, now=clock.now)
        assert len(hits) == 1
        clock.advance(1)
        await checker.check(credential, now=clock.now)
        assert len(hits) == 2


async def test_concurrent_checks_fetch_a_list_once(mock_issuer: Issuer, clock: FakeClock) -> None:
    url = f"{MOCK_BASE}/list1"
    signed = mock_issuer.sign(
        status_list_credential(
            url, mock_issuer.did, "revocation", Bitstring(), clock.now - timedelta(hours=1)
        )
    )
    hits: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        await asyncio.sleep(0.01)
        return httpx.Response(200, json=signed, headers={"Content-Type": "application/vc"})

    credential = mock_issuer.credential(mock_issuer.allocator.entry("list1", 7, "revocation"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        checker = StatusChecker(client, DIDResolver(), clock=clock)
        results = await asyncio.gather(
            *(checker.check(credential, now=clock.now) for _ in range(5))
        )
    assert [result.set for (result,) in results] == [False] * 5
    assert hits == [url]
    assert checker._locks == {}
    assert checker.cached_urls() == [url]


def test_an_online_checker_needs_a_client() -> None:
    with pytest.raises(InvalidInputError, match="offline=True"):
        StatusChecker(None, DIDResolver())


async def test_a_cached_list_is_inflated_once(
    mock_issuer: Issuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{MOCK_BASE}/list1"
    bits = Bitstring()
    bits.set(9)
    signed = mock_issuer.sign(
        status_list_credential(
            url, mock_issuer.did, "revocation", bits, clock.now - timedelta(hours=1)
        )
    )
    inflated: list[int] = []
    real_gunzip = status_list_module._gunzip

    def counting_gunzip(compressed: bytes, max_bytes: int) -> bytes:
        inflated.append(len(compressed))
        return real_gunzip(compressed, max_bytes)

    monkeypatch.setattr(status_list_module, "_gunzip", counting_gunzip)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=signed, headers={"Content-Type": "application/vc"})

    entries = [mock_issuer.allocator.entry("list1", i, "revocation") for i in (7, 9)]
    credential = mock_issuer.credential(*entries)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        checker = StatusChecker(client, DIDResolver(), clock=clock)
        for _ in range(3):
            results = await checker.check(credential, now=clock.now)
            assert [(r.index, r.set) for r in results] == [(7, False), (9, True)]
    assert len(inflated) == 1  # when the list was cached, not per check or per entry
