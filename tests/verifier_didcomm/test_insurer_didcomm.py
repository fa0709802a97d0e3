"""The insurer over DIDComm (real processes on 127.0.0.1): `mydata serve operator` accredits
`mydata serve hospital`, which issues a ClaimEvidence SD-JWT VC at discharge to `mydata serve
wallet`; `mydata serve verifier` (trusting the operator) asks the wallet with DCQL for a named
claim. The first claim is accepted, the same evidence for a second claim is flagged as a
duplicate, and an insurer request without a claim is refused before a nonce is spent. The
wallet (`mydata wallet init --operator`) shows, from the request's signed `verifier_proof`,
whether the insurer is accredited by that operator: NOT before `mydata operator accredit
--role AccreditedDataUser`, accredited after."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.governance.services import Service, env_for, free_port, mydata
from tests.hospital.conftest import HospitalService, _start
from tests.wallet_service.conftest import (
    PRESENT,
    SAMPLES,
    TOKEN,
    WalletService,
    connect,
    wait_for,
)
from verifier.policy import CLAIM_FIELDS, VCT_CLAIM_EVIDENCE

ROLE = "AccreditedHealthcareProvider"
DATA_USER = "AccreditedDataUser"
CLAIM_TYPE = "institutional"
CLAIM_QUERY = {
    "credentials": [
        {
            "id": "claim",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT_CLAIM_EVIDENCE]},
            "claims": [{"path": [name]} for name in CLAIM_FIELDS[CLAIM_TYPE]],
        }
    ]
}


class TrustingWallet(WalletService):
    """A wallet initialised with ``mydata wallet init --operator DID --operator-url URL``."""

    def __init__(self, home: Path, operator_did: str, operator_url: str) -> None:
        self.operator = (
            "--operator",
            operator_did,
            "--operator-url",
            operator_url,
            "--insecure-http-host",
            "localhost",
        )
        super().__init__(home)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if args[:1] == ("init",):
            args = (*args, *self.operator)
        return super().cli(*args, check=check)


@dataclass
class World:
    hospital: HospitalService
    wallet: WalletService
    verifier: httpx.Client
    verifier_log: Path
    #: the verifier's side of its connection to the wallet
    connection: str
    operator_env: dict[str, str]
    operator_did: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("insurer-didcomm")
    for party in ("operator", "hospital", "wallet", "verifier"):
        (home / party).mkdir()
    operator_env = env_for(home / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
    operator_port = free_port()
    operator_url = f"http://localhost:{operator_port}"
    mydata("operator", "init", "--base-url", operator_url, env=operator_env)
    services: list[Any] = []
    try:
        services.append(
            Service("operator", operator_env, operator_port, "--insecure-http-host", "localhost")
        )
        operator_did = httpx.get(f"{operator_url}/operator").json()["did"]
        hospital = _start(home / "hospital")
        services.append(hospital)
        hospital_did = httpx.get(f"{hospital.url}/.well-known/did.json").json()["id"]
        mydata("operator", "accredit", hospital_did, "--role", ROLE, env=operator_env)
        wallet = TrustingWallet(home / "wallet", operator_did, operator_url)
        services.append(wallet)
        verifier_port = free_port()
        verifier_env = env_for(home / "verifier", MYDATA_ADMIN_TOKEN=TOKEN)
        verifier = Service(
            "verifier", verifier_env, verifier_port,
            "--operator", operator_did,
            "--operator-url", operator_url,
            "--insecure-http-host", "localhost",
            "--purpose", "insurance claim",
        )  # fmt: skip
        services.append(verifier)
        admin = httpx.Client(
            base_url=f"http://127.0.0.1:{verifier_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )
        hospital_connection = connect(wallet, hospital.admin, "Test General")
        bundle = json.loads((SAMPLES / "discharge-bundle.json").read_text())
        offered = hospital.admin.post(
            f"/admin/connections/{hospital_connection}/offer",
            json={"fhir": bundle, "topics": False, "claimEvidence": True, "formats": ["sd-jwt"]},
        )
        assert offered.status_code == 202, offered.text
        wait_for("the offer to reach the wallet", lambda: wallet.cli_json("offers"))
        received = wallet.cli("receive")
        assert "1 received and stored" in received.stdout, received.stdout
        connection = connect(wallet, admin, "Demo Insurance")
        try:
            yield World(
                hospital,
                wallet,
                admin,
                verifier.log_path,
                connection,
                operator_env,
                operator_did,
            )
        finally:
            admin.close()
    finally:
        for service in reversed(services):
            service.stop()


def _path(world: World) -> str:
    return f"/admin/connections/{world.connection}/request-presentation"


def _records(world: World) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = world.verifier.get(
        "/admin/records", params={"protocol": PRESENT}
    ).json()
    return records


def _pending(world: World, claim_id: str) -> dict[str, Any]:
    """Ask for the claim's fields for ``claim_id``; the request as the wallet shows it."""
    sent = world.verifier.post(
        _path(world),
        json={
            "dcql_query": CLAIM_QUERY,
            "role": "insurer",
            "claim_id": claim_id,
            "claim_type": CLAIM_TYPE,
        },
    )
    assert sent.status_code == 202, sent.text
    thread = sent.json()["thread_id"]
    pending: dict[str, Any] = wait_for(
        "the request to reach the wallet",
        lambda: next(
            (
                r
                for r in world.wallet.admin.get("/wallet/requests").json()
                if r["thread_id"] == thread
            ),
            None,
        ),
    )
    return pending


