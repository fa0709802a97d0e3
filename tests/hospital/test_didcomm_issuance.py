"""Story 2 over real processes: a wallet connects to the hospital service and receives records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hospital.conftest import HospitalService
from tests.hospital.test_hospital_service import verify
from tests.integration.test_didcomm_processes import Node, wait_for

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"


@pytest.fixture
def wallet(tmp_path: Path) -> Iterator[Node]:
    node = Node("wallet", tmp_path)
    yield node
    node.stop()


def test_wallet_connects_and_receives_the_offered_records(
    hospital: HospitalService, wallet: Node
) -> None:
    invitation = hospital.admin.post("/admin/invitations", json={"goal": "Your records"}).json()
    wallet.client.post("/admin/connections", json={"invitation_url": invitation["invitation_url"]})
    connection = wait_for(
        "the hospital's side of the connection",
        lambda: [
            c
            for c in hospital.admin.get("/admin/connections").json()
            if c["invitation_id"] == invitation["invitation_id"]
        ],
    )[0]
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    offered = hospital.admin.post(
        f"/admin/connections/{connection['id']}/offer",
        json={"fhir": bundle, "emergencySummary": True},
    )
    assert offered.status_code == 202, offered.text
    thread = offered.json()["thread_id"]
    count = offered.json()["offered"]
    wait_for(
        "the issuance to finish",
        lambda: any(
            r["thread_id"] == thread and r["state"] == "done"
            for r in hospital.admin.get("/admin/records").json()
        ),
    )
    credentials = wallet.client.get("/admin/credentials").json()
    assert len(credentials) == count
    assert any("EmergencySummaryCredential" in c["type"] for c in credentials)
    for credential in credentials:
        assert all(status == "passed" for status, _ in verify(credential).values())
