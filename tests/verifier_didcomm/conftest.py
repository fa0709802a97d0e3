"""Real processes on 127.0.0.1: `mydata serve hospital`, `mydata serve wallet` and
`mydata serve verifier`; the wallet holds the hospital's records and is connected to the
verifier through the verifier's invitation."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import MYDATA, free_port, stop_process, wait_healthy
from tests.hospital.conftest import HospitalService, _start
from tests.wallet_service.conftest import (
    SAMPLES,
    TOKEN,
    WalletService,
    connect,
    wait_for,
)


class VerifierService:
    """`mydata serve verifier` (generic policy, purpose "emergency care") with an admin client."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MYDATA_HOME": str(home), "MYDATA_ADMIN_TOKEN": TOKEN}
        env.pop("MYDATA_STORE_KEY", None)
        self.log_path = home / "verifier-serve.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    MYDATA,
                    "serve",
                    "verifier",
                    "--port",
                    str(self.port),
                    "--store",
                    f"sqlite://{home / 'verifier.sqlite'}",
                    "--insecure-http-host",
                    "localhost",
                    "--purpose",
                    "emergency care",
                    "--log-level",
                    "info",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        wait_healthy(self.port, self.process, self.log_path)

    def stop(self) -> None:
        self.admin.close()
        stop_process(self.process)


@dataclass
class World:
    hospital: HospitalService
    wallet: WalletService
    verifier: VerifierService
    #: the verifier's side of its connection to the wallet
    verifier_connection: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    hospital = _start(tmp_path_factory.mktemp("hospital"))
    wallet: WalletService | None = None
    verifier: VerifierService | None = None
    try:
        wallet = WalletService(tmp_path_factory.mktemp("wallet"))
        verifier = VerifierService(tmp_path_factory.mktemp("verifier"))
        hospital_connection = connect(wallet, hospital.admin, "Test General")
        bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
        offered = hospital.admin.post(
            f"/admin/connections/{hospital_connection}/offer",
            json={"fhir": bundle, "emergencySummary": True, "formats": ["vc", "sd-jwt"]},
        )
        assert offered.status_code == 202, offered.text
        wait_for("the offer to reach the wallet", lambda: wallet.cli_json("offers"))
        accepted = wallet.cli("receive")
        assert "1 received and stored" in accepted.stdout, accepted.stdout
        verifier_connection = connect(wallet, verifier.admin, "City ER")
        yield World(hospital, wallet, verifier, verifier_connection)
    finally:
        for service in (verifier, wallet, hospital):
            if service is not None:
                service.stop()
