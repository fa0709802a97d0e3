"""An emergency card is never made from a revoked or suspended EmergencySummary, and is made
with a warning when the summary's status cannot be checked (offline); the card file is 0600.

The hospital is the did:key one of ``conftest.hospital`` (resolved without network); its Status
List Token is served by a real HTTP server on 127.0.0.1 for the command-line tests and by an
httpx mock transport for the library ones.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.credentials.token_status_list import TokenStatus, TokenStatusList, status_list_token
from agent.errors import ErrorCode
from issuer.fhir import read_fhir_input
from issuer.issue import sd_jwt_credential
from issuer.templates import emergency_summary
from mydata.cli import build_app
from tests.conftest import StatusListServer
from tests.issuer.conftest import SAMPLES, load
from tests.wallet.conftest import Hospital
from wallet import Wallet, open_wallet
from wallet.api import make_emergency_card
from wallet.errors import CredentialStatusError

IDX = 5
PASSPHRASE = "correct horse battery staple"


def _summary(hospital: Hospital, holder_jwk: dict[str, str], uri: str, now: datetime) -> str:
    parsed = read_fhir_input(load(SAMPLES / "ips-emergency-bundle.json"))
    return sd_jwt_credential(
        emergency_summary(parsed.resources, index=parsed.index),
        signer=hospital.signer,
        issuer=hospital.did,
        holder_jwk=holder_jwk,
        iat=now - timedelta(minutes=1),
        exp=now + timedelta(days=365),
        status={"status_list": {"idx": IDX, "uri": uri}},
    )


def _token(hospital: Hospital, uri: str, status: int, now: datetime) -> str:
    statuses = TokenStatusList(16, bits=2)
    statuses.set(IDX, status)
    return status_list_token(uri, statuses, hospital.signer, iat=now - timedelta(minutes=1))


async def _wallet_with_summary(
    tmp_path: Path, hospital: Hospital, uri: str, now: datetime, transport: httpx.MockTransport
) -> tuple[Wallet, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=transport)
    wallet = await open_wallet(
        str(tmp_path / "w.sqlite"), passphrase=PASSPHRASE, create=True, http_client=http
    )
    await wallet.add_credential(_summary(hospital, await wallet.holder_jwk(), uri, now))
    return wallet, http


URI = "https://hospital.example/status/1"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (TokenStatus.INVALID, ErrorCode.CREDENTIAL_REVOKED),
        (TokenStatus.SUSPENDED, ErrorCode.CREDENTIAL_SUSPENDED),
    ],
)
async def test_a_revoked_or_suspended_summary_gives_no_card(
    tmp_path: Path, hospital: Hospital, now: datetime, status: int, code: ErrorCode
) -> None:
    token = _token(hospital, URI, status, now)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=token))
    wallet, http = await _wallet_with_summary(tmp_path, hospital, URI, now, transport)
    try:
        with pytest.raises(CredentialStatusError) as caught:
            await make_emergency_card(wallet, sections=None, lifetime=timedelta(days=30))
    finally:
        await wallet.close()
        await http.aclose()
    assert caught.value.code is code
    assert "ask the hospital for a new summary" in caught.value.message


async def test_a_valid_summary_gives_a_card_without_warning(
    tmp_path: Path, hospital: Hospital, now: datetime
) -> None:
    token = _token(hospital, URI, TokenStatus.VALID, now)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=token))
    wallet, http = await _wallet_with_summary(tmp_path, hospital, URI, now, transport)
    try:
        card = await make_emergency_card(wallet, sections=None, lifetime=timedelta(days=30))
    finally:
        await wallet.close()
        await http.aclose()
    assert card.payload_text.startswith("HM1:")
    assert card.status_warning is None


async def test_offline_the_card_is_made_with_a_warning(
    tmp_path: Path, hospital: Hospital, now: datetime
) -> None:
    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("offline", request=request)

    wallet, http = await _wallet_with_summary(
        tmp_path, hospital, URI, now, httpx.MockTransport(offline)
    )
    try:
        card = await make_emergency_card(wallet, sections=None, lifetime=timedelta(days=30))
    finally:
        await wallet.close()
        await http.aclose()
    assert card.payload_text.startswith("HM1:")
    assert card.status_warning is not None
    assert "not checked" in card.status_warning


def test_the_service_answers_409_with_the_code() -> None:
    from wallet.api import _error

    response = _error(
        CredentialStatusError("revoked", code=ErrorCode.CREDENTIAL_REVOKED, details={})
    )
    assert response.status_code == 409
    assert b"credentialRevoked" in response.body


# --- the command line, against a real status list server ---------------------------------------


@pytest.fixture
def server() -> Iterator[StatusListServer]:
    running = StatusListServer()
    yield running
    running.close()


@pytest.fixture
async def cli_wallet(
    tmp_path: Path, hospital: Hospital, now: datetime, server: StatusListServer
) -> dict[str, object]:
    """A wallet file holding the summary, and the tokens the server may publish (made here,
    in the event loop the hospital's key store lives in)."""
    path = tmp_path / "cli.sqlite"
    wallet = await open_wallet(str(path), passphrase=PASSPHRASE, create=True)
    try:
        await wallet.add_credential(_summary(hospital, await wallet.holder_jwk(), server.uri, now))
    finally:
        await wallet.close()
    tokens = {s: _token(hospital, server.uri, s, now) for s in (0, 1)}
    return {"path": path, "tokens": tokens}


def _tokens(made: dict[str, object]) -> dict[int, str]:
    tokens = made["tokens"]
    assert isinstance(tokens, dict)
    return tokens


def _card(made: dict[str, object], out: Path, *extra: str) -> tuple[int, str, str]:
    store = made["path"]
    runner = CliRunner()
    result = runner.invoke(
        build_app(),
        ["wallet", "emergency-card", "--store", str(store), "-o", str(out), *extra],
        env={"MYDATA_PASSPHRASE": PASSPHRASE},
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["card.png", "card.svg", "card.txt"])
def test_cli_card_file_is_private(
    tmp_path: Path, server: StatusListServer, cli_wallet: dict[str, object], name: str
) -> None:
    server.token = _tokens(cli_wallet)[TokenStatus.VALID]
    out = tmp_path / name
    code, stdout, stderr = _card(cli_wallet, out, "--insecure-http-host", "127.0.0.1")
    assert code == 0, stdout + stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "warning" not in stderr
    if name == "card.txt":
        assert out.read_text().startswith("HM1:")


def test_cli_overwriting_a_readable_file_makes_it_private(
    tmp_path: Path, server: StatusListServer, cli_wallet: dict[str, object]
) -> None:
    server.token = _tokens(cli_wallet)[TokenStatus.VALID]
    out = tmp_path / "card.png"
    out.write_bytes(b"old")
    out.chmod(0o644)
    code, stdout, stderr = _card(cli_wallet, out, "--insecure-http-host", "127.0.0.1")
    assert code == 0, stdout + stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_cli_refuses_a_revoked_summary_with_exit_2(
    tmp_path: Path, server: StatusListServer, cli_wallet: dict[str, object]
) -> None:
    server.token = _tokens(cli_wallet)[TokenStatus.INVALID]
    out = tmp_path / "card.png"
    code, stdout, stderr = _card(cli_wallet, out, "--insecure-http-host", "127.0.0.1")
    assert code == 2, stdout + stderr
    said = " ".join(stderr.split())
    assert "credentialRevoked" in said
    assert "ask the hospital for a new summary" in said
    assert not out.exists()


def test_cli_warns_when_the_status_is_not_checked(
    tmp_path: Path, server: StatusListServer, cli_wallet: dict[str, object]
) -> None:
    server.token = _tokens(cli_wallet)[TokenStatus.INVALID]
    out = tmp_path / "card.png"
    # Without --insecure-http-host the http status list is not fetched: as if offline.
    code, stdout, stderr = _card(cli_wallet, out)
    assert code == 0, stdout + stderr
    assert "status (revoked?) was not checked" in " ".join(stderr.split())
    assert out.exists()
