"""Two agents in separate processes over real HTTP on 127.0.0.1: DIDComm end to end.

The hospital and the wallet each run as their own uvicorn process with their own askar store.
They connect through an out-of-band invitation, exchange a trust ping, issue a credential
(issue-credential 3.0) and present it (present-proof 3.0); the hospital's verifier checks the
presentation's holder binding challenge and the credential's proof.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.storage import generate_raw_key
from tests.conftest import free_port, stop_process, wait_for, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-admin-token-" + "x" * 16


class Node:
    def __init__(self, role: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "NODE_STORE_KEY": generate_raw_key(), "MYDATA_ADMIN_TOKEN": TOKEN}
        self.log = (tmp / f"{role}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.agent_node",
                "--role",
                role,
                "--port",
                str(self.port),
                "--store",
                str(tmp / f"{role}.sqlite"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=15
        )
        wait_healthy(self.port, self.process, tmp / f"{role}.log", timeout=30)

    def stop(self) -> None:
        self.client.close()
        stop_process(self.process)
        self.log.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    hospital = Node("hospital", tmp_path)
    try:
        wallet = Node("wallet", tmp_path)
    except Exception:
        hospital.stop()
        raise
    yield hospital, wallet
    hospital.stop()
    wallet.stop()


def test_connect_ping_issue_and_present_between_processes(nodes: tuple[Node, Node]) -> None:
    hospital, wallet = nodes

    # 1. The hospital shows an invitation; the wallet "scans" it and connects.
    invitation = hospital.client.post("/admin/invitations", json={"goal": "Your records"})
    assert invitation.status_code == 201, invitation.text
    body = invitation.json()
    assert body["qr_svg"].startswith("<?xml")
    accepted = wallet.client.post(
        "/admin/connections", json={"invitation_url": body["invitation_url"]}
    )
    assert accepted.status_code == 201, accepted.text
    wallet_connection = accepted.json()
    assert wallet_connection["my_did"].startswith("did:peer:2.")

    # 2. The trust ping that opened the connection was answered.
    wait_for(
        "the ping response",
        lambda: wallet.client.get(f"/admin/connections/{wallet_connection['id']}").json()[
            "last_ping_response"
        ],
    )
    hospital_connections = hospital.client.get("/admin/connections").json()
    assert len(hospital_connections) == 1
    hospital_connection = hospital_connections[0]
    assert hospital_connection["their_did"] == wallet_connection["my_did"]
    assert hospital_connection["my_did"] == wallet_connection["their_did"]

    # 3. issue-credential 3.0: offer -> request -> issue -> ack.
    offered = hospital.client.post(f"/admin/connections/{hospital_connection['id']}/offer")
    assert offered.status_code == 202, offered.text
    thread = offered.json()["thread_id"]

    def issued_and_acked() -> bool:
        records = hospital.client.get(
            "/admin/records", params={"protocol": "https://didcomm.org/issue-credential/3.0"}
        ).json()
        return any(r["thread_id"] == thread and r["state"] == "done" for r in records)

    wait_for("the issuer's record to reach done", issued_and_acked)
    credentials = wallet.client.get("/admin/credentials").json()
    assert len(credentials) == 1
    assert "AllergyIntoleranceCredential" in credentials[0]["type"]
    holder_records = wallet.client.get("/admin/records").json()
    assert [(r["role"], r["state"]) for r in holder_records if r["thread_id"] == thread] == [
        ("holder", "done")
    ]

    # 4. present-proof 3.0: request -> presentation -> verified -> ack.
    requested = hospital.client.post(
        f"/admin/connections/{hospital_connection['id']}/request-presentation"
    )
    assert requested.status_code == 202, requested.text
    proof_thread = requested.json()["thread_id"]

    def presented() -> bool:
        records = hospital.client.get(
            "/admin/records", params={"protocol": "https://didcomm.org/present-proof/3.0"}
        ).json()
        return any(r["thread_id"] == proof_thread and r["state"] == "done" for r in records)

    wait_for("the verifier's record to reach done", presented)
    report = hospital.client.get(f"/admin/verifications/{proof_thread}").json()
    assert report["verified"] is True, report
    assert report["credentialResults"][0]["verified"] is True


def test_admin_api_requires_the_token(nodes: tuple[Node, Node]) -> None:
    hospital, _ = nodes
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eA=="}):
        response = httpx.post(f"{hospital.url}/admin/invitations", json={}, headers=headers)
        assert response.status_code == 401
    assert httpx.get(f"{hospital.url}/healthz").status_code == 200


def test_inbound_garbage_is_a_400_not_a_500(nodes: tuple[Node, Node]) -> None:
    hospital, _ = nodes
    for content in (b"{}", b"not json", b'{"protected": "x", "recipients": []}'):
        response = httpx.post(
            f"{hospital.url}/didcomm",
            content=content,
            headers={"content-type": "application/didcomm-encrypted+json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"].startswith(("didcomm", "PARSING", "invalid"))
