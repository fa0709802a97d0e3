"""HTTP transport (retries, limits, idempotency) and out-of-band invitations."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from agent.errors import ErrorCode, HealthMyDataError, MessagingError
from agent.messaging.oob import Invitation, invitation_qr, parse_invitation_url
from agent.messaging.transport import (
    ENCRYPTED_MEDIA_TYPE,
    SeenMessages,
    deliver,
    inbound_router,
)
from agent.storage import generate_raw_key, open_store

SENDER = "did:peer:2.Vz6MkkQDTzDxdzeve8KNaiVHd12b3p3tZj1wFgAWULZqffrsN"


def _client(statuses: list[int], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses.pop(0)
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def _no_sleep(_: float) -> None:
    return None


async def test_deliver_retries_transient_failures_then_succeeds() -> None:
    seen: list[httpx.Request] = []
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    async with _client([0, 503, 429, 202], seen) as client:
        attempts = await deliver(
            b"{}", "http://agent.test/didcomm", client=client, sleep=sleep, rng=random.Random(1)
        )
    assert attempts == 4
    assert [r.headers["content-type"] for r in seen] == [ENCRYPTED_MEDIA_TYPE] * 4
    assert len(delays) == 3
    assert delays[0] < delays[1] < delays[2]  # exponential backoff


async def test_deliver_does_not_retry_a_refusal() -> None:
    seen: list[httpx.Request] = []
    async with _client([400, 202], seen) as client:
        with pytest.raises(MessagingError) as info:
            await deliver(b"{}", "http://agent.test/didcomm", client=client, sleep=_no_sleep)
    assert info.value.code is ErrorCode.DIDCOMM_DELIVERY_FAILED
    assert len(seen) == 1


async def test_deliver_gives_up_after_its_attempts() -> None:
    seen: list[httpx.Request] = []
    async with _client([500] * 3, seen) as client:
        with pytest.raises(MessagingError, match="after 3 attempts"):
            await deliver(b"{}", "http://x.test/d", client=client, attempts=3, sleep=_no_sleep)
    assert len(seen) == 3


async def test_deliver_refuses_an_oversized_envelope() -> None:
    async with _client([202], []) as client:
        with pytest.raises(MessagingError) as info:
            await deliver(b"x" * (3 * 1024 * 1024), "http://x.test/d", client=client)
    assert info.value.code is ErrorCode.INPUT_TOO_LARGE


async def _app_client(received: list[bytes], *, fail: bool = False) -> httpx.AsyncClient:
    async def handler(body: bytes, media_type: str) -> None:
        if fail:
            raise MessagingError("does not decrypt", code=ErrorCode.DIDCOMM_DECRYPT_FAILED)
        received.append(body)

    app = FastAPI()
    app.include_router(inbound_router(handler, max_bytes=1000))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent.test")


async def test_inbound_accepts_an_envelope_with_202() -> None:
    received: list[bytes] = []
    async with await _app_client(received) as client:
        response = await client.post(
            "/didcomm", content=b'{"protected":"x"}', headers={"content-type": ENCRYPTED_MEDIA_TYPE}
        )
    assert response.status_code == 202
    assert received == [b'{"protected":"x"}']


@pytest.mark.parametrize(
    ("content_type", "size", "status"),
    [
        pytest.param("application/json", 10, 415, id="wrong-media-type"),
        pytest.param("application/didcomm-plain+json", 10, 415, id="plaintext-refused"),
        pytest.param(ENCRYPTED_MEDIA_TYPE, 5000, 413, id="too-large"),
    ],
)
async def test_inbound_refuses_before_processing(content_type: str, size: int, status: int) -> None:
    received: list[bytes] = []
    async with await _app_client(received) as client:
        response = await client.post(
            "/didcomm", content=b"x" * size, headers={"content-type": content_type}
        )
    assert response.status_code == status
    assert received == []


async def test_inbound_handler_error_is_a_400_with_the_code() -> None:
    async with await _app_client([], fail=True) as client:
        response = await client.post(
            "/didcomm", content=b"{}", headers={"content-type": ENCRYPTED_MEDIA_TYPE}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "didcommDecryptFailed"


async def test_seen_messages_is_first_time_once(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "s.sqlite", raw_key=generate_raw_key())
    try:
        seen = SeenMessages(store)
        assert await seen.first_time("m-1", SENDER) is True
        assert await seen.first_time("m-1", SENDER) is False
        assert await seen.first_time("m-1", "did:example:other") is True
        await seen.forget("m-1", SENDER)
        assert await seen.first_time("m-1", SENDER) is True
        await seen.forget("never-seen")  # no error
    finally:
        await store.close()


async def test_seen_messages_survives_a_restart(tmp_path: Path) -> None:
    key = generate_raw_key()
    store = await open_store(tmp_path / "s.sqlite", raw_key=key)
    assert await SeenMessages(store).first_time("m-2") is True
    await store.close()
    store = await open_store(tmp_path / "s.sqlite", raw_key=key)
    try:
        assert await SeenMessages(store).first_time("m-2") is False
    finally:
        await store.close()


def test_invitation_url_round_trip_and_qr() -> None:
    invitation = Invitation(sender=SENDER, goal_code="issue-vc", goal="Your hospital records")
    url = invitation.to_url("https://hospital.example/invite")
    assert url.startswith("https://hospital.example/invite?_oob=")
    parsed = parse_invitation_url(url)
    assert parsed == invitation
    svg = invitation_qr(url)
    assert isinstance(svg, bytes)
    assert svg.startswith(b"<?xml")
    png = invitation_qr(url, kind="png")
    assert isinstance(png, bytes)
    assert png.startswith(b"\x89PNG")
    assert "█" in str(invitation_qr(url, kind="text")) or "▀" in str(
        invitation_qr(url, kind="text")
    )


def _oob(payload: object) -> str:
    raw = json.dumps(payload).encode()
    return "https://h.example/i?_oob=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://h.example/i", id="no-oob"),
        pytest.param("https://h.example/i?_oob=%%%", id="not-base64"),
        pytest.param("ftp://h.example/i?_oob=e30", id="scheme"),
        pytest.param("https://h.example/i?_oob=e30&_oob=e30", id="two-oob"),
        pytest.param(
            _oob(
                {
                    "id": "1",
                    "type": "https://didcomm.org/trust-ping/2.0/ping",
                    "from": SENDER,
                    "body": {},
                }
            ),
            id="not-an-invitation",
        ),
        pytest.param(
            _oob({"id": "1", "type": "https://didcomm.org/out-of-band/2.0/invitation", "body": {}}),
            id="no-from",
        ),
        pytest.param(
            _oob(
                {
                    "id": "1",
                    "type": "https://didcomm.org/out-of-band/2.0/invitation",
                    "from": SENDER,
                    "body": {"accept": ["didcomm/aip2;env=rfc19"]},
                }
            ),
            id="no-didcomm-v2",
        ),
        pytest.param(_oob([1, 2]), id="array"),
        pytest.param("https://h.example/i?_oob=" + "A" * 9000, id="too-long"),
    ],
)
def test_bad_invitation_urls_are_typed_errors(url: str) -> None:
    with pytest.raises(HealthMyDataError) as info:
        parse_invitation_url(url)
    assert info.value.code is ErrorCode.DIDCOMM_INVALID_INVITATION
