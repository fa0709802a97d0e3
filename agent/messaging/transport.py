"""DIDComm over HTTP: outbound delivery with retries, an inbound endpoint, idempotency.

DIDComm Messaging v2, section "Transports" / HTTP(S): a message is POSTed with the envelope's
media type as ``Content-Type`` (``application/didcomm-encrypted+json`` for what we send); the
receiver answers ``202 Accepted`` and processes the message asynchronously of the sender.

- :func:`deliver` POSTs through an injected ``httpx.AsyncClient``, retrying connection errors,
  ``429`` and ``5xx`` with exponential backoff and jitter, never a ``4xx`` (the receiver refused
  the message; sending it again would not help).
- :func:`inbound_router` is the FastAPI endpoint every agent service mounts. It refuses wrong
  media types (415) and bodies over the size limit (413) before reading them whole, and hands
  the bytes to the agent's handler; a handler's :class:`~agent.errors.HealthMyDataError`
  becomes a 400 with the code, never a 500 or a traceback.
- :class:`SeenMessages` records message ids in the agent's store so that a redelivered message
  (a retry after a lost ``202``, or a replay) has no second effect.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from agent.errors import ErrorCode, HealthMyDataError, MessagingError, StorageError
from agent.storage import Store

__all__ = [
    "ENCRYPTED_MEDIA_TYPE",
    "MAX_MESSAGE_BYTES",
    "PLAIN_MEDIA_TYPE",
    "SIGNED_MEDIA_TYPE",
    "SeenMessages",
    "deliver",
    "inbound_router",
]

log = logging.getLogger(__name__)

ENCRYPTED_MEDIA_TYPE = "application/didcomm-encrypted+json"
SIGNED_MEDIA_TYPE = "application/didcomm-signed+json"
PLAIN_MEDIA_TYPE = "application/didcomm-plain+json"
#: Envelopes larger than this are refused on both sides (credentials with FHIR bundles fit).
MAX_MESSAGE_BYTES = 2 * 1024 * 1024

Sleep = Callable[[float], Awaitable[None]]


async def deliver(
    envelope: bytes,
    endpoint: str,
    *,
    client: httpx.AsyncClient,
    attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> int:
    """POST an encrypted envelope to ``endpoint``; returns the number of attempts it took.

    :raises MessagingError: ``inputTooLarge`` over :data:`MAX_MESSAGE_BYTES`;
        ``didcommDeliveryFailed`` when the receiver refuses it (4xx) or every attempt failed.
    """
    if len(envelope) > MAX_MESSAGE_BYTES:
        raise MessagingError(
            f"envelope is {len(envelope)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit",
            code=ErrorCode.INPUT_TOO_LARGE,
        )
    jitter = rng or random.SystemRandom()
    last = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            response = await client.post(
                endpoint, content=envelope, headers={"Content-Type": ENCRYPTED_MEDIA_TYPE}
            )
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__} on attempt {attempt}"
        else:
            if response.status_code < 300:
                return attempt
            if response.status_code != 429 and response.status_code < 500:
                raise MessagingError(
                    f"the receiver at {endpoint} refused the message with HTTP "
                    f"{response.status_code}; not retried",
                    code=ErrorCode.DIDCOMM_DELIVERY_FAILED,
                    details={"status": response.status_code, "endpoint": endpoint},
                )
            last = f"HTTP {response.status_code} on attempt {attempt}"
        if attempt < attempts:
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            await sleep(delay * (0.5 + jitter.random() / 2))
    raise MessagingError(
        f"could not deliver to {endpoint} after {attempts} attempts ({last}); the receiver is "
        "down or unreachable: try again later",
        code=ErrorCode.DIDCOMM_DELIVERY_FAILED,
        details={"endpoint": endpoint, "attempts": attempts},
    )


InboundHandler = Callable[[bytes, str], Awaitable[None]]


def inbound_router(
    handler: InboundHandler, *, path: str = "/didcomm", max_bytes: int = MAX_MESSAGE_BYTES
) -> APIRouter:
    """The DIDComm inbound endpoint: ``POST {path}`` with an envelope, answered ``202``.

    ``handler(body, media_type)`` unpacks and processes the message; it raises
    :class:`HealthMyDataError` for anything wrong with it, which becomes a 400 with the code.
    Plaintext over HTTP is refused: agents exchange encrypted (or at least signed) messages.
    """
    router = APIRouter(tags=["didcomm"])
    accepted = {ENCRYPTED_MEDIA_TYPE, SIGNED_MEDIA_TYPE}

    @router.post(
        path,
        status_code=202,
        summary="Receive a DIDComm v2 message",
        responses={
            400: {"description": "The envelope does not unpack or the message is refused"},
            413: {"description": "The envelope is over the size limit"},
            415: {"description": "Not a DIDComm encrypted or signed envelope"},
        },
    )
    async def receive(request: Request) -> Response:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in accepted:
            return JSONResponse(
                {"code": "unsupportedMediaType", "message": f"send one of {sorted(accepted)}"},
                status_code=415,
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return _too_large(max_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                return _too_large(max_bytes)
        try:
            await handler(bytes(body), media_type)
        except HealthMyDataError as exc:
            log.info("refused inbound DIDComm message: %s", exc.code)
            return JSONResponse(exc.to_dict(), status_code=400)
        except Exception:
            # A bug, not the sender's fault: log it here, tell the sender nothing about it.
            log.exception("failed to process an inbound DIDComm message")
            return JSONResponse(
                {"code": "internalError", "message": "the message could not be processed"},
                status_code=500,
            )
        return Response(status_code=202)

    return router


def _too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse(
        {
            "code": str(ErrorCode.INPUT_TOO_LARGE),
            "message": f"envelopes are limited to {max_bytes} bytes",
        },
        status_code=413,
    )


class SeenMessages:
    """Message ids already processed, kept in the agent's store (category ``didcomm-seen``).

    ``first_time`` inserts the id in its own transaction; askar refuses a duplicate insert, also
    between replicas on one PostgreSQL, so exactly one caller sees ``True`` for an id.
    """

    CATEGORY = "didcomm-seen"

    def __init__(self, store: Store, *, retention_ms: int = 30 * 24 * 3600 * 1000) -> None:
        self._store = store
        self._retention_ms = retention_ms

    async def first_time(self, message_id: str, sender: str | None = None) -> bool:
        """True the first time ``message_id`` (from ``sender``) is seen, False afterwards."""
        name = f"{sender or '-'}|{message_id}"
        try:
            async with self._store.transaction() as txn:
                await txn.insert(self.CATEGORY, name, b"", expiry_ms=self._retention_ms)
                await txn.commit()
        except StorageError as exc:
            if exc.code is ErrorCode.STORE_DUPLICATE:
                return False
            raise
        return True

    async def forget(self, message_id: str, sender: str | None = None) -> None:
        """Allow ``message_id`` again (after its processing failed and was rolled back)."""
        try:
            async with self._store.session() as session:
                await session.remove(self.CATEGORY, f"{sender or '-'}|{message_id}")
        except StorageError as exc:
            if exc.code is not ErrorCode.STORE_RECORD_NOT_FOUND:
                raise
