"""Fixtures: two parties, each with its own askar SQLite store, and a clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.storage import generate_raw_key
from tests.protocols._helpers import FakeClock, Party


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _party(name: str, tmp_path: Path, clock: FakeClock) -> Party:
    return await Party(name, f"sqlite://{tmp_path / name}.db", generate_raw_key(), clock).open()


@pytest.fixture
async def alice(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Party]:
    """The first party (issuer, verifier, pinger)."""
    party = await _party("alice", tmp_path, clock)
    yield party
    await party.close()


@pytest.fixture
async def bob(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Party]:
    """The second party (holder, prover)."""
    party = await _party("bob", tmp_path, clock)
    yield party
    await party.close()
