"""One resolver for did:key, did:peer and did:web, with a cache, that dereferences keys.

Everything that verifies a signature or encrypts to a DID goes through :class:`DIDResolver`:
it implements :class:`agent.keys.signer.KeyResolver`, so a proof verifier asks for "the key
``did:…#frag`` for ``assertionMethod``" and gets raw key bytes or a typed error, and never reads
DID documents itself.

Caching follows what each method can change: did:key and did:peer documents are a pure function
of the DID and are kept for good (bounded by ``max_entries``, least recently used first out);
did:web documents are kept for ``cache_ttl`` seconds, so a hospital's key rotation is seen
within that time. Documents added with :meth:`DIDResolver.add_document` (for the offline
emergency story) are kept until replaced.

A key a cached did:web document does not list (a credential signed by a key the hospital has
just rotated in) makes :meth:`DIDResolver.resolve_key` fetch the document once more before it
refuses with ``keyNotFound``, the way a JOSE client refreshes a JWKS on an unknown ``kid``. Such
fetches are limited to one per DID per :attr:`DIDResolver.UNKNOWN_KEY_REFETCH_INTERVAL` seconds,
whatever their outcome: a stream of made-up key ids costs the hospital one request per interval,
not one per credential. Requests that arrive while that fetch is in flight wait for it and use
its answer. Documents that were never fetched (seeded with ``add_document``, did:key, did:peer)
are never fetched for this, and a resolver without an HTTP client fetches nothing.

Dereferencing follows DID Core section 7.2 (https://www.w3.org/TR/did-core/#did-url-dereferencing)
and Controlled Identifiers 1.0 section 3.3 ("Retrieve Verification Method"): the method must be in
the document, be listed (by reference or embedded) under the relationship asked for, and be
controlled by the DID itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from agent.dids.document import (
    VerificationRelationship,
    iter_relationship,
    key_from_method,
    parse_document,
)
from agent.dids.key import resolve_did_key
from agent.dids.peer import (
    did_peer_2_to_3,
    did_peer_4_to_short,
    resolve_did_peer,
    resolve_did_peer_4_short,
)
from agent.dids.web import DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_TIMEOUT, resolve_did_web
from agent.errors import DIDDocumentError, DIDResolutionError, ErrorCode, InvalidInputError
from agent.keys.signer import ResolvedKey

if TYPE_CHECKING:
    from agent.dids.document import DIDDocument

__all__ = ["DIDResolver"]

log = logging.getLogger(__name__)

# DID syntax, DID Core section 3.1: "did:" method-name ":" method-specific-id.
_DID = re.compile(r"^did:([a-z0-9]+):((?:[A-Za-z0-9._%-]*:)*[A-Za-z0-9._%-]+)$")
_LOCAL_METHODS = frozenset({"key", "peer"})
#: Dereferenced keys kept per cached document (a document lists a handful of keys).
_MAX_KEYS_PER_DOCUMENT = 64
_SUPPORTED_METHODS = frozenset({"key", "peer", "web"})


@dataclass(slots=True)
class _Entry:
    document: DIDDocument
    # The serialized document, kept so that dereferencing a key does not serialize it again.
    data: dict[str, Any]
    expires: float | None  # None: never expires (deterministic or seeded documents).
    # Whether the document came over HTTP (did:web); never-fetched ones (local methods, seeded
    # documents) are never fetched again for an unknown key.
    fetched: bool = False
    # When an unknown key last made the resolver fetch this DID's document (monotonic
    # seconds), carried over to the DID's next entries; None: never.
    refetched: float | None = None
    # That fetch, shared by the callers that come while it is in flight.
    refetch: asyncio.Future[_Entry | None] | None = None
    # Keys dereferenced from this document, by (DID URL, relationship): a verifier resolves
    # the same issuer keys again and again. Kept with the entry, so a new document (a
    # refresh, a rotation) starts empty; refusals are not kept.
    keys: dict[tuple[str, str], ResolvedKey] = field(default_factory=dict)


def _method_of(did: str) -> str:
    """The DID method name, after checking DID syntax.

    :raises DIDResolutionError: ``invalidDid`` for bad syntax (a DID URL included),
        ``methodNotSupported`` for a method other than key, peer or web.
    """
    match = _DID.match(did) if isinstance(did, str) else None
    if match is None:
        raise DIDResolutionError(
            f"{did!r} is not a DID ('did:<method>:<id>'); to look up a key in a DID URL with a "
            "'#fragment' use resolve_key",
            code=ErrorCode.INVALID_DID,
            details={"did": str(did)},
        )
    method = match.group(1)
    if method not in _SUPPORTED_METHODS:
        raise DIDResolutionError(
            f"did:{method} is not supported; this project resolves did:key, did:peer and did:web",
            code=ErrorCode.METHOD_NOT_SUPPORTED,
            details={"did": did, "method": method},
        )
    return method


class DIDResolver:
    """Resolves DIDs to :class:`pydid.DIDDocument` and dereferences verification methods.

    :param http_client: the client for did:web; without one, did:web is ``methodNotSupported``
        (unless the document was added with :meth:`add_document`).
    :param cache_ttl: seconds a fetched did:web document is reused.
    :param clock: monotonic seconds, injected so tests can move time (STYLE.md section 9).
    :param timeout: seconds allowed for one did:web fetch.
    :param max_document_bytes: largest did:web document read.
    :param max_entries: cache size; the least recently used document goes first.
    :param insecure_http_hosts: hosts whose did:web is fetched over plain http, for local
        development and tests only (see :func:`agent.dids.web.did_web_to_url`).
    """

    #: The shortest time, in seconds, between two fetches of one DID's document made because
    #: a DID URL named a key its cached did:web document does not list (successful or not).
    #: Within it, another unknown key is refused (``keyNotFound``) from the cached document.
    UNKNOWN_KEY_REFETCH_INTERVAL: ClassVar[float] = 30.0

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = DEFAULT_TIMEOUT,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        max_entries: int = 10_000,
        insecure_http_hosts: Collection[str] = frozenset(),
    ) -> None:
        if cache_ttl < 0:
            raise InvalidInputError(f"cache_ttl must be 0 or more seconds, got {cache_ttl}")
        if max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1, got {max_entries}")
        self._http_client = http_client
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._timeout = timeout
        self._max_document_bytes = max_document_bytes
        self._max_entries = max_entries
        self._insecure_http_hosts = frozenset(insecure_http_hosts)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    # --- cache ----------------------------------------------------------------------------------

    def _cached(self, did: str) -> _Entry | None:
        entry = self._cache.get(did)
        if entry is None:
            return None
        if entry.expires is not None and self._clock() >= entry.expires:
            del self._cache[did]
            return None
        self._cache.move_to_end(did)
        return entry

    def _store(
        self,
        did: str,
        document: DIDDocument,
        expires: float | None,
        *,
        fetched: bool = False,
    ) -> _Entry:
        entry = _Entry(document, document.serialize(), expires, fetched)
        self._cache[did] = entry
        self._cache.move_to_end(did)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return entry

    def _remember_local(self, did: str, document: DIDDocument) -> _Entry:
        entry = self._store(did, document, None)
        # Short forms resolve only through their long form, so remember them now.
        if did.startswith("did:peer:2"):
            short = did_peer_2_to_3(did)
            aliased = _replace_did(entry.data, did, short)
            aliased["alsoKnownAs"] = [did]
            self._store(short, parse_document(aliased), None)
        elif did.startswith("did:peer:4") and ":" in did[len("did:peer:4") :]:
            self._store(did_peer_4_to_short(did), resolve_did_peer_4_short(did), None)
        return entry

    def add_document(self, document: DIDDocument | Mapping[str, Any]) -> DIDDocument:
        """Seed the cache with a document, e.g. a hospital's did:web for offline use.

        The document is parsed strictly and made absolute; it is served instead of resolving
        until it is replaced by another :meth:`add_document` or :meth:`forget`.

        :raises DIDDocumentError: (``invalidDidDocument``) when it is not a valid DID document.
        :raises DIDResolutionError: for a DID of an unsupported method or bad syntax.
        """
        data = document if isinstance(document, Mapping) else document.serialize()
        parsed = parse_document(data)
        did = str(parsed.id)
        _method_of(did)
        self._store(did, parsed, None)
        return parsed

    def forget(self, did: str) -> None:
        """Drop a DID from the cache, so that the next resolution fetches it again."""
        self._cache.pop(did, None)

    # --- resolution -----------------------------------------------------------------------------

    def resolve_sync(self, did: str) -> DIDDocument:
        """Resolve without I/O: did:key, did:peer, and documents already cached or added.

        :raises DIDResolutionError: as :meth:`resolve`; ``methodNotSupported`` for a did:web
            that is not in the cache (use ``await resolve``).
        """
        return self._entry_sync(did).document

    def _entry_sync(self, did: str) -> _Entry:
        method = _method_of(did)
        cached = self._cached(did)
        if cached is not None:
            return cached
        if method not in _LOCAL_METHODS:
            raise DIDResolutionError(
                f"{did} needs a network fetch; use 'await resolver.resolve(did)'",
                code=ErrorCode.METHOD_NOT_SUPPORTED,
                details={"did": did},
            )
        document = resolve_did_key(did) if method == "key" else resolve_did_peer(did)
        return self._remember_local(did, document)

    async def resolve(self, did: str) -> DIDDocument:
        """Resolve a DID to its document, from the cache when it is still fresh.

        :raises DIDResolutionError: ``invalidDid`` (bad syntax, a DID URL, a malformed key),
            ``methodNotSupported`` (another method, or did:web without an HTTP client),
            ``notFound``, ``resolutionTimeout``.
        :raises DIDDocumentError: (``invalidDidDocument``) for a document that is not valid.
        """
        return (await self._entry(did)).document

    async def _entry(self, did: str) -> _Entry:
        method = _method_of(did)
        if method in _LOCAL_METHODS:
            return self._entry_sync(did)
        previous = self._cache.get(did)
        cached = self._cached(did)
        if cached is not None:
            return cached
        if self._http_client is None:
            raise DIDResolutionError(
                f"resolving {did} needs HTTP; create the DIDResolver with an http_client, or add "
                "the document with add_document for offline use",
                code=ErrorCode.METHOD_NOT_SUPPORTED,
                details={"did": did},
            )
        document = await self._fetch(did, self._http_client)
        entry = self._store(did, document, self._clock() + self._cache_ttl, fetched=True)
        if previous is not None:  # an expired entry: its re-fetch limit still holds
            entry.refetched = previous.refetched
        return entry

    async def _fetch(self, did: str, http_client: httpx.AsyncClient) -> DIDDocument:
        return await resolve_did_web(
            did,
            http_client,
            time_limit=self._timeout,
            max_bytes=self._max_document_bytes,
            insecure_http_hosts=self._insecure_http_hosts,
        )

    async def _refetched(self, did: str, stale: _Entry) -> _Entry | None:
        """``did``'s document fetched again because ``stale``, the cached one, lacks a key; or
        ``None`` when no fetch is allowed (a document never fetched, no HTTP client, such a
        fetch less than :attr:`UNKNOWN_KEY_REFETCH_INTERVAL` ago) or the fetch failed.

        Callers that come while the fetch is in flight share it.
        """
        if not stale.fetched or self._http_client is None:
            return None  # seeded for offline use (or local): never fetched, never re-fetched
        refetch = stale.refetch
        if refetch is None or refetch.done():  # none in flight (a failed one leaves the entry)
            now = self._clock()
            last = stale.refetched
            if last is not None and now - last < self.UNKNOWN_KEY_REFETCH_INTERVAL:
                return None
            stale.refetched = now  # the attempt counts, whether or not it succeeds
            refetch = stale.refetch = asyncio.ensure_future(
                self._fetch_again(did, stale, self._http_client)
            )
        return await asyncio.shield(refetch)

    async def _fetch_again(
        self, did: str, stale: _Entry, http_client: httpx.AsyncClient
    ) -> _Entry | None:
        try:
            document = await self._fetch(did, http_client)
        except (DIDResolutionError, DIDDocumentError, httpx.HTTPError) as exc:
            log.warning(
                "fetching %s again for a key its cached document lacks failed (%s); the cached "
                "document stays in use",
                did,
                exc,
            )
            return None
        current = self._cache.get(did)
        if current is not None and current is not stale:
            return current  # replaced meanwhile (add_document, or a fetch after a forget)
        entry = self._store(did, document, self._clock() + self._cache_ttl, fetched=True)
        entry.refetched = stale.refetched
        return entry

    # --- dereferencing --------------------------------------------------------------------------

    async def resolve_key(self, verification_method: str, relationship: str) -> ResolvedKey:
        """The public key a DID URL names, if its DID authorises it for ``relationship``.

        :param verification_method: an absolute DID URL with a fragment, ``did:…#frag``.
        :param relationship: a verification relationship, e.g. ``assertionMethod``.
        :raises InvalidInputError: when ``relationship`` is not a DID Core relationship.
        :raises DIDResolutionError: ``invalidDidUrl`` when the URL has no fragment or no DID,
            plus every error of :meth:`resolve`.
        :raises DIDDocumentError: ``keyNotFound`` when the document has no such method (for a
            fetched did:web document: also after fetching it again, see the module docstring);
            ``MISMATCHED_PROOF_PURPOSE_ERROR`` when the method is not listed under
            ``relationship``; ``invalidDidDocument`` when its controller is another DID or its
            key cannot be read.
        """
        key = self._known_key(verification_method, relationship)
        if key is not None:
            return key
        did, wanted = _parse_request(verification_method, relationship)
        entry = await self._entry(did)
        try:
            return self._key_of(entry, verification_method, wanted)
        except DIDDocumentError as exc:
            if exc.code is not ErrorCode.KEY_NOT_FOUND:
                raise
            fresh = await self._refetched(did, entry)
            if fresh is None:
                raise
        return self._key_of(fresh, verification_method, wanted)

    def _key_of(self, entry: _Entry, url: str, wanted: VerificationRelationship) -> ResolvedKey:
        key = entry.keys.get((url, wanted))
        if key is None:
            key = self._dereference(entry.data, url, wanted)
            if len(entry.keys) < _MAX_KEYS_PER_DOCUMENT:
                entry.keys[url, wanted] = key
        return key

    def _known_key(self, url: str, relationship: str) -> ResolvedKey | None:
        """The key :meth:`resolve_key` dereferenced before for the same ``url`` and
        ``relationship`` from a document still fresh in the cache, else ``None``.

        Only keys that passed every check are kept (``_Entry.keys``), so those inputs were
        parsed and authorised then, from this very document: nothing is checked again (the
        DID URL's syntax, the method, the relationship's name: 3.7 -> 0.7 us a call, a
        tenth of the gap between an SD-JWT verification with its key given and with its
        issuer's did:web).
        """
        if type(url) is not str or not isinstance(relationship, str):
            return None
        did = url.partition("#")[0]
        entry = self._cache.get(did)
        if entry is None:
            return None
        key = entry.keys.get((url, relationship))
        if key is None or (entry.expires is not None and self._clock() >= entry.expires):
            return None
        self._cache.move_to_end(did)
        return key

    def resolve_key_sync(self, verification_method: str, relationship: str) -> ResolvedKey:
        """:meth:`resolve_key` without I/O, for did:key, did:peer and cached documents.

        :raises: as :meth:`resolve_key` and :meth:`resolve_sync`.
        """
        did, wanted = _parse_request(verification_method, relationship)
        return self._dereference(self._entry_sync(did).data, verification_method, wanted)

    @staticmethod
    def _dereference(
        document: Mapping[str, Any], url: str, relationship: VerificationRelationship
    ) -> ResolvedKey:
        did = str(document["id"])
        method: Mapping[str, Any] | None = None
        for candidate in iter_relationship(document, "verificationMethod"):
            if isinstance(candidate, dict) and candidate.get("id") == url:
                method = candidate
                break
        authorised = False
        for entry in iter_relationship(document, relationship.value):
            if entry == url:
                authorised = True
            elif isinstance(entry, dict) and entry.get("id") == url:
                authorised = True
                method = entry
        if method is None:
            # The method may be embedded under another relationship only.
            for other in VerificationRelationship:
                for entry in iter_relationship(document, other.value):
                    if isinstance(entry, dict) and entry.get("id") == url:
                        method = entry
        if method is None:
            raise DIDDocumentError(
                f"{did} has no verification method {url}; the key may have been retired, or the "
                "DID URL is mistyped",
                code=ErrorCode.KEY_NOT_FOUND,
                details={"url": url},
            )
        if not authorised:
            raise DIDDocumentError(
                f"{url} is not authorised for {relationship.value} by {did}; it is listed only "
                "for other purposes",
                code=ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
                details={"url": url, "relationship": relationship.value},
            )
        controller = method.get("controller")
        if controller != did:
            raise DIDDocumentError(
                f"{url} is controlled by {controller!r}, not by {did}; keys controlled by "
                "another DID are not accepted",
                code=ErrorCode.INVALID_DID_DOCUMENT,
                details={"url": url},
            )
        key_type, raw = key_from_method(method)
        return ResolvedKey(id=url, controller=did, key_type=key_type, raw=raw)


def _parse_request(url: str, relationship: str) -> tuple[str, VerificationRelationship]:
    """The DID of a verification method URL and the relationship, both checked.

    :raises InvalidInputError: when ``relationship`` is not a DID Core relationship.
    :raises DIDResolutionError: (``invalidDidUrl``) when ``url`` is not ``did:…#fragment``;
        ``methodNotSupported`` for a DID method other than key, peer or web.
    """
    try:
        wanted = VerificationRelationship(relationship)
    except ValueError as exc:
        raise InvalidInputError(
            f"{relationship!r} is not a verification relationship; use one of "
            + ", ".join(r.value for r in VerificationRelationship)
        ) from exc
    did, _, fragment = url.partition("#") if isinstance(url, str) else ("", "", "")
    if not fragment or not did or "/" in did or "?" in did:
        raise DIDResolutionError(
            f"{url!r} is not a DID URL naming a verification method; "
            "expected 'did:<method>:<id>#<fragment>'",
            code=ErrorCode.INVALID_DID_URL,
            details={"url": str(url)},
        )
    try:
        _method_of(did)
    except DIDResolutionError as exc:
        if exc.code is ErrorCode.INVALID_DID:
            raise DIDResolutionError(
                f"{url!r} does not start with a valid DID",
                code=ErrorCode.INVALID_DID_URL,
                details={"url": url},
            ) from exc
        raise
    return did, wanted


def _replace_did(document: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of ``document`` with every occurrence of the DID ``old`` as an id or prefix
    replaced by ``new``, keeping ``alsoKnownAs`` as it is."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            if value == old or value.startswith(old + "#"):
                return new + value[len(old) :]
            return value
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: (v if k == "alsoKnownAs" else walk(v)) for k, v in value.items()}
        return value

    result: dict[str, Any] = walk(dict(document))
    return result
