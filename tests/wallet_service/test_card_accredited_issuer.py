"""A wallet that trusts an operator (`mydata serve operator`) makes the emergency card from the
newest EmergencySummary whose issuer the operator accredits as AccreditedHealthcareProvider:
after the operator revokes the hospital's accreditation, the hospital's newer summary is passed
over (with a warning), chosen explicitly it is honoured with a warning, and with no accredited
issuer left no card is made (409 issuerNotTrusted). Offers say who offers and whether it is
accredited. A wallet that trusts no operator makes the card from the newest summary as before."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.credentials.emergency_qr import EMERGENCY_SUMMARY_VCT
from agent.dids import did_key_from_public
from agent.keys import KeyType, encode_multikey
from issuer.fhir import read_fhir_input
from issuer.issue import sd_jwt_credential
from issuer.templates import emergency_summary
from tests.governance.services import Service, env_for, free_port, mydata
from tests.hospital.conftest import HospitalService, _start
from tests.sd_jwt.helpers import KeySigner
from tests.wallet_service.conftest import PASSPHRASE, SAMPLES, WalletService, wait_for

NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "card-trust-admin-token"
ROLE = "AccreditedHealthcareProvider"


def _issuer() -> tuple[str, KeySigner]:
    signer = KeySigner.generate()
    public = bytes(signer.key.get_public_bytes())
    did = did_key_from_public(KeyType.ED25519_PUB, public)
    signer.verification_method = f"{did}#{encode_multikey(KeyType.ED25519_PUB, public)}"
    return did, signer


@dataclass
class World:
    operator_env: dict[str, str]
    operator_did: str
    hospital: HospitalService
    hospital_did: str
    hospital_accreditation: str
    #: a second hospital, as a did:key issuer of a summary imported earlier
    other_did: str
    other_signer: KeySigner
    other_accreditation: str
    wallet: httpx.Client
    #: the hospital's side of its connection to the wallet
    connection: str


def _accredit(env: dict[str, str], did: str, name: str) -> str:
    out = mydata("operator", "accredit", did, "--role", ROLE, "--name", name, env=env).stdout
    found = re.search(r"urn:uuid:[0-9a-f-]+", out)
    assert found is not None, out
    return found.group(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("card-trust")
    started: list[Any] = []
    try:
        operator_env = env_for(home / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
        port = free_port()
        operator_url = f"http://127.0.0.1:{port}"
        mydata("operator", "init", "--base-url", operator_url, env=operator_env)
        started.append(Service("operator", operator_env, port))
        operator_did = httpx.get(f"{operator_url}/operator").json()["did"]

        hospital = _start(home / "hospital")
        started.append(hospital)
        hospital_did = hospital.admin.get("/.well-known/did.json").json()["id"]
        other_did, other_signer = _issuer()
        hospital_accreditation = _accredit(operator_env, hospital_did, "Test General")
        other_accreditation = _accredit(operator_env, other_did, "St. Elsewhere")

        wallet_port = free_port()
        wallet_env = env_for(
            home / "wallet",
            MYDATA_ADMIN_TOKEN=TOKEN,
            MYDATA_PASSPHRASE=PASSPHRASE,
            MYDATA_WALLET_URL=f"http://127.0.0.1:{wallet_port}",
        )
        (home / "wallet").mkdir()
        mydata(
            "wallet", "init", "--operator", operator_did, "--operator-url", operator_url,
            "--insecure-http-host", "127.0.0.1", env=wallet_env,
        )  # fmt: skip
        hosts = ("--insecure-http-host", "127.0.0.1", "--insecure-http-host", "localhost")
        started.append(Service("wallet", wallet_env, wallet_port, *hosts))
        wallet = httpx.Client(
            base_url=f"http://127.0.0.1:{wallet_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )
        invitation = hospital.admin.post("/admin/invitations", json={"goal": "records"}).json()
        mydata(
            "wallet", "connect", invitation["invitation_url"], "--label", "Test General",
            env=wallet_env,
        )  # fmt: skip
        connection = wait_for(
            "the hospital's side of the connection",
            lambda: [
                c["id"]
                for c in hospital.admin.get("/admin/connections").json()
                if c["invitation_id"] == invitation["invitation_id"]
            ],
        )[0]
        yield World(
            operator_env,
            operator_did,
            hospital,
            hospital_did,
            hospital_accreditation,
            other_did,
            other_signer,
            other_accreditation,
            wallet,
            connection,
        )
        wallet.close()
    finally:
        for service in reversed(started):
            service.stop()


def _summary(issuer: str, signer: KeySigner, holder_jwk: dict[str, Any], iat: datetime) -> str:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    parsed = read_fhir_input(bundle)
    return sd_jwt_credential(
        emergency_summary(parsed.resources, index=parsed.index),
        signer=signer,
        issuer=issuer,
        holder_jwk=holder_jwk,
        iat=iat,
        exp=iat + timedelta(days=365),
    )


def _import(wallet: httpx.Client, summary: str) -> str:
    made = wallet.post("/wallet/import", content=summary, headers={"Content-Type": "text/plain"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _offer(world: World) -> str:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    offered = world.hospital.admin.post(
        f"/admin/connections/{world.connection}/offer",
        json={"fhir": bundle, "emergencySummary": True, "topics": False, "formats": ["sd-jwt"]},
    )
    assert offered.status_code == 202, offered.text
    thread = str(offered.json()["thread_id"])
    wait_for(
        "the offer to reach the wallet",
        lambda: any(o["thread_id"] == thread for o in world.wallet.get("/wallet/offers").json()),
    )
    return thread


def _offer_listed(world: World, thread: str) -> dict[str, Any]:
    offers = world.wallet.get("/wallet/offers").json()
    found: dict[str, Any] = next(o for o in offers if o["thread_id"] == thread)
    return found


def _card(world: World, **body: Any) -> httpx.Response:
    return world.wallet.post(
        "/wallet/emergency-card", json={"lifetime": "30d", "sections": ["allergies"], **body}
    )


def _refresh(world: World) -> None:
    refreshed = world.wallet.post("/wallet/trust/refresh")
    assert refreshed.status_code == 200, refreshed.text


def test_the_card_is_made_from_an_accredited_hospitals_summary(world: World) -> None:
    wallet = world.wallet
    holder_jwk = wallet.get("/wallet/identity").json()["holderJwk"]
    older = _import(
        wallet,
        _summary(world.other_did, world.other_signer, holder_jwk, NOW - timedelta(days=2)),
    )

    # A first offer: the wallet knows the hospital's connection DID only.
    first = _offer(world)
    listed = _offer_listed(world, first)
    assert listed["peer"] == "Test General"
    assert listed["peer_did"].startswith("did:peer:")
    assert listed["issuer"] is None
    assert listed["issuer_trust"]["accredited"] is False
    assert listed["issuer_trust"]["checked"] is False
    assert "NOT known to be accredited" in listed["issuer_trust"]["text"]
    accepted = wallet.post(f"/wallet/offers/{first}/accept")
    assert accepted.status_code == 202, accepted.text
    newer = wait_for(
        "the hospital's summary",
        lambda: [
            c["id"]
            for c in wallet.get("/wallet/credentials", params={"issuer": world.hospital_did}).json()
        ],
    )[0]

    made = _card(world)
    assert made.status_code == 200, made.text
    card = made.json()
    assert card["credential"] == newer
    assert card["issuer"] == world.hospital_did
    assert card["issuerTrust"]["accredited"] is True
    assert card["issuerTrust"]["role"] == ROLE
    assert card["issuerTrust"]["operator"] == world.operator_did
    assert card["warning"] is None
    assert card["warnings"] == []

    # Later offers on that connection name the hospital and its accreditation.
    second = _offer(world)
    listed = _offer_listed(world, second)
    assert listed["issuer"] == world.hospital_did
    assert listed["issuer_trust"]["accredited"] is True
    assert listed["issuer_trust"]["text"].startswith(f"issuer: {world.hospital_did} — accredited")

    # The operator revokes the hospital's accreditation.
    mydata("operator", "revoke", world.hospital_accreditation, env=world.operator_env)
    _refresh(world)
    listed = _offer_listed(world, second)
    assert listed["issuer_trust"]["accredited"] is False
    assert listed["issuer_trust"]["checked"] is True
    assert "NOT accredited" in listed["issuer_trust"]["text"]

    # The newest summary whose issuer is accredited is used, and the citizen is told why.
    made = _card(world)
    assert made.status_code == 200, made.text
    card = made.json()
    assert card["credential"] == older
    assert card["issuer"] == world.other_did
    assert card["issuerTrust"]["accredited"] is True
    assert card["statusChecked"] is True
    assert "older summary" in card["warning"]
    assert newer in card["warning"]
    assert card["warnings"] == [card["warning"]]

    # The citizen's explicit choice is honoured, with a warning.
    chosen = _card(world, credential=newer)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["credential"] == newer
    assert chosen.json()["issuerTrust"]["accredited"] is False
    assert "not an accredited hospital" in chosen.json()["warning"]
    assert chosen.json()["payload"].startswith("HM1:")

    # No accredited issuer left: no card, and the answer says why.
    mydata("operator", "revoke", world.other_accreditation, env=world.operator_env)
    _refresh(world)
    refused = _card(world)
    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert error["code"] == "issuerNotTrusted"
    assert "ask an accredited hospital for a new summary" in error["message"]
    assert {s["credential"] for s in error["details"]["summaries"]} == {newer, older}


def test_a_wallet_that_trusts_no_operator_uses_the_newest_summary(tmp_path: Path) -> None:
    service = WalletService(tmp_path)
    try:
        issuer, signer = _issuer()
        holder_jwk = service.admin.get("/wallet/identity").json()["holderJwk"]
        old = _summary(issuer, signer, holder_jwk, NOW - timedelta(days=3))
        new = _summary(issuer, signer, holder_jwk, NOW - timedelta(hours=1))
        _import(service.admin, old)
        newest = _import(service.admin, new)
        made = service.admin.post("/wallet/emergency-card", json={"lifetime": "30d"})
        assert made.status_code == 200, made.text
        card = made.json()
        assert card["credential"] == newest
        assert card["issuerTrust"] is None
        assert card["warning"] is None
        assert card["warnings"] == []
        assert service.admin.get("/wallet/offers").json() == []
        types = service.admin.get("/wallet/credentials", params={"type": EMERGENCY_SUMMARY_VCT})
        assert len(types.json()) == 2
    finally:
        service.stop()
