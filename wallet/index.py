"""An in-memory search index of an open wallet: what :mod:`wallet.search` queries, without SQL.

askar decrypts every row (and every tag of it) that a query returns, and filters encrypted tags
in SQL without statistics: a selective search at 10,000 credentials costs 6 to 9 ms, a broad one
grows by 0.15 to 0.35 ms a hit. :class:`SearchIndex` holds, per credential, exactly what a
search filters on and returns: the equality tags of its metadata record (types, issuer,
format, FHIR codes), the ``w:<hmac>`` tags of its words record (never the words: the index has
what the store's tags have), the ``~issued`` day, and the :class:`wallet.StoredCredential`
metadata a search answers with. A search runs the same WQL that :func:`wallet.search.build_filter`
makes for askar (:func:`index_query`) as a few set intersections.

It lives only in the memory of the process that unlocked the wallet, as the decrypted records
do while they are read; nothing of it is written anywhere. Building it reads every metadata and
words record once (seconds at 10,000 credentials), so it is opt-in for long-lived processes
(the wallet service): :meth:`wallet.Wallet.load_search_index`, or
``open_wallet(..., search_index=True)``.

Staying in step with the store, also across processes (the service and ``mydata wallet add``
on one file): every write of credentials (add, remove, restore) replaces the encrypted
``wallet-index/generation`` record with a fresh random token in the same transaction
(:func:`mark_changed`). The index remembers the token it reflects; a search first reads the
record (one small fetch) and rebuilds the index when another writer changed it. The wallet's
own add and remove update the index in place when the token they replace is the index's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from agent.storage import Session

__all__ = [
    "GENERATION",
    "IndexEntry",
    "IndexQuery",
    "SearchIndex",
    "current_generation",
    "index_query",
    "mark_changed",
    "tag_keys",
]

T = TypeVar("T")

#: Category and name of the record whose value changes with every write of credentials.
GENERATION: Final = ("wallet-index", "generation")


async def current_generation(session: Session) -> str | None:
    """The store's generation token (``None``: never written, e.g. a restored wallet)."""
    record = await session.fetch(*GENERATION)
    return None if record is None else record.value.decode("ascii")


async def mark_changed(txn: Session) -> tuple[str | None, str]:
    """Replace the generation token in ``txn`` (a transaction that writes credentials).

    :returns: the token replaced and the new one.
    """
    record = await txn.fetch(*GENERATION, for_update=True)
    token = secrets.token_hex(16)
    if record is None:
        await txn.insert(*GENERATION, token.encode("ascii"))
        return None, token
    await txn.replace(*GENERATION, token.encode("ascii"))
    return record.value.decode("ascii"), token


#: The tags an index keeps as keys: equality tags whose value is ``"1"`` (``t:``, ``c:``, ``k:``,
#: ``w:``) by name; these by ``name=value``. ``id``, ``hash`` and ``~until`` are not searched.
_VALUED_TAGS: Final = frozenset({"issuer", "format"})
_ISSUED: Final = "~issued"


def tag_keys(tags: Mapping[str, str]) -> frozenset[str]:
    """The index keys of a record's tags (metadata and words records alike)."""
    keys = set()
    for name, value in tags.items():
        if name in _VALUED_TAGS:
            keys.add(f"{name}={value}")
        elif value == "1":
            keys.add(name)
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class IndexQuery:
    """A search as the index runs it: keys that must all be present, an issuance-day range."""

    keys: tuple[str, ...]
    day_from: str | None
    day_to: str | None


def index_query(*wql: Mapping[str, Any] | None) -> IndexQuery:
    """The :class:`IndexQuery` of the WQL filters :func:`wallet.search.build_filter` makes
    (equality clauses, ``~issued`` ``$gte``/``$lte``, ``$and`` of them); anything else is a
    programming error (:class:`ValueError`)."""
    keys: list[str] = []
    day_from: str | None = None
    day_to: str | None = None

    def walk(clause: Mapping[str, Any]) -> None:
        nonlocal day_from, day_to
        for name, value in clause.items():
            if name == "$and":
                for item in value:
                    walk(item)
            elif name == _ISSUED and isinstance(value, Mapping):
                for operator, day in value.items():
                    if operator == "$gte":
                        day_from = day if day_from is None else max(day_from, day)
                    elif operator == "$lte":
                        day_to = day if day_to is None else min(day_to, day)
                    else:
                        raise ValueError(f"the index cannot run {operator} on {name}")
            elif isinstance(value, str) and name in _VALUED_TAGS:
                keys.append(f"{name}={value}")
            elif value == "1" and not name.startswith("$"):
                keys.append(name)
            else:
                raise ValueError(f"the index cannot run {name}")

    for clause in wql:
        if clause is not None:
            walk(clause)
    return IndexQuery(tuple(keys), day_from, day_to)


@dataclass(frozen=True, slots=True)
class IndexEntry(Generic[T]):
    """What the index keeps of one credential: its :func:`tag_keys` (metadata and words
    records), its ``~issued`` day, and the ``value`` a search returns for it."""

    id: str
    value: T
    keys: frozenset[str]
    issued_day: str | None


class SearchIndex(Generic[T]):
    """The entries of one wallet (profile) in insertion order, with an inverted index."""

    __slots__ = ("_by_key", "_entries", "_next", "_position", "generation")

    def __init__(self, entries: Iterable[IndexEntry[T]] = (), *, generation: str | None) -> None:
        self.generation = generation
        self._entries: dict[str, IndexEntry[T]] = {}
        self._position: dict[str, int] = {}
        self._next = 0
        self._by_key: dict[str, set[str]] = {}
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, credential_id: object) -> bool:
        return credential_id in self._entries

    def add(self, entry: IndexEntry[T]) -> None:
        """Index ``entry`` (after any entry already there, like a newly inserted record)."""
        if entry.id in self._entries:
            self.remove(entry.id)
        self._entries[entry.id] = entry
        self._position[entry.id] = self._next
        self._next += 1
        for key in entry.keys:
            self._by_key.setdefault(key, set()).add(entry.id)

    def remove(self, credential_id: str) -> None:
        """Forget a credential (nothing happens when it is not indexed)."""
        entry = self._entries.pop(credential_id, None)
        if entry is None:
            return
        del self._position[credential_id]
        for key in entry.keys:
            ids = self._by_key.get(key)
            if ids is not None:
                ids.discard(credential_id)
                if not ids:
                    del self._by_key[key]

    def search(self, query: IndexQuery, *, limit: int | None = None) -> list[T]:
        """The values of the entries matching ``query``, in insertion order: what askar answers
        to the same WQL (``fetch_all(..., order_by="id")``)."""
        ids: Iterable[str]
        if query.keys:
            sets = sorted((self._by_key.get(key, set()) for key in query.keys), key=len)
            found = sets[0].intersection(*sets[1:]) if sets[0] else set()
            ids = sorted(found, key=self._position.__getitem__)
        else:
            ids = self._entries  # insertion order
        day_from, day_to = query.day_from, query.day_to
        out: list[T] = []
        for credential_id in ids:
            if limit is not None and len(out) >= limit:
                break
            entry = self._entries[credential_id]
            if day_from is not None or day_to is not None:
                day = entry.issued_day
                if day is None or (day_from is not None and day < day_from):
                    continue
                if day_to is not None and day > day_to:
                    continue
            out.append(entry.value)
        return out
