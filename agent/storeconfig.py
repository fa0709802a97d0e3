"""Where a party's store lives and how its key is found, for commands and services.

- The store: ``--store`` (a path, ``sqlite://path`` or ``postgres://...``), by default
  ``$MYDATA_HOME/<party>.sqlite`` with ``MYDATA_HOME`` defaulting to ``~/.local/share/mydata``.
- Its raw key: the environment variable ``MYDATA_STORE_KEY`` (what a service under a secret
  manager uses), else a key file beside a SQLite store (``<store>.key``, mode 0600) that
  ``init`` creates. A PostgreSQL store needs ``MYDATA_STORE_KEY``: there is no "beside".

A raw key is 32 random bytes in base58, as ``mydata store-key`` prints one
(:func:`agent.storage.generate_raw_key`); anything else (a base64 value from ``openssl rand``)
is refused as ``storeKeyMalformed`` before a store is opened or created. The key is never
printed or logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.errors import ErrorCode, StorageError
from agent.storage import check_raw_key, generate_raw_key

__all__ = ["STORE_KEY_ENV", "key_file_for", "mydata_home", "resolve_store", "store_key"]

STORE_KEY_ENV = "MYDATA_STORE_KEY"


def mydata_home() -> Path:
    """``$MYDATA_HOME``, default ``~/.local/share/mydata``."""
    return Path(os.environ.get("MYDATA_HOME") or Path.home() / ".local" / "share" / "mydata")


def resolve_store(value: str | None, party: str) -> str:
    """The store URI for ``--store`` (or the party's default file)."""
    if not value:
        return f"sqlite://{mydata_home() / f'{party}.sqlite'}"
    if value.startswith(("sqlite://", "postgres://", "postgresql://")):
        return value
    return f"sqlite://{Path(value).expanduser().resolve()}"


def key_file_for(uri: str) -> Path | None:
    """The key file beside a SQLite store, or ``None`` for other backends."""
    if not uri.startswith("sqlite://") or uri == "sqlite://:memory:":
        return None
    return Path(uri.removeprefix("sqlite://") + ".key")


def store_key(uri: str, *, create: bool = False) -> str:
    """The store's raw key: ``MYDATA_STORE_KEY``, else the key file (created if ``create``).

    Spaces and line breaks around the key are ignored (a secret file's last newline).

    :raises StorageError: ``storeNotFound`` with what to do when there is no key;
        ``storeKeyMalformed`` when ``MYDATA_STORE_KEY`` or the key file holds something that
        is not a raw key (:func:`agent.storage.check_raw_key`), before anything is opened.
    """
    from_env = os.environ.get(STORE_KEY_ENV)
    if from_env:  # set: it is the key (blank is malformed, not a reason to use a key file)
        from_env = from_env.strip()
        check_raw_key(from_env, source=STORE_KEY_ENV)
        return from_env
    path = key_file_for(uri)
    if path is None:
        raise StorageError(
            f"set {STORE_KEY_ENV} to the store's raw key: a PostgreSQL store has no key file",
            code=ErrorCode.STORE_NOT_FOUND,
        )
    if path.exists():
        # Not ASCII at all is malformed too: U+FFFD is not base58.
        from_file = path.read_bytes().decode("ascii", errors="replace").strip()
        check_raw_key(from_file, source=f"the key file {path}")
        return from_file
    if not create:
        raise StorageError(
            f"no store key: set {STORE_KEY_ENV} or run the party's 'init' command first "
            f"(it writes {path})",
            code=ErrorCode.STORE_NOT_FOUND,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_raw_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
