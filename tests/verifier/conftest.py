"""Parties for verifier tests: a hospital and a citizen with askar-held did:key keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.dids import DIDResolver, did_key_from_public
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.storage import Store, generate_raw_key, open_store


@dataclass
class Party:
    did: str
    signer: AskarSigner


async def _party(store: Store) -> Party:
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    vm = f"{did}#{multikey}"
    await keys.bind(
        multikey,
        did=did,
        verification_method=vm,
        relationships=["assertionMethod", "authentication"],
    )
    return Party(did, await keys.signer(vm))


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    hospital = await open_store(tmp_path / "hospital.sqlite", raw_key=generate_raw_key())
    wallet = await open_store(tmp_path / "wallet.sqlite", raw_key=generate_raw_key())
    yield hospital, wallet
    await hospital.close()
    await wallet.close()


@pytest.fixture
async def hospital(stores: tuple[Store, Store]) -> Party:
    return await _party(stores[0])


@pytest.fixture
async def citizen(stores: tuple[Store, Store]) -> Party:
    return await _party(stores[1])


@pytest.fixture
def resolver() -> DIDResolver:
    return DIDResolver()


@pytest.fixture
async def operator(stores: tuple[Store, Store]) -> Party:
    """The public operator: a did:key that accredits hospitals."""
    return await _party(stores[0])


@pytest.fixture
async def stranger(stores: tuple[Store, Store]) -> Party:
    """Someone with a key and no accreditation."""
    return await _party(stores[1])
