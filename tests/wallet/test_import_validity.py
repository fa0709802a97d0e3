"""An expired W3C credential is refused at import as an expired SD-JWT is (QA: one with
validUntil 2021 was stored through `POST /wallet/import` and `mydata wallet import`): 422
`RANGE_ERROR`, nothing stored. The validity period is checked with the agent's
`check_validity_period` against the wallet's clock, with the same clock skew as an SD-JWT's
`exp` and `nbf` (`DEFAULT_MAX_CLOCK_SKEW`, 5 minutes)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import DEFAULT_MAX_CLOCK_SKEW
from agent.errors import ErrorCode, HealthMyDataError
from agent.storage import generate_raw_key
from issuer.issue import issue_credential, sd_jwt_credential, w3c_credential
from tests.conftest import MYDATA
from tests.wallet.conftest import Hospital, allergy_claims
from tests.wallet_service.conftest import WalletService
from wallet import Wallet, open_wallet

CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
EXPIRED_FROM = datetime(2020, 1, 1, tzinfo=UTC)
EXPIRED_UNTIL = datetime(2021, 1, 1, tzinfo=UTC)


def _w3c(hospital: Hospital, *, valid_from: datetime, valid_until: datetime | None) -> Any:
    unsigned = w3c_credential(
        allergy_claims(),
        issuer=hospital.did,
        subject_did=CITIZEN,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    # Signed when it became valid, or now for one not valid yet (a proof from the future is
    # refused as such, before the validity period is looked at).
    return issue_credential(unsigned, hospital.signer, created=min(valid_from, _now()))


def _sd_jwt(hospital: Hospital, holder: dict[str, Any], *, iat: datetime, exp: datetime) -> str:
    return sd_jwt_credential(
        allergy_claims(),
        signer=hospital.signer,
        issuer=hospital.did,
        holder_jwk=holder,
        iat=iat,
        exp=exp,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def _refused(wallet: Wallet, credential: Any) -> HealthMyDataError:
    with pytest.raises(HealthMyDataError) as raised:
        await wallet.add_credential(credential)
    assert await wallet.list() == []  # nothing stored
    return raised.value


async def test_an_expired_w3c_credential_is_refused(wallet: Wallet, hospital: Hospital) -> None:
    error = await _refused(
        wallet, _w3c(hospital, valid_from=EXPIRED_FROM, valid_until=EXPIRED_UNTIL)
    )
    assert error.code is ErrorCode.RANGE_ERROR
    assert error.details["reason"] == "expired"
    assert error.details["path"] == "validUntil"
    assert "has expired" in error.message


async def test_a_w3c_credential_not_valid_yet_is_refused(
    wallet: Wallet, hospital: Hospital
) -> None:
    start = _now() + timedelta(days=2)
    error = await _refused(wallet, _w3c(hospital, valid_from=start, valid_until=None))
    assert error.code is ErrorCode.RANGE_ERROR
    assert error.details["reason"] == "notYetValid"


async def test_the_clock_skew_is_the_sd_jwt_one(wallet: Wallet, hospital: Hospital) -> None:
    """Just expired, within the skew: kept, as an SD-JWT whose exp passed as little ago is;
    beyond it both are RANGE_ERROR."""
    now = _now()
    inside = now - DEFAULT_MAX_CLOCK_SKEW + timedelta(seconds=30)
    outside = now - DEFAULT_MAX_CLOCK_SKEW - timedelta(seconds=30)
    await wallet.add_credential(
        _w3c(hospital, valid_from=now - timedelta(days=1), valid_until=inside)
    )
    holder = await wallet.holder_jwk()
    await wallet.add_credential(_sd_jwt(hospital, holder, iat=now - timedelta(days=1), exp=inside))
    assert len(await wallet.list()) == 2
    w3c = _w3c(hospital, valid_from=now - timedelta(days=2), valid_until=outside)
    sd_jwt = _sd_jwt(hospital, holder, iat=now - timedelta(days=2), exp=outside)
    for credential in (w3c, sd_jwt):
        with pytest.raises(HealthMyDataError) as raised:
            await wallet.add_credential(credential)
        assert raised.value.code is ErrorCode.RANGE_ERROR
    assert len(await wallet.list()) == 2


async def test_validity_is_judged_by_the_wallets_clock(tmp_path: Path, hospital: Hospital) -> None:
    credential = _w3c(hospital, valid_from=EXPIRED_FROM, valid_until=EXPIRED_UNTIL)
    then = datetime(2020, 6, 1, tzinfo=UTC)
    opened = await open_wallet(
        str(tmp_path / "then.db"), raw_key=generate_raw_key(), clock=lambda: then
    )
    try:
        meta = await opened.add_credential(credential)
        assert meta.valid_until == EXPIRED_UNTIL
    finally:
        await opened.close()


# --- the service and the command ----------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> Iterator[WalletService]:
    running = WalletService(tmp_path)
    yield running
    running.stop()


def test_post_wallet_import_answers_422_range_error(
    service: WalletService, hospital: Hospital
) -> None:
    expired = _w3c(hospital, valid_from=EXPIRED_FROM, valid_until=EXPIRED_UNTIL)
    answer = service.admin.post("/wallet/import", content=json.dumps(expired))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "RANGE_ERROR"
    assert answer.json()["details"]["reason"] == "expired"
    assert service.admin.get("/wallet/credentials").json() == []
    # A valid one is still stored.
    valid = _w3c(hospital, valid_from=_now() - timedelta(days=1), valid_until=None)
    stored = service.admin.post("/wallet/import", content=json.dumps(valid))
    assert stored.status_code == 201, stored.text


def test_mydata_wallet_import_refuses_it(tmp_path: Path, hospital: Hospital) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_STORE_KEY"}
    env |= {"MYDATA_HOME": str(tmp_path), "MYDATA_PASSPHRASE": "validity test"}

    def wallet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MYDATA, "wallet", *args], env=env, capture_output=True, text=True, timeout=120,
            check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    assert wallet("init").returncode == 0
    path = tmp_path / "expired.json"
    path.write_text(json.dumps(_w3c(hospital, valid_from=EXPIRED_FROM, valid_until=EXPIRED_UNTIL)))
    refused = wallet("import", str(path))
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 1, said
    assert "error: [RANGE_ERROR] validUntil: the credential has expired" in said
    assert json.loads(wallet("list", "--json").stdout) == []
