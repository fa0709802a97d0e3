"""The wallet shows whether the verifier asking for data is accredited: a running operator,
`mydata wallet init --operator DID --operator-url URL`, `mydata serve wallet`, and two DIDComm
verifiers that prove their public DIDs; only one is accredited as AccreditedDataUser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage import generate_raw_key
from tests.governance.services import Service, env_for, free_port, mydata

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "wallet-trust-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Node:
    """tests/trust/verifier_node.py as a process."""

    def __init__(self, home: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "NODE_STORE_KEY": generate_raw_key(), "MYDATA_ADMIN_TOKEN": TOKEN}
        self.log_path = home / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.trust.verifier_node", "--port", str(self.port),
                 "--store", str(home / f"{name}.sqlite")],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.admin = httpx.Client(base_url=self.url, headers=ADMIN, timeout=30)
        deadline = time.monotonic() + 40
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                if self.admin.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"node did not start: {self.log_path.read_text()}")
            time.sleep(0.1)
        self.did = str(self.admin.get("/admin/identity").json()["did"])

    def stop(self) -> None:
        self.admin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait(what: str, condition: Any) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class World:
    operator_did: str
    accredited: Node
    unaccredited: Node
    wallet_env: dict[str, str]
    wallet_url: str
    connections: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("wallet-trust")
    started: list[Any] = []
    try:
        operator_env = env_for(home / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
        port = free_port()
        operator_url = f"http://127.0.0.1:{port}"
        mydata("operator", "init", "--base-url", operator_url, env=operator_env)
        started.append(Service("operator", operator_env, port))
        operator_did = httpx.get(f"{operator_url}/operator").json()["did"]
        accredited, unaccredited = Node(home, "insurer"), Node(home, "broker")
        started += [accredited, unaccredited]
        mydata(
            "operator", "accredit", accredited.did, "--role", "AccreditedDataUser",
            "--name", "Fair Insurance", env=operator_env,
        )  # fmt: skip

        wallet_port = free_port()
        wallet_url = f"http://127.0.0.1:{wallet_port}"
        wallet_env = env_for(
            home / "wallet",
            MYDATA_ADMIN_TOKEN=TOKEN,
            MYDATA_PASSPHRASE="correct horse battery staple",
            MYDATA_WALLET_URL=wallet_url,
        )
        (home / "wallet").mkdir()
        init = mydata(
            "wallet", "init", "--operator", operator_did, "--operator-url", operator_url,
            "--insecure-http-host", "127.0.0.1", env=wallet_env,
        )  # fmt: skip
        assert "holder DID" in init.stdout
        listed = mydata("wallet", "trust", "list", env=wallet_env).stdout
        assert operator_did in listed
        assert operator_url in listed
        started.append(
            Service("wallet", wallet_env, wallet_port, "--insecure-http-host", "127.0.0.1")
        )

        connections = {}
        for node in (accredited, unaccredited):
            invitation = node.admin.post("/admin/invitations", json={"goal": "data"}).json()
            mydata("wallet", "connect", invitation["invitation_url"], "--label", node.did[-8:],
                   env=wallet_env)  # fmt: skip
            connections[node.did] = _wait(
                "the verifier's side of the connection",
                lambda node=node, invitation=invitation: [
                    c["id"]
                    for c in node.admin.get("/admin/connections").json()
                    if c["invitation_id"] == invitation["invitation_id"]
                ],
            )[0]
        yield World(operator_did, accredited, unaccredited, wallet_env, wallet_url, connections)
    finally:
        for service in reversed(started):
            service.stop()


def _request(world: World, node: Node, **body: Any) -> str:
    sent = node.admin.post(f"/admin/connections/{world.connections[node.did]}/request", json=body)
    assert sent.status_code == 202, sent.text
    return str(sent.json()["thread_id"])


def _pending(world: World, thread: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        found = httpx.get(f"{world.wallet_url}/wallet/requests", headers=ADMIN, timeout=30)
        assert found.status_code == 200, found.text
        return next((r for r in found.json() if r["thread_id"] == thread), None)

    result: dict[str, Any] = _wait(f"request {thread} in the wallet", find)
    return result


def test_wallet_marks_accredited_and_unaccredited_verifiers(world: World) -> None:
    good = _pending(world, _request(world, world.accredited))
    bad = _pending(world, _request(world, world.unaccredited))
    unproven = _pending(world, _request(world, world.accredited, prove=False))

    trust = good["verifier_trust"]
    assert trust["verifier"] == world.accredited.did
    assert trust["accredited"] is True
    assert trust["role"] == "AccreditedDataUser"
    assert trust["operator"] == world.operator_did
    assert isinstance(trust["ageSeconds"], int)
    assert trust["text"].startswith(f"verifier: {world.accredited.did} — accredited ")
    assert "(trust list " in trust["text"]

    assert bad["verifier_trust"]["verifier"] == world.unaccredited.did
    assert bad["verifier_trust"]["accredited"] is False
    assert "NOT accredited" in bad["verifier_trust"]["text"]
    # A request that does not prove its DID is not taken as the accredited verifier's.
    assert unproven["verifier_trust"]["verifier"] is None
    assert unproven["verifier_trust"]["accredited"] is False
    assert "does not prove" in unproven["verifier_trust"]["reason"]

    # The same in `mydata wallet requests`, and nothing was refused: all three still wait.
    shown = mydata("wallet", "requests", env=world.wallet_env).stdout
    assert f"accredited AccreditedDataUser by {world.operator_did}" in shown
    assert f"verifier: {world.unaccredited.did} — NOT accredited" in shown
    assert shown.count("NOT accredited") == 2
    status = mydata("wallet", "trust", "status", env=world.wallet_env).stdout
    assert "entries    1" in status


def test_emergency_purpose_accepts_a_healthcare_provider_role(world: World) -> None:
    """For emergency care an AccreditedHealthcareProvider counts; the data user accreditation
    counts too. The unaccredited node stays NOT accredited whatever the purpose."""
    bad = _pending(world, _request(world, world.unaccredited, purpose="emergency care"))
    assert bad["verifier_trust"]["accredited"] is False
    assert "AccreditedHealthcareProvider or LicensedClinician" in bad["verifier_trust"]["reason"]
    good = _pending(world, _request(world, world.accredited, purpose="emergency care"))
    assert good["verifier_trust"]["accredited"] is True
