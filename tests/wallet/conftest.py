"""Wallet test fixtures: a hospital key in its own askar store, a wallet on a SQLite file, and
credentials issued with the real issuer templates (tests may import issuer; wallet may not)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.dids import did_key_from_public
from agent.keys import AskarKeyStore, AskarSigner, KeyType, decode_multikey
from agent.storage import Store, generate_raw_key, open_store
from issuer.issue import issue_credential, sd_jwt_credential, w3c_credential
from issuer.templates import RecordClaims, claims_for_resource
from wallet import Wallet, open_wallet

ROOT = Path(__file__).resolve().parents[2]
SHC = ROOT / "tests" / "vectors" / "smart-health-cards"
IPS = ROOT / "tests" / "vectors" / "fhir-ips"


def ips_resource(index: int, bundle: str = "bundle-minimal.json") -> dict[str, Any]:
    data = json.loads((IPS / bundle).read_text("utf-8"))
    resource: dict[str, Any] = data["entry"][index]["resource"]
    return resource


def allergy_claims() -> RecordClaims:
    return claims_for_resource(ips_resource(7))


def condition_claims() -> RecordClaims:
    return claims_for_resource(ips_resource(4))


@dataclass
class Hospital:
    did: str
    signer: AskarSigner
    store: Store

    def sd_jwt(
        self, claims: RecordClaims, holder_jwk: dict[str, Any] | None, *, iat: datetime
    ) -> str:
        return sd_jwt_credential(
            claims,
            signer=self.signer,
            issuer=self.did,
            holder_jwk=holder_jwk,
            iat=iat,
            exp=iat + timedelta(days=365),
            decoys=1,
        )

    def w3c(self, claims: RecordClaims, subject: str, *, valid_from: datetime) -> dict[str, Any]:
        unsigned = w3c_credential(
            claims, issuer=self.did, subject_did=subject, valid_from=valid_from
        )
        return issue_credential(unsigned, self.signer, created=valid_from)


@pytest.fixture
async def hospital(tmp_path: Path) -> AsyncIterator[Hospital]:
    store = await open_store(tmp_path / "hospital.db", raw_key=generate_raw_key())
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    await keys.bind(
        multikey,
        did=did,
        verification_method=f"{did}#{multikey}",
        relationships=["assertionMethod", "authentication"],
    )
    yield Hospital(did, await keys.signer(multikey), store)
    await store.close()


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def wallet(tmp_path: Path) -> AsyncIterator[Wallet]:
    opened = await open_wallet(str(tmp_path / "wallet.db"), raw_key=generate_raw_key())
    yield opened
    await opened.close()


def shc_text(name: str) -> str:
    return (SHC / name).read_text("utf-8").strip()


def shc_jwks() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHC / "jwks.json").read_text("utf-8"))
    return data
