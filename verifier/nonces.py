"""Single-use nonces for presentation requests, kept in the verifier's askar store.

A nonce binds a presentation to one request of this verifier: the holder signs it (the KB-JWT
``nonce`` of an SD-JWT, the ``challenge`` of a VP's proof), so a presentation captured on its
way to one verifier cannot be replayed to it, or to another (the audience is signed too).

Single use must hold when several replicas of the verifier share one PostgreSQL (DESIGN.md
section 6). :meth:`NonceStore.consume` therefore does not read-then-write a flag, which two
replicas could both read as "unused": in one transaction it reads the nonce's record and then
*inserts* a ``used`` record named by the nonce. The database's unique key on
``(category, name)`` lets exactly one insert succeed; the loser gets ``storeDuplicate`` (at
once, or when the winner commits), reported as ``nonceReplayed``. The same holds for two tasks
of one process on SQLite.

Records (category, name = the nonce):

* ``verifier_nonce``: ``{"audience", "purpose", "expires", "request"}`` (the presentation
  request it was issued for), with an askar expiry an hour after the nonce's, so that the store
  purges them itself;
* ``verifier_nonce_used``: ``{"used"}``, with the same askar expiry.

A nonce is 256 bits from :mod:`secrets`, base64url: unguessable, so knowing the record names
tells an attacker nothing.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from agent.clock import format_datetime, parse_datetime, utcnow
from agent.errors import ErrorCode, InvalidInputError, ProofError, StorageError
from agent.storage import Store

__all__ = [
    "DEFAULT_NONCE_TTL",
    "NONCE_CATEGORY",
    "USED_CATEGORY",
    "NonceRecord",
    "NonceStore",
    "new_nonce",
]

NONCE_CATEGORY: Final = "verifier_nonce"
USED_CATEGORY: Final = "verifier_nonce_used"
#: How long a presentation request, and so its nonce, is valid by default.
DEFAULT_NONCE_TTL: Final = timedelta(minutes=10)
#: How long askar keeps a record after the nonce expired (then purges it).
_PURGE_GRACE: Final = timedelta(hours=1)
_MAX_NONCE_LENGTH: Final = 256


def new_nonce() -> str:
    """A fresh nonce: 32 random bytes, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class NonceRecord:
    """A nonce as issued.

    :param nonce: the value.
    :param audience: the verifier identifier (its DID) presentations must be addressed to.
    :param purpose: the purpose of the request it was issued for, if any.
    :param expires: when it stops being accepted.
    :param request: what else the request said (the presentation definition, its id).
    """

    nonce: str
    audience: str
    purpose: str | None
    expires: datetime
    request: dict[str, Any] = field(default_factory=dict)


class NonceStore:
    """Issues nonces and consumes each at most once.

    :param store: the verifier's askar store (SQLite, or PostgreSQL shared by replicas).
    :param ttl: how long a nonce stays valid.
    :param clock: the time nonces are issued and consumed at (STYLE.md item 9).
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: timedelta = DEFAULT_NONCE_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if ttl <= timedelta(0):
            raise InvalidInputError("a nonce ttl must be positive")
        self._store = store
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def issue(
        self,
        *,
        audience: str,
        purpose: str | None = None,
        request: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> NonceRecord:
        """Create and store a nonce for one presentation request.

        :param nonce: a given value (tests); by default a fresh random one.
        :raises StorageError: ``storeDuplicate`` when ``nonce`` was issued already.
        """
        at = now or self._clock()
        record = NonceRecord(
            nonce=nonce or new_nonce(),
            audience=audience,
            purpose=purpose,
            expires=at + self._ttl,
            request=dict(request or {}),
        )
        value = {
            "audience": audience,
            "purpose": purpose,
            "expires": format_datetime(record.expires),
            "request": record.request,
        }
        async with self._store.session() as session:
            await session.insert(NONCE_CATEGORY, record.nonce, value, expiry_ms=self._expiry_ms())
        return record

    async def peek(self, nonce: object, *, now: datetime | None = None) -> NonceRecord:
        """The nonce's record if it was issued here, has not expired and is unused; nothing
        is consumed (to show a wallet what a request asked for, or to report on a
        presentation whose signature did not verify).

        :raises ProofError: ``nonceUnknown``, ``nonceExpired`` or ``nonceReplayed``.
        """
        value = _check_value(nonce)
        async with self._store.session() as session:
            found = await session.fetch(NONCE_CATEGORY, value)
            used = await session.fetch(USED_CATEGORY, value)
        record = _record(value, found)
        _check_expiry(record, now or self._clock())
        if used is not None:
            raise _replayed()
        return record

    async def consume(
        self, nonce: object, *, audience: str | None = None, now: datetime | None = None
    ) -> NonceRecord:
        """Use the nonce: it must be known, unexpired, unused and (when ``audience`` is given)
        issued for that audience. Exactly one call per nonce succeeds, across replicas.

        :raises ProofError: ``nonceUnknown``, ``nonceExpired``, ``nonceReplayed``, or
            ``INVALID_DOMAIN_ERROR`` when the nonce was issued for another audience.
        :raises StorageError: ``storeBackendError`` when the database fails.
        """
        value = _check_value(nonce)
        at = now or self._clock()
        async with self._store.transaction() as txn:
            record = _record(value, await txn.fetch(NONCE_CATEGORY, value))
            _check_expiry(record, at)
            if audience is not None and record.audience != audience:
                raise ProofError(
                    "the nonce was issued for another audience than this verifier",
                    code=ErrorCode.INVALID_DOMAIN_ERROR,
                    details={"reason": "audienceMismatch"},
                )
            try:
                await txn.insert(
                    USED_CATEGORY,
                    value,
                    {"used": format_datetime(at)},
                    expiry_ms=self._expiry_ms(),
                )
                await txn.commit()
            except StorageError as exc:
                if exc.code is ErrorCode.STORE_DUPLICATE:
                    raise _replayed() from None
                raise
        return record

    def _expiry_ms(self) -> int:
        return int((self._ttl + _PURGE_GRACE).total_seconds() * 1000)


def _check_value(nonce: object) -> str:
    if not isinstance(nonce, str) or not nonce or len(nonce) > _MAX_NONCE_LENGTH:
        raise ProofError(
            "the presentation carries no nonce this verifier could have issued",
            code=ErrorCode.NONCE_UNKNOWN,
            details={"reason": "malformed"},
        )
    return nonce


def _record(nonce: str, found: Any) -> NonceRecord:
    if found is None:
        raise ProofError(
            "the nonce was not issued by this verifier, or its request expired long ago; "
            "ask the verifier for a new presentation request",
            code=ErrorCode.NONCE_UNKNOWN,
        )
    value = found.json()
    return NonceRecord(
        nonce=nonce,
        audience=str(value["audience"]),
        purpose=value.get("purpose"),
        expires=parse_datetime(value["expires"], require_zone=True),
        request=dict(value.get("request") or {}),
    )


def _check_expiry(record: NonceRecord, now: datetime) -> None:
    if now >= record.expires:
        raise ProofError(
            "the presentation request (and its nonce) has expired; ask for a new one",
            code=ErrorCode.NONCE_EXPIRED,
            details={"expired": format_datetime(record.expires)},
        )


def _replayed() -> ProofError:
    return ProofError(
        "the nonce was used already: this presentation was submitted before (a replay)",
        code=ErrorCode.NONCE_REPLAYED,
    )
