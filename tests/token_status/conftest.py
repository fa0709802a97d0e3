"""Fixtures: an issuer with an askar Ed25519 key bound to a did:key, and a DID resolver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.dids.resolver import DIDResolver
from agent.keys import AskarKeyStore, AskarSigner, KeyType
from agent.storage import generate_raw_key, open_store


@dataclass
class Issuer:
    did: str
    signer: AskarSigner


async def _issuer(keys: AskarKeyStore) -> Issuer:
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = f"did:key:{multikey}"
    vm = f"{did}#{multikey}"
    await keys.bind(multikey, did=did, verification_method=vm, relationships=["assertionMethod"])
    return Issuer(did, await keys.signer(vm))


@pytest.fixture
async def issuers(tmp_path: Path) -> AsyncIterator[tuple[Issuer, Issuer]]:
    """Two issuers: the hospital, and another one whose key must not be accepted for it."""
    store = await open_store(f"sqlite://{tmp_path / 'issuer.db'}", raw_key=generate_raw_key())
    keys = AskarKeyStore(store)
    yield await _issuer(keys), await _issuer(keys)
    await store.close()


@pytest.fixture
def resolver() -> DIDResolver:
    return DIDResolver()
