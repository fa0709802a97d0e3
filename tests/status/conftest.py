"""Fixtures for the status list tests: stores on SQLite files and PostgreSQL, a movable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.storage import Store, generate_raw_key, open_store, remove_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URI where no store exists yet: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'issuer.db'}"
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


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
