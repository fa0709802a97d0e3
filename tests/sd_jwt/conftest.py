"""Fixtures: an askar store with an Ed25519 issuer key and Ed25519 and P-256 holder keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.dids.resolver import DIDResolver
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.keys.convert import public_key_to_jwk
from agent.storage import generate_raw_key, open_store


@dataclass
class Party:
    did: str
    signer: AskarSigner
    jwk: dict[str, str]


async def _party(keys: AskarKeyStore, key_type: KeyType, relationship: str) -> Party:
    multikey = await keys.create_key(key_type)
    did = f"did:key:{multikey}"
    vm = f"{did}#{multikey}"
    await keys.bind(multikey, did=did, verification_method=vm, relationships=[relationship])
    signer = await keys.signer(vm)
    return Party(did, signer, public_key_to_jwk(*decode_multikey(multikey)))


@dataclass
class Parties:
    issuer: Party
    holder_ed25519: Party
    holder_p256: Party
    other_holder: Party


@pytest.fixture
async def parties(tmp_path: Path) -> AsyncIterator[Parties]:
    store = await open_store(f"sqlite://{tmp_path / 'sd-jwt.db'}", raw_key=generate_raw_key())
    keys = AskarKeyStore(store)
    yield Parties(
        issuer=await _party(keys, KeyType.ED25519_PUB, "assertionMethod"),
        holder_ed25519=await _party(keys, KeyType.ED25519_PUB, "authentication"),
        holder_p256=await _party(keys, KeyType.P256_PUB, "authentication"),
        other_holder=await _party(keys, KeyType.ED25519_PUB, "authentication"),
    )
    await store.close()


@pytest.fixture
def resolver() -> DIDResolver:
    return DIDResolver()
