"""Fixtures for the status list tests: a movable clock, an allocator (stores: tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from agent.credentials.status_list import MIN_ENTRIES
from agent.status import StatusListAllocator
from agent.storage import Store

ISSUER = "did:example:issuer"
BASE_URL = "https://issuer.example/status"


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


def make_allocator(store: Store, list_size: int = MIN_ENTRIES) -> StatusListAllocator:
    """An allocator of ``ISSUER``'s lists at ``BASE_URL``; below ``MIN_ENTRIES`` entries only
    with the insecure small-list switch, which tests use to fill lists quickly."""
    return StatusListAllocator(
        store,
        issuer=ISSUER,
        base_url=BASE_URL,
        list_size=list_size,
        insecure_small_lists=list_size < MIN_ENTRIES,
    )
