"""Over a real `mydata serve wallet`: DELETE /wallet/credentials/{id} removes a credential (204),
404 for an unknown id, behind the admin token; every search (the service answers them from its
in-memory index) and the store itself agree that it is gone, and it can be imported again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agent.dids import did_key_from_public
from agent.keys import KeyType, encode_multikey
from issuer.issue import issue_credential, sd_jwt_credential, w3c_credential
from tests.sd_jwt.helpers import KeySigner
from tests.wallet.conftest import allergy_claims, condition_claims
from tests.wallet_service.conftest import WalletService

NOW = datetime.now(UTC).replace(microsecond=0)


def _issuer() -> tuple[str, KeySigner]:
    signer = KeySigner.generate()
    public = bytes(signer.key.get_public_bytes())
    did = did_key_from_public(KeyType.ED25519_PUB, public)
    signer.verification_method = f"{did}#{encode_multikey(KeyType.ED25519_PUB, public)}"
    return did, signer


ISSUER, SIGNER = _issuer()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletService]:
    running = WalletService(tmp_path_factory.mktemp("wallet"))
    yield running
    running.stop()


def _import(service: WalletService, content: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(content, str):
        made = service.admin.post(
            "/wallet/import", content=content, headers={"Content-Type": "text/plain"}
        )
    else:
        made = service.admin.post("/wallet/import", json=content)
    assert made.status_code == 201, made.text
    meta: dict[str, Any] = made.json()
    return meta


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()}


def test_delete_a_credential(service: WalletService) -> None:
    api = service.admin
    holder = api.get("/wallet/identity").json()
    w3c = issue_credential(
        w3c_credential(
            allergy_claims(),
            issuer=ISSUER,
            subject_did=holder["holder"],
            valid_from=NOW - timedelta(minutes=1),
        ),
        SIGNER,
        created=NOW - timedelta(minutes=1),
    )
    allergy = _import(service, w3c)
    condition = _import(
        service,
        sd_jwt_credential(
            condition_claims(),
            signer=SIGNER,
            issuer=ISSUER,
            holder_jwk=holder["holderJwk"],
            iat=NOW - timedelta(minutes=1),
            exp=NOW + timedelta(days=30),
        ),
    )
    code = allergy["codes"][0]
    word = allergy["summary"].split()[0]
    searches = (
        {"type": "AllergyIntoleranceCredential"},
        {"issuer": ISSUER},
        {"code": code},
        {"text": word},
        {"format": "ldp_vc"},
    )
    for criteria in searches:
        assert allergy["id"] in _ids(api.get("/wallet/credentials", params=criteria)), criteria

    unauthenticated = httpx.delete(f"{service.url}/wallet/credentials/{allergy['id']}", timeout=10)
    assert unauthenticated.status_code == 401
    deleted = api.delete(f"/wallet/credentials/{allergy['id']}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""

    gone = api.get(f"/wallet/credentials/{allergy['id']}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "walletCredentialNotFound"
    again = api.delete(f"/wallet/credentials/{allergy['id']}")
    assert again.status_code == 404, again.text
    assert again.json()["code"] == "walletCredentialNotFound"
    unknown = api.delete("/wallet/credentials/urn:uuid:00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404

    # The service's index and the store agree: the other credential stays, this one is gone.
    assert _ids(api.get("/wallet/credentials")) == {condition["id"]}
    for criteria in searches:
        assert allergy["id"] not in _ids(api.get("/wallet/credentials", params=criteria))
    assert _ids(api.get("/wallet/credentials", params={"issuer": ISSUER})) == {condition["id"]}
    listed = json.loads(service.cli("list", "--store", service.store, "--json").stdout)
    assert [c["id"] for c in listed] == [condition["id"]]

    # Nothing of it is left behind: the same credential is not a duplicate any more.
    back = _import(service, w3c)
    assert back["id"] == allergy["id"]
    assert allergy["id"] in _ids(api.get("/wallet/credentials", params={"code": code}))
