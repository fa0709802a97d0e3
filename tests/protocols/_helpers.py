"""Test helpers for the protocol tests: a controllable clock and a party with its own store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.protocols import RecordRepository
from agent.storage import Store, open_store


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 6, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Party:
    """One agent: a store file, its key, an open store and the repository on it."""

    name: str
    uri: str
    key: str
    clock: FakeClock
    store: Store | None = None
    repository: RecordRepository = field(init=False)

    async def open(self) -> Party:
        self.store = await open_store(self.uri, raw_key=self.key)
        self.repository = RecordRepository(self.store, clock=self.clock)
        return self

    async def restart(self) -> None:
        """Close the store and open it again: an agent restart."""
        assert self.store is not None
        await self.store.close()
        await self.open()

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()
            self.store = None


async def deliver(
    handler: Any, messages: list[dict[str, Any]], **kwargs: Any
) -> list[dict[str, Any]]:
    """Run ``handler`` on each message in turn and collect what it sends back."""
    out: list[dict[str, Any]] = []
    for message in messages:
        out.extend(await handler(message, **kwargs))
    return out
