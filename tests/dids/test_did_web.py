"""did:web: URLs, the hospital's document, and fetching it (MockTransport and a real server)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.dids import build_did_web_document, did_web_from_url, did_web_to_url, resolve_did_web
from agent.dids.document import parse_document
from agent.errors import DIDDocumentError, DIDResolutionError, ErrorCode, KeyMaterialError
from agent.keys.multikey import KeyType, encode_multikey

DID = "did:web:hospital.example"
URL = "https://hospital.example/.well-known/did.json"


def _ed25519() -> bytes:
    return bytes(SigningKey.generate().verify_key)


def _document(did: str = DID) -> dict[str, Any]:
    return build_did_web_document(did, [(KeyType.ED25519_PUB, _ed25519())])


# --- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("did", "url"),
    [
        # did:web spec, section 3.2.1 examples.
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
        ("did:web:example.com%3a8443", "https://example.com:8443/.well-known/did.json"),
    ],
)
def test_did_web_to_url(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        pytest.param("did:web:", id="empty"),
        pytest.param("did:key:z6Mk", id="other-method"),
        pytest.param("did:web:192.168.1.1", id="ip-address"),
        pytest.param("did:web:exa_mple.com", id="bad-host"),
        pytest.param("did:web:example.com:..:secret", id="dot-dot"),
        pytest.param("did:web:example.com::x", id="empty-segment"),
        pytest.param("did:web:example.com%3A99999", id="bad-port"),
        pytest.param("did:web:example.com%2Fevil", id="encoded-slash"),
        pytest.param("did:web:example.com/path", id="slash"),
        pytest.param("did:web:example.com#frag", id="fragment"),
    ],
)
def test_did_web_to_url_rejects(did: str) -> None:
    with pytest.raises(DIDResolutionError) as info:
        did_web_to_url(did)
    assert info.value.code is ErrorCode.INVALID_DID


def test_insecure_host_uses_http() -> None:
    did = "did:web:127.0.0.1%3A8080"
    assert did_web_to_url(did, insecure_http_hosts={"127.0.0.1"}) == (
        "http://127.0.0.1:8080/.well-known/did.json"
    )


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://hospital.example", "did:web:hospital.example"),
        ("https://hospital.example/", "did:web:hospital.example"),
        ("https://Hospital.Example/.well-known/did.json", "did:web:hospital.example"),
        ("https://example.com:3000/user/alice", "did:web:example.com%3A3000:user:alice"),
        ("https://example.com/user/alice/did.json", "did:web:example.com:user:alice"),
    ],
)
def test_did_web_from_url(url: str, did: str) -> None:
    assert did_web_from_url(url) == did


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://hospital.example", id="http"),
        pytest.param("https://hospital.example/?a=1", id="query"),
        pytest.param("https://user:pw@hospital.example", id="credentials"),
        pytest.param("https://10.0.0.1", id="ip"),
        pytest.param("hospital.example", id="no-scheme"),
    ],
)
def test_did_web_from_url_rejects(url: str) -> None:
    with pytest.raises(DIDResolutionError) as info:
        did_web_from_url(url)
    assert info.value.code is ErrorCode.INVALID_DID


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6}){1,2}", fullmatch=True),
    port=st.none() | st.integers(min_value=1, max_value=65535),
    path=st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,8}", fullmatch=True), max_size=3),
)
def test_url_round_trip(host: str, port: int | None, path: list[str]) -> None:
    base = f"https://{host}" + (f":{port}" if port else "") + "".join(f"/{p}" for p in path)
    did = did_web_from_url(base)
    suffix = "/did.json" if path else "/.well-known/did.json"
    assert did_web_to_url(did) == base + suffix


# --- the hospital's document --------------------------------------------------------------------


def test_build_document_keeps_rotated_key() -> None:
    current, retiring = _ed25519(), _ed25519()
    agreement = bytes(PrivateKey.generate().public_key)
    document = build_did_web_document(
        DID,
        [
            (KeyType.ED25519_PUB, current),
            (KeyType.ED25519_PUB, retiring),
            (KeyType.X25519_PUB, agreement),
        ],
    )
    ids = [f"{DID}#{encode_multikey(KeyType.ED25519_PUB, k)}" for k in (current, retiring)]
    x_id = f"{DID}#{encode_multikey(KeyType.X25519_PUB, agreement)}"
    assert [vm["id"] for vm in document["verificationMethod"]] == [*ids, x_id]
    assert document["assertionMethod"] == ids
    assert document["authentication"] == ids
    assert document["keyAgreement"] == [x_id]
    assert {vm["type"] for vm in document["verificationMethod"]} == {"Multikey"}
    assert parse_document(document).serialize() == document


def test_build_document_rejects_duplicates_and_private_keys() -> None:
    key = _ed25519()
    with pytest.raises(KeyMaterialError):
        build_did_web_document(DID, [(KeyType.ED25519_PUB, key), (KeyType.ED25519_PUB, key)])
    with pytest.raises(KeyMaterialError) as info:
        build_did_web_document(DID, [(KeyType.ED25519_PRIV, key)])
    assert info.value.code is ErrorCode.UNSUPPORTED_KEY_TYPE


# --- fetching with MockTransport ----------------------------------------------------------------


def _client(handler: Callable[[httpx.Request], Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _json(body: Any, content_type: str = "application/did+json") -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body), headers={"content-type": content_type})


async def test_resolves_and_checks_request() -> None:
    document = _document()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(document, "application/did+json; charset=utf-8")

    async with _client(handler) as client:
        resolved = await resolve_did_web(DID, client)
    assert resolved.serialize() == document
    assert str(seen[0].url) == URL
    assert "application/did+json" in seen[0].headers["accept"]


def _slow_body() -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"{"
        await asyncio.sleep(5)
        yield b"}"

    return httpx.Response(200, content=body(), headers={"content-type": "application/json"})


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "error", "code"),
    [
        pytest.param(
            lambda r: httpx.Response(404), DIDResolutionError, ErrorCode.NOT_FOUND, id="404"
        ),
        pytest.param(
            lambda r: httpx.Response(410), DIDResolutionError, ErrorCode.NOT_FOUND, id="410"
        ),
        pytest.param(
            lambda r: httpx.Response(500), DIDResolutionError, ErrorCode.NOT_FOUND, id="500"
        ),
        pytest.param(
            lambda r: httpx.Response(302, headers={"location": "https://evil.example/did.json"}),
            DIDResolutionError,
            ErrorCode.NOT_FOUND,
            id="redirect-not-followed",
        ),
        pytest.param(
            _raise(httpx.ConnectError("refused")),
            DIDResolutionError,
            ErrorCode.NOT_FOUND,
            id="connect-error",
        ),
        pytest.param(
            _raise(httpx.ReadTimeout("slow")),
            DIDResolutionError,
            ErrorCode.RESOLUTION_TIMEOUT,
            id="httpx-timeout",
        ),
        pytest.param(
            lambda r: _slow_body(),
            DIDResolutionError,
            ErrorCode.RESOLUTION_TIMEOUT,
            id="slow-body",
        ),
        pytest.param(
            lambda r: _json(_document(), "text/html"),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="content-type",
        ),
        pytest.param(
            lambda r: httpx.Response(
                200, content=b"x" * 300_000, headers={"content-type": "application/json"}
            ),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="too-large-declared",
        ),
        pytest.param(
            lambda r: httpx.Response(
                200, content=b"{not json", headers={"content-type": "application/json"}
            ),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="not-json",
        ),
        pytest.param(
            lambda r: _json([_document()]),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="json-array",
        ),
        pytest.param(
            # Regression: json.loads raised RecursionError on this (a 200 KB body).
            lambda r: httpx.Response(
                200,
                content=b"[" * 100_000 + b"]" * 100_000,
                headers={"content-type": "application/did+json"},
            ),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="deeply-nested",
        ),
        pytest.param(
            lambda r: httpx.Response(
                200,
                content=b'{"id": "did:web:hospital.example", "id": "did:web:hospital.example"}',
                headers={"content-type": "application/did+json"},
            ),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="duplicate-member",
        ),
        pytest.param(
            lambda r: _json(_document("did:web:other.example")),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="id-mismatch",
        ),
        pytest.param(
            lambda r: _json({**_document(), "verificationMethod": "nope"}),
            DIDDocumentError,
            ErrorCode.INVALID_DID_DOCUMENT,
            id="not-did-core",
        ),
    ],
)
async def test_fetch_errors(
    handler: Callable[[httpx.Request], httpx.Response], error: type[Exception], code: ErrorCode
) -> None:
    async with _client(handler) as client:
        with pytest.raises(error) as info:
            await resolve_did_web(DID, client, time_limit=0.2)
    assert getattr(info.value, "code", None) is code


def _chunked(document: dict[str, Any]) -> httpx.Response:
    """The document streamed in 1 KiB chunks, without a Content-Length header."""
    data = json.dumps(document).encode()

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1024):
            yield data[start : start + 1024]

    return httpx.Response(200, content=body(), headers={"content-type": "application/json"})


async def test_size_limit_applies_while_streaming() -> None:
    large = {**_document(), "padding": "a" * 300_000}  # valid, but larger than 256 KiB
    async with _client(lambda r: _chunked(large)) as client:
        with pytest.raises(DIDDocumentError) as info:
            await resolve_did_web(DID, client)
        assert info.value.details["limit"] == 256 * 1024
        resolved = await resolve_did_web(DID, client, max_bytes=400_000)
    assert str(resolved.id) == DID


# --- fetching from a real server ----------------------------------------------------------------


@pytest.fixture
def did_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A uvicorn server on 127.0.0.1 (free port) serving a did.json, run in a thread."""
    served: dict[str, Any] = {}

    async def did_json(request: Request) -> Response:
        return JSONResponse(served, media_type="application/did+json")

    app = Starlette(routes=[Route("/.well-known/did.json", did_json)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    did = f"did:web:127.0.0.1%3A{port}"
    served.update(_document(did))
    try:
        yield did, served
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def test_resolves_from_real_server(did_server: tuple[str, dict[str, Any]]) -> None:
    did, served = did_server
    async with httpx.AsyncClient() as client:
        document = await resolve_did_web(did, client, insecure_http_hosts={"127.0.0.1"})
    assert document.serialize() == served
    assert str(document.id) == did
