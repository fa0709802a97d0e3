"""Over a real `mydata serve wallet`: POST /wallet/import takes the VC-API wrapper and answers a
credential whose proof does not verify with 400 PROOF_VERIFICATION_ERROR (as docs/wallet.md
says); POST /wallet/emergency-card refuses a revoked EmergencySummary with 409
credentialRevoked and warns when its status could not be checked."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.credentials.token_status_list import TokenStatus, TokenStatusList, status_list_token
from agent.dids import did_key_from_public
from agent.keys import KeyType, encode_multikey
from issuer.fhir import read_fhir_input
from issuer.issue import issue_credential, sd_jwt_credential, w3c_credential
from issuer.templates import emergency_summary
from tests.conftest import StatusListServer
from tests.issuer.conftest import SAMPLES, load
from tests.sd_jwt.helpers import KeySigner
from tests.wallet.conftest import allergy_claims
from tests.wallet_service.conftest import WalletService

NOW = datetime.now(UTC).replace(microsecond=0)


def _issuer() -> tuple[str, KeySigner]:
    signer = KeySigner.generate()
    public = bytes(signer.key.get_public_bytes())
    did = did_key_from_public(KeyType.ED25519_PUB, public)
    signer.verification_method = f"{did}#{encode_multikey(KeyType.ED25519_PUB, public)}"
    return did, signer


ISSUER, SIGNER = _issuer()


class _StatusServer(StatusListServer):
    def __init__(self) -> None:
        # "localhost": the host the service was started with --insecure-http-host for.
        super().__init__(host="localhost")

    def publish(self, status: int | None) -> None:
        if status is None:
            self.token = ""
            return
        statuses = TokenStatusList(16, bits=2)
        statuses.set(3, status)
        self.token = status_list_token(self.uri, statuses, SIGNER, iat=NOW - timedelta(minutes=1))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletService]:
    running = WalletService(tmp_path_factory.mktemp("wallet"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def status_server() -> Iterator[_StatusServer]:
    server = _StatusServer()
    yield server
    server.close()


def _w3c(holder: str) -> dict[str, Any]:
    unsigned = w3c_credential(
        allergy_claims(), issuer=ISSUER, subject_did=holder, valid_from=NOW - timedelta(minutes=1)
    )
    return issue_credential(unsigned, SIGNER, created=NOW - timedelta(minutes=1))


def test_import_takes_the_vc_api_wrapper(service: WalletService) -> None:
    credential = _w3c(service.holder)
    made = service.admin.post("/wallet/import", json={"verifiableCredential": credential})
    assert made.status_code == 201, made.text
    kept = service.admin.get(f"/wallet/credentials/{made.json()['id']}").json()
    assert kept["credential"] == credential


def test_import_of_a_tampered_credential_is_400(service: WalletService) -> None:
    tampered = copy.deepcopy(_w3c(service.holder))
    tampered["validFrom"] = (NOW - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    refused = service.admin.post("/wallet/import", json=tampered)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "PROOF_VERIFICATION_ERROR"


def _store_summary(service: WalletService, uri: str) -> str:
    holder_jwk = service.admin.get("/wallet/identity").json()["holderJwk"]
    parsed = read_fhir_input(load(SAMPLES / "ips-emergency-bundle.json"))
    summary = sd_jwt_credential(
        emergency_summary(parsed.resources, index=parsed.index),
        signer=SIGNER,
        issuer=ISSUER,
        holder_jwk=holder_jwk,
        iat=NOW - timedelta(minutes=1),
        exp=NOW + timedelta(days=365),
        status={"status_list": {"idx": 3, "uri": uri}},
    )
    made = service.admin.post(
        "/wallet/import", content=summary, headers={"Content-Type": "text/plain"}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_emergency_card_checks_the_summary_status(
    service: WalletService, status_server: _StatusServer
) -> None:
    credential = _store_summary(service, status_server.uri)
    body = {"credential": credential, "sections": ["allergies"], "lifetime": "30d"}

    status_server.publish(TokenStatus.VALID)
    valid = service.admin.post("/wallet/emergency-card", json=body)
    assert valid.status_code == 200, valid.text
    assert valid.json()["statusChecked"] is True
    assert valid.json()["warning"] is None

    status_server.publish(None)  # the hospital's status list is unreachable
    unchecked = service.admin.post("/wallet/emergency-card", json=body)
    assert unchecked.status_code == 200, unchecked.text
    assert unchecked.json()["statusChecked"] is False
    assert "not checked" in unchecked.json()["warning"]

    status_server.publish(TokenStatus.INVALID)
    revoked = service.admin.post("/wallet/emergency-card", json=body)
    assert revoked.status_code == 409, revoked.text
    assert revoked.json()["code"] == "credentialRevoked"
    assert "ask the hospital for a new summary" in revoked.json()["message"]
