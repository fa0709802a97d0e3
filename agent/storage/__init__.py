"""Encrypted storage of records and keys on aries-askar (SQLite by default, PostgreSQL too).

Open a store with :func:`open_store`; read in :meth:`Store.session`, write several records
together in :meth:`Store.transaction`. See :mod:`agent.storage.askar` for the pitfalls.
"""

from agent.storage.askar import (
    RUNTIME_THREADS,
    KeyEntry,
    Record,
    Session,
    Store,
    TagFilter,
    Tags,
    check_raw_key,
    configure_runtime,
    generate_raw_key,
    is_contention,
    open_store,
    remove_store,
    settle_pending_calls,
    single_valued,
)

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
