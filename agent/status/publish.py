"""Publishing signed documents over HTTP: re-signing cache and ``ETag``/304 answers.

An issuer serves its status lists (and the operator its trust list) as signed credentials.
Signing on every fetch would cost a signature per verifier request, so a :class:`SignedCache`
keeps the last signed body per document and signs again only when the document's version
changes, the signature is older than :data:`RESIGN_AFTER`, or (when the caller names the key
that signs now) its proof was made by another key. :func:`cached_response` answers a matching
``If-None-Match`` with 304 and no body. :func:`status_list_router` is the whole
``GET /status-lists/{list_id}`` route of a party that publishes Bitstring Status Lists (a
:class:`ListPublisher`).

A party whose signing key can change while it serves (a hospital: ``mydata hospital
rotate-key``, then ``retire-key``, possibly from another process or replica) offers
``active_signer()`` (:class:`RotatingPublisher`). The route then reads the active key on every
request, alongside the list itself, and serves a cached list only if that key signed it: after
a rotation the next request signs the list again with the new key, and a list signed by a key
that has since been retired is never served, since a retired key is never the active one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request, Response

from agent.clock import Clock
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.keys.signer import Signer
from agent.status.allocator import StatusListAllocator

__all__ = [
    "PUBLISHED_PURPOSES",
    "RESIGN_AFTER",
    "ListPublisher",
    "RotatingPublisher",
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
    # The verification methods the body's proofs name (empty when it has none).
    signed_by: frozenset[str]


def _proof_methods(document: Mapping[str, Any]) -> frozenset[str]:
    """The ``verificationMethod`` of each Data Integrity proof on ``document``."""
    proof = document.get("proof")
    proofs = proof if isinstance(proof, list) else [proof]
    return frozenset(
        str(p["verificationMethod"])
        for p in proofs
        if isinstance(p, Mapping) and "verificationMethod" in p
    )


class SignedCache:
    """The last signed body of each published document, keyed by the caller's names."""

    def __init__(self, clock: Clock, *, resign_after: timedelta = RESIGN_AFTER) -> None:
        self._clock = clock
        self._resign_after = resign_after
        self._entries: dict[str, _Signed] = {}

    async def body(
        self,
        key: str,
        version: str,
        sign: Callable[[], Awaitable[Mapping[str, Any]]],
        *,
        signed_by: str | None = None,
    ) -> bytes:
        """The JSON body of ``key`` at ``version``: the cached one while it is that version,
        younger than the re-sign interval and (with ``signed_by``) signed by that key alone,
        else ``await sign()``, serialised and cached.

        :param signed_by: the verification method (DID URL) that signs now, for a party whose
            key can change: a cached body whose proof names another key (a rotated-out or
            retired one), or no key, is signed again.
        """
        entry = self._entries.get(key)
        now = self._clock()
        if (
            entry is None
            or entry.version != version
            or now - entry.signed_at > self._resign_after
            or (signed_by is not None and entry.signed_by != {signed_by})
        ):
            document = await sign()
            entry = _Signed(version, json.dumps(document).encode(), now, _proof_methods(document))
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
    active_signer: Callable[[], Awaitable[Signer]] | None = None,
) -> Response:
    """The signed BitstringStatusListCredential of ``list_id``, as :func:`cached_response`.

    :param sign: ``sign(list_id, purpose)``, the party's signed list credential; called only
        when the list changed since the cached signature, that signature is too old, or (with
        ``active_signer``) it was made by another key than the active one.
    :param active_signer: the party's signer of the moment, for a party whose key can change
        (:class:`RotatingPublisher`); read on every request, together with the list, so that
        a rotation done anywhere (another process, another replica) is seen at once.
    :raises agent.errors.InvalidInputError: ``NOT_FOUND``, no list with that id.
    """
    found = find_list(list_id, lambda p: allocator.encoded(list_id, p))
    signed_by: str | None = None
    if active_signer is None:
        purpose, encoded = await found
    else:
        # The key is read alongside the list, not after it (two store reads at once).
        (purpose, encoded), signer = await asyncio.gather(found, active_signer())
        signed_by = signer.verification_method
    body = await cache.body(
        f"status:{list_id}", encoded.etag, lambda: sign(list_id, purpose), signed_by=signed_by
    )
    return cached_response(request, body, "application/vc+ld+json", cache_control)


class ListPublisher(Protocol):
    """A party that publishes status lists: its allocator and its signer of list credentials."""

    status: StatusListAllocator

    async def status_list_credential(self, list_id: str, purpose: str) -> Mapping[str, Any]:
        """The signed BitstringStatusListCredential of one of its lists."""
        ...


class RotatingPublisher(ListPublisher, Protocol):
    """A :class:`ListPublisher` whose signing key can change while it serves (a hospital).

    :func:`status_list_router` finds ``active_signer`` on the party by name and passes it to
    :func:`status_list_response`: a party without one (the operator, whose key never changes)
    has its lists checked by version and age only.
    """

    async def active_signer(self) -> Signer:
        """The signer of the moment, the one :meth:`status_list_credential` signs with; cheap
        enough to call on every request (the hospital's shares a store read between calls in
        flight)."""
        ...


def status_list_router(
    publisher: Callable[[Request], ListPublisher],
    *,
    cache: Callable[[Request], SignedCache],
    cache_control: Callable[[Request], str],
) -> APIRouter:
    """The ``GET /status-lists/{list_id}`` route (:func:`status_list_response`), for the party,
    signature cache and ``Cache-Control`` value each callable finds for the request. A party
    with ``active_signer`` (:class:`RotatingPublisher`) has every served list signed by its
    active key."""
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
            active_signer=getattr(party, "active_signer", None),
        )

    return router
