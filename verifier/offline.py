"""An offline cache for the emergency department and the insurer: issuer DID documents,
Status List Tokens, the trust data and the Bitstring Status Lists of its accreditations, in one
JSON file synced while online and used with no network at all.

::

    {"version": 1, "savedAt": "...",
     "didDocuments": [{...did:web document...}],
     "statusTokens": {"<uri>": {"token": "...", "fetchedAt": "..."}},
     "trust": {...TrustRegistry.export()...},
     "statusLists": {"<statusListCredential URL>": {"credential": {...}, "fetchedAt": "..."}}}

``statusLists`` holds the operator's Bitstring Status List credentials that the cached
accreditation credentials name (:func:`fetch_status_lists` fetches them while online), so an
offline verifier can tell whether an accreditation was revoked or suspended *as of the sync*.
A cache without the key (written before it existed) still loads; its accreditations' status
then cannot be established offline.

Everything in it is verified again when used (documents are public keys, tokens, trust lists
and status lists carry signatures), and every age is reported: a cached status list says how
old it is, and an accreditation's decision is as old as the older of the accreditation and its
status lists (the ``trust`` check's ``ageSeconds``). did:key needs no entry (its document is
its name).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from agent.clock import Clock, format_datetime, parse_datetime, utcnow
from agent.credentials.status_list import parse_status_entries
from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StatusError
from agent.jsonio import parse_json_object
from agent.keys.signer import KeyResolver
from agent.status import DEFAULT_MAX_LIST_BYTES, DEFAULT_TIMEOUT, StatusChecker
from verifier.sdjwt import TokenStatusCache
from verifier.trust import TrustRegistry

__all__ = [
    "OfflineVerifier",
    "export_offline_cache",
    "fetch_status_lists",
    "load_offline_cache",
]

_VERSION: Final = 1
_ACCEPT: Final = "application/vc, application/vc+ld+json, application/ld+json, application/json"


@dataclass(frozen=True, slots=True)
class OfflineVerifier:
    """What an offline verification needs, built from a cache file."""

    resolver: DIDResolver
    token_status: TokenStatusCache
    status_checker: StatusChecker
    trust: TrustRegistry | None
    #: when each cached Bitstring Status List was fetched, by URL
    status_lists: Mapping[str, datetime] = field(default_factory=dict)


def export_offline_cache(
    *,
    did_documents: Sequence[Mapping[str, Any]] = (),
    token_status: TokenStatusCache | None = None,
    trust: TrustRegistry | None = None,
    status_lists: Mapping[str, Mapping[str, Any]] | None = None,
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """The cache file's content.

    :param status_lists: Bitstring Status List credentials by URL, each
        ``{"credential", "fetchedAt"}`` (what :func:`fetch_status_lists` returns).
    """
    return {
        "version": _VERSION,
        "savedAt": format_datetime(clock()),
        "didDocuments": [dict(d) for d in did_documents],
        "statusTokens": token_status.export() if token_status is not None else {},
        "trust": trust.export() if trust is not None else None,
        "statusLists": {
            url: {"credential": dict(item["credential"]), "fetchedAt": str(item["fetchedAt"])}
            for url, item in (status_lists or {}).items()
        },
    }


async def fetch_status_lists(
    http: httpx.AsyncClient,
    credentials: Iterable[Mapping[str, Any]],
    *,
    resolver: KeyResolver,
    insecure_http_hosts: Collection[str] = frozenset(),
    clock: Clock = utcnow,
) -> dict[str, dict[str, Any]]:
    """While online: the Bitstring Status List credential each ``credentialStatus`` entry of
    ``credentials`` (accreditation credentials) names, fetched once per URL and checked as an
    offline verifier will check it (proofs, issuer, purpose, length), for
    :func:`export_offline_cache`.

    :param resolver: dereferences the lists' keys (the operator's DID).
    :returns: ``{url: {"credential", "fetchedAt"}}``.
    :raises StatusError: ``STATUS_RETRIEVAL_ERROR`` (not https, unreachable, not 200, not a
        JSON object, too large), ``STATUS_VERIFICATION_ERROR`` and the other errors of
        :meth:`agent.status.StatusChecker.check`.
    """
    chosen = list(credentials)
    hosts = frozenset(insecure_http_hosts)
    fetched: dict[str, dict[str, Any]] = {}
    checker = StatusChecker(None, resolver, offline=True, clock=clock)
    for credential in chosen:
        for entry in parse_status_entries(credential):
            url = entry.list_url
            if url in fetched:
                continue
            document = await _get_list(http, url, hosts)
            at = clock()
            await checker.seed(url, document, fetched_at=at)
            fetched[url] = {"credential": document, "fetchedAt": format_datetime(at)}
    for credential in chosen:  # each entry reads, as it will offline
        await checker.check(credential, now=clock())
    return fetched


async def _get_list(http: httpx.AsyncClient, url: str, hosts: frozenset[str]) -> dict[str, Any]:
    parts = urlsplit(url)
    if not (parts.hostname and (parts.scheme == "https" or parts.hostname in hosts)):
        raise _retrieval(f"{url}: a status list is fetched over https only", url, "scheme")
    try:
        response = await http.get(
            url, headers={"Accept": _ACCEPT}, follow_redirects=False, timeout=DEFAULT_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise _retrieval(
            f"cannot fetch the status list {url}: {type(exc).__name__}", url, "network"
        ) from None
    if response.status_code != 200:
        raise _retrieval(
            f"cannot fetch the status list {url}: HTTP {response.status_code}", url, "httpStatus"
        )
    try:
        return parse_json_object(response.content, max_bytes=DEFAULT_MAX_LIST_BYTES)
    except HealthMyDataError as exc:
        raise _retrieval(
            f"the status list {url} is not a JSON object: {exc.message}", url, "notJson"
        ) from None


def _retrieval(message: str, url: str, reason: str) -> StatusError:
    return StatusError(
        message,
        code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        details={"statusListCredential": url, "reason": reason},
    )


def _parse_status_lists(value: object) -> dict[str, tuple[dict[str, Any], datetime]]:
    if value is None:
        return {}
    bad = InvalidInputError(
        "statusLists must map URLs to {credential, fetchedAt}", code=ErrorCode.PARSING_ERROR
    )
    if not isinstance(value, Mapping):
        raise bad
    lists: dict[str, tuple[dict[str, Any], datetime]] = {}
    for url, item in value.items():
        if not (
            isinstance(url, str)
            and isinstance(item, Mapping)
            and isinstance(item.get("credential"), dict)
            and isinstance(item.get("fetchedAt"), str)
        ):
            raise bad
        try:
            fetched_at = parse_datetime(item["fetchedAt"])
        except ValueError:
            raise bad from None
        lists[url] = (dict(item["credential"]), fetched_at)
    return lists


def _with_status_ages(
    trust_data: Mapping[str, Any], lists: Mapping[str, tuple[dict[str, Any], datetime]]
) -> dict[str, Any]:
    """``trust_data`` with each accreditation's ``fetchedAt`` moved back to its oldest cached
    status list's, so that the ``trust`` check's age is that of the oldest data it rests on."""
    accreditations = []
    for item in trust_data.get("accreditations") or []:
        if isinstance(item, Mapping) and isinstance(item.get("document"), Mapping):
            times = [
                lists[e.list_url][1] for e in _entries(item["document"]) if e.list_url in lists
            ]
            try:
                own = parse_datetime(item.get("fetchedAt"))
            except ValueError:
                own = None  # the registry's import refuses it
            if times and own is not None:
                item = {**item, "fetchedAt": format_datetime(min(own, *times))}
        accreditations.append(item)
    return {**trust_data, "accreditations": accreditations}


def _entries(document: Mapping[str, Any]) -> list[Any]:
    try:
        return list(parse_status_entries(document))
    except HealthMyDataError:
        return []  # the registry refuses it when it is used


async def load_offline_cache(
    data: Mapping[str, Any], *, operator_dids: frozenset[str] | None = None, clock: Clock = utcnow
) -> OfflineVerifier:
    """An offline verifier from a cache (no HTTP client anywhere: nothing can be fetched).

    :param operator_dids: the operators to trust; default those named in the cache's trust
        export (the cache was written by this verifier's own configuration).
    :raises InvalidInputError: not a cache of this version, or a malformed ``statusLists``.
    :raises agent.errors.CredentialError: a cached trust list or accreditation does not verify.
    :raises agent.errors.DIDError: a cached DID document is malformed.
    :raises StatusError: ``STATUS_VERIFICATION_ERROR``: a cached status list does not verify.
    """
    if not isinstance(data, Mapping) or data.get("version") != _VERSION:
        raise InvalidInputError(
            f"not an offline cache of version {_VERSION}", code=ErrorCode.PARSING_ERROR
        )
    resolver = DIDResolver()
    for document in data.get("didDocuments") or []:
        resolver.add_document(document)
    tokens = TokenStatusCache(offline=True, clock=clock)
    tokens.import_(data.get("statusTokens") or {})
    checker = StatusChecker(None, resolver, offline=True, clock=clock)
    lists = _parse_status_lists(data.get("statusLists"))
    for url, (credential, fetched_at) in lists.items():
        await checker.seed(url, credential, fetched_at=fetched_at)
    trust_data = data.get("trust")
    trust = None
    if isinstance(trust_data, Mapping):
        operators = operator_dids or frozenset(trust_data.get("operators") or ())
        if operators:
            trust = TrustRegistry(operators, resolver, checker, clock=clock)
            await trust.import_(_with_status_ages(trust_data, lists))
    return OfflineVerifier(
        resolver, tokens, checker, trust, {url: at for url, (_, at) in lists.items()}
    )
