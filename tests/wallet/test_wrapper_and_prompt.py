"""POST /wallet/import (Wallet.add_credential) accepts the VC-API wrapper
{"verifiableCredential": {...}} as `mydata verify` does; Ctrl-D at `wallet present`'s prompt
ends the prompt's line and says nothing was sent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

import wallet.cli
from mydata.cli import build_app
from tests.wallet.conftest import Hospital, allergy_claims
from wallet import Wallet


async def test_a_vc_api_wrapper_is_imported_as_its_credential(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    credential = hospital.w3c(
        allergy_claims(), await wallet.holder_did(), valid_from=now - timedelta(minutes=1)
    )
    body = json.dumps({"verifiableCredential": credential}).encode()  # as the route reads it
    meta = await wallet.add_credential(body)
    assert await wallet.content(meta.id) == credential  # the credential is kept, not the wrapper


async def test_an_sd_jwt_in_a_wrapper_is_imported(
    wallet: Wallet, hospital: Hospital, now: datetime
) -> None:
    sd_jwt = hospital.sd_jwt(allergy_claims(), await wallet.holder_jwk(), iat=now)
    meta = await wallet.add_credential({"verifiableCredential": sd_jwt})
    assert await wallet.content(meta.id) == sd_jwt


def test_ctrl_d_at_the_present_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    request = {
        "thread_id": "t-1",
        "audience": "did:web:er.example",
        "retention": "P1D",
        "legal_basis": "consent",
        "plan": {"description": ["one allergy"], "items": [], "digest": "d"},
    }
    calls: list[tuple[str, str]] = []

    def fake(service: str | None, method: str, path: str, body: Any = None) -> Any:
        calls.append((method, path))
        return request

    monkeypatch.setattr(wallet.cli, "_service_call", fake)
    result = CliRunner().invoke(build_app(), ["wallet", "present", "t-1"], input="")
    assert result.exit_code == 1
    assert "Aborted" not in result.stdout + result.stderr
    assert "Send this? [y/N]: \n" in result.stdout
    assert "nothing was sent" in result.stdout
    assert calls == [("GET", "/wallet/requests/t-1")]  # never approved
