"""The verifier's trust data from the operator: the service's refresh, and offline caches.

* ``mydata serve verifier --operator DID --operator-url URL`` fetches the operator's trust list
  and the accreditations it names at start-up and keeps them fresh in the background
  (:class:`agent.trustsync.TrustSync`: refreshed before ``max-age`` runs out; the last good data
  stays in use, with its age in every report's ``trust`` check, when the operator is down).
  :func:`trust_router` adds ``GET /admin/trust`` (sources, fetched at, age, last error) and
  ``POST /admin/trust/refresh`` (refresh now; 200 with the status, or 502 ``trustStale`` with the
  status when the operator could not be used).
* ``mydata er sync`` (:func:`sync_caches`, :func:`write_caches`) writes, while online, the
  offline cache that ``mydata er scan --cache`` and ``mydata insurer verify --cache`` use
  (:func:`offline_cache`, :mod:`verifier.offline`'s format), and/or the trust cache
  ``mydata serve verifier --trust-cache`` loads (:meth:`TrustRegistry.save`).

The offline cache holds the issuers' DID documents, Status List Tokens, the trust list, the
accreditation credentials (those the trust list names and each issuer's own, from its
``/accreditation``) and the operator's Bitstring Status Lists they carry entries in. Offline,
an accreditation is checked against its status as of the sync (a suspension after it is not
seen; every decision says how old the data is), and an issuer whose accreditation was suspended
or revoked before the sync is refused with that reason, although the operator's trust list no
longer names it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import parse_json_object
from agent.status import StatusChecker
from agent.trustsync import (
    LOOPBACK_HOSTS,
    OperatorSource,
    TrustSync,
    checked_url,
    fetch_json,
    fetch_trust,
)
from verifier.offline import export_offline_cache, fetch_status_lists
from verifier.sdjwt import TokenStatusCache, http_token_fetcher
from verifier.trust import TrustRegistry

__all__ = ["fetch_registry", "offline_cache", "sync_caches", "trust_router", "write_caches"]


def trust_router() -> APIRouter:
    """``GET /admin/trust`` and ``POST /admin/trust/refresh`` over ``app.state.trust_sync``
    (404 ``notFound`` when the service fetches from no operator)."""
    router = APIRouter(prefix="/admin/trust", tags=["trust"])

    def _sync(request: Request) -> TrustSync:
        sync: TrustSync | None = getattr(request.app.state, "trust_sync", None)
        if sync is None:
            raise HealthMyDataError(
                "this service fetches from no operator (start it with --operator-url)",
                code=ErrorCode.NOT_FOUND,
            )
        return sync

    @router.get("", responses={404: {"description": "The service fetches from no operator"}})
    async def status(request: Request) -> dict[str, Any]:
        """Where the trust data comes from, when it was fetched, how old it is."""
        return _sync(request).status()

    @router.post(
        "/refresh",
        responses={
            404: {"description": "The service fetches from no operator"},
            502: {"description": "trustStale: the operator could not be used; last good data kept"},
        },
    )
    async def refresh(request: Request) -> JSONResponse:
        """Refresh now; the last good data stays in use when this fails."""
        sync = _sync(request)
        ok = await sync.refresh()
        body = sync.status()
        if not ok:
            body = {"code": "trustStale", "message": str(sync.last_error), "status": body}
        return JSONResponse(body, status_code=200 if ok else 502)

    return router


async def fetch_registry(
    http: httpx.AsyncClient,
    sources: Sequence[OperatorSource],
    *,
    accreditations: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> TrustRegistry:
    """A registry of the ``sources``' operators, loaded from their services (see
    :func:`agent.trustsync.fetch_trust` for what is fetched and the errors)."""
    resolver = DIDResolver(http_client=http, insecure_http_hosts=insecure_http_hosts)
    registry = TrustRegistry(
        {s.did for s in sources},
        resolver,
        StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts),
    )
    for source in sources:
        if source.url:
            await fetch_trust(
                http,
                registry,
                source.url,
                accreditations=accreditations,
                insecure_http_hosts=insecure_http_hosts,
            )
    return registry


async def offline_cache(
    http: httpx.AsyncClient,
    *,
    trust: TrustRegistry | None,
    issuers: Sequence[str] = (),
    status_lists: Sequence[str] = (),
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> dict[str, Any]:
    """The offline cache: each issuer service's DID document (``/.well-known/did.json``) and
    accreditation (``/accreditation``, added to ``trust``; an issuer without one, 404, is
    skipped), each Status List Token, ``trust``, and the Bitstring Status Lists of its
    accreditations.

    :raises agent.errors.InvalidInputError: something cannot be fetched.
    :raises agent.errors.StatusError: a token is not a Status List Token; an accreditation's
        status list cannot be fetched or does not verify.
    :raises agent.errors.CredentialError: an issuer's accreditation is not signed by a trusted
        operator.
    """
    documents = [
        await fetch_json(
            http,
            f"{checked_url(url, insecure_http_hosts)}/.well-known/did.json",
            "a DID document",
        )
        for url in issuers
    ]
    tokens = TokenStatusCache(http_token_fetcher(http, insecure_http_hosts=insecure_http_hosts))
    for uri in status_lists:
        await tokens.get(checked_url(uri, insecure_http_hosts))
    lists: dict[str, dict[str, Any]] = {}
    if trust is not None:
        for url in issuers:
            accreditation = await _accreditation_of(http, url, insecure_http_hosts)
            if accreditation is not None:
                await trust.add_accreditation(accreditation)
        lists = await fetch_status_lists(
            http,
            [item["document"] for item in trust.export()["accreditations"]],
            resolver=DIDResolver(http_client=http, insecure_http_hosts=insecure_http_hosts),
            insecure_http_hosts=insecure_http_hosts,
        )
    return export_offline_cache(
        did_documents=documents, token_status=tokens, trust=trust, status_lists=lists
    )


async def _accreditation_of(
    http: httpx.AsyncClient, issuer_url: str, insecure_http_hosts: frozenset[str]
) -> dict[str, Any] | None:
    """The accreditation an issuer service publishes, ``None`` when it has none (404)."""
    url = f"{checked_url(issuer_url, insecure_http_hosts)}/accreditation"
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        raise InvalidInputError(
            f"cannot fetch an accreditation from {url}: {type(exc).__name__}",
            code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        ) from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise InvalidInputError(
            f"cannot fetch an accreditation from {url}: HTTP {response.status_code}",
            code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        )
    return parse_json_object(response.content)


async def sync_caches(
    http: httpx.AsyncClient,
    sources: Sequence[OperatorSource],
    *,
    issuers: Sequence[str] = (),
    status_lists: Sequence[str] = (),
    offline: bool = True,
    trust_cache: bool = False,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(offline cache, trust cache)`` as JSON, each only when asked for.

    :param issuers: issuer service URLs: their DID documents and accreditations go in the
        offline cache (see :func:`offline_cache`).
    :param status_lists: Status List Token URLs for the offline cache.
    :raises agent.errors.InvalidInputError: something cannot be fetched.
    :raises agent.errors.CredentialError: the trust data is not signed by the operators.
    :raises agent.errors.StatusError: see :func:`offline_cache`.
    """
    offline_export = trust_export = None
    if trust_cache:
        trust_export = (
            await fetch_registry(http, sources, insecure_http_hosts=insecure_http_hosts)
        ).export()
    if offline:
        offline_export = await offline_cache(
            http,
            trust=await fetch_registry(http, sources, insecure_http_hosts=insecure_http_hosts),
            issuers=issuers,
            status_lists=status_lists,
            insecure_http_hosts=insecure_http_hosts,
        )
    return offline_export, trust_export


