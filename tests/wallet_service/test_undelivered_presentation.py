"""Over a real `mydata serve wallet` and the DIDComm verifier of verifier_node.py: a presentation
the verifier cannot take (it is down) leaves the request pending and the consent rolled back,
answered 502; approved again once the verifier is back, it is delivered under a new consent.
The requests answered show the verifier's answer: accepted, or its problem-report's reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.dids import did_key_from_public
from agent.keys import KeyType, encode_multikey
from agent.storage import generate_raw_key
from issuer.issue import sd_jwt_credential
from tests.conftest import free_port, stop_process, wait_healthy
from tests.sd_jwt.helpers import KeySigner
from tests.wallet.conftest import allergy_claims
from tests.wallet_service.conftest import (
    PASSPHRASE,
    PRESENT,
    ROOT,
    TOKEN,
    WalletService,
    connect,
    wait_for,
)
from wallet import open_wallet
from wallet.consent import consent_history, verify_history

NOW = datetime.now(UTC).replace(microsecond=0)
ALLERGY_VCT = "https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"
ALLERGY_QUERY = {
    "credentials": [
        {
            "id": "allergy",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [ALLERGY_VCT]},
            "claims": [{"path": ["allergy", "code"]}],
        }
    ]
}
REJECTED = "e.p.msg.presentation-rejected"


class Verifier:
    """tests/wallet_service/verifier_node.py as a process that can be stopped and started again
    on the same port and store."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "NODE_STORE_KEY": generate_raw_key(), "MYDATA_ADMIN_TOKEN": TOKEN}
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log_path = self.home / "verifier.log"
        with log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.wallet_service.verifier_node", "--port",
                 str(self.port), "--store", str(self.home / "verifier.sqlite"),
                 "--insecure-http-host", "localhost"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_healthy(self.port, self.process, log_path)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        self.admin.close()


@dataclass
class World:
    wallet: WalletService
    verifier: Verifier
    connection: str


def _issuer() -> tuple[str, KeySigner]:
    signer = KeySigner.generate()
    public = bytes(signer.key.get_public_bytes())
    did = did_key_from_public(KeyType.ED25519_PUB, public)
    signer.verification_method = f"{did}#{encode_multikey(KeyType.ED25519_PUB, public)}"
    return did, signer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    wallet = WalletService(tmp_path_factory.mktemp("wallet"))
    verifier: Verifier | None = None
    try:
        verifier = Verifier(tmp_path_factory.mktemp("verifier"))
        issuer, signer = _issuer()
        holder_jwk = wallet.admin.get("/wallet/identity").json()["holderJwk"]
        allergy = sd_jwt_credential(
            allergy_claims(),
            signer=signer,
            issuer=issuer,
            holder_jwk=holder_jwk,
            iat=NOW - timedelta(minutes=1),
            exp=NOW + timedelta(days=365),
        )
        stored = wallet.admin.post(
            "/wallet/import", content=allergy, headers={"Content-Type": "text/plain"}
        )
        assert stored.status_code == 201, stored.text
        yield World(wallet, verifier, connect(wallet, verifier.admin, "City ER"))
    finally:
        if verifier is not None:
            verifier.close()
        wallet.stop()


def _request(world: World, body: dict[str, Any]) -> str:
    response = world.verifier.admin.post(
        f"/admin/connections/{world.connection}/request-presentation", json=body
    )
    assert response.status_code == 202, response.text
    return str(response.json()["thread_id"])


