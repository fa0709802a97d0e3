"""Store fixtures: each store test runs on a SQLite file and, when configured, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.storage import Store, generate_raw_key, open_store, remove_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URI where no store exists yet: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'wallet.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    # Drops the per-test database that provisioning created.
    await remove_store(url)


@pytest.fixture
def raw_key() -> str:
    """A fresh raw store key: no Argon2 cost, for tests where the passphrase is not the point."""
    return generate_raw_key()


@pytest.fixture
async def store(store_uri: str, raw_key: str) -> AsyncIterator[Store]:
    """A new, open store on each backend, closed after the test."""
    opened = await open_store(store_uri, raw_key=raw_key)
    yield opened
    await opened.close()