async def write_caches(
    sources: Sequence[OperatorSource],
    *,
    out: Path | None,
    trust_out: Path | None,
    issuers: Sequence[str] = (),
    status_lists: Sequence[str] = (),
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> list[tuple[str, str]]:
    """What ``mydata er sync`` does: :func:`sync_caches`, then the offline cache to ``out``
    and the trust cache to ``trust_out`` (nothing is written when a fetch fails).

    :returns: ``(file, what it holds)`` for each file written.
    :raises: as :func:`sync_caches`.
    """
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        offline, trust = await sync_caches(
            http,
            sources,
            issuers=issuers,
            status_lists=status_lists,
            offline=out is not None,
            trust_cache=trust_out is not None,
            insecure_http_hosts=insecure_http_hosts,
        )
    done: list[tuple[str, str]] = []
    if out is not None and offline is not None:
        await asyncio.to_thread(out.write_text, json.dumps(offline, indent=1), encoding="utf-8")
        entries = sum(
            len(t["document"]["credentialSubject"]["trustListEntry"])
            for t in (offline.get("trust") or {}).get("trustLists", [])
        )
        done.append(
            (
                str(out),
                f"trust list ({entries} entries), "
                f"{len((offline.get('trust') or {}).get('accreditations', []))} "
                f"accreditation(s), {len(offline['didDocuments'])} DID document(s), "
                f"{len(offline['statusTokens'])} status list token(s), "
                f"{len(offline['statusLists'])} accreditation status list(s)",
            )
        )
    if trust_out is not None and trust is not None:
        await asyncio.to_thread(trust_out.write_text, json.dumps(trust, indent=1), encoding="utf-8")
        done.append(
            (str(trust_out), f"trust list and {len(trust['accreditations'])} accreditation(s)")
        )
    return done