def _claim(world: World, claim_id: str, expect_state: str) -> dict[str, Any]:
    """Ask for the claim's fields for ``claim_id``; the citizen approves; the stored outcome."""
    pending = _pending(world, claim_id)
    thread = pending["thread_id"]
    [item] = pending["plan"]["items"]
    # Only the claim type's fields (and what they contain) go to the insurer.
    assert {p.split("/")[1] for p in item["disclosed"]} == set(CLAIM_FIELDS[CLAIM_TYPE])
    approved = world.wallet.admin.post(
        f"/wallet/requests/{thread}/approve", json={"digest": pending["plan"]["digest"]}
    )
    assert approved.status_code == 200, approved.text
    wait_for(
        f"the verifier's thread to end {expect_state}",
        lambda: any(
            r["thread_id"] == thread and r["state"] == expect_state for r in _records(world)
        ),
        timeout=60,
    )
    stored: dict[str, Any] = world.verifier.get(f"/admin/presentations/{thread}").json()
    return stored


def test_an_insurer_request_without_a_claim_is_refused_before_a_nonce_is_spent(
    world: World,
) -> None:
    before = len(_records(world))
    refused = {
        "no claim_id": {"role": "insurer", "claim_type": CLAIM_TYPE},
        "empty claim_id": {"role": "insurer", "claim_id": " ", "claim_type": CLAIM_TYPE},
        "long claim_id": {"role": "insurer", "claim_id": "C" * 129, "claim_type": CLAIM_TYPE},
        "control character": {"role": "insurer", "claim_id": "C-1\n", "claim_type": CLAIM_TYPE},
        "claim_id not a string": {"role": "insurer", "claim_id": 42, "claim_type": CLAIM_TYPE},
        "no claim_type": {"role": "insurer", "claim_id": "C-1"},
        "unknown claim_type": {"role": "insurer", "claim_id": "C-1", "claim_type": "yacht"},
        "a claim for another role": {"role": "generic", "claim_id": "C-1"},
    }
    for case, body in refused.items():
        response = world.verifier.post(_path(world), json={"dcql_query": CLAIM_QUERY, **body})
        assert response.status_code == 400, (case, response.text)
        error = response.json()
        assert error["code"] == "presentationRequestInvalid", (case, error)
        field = "claim_type" if "claim_type" in case else "claim_id"
        assert error["details"]["field"] == field, (case, error)
    unknown = world.verifier.post(
        _path(world),
        json={"dcql_query": CLAIM_QUERY, "role": "insurer", "claim_id": "C-1", "claim_type": "x"},
    ).json()
    assert set(unknown["details"]["allowed"]) == set(CLAIM_FIELDS)
    # Nothing was sent: no present-proof thread began, so no nonce went out.
    assert len(_records(world)) == before


