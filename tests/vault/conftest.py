"""A real `mydata serve vault` on 127.0.0.1, and citizens' wallets built with the wallet library
(passphrase-encrypted SQLite files, as `mydata wallet` opens them)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.dids import did_key_from_public
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.storage import generate_raw_key, open_store
from issuer.templates import claims_for_resource
from tests.conftest import MYDATA, free_port, mydata, stop_process, wait_healthy
from tests.wallet.conftest import Hospital, ips_resource, shc_jwks, shc_text
from tests.wallet.test_present import ER, TWO_FIELDS
from wallet import open_wallet, plan_presentation, present, withdraw

TOKEN = "vault-admin-token-for-tests"
PASSPHRASE = "correct horse battery staple"
#: In the W3C credential's FHIR resource: must never be readable in the vault's store.
MARKER = "VAULTMARKER-7731-PLAINTEXT"
#: Small, so that the size limit is cheap to test.
MAX_BYTES = 256 * 1024


class VaultService:
    """`mydata serve vault` as a process, with its own SQLite store in ``home``."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.store_path = home / "vault.sqlite"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MYDATA_HOME": str(home), "MYDATA_ADMIN_TOKEN": TOKEN}
        self.env.pop("MYDATA_STORE_KEY", None)
        self.log_path = home / "vault-serve.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    MYDATA,
                    "serve",
                    "vault",
                    "--port",
                    str(self.port),
                    "--store",
                    str(self.store_path),
                    "--vault-max-bytes",
                    str(MAX_BYTES),
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(self.port, self.process, self.log_path)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def store_bytes(self) -> bytes:
        return b"".join(
            Path(f"{self.store_path}{suffix}").read_bytes()
            for suffix in ("", "-wal", "-shm")
            if Path(f"{self.store_path}{suffix}").exists()
        )

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultService]:
    service = VaultService(tmp_path_factory.mktemp("vault"))
    yield service
    service.stop()


def citizen_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "MYDATA_HOME": str(home),
        "MYDATA_PASSPHRASE": PASSPHRASE,
        "COLUMNS": "200",
    }
    env.pop("MYDATA_STORE_KEY", None)
    return env


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return mydata("wallet", *args, env=citizen_env(home), check=check)


async def _fill(path: Path) -> str:
    """A passphrase wallet with an SD-JWT VC, a W3C VC (holding MARKER), a SMART Health Card
    and a consent given and withdrawn; returns the holder DID."""
    hospital_store = await open_store(path.with_name("hospital.db"), raw_key=generate_raw_key())
    wallet = await open_wallet(f"sqlite://{path}", passphrase=PASSPHRASE)
    try:
        keys = AskarKeyStore(hospital_store)
        multikey = await keys.create_key(KeyType.ED25519_PUB)
        did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
        await keys.bind(
            multikey,
            did=did,
            verification_method=f"{did}#{multikey}",
            relationships=["assertionMethod", "authentication"],
        )
        hospital = Hospital(did, await keys.signer(multikey), hospital_store)
        now = datetime.now(UTC).replace(microsecond=0)
        resource = ips_resource(7)
        resource["identifier"][0]["value"] = MARKER
        claims = claims_for_resource(resource)
        await wallet.add_credential(
            hospital.sd_jwt(
                claims_for_resource(ips_resource(7)), await wallet.holder_jwk(), iat=now
            )
        )
        await wallet.add_credential(
            hospital.w3c(claims, await wallet.holder_did(), valid_from=now - timedelta(minutes=1))
        )
        await wallet.add_credential(shc_text("example-00-d-jws.txt"), jwks=shc_jwks())
        plan = await plan_presentation(wallet, TWO_FIELDS, verifier=ER, purpose="emergency care")
        presentation = await present(wallet, plan, nonce="n", audience=ER.id)
        await withdraw(wallet, presentation.consent.id)
        return await wallet.holder_did()
    finally:
        await wallet.close()
        await hospital_store.close()


class Citizen:
    """A device: its home directory and its wallet store."""

    def __init__(self, home: Path, *, filled: bool) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.store = home / "wallet.sqlite"
        self.holder = asyncio.run(_fill(self.store)) if filled else None

    def wallet(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli(self.home, *args, "--store", str(self.store), check=check)

    def listed(self) -> Any:
        return json.loads(self.wallet("list", "--json").stdout)

    def consents(self) -> Any:
        return json.loads(self.wallet("consents", "--json").stdout)


@pytest.fixture
def citizen(tmp_path: Path) -> Citizen:
    return Citizen(tmp_path / "phone", filled=True)