def _pending(world: World, thread: str) -> dict[str, Any]:
    return wait_for(
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


def _answered(world: World, thread: str) -> dict[str, Any] | None:
    answered = world.wallet.admin.get("/wallet/requests", params={"state": "answered"}).json()
    return next((a for a in answered if a["thread_id"] == thread), None)


def _answered_when(world: World, thread: str, what: str, **expected: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        found = _answered(world, thread)
        if found is None or any(found[k] != v for k, v in expected.items()):
            return None
        return found

    answered: dict[str, Any] = wait_for(what, ready)
    return answered


def _verifier_state(world: World, thread: str) -> str | None:
    records = world.verifier.admin.get("/admin/records", params={"protocol": PRESENT}).json()
    return next((r["state"] for r in records if r["thread_id"] == thread), None)


async def _history(store: str) -> list[tuple[str, str]]:
    wallet = await open_wallet(store, passphrase=PASSPHRASE, create=False)
    try:
        await verify_history(wallet)
        return [(e.event, e.consent_id) for e in await consent_history(wallet)]
    finally:
        await wallet.close()


def test_an_undelivered_presentation_stays_pending_and_its_consent_is_rolled_back(
    world: World,
) -> None:
    api = world.wallet.admin
    thread = _request(world, {"dcql_query": ALLERGY_QUERY, "purpose": "emergency care"})
    digest = _pending(world, thread)["plan"]["digest"]

    world.verifier.stop()
    try:
        failed = api.post(f"/wallet/requests/{thread}/approve", json={"digest": digest})
    finally:
        world.verifier.start()
    assert failed.status_code == 502, failed.text
    error = failed.json()
    assert error["code"] == "didcommDeliveryFailed"
    assert "pending again" in error["message"]
    assert "rolled back" in error["message"]
    rolled_back = error["details"]["consentId"]

    # Nothing claims a share happened: the request is pending with the same plan, no consent.
    again = api.get(f"/wallet/requests/{thread}")
    assert again.status_code == 200, again.text
    assert again.json()["plan"]["digest"] == digest
    assert _answered(world, thread) is None
    assert api.get("/wallet/consents").json() == []
    assert api.get(f"/wallet/consents/{rolled_back}").status_code == 404
    assert world.verifier.admin.get(f"/admin/verifications/{thread}").json() is None

    # Once the verifier can be reached, the citizen approves again: a new consent, delivered.
    approved = api.post(f"/wallet/requests/{thread}/approve", json={"digest": digest})
    assert approved.status_code == 200, approved.text
    consent_id = approved.json()["consent"]["id"]
    assert consent_id != rolled_back
    wait_for("the verifier to accept", lambda: _verifier_state(world, thread) == "done")
    report = world.verifier.admin.get(f"/admin/verifications/{thread}").json()
    assert report["verified"] is True, report
    assert report["consent_id"] == consent_id
    assert [c["id"] for c in api.get("/wallet/consents").json()] == [consent_id]

    answered = _answered_when(world, thread, "the verifier's ack", outcome="accepted")
    assert answered["state"] == "done"
    assert answered["consent_id"] == consent_id
    assert answered["problem"] is None
    not_pending = api.get(f"/wallet/requests/{thread}")
    assert not_pending.status_code == 409
    assert not_pending.json()["details"]["outcome"]["outcome"] == "accepted"
    assert api.post(f"/wallet/requests/{thread}/approve").status_code == 409

    # The history keeps what was agreed, that it was not delivered, and the second consent.
    history = [
        entry
        for entry in asyncio.run(_history(world.wallet.store))
        if entry[1] in {rolled_back, consent_id}
    ]
    assert history == [
        ("given", rolled_back),
        ("undelivered", rolled_back),
        ("given", consent_id),
    ]


def test_the_citizen_is_told_why_the_verifier_rejected_a_presentation(world: World) -> None:
    api = world.wallet.admin
    # An audience the verifier does not answer to: it rejects the presentation (KB-JWT aud).
    raw = {
        "dcql_query": ALLERGY_QUERY,
        "nonce": "n-" + os.urandom(6).hex(),
        "audience": "https://elsewhere.example/verifier",
        "purpose": "emergency care",
        "verifier_name": "City ER",
    }
    thread = _request(world, {"raw": raw})
    digest = _pending(world, thread)["plan"]["digest"]
    approved = api.post(f"/wallet/requests/{thread}/approve", json={"digest": digest})
    assert approved.status_code == 200, approved.text
    wait_for("the verifier to refuse", lambda: _verifier_state(world, thread) == "abandoned")

    answered = _answered_when(world, thread, "the problem-report", state="abandoned")
    assert answered["outcome"] == "rejected"
    assert answered["problem"] == {
        "code": REJECTED,
        "reason": "The presentation does not satisfy the request.",
        "by": "verifier",
    }
    assert answered["audience"] == raw["audience"]
    assert "rejected" in answered["text"]
    one = api.get(f"/wallet/requests/{thread}")
    assert one.status_code == 409
    assert "The presentation does not satisfy the request." in one.json()["message"]
    assert one.json()["details"]["outcome"]["problem"]["code"] == REJECTED


def test_a_declined_request_is_answered_as_declined(world: World) -> None:
    thread = _request(world, {"dcql_query": ALLERGY_QUERY, "purpose": "research"})
    _pending(world, thread)
    declined = world.wallet.admin.post(f"/wallet/requests/{thread}/decline")
    assert declined.status_code == 200, declined.text
    answered = _answered(world, thread)
    assert answered is not None
    assert answered["outcome"] == "declined"
    assert answered["problem"] == {"code": "e.p.req.declined", "reason": None, "by": "wallet"}
    newest = world.wallet.admin.get("/wallet/requests", params={"state": "answered", "limit": 1})
    assert [a["thread_id"] for a in newest.json()] == [thread]
    bad = world.wallet.admin.get("/wallet/requests", params={"state": "nope"})
    assert bad.status_code == 422


def test_an_answer_waits_for_its_presentation_to_be_recorded() -> None:
    """The verifier may answer before the wallet's delivery returns: a message on a thread
    whose presentation is in flight waits until the approval has recorded it (or undone it)."""
    from wallet import didcomm

    class Agent:  # only its identity matters here
        pass

    async def scenario() -> list[str]:
        agent, seen = Agent(), []
        flight = didcomm._in_flight.setdefault(agent, {})["t"] = asyncio.Event()  # type: ignore[arg-type]

        async def answer() -> None:
            await didcomm._after_flight(agent, {"thid": "t"})  # type: ignore[arg-type]
            seen.append("answer handled")

        task = asyncio.create_task(answer())
        await didcomm._after_flight(agent, {"thid": "other"})  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        seen.append("presentation recorded")
        flight.set()
        await task
        return seen

    assert asyncio.run(scenario()) == ["presentation recorded", "answer handled"]


def test_a_decline_the_verifier_cannot_hear_says_so(world: World) -> None:
    """The decline is recorded (the request is closed, nothing was presented) but could not be
    delivered: a 502 that says exactly that, not "pending again" (review)."""
    thread = _request(world, {"dcql_query": ALLERGY_QUERY, "purpose": "research"})
    _pending(world, thread)
    world.verifier.stop()
    try:
        declined = world.wallet.admin.post(f"/wallet/requests/{thread}/decline")
    finally:
        world.verifier.start()
    assert declined.status_code == 502, declined.text
    assert declined.json()["code"] == "didcommDeliveryFailed"
    assert "declined here" in declined.json()["message"]
    answered = _answered(world, thread)
    assert answered is not None
    assert answered["outcome"] == "declined"
