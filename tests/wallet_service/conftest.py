"""Real processes on 127.0.0.1: `mydata serve hospital`, `mydata serve wallet` and a minimal
DIDComm verifier; the wallet connects to both and receives the hospital's records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage import generate_raw_key
from tests.conftest import MYDATA, free_port, mydata, stop_process, wait_for, wait_healthy
from tests.hospital.conftest import HospitalService, _start

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "mydata" / "samples"
TOKEN = "wallet-admin-token-for-tests"
PASSPHRASE = "correct horse battery staple"
ISSUE = "https://didcomm.org/issue-credential/3.0"
PRESENT = "https://didcomm.org/present-proof/3.0"


class WalletService:
    """`mydata wallet init`, then a running `mydata serve wallet`, and an admin client."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.store = f"sqlite://{home / 'wallet.sqlite'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MYDATA_HOME": str(home),
            "MYDATA_ADMIN_TOKEN": TOKEN,
            "MYDATA_PASSPHRASE": PASSPHRASE,
            "MYDATA_WALLET_URL": self.url,
            "COLUMNS": "200",
        }
        init = self.cli("init", "--store", self.store)
        self.holder = init.stdout.split("holder DID")[1].split()[0]
        self.log_path = home / "wallet-serve.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    MYDATA,
                    "serve",
                    "wallet",
                    "--port",
                    str(self.port),
                    "--store",
                    self.store,
                    "--insecure-http-host",
                    "localhost",
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        wait_healthy(self.port, self.process, self.log_path)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return mydata("wallet", *args, env=self.env, check=check)

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def stop(self) -> None:
        self.admin.close()
        stop_process(self.process)


class VerifierNode:
    """tests/wallet_service/verifier_node.py as a process."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "NODE_STORE_KEY": generate_raw_key(), "MYDATA_ADMIN_TOKEN": TOKEN}
        self.log_path = home / "verifier.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.wallet_service.verifier_node",
                    "--port",
                    str(self.port),
                    "--store",
                    str(home / "verifier.sqlite"),
                    "--insecure-http-host",
                    "localhost",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        wait_healthy(self.port, self.process, self.log_path)

    def stop(self) -> None:
        self.admin.close()
        stop_process(self.process)


@dataclass
class World:
    hospital: HospitalService
    wallet: WalletService
    verifier: VerifierNode
    #: the verifier's side of its connection to the wallet
    verifier_connection: str
    #: the credentials the wallet stored from the hospital's offer
    credentials: list[dict[str, Any]]


def connect(wallet: WalletService, inviter: httpx.Client, label: str) -> str:
    """The wallet accepts the inviter's invitation (with the CLI); the inviter's connection id."""
    invitation = inviter.post("/admin/invitations", json={"goal": label}).json()
    wallet.cli("connect", invitation["invitation_url"], "--label", label)
    connection = wait_for(
        f"the {label} side of the connection",
        lambda: [
            c
            for c in inviter.get("/admin/connections").json()
            if c["invitation_id"] == invitation["invitation_id"]
        ],
    )[0]
    return str(connection["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A hospital, a wallet and a verifier; the wallet holds the hospital's five records in
    both formats (accepted by the citizen, not automatically)."""
    hospital = _start(tmp_path_factory.mktemp("hospital"))
    wallet: WalletService | None = None
    verifier: VerifierNode | None = None
    try:
        wallet = WalletService(tmp_path_factory.mktemp("wallet"))
        verifier = VerifierNode(tmp_path_factory.mktemp("verifier"))
        hospital_connection = connect(wallet, hospital.admin, "Test General")
        bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
        offered = hospital.admin.post(
            f"/admin/connections/{hospital_connection}/offer",
            json={"fhir": bundle, "emergencySummary": True, "formats": ["vc", "sd-jwt"]},
        )
        assert offered.status_code == 202, offered.text
        assert offered.json()["offered"] == 10  # five records, each as W3C VC and SD-JWT VC
        thread = offered.json()["thread_id"]
        offers = wait_for("the offer to wait for the citizen", lambda: wallet.cli_json("offers"))
        assert [o["thread_id"] for o in offers] == [thread]
        assert len(offers[0]["credentials"]) == 10
        assert wallet.admin.get("/wallet/credentials").json() == []  # nothing without consent
        accepted = wallet.cli("receive")
        assert "1 received and stored" in accepted.stdout, accepted.stdout
        credentials = wallet.admin.get("/wallet/credentials").json()
        verifier_connection = connect(wallet, verifier.admin, "City ER")
        yield World(hospital, wallet, verifier, verifier_connection, credentials)
    finally:
        for service in (verifier, wallet, hospital):
            if service is not None:
                service.stop()