def test_the_first_claim_is_accepted_and_the_same_evidence_for_another_is_flagged(
    world: World,
) -> None:
    first = _claim(world, "C-2026-0042", "done")
    assert first["verified"] is True, first
    assert first["accepted"] is True, first
    assert first["role"] == "insurer"
    assert first["claim_id"] == "C-2026-0042"
    [shown] = first["presentations"]
    assert shown["vct"] == VCT_CLAIM_EVIDENCE
    results = {r["check"]: r["status"] for r in shown["report"]["results"]}
    assert results["trust"] == "passed", shown["report"]
    assert results["holder"] == "passed"
    assert results["challenge"] == "passed"
    decision = shown["decision"]
    assert decision["accepted"] is True, decision
    assert decision["flags"] == []
    assert set(CLAIM_FIELDS[CLAIM_TYPE]) <= set(decision["show"])
    assert "institutional claim, first presentation" in decision["reasons"][0]

    second = _claim(world, "C-2026-0057", "abandoned")
    assert second["verified"] is True, second
    assert second["accepted"] is False
    assert second["claim_id"] == "C-2026-0057"
    [again] = second["presentations"]
    assert again["decision"]["flags"] == ["duplicateClaim"]
    assert again["decision"]["show"] == {}
    assert "presented already for claim C-2026-0042" in again["decision"]["reasons"][0]

    # The same claim asked again is not a duplicate of itself.
    repeat = _claim(world, "C-2026-0042", "done")
    assert repeat["accepted"] is True, repeat
    # Claim values never reach the verifier's log.
    total = first["presentations"][0]["decision"]["show"]["chargeTotal"]
    assert json.dumps(total) not in world.verifier_log.read_text()


def test_the_wallet_shows_whether_the_insurer_is_accredited(world: World) -> None:
    verifier_did = world.verifier.get("/verifier").json()["did"]

    def shown(claim_id: str) -> tuple[dict[str, Any], str]:
        """The request's ``verifier_trust`` (wallet API) and `mydata wallet requests`' line;
        the citizen then declines."""
        pending = _pending(world, claim_id)
        listed = world.wallet.cli("requests").stdout
        declined = world.wallet.admin.post(f"/wallet/requests/{pending['thread_id']}/decline")
        assert declined.status_code == 200, declined.text
        trust: dict[str, Any] = pending["verifier_trust"]
        return trust, listed

    before, listed = shown("C-TRUST-1")
    # The verifier proved its DID (verifier_proof), but no operator accredits it yet.
    assert before["verifier"] == verifier_did, before
    assert before["claimed"] == verifier_did
    assert before["accredited"] is False, before
    assert before["role"] is None
    assert f"verifier: {verifier_did} — NOT accredited" in before["text"]
    assert f"verifier: {verifier_did} — NOT accredited" in listed, listed

    mydata("operator", "accredit", verifier_did, "--role", DATA_USER, env=world.operator_env)
    refreshed = world.wallet.admin.post("/wallet/trust/refresh")
    assert refreshed.status_code == 200, refreshed.text

    after, listed = shown("C-TRUST-2")
    assert after["verifier"] == verifier_did, after
    assert after["accredited"] is True, after
    assert after["role"] == DATA_USER
    assert after["operator"] == world.operator_did
    assert str(after["accreditation"]).startswith("urn:uuid:"), after
    line = f"verifier: {verifier_did} — accredited {DATA_USER} by {world.operator_did}"
    assert line in after["text"], after
    assert line in listed, listed
