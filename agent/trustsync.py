"""Fetching the operator's trust data over HTTP and keeping it fresh.

A verifier or wallet is configured with the operator DIDs it trusts and, for each, the URL of
the operator's service (docs/operator.md). :func:`fetch_trust` GETs ``{url}/trust-list`` and
each ``{url}/accreditations/{id}`` the list names, and loads them into a
:class:`~agent.trust.TrustRegistry` of the configured DIDs: only what those operators signed
loads; the URL only says where to fetch.

:class:`TrustSync` keeps one registry current for a running service: it refreshes when the
trust list's ``Cache-Control: max-age`` is about to run out (at 80 % of it, so that the data
in use never expires while the operator is up), and when the operator cannot be reached or
serves something that does not verify it keeps the last good data, retries with back-off, and
says how old the data is (:meth:`TrustSync.status`; decisions carry the age too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from agent.clock import Clock, format_datetime, utcnow
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import parse_json_object
from agent.keys.signer import KeyResolver
from agent.status import StatusChecker
from agent.trust import TrustRegistry, age_text

__all__ = [
    "DEFAULT_MAX_AGE",
    "LOOPBACK_HOSTS",
    "OperatorSource",
    "TrustSync",
    "checked_url",
    "fetch_json",
    "fetch_trust",
    "max_age_of",
    "sources_from",
]

log = logging.getLogger(__name__)

#: Plain http is allowed to these hosts only (tests, a local demo).
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
#: The refresh period when the operator sends no usable ``max-age``.
DEFAULT_MAX_AGE: Final = timedelta(minutes=5)
_MIN_INTERVAL: Final = timedelta(seconds=1)
_MAX_BACKOFF: Final = timedelta(minutes=5)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OperatorSource:
    """An operator this party trusts and where its service is (``url`` may be ``None``: its
    data then comes from a cache file only)."""

    did: str
    url: str | None = None


def max_age_of(cache_control: str | None) -> timedelta | None:
    """The ``max-age`` of a ``Cache-Control`` header (``None`` when absent or ``no-store``)."""
    if not cache_control or "no-store" in cache_control.lower():
        return None
    match = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(match.group(1))) if match else None


def checked_url(url: str, insecure_http_hosts: frozenset[str]) -> str:
    """``url`` without a trailing slash, when it is https (or http to an allowed host).

    :raises InvalidInputError: ``INVALID_INPUT`` otherwise, or when it is no http(s) URL.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInputError(f"{url[:200]}: not an http(s) URL", code=ErrorCode.INVALID_INPUT)
    if parsed.scheme != "https" and parsed.host not in insecure_http_hosts:
        raise InvalidInputError(
            f"{url}: an operator URL uses https (plain http only on "
            f"{', '.join(sorted(insecure_http_hosts)) or 'no host'})",
            code=ErrorCode.INVALID_INPUT,
        )
    return url.rstrip("/")


