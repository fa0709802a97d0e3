"""Encrypted storage of records and keys on aries-askar (SQLite by default, PostgreSQL too).

Open a store with :func:`open_store`; read in :meth:`Store.session`, write several records
together in :meth:`Store.transaction`. See :mod:`agent.storage.askar` for the pitfalls.
"""

from agent.storage.askar import (
    KeyEntry,
    Record,
    Session,
    Store,
    TagFilter,
    Tags,
    generate_raw_key,
    open_store,
    remove_store,
)

__all__ = [
    "KeyEntry",
    "Record",
    "Session",
    "Store",
    "TagFilter",
    "Tags",
    "generate_raw_key",
    "open_store",
    "remove_store",
]
