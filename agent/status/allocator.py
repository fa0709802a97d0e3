"""Issuer side of Bitstring Status List: hand out random, never-reused list indexes; set status.

Bitstring Status List v1.0 (https://www.w3.org/TR/vc-bitstring-status-list/, "BSL") asks
issuers to assign indexes at random (section 2.1 ``statusListIndex``; Privacy Considerations,
"Decoy Values": "allocate status list entry indexes randomly"), so that an index reveals
neither when a credential was issued nor how many were. An index must also never be given to two
credentials: revoking one would revoke the other. Both must hold when several replicas of the
issuer share one PostgreSQL database (or processes share one SQLite file), and across restarts.

Design: one allocation bitmap per purpose, locked row
---------------------------------------------------------

Records (category / name, in the askar store, so encrypted at rest like everything else):

* ``status_list_head / <purpose>``: the list currently being filled for that purpose, its size,
  how many of its indexes are taken, and its **allocation bitmap** (one bit per index, set when
  the index was handed out), base64url in a JSON value (22 KB for 131,072 entries).
* ``status_list / <list_id>``: one per list: purpose, size, bitstring length, ``version`` and
  the published ``encodedList`` (the *status* bits, GZIP + multibase, a few hundred bytes
  while few bits are set).

:meth:`StatusListAllocator.allocate_many` runs one transaction: ``fetch(head, for_update=True)``
locks the head row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write lock), picks ``n``
free indexes at random from the bitmap, sets their bits, opens a new list (a new random
``list_id``) whenever the current one is full, and writes the head back. Any other allocator
of the same purpose, in this process or another, waits for the lock and then sees the updated
bitmap, so an index can be handed out only once. The first head is created with ``insert``;
two replicas racing to create it get ``storeDuplicate`` in one of them, which retries (as it
does on SQLite ``BUSY``). Indexes are returned only after the commit.

Why not one record per allocated (list, index), relying on the unique constraint? It is
correct too, but askar has no batch insert and each insert costs 0.3 to 0.6 ms of FFI and
encryption. Measured here, 10k such inserts in one transaction took 2.9 s on a SQLite file and
4.3 s on PostgreSQL: 29 s and 43 s for 100k, most of the 60 s budget for issuing 100k
credentials, before any signing. (``reference/packages.md`` section 3 found 32 s and 60 s.)
The bitmap costs one fetch and one replace per transaction, whatever ``n`` is. Measured with
``list_size=131072`` (a 16 KB bitmap), one process, loopback PostgreSQL 15:

=========================  ======================  =====================  ==================
backend                    allocate_many(100_000)  allocate() (1,000x)    set_status() (200x)
=========================  ======================  =====================  ==================
SQLite file                0.20 s                  1.5 ms each            3.2 ms each
PostgreSQL                 0.22 s                  2.0 ms each            3.2 ms each
=========================  ======================  =====================  ==================

A second ``allocate_many(100_000)``, which fills the first list and opens another, took the
same time. Four processes allocating 500 indexes each, one at a time, on one database: 2,000
distinct indexes in 4.6 s (SQLite) and 6.1 s (PostgreSQL), including process start-up.

The price is that allocations of one purpose are serialised on the head row: about 500 to 650
single allocations per second per purpose across all replicas. Issue in batches for bulk jobs.

Reserved blocks, for one credential at a time
---------------------------------------------

A service issuing one credential per request would pay that transaction per credential and
purpose, serialised across replicas. :class:`ReservedIndexes` takes a *block* of indexes with
one ``allocate_many`` and hands them out from memory, one transaction per block instead of per
credential. Blocks start small (8) and double with each reservation up to 1,024, so that a
short-lived process (one CLI command) strands a few indexes, not a thousand.

A block's indexes are marked allocated in the bitmap when it is reserved, so the guarantees
above hold unchanged: they are random (drawn as any others, handed out in the random order
drawn), no other process or replica can receive them, and after a crash or restart the unused
rest of a block is simply never used: lost, never given twice. A lost index is
indistinguishable from an issued credential that was never revoked, so herd privacy is
untouched; the cost is at most one block per purpose per process start.

Random choice: while at least four times ``n`` indexes are free, indexes are drawn uniformly
(``rng.randrange``) and drawn again when taken; otherwise the free indexes are listed and
``rng.sample`` picks among them, so the last free index of a list costs no more than the first.

Status updates (:meth:`StatusListAllocator.set_status`) lock the list's own record, not the
head, so revocations do not wait for issuance. Revocation and refresh are final (BSL section
2.1): clearing such a bit is refused.

Small lists: every published bitstring has at least 131,072 entries (BSL section 3.2 step 9).
``list_size`` only bounds how many of them are handed out before the next list is opened.
Sizes below 131,072 weaken herd privacy and need ``insecure_small_lists=True`` (tests that
exercise rollover use 64).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple, TypeVar

from agent.credentials.status_list import (
    FINAL_PURPOSES,
    MIN_ENTRIES,
    Bitstring,
    decode_list,
    encode_list,
    status_entry,
    status_list_credential,
)
from agent.errors import InvalidInputError, StorageError
from agent.storage import Session, Store, is_contention
from agent.types import JSONObject

__all__ = [
    "ALLOCATABLE_PURPOSES",
    "HEAD_CATEGORY",
    "LIST_CATEGORY",
    "EncodedList",
    "ReservedIndexes",
    "StatusListAllocator",
]

#: The record holding, per purpose, the list being filled and its allocation bitmap.
HEAD_CATEGORY: Final = "status_list_head"
#: The record holding, per list, its published status bits.
LIST_CATEGORY: Final = "status_list"
#: Purposes the allocator serves: one-bit statuses. ``message`` lists need a statusSize and
#: messages chosen per deployment, which this allocator does not model.
ALLOCATABLE_PURPOSES: Final = frozenset({"revocation", "suspension", "refresh"})

_MAX_ATTEMPTS: Final = 50
#: The most indexes :class:`ReservedIndexes` reserves per transaction: at 1,000 credentials a
#: second, one transaction per purpose a second; a crash loses at most this many per purpose.
DEFAULT_BLOCK: Final = 1024
#: The first block's size; each next block is twice the last, up to the maximum.
FIRST_BLOCK: Final = 8
_T = TypeVar("_T")


class EncodedList(NamedTuple):
    """A list's published bitstring and its version (incremented by every status change).

    :param encoded_list: the ``encodedList`` value (``u`` + base64url of GZIP).
    :param version: 0 when no status was ever set, then one more per change.
    """

    encoded_list: str
    version: int

    @property
    def etag(self) -> str:
        """A strong HTTP ETag for the list credential's bits: a digest of version and bits."""
        digest = hashlib.sha256(f"{self.version}:{self.encoded_list}".encode()).hexdigest()
        return f'"{digest[:32]}"'


