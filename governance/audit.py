"""The operator's audit log: what it accredited, revoked, received and decided, hash-chained.

Each entry holds a sequence number, a time, an event name and identifier fields (DIDs, roles,
accreditation and registration ids; nothing else), the previous entry's hash, and its own
hash: SHA-256 over the RFC 8785 canonical JSON of all of that. Changing, removing or
reordering an entry breaks the chain at that entry (:meth:`OperatorAudit.verify`).

Appends are serialised by a head record locked for update in the same transaction (safe
across replicas on PostgreSQL); a lost race or a busy SQLite store is retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from agent.clock import Clock, format_datetime, utcnow
from agent.credentials import canonicalize
from agent.errors import InvalidInputError, StorageError
from agent.storage import Store, is_contention

__all__ = ["GENESIS", "AuditEntry", "AuditVerification", "OperatorAudit", "OperatorEvent"]

#: The ``prev`` of the first entry.
GENESIS: Final = "0" * 64
_ENTRY = "operator-audit"
_HEAD = ("operator-audit-head", "head")
_MAX_ATTEMPTS = 50
_MAX_FIELD = 2048


class OperatorEvent(StrEnum):
    OPERATOR_CREATED = "operator.created"
    ACCREDITATION_ISSUED = "accreditation.issued"
    ACCREDITATION_REVOKED = "accreditation.revoked"
    ACCREDITATION_SUSPENDED = "accreditation.suspended"
    ACCREDITATION_REINSTATED = "accreditation.reinstated"
    REGISTRATION_RECEIVED = "registration.received"
    REGISTRATION_APPROVED = "registration.approved"
    REGISTRATION_REJECTED = "registration.rejected"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    event: str
    fields: dict[str, str]
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "fields": self.fields,
            "prev": self.prev,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditVerification:
    """:param first_bad_seq: the first entry whose hash or link does not match, if any."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = ""


def _digest(seq: int, time: str, event: str, fields: dict[str, str], prev: str) -> str:
    body = {"seq": seq, "time": time, "event": event, "fields": fields, "prev": prev}
    return hashlib.sha256(canonicalize(body)).hexdigest()


def _name(seq: int) -> str:
    return f"{seq:012d}"


class OperatorAudit:
    """The hash-chained audit log in the operator's store."""

    def __init__(self, store: Store, *, clock: Clock = utcnow) -> None:
        self._store = store
        self._clock = clock

    async def append(self, event: OperatorEvent, **fields: str) -> AuditEntry:
        """Add one entry at the end of the chain.

        :raises InvalidInputError: a field value that is not a short string.
        """
        for key, value in fields.items():
            if not isinstance(value, str) or len(value) > _MAX_FIELD:
                raise InvalidInputError(f"audit field {key!r} must be a string (an identifier)")
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                return await self._append_once(event, fields)
            except StorageError as exc:
                if attempt == _MAX_ATTEMPTS or not is_contention(exc):
                    raise
            await asyncio.sleep(random.random() * min(0.002 * attempt, 0.05))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover

    async def _append_once(self, event: OperatorEvent, fields: dict[str, str]) -> AuditEntry:
        async with self._store.transaction() as txn:
            head = await txn.fetch(*_HEAD, for_update=True)
            seq, prev = (0, GENESIS) if head is None else (head.json()["seq"], head.json()["hash"])
            seq += 1
            time = format_datetime(self._clock())
            entry = AuditEntry(
                seq,
                time,
                str(event),
                dict(fields),
                prev,
                _digest(seq, time, str(event), fields, prev),
            )
            await txn.insert(_ENTRY, _name(seq), entry.to_json())
            value = {"seq": seq, "hash": entry.hash}
            if head is None:
                await txn.insert(*_HEAD, value)
            else:
                await txn.replace(*_HEAD, value)
            await txn.commit()
        return entry

    async def entries(self, *, since_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Entries after ``since_seq``, in order, at most ``limit``."""
        return [e for e in await self._all() if e.seq > since_seq][: max(limit, 0)]

    async def _all(self) -> list[AuditEntry]:
        async with self._store.session() as session:
            records = await session.fetch_all(_ENTRY)
        found = [r.json() for r in records]
        found.sort(key=lambda d: int(d["seq"]))
        return [
            AuditEntry(
                int(d["seq"]),
                str(d["time"]),
                str(d["event"]),
                dict(d["fields"]),
                d["prev"],
                d["hash"],
            )
            for d in found
        ]

    async def verify(self) -> AuditVerification:
        """Walk the whole chain; name the first entry that was changed, removed or reordered."""
        entries = await self._all()
        prev, expected_seq = GENESIS, 1
        for entry in entries:
            if entry.seq != expected_seq:
                return AuditVerification(
                    False, expected_seq - 1, expected_seq, "an entry is missing"
                )
            if entry.prev != prev:
                return AuditVerification(
                    False, entry.seq - 1, entry.seq, "its link to the previous entry is broken"
                )
            if _digest(entry.seq, entry.time, entry.event, entry.fields, entry.prev) != entry.hash:
                return AuditVerification(False, entry.seq - 1, entry.seq, "its content was changed")
            prev, expected_seq = entry.hash, expected_seq + 1
        async with self._store.session() as session:
            head = await session.fetch(*_HEAD)
        if entries and (head is None or head.json()["hash"] != prev):
            return AuditVerification(
                False, len(entries), len(entries), "entries after it were removed"
            )
        return AuditVerification(True, len(entries))