async def fetch_json(http: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
    """GET a JSON object.

    :raises InvalidInputError: ``STATUS_RETRIEVAL_ERROR`` when unreachable or not 200;
        ``PARSING_ERROR`` when not a JSON object.
    """
    return (await _get_json(http, url, what))[0]


async def _get_json(
    http: httpx.AsyncClient, url: str, what: str
) -> tuple[dict[str, Any], httpx.Headers]:
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        raise InvalidInputError(
            f"cannot fetch {what} from {url}: {type(exc).__name__}",
            code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        ) from None
    if response.status_code != 200:
        raise InvalidInputError(
            f"cannot fetch {what} from {url}: HTTP {response.status_code}",
            code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        )
    return parse_json_object(response.content), response.headers


async def fetch_trust(
    http: httpx.AsyncClient,
    registry: TrustRegistry,
    operator_url: str,
    *,
    accreditations: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
    fetched_at: datetime | None = None,
) -> timedelta | None:
    """Load the trust list at ``operator_url`` (and, with ``accreditations``, the
    accreditation credentials it names) into ``registry``.

    :returns: the trust list's ``max-age`` (``None`` when the operator sent none).
    :raises InvalidInputError: ``STATUS_RETRIEVAL_ERROR`` when the operator cannot be reached
        or answers with an error; ``INVALID_INPUT`` for a non-https URL.
    :raises agent.errors.CredentialError: ``issuerNotTrusted`` when a document is not signed
        by one of the registry's operators; ``trustListInvalid`` when it does not verify.
    """
    base = checked_url(operator_url, insecure_http_hosts)
    trust_list, headers = await _get_json(http, f"{base}/trust-list", "the trust list")
    await registry.load_trust_list(trust_list, fetched_at=fetched_at)
    if accreditations:
        for entry in trust_list["credentialSubject"]["trustListEntry"]:
            accreditation = entry.get("accreditation")
            if isinstance(accreditation, str):
                document, _ = await _get_json(
                    http, f"{base}/accreditations/{accreditation}", "an accreditation"
                )
                await registry.add_accreditation(document, fetched_at=fetched_at)
    return max_age_of(headers.get("cache-control"))


class TrustSync:
    """One :class:`TrustRegistry` kept current from the operators' services.

    :param registry: the registry the party decides with; each successful refresh replaces its
        contents at once (:meth:`TrustRegistry.adopt`), a failed one leaves them alone.
    :param sources: the operators and their URLs; those without a URL are not fetched.
    :param refresh_interval: refresh at least this often, whatever ``max-age`` says (``None``:
        80 % of the trust lists' smallest ``max-age``, :data:`DEFAULT_MAX_AGE` without one).
    """

    def __init__(
        self,
        registry: TrustRegistry,
        sources: Sequence[OperatorSource],
        http: httpx.AsyncClient,
        resolver: KeyResolver,
        status_checker: StatusChecker | None = None,
        *,
        insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
        refresh_interval: timedelta | None = None,
        clock: Clock = utcnow,
    ) -> None:
        unknown = {s.did for s in sources} - registry.operators
        if unknown:
            raise ValueError(f"sources name operators the registry does not trust: {unknown}")
        self.registry = registry
        self._sources = [s for s in sources if s.url]
        self._http = http
        self._resolver = resolver
        self._status = status_checker
        self._insecure = insecure_http_hosts
        self._interval = refresh_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.last_success: datetime | None = None
        self.last_attempt: datetime | None = None
        self.last_error: str | None = None
        self.max_age: timedelta | None = None
        self._failures = 0

    @property
    def sources(self) -> list[OperatorSource]:
        return list(self._sources)

    async def refresh(self) -> bool:
        """Fetch every source into a fresh registry and adopt it when all verified.

        :returns: whether the registry now holds new data; on failure :attr:`last_error` says
            why and the last good data stays in use.
        """
        async with self._lock:
            now = self._clock()
            self.last_attempt = now
            if not self._sources:
                self.last_error = "no operator has a URL to fetch from"
                return False
            fresh = TrustRegistry(
                self.registry.operators, self._resolver, self._status, clock=self._clock
            )
            ages: list[timedelta] = []
            try:
                for source in self._sources:
                    assert source.url is not None
                    age = await fetch_trust(
                        self._http,
                        fresh,
                        source.url,
                        insecure_http_hosts=self._insecure,
                        fetched_at=now,
                    )
                    if age is not None:
                        ages.append(age)
            except HealthMyDataError as exc:
                self._failures += 1
                self.last_error = f"{exc.code}: {exc.message}"
                log.warning(
                    "trust refresh failed (%s); keeping the trust data fetched %s",
                    exc.code,
                    format_datetime(self.last_success) if self.last_success else "never",
                )
                return False
            self.registry.adopt(fresh)
            self._failures = 0
            self.last_error = None
            self.last_success = now
            self.max_age = min(ages) if ages else None
            log.info("trust data refreshed: %d entries", len(fresh.entries()))
            return True

    def next_delay(self) -> timedelta:
        """How long to wait before the next refresh: 80 % of ``max-age`` (or the configured
        interval) after a success; after failures a back-off of 2, 4, 8 ... seconds up to that
        period (at most 5 minutes)."""
        period = self._interval or (self.max_age or DEFAULT_MAX_AGE) * 0.8
        period = max(period, _MIN_INTERVAL)
        if self._failures:
            backoff = timedelta(seconds=2 ** min(self._failures, 8))
            return min(backoff, period, _MAX_BACKOFF)
        return period

    def trigger(self) -> None:
        """Ask the background loop to refresh now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.next_delay().total_seconds())
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:  # a bug must not end the loop: the last good data stays
                log.exception("trust refresh raised")
                self._failures += 1

    def start(self) -> None:
        """Run the refresh loop in the background (after a first :meth:`refresh`)."""
        if self._task is None and self._sources:
            self._task = asyncio.create_task(self._run(), name="trust-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def status(self) -> dict[str, Any]:
        """For reports and the admin API: the sources, when the data was fetched, its age, and
        the last error (the data in use is the last good one whatever the error)."""
        now = self._clock()
        fetched = self.registry.fetched_at
        age = now - fetched if fetched is not None else None
        return {
            "operators": sorted(self.registry.operators),
            "sources": [{"did": s.did, "url": s.url} for s in self._sources],
            "entries": len(self.registry.entries()),
            "fetchedAt": format_datetime(fetched) if fetched else None,
            "ageSeconds": int(age.total_seconds()) if age is not None else None,
            "age": age_text(age) if age is not None else None,
            "maxAgeSeconds": int(self.max_age.total_seconds()) if self.max_age else None,
            "lastAttempt": format_datetime(self.last_attempt) if self.last_attempt else None,
            "lastError": self.last_error,
            "stale": self.last_error is not None,
        }


def sources_from(dids: Sequence[str], urls: Sequence[str]) -> list[OperatorSource]:
    """Pair ``--operator`` DIDs with ``--operator-url`` URLs in order (more DIDs than URLs:
    the rest come from a cache file only).

    :raises InvalidInputError: more URLs than DIDs.
    """
    if len(urls) > len(dids):
        raise InvalidInputError(
            "each --operator-url belongs to an --operator DID (give them in pairs)",
            code=ErrorCode.INVALID_INPUT,
        )
    return [OperatorSource(did, urls[i] if i < len(urls) else None) for i, did in enumerate(dids)]
