"""Encrypted record storage on aries-askar: the only storage module that imports ``aries_askar``.

Why askar: every record value, record name and (non-``~``) tag is encrypted with a key derived
from the store's secret before it reaches SQLite or PostgreSQL, so a copied database file
reveals neither health data nor key material. Keys live in the same store
(:mod:`agent.keys.askar`) and never leave askar as bytes.

The URI picks the backend:

* ``sqlite://<path>`` (a bare path means the same) for a device's wallet;
* ``postgres://user:password@host:port/db`` for an agent that runs replicated.

Pitfalls of aries-askar 0.5.0 (see ``reference/packages.md`` sections 3 and 4):

* ``sqlite://:memory:`` provisions but can never be reopened (askar fails with "no such table:
  config"). It is accepted here, for tests only: its records vanish when the store is closed.
* Range (``$gt``, ``$gte``, ``$lt``, ``$lte``) and ``$like`` tag queries give meaningful answers
  only on plaintext tags, whose names start with ``~``. On an encrypted tag askar does not
  raise: it silently returns the wrong records. :meth:`Session.fetch_all` and
  :meth:`Session.count` therefore refuse such queries.
* Tag queries are slow on a freshly loaded database until ``ANALYZE`` has run (on PostgreSQL
  777 ms falling to 3 ms). askar exposes no SQL, so this module offers no ``analyze()``; after a
  bulk load run ``ANALYZE`` yourself as the database owner (``psql``, or ``sqlite3 <file>``).
* On PostgreSQL :meth:`Store.close` with ``remove=True`` and :func:`remove_store` DROP the whole
  database, not only askar's tables.

Errors: askar's ``AskarError`` never escapes. Its codes become :class:`StorageError` codes:
a wrong passphrase or raw key is ``storeWrongKey``, a missing store or profile
``storeNotFound``, a missing record ``storeRecordNotFound``, a duplicate ``storeDuplicate``,
input askar rejects ``invalidInput`` and everything else ``storeBackendError``. A raw key that
is not one at all (not 32 bytes in base58: a base64 value, say) is refused before askar sees it,
as ``storeKeyMalformed`` (:func:`check_raw_key`): askar would call it a wrong key, even for a
store that does not exist yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit, urlunsplit

import base58
from aries_askar import AskarError, AskarErrorCode
from aries_askar import Store as _AskarStore

from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.types import JSON

__all__ = [
    "RUNTIME_THREADS",
    "KeyEntry",
    "Record",
    "Session",
    "Store",
    "TagFilter",
    "Tags",
    "check_raw_key",
    "configure_runtime",
    "generate_raw_key",
    "is_contention",
    "open_store",
    "remove_store",
    "settle_pending_calls",
    "single_valued",
]

#: Record tags. Names starting with ``~`` are stored in plaintext (needed for range and
#: ``$like`` queries); all others are encrypted and support only equality, ``$in``, ``$exist``.
#: A tag given a list of values has them all: ``{"id": ["a", "b"]}`` matches ``{"id": "b"}``
#: (one record findable under many names, e.g. a group of issuance records); it reads back
#: as a sorted list (a list of one value as that value).
Tags: TypeAlias = Mapping[str, str | list[str]]
#: A WQL tag query, e.g. ``{"status": {"$in": ["active", "suspended"]}}``.
TagFilter: TypeAlias = Mapping[str, Any]

#: The passphrase key derivation: Argon2i with askar's "moderate" cost (about 1 s per open).
KDF_KEY_METHOD: Final = "kdf:argon2i:mod"
#: A 32-byte key given base58-encoded, as made by :func:`generate_raw_key`; no derivation cost.
RAW_KEY_METHOD: Final = "raw"
#: A raw key's size in bytes, and the longest base58 text of that many bytes.
RAW_KEY_BYTES: Final = 32
_RAW_KEY_MAX_CHARS: Final = 44
#: The base58 alphabet (Bitcoin's), the one askar decodes raw keys with.
_BASE58_ALPHABET: Final = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")

_RANGE_OPERATORS: Final = frozenset({"$gt", "$gte", "$lt", "$lte", "$like"})
_Operation = Literal["open", "session", "record", "query", "key", "profile", "close"]


async def settle_pending_calls(*, seconds: float = 5.0) -> None:
    """Wait until no askar call made on the running event loop is pending (at most
    ``seconds``).

    For a command stopped by Ctrl-C in the middle of store work: askar's threads still call
    back into the loop for the calls the interruption abandoned, and a callback into a closed
    loop prints "Exception ignored on calling ctypes callback ... Event loop is closed". Keep
    the loop running through this first, then close the stores. askar keeps no public count of
    its pending calls; its private table is read, and with another askar version that has none
    this returns at once.
    """
    try:
        from aries_askar.bindings import get_library

        pending = get_library().loaded._callbacks
    except (ImportError, AttributeError):  # pragma: no cover - another askar version
        return
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(entry[0] is loop for entry in list(pending.values())):
            return
        await asyncio.sleep(0.02)


#: Worker threads of askar's async (tokio) runtime in this project's processes.
RUNTIME_THREADS: Final = 1
_RUNTIME_THREADS_VARIABLE: Final = "TOKIO_WORKER_THREADS"


def configure_runtime(threads: int = RUNTIME_THREADS) -> int:
    """Give askar's async runtime ``threads`` worker threads, unless ``TOKIO_WORKER_THREADS``
    is set already; returns the number in force. Call it before the first store operation
    (askar starts its runtime then, once per process); ``mydata`` does so at start.

    Why one: askar hands every store operation from the Python thread to a runtime worker,
    which hands it on to sqlx's SQLite thread and back through a callback. With a worker per
    core (tokio's default) those hand-offs wake more threads, and on these machines the
    context switches cost more than the work: one worker took the CPU time of an issued
    credential from 1.53 to 1.07 ms and of a record insert by a fifth (docs/performance-history.md,
    fourth pass).
    A Python process cannot use more: its calls into askar are serialised by the GIL.

    :raises InvalidInputError: ``TOKIO_WORKER_THREADS`` is set but not a positive integer
        (askar would abort the process on it, with a Rust panic).
    """
    value = os.environ.get(_RUNTIME_THREADS_VARIABLE)
    if value is None:
        os.environ[_RUNTIME_THREADS_VARIABLE] = str(threads)
        return threads
    if not re.fullmatch(r"[0-9]{1,6}", value) or int(value) < 1:
        raise InvalidInputError(
            f"{_RUNTIME_THREADS_VARIABLE}={value[:20]!r} is not a positive integer; unset it "
            f"(this program then uses {RUNTIME_THREADS}) or set it to the number of threads "
            "askar's runtime should have",
            details={"variable": _RUNTIME_THREADS_VARIABLE},
        )
    return int(value)


def generate_raw_key(seed: bytes | None = None) -> str:
    """A new random store key for ``open_store(raw_key=...)``, base58-encoded.

    Why: a raw key skips the Argon2 derivation that a passphrase costs on every open, which suits
    keys held by an OS keychain or an HSM, and tests. With ``seed`` the key is derived
    deterministically from it (tests only; a seed is as secret as the key).

    The random key comes from the OS (:mod:`secrets`), not from askar: askar draws from a
    generator per thread, which ``os.fork()`` copies. A key made this way in the parent of
    pre-forked workers (``mydata serve --workers N`` writes a new store's key file before it
    forks) would leave every worker drawing the same random stream, so the same keys, nonces
    and ephemeral keys in each. It is askar's own form: 32 random bytes, base58.

    :raises StorageError: ``invalidInput`` when askar rejects the seed.
    """
    if seed is None:
        return base58.b58encode(secrets.token_bytes(32)).decode("ascii")
    try:
        return str(_AskarStore.generate_raw_key(seed))
    except AskarError as exc:
        raise _translate(exc, "open") from exc


def check_raw_key(raw_key: str, *, source: str = "the key given") -> None:
    """Refuse a raw store key askar could not use at all, before askar sees it.

    Why: askar reports a malformed raw key as it reports a wrong one, so a base64 key
    (``openssl rand -base64 32``) given for a new, empty store was refused with "could not be
    decrypted: check the raw key", although nothing existed yet to decrypt. A raw key is
    :data:`RAW_KEY_BYTES` bytes written in base58, as :func:`generate_raw_key` (and
    ``mydata store-key``) makes it. A well-formed key that is not the store's still gives
    ``storeWrongKey`` when the store is opened.

    :param source: how the message names where the key came from (``MYDATA_STORE_KEY``, a key
        file); the key itself is never shown, nor its characters.
    :raises StorageError: ``storeKeyMalformed``, saying what is wrong with it and how to make
        a good one.
    """
    if not raw_key:
        problem = "it is empty"
    elif any(character.isspace() for character in raw_key):
        problem = "it contains a space or a line break"
    elif not _BASE58_ALPHABET.issuperset(raw_key):
        problem = (
            "it has characters base58 does not use (base64 or hex, as openssl rand prints, "
            "is not base58)"
        )
    elif len(raw_key) > _RAW_KEY_MAX_CHARS:
        problem = f"it is longer than {RAW_KEY_BYTES} bytes in base58 can be"
    else:
        size = len(base58.b58decode(raw_key))
        if size == RAW_KEY_BYTES:
            return
        problem = f"it decodes to {size} bytes, not {RAW_KEY_BYTES}"
    raise StorageError(
        f"{source} is not a raw store key: {problem}. A raw key is {RAW_KEY_BYTES} random bytes "
        f"in base58, about {_RAW_KEY_MAX_CHARS} letters and digits (no 0, O, I or l); make one "
        "with 'mydata store-key' and keep it in a secret manager",
        code=ErrorCode.STORE_KEY_MALFORMED,
        details={"source": source},
    )


@dataclass(frozen=True, slots=True)
class Record:
    """One stored record, decrypted.

    :param category: the record's kind, e.g. ``credential`` or ``did``.
    :param name: unique within ``category`` (and profile).
    :param value: the stored bytes; JSON values are stored UTF-8 encoded, see :meth:`json`.
    :param tags: the record's tags, decrypted.
    """

    category: str
    name: str
    value: bytes = field(repr=False)
    tags: dict[str, str | list[str]]

    def json(self) -> JSON:
        """The value parsed as JSON, for records inserted with a JSON-serialisable value.

        :raises InvalidInputError: the value is not UTF-8 JSON (it was stored as raw bytes).
        """
        try:
            return json.loads(self.value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"record {self.category}/{self.name} does not hold JSON; it was stored as raw "
                "bytes, read .value instead",
                details={"category": self.category, "name": self.name},
            ) from exc


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A key stored in askar's key table, as returned to :mod:`agent.keys.askar`.

    :param name: the key's name (the public Multikey, by this project's convention).
    :param algorithm: askar's algorithm name, e.g. ``ed25519`` or ``x25519``.
    :param tags: the key entry's tags.
    :param metadata: free text stored alongside, or ``None``.
    :param key: the ``aries_askar.Key`` handle. Its secret stays inside askar; only the
        key adapter uses it, to sign or to agree on a shared key.
    """

    name: str
    algorithm: str
    tags: dict[str, str]
    metadata: str | None
    key: Any = field(repr=False, compare=False)


class Session:
    """A thin wrapper over an askar session or transaction; obtain one from :class:`Store`.

    Why a wrapper: callers see :class:`Record` and :class:`StorageError` only, JSON values are
    encoded in one place, and encrypted-tag range queries are refused before they return garbage.
    In a transaction nothing is written until :meth:`commit`; leaving the ``async with`` block
    without committing (or with an exception) discards every change.
    """

    __slots__ = ("_inner", "_is_transaction", "_profile")

    def __init__(self, inner: Any, *, profile: str | None, is_transaction: bool) -> None:
        self._inner = inner
        self._profile = profile
        self._is_transaction = is_transaction

    def __repr__(self) -> str:
        return f"Session(profile={self._profile!r}, transaction={self._is_transaction})"

    @property
    def is_transaction(self) -> bool:
        """Whether writes wait for :meth:`commit` (``Store.transaction``) or apply at once."""
        return self._is_transaction

    @property
    def profile(self) -> str | None:
        """The profile this session was opened on; ``None`` means the store's default."""
        return self._profile

    async def insert(
        self,
        category: str,
        name: str,
        value: JSON | bytes,
        tags: Tags | None = None,
        expiry_ms: int | None = None,
    ) -> None:
        """Store a new record.

        ``bytes`` are stored as they are; any other value is stored as compact UTF-8 JSON and
        read back with :meth:`Record.json` (so a ``str`` value is stored as a JSON string).

        :raises StorageError: ``storeDuplicate`` when ``category``/``name`` exists already (use
            :meth:`replace`); ``storeBackendError`` when the database fails.
        :raises InvalidInputError: ``value`` is neither bytes nor JSON-serialisable.
        """
        data = _encode_value(value, category, name)
        try:
            await self._inner.insert(category, name, data, _tags(tags), expiry_ms)
        except AskarError as exc:
            raise _translate(exc, "record", category=category, name=name) from exc

    async def replace(
        self,
        category: str,
        name: str,
        value: JSON | bytes,
        tags: Tags | None = None,
        expiry_ms: int | None = None,
    ) -> None:
        """Overwrite an existing record's value and tags (tags not given are removed).

        :raises StorageError: ``storeRecordNotFound`` when there is no such record (use
            :meth:`insert`); ``storeBackendError`` when the database fails.
        :raises InvalidInputError: ``value`` is neither bytes nor JSON-serialisable.
        """
        data = _encode_value(value, category, name)
        try:
            await self._inner.replace(category, name, data, _tags(tags), expiry_ms)
        except AskarError as exc:
            raise _translate(exc, "record", category=category, name=name) from exc

    async def fetch(self, category: str, name: str, *, for_update: bool = False) -> Record | None:
        """The record, or ``None`` when there is none.

        ``for_update=True`` (in a transaction) locks the row until commit, so that a
        read-modify-write, such as incrementing a counter, does not lose a concurrent update.

        :raises StorageError: ``storeBackendError`` when the database fails.
        """
        try:
            entry = await self._inner.fetch(category, name, for_update=for_update)
        except AskarError as exc:
            raise _translate(exc, "record", category=category, name=name) from exc
        return None if entry is None else _record(entry)

    async def get(self, category: str, name: str, *, for_update: bool = False) -> Record:
        """The record, which must exist; see :meth:`fetch` for ``for_update``.

        :raises StorageError: ``storeRecordNotFound`` when there is no such record;
            ``storeBackendError`` when the database fails.
        """
        record = await self.fetch(category, name, for_update=for_update)
        if record is None:
            raise StorageError(
                f"no record {name!r} in category {category!r} (of this profile)",
                code=ErrorCode.STORE_RECORD_NOT_FOUND,
                details={"category": category, "name": name},
            )
        return record

    async def remove(self, category: str, name: str) -> None:
        """Delete one record.

        :raises StorageError: ``storeRecordNotFound`` when there is no such record;
            ``storeBackendError`` when the database fails.
        """
        try:
            await self._inner.remove(category, name)
        except AskarError as exc:
            raise _translate(exc, "record", category=category, name=name) from exc

    async def fetch_all(
        self,
        category: str,
        tag_filter: TagFilter | None = None,
        *,
        limit: int | None = None,
        order_by: Literal["id"] | None = None,
        descending: bool = False,
        for_update: bool = False,
    ) -> list[Record]:
        """The records of ``category`` that match the WQL ``tag_filter`` (all when ``None``).

        ``order_by="id"`` orders by insertion (askar's row id), the only order askar offers.

        :raises StorageError: ``invalidInput`` for a malformed query or a range/``$like`` query
            on an encrypted tag (rename the tag with a ``~`` prefix); ``storeBackendError``
            when the database fails.
        """
        _check_tag_filter(tag_filter)
        try:
            entries = await self._inner.fetch_all(
                category,
                _filter(tag_filter),
                limit,
                order_by=order_by,
                descending=descending,
                for_update=for_update,
            )
        except AskarError as exc:
            raise _translate(exc, "query", category=category) from exc
        return [_record(entry) for entry in entries]

    async def count(self, category: str, tag_filter: TagFilter | None = None) -> int:
        """How many records of ``category`` match ``tag_filter``; see :meth:`fetch_all`.

        :raises StorageError: as :meth:`fetch_all`.
        """
        _check_tag_filter(tag_filter)
        try:
            return int(await self._inner.count(category, _filter(tag_filter)))
        except AskarError as exc:
            raise _translate(exc, "query", category=category) from exc

    async def remove_all(self, category: str, tag_filter: TagFilter | None = None) -> int:
        """Delete the records of ``category`` matching ``tag_filter``; returns how many.

        :raises StorageError: as :meth:`fetch_all`.
        """
        _check_tag_filter(tag_filter)
        try:
            return int(await self._inner.remove_all(category, _filter(tag_filter)))
        except AskarError as exc:
            raise _translate(exc, "query", category=category) from exc

    async def commit(self) -> None:
        """Write the transaction's changes; the session cannot be used afterwards.

        :raises StorageError: ``storeBackendError`` when this is not a transaction (open it with
            ``Store.transaction()``), it was already committed, or the database fails.
        """
        if not self._is_transaction:
            raise StorageError(
                "commit() needs a transaction: open it with Store.transaction(), not "
                "Store.session(), whose writes apply immediately",
                code=ErrorCode.STORE_BACKEND_ERROR,
            )
        try:
            await self._inner.commit()
        except AskarError as exc:
            raise _translate(exc, "session") from exc

    async def rollback(self) -> None:
        """Discard the transaction's changes; the session cannot be used afterwards.

        :raises StorageError: ``storeBackendError`` when this is not an open transaction.
        """
        if not self._is_transaction:
            raise StorageError(
                "rollback() needs a transaction opened with Store.transaction()",
                code=ErrorCode.STORE_BACKEND_ERROR,
            )
        try:
            await self._inner.rollback()
        except AskarError as exc:
            raise _translate(exc, "session") from exc

    # Key entries: used by agent.keys.askar, which is the only other module that handles
    # aries_askar.Key objects. Other code goes through agent.keys.AskarKeyStore.

    async def insert_key(
        self, name: str, key: Any, *, tags: Tags | None = None, metadata: str | None = None
    ) -> None:
        """Store an ``aries_askar.Key`` under ``name``; askar encrypts its secret.

        :raises StorageError: ``storeDuplicate`` when a key named ``name`` exists already.
        """
        try:
            await self._inner.insert_key(name, key, metadata=metadata, tags=_tags(tags))
        except AskarError as exc:
            raise _translate(exc, "key", name=name) from exc

    async def fetch_key(self, name: str, *, for_update: bool = False) -> KeyEntry | None:
        """The key entry named ``name``, or ``None``.

        :raises StorageError: ``storeBackendError`` when the database fails.
        """
        try:
            entry = await self._inner.fetch_key(name, for_update=for_update)
        except AskarError as exc:
            raise _translate(exc, "key", name=name) from exc
        return None if entry is None else _key_entry(entry)

    async def fetch_all_keys(
        self,
        *,
        algorithm: str | None = None,
        tag_filter: TagFilter | None = None,
        limit: int | None = None,
    ) -> list[KeyEntry]:
        """The key entries matching an askar algorithm name and a WQL tag filter.

        :raises StorageError: as :meth:`fetch_all`.
        """
        _check_tag_filter(tag_filter)
        try:
            entries = await self._inner.fetch_all_keys(
                alg=algorithm, tag_filter=_filter(tag_filter), limit=limit
            )
        except AskarError as exc:
            raise _translate(exc, "query") from exc
        return [_key_entry(entry) for entry in entries]

    async def update_key(
        self, name: str, *, tags: Tags | None = None, metadata: str | None = None
    ) -> None:
        """Replace a key entry's tags and metadata (both are overwritten, not merged).

        :raises StorageError: ``storeRecordNotFound`` when there is no such key.
        """
        try:
            await self._inner.update_key(name, metadata=metadata, tags=_tags(tags))
        except AskarError as exc:
            raise _translate(exc, "key", name=name) from exc

    async def remove_key(self, name: str) -> None:
        """Delete a key entry (its secret is gone for good).

        :raises StorageError: ``storeRecordNotFound`` when there is no such key.
        """
        try:
            await self._inner.remove_key(name)
        except AskarError as exc:
            raise _translate(exc, "key", name=name) from exc


class Store:
    """An open askar store; get one from :func:`open_store`, and close it when done.

    Profiles partition one store into separate record sets, each with its own encryption key:
    several people on one device, e.g. a parent managing a child's records. Sessions use the
    profile given to :func:`open_store` unless another is named.

    Usable as ``async with await open_store(...) as store:``, which closes it on exit.
    """

    __slots__ = ("_display_uri", "_inner", "_profile", "profile_created")

    def __init__(self, inner: Any, *, display_uri: str, profile: str | None) -> None:
        self._inner = inner
        self._display_uri = display_uri
        self._profile = profile
        #: Whether :func:`open_store` created :attr:`profile` when it opened the store.
        self.profile_created = False

    def __repr__(self) -> str:
        return f"Store(uri={self._display_uri!r}, profile={self._profile!r})"

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def uri(self) -> str:
        """The store's URI with any password replaced by ``***``: safe for logs and errors."""
        return self._display_uri

    @property
    def profile(self) -> str | None:
        """The profile sessions use by default, or ``None`` for the store's default profile."""
        return self._profile

    @asynccontextmanager
    async def session(self, profile: str | None = None) -> AsyncIterator[Session]:
        """A session whose writes apply immediately, each on its own; use it for reads.

        :param profile: the profile to work in; defaults to :attr:`profile`.
        :raises StorageError: ``storeNotFound`` when the profile does not exist;
            ``storeBackendError`` when the store is closed or the database fails.
        """
        async with self._open_session(profile, transaction=False) as session:
            yield session

    @asynccontextmanager
    async def transaction(self, profile: str | None = None) -> AsyncIterator[Session]:
        """A transaction: its writes apply together on :meth:`Session.commit`, or not at all.

        Use it for multi-record writes and for read-modify-write with ``for_update=True``.

        :param profile: the profile to work in; defaults to :attr:`profile`.
        :raises StorageError: as :meth:`session`.
        """
        async with self._open_session(profile, transaction=True) as session:
            yield session

    @asynccontextmanager
    async def _open_session(
        self, profile: str | None, *, transaction: bool
    ) -> AsyncIterator[Session]:
        inner_store = self._require_open()
        chosen = profile if profile is not None else self._profile
        opener = inner_store.transaction(chosen) if transaction else inner_store.session(chosen)
        try:
            inner = await opener
        except AskarError as exc:
            raise _translate(exc, "session", profile=chosen) from exc
        # Closing a transaction that was not committed rolls it back.
        try:
            yield Session(inner, profile=chosen, is_transaction=transaction)
        except BaseException:
            # The work failed or its task was cancelled: that is what the caller must see,
            # whatever closing says.
            with contextlib.suppress(StorageError):
                await _close_session(inner)
            raise
        await _close_session(inner)

    async def create_profile(self, name: str) -> str:
        """Add a profile (a separately keyed record set) to the store; returns its name.

        :raises StorageError: ``storeDuplicate`` when the profile exists already.
        """
        try:
            return str(await self._require_open().create_profile(name))
        except AskarError as exc:
            raise _translate(exc, "profile", profile=name) from exc

    async def list_profiles(self) -> list[str]:
        """The names of the store's profiles, sorted.

        :raises StorageError: ``storeBackendError`` when the store is closed or fails.
        """
        try:
            return sorted(str(name) for name in await self._require_open().list_profiles())
        except AskarError as exc:
            raise _translate(exc, "profile") from exc

    async def remove_profile(self, name: str) -> None:
        """Delete a profile and every record and key in it.

        :raises StorageError: ``storeNotFound`` when there is no such profile.
        """
        try:
            removed = await self._require_open().remove_profile(name)
        except AskarError as exc:
            raise _translate(exc, "profile", profile=name) from exc
        if not removed:
            raise StorageError(
                f"the store has no profile {name!r}",
                code=ErrorCode.STORE_NOT_FOUND,
                details={"profile": name},
            )

    async def close(self, *, remove: bool = False) -> None:
        """Close the store's connections; with ``remove=True`` also delete the store.

        Beware: on PostgreSQL ``remove=True`` DROPs the whole database. Closing twice is allowed.

        :raises StorageError: ``storeBackendError`` when the backend fails to close or remove.
        """
        inner, self._inner = self._inner, None
        if inner is None:
            return
        try:
            await inner.close(remove=remove)
        except AskarError as exc:
            raise _translate(exc, "close") from exc

    def _require_open(self) -> Any:
        if self._inner is None:
            raise StorageError(
                f"the store {self._display_uri} is closed; open it again with open_store()",
                code=ErrorCode.STORE_BACKEND_ERROR,
            )
        return self._inner


async def open_store(
    uri: str | os.PathLike[str],
    *,
    passphrase: str | None = None,
    raw_key: str | None = None,
    create: bool = True,
    profile: str | None = None,
) -> Store:
    """Open the encrypted store at ``uri``, provisioning it first when ``create`` and missing.

    Give exactly one secret: a ``passphrase`` (stretched with Argon2i, askar's
    ``kdf:argon2i:mod``, about 1 s per open, by design) or a ``raw_key`` from
    :func:`generate_raw_key` (no stretching; for keys kept in a keychain, and for tests). A store
    always opens with the kind of secret it was provisioned with.

    :param uri: ``sqlite://<path>``, a bare file path (meaning the same), or
        ``postgres://user:password@host:port/db`` (``postgresql://`` is accepted).
        ``sqlite://:memory:`` works but cannot be reopened: tests only.
    :param create: provision the store when it does not exist; with ``False`` a missing store
        is an error.
    :param profile: the profile sessions use by default; created when missing and ``create``.
    :raises StorageError: ``storeKeyMalformed`` when ``raw_key`` is not a raw key at all
        (:func:`check_raw_key`), before anything is opened or created; ``storeWrongKey`` when
        the secret does not open an existing store; ``storeNotFound`` when ``create`` is false
        and the store or profile is missing; ``storeBackendError`` when the database cannot be
        reached or created (e.g. a missing directory, or a PostgreSQL role without CREATEDB).
    :raises InvalidInputError: neither or both secrets are given, or the URI scheme is not
        ``sqlite`` or ``postgres``.
    """
    askar_uri, display_uri = _normalise_uri(uri)
    key_method, pass_key = _key_method(passphrase, raw_key)
    made = _create_private_file(askar_uri) if create else None
    try:
        if create:
            # Provisioning without recreate opens an existing store (checking the secret).
            inner = await _AskarStore.provision(askar_uri, key_method, pass_key, recreate=False)
        else:
            inner = await _AskarStore.open(askar_uri, key_method, pass_key)
    except AskarError as exc:
        retried = None
        if create and exc.code not in _DEFINITE_OPEN_ERRORS:
            retried = await _open_provisioned_elsewhere(askar_uri, key_method, pass_key)
        if retried is None:
            _remove_if_empty(made)
            secret = "passphrase" if passphrase is not None else "raw key"
            raise _translate(exc, "open", opened_with=secret, uri=display_uri) from exc
        inner = retried
    except BaseException:
        _remove_if_empty(made)
        raise
    store = Store(inner, display_uri=display_uri, profile=profile)
    if profile is not None:
        try:
            existing = await store.list_profiles()
            if profile not in existing:
                if not create:
                    raise StorageError(
                        f"the store {display_uri} has no profile {profile!r}; pass create=True "
                        "to add it",
                        code=ErrorCode.STORE_NOT_FOUND,
                        details={"uri": display_uri, "profile": profile},
                    )
                await store.create_profile(profile)
                store.profile_created = True
        except BaseException:
            await store.close()
            raise
    return store


def _create_private_file(askar_uri: str) -> Path | None:
    """Create a new SQLite store's file empty and readable by its owner only (0600) before
    askar provisions it: askar would create it with the process's umask (0644 as a rule),
    readable by every local user. SQLite gives the ``-wal`` and ``-shm`` files the database
    file's permissions. Returns the file when this call created it, else ``None`` (it exists,
    its directory does not, or the store is not a SQLite file)."""
    scheme, _, rest = askar_uri.partition("://")
    path = unquote(rest.split("?", 1)[0])  # as askar reads it: "a%20b.sqlite" is "a b.sqlite"
    if scheme != "sqlite" or not path or path == ":memory:":
        return None
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # it exists (opened, or another process is provisioning it), or no folder
        return None
    os.close(descriptor)
    return Path(path)


def _remove_if_empty(path: Path | None) -> None:
    """Undo :func:`_create_private_file` after a failed provisioning: a store file left empty
    (never one that holds anything)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


#: Errors opening a store that no retry mends: a wrong key, bad input, an unsupported backend.
#: Any other may be a race with another process provisioning the same store, including the
#: code-less error askar reports when concurrent calls overwrite its last-error slot.
_DEFINITE_OPEN_ERRORS: Final = frozenset(
    {AskarErrorCode.ENCRYPTION, AskarErrorCode.INPUT, AskarErrorCode.UNSUPPORTED}
)


async def _open_provisioned_elsewhere(askar_uri: str, key_method: str, pass_key: str) -> Any:
    """The store another process provisioned while this one tried to, or ``None``.

    Two processes creating one new store at once (the workers of ``mydata serve --workers N``
    on their first start, replicas on a new database) race: the loser's provisioning fails
    with "table config already exists" (SQLite), a duplicate key (PostgreSQL) or an error
    without a code (askar's last-error slot overwritten by the concurrent call). Once the
    winner has committed, the store opens normally; this tries for about 0.6 s (a store that
    cannot be created at all, in a missing directory say, fails that much later).
    """
    for attempt in range(5):
        await asyncio.sleep(0.02 * 2**attempt)
        try:
            return await _AskarStore.open(askar_uri, key_method, pass_key)
        except AskarError as exc:
            if exc.code in _DEFINITE_OPEN_ERRORS:
                return None  # e.g. a wrong key: the first error says it better
    return None


async def remove_store(uri: str | os.PathLike[str]) -> bool:
    """Delete the store at ``uri``; ``False`` when there was none.

    Beware: on PostgreSQL this DROPs the whole database named in the URI.

    :raises StorageError: ``storeBackendError`` when the backend cannot remove it.
    :raises InvalidInputError: the URI scheme is not ``sqlite`` or ``postgres``.
    """
    askar_uri, display_uri = _normalise_uri(uri)
    try:
        return bool(await _AskarStore.remove(askar_uri))
    except AskarError as exc:
        raise _translate(exc, "close", uri=display_uri) from exc


# Helpers.


def _normalise_uri(uri: str | os.PathLike[str]) -> tuple[str, str]:
    """The URI askar needs and a copy safe to show (password masked)."""
    text = os.fspath(uri)
    if "://" not in text:
        if not text:
            raise InvalidInputError("the store location is empty: give a file path or a URI")
        text = "sqlite://" + os.path.expanduser(text)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "postgresql":
        scheme = "postgres"
    if scheme not in {"sqlite", "postgres"}:
        raise InvalidInputError(
            f"unsupported store URI scheme {scheme!r}: use sqlite://<path>, a file path, or "
            "postgres://user:password@host:port/db",
            details={"scheme": scheme},
        )
    askar_uri = f"{scheme}://{rest}"
    return askar_uri, _mask_password(askar_uri)


def _mask_password(uri: str) -> str:
    if not uri.startswith("postgres://"):
        return uri
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _key_method(passphrase: str | None, raw_key: str | None) -> tuple[str, str]:
    if passphrase is not None and raw_key is not None:
        raise InvalidInputError("give passphrase= or raw_key= to open a store, not both")
    if passphrase is not None:
        if not passphrase:
            raise InvalidInputError("the store passphrase is empty")
        return KDF_KEY_METHOD, passphrase
    if raw_key is not None:
        check_raw_key(raw_key)
        return RAW_KEY_METHOD, raw_key
    raise InvalidInputError(
        "give passphrase= or raw_key= to open a store: health records are never stored unencrypted"
    )


def _encode_value(value: JSON | bytes, category: str, name: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"the value for record {category}/{name} is neither bytes nor JSON-serialisable "
            f"({type(value).__name__})",
            details={"category": category, "name": name},
        ) from exc


def _tags(tags: Tags | None) -> dict[str, str | list[str]] | None:
    return None if tags is None else dict(tags)


def is_contention(exc: StorageError) -> bool:
    """A lost race or a busy database, worth running the transaction again after a short
    random back-off: ``storeDuplicate`` (another writer inserted the same record first, e.g. a
    new head row) or SQLite's ``BUSY``. A caller whose own duplicates are final (a taken
    credential id) marks them in ``details`` and tells them apart."""
    return exc.code is ErrorCode.STORE_DUPLICATE or exc.details.get("askarCode") == "BUSY"


def single_valued(tags: Mapping[str, str | list[str]]) -> dict[str, str]:
    """The tags that have one value each: all of a record written without list-valued tags."""
    return {name: value for name, value in tags.items() if isinstance(value, str)}


def _read_tags(tags: Mapping[str, Any]) -> dict[str, str | list[str]]:
    # askar returns a multi-valued tag as a set; a sorted list is JSON and compares stably.
    return {
        name: sorted(value) if isinstance(value, set | frozenset | list) else str(value)
        for name, value in tags.items()
    }


def _filter(tag_filter: TagFilter | None) -> dict[str, Any] | None:
    return None if tag_filter is None else dict(tag_filter)


def _check_tag_filter(tag_filter: TagFilter | None) -> None:
    """Refuse range and ``$like`` operators on encrypted tags, which askar answers wrongly."""
    if tag_filter is None:
        return
    if not isinstance(tag_filter, Mapping):
        raise StorageError(
            "a tag filter must be a WQL object such as {'status': 'active'}",
            code=ErrorCode.INVALID_INPUT,
        )
    for key, operand in tag_filter.items():
        if key in {"$and", "$or"}:
            if not isinstance(operand, list | tuple):
                raise StorageError(
                    f"WQL {key} takes a list of queries", code=ErrorCode.INVALID_INPUT
                )
            for sub in operand:
                _check_tag_filter(sub)
        elif key == "$not":
            _check_tag_filter(operand)
        elif isinstance(operand, Mapping):
            ranged = _RANGE_OPERATORS.intersection(operand)
            if ranged and not key.startswith("~"):
                raise StorageError(
                    f"{sorted(ranged)[0]} on tag {key!r} would silently return wrong records: "
                    "askar compares encrypted tags as ciphertext. Store the tag in plaintext "
                    f"as '~{key}' to query it by range or pattern",
                    code=ErrorCode.INVALID_INPUT,
                    details={"tag": key},
                )


def _record(entry: Any) -> Record:
    return Record(
        category=str(entry.category),
        name=str(entry.name),
        value=bytes(entry.value),
        tags=_read_tags(entry.tags),
    )


def _key_entry(entry: Any) -> KeyEntry:
    metadata = entry.metadata
    return KeyEntry(
        name=str(entry.name),
        algorithm=str(entry.algorithm),
        tags=dict(entry.tags),
        metadata=str(metadata) if metadata else None,
        key=entry.key,
    )


#: How long closing a session waits for a call on it that a cancelled task left running.
_CLOSE_WAIT_SECONDS: Final = 5.0


async def _close_session(inner: Any) -> None:
    """Close an askar session. A call on it whose task was cancelled goes on in askar's
    threads and holds the session until it ends; askar refuses the close meanwhile as busy,
    so wait for it (briefly) rather than leak the session and its connection. A *commit* in
    flight does not hold it that way: the close returns at once and the commit may still
    apply; code that must know whether it did waits with :func:`settle_pending_calls`."""
    deadline = time.monotonic() + _CLOSE_WAIT_SECONDS
    while True:
        try:
            await inner.close()
            return
        except AskarError as exc:
            if exc.code != AskarErrorCode.BUSY or time.monotonic() >= deadline:
                raise _translate(exc, "close") from exc
        await asyncio.sleep(0.005)


def _translate(
    exc: AskarError, operation: _Operation, *, opened_with: str = "passphrase", **details: Any
) -> StorageError:
    """One place that turns an askar error into a :class:`StorageError` with our code.

    ``opened_with`` names what opened the store (``passphrase`` or ``raw key``) for the hint of a
    ``storeWrongKey`` message; the secret itself is never passed in.
    """
    code = exc.code
    details = {k: v for k, v in details.items() if v is not None}
    details["askarCode"] = getattr(code, "name", str(code))
    where = details.get("uri", "the store")
    if operation == "open":
        if code in (AskarErrorCode.ENCRYPTION, AskarErrorCode.INPUT):
            return StorageError(
                f"{where} could not be decrypted: check the {opened_with}. The store opens only "
                "with the secret, and the kind of secret (passphrase or raw key), it was "
                "created with",
                code=ErrorCode.STORE_WRONG_KEY,
                details=details,
            )
        if code == AskarErrorCode.NOT_FOUND:
            return StorageError(
                f"there is no store at {where}; check the path or URI, or open it with "
                "create=True to provision a new one",
                code=ErrorCode.STORE_NOT_FOUND,
                details=details,
            )
        return StorageError(
            f"{where} could not be opened: the database is unreachable or cannot be created "
            "(check that the directory exists, the server runs and the role may connect)",
            code=ErrorCode.STORE_BACKEND_ERROR,
            details=details,
        )
    if code == AskarErrorCode.DUPLICATE:
        thing = _describe(operation, details)
        return StorageError(
            f"{thing} already exists", code=ErrorCode.STORE_DUPLICATE, details=details
        )
    if code == AskarErrorCode.NOT_FOUND:
        thing = _describe(operation, details)
        if operation in {"session", "profile"}:
            return StorageError(
                f"{thing} does not exist; create it with Store.create_profile()",
                code=ErrorCode.STORE_NOT_FOUND,
                details=details,
            )
        return StorageError(
            f"{thing} does not exist", code=ErrorCode.STORE_RECORD_NOT_FOUND, details=details
        )
    if code == AskarErrorCode.INPUT:
        return StorageError(
            f"the store rejected the request as malformed ({_first_line(exc)}); check the "
            "tag filter and arguments",
            code=ErrorCode.INVALID_INPUT,
            details=details,
        )
    if code == AskarErrorCode.BUSY:
        return StorageError(
            "the store is busy (another connection holds a lock); retry the operation",
            code=ErrorCode.STORE_BACKEND_ERROR,
            details=details,
        )
    if code == AskarErrorCode.WRAPPER:
        return StorageError(
            f"the session can no longer be used ({_first_line(exc)}); a committed or rolled "
            "back transaction is finished, open a new one",
            code=ErrorCode.STORE_BACKEND_ERROR,
            details=details,
        )
    return StorageError(
        f"the storage backend failed ({_first_line(exc)})",
        code=ErrorCode.STORE_BACKEND_ERROR,
        details=details,
    )


def _describe(operation: _Operation, details: Mapping[str, Any]) -> str:
    if operation in {"session", "profile"}:
        return f"profile {details.get('profile')!r}"
    if operation == "key":
        return f"key {details.get('name')!r}"
    if "name" in details:
        return f"record {details['name']!r} in category {details.get('category')!r}"
    return "the record"


def _first_line(exc: AskarError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
