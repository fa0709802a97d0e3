"""Fixtures for the batch job tests: stores on a SQLite file and PostgreSQL, a moving clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.storage import Store, generate_raw_key, open_store, remove_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URI where no store exists yet: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'batch.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    await remove_store(url)


@pytest.fixture
def raw_key() -> str:
    return generate_raw_key()


@pytest.fixture
async def store(store_uri: str, raw_key: str) -> AsyncIterator[Store]:
    opened = await open_store(store_uri, raw_key=raw_key)
    yield opened
    await opened.close()


class TickingClock:
    """A clock that moves one second per reading, so that every entry has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()
