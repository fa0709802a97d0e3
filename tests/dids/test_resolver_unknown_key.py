"""DIDResolver fetches a cached did:web document again when a DID URL names a key it lacks (a
key the hospital has just rotated in), at most once per DID per
``DIDResolver.UNKNOWN_KEY_REFETCH_INTERVAL``; documents seeded for offline use are never fetched.

The documents are served by a real HTTP server on 127.0.0.1 that counts its requests; the last
test runs the hospital's own service (askar store, askar keys) and rotates its key the way
``mydata hospital rotate-key`` does, through another :class:`issuer.hospital.Hospital` on the
same store.
"""

from __future__ import annotations

import asyncio
import copy
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from agent.clock import utcnow
from agent.credentials.proofs import verify_proofs
from agent.dids import DIDResolver, build_did_web_document
from agent.errors import DIDDocumentError, ErrorCode
from agent.keys.multikey import KeyType, encode_multikey
from agent.service import AgentServiceConfig
from agent.storage import generate_raw_key, open_store
from issuer.api import create_hospital_app
from issuer.hospital import Hospital
from tests.conftest import UNSIGNED_ALLERGY

INTERVAL = DIDResolver.UNKNOWN_KEY_REFETCH_INTERVAL
LOCAL = frozenset({"127.0.0.1"})


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class DocumentServer:
    """A real HTTP server on 127.0.0.1 serving :attr:`document` as its did:web document
    (503 while :attr:`failing`), counting requests; ``delay`` seconds before each answer."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.requests = 0
        self.failing = False
        self.keys: list[bytes] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                time.sleep(delay)
                if owner.failing or self.path != "/.well-known/did.json":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(owner.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/did+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.did = f"did:web:127.0.0.1%3A{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def document(self) -> dict[str, Any]:
        return build_did_web_document(self.did, [(KeyType.ED25519_PUB, k) for k in self.keys])

    def add_key(self) -> str:
        """A new Ed25519 key in the served document; its DID URL."""
        public = bytes(SigningKey.generate().verify_key)
        self.keys.append(public)
        return self.url_of(public)

    def url_of(self, public: bytes) -> str:
        return f"{self.did}#{encode_multikey(KeyType.ED25519_PUB, public)}"

    def forged_url(self) -> str:
        return self.url_of(bytes(SigningKey.generate().verify_key))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[DocumentServer]:
    served = DocumentServer()
    yield served
    served.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def online(client: httpx.AsyncClient, clock: FakeClock) -> DIDResolver:
    """A verifier's long-lived resolver: did:web documents kept 300 s."""
    return DIDResolver(http_client=client, clock=clock, cache_ttl=300, insecure_http_hosts=LOCAL)


async def refused(resolver: DIDResolver, url: str) -> None:
    with pytest.raises(DIDDocumentError) as info:
        await resolver.resolve_key(url, "assertionMethod")
    assert info.value.code is ErrorCode.KEY_NOT_FOUND


