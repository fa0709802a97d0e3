"""The W3C VC test suites' harness: our real services over HTTPS, and the suites' test data.

One `mydata hospital init --did-method key` + `mydata serve hospital` and one
`mydata serve verifier`, both with a self-signed certificate on 127.0.0.1, for the whole
folder (session scope). The suites' `vc-test-suite-implementations` endpoint objects become
`Endpoint` (``post`` returns the status and body, as the suites' `verifier.post` does).
Test data the suites generate with their own key (data-integrity-test-suite-assertion
`vc-generator`) is generated here with a fresh did:key of the test's own.
"""

from __future__ import annotations

import copy
import os
import re
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aries_askar import Key, KeyAlg

from agent.credentials import add_proof
from agent.dids import did_key_from_public
from agent.keys import KeyType, decode_multikey
from tests.conftest import MYDATA, make_certificate
from tests.hospital.conftest import free_port

ADMIN_TOKEN = "w3c-suites-admin-token"
HOSPITAL_TOKEN = ADMIN_TOKEN


@dataclass
class Result:
    """What the suites' `post()` gives: `result` (2xx) or `error` (otherwise), and the body."""

    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Endpoint:
    url: str
    client: httpx.Client
    settings: dict[str, Any]

    def post(self, json: Any) -> Result:
        response = self.client.post(self.url, json=json)
        try:
            data = response.json()
        except ValueError:
            data = response.text
        return Result(response.status_code, data)


class Service:
    def __init__(
        self,
        role: str,
        home: Path,
        cert: Path,
        key: Path,
        port: int,
        extra: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.url = f"https://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MYDATA_HOME": str(home),
            "MYDATA_ADMIN_TOKEN": ADMIN_TOKEN,
            **(env or {}),
        }
        self.log_path = home / f"{role}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                MYDATA,
                "serve",
                role,
                "--port",
                str(self.port),
                "--ssl-certfile",
                str(cert),
                "--ssl-keyfile",
                str(key),
                "--log-level",
                "warning",
                *extra,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.context = ssl.create_default_context(cafile=str(cert))
        self.client = httpx.Client(
            base_url=self.url,
            verify=self.context,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                if self.client.get("/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"mydata serve {role} did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not Path("/usr/bin/openssl").exists():
        pytest.skip("openssl is needed to make a test certificate")
    return make_certificate(tmp_path_factory.mktemp("w3c-cert"))


@dataclass
class Hospital:
    service: Service
    did: str
    issuer: Endpoint
    status: Endpoint


@pytest.fixture(scope="session")
def hospital(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> Iterator[Hospital]:
    home = tmp_path_factory.mktemp("w3c-hospital")
    port = free_port()
    env = {**os.environ, "MYDATA_HOME": str(home), "MYDATA_ADMIN_TOKEN": ADMIN_TOKEN}
    store = f"sqlite://{home / 'hospital.sqlite'}"
    init = subprocess.run(
        [
            MYDATA,
            "hospital",
            "init",
            "--base-url",
            f"https://127.0.0.1:{port}",
            "--store",
            store,
            "--did-method",
            "key",
            "--name",
            "W3C Suites General",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    found = re.search(r"did:key:z[1-9A-HJ-NP-Za-km-z]+", init.stdout)
    assert found, init.stdout
    cert, key = certificate
    service = Service(
        "hospital",
        home,
        cert,
        key,
        port,
        # --status-max-age 0: status lists are served `no-cache`, the configuration for a
        # deployment that wants a revocation seen at once (decision 0007); the bitstring
        # suite revokes and verifies right after.
        [
            "--store",
            store,
            "--public-url",
            f"https://127.0.0.1:{port}",
            "--status-max-age",
            "0",
        ],
    )
    did = found.group(0)
    yield Hospital(
        service,
        did,
        Endpoint(f"{service.url}/credentials/issue", service.client, {"id": did, "options": {}}),
        Endpoint(f"{service.url}/credentials/status", service.client, {"id": did}),
    )
    service.stop()


@pytest.fixture(scope="session")
def verifier(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> Iterator[dict[str, Endpoint]]:
    home = tmp_path_factory.mktemp("w3c-verifier")
    cert, key = certificate
    # The verifier fetches the hospital's status lists over HTTPS: it trusts the test
    # certificate through SSL_CERT_FILE (httpx honours it), as an operator's CA bundle.
    service = Service("verifier", home, cert, key, free_port(), [], {"SSL_CERT_FILE": str(cert)})
    yield {
        "credentials": Endpoint(f"{service.url}/credentials/verify", service.client, {}),
        "presentations": Endpoint(f"{service.url}/presentations/verify", service.client, {}),
    }
    service.stop()


class SuiteKey:
    """An Ed25519 did:key of the test's own: the suites' vc-generator signs with theirs."""

    def __init__(self) -> None:
        self.key = Key.generate(KeyAlg.ED25519)
        raw = self.key.get_public_bytes()
        self.did = did_key_from_public(KeyType.ED25519_PUB, raw)
        self.verification_method = f"{self.did}#{self.did.removeprefix('did:key:')}"
        self.algorithm = "EdDSA"

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign_message(data))


@pytest.fixture(scope="session")
def suite_key() -> SuiteKey:
    return SuiteKey()


def sign(
    document: dict[str, Any],
    signer: Any,
    *,
    cryptosuite: str,
    created: datetime | None = None,
    **options: Any,
) -> dict[str, Any]:
    return add_proof(
        copy.deepcopy(document),
        signer,
        created=created or datetime.now(UTC).replace(microsecond=0),
        cryptosuite=cryptosuite,
        **options,
    )


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


__all__ = ["decode_multikey"]