@dataclass(slots=True)
class _Head:
    """The decoded head record of one purpose."""

    list_id: str
    size: int
    allocated: int
    bitmap: bytearray
    lists: int

    def to_json(self, purpose: str) -> JSONObject:
        return {
            "purpose": purpose,
            "list": self.list_id,
            "size": self.size,
            "allocated": self.allocated,
            "lists": self.lists,
            "bitmap": base64.urlsafe_b64encode(bytes(self.bitmap)).decode("ascii"),
        }

    @classmethod
    def from_json(cls, value: Any) -> _Head:
        return cls(
            list_id=str(value["list"]),
            size=int(value["size"]),
            allocated=int(value["allocated"]),
            bitmap=bytearray(base64.urlsafe_b64decode(value["bitmap"])),
            lists=int(value["lists"]),
        )

    def is_taken(self, index: int) -> bool:
        return bool(self.bitmap[index >> 3] & (0x80 >> (index & 7)))


# For each byte value, the bit offsets (0 = most significant) that are clear.
_FREE_OFFSETS: Final = tuple(
    tuple(offset for offset in range(8) if not byte & (0x80 >> offset)) for byte in range(256)
)


class StatusListAllocator:
    """Allocates status list indexes in an askar store and keeps each list's status bits.

    :param store: an open store shared by every replica of the issuer; not closed here.
    :param issuer: the issuer DID, written into list credentials.
    :param base_url: where lists are published; a list's URL is ``<base_url>/<list_id>``.
    :param list_size: indexes handed out per list before the next list opens (at most the
        bitstring length). Applies to lists opened from now on.
    :param rng: the randomness for indexes and list ids; pass a seeded ``random.Random`` only
        in tests.
    :param insecure_small_lists: allow ``list_size`` below 131,072, for tests only: a small
        list gives its holders a small crowd to hide in.
    :raises InvalidInputError: a ``list_size`` below 1, or below 131,072 without
        ``insecure_small_lists``; a ``base_url`` that is not http(s).
    """

    def __init__(
        self,
        store: Store,
        *,
        issuer: str,
        base_url: str,
        list_size: int = MIN_ENTRIES,
        rng: random.Random | None = None,
        insecure_small_lists: bool = False,
        profile: str | None = None,
    ) -> None:
        if isinstance(list_size, bool) or not isinstance(list_size, int) or list_size < 1:
            raise InvalidInputError(f"list_size must be a positive integer, not {list_size!r}")
        if list_size < MIN_ENTRIES and not insecure_small_lists:
            raise InvalidInputError(
                f"list_size {list_size} is below the {MIN_ENTRIES} entries that give herd "
                "privacy (Bitstring Status List section 3.2); pass insecure_small_lists=True "
                "only in tests",
                details={"listSize": list_size, "minimum": MIN_ENTRIES},
            )
        if not base_url.startswith(("https://", "http://")):
            raise InvalidInputError(f"base_url must be an http(s) URL, not {base_url!r}")
        self._store = store
        self._issuer = issuer
        self._base_url = base_url.rstrip("/")
        self._list_size = list_size
        self._rng = rng if rng is not None else secrets.SystemRandom()
        self._profile = profile

    def __repr__(self) -> str:
        return f"StatusListAllocator(base_url={self._base_url!r}, list_size={self._list_size})"

    @property
    def issuer(self) -> str:
        """The issuer written into list credentials."""
        return self._issuer

    def list_url(self, list_id: str) -> str:
        """The URL a list is published at, and the ``id`` of its list credential."""
        return f"{self._base_url}/{list_id}"

    def entry(self, list_id: str, index: int, purpose: str) -> JSONObject:
        """The ``credentialStatus`` entry for an allocated index (BSL section 2.1)."""
        return status_entry(self.list_url(list_id), index, purpose)

    # --- allocation -------------------------------------------------------------------------

    async def allocate(self, purpose: str) -> tuple[str, int]:
        """One fresh index: ``(list_id, index)``, random within the current list.

        :raises InvalidInputError: ``purpose`` is not revocation, suspension or refresh.
        :raises StorageError: the store fails, or stays busy after many retries.
        """
        (allocation,) = await self.allocate_many(purpose, 1)
        return allocation

    async def allocate_many(self, purpose: str, n: int) -> list[tuple[str, int]]:
        """``n`` fresh indexes in one transaction, in random order; see the module docstring.

        When the current list has fewer than ``n`` free indexes, it is filled and the rest come
        from new lists.

        :raises InvalidInputError: a bad ``purpose`` or ``n`` below 0.
        :raises StorageError: the store fails, or stays busy after many retries.
        """
        _check_purpose(purpose)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInputError(f"n must be an integer >= 0, not {n!r}")
        if n == 0:
            return []
        return await self._retrying(lambda: self._allocate_once(purpose, n))

    async def _allocate_once(self, purpose: str, n: int) -> list[tuple[str, int]]:
        async with self._store.transaction(self._profile) as txn:
            record = await txn.fetch(HEAD_CATEGORY, purpose, for_update=True)
            head = None if record is None else _Head.from_json(record.json())
            result: list[tuple[str, int]] = []
            remaining = n
            while remaining:
                if head is None or head.allocated >= head.size:
                    head = await self._open_list(txn, purpose, head)
                take = min(remaining, head.size - head.allocated)
                for index in _choose(head, take, self._rng):
                    head.bitmap[index >> 3] |= 0x80 >> (index & 7)
                    result.append((head.list_id, index))
                head.allocated += take
                remaining -= take
            assert head is not None  # n > 0, so the loop ran at least once.
            if record is None:
                await txn.insert(HEAD_CATEGORY, purpose, head.to_json(purpose))
            else:
                await txn.replace(HEAD_CATEGORY, purpose, head.to_json(purpose))
            await txn.commit()
        return result

    async def _open_list(self, txn: Session, purpose: str, previous: _Head | None) -> _Head:
        """Insert a new, all-zero list and return the head that fills it."""
        size = self._list_size
        length = max(MIN_ENTRIES, -(-size // 8) * 8)
        list_id = f"{self._rng.getrandbits(64):016x}"
        await txn.insert(
            LIST_CATEGORY,
            list_id,
            {
                "purpose": purpose,
                "size": size,
                "length": length,
                "version": 0,
                "encodedList": encode_list(Bitstring(length)),
            },
            tags={"purpose": purpose},
        )
        lists = 1 if previous is None else previous.lists + 1
        return _Head(list_id, size, 0, bytearray(-(-size // 8)), lists)

    async def _retrying(self, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """Run a transaction again when a concurrent replica won a race or the store was busy."""
        for number in range(1, _MAX_ATTEMPTS + 1):
            try:
                return await attempt()
            except StorageError as exc:
                if number == _MAX_ATTEMPTS or not is_contention(exc):
                    raise
            await asyncio.sleep(self._rng.random() * min(0.002 * number, 0.05))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- status -----------------------------------------------------------------------------

    async def set_status(
        self,
        list_id: str,
        index: int,
        purpose: str,
        value: bool,
        *,
        before_commit: Callable[[Session], Awaitable[object]] | None = None,
    ) -> bool:
        """Set (revoke, suspend) or clear (reinstate) the status bit of an allocated index.

        Locks only the list's record. Setting a bit to the value it has changes nothing.

        :param before_commit: also run in the same transaction, just before it commits (whether
            or not the bit changed), e.g. to append the audit entry of the change, so that
            neither commits without the other. Run again if the transaction is retried.
        :returns: whether the list changed (and its version went up).
        :raises InvalidInputError: the list has another purpose; ``index`` is outside the list
            or was never allocated; clearing a revocation or refresh, which are final.
        :raises StorageError: ``storeRecordNotFound`` for an unknown ``list_id``.
        """
        _check_purpose(purpose)
        return await self._retrying(
            lambda: self._set_once(list_id, index, purpose, value, before_commit)
        )

    async def _set_once(
        self,
        list_id: str,
        index: int,
        purpose: str,
        value: bool,
        before_commit: Callable[[Session], Awaitable[object]] | None,
    ) -> bool:
        async with self._store.transaction(self._profile) as txn:
            record = await txn.get(LIST_CATEGORY, list_id, for_update=True)
            meta = record.json()
            _check_list_purpose(meta, list_id, purpose)
            size = int(meta["size"])
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                raise InvalidInputError(
                    f"index {index!r} is outside list {list_id}, which has {size} indexes",
                    details={"listId": list_id, "index": index},
                )
            head_record = await txn.fetch(HEAD_CATEGORY, purpose)
            if head_record is not None:
                head = _Head.from_json(head_record.json())
                # Lists before the head's are full: all their indexes were allocated.
                if head.list_id == list_id and not head.is_taken(index):
                    raise InvalidInputError(
                        f"index {index} of list {list_id} was never allocated; set the status "
                        "only of indexes allocate() returned",
                        details={"listId": list_id, "index": index},
                    )
            bits = decode_list(meta["encodedList"], min_entries=MIN_ENTRIES)
            current = bits.get(index)
            if current == value:
                if before_commit is not None:
                    await before_commit(txn)
                    await txn.commit()
                return False
            if current and purpose in FINAL_PURPOSES:
                raise InvalidInputError(
                    f"{purpose} is final (Bitstring Status List section 2.1): index {index} of "
                    f"list {list_id} cannot be reinstated; issue a new credential instead",
                    details={"listId": list_id, "index": index, "reason": "statusIsFinal"},
                )
            bits.set(index, value)
            meta["encodedList"] = encode_list(bits)
            meta["version"] = int(meta["version"]) + 1
            await txn.replace(LIST_CATEGORY, list_id, meta, tags={"purpose": purpose})
            if before_commit is not None:
                await before_commit(txn)
            await txn.commit()
        return True

    async def status(self, list_id: str, index: int, purpose: str) -> bool:
        """Whether the status bit of ``index`` is set, as last committed.

        :raises InvalidInputError: the list has another purpose.
        :raises StorageError: ``storeRecordNotFound`` for an unknown ``list_id``.
        """
        encoded, _ = await self.encoded(list_id, purpose)
        return decode_list(encoded).get(index)

    async def encoded(self, list_id: str, purpose: str) -> EncodedList:
        """The list's ``encodedList`` and version, for publishing (use ``.etag`` for HTTP).

        :raises InvalidInputError: the list has another purpose.
        :raises StorageError: ``storeRecordNotFound`` for an unknown ``list_id``.
        """
        async with self._store.session(self._profile) as session:
            record = await session.get(LIST_CATEGORY, list_id)
        meta = record.json()
        _check_list_purpose(meta, list_id, purpose)
        return EncodedList(str(meta["encodedList"]), int(meta["version"]))

    async def list_credential(
        self,
        list_id: str,
        purpose: str,
        *,
        valid_from: datetime,
        valid_until: datetime | None = None,
        ttl: timedelta | None = None,
    ) -> JSONObject:
        """The unsigned ``BitstringStatusListCredential`` of a list, as it stands now.

        Sign it with ``agent.credentials.proofs.add_proof`` before publishing.

        :raises InvalidInputError: the list has another purpose.
        :raises StorageError: ``storeRecordNotFound`` for an unknown ``list_id``.
        """
        encoded, _ = await self.encoded(list_id, purpose)
        return status_list_credential(
            self.list_url(list_id), self._issuer, purpose, encoded, valid_from, valid_until, ttl=ttl
        )


class ReservedIndexes:
    """Hands out indexes from blocks reserved in one transaction each (module docstring).

    One per process (or per :class:`StatusListAllocator` user in it); safe for concurrent tasks
    of one event loop. Use it for one-at-a-time issuance; a batch that knows its size calls
    :meth:`StatusListAllocator.allocate_many` directly.

    :param allocator: reserves the blocks.
    :param block: the most indexes reserved per transaction (at least 1).
    :param first_block: the first reservation's size (per purpose); each next one is twice
        the last, up to ``block``.
    :raises InvalidInputError: ``block`` or ``first_block`` below 1.
    """

    def __init__(
        self,
        allocator: StatusListAllocator,
        *,
        block: int = DEFAULT_BLOCK,
        first_block: int = FIRST_BLOCK,
    ) -> None:
        for name, value in (("block", block), ("first_block", first_block)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")
        self._allocator = allocator
        self._block = block
        self._first_block = min(first_block, block)
        self._next_block: dict[str, int] = {}
        self._reserved: dict[str, list[tuple[str, int]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"ReservedIndexes(block={self._block})"

    @property
    def allocator(self) -> StatusListAllocator:
        """The allocator blocks are reserved from."""
        return self._allocator

    def available(self, purpose: str) -> int:
        """How many reserved indexes of ``purpose`` are left in memory."""
        return len(self._reserved.get(purpose, ()))

    async def take(self, purpose: str, n: int = 1) -> list[tuple[str, int]]:
        """``n`` indexes never handed out before, reserving a new block when too few are left.

        :raises InvalidInputError: a bad ``purpose`` or ``n`` below 0.
        :raises StorageError: reserving a block failed (nothing is handed out then).
        """
        _check_purpose(purpose)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInputError(f"n must be an integer >= 0, not {n!r}")
        lock = self._locks.setdefault(purpose, asyncio.Lock())
        async with lock:
            reserved = self._reserved.setdefault(purpose, [])
            if len(reserved) < n:
                size = self._next_block.get(purpose, self._first_block)
                more = max(size, n - len(reserved))
                reserved.extend(await self._allocator.allocate_many(purpose, more))
                self._next_block[purpose] = min(self._block, size * 2)
            taken = reserved[len(reserved) - n :]
            del reserved[len(reserved) - n :]
        return taken


def _check_purpose(purpose: str) -> None:
    if purpose not in ALLOCATABLE_PURPOSES:
        raise InvalidInputError(
            f"status purpose {purpose!r} is not one the allocator serves: "
            f"{', '.join(sorted(ALLOCATABLE_PURPOSES))}",
            details={"statusPurpose": str(purpose)[:40]},
        )


def _check_list_purpose(meta: Any, list_id: str, purpose: str) -> None:
    if meta.get("purpose") != purpose:
        raise InvalidInputError(
            f"list {list_id} is a {meta.get('purpose')} list, not a {purpose} list",
            details={"listId": list_id, "statusPurpose": purpose},
        )


def _choose(head: _Head, k: int, rng: random.Random) -> list[int]:
    """``k`` distinct free indexes of ``head``'s list, uniformly at random, in random order."""
    free = head.size - head.allocated
    if k * 4 <= free:
        chosen: dict[int, None] = {}
        while len(chosen) < k:
            index = rng.randrange(head.size)
            if index not in chosen and not head.is_taken(index):
                chosen[index] = None
        return list(chosen)
    candidates = _free_indexes(head)
    return rng.sample(candidates, k)


def _free_indexes(head: _Head) -> list[int]:
    """Every index of ``head``'s list not yet allocated, ascending."""
    found: list[int] = []
    bitmap, size = head.bitmap, head.size
    for position, byte in enumerate(bitmap):
        if byte == 0xFF:
            continue
        base = position * 8
        found.extend(base + offset for offset in _FREE_OFFSETS[byte] if base + offset < size)
    return found
