"""Publishing signed documents over HTTP: re-signing cache and ``ETag``/304 answers.

An issuer serves its status lists (and the operator its trust list) as signed credentials.
Signing on every fetch would cost a signature per verifier request, so a :class:`SignedCache`
keeps the last signed body per document and signs again only when the document's version
changes or the signature is older than :data:`RESIGN_AFTER`. :func:`cached_response` answers a
matching ``If-None-Match`` with 304 and no body. :func:`status_list_router` is the whole
``GET /status-lists/{list_id}`` route of a party that publishes Bitstring Status Lists (a
:class:`ListPublisher`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request, Response

from agent.clock import Clock
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.status.allocator import StatusListAllocator

__all__ = [
    "PUBLISHED_PURPOSES",
    "RESIGN_AFTER",
    "ListPublisher",
    "SignedCache",
    "cached_response",
    "find_list",
    "status_list_response",
    "status_list_router",
]

#: The purposes a published list may have; a list id names a list of one of them.
PUBLISHED_PURPOSES = ("revocation", "suspension")
#: A cached signature older than this is replaced even when the document has not changed.
RESIGN_AFTER = timedelta(hours=12)

_T = TypeVar("_T")


@dataclass
class _Signed:
    version: str
    body: bytes
    signed_at: datetime


class SignedCache:
    """The last signed body of each published document, keyed by the caller's names."""

    def __init__(self, clock: Clock, *, resign_after: timedelta = RESIGN_AFTER) -> None:
        self._clock = clock
        self._resign_after = resign_after
        self._entries: dict[str, _Signed] = {}

    async def body(
        self, key: str, version: str, sign: Callable[[], Awaitable[Mapping[str, Any]]]
    ) -> bytes:
        """The JSON body of ``key`` at ``version``: the cached one while it is that version and
        younger than the re-sign interval, else ``await sign()``, serialised and cached."""
        entry = self._entries.get(key)
        now = self._clock()
        if entry is None or entry.version != version or now - entry.signed_at > self._resign_after:
            entry = _Signed(version, json.dumps(await sign()).encode(), now)
            self._entries[key] = entry
        return entry.body


def cached_response(request: Request, body: bytes, media_type: str, cache_control: str) -> Response:
    """``body`` with ``Cache-Control`` and a strong ``ETag`` (a SHA-256 prefix of the body);
    304 with the same headers and no body when the request's ``If-None-Match`` is that tag."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def find_list(list_id: str, fetch: Callable[[str], Awaitable[_T]]) -> tuple[str, _T]:
    """``(purpose, await fetch(purpose))`` for the purpose list ``list_id`` has.

    ``fetch`` raises :class:`~agent.errors.InvalidInputError` for a list of another purpose
    and :class:`~agent.errors.StorageError` ``STORE_RECORD_NOT_FOUND`` for no list at all.

    :raises agent.errors.InvalidInputError: ``NOT_FOUND``, no list with that id.
    """
    for purpose in PUBLISHED_PURPOSES:
        try:
            return purpose, await fetch(purpose)
        except InvalidInputError:
            continue  # a list of the other purpose
        except StorageError as exc:
            if exc.code is ErrorCode.STORE_RECORD_NOT_FOUND:
                break
            raise
    raise InvalidInputError("no status list with that id", code=ErrorCode.NOT_FOUND)


async def status_list_response(
    request: Request,
    list_id: str,
    *,
    allocator: StatusListAllocator,
    sign: Callable[[str, str], Awaitable[Mapping[str, Any]]],
    cache: SignedCache,
    cache_control: str,
) -> Response:
    """The signed BitstringStatusListCredential of ``list_id``, as :func:`cached_response`.

    :param sign: ``sign(list_id, purpose)``, the party's signed list credential; called only
        when the list changed since the cached signature or that signature is too old.
    :raises agent.errors.InvalidInputError: ``NOT_FOUND``, no list with that id.
    """
    purpose, encoded = await find_list(list_id, lambda p: allocator.encoded(list_id, p))
    body = await cache.body(f"status:{list_id}", encoded.etag, lambda: sign(list_id, purpose))
    return cached_response(request, body, "application/vc+ld+json", cache_control)


class ListPublisher(Protocol):
    """A party that publishes status lists: its allocator and its signer of list credentials."""

    status: StatusListAllocator

    async def status_list_credential(self, list_id: str, purpose: str) -> Mapping[str, Any]:
        """The signed BitstringStatusListCredential of one of its lists."""
        ...


def status_list_router(
    publisher: Callable[[Request], ListPublisher],
    *,
    cache: Callable[[Request], SignedCache],
    cache_control: Callable[[Request], str],
) -> APIRouter:
    """The ``GET /status-lists/{list_id}`` route (:func:`status_list_response`), for the party,
    signature cache and ``Cache-Control`` value each callable finds for the request."""
    router = APIRouter()

    @router.get(
        "/status-lists/{list_id}",
        tags=["status"],
        summary="A signed BitstringStatusListCredential",
        responses={304: {"description": "Not modified (If-None-Match)"}, 404: {}},
    )
    async def status_list(request: Request, list_id: str) -> Response:
        party = publisher(request)
        return await status_list_response(
            request,
            list_id,
            allocator=party.status,
            sign=party.status_list_credential,
            cache=cache(request),
            cache_control=cache_control(request),
        )

    return router