async def test_a_rotated_in_key_is_found_by_one_fetch_of_the_cached_document(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resolver = online(client, clock)
    old = server.add_key()
    await resolver.resolve_key(old, "assertionMethod")
    assert server.requests == 1
    clock.now += 10  # the document is cached for 300 s

    new = server.add_key()  # the hospital rotates
    assert (await resolver.resolve_key(new, "assertionMethod")).id == new
    assert server.requests == 2
    # Both keys now come from the cache.
    await resolver.resolve_key(new, "assertionMethod")
    await resolver.resolve_key(old, "assertionMethod")
    assert server.requests == 2


async def test_unknown_keys_fetch_at_most_once_per_interval(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resolver = online(client, clock)
    known = server.add_key()
    await resolver.resolve_key(known, "assertionMethod")
    await refused(resolver, server.forged_url())  # fetched again, still not there
    assert server.requests == 2
    for _ in range(20):  # a stream of forged key ids within the interval: no more fetches
        clock.now += 1
        await refused(resolver, server.forged_url())
    assert server.requests == 2
    # Even a real new key waits for the interval to pass (counted from the last such fetch).
    new = server.add_key()
    await refused(resolver, new)
    assert server.requests == 2
    clock.now += INTERVAL - 20
    assert (await resolver.resolve_key(new, "assertionMethod")).id == new
    assert server.requests == 3
    await refused(resolver, server.forged_url())
    assert server.requests == 3
    await resolver.resolve_key(known, "assertionMethod")  # the cached document still serves
    assert server.requests == 3


async def test_the_limit_survives_the_documents_expiry(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resolver = DIDResolver(http_client=client, clock=clock, cache_ttl=5, insecure_http_hosts=LOCAL)
    known = server.add_key()
    await resolver.resolve_key(known, "assertionMethod")
    await refused(resolver, server.forged_url())
    assert server.requests == 2
    clock.now += 10  # expired: the next use fetches it (TTL), but no unknown-key fetch follows
    await refused(resolver, server.forged_url())
    assert server.requests == 3


async def test_a_failed_fetch_keeps_the_cached_document_and_counts(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resolver = online(client, clock)
    known = server.add_key()
    await resolver.resolve_key(known, "assertionMethod")
    server.failing = True
    await refused(resolver, server.add_key())  # the refusal stays keyNotFound
    assert server.requests == 2
    await refused(resolver, server.forged_url())
    assert server.requests == 2
    assert (await resolver.resolve_key(known, "assertionMethod")).id == known
    server.failing = False
    clock.now += INTERVAL
    new = server.keys[-1]
    assert (await resolver.resolve_key(server.url_of(new), "assertionMethod")).raw == new
    assert server.requests == 3


async def test_requests_for_a_new_key_at_once_share_one_fetch(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    slow = DocumentServer(delay=0.3)
    try:
        resolver = online(client, clock)
        await resolver.resolve_key(slow.add_key(), "assertionMethod")
        new = slow.add_key()
        found = await asyncio.gather(
            *(resolver.resolve_key(new, "assertionMethod") for _ in range(10))
        )
        assert {key.id for key in found} == {new}
        assert slow.requests == 2
    finally:
        slow.close()


async def test_seeded_documents_are_never_fetched(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    known = server.add_key()
    seeded = server.document()
    # Offline, as the ER's caches from 'mydata er sync' are loaded: no HTTP client at all.
    offline = DIDResolver(clock=clock)
    offline.add_document(seeded)
    # A resolver that could fetch, but holds the document pinned with add_document.
    pinned = online(client, clock)
    pinned.add_document(seeded)
    server.add_key()
    for resolver in (offline, pinned):
        assert (await resolver.resolve_key(known, "assertionMethod")).id == known
        for _ in range(3):
            await refused(resolver, server.url_of(server.keys[-1]))
            clock.now += INTERVAL * 10
    assert server.requests == 0


async def test_other_refusals_do_not_fetch(
    server: DocumentServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    resolver = online(client, clock)
    known = server.add_key()
    await resolver.resolve_key(known, "assertionMethod")
    clock.now += INTERVAL
    with pytest.raises(DIDDocumentError) as info:  # listed, but not for keyAgreement
        await resolver.resolve_key(known, "keyAgreement")
    assert info.value.code is ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR
    assert server.requests == 1


# --- the hospital's own service ---------------------------------------------------------------

ADMIN = "unknown-key-test-admin-token"


async def test_a_verifier_accepts_a_credential_of_a_rotated_in_key_at_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The QA report: after ``rotate-key`` a running verifier refused new credentials
    (``keyNotFound``) until its cached did:web document expired."""
    uri, key = f"sqlite://{tmp_path / 'hospital.db'}", generate_raw_key()
    base_url = "http://127.0.0.1:8766"
    store = await open_store(uri, raw_key=key)
    try:
        await Hospital.init(store, base_url=base_url, insecure_http_hosts=LOCAL)
    finally:
        await store.close()
    app = create_hospital_app(
        AgentServiceConfig(uri, key, base_url, admin_token=ADMIN), insecure_http_hosts=LOCAL
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as service,
    ):

        async def issue() -> dict[str, Any]:
            response = await service.post(
                "/credentials/issue",
                json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            assert response.status_code == 201, response.text
            credential: dict[str, Any] = response.json()["verifiableCredential"]
            return credential

        # The verifier's resolver reaches the service in-process (same app, same routes).
        resolver = DIDResolver(
            http_client=service, clock=clock, cache_ttl=300, insecure_http_hosts=LOCAL
        )
        await verify_proofs(await issue(), resolver, now=utcnow())  # the document is cached

        cli_store = await open_store(uri, raw_key=key)  # 'mydata hospital rotate-key'
        try:
            cli = await Hospital.load(cli_store, insecure_http_hosts=LOCAL)
            assert cli is not None
            new_key = await cli.rotate_key()
        finally:
            await cli_store.close()

        clock.now += 10  # well within the document's 300 s
        signed_by_new = await issue()
        assert signed_by_new["proof"]["verificationMethod"].endswith("#" + new_key)
        await verify_proofs(signed_by_new, resolver, now=utcnow())
