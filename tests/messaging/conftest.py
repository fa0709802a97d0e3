"""DIDComm fixtures: the Appendix B resolver, three did:peer:2 parties on askar stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.dids import DIDResolver
from agent.storage import Store, generate_raw_key, open_store
from tests.messaging.didcomm_helpers import AppendixResolver, Party, make_party


@pytest.fixture
def appendix_resolver() -> AppendixResolver:
    """Resolves the spec's Appendix B DID documents."""
    return AppendixResolver()


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[dict[str, Store]]:
    """Three SQLite stores: one each for alice, bob and carol."""
    opened = {
        name: await open_store(f"sqlite://{tmp_path / name}.db", raw_key=generate_raw_key())
        for name in ("alice", "bob", "carol")
    }
    yield opened
    for store in opened.values():
        await store.close()


@pytest.fixture
async def parties(stores: dict[str, Store]) -> dict[str, Party]:
    """alice, bob and carol: did:peer:2 DIDs whose keys are in their own stores."""
    return {name: await make_party(store) for name, store in stores.items()}


@pytest.fixture
def resolver() -> DIDResolver:
    """The project's resolver: did:peer:2 resolves without I/O."""
    return DIDResolver()
