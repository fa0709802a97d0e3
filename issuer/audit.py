"""A hash-chained, append-only audit log of what the hospital's issuer did, in its askar store.

Why: a hospital must be able to show, later and to an auditor, which credentials it issued,
revoked, suspended or reinstated, and which keys it created, rotated or retired, and that
nobody has quietly edited that history since. The log records **identifiers only** (credential
id, status list id and index, key multikey, batch id, actor), never health data: the log is
kept longer and shown to more people than the records it describes.

Entries
-------

Each :class:`AuditEntry` has ``seq`` (1, 2, 3, ... with no gaps), ``time``, ``event`` (one of
:class:`AuditEvent`), ``fields``, ``prev_hash`` (the previous entry's ``hash``; 64 zeros for
the first) and ``hash``: the SHA-256, hex, of the RFC 8785 (JCS) canonical JSON of the entry
without ``hash``. Changing any entry changes its hash, which no longer matches the one stored
or the next entry's ``prev_hash``.

Records (category / name), encrypted at rest like everything askar stores:

* ``audit_entry / <seq, 12 digits>``: the entries appended by one call, in *pages* of at most
  :data:`MAX_PAGE_ENTRIES` consecutive entries, one record per page. A page of one entry (every
  :meth:`AuditLog.append`) holds the entry itself, with the plaintext tag ``~seq`` (the same
  digits as the name). A page of ``k > 1`` entries is named after its first entry's ``seq``,
  holds ``{"entries": [entry, ...]}`` in sequence order and carries the plaintext tags ``~seq``
  (its first ``seq``) and ``~last`` (its last). Sequence numbers are not sensitive; the tags let
  a window of the log be read by range: the records with ``~seq`` from ``first -
  (MAX_PAGE_ENTRIES - 1)`` to ``last``, pages then cut to the window.
* ``audit_head / head``: ``{"seq": n, "hash": h}`` of the last entry.

Why pages: every askar record operation costs about 250-300 µs of CPU here, mostly fixed (the
FFI call and its thread hand-offs), and the hospital writes one ``credential.issued`` entry per
credential. Stored one record each, the entries of a group of concurrent issuance requests
would cost a large share of the issuance itself; stored as one page, they cost one insert per
group (measured on SQLite: a transaction of 32 entries went from 13.3 to 2.7 ms of CPU, of 8
from 5.0 to 1.8 ms). Pages change only the storage: the entries, their hashes and the chain are
exactly those that one record per entry would hold.

Appending, across replicas
--------------------------

:meth:`AuditLog.append` runs one transaction: fetch the head ``for_update`` (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite's write lock), insert entry ``seq + 1`` chained to the
head's hash, replace the head, commit. A second replica waits on the lock and then chains onto
the new head, so the sequence stays gap-free and totally ordered. The very first append inserts
the head; two replicas racing to do so get ``storeDuplicate`` in one of them, which retries
(as it does when SQLite reports ``BUSY``). Appends are therefore serialised: a few hundred
transactions per second across all replicas. A batch job writes one ``batch.started`` and one
``batch.finished``, not one entry per credential.

:meth:`AuditLog.append_many` chains several entries in one such transaction (one head lock,
one head write), and :meth:`AuditLog.append_in` does the same inside a transaction the caller
holds, so that an entry commits together with the records it describes (the hospital's
issuance records and their ``credential.issued`` entries, many requests at a time). Either way
the chain is exactly what one ``append`` per entry would have produced: consecutive ``seq``,
each ``prev_hash`` the hash before it. The entries of one such call are stored as one page (or
several, beyond :data:`MAX_PAGE_ENTRIES`), so a group of requests costs one record insert.

Verifying
---------

:meth:`AuditLog.verify` reads every entry in windows of sequence numbers by ``~seq`` and
reports the first bad ``seq`` and why (:class:`AuditVerification`):

* ``hashMismatch``: an entry's content was altered (its hash no longer matches), or a record
  holds neither an entry nor a page of entries;
* ``chainBroken``: an entry's ``prev_hash`` is not the previous entry's hash (an entry was
  altered and re-hashed, or replaced by another);
* ``missingEntry``: a sequence number has no entry (an entry was removed);
* ``seqMismatch``: a record holds another sequence number than its name and position in its
  page, its ``~seq``/``~last`` tags disagree with what it holds, or two records hold the same
  sequence number (entries moved, reordered or duplicated);
* ``truncated``: the head names a later entry than the last one found (the tail was removed);
* ``headMismatch``/``unexpectedEntry``: the head and the last entry disagree;
* ``anchorMismatch``: the chain does not contain an anchor kept elsewhere.

What it cannot see: someone with the store key who removes the tail *and* rolls the head back
consistently, or rewrites the whole chain. Against that, copy :meth:`AuditLog.head` (seq and
hash: no personal data) somewhere the issuer cannot rewrite (a signed daily report, a
transparency log, the auditor's mailbox) and pass it to ``verify(anchor=...)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, TypeAlias

from agent.clock import Clock, format_datetime
from agent.credentials.jcs import canonicalize
from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Record, Session, Store, is_contention
from agent.types import JSONObject

__all__ = [
    "ENTRY_CATEGORY",
    "FIELD_NAMES",
    "GENESIS_HASH",
    "HEAD_CATEGORY",
    "MAX_FIELD_LENGTH",
    "MAX_PAGE_ENTRIES",
    "AuditAnchor",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditVerification",
    "NewEntry",
]

#: The records holding entries and the head.
ENTRY_CATEGORY: Final = "audit_entry"
HEAD_CATEGORY: Final = "audit_head"
#: The ``prev_hash`` of the first entry.
GENESIS_HASH: Final = "0" * 64
#: The most entries one record (a page) holds: one call appending more writes several pages.
#: A reader looks this far back for the page holding a sequence number, so a larger cap makes
#: every read of a window fetch more records.
MAX_PAGE_ENTRIES: Final = 128
#: The longest field value accepted: identifiers are short; prose is not an identifier.
MAX_FIELD_LENGTH: Final = 200
#: The field names an entry may carry, all naming identifiers or counts.
FIELD_NAMES: Final = frozenset(
    {
        "actor",
        "batch_id",
        "count",
        "credential_id",
        "credential_format",
        "did",
        "failed",
        "key",
        "previous_key",
        "reason_code",
        "status_list_id",
        "status_list_index",
        "status_purpose",
        "total",
        "verification_method",
    }
)

#: One entry to append: the event and its fields (identifiers only).
NewEntry: TypeAlias = tuple[str, Mapping[str, str | int | bool | None]]

_HEAD_NAME: Final = "head"
_SEQ_DIGITS: Final = 12
_PAGE: Final = 1000
_MAX_ATTEMPTS: Final = 50
# Identifiers: URIs, DIDs and DID URLs, URNs, multikeys, list ids. No whitespace, no quotes or
# braces (JSON or prose), nothing outside printable ASCII.
_IDENTIFIER = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class AuditEvent(StrEnum):
    """What the issuer did; the only events the log accepts."""

    CREDENTIAL_ISSUED = "credential.issued"
    CREDENTIAL_REVOKED = "credential.revoked"
    CREDENTIAL_SUSPENDED = "credential.suspended"
    CREDENTIAL_REINSTATED = "credential.reinstated"
    KEY_CREATED = "key.created"
    KEY_ROTATED = "key.rotated"
    KEY_RETIRED = "key.retired"
    BATCH_STARTED = "batch.started"
    BATCH_FINISHED = "batch.finished"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the log; see the module docstring for the hash.

    :param fields: identifiers only: strings of URI characters, integers, booleans.
    """

    seq: int
    time: str
    event: str
    fields: dict[str, str | int | bool | None] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def unhashed(self) -> JSONObject:
        """The entry without ``hash``: what ``hash`` is computed over."""
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "fields": dict(self.fields),
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        """SHA-256, hex, of the JCS canonical form of :meth:`unhashed`."""
        return hashlib.sha256(canonicalize(self.unhashed())).hexdigest()

    def to_json(self) -> JSONObject:
        """The entry as stored and exported."""
        return {**self.unhashed(), "hash": self.hash}

    @classmethod
    def from_json(cls, value: Any) -> AuditEntry:
        """An entry read back from a record; shape errors surface in :meth:`AuditLog.verify`.

        :raises InvalidInputError: the value is not an entry object.
        """
        if not isinstance(value, Mapping):
            raise InvalidInputError("an audit entry must be a JSON object")
        try:
            return cls(
                seq=int(value["seq"]),
                time=str(value["time"]),
                event=str(value["event"]),
                fields=dict(value["fields"]),
                prev_hash=str(value["prev_hash"]),
                hash=str(value["hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError("an audit entry lacks a member or has a bad type") from exc


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """A point of the chain kept outside the store: ``seq`` and the entry's ``hash``."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The outcome of :meth:`AuditLog.verify`.

    :param ok: whether the whole chain verified.
    :param entries: how many entries were checked before the first problem (all, when ``ok``).
    :param first_bad_seq: the first sequence number that is wrong or missing, or ``None``.
    :param reason: a code for what is wrong (see the module docstring), or ``None``.
    :param head: the head as stored, when there is one.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head: AuditAnchor | None = None


class AuditLog:
    """The issuer's audit log in an askar store shared by every replica.

    :param store: an open store; not closed here.
    :param clock: gives the time written into entries (:func:`agent.clock.utcnow` in
        production).
    :param profile: the store profile, when not the store's default.
    :param extra_fields: field names to accept beside :data:`FIELD_NAMES`; they too must name
        identifiers.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        profile: str | None = None,
        extra_fields: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        extra = frozenset(extra_fields)
        for name in extra:
            if not _FIELD_NAME.fullmatch(name):
                raise InvalidInputError(
                    f"audit field name {name!r} must be lower_snake_case, at most 40 characters"
                )
        self._store = store
        self._clock = clock
        self._profile = profile
        self._fields = FIELD_NAMES | extra
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 (back-off only)

    def __repr__(self) -> str:
        return f"AuditLog(profile={self._profile!r})"

    async def append(self, event: str, **fields: str | int | bool | None) -> AuditEntry:
        """Add one entry at the end of the chain and return it, as committed.

        :raises InvalidInputError: ``auditEventUnknown`` for an event not in
            :class:`AuditEvent`; ``auditFieldRefused`` for a field name not accepted or a value
            that is not an identifier (a dict or list, a float, more than
            :data:`MAX_FIELD_LENGTH` characters, whitespace or other characters that do not
            occur in identifiers). The message names the field, never the value.
        :raises StorageError: the store fails, or stays busy after many retries.
        """
        (entry,) = await self.append_many([(event, fields)])
        return entry

    async def append_many(self, events: Sequence[NewEntry]) -> list[AuditEntry]:
        """Add ``(event, fields)`` entries at the end of the chain, in order, in one transaction.

        All are checked before anything is written: one refused entry refuses them all.

        :raises InvalidInputError: as :meth:`append`, for any of the entries.
        :raises StorageError: the store fails, or stays busy after many retries.
        """
        checked = self._check_events(events)
        if not checked:
            return []
        for number in range(1, _MAX_ATTEMPTS + 1):
            try:
                async with self._store.transaction(self._profile) as txn:
                    entries = await self._write(txn, checked)
                    await txn.commit()
                return entries
            except StorageError as exc:
                if number == _MAX_ATTEMPTS or not is_contention(exc):
                    raise
            await asyncio.sleep(self._rng.random() * min(0.002 * number, 0.05))
        raise AssertionError("unreachable")  # pragma: no cover

    async def append_in(self, txn: Session, events: Sequence[NewEntry]) -> list[AuditEntry]:
        """Chain ``(event, fields)`` entries inside ``txn``, a transaction the caller commits.

        Locks the head until ``txn`` ends, so keep the rest of the transaction short. The
        entries exist only if ``txn`` commits. On ``storeDuplicate`` (two replicas creating the
        first head) or a busy SQLite store, the caller rolls back and runs the transaction again.

        :raises InvalidInputError: as :meth:`append`; nothing is written then.
        :raises StorageError: the store fails.
        """
        if not txn.is_transaction:
            raise InvalidInputError("append_in needs a transaction, not a session")
        return await self._write(txn, self._check_events(events))

    def _check_events(
        self, events: Sequence[NewEntry]
    ) -> list[tuple[str, dict[str, str | int | bool | None]]]:
        return [
            (
                self._check_event(event),
                {name: self._check_field(name, value) for name, value in sorted(fields.items())},
            )
            for event, fields in events
        ]

    async def _write(
        self, txn: Session, checked: list[tuple[str, dict[str, str | int | bool | None]]]
    ) -> list[AuditEntry]:
        if not checked:
            return []
        head = await txn.fetch(HEAD_CATEGORY, _HEAD_NAME, for_update=True)
        if head is None:
            seq, prev_hash = 0, GENESIS_HASH
        else:
            anchor = _anchor(head)
            seq, prev_hash = anchor.seq, anchor.hash
        time = format_datetime(self._clock(), "clock()")
        entries = []
        for event, fields in checked:
            seq += 1
            entry = AuditEntry(seq=seq, time=time, event=event, fields=fields, prev_hash=prev_hash)
            entry = replace(entry, hash=entry.compute_hash())
            entries.append(entry)
            prev_hash = entry.hash
        for start in range(0, len(entries), MAX_PAGE_ENTRIES):
            await _insert_page(txn, entries[start : start + MAX_PAGE_ENTRIES])
        head_value = {"seq": seq, "hash": prev_hash}
        if head is None:
            await txn.insert(HEAD_CATEGORY, _HEAD_NAME, head_value)
        else:
            await txn.replace(HEAD_CATEGORY, _HEAD_NAME, head_value)
        return entries

    async def head(self) -> AuditAnchor | None:
        """The last entry's seq and hash, to keep outside the store as an anchor.

        :raises StorageError: the store fails.
        """
        async with self._store.session(self._profile) as session:
            record = await session.fetch(HEAD_CATEGORY, _HEAD_NAME)
        return None if record is None else _anchor(record)

    async def entries(self, since_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Up to ``limit`` entries after ``since_seq``, in sequence order (no verification).

        :raises InvalidInputError: a negative ``since_seq`` or a ``limit`` below 1.
        :raises StorageError: the store fails.
        """
        if since_seq < 0 or limit < 1:
            raise InvalidInputError("since_seq must be >= 0 and limit >= 1")
        return [entry for _, entry in await self._entries(since_seq, limit)]

    async def _entries(self, since_seq: int, limit: int) -> list[tuple[int, AuditEntry]]:
        """:meth:`entries`, each with the sequence number its record and page place it at."""
        async with self._store.session(self._profile) as session:
            slots = await _page(session, since_seq + 1, since_seq + limit)
        return [(slot.seq, AuditEntry.from_json(slot.value)) for slot in slots[:limit]]

    async def export_jsonl(self, write: Callable[[str], object], *, since_seq: int = 0) -> int:
        """Write the entries after ``since_seq`` as JSON lines (one entry per line, with
        ``\\n``) through ``write`` (e.g. ``file.write``); returns how many were written.

        The lines hold identifiers only, so an export can go to an auditor as it is; each line
        carries its hash, and the auditor can recompute the chain.

        :raises StorageError: the store fails.
        """
        written = 0
        cursor = since_seq
        while True:
            window = await self._entries(cursor, _PAGE)
            for _, entry in window:
                write(json.dumps(entry.to_json(), separators=(",", ":"), sort_keys=True) + "\n")
            written += len(window)
            if len(window) < _PAGE:
                return written
            # The position, not the entry's own ``seq``: an altered entry cannot send the
            # export back over entries already written.
            cursor = window[-1][0]

    async def verify(self, *, anchor: AuditAnchor | None = None) -> AuditVerification:
        """Check the whole chain against itself, its head and, if given, an outside anchor.

        Reads the entries in windows of 1,000 sequence numbers (about 10 ms each); a log of a
        million entries verifies in seconds. Never raises for a broken chain: that is the result.

        :raises StorageError: the store fails.
        """
        async with self._store.session(self._profile) as session:
            head_record = await session.fetch(HEAD_CATEGORY, _HEAD_NAME)
            head = None if head_record is None else _anchor(head_record)
            expected_prev = GENESIS_HASH
            expected_seq = 1
            checked = 0
            last_hash: str | None = None
            anchor_seen = anchor is None
            while True:
                found: dict[int, _Slot] = {}
                claimed_twice: set[int] = set()
                for read in await _page(session, expected_seq, expected_seq + _PAGE - 1):
                    if found.setdefault(read.seq, read).record.name != read.record.name:
                        claimed_twice.add(read.seq)
                end = expected_seq + _PAGE
                while expected_seq < end:
                    slot = found.get(expected_seq)
                    if slot is None:
                        break
                    problem, entry_hash = _check_slot(
                        slot, expected_seq, expected_prev, alone=expected_seq not in claimed_twice
                    )
                    if problem is not None:
                        return AuditVerification(False, checked, expected_seq, problem, head)
                    if anchor is not None and anchor.seq == expected_seq:
                        if anchor.hash != entry_hash:
                            return AuditVerification(
                                False, checked, expected_seq, "anchorMismatch", head
                            )
                        anchor_seen = True
                    expected_prev = last_hash = entry_hash
                    checked += 1
                    expected_seq += 1
                if expected_seq < end:
                    break  # A sequence number had no entry: the chain ends or has a gap.
            last_seq = expected_seq - 1
            # A page holds consecutive entries, so no record named before the gap holds one
            # after it: any entry after the gap is in a record named after it.
            beyond = await _records(session, expected_seq + 1, None, limit=1)
        if beyond:
            return AuditVerification(False, checked, expected_seq, "missingEntry", head)
        if head is None:
            if checked:
                return AuditVerification(False, checked, 1, "headMismatch", head)
        elif head.seq > last_seq:
            reason = "truncated" if head.seq == last_seq + 1 else "missingEntry"
            return AuditVerification(False, checked, last_seq + 1, reason, head)
        elif head.seq < last_seq:
            return AuditVerification(False, checked, head.seq + 1, "unexpectedEntry", head)
        elif head.hash != last_hash:
            return AuditVerification(False, checked, last_seq, "headMismatch", head)
        if not anchor_seen:
            assert anchor is not None
            return AuditVerification(False, checked, anchor.seq, "anchorMismatch", head)
        return AuditVerification(True, checked, None, None, head)

    def _check_event(self, event: str) -> str:
        try:
            return str(AuditEvent(event))
        except ValueError:
            raise InvalidInputError(
                f"audit event {str(event)[:40]!r} is not one of "
                f"{', '.join(sorted(e.value for e in AuditEvent))}",
                code=ErrorCode.AUDIT_EVENT_UNKNOWN,
            ) from None

    def _check_field(self, name: str, value: object) -> str | int | bool | None:
        if name not in self._fields:
            raise _refused(
                name,
                "is not an audit field name; the log records identifiers only "
                f"({', '.join(sorted(self._fields))})",
                "unknownField",
            )
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            if abs(value) > 2**53 - 1:
                raise _refused(name, "is an integer too large for JSON", "tooLarge")
            return value
        if not isinstance(value, str):
            raise _refused(
                name,
                f"is a {type(value).__name__}; audit fields are identifiers (strings or "
                "integers), never structured data, which could carry health data",
                "notIdentifier",
            )
        if len(value) > MAX_FIELD_LENGTH:
            raise _refused(
                name,
                f"is longer than {MAX_FIELD_LENGTH} characters; an identifier is shorter, and "
                "text this long could carry health data",
                "tooLong",
            )
        if not _IDENTIFIER.fullmatch(value):
            raise _refused(
                name,
                "is not an identifier (URI characters only, no spaces, quotes or braces); "
                "free text could carry health data",
                "notIdentifier",
            )
        return value


def _refused(name: str, what: str, reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"audit field {name[:40]!r} {what}",
        code=ErrorCode.AUDIT_FIELD_REFUSED,
        details={"field": name[:40], "reason": reason},
    )


def _seq_name(seq: int) -> str:
    return f"{seq:0{_SEQ_DIGITS}d}"


def _anchor(record: Record) -> AuditAnchor:
    value = record.json()
    if not isinstance(value, dict):
        raise StorageError("the audit head record is not a JSON object")
    return AuditAnchor(seq=int(value["seq"]), hash=str(value["hash"]))


@dataclass(frozen=True, slots=True)
class _Slot:
    """One entry as read from its record: where the record and its page place it.

    :param seq: the record's name plus the entry's position in its page.
    :param value: the entry as stored (JSON), or ``None`` when the record holds neither an
        entry nor a page of entries.
    :param record: the record holding it.
    :param sound: whether the record's tags and size agree with the entries it holds.
    """

    seq: int
    value: Any
    record: Record
    sound: bool


async def _insert_page(txn: Session, entries: Sequence[AuditEntry]) -> None:
    """One record for consecutive ``entries``: the entry itself when alone, else a page."""
    first = _seq_name(entries[0].seq)
    if len(entries) == 1:
        await txn.insert(ENTRY_CATEGORY, first, entries[0].to_json(), tags={"~seq": first})
        return
    last = _seq_name(entries[-1].seq)
    value = {"entries": [entry.to_json() for entry in entries]}
    await txn.insert(ENTRY_CATEGORY, first, value, tags={"~seq": first, "~last": last})


def _slots(record: Record) -> list[_Slot]:
    """The entries ``record`` holds, each placed at its sequence number."""
    if not record.name.isdigit():
        return []
    first = int(record.name)
    tagged = record.tags.get("~seq") == record.name
    try:
        value = record.json()
    except InvalidInputError:  # Not JSON: neither an entry nor a page.
        return [_Slot(first, None, record, tagged)]
    if not isinstance(value, dict) or "entries" not in value:
        # One entry (or something else, which fails as an entry); a ``~last`` tag, if any, is
        # its own seq.
        sound = tagged and record.tags.get("~last", record.name) == record.name
        return [_Slot(first, value, record, sound)]
    entries = value["entries"]
    if len(value) != 1 or not isinstance(entries, list) or not entries:
        return [_Slot(first, None, record, tagged)]
    sound = (
        tagged
        and len(entries) <= MAX_PAGE_ENTRIES
        and record.tags.get("~last") == _seq_name(first + len(entries) - 1)
    )
    return [_Slot(first + i, entry, record, sound) for i, entry in enumerate(entries)]


async def _page(session: Session, first: int, last: int) -> list[_Slot]:
    """The entries with ``first <= seq <= last``, in sequence order (a sequence number held by
    two records comes twice, ordered by record name).

    The page holding ``first`` may be named up to ``MAX_PAGE_ENTRIES - 1`` before it.
    """
    records = await _records(session, max(1, first - (MAX_PAGE_ENTRIES - 1)), last)
    slots = [slot for record in records for slot in _slots(record) if first <= slot.seq <= last]
    return sorted(slots, key=lambda slot: (slot.seq, slot.record.name))


async def _records(
    session: Session, first: int, last: int | None, *, limit: int | None = None
) -> list[Record]:
    """The entry records whose ``~seq`` tag is in ``first..last`` (``last=None``: no upper
    bound)."""
    # WQL takes one operator per tag object; a range is an $and of two.
    query: dict[str, Any] = {"~seq": {"$gte": _seq_name(first)}}
    if last is not None:
        query = {"$and": [query, {"~seq": {"$lte": _seq_name(last)}}]}
    return await session.fetch_all(ENTRY_CATEGORY, query, limit=limit)


def _check_slot(slot: _Slot, seq: int, prev_hash: str, *, alone: bool) -> tuple[str | None, str]:
    """Why ``slot`` is not the entry ``seq`` chained after ``prev_hash`` (``None`` when it is),
    and the entry's hash. ``alone``: no other record holds ``seq``."""
    try:
        entry = AuditEntry.from_json(slot.value)
        if entry.seq != seq or not slot.sound or not alone:
            return "seqMismatch", entry.hash
        if entry.compute_hash() != entry.hash:
            return "hashMismatch", entry.hash
    except InvalidInputError:  # Not an entry any more, or not JSON that JCS can hash.
        return "hashMismatch", ""
    if entry.prev_hash != prev_hash:
        return "chainBroken", entry.hash
    return None, entry.hash
