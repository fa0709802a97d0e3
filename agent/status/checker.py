"""Verifier side of Bitstring Status List: fetch, verify and cache list credentials; read status.

Bitstring Status List v1.0 (https://www.w3.org/TR/vc-bitstring-status-list/, "BSL") section
3.2, the Validate Algorithm, step 4: "Dereference the ``statusListCredential`` URL, and ensure
that all proofs verify successfully. If the dereference fails, raise a STATUS_RETRIEVAL_ERROR.
If any of the proof verifications fail, raise a STATUS_VERIFICATION_ERROR." The remaining steps
are :func:`agent.credentials.status_list.check_status`.

:class:`StatusChecker` adds what a verifier needs around that:

* HTTP goes through the injected ``httpx.AsyncClient`` (STYLE.md section 9), with a timeout,
  a size limit, no redirects, JSON media types only, and ``https`` only (plain ``http`` for
  hosts named in ``insecure_http_hosts``: local development and tests).
* A verified list is cached per URL (BSL section 3.2: verifiers "SHOULD cache the retrieved
  status list"; Privacy Considerations, "Verifier Caching": fewer fetches tell the issuer less). The
  lifetime is the response's ``Cache-Control: max-age`` (``no-store``/``no-cache``: not
  cached), else the list's ``credentialSubject.ttl``, else ``ttl``; never more than
  ``max_ttl`` nor beyond the list's ``validUntil``.
* Offline use: :meth:`StatusChecker.seed` stores a list obtained another way (stapled by the
  holder, BSL section 2.2, or synced before going offline). With ``offline=True`` the checker
  never fetches and uses seeded lists whatever their age. Every :class:`StatusResult` carries
  ``fetched_at`` and ``age`` so the verifier can say how old the status it reports is.

Failures raise :class:`agent.errors.StatusError`: ``STATUS_RETRIEVAL_ERROR`` (network error,
timeout, HTTP status other than 200, too large, not JSON, not seeded while offline),
``STATUS_VERIFICATION_ERROR`` (a proof does not verify or its key is not the list issuer's,
the list issuer is not the credential's, purpose mismatch, list expired) and
``STATUS_LIST_LENGTH_ERROR``.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, Clock, utcnow
from agent.credentials.proofs import verify_proofs
from agent.credentials.status_list import (
    DEFAULT_MAX_DECODED_BYTES,
    MIN_ENTRIES,
    Bitstring,
    StatusEntry,
    StatusResult,
    check_status,
    credential_issuer,
    decode_list,
    parse_status_entries,
)
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StatusError
from agent.jsonio import parse_json_object
from agent.keys.signer import KeyResolver
from agent.types import JSONObject

__all__ = [
    "DEFAULT_MAX_LIST_BYTES",
    "DEFAULT_TIMEOUT",
    "StatusChecker",
]

#: The largest list credential read, in bytes: a 16-million-entry list, incompressible.
DEFAULT_MAX_LIST_BYTES: Final = 3 * 1024 * 1024
#: Seconds allowed for one fetch (connect, read, whole).
DEFAULT_TIMEOUT: Final = 10.0
_JSON_TYPES: Final = frozenset(
    {"application/vc", "application/vc+ld+json", "application/ld+json", "application/json"}
)
_ACCEPT: Final = (
    "application/vc, application/vc+ld+json, application/ld+json;q=0.9, application/json;q=0.8"
)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|=|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Cached:
    """A list credential whose proofs verified, and when it was obtained and goes stale.

    ``bits`` is its ``encodedList`` inflated once, when the list was cached, so that a check
    reads a bit instead of inflating the list again; ``None`` when it does not decode, and
    :func:`check_status` then reports why, in its order of checks, on every use.
    """

    document: JSONObject
    fetched_at: datetime
    expires_at: datetime
    bits: Bitstring | None


class StatusChecker:
    """Checks the ``credentialStatus`` entries of credentials against their status lists.

    :param http_client: the client lists are fetched with; ``None`` for an offline checker.
    :param resolver: dereferences the list credential's verification methods (a DID resolver).
    :param ttl: seconds a fetched list is reused when neither ``Cache-Control`` nor the list's
        ``ttl`` says otherwise.
    :param clock: the time lists are fetched at and cache entries expire by.
    :param max_ttl: the longest a list is reused online, whatever the server says.
    :param offline: never fetch; only seeded lists are used, however old.
    :param timeout: seconds allowed for one fetch.
    :param max_bytes: largest list credential read.
    :param max_decoded_bytes: largest inflated bitstring (guards against compression bombs).
    :param min_entries: the minimum list length (BSL section 3.2 step 2).
    :param insecure_http_hosts: hosts whose lists may be fetched over plain http (tests).
    :param max_clock_skew: allowance for the list's validity period and proof times.
    :param max_cached: how many lists are kept; the least recently used goes first.
    """

    def __init__(
        self,
        http_client: httpx.AsyncClient | None,
        resolver: KeyResolver,
        *,
        ttl: float = 300.0,
        clock: Clock = utcnow,
        max_ttl: float = 86_400.0,
        offline: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_LIST_BYTES,
        max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
        min_entries: int = MIN_ENTRIES,
        insecure_http_hosts: Collection[str] = frozenset(),
        max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
        max_cached: int = 1_000,
    ) -> None:
        if ttl < 0 or max_ttl < 0:
            raise InvalidInputError(
                f"ttl and max_ttl must be 0 or more seconds, not {ttl}, {max_ttl}"
            )
        if max_cached < 1:
            raise InvalidInputError(f"max_cached must be at least 1, not {max_cached}")
        if http_client is None and not offline:
            raise InvalidInputError(
                "an online StatusChecker needs an http_client; pass offline=True to use seeded "
                "lists only"
            )
        self._client = http_client
        self._resolver = resolver
        self._ttl = timedelta(seconds=ttl)
        self._max_ttl = timedelta(seconds=max_ttl)
        self._clock = clock
        self._offline = offline
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_decoded_bytes = max_decoded_bytes
        self._min_entries = min_entries
        self._insecure_http_hosts = frozenset(insecure_http_hosts)
        self._max_clock_skew = max_clock_skew
        self._max_cached = max_cached
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def offline(self) -> bool:
        """Whether the checker uses seeded lists only."""
        return self._offline

    async def check(self, credential: Mapping[str, Any], *, now: datetime) -> list[StatusResult]:
        """The status of every ``credentialStatus`` entry of ``credential``, in order.

        A credential without ``credentialStatus`` has no status to check: the result is empty.
        Each list is fetched (or taken from the cache), its proofs verified, and the entry read
        with :func:`agent.credentials.status_list.check_status`; the list's issuer must be the
        credential's.

        :param now: the verification time: validity periods and ``age`` are measured to it.
        :raises StatusError: ``STATUS_RETRIEVAL_ERROR``, ``STATUS_VERIFICATION_ERROR``,
            ``STATUS_LIST_LENGTH_ERROR``, ``RANGE_ERROR`` or ``MALFORMED_VALUE_ERROR``.
        """
        entries = parse_status_entries(credential)
        if not entries:
            return []
        issuer = credential_issuer(credential)
        results = []
        for entry in entries:
            cached = await self._list(entry, now)
            result = check_status(
                entry,
                cached.document,
                issuer=issuer,
                now=now,
                max_clock_skew=self._max_clock_skew,
                min_entries=self._min_entries,
                max_bytes=self._max_decoded_bytes,
                bits=cached.bits,
                fetched_at=cached.fetched_at,
            )
            results.append(result)
        return results

    async def seed(
        self,
        url: str,
        list_credential: Mapping[str, Any],
        *,
        fetched_at: datetime | None = None,
    ) -> None:
        """Store a list credential for ``url`` obtained without this checker's client.

        Its proofs are verified now (as of ``fetched_at``); the cache entry then ages like a
        fetched one. An offline checker uses it until it is replaced.

        :param fetched_at: when the list was obtained from its issuer; defaults to the clock.
        :raises StatusError: ``STATUS_VERIFICATION_ERROR`` when a proof does not verify.
        """
        obtained = fetched_at if fetched_at is not None else self._clock()
        document = dict(list_credential)
        await self._verify(url, document, now=obtained)
        expires_at = self._expiry(document, obtained, None)
        self._remember(url, _Cached(document, obtained, expires_at, self._decode(document)))

    def forget(self, url: str) -> None:
        """Drop a cached list, so that the next check fetches it again."""
        self._cache.pop(url, None)

    def cached_urls(self) -> list[str]:
        """The URLs of the lists held, least recently used first."""
        return list(self._cache)

    # --- cache and fetch ------------------------------------------------------------------

    async def _list(self, entry: StatusEntry, now: datetime) -> _Cached:
        url = entry.list_url
        cached = self._fresh(url)
        if cached is not None:
            return cached
        if self._offline:
            raise StatusError(
                f"the status list {url} is not available offline; seed it first (for example "
                "from a list the holder presented, or one synced before going offline)",
                code=ErrorCode.STATUS_RETRIEVAL_ERROR,
                details={"statusListCredential": url, "reason": "notSeeded"},
            )
        # One fetch per URL at a time. The lock is dropped afterwards, so that credentials naming
        # many distinct URLs do not grow this dict.
        lock = self._locks.setdefault(url, asyncio.Lock())
        try:
            async with lock:
                cached = self._fresh(url)  # Another task may have fetched it meanwhile.
                if cached is not None:
                    return cached
                document, cache_control = await self._fetch(url)
                fetched_at = self._clock()
                await self._verify(url, document, now=now)
                expires_at = self._expiry(document, fetched_at, cache_control)
                cached = _Cached(document, fetched_at, expires_at, self._decode(document))
                self._remember(url, cached)
                return cached
        finally:
            if not lock.locked() and self._locks.get(url) is lock:
                del self._locks[url]

    def _fresh(self, url: str) -> _Cached | None:
        cached = self._cache.get(url)
        if cached is None:
            return None
        if not self._offline and self._clock() >= cached.expires_at:
            del self._cache[url]
            return None
        self._cache.move_to_end(url)
        return cached

    def _remember(self, url: str, cached: _Cached) -> None:
        self._cache[url] = cached
        self._cache.move_to_end(url)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    def _decode(self, document: Mapping[str, Any]) -> Bitstring | None:
        """The list's bitstring, or ``None`` when its ``encodedList`` does not decode (any
        length: :func:`check_status` checks it against each entry's ``statusSize``)."""
        subject = document.get("credentialSubject")
        if not isinstance(subject, Mapping):
            return None
        try:
            return decode_list(
                subject.get("encodedList"), min_entries=0, max_bytes=self._max_decoded_bytes
            )
        except HealthMyDataError:
            return None

    def _expiry(
        self, document: Mapping[str, Any], fetched_at: datetime, cache_control: str | None
    ) -> datetime:
        """When a list fetched at ``fetched_at`` goes stale (see the module docstring)."""
        lifetime = self._ttl
        subject = document.get("credentialSubject")
        ttl_ms = subject.get("ttl") if isinstance(subject, Mapping) else None
        if isinstance(ttl_ms, int) and not isinstance(ttl_ms, bool) and ttl_ms >= 0:
            lifetime = timedelta(milliseconds=ttl_ms)
        if cache_control:
            if _NO_STORE.search(cache_control):
                lifetime = timedelta(0)
            elif (match := _MAX_AGE.search(cache_control)) is not None:
                lifetime = timedelta(seconds=int(match.group(1)))
        expires = fetched_at + min(lifetime, self._max_ttl)
        valid_until = _parse_time(document.get("validUntil"))
        return min(expires, valid_until) if valid_until is not None else expires

    async def _fetch(self, url: str) -> tuple[JSONObject, str | None]:
        """GET the list credential; only a 200 with a JSON body within the limits will do."""
        self._check_url(url)
        assert self._client is not None  # Guaranteed by __init__ unless offline.
        try:
            async with self._client.stream(
                "GET",
                url,
                headers={"Accept": _ACCEPT},
                follow_redirects=False,
                timeout=self._timeout,
            ) as response:
                if response.status_code != 200:
                    raise _retrieval(
                        f"fetching the status list {url} gave HTTP {response.status_code}, not "
                        "200 (redirects are not followed); the list is missing or moved",
                        url,
                        reason="httpStatus",
                        status=response.status_code,
                    )
                media_type = response.headers.get("content-type", "").split(";", 1)[0]
                if media_type.strip().lower() not in _JSON_TYPES:
                    raise _retrieval(
                        f"{url} answered with content type {media_type!r}, not a JSON "
                        "credential (application/vc, application/ld+json, application/json)",
                        url,
                        reason="contentType",
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    raise self._too_large(url)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        raise self._too_large(url)
                cache_control = response.headers.get("cache-control")
        except httpx.TimeoutException as exc:
            raise _retrieval(
                f"fetching the status list {url} timed out after {self._timeout:g} s",
                url,
                reason="timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise _retrieval(
                f"the status list {url} could not be fetched ({type(exc).__name__}); check the "
                "network or try again later",
                url,
                reason="network",
            ) from exc
        try:
            document = parse_json_object(bytes(body), max_bytes=self._max_bytes)
        except HealthMyDataError as exc:
            raise _retrieval(
                f"the status list {url} is not a JSON object: {exc.message}",
                url,
                reason="notJson",
            ) from exc
        return document, cache_control

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and parts.hostname in self._insecure_http_hosts:
            return
        raise _retrieval(
            f"statusListCredential {url!r} is not an https URL; plain http is allowed only for "
            "hosts named in insecure_http_hosts (development and tests)",
            url,
            reason="scheme",
        )

    def _too_large(self, url: str) -> StatusError:
        return _retrieval(
            f"the status list {url} is larger than {self._max_bytes} bytes and was not read",
            url,
            reason="tooLarge",
        )

    async def _verify(self, url: str, document: JSONObject, *, now: datetime) -> None:
        """Every proof verifies and its key is the list issuer's (BSL section 3.2 step 4)."""
        try:
            await verify_proofs(
                document,
                self._resolver,
                now=now,
                max_clock_skew=self._max_clock_skew,
                bind_controller=True,
            )
        except HealthMyDataError as exc:
            # Proof, DID and key errors, and documents a suite cannot canonicalise.
            raise StatusError(
                f"the status list {url} does not verify: {exc.message}",
                code=ErrorCode.STATUS_VERIFICATION_ERROR,
                details={
                    "statusListCredential": url,
                    "reason": "proof",
                    "cause": str(exc.code),
                },
            ) from exc


def _retrieval(message: str, url: str, *, reason: str, status: int | None = None) -> StatusError:
    details: dict[str, Any] = {"statusListCredential": url, "reason": reason}
    if status is not None:
        details["status"] = status
    return StatusError(message, code=ErrorCode.STATUS_RETRIEVAL_ERROR, details=details)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
