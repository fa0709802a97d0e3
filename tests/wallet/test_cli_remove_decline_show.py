"""`mydata wallet remove`, `decline` of a credential offer, and `show` of an SD-JWT VC's claims
(QA), as real `mydata` processes on real stores and services.

* `remove ID` (there was no command): asks y/N on a terminal, `--yes` does not ask, and with no
  terminal and no `--yes` it refuses (exit 2) instead of prompting; an unknown id is
  `walletCredentialNotFound` (exit 1).
* `decline THREAD` of an offer said "no prover thread": it declines offers and presentation
  requests alike (the offer route over HTTP, as the service's other commands).
* `show ID` of an SD-JWT VC printed only the encoded SD-JWT: it shows the claims, every
  disclosure applied; the encoded form with `--raw` only (and in `--json`, as before).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.credentials.sd_jwt import parse_sd_jwt
from tests.conftest import MYDATA, wait_for
from tests.hospital.conftest import HospitalService, _start
from tests.wallet.conftest import SHC, Hospital, allergy_claims
from tests.wallet_service.conftest import SAMPLES, WalletService, connect

ISSUE = "https://didcomm.org/issue-credential/3.0"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
JWKS = str(SHC / "jwks.json")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_STORE_KEY"}
    return {**env, "MYDATA_HOME": str(home), "MYDATA_PASSPHRASE": "remove show test"}


def _wallet(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYDATA, "wallet", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _on_terminal(home: Path, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``mydata wallet ARGS`` with a terminal as its stdin, answering ``answer``."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [MYDATA, "wallet", *args],
            env=_env(home),
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(slave)
        os.write(master, answer.encode())
        out, err = process.communicate(timeout=120)
    finally:
        os.close(master)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _ids(home: Path) -> set[str]:
    return {c["id"] for c in json.loads(_wallet(home, "list", "--json").stdout)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    made = _wallet(tmp_path, "init")
    assert made.returncode == 0, _said(made)
    return tmp_path


@pytest.fixture
def card(hospital: Hospital) -> str:
    """An SD-JWT VC of an allergy (every FHIR member selectively disclosable)."""
    return hospital.sd_jwt(
        allergy_claims(), None, iat=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    )


def _only_id(home: Path) -> str:
    [one] = _ids(home)
    return one


# --- show ----------------------------------------------------------------------------------------


def test_show_an_sd_jwt_gives_its_claims_and_the_encoded_form_on_request(
    home: Path, card: str
) -> None:
    assert _wallet(home, "import", card).returncode == 0
    credential_id = _only_id(home)
    claims = parse_sd_jwt(card).claims
    disclosed = claims["allergy"]["code"]["display"]  # in a Disclosure only
    issuer_jwt = card.split("~", 1)[0]

    shown = _wallet(home, "show", credential_id)
    assert shown.returncode == 0, _said(shown)
    assert "every disclosure applied" in shown.stdout
    assert disclosed in _said(shown)
    assert '"criticality": "high"' in shown.stdout
    assert issuer_jwt not in shown.stdout.replace("\n", "")  # not the encoded form
    assert "_sd" not in shown.stdout
    for disclosure in card.split("~")[1:-1]:
        assert disclosure not in shown.stdout.replace("\n", "")

    raw = _wallet(home, "show", credential_id, "--raw")
    assert raw.returncode == 0, _said(raw)
    assert disclosed in _said(raw)
    assert card in raw.stdout.replace("\n", "")

    as_json = json.loads(_wallet(home, "show", credential_id, "--json").stdout)
    assert as_json["credential"] == card  # scripts read it (docs/stories 3, 5, 9)
    assert as_json["claims"] == claims
    assert as_json["metadata"]["id"] == credential_id


@pytest.mark.slow
def test_show_a_w3c_vc_and_a_smart_health_card(home: Path, hospital: Hospital) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    w3c = hospital.w3c(allergy_claims(), CITIZEN, valid_from=now - timedelta(days=1))
    assert _wallet(home, "import", json.dumps(w3c)).returncode == 0
    shown = _wallet(home, "show", w3c["id"])
    assert shown.returncode == 0, _said(shown)
    assert CITIZEN in shown.stdout  # the document itself, once
    assert "every disclosure applied" not in shown.stdout

    jws = (SHC / "example-01-d-jws.txt").read_text("utf-8").strip()
    assert _wallet(home, "import", jws, "--jwks", JWKS).returncode == 0
    [shc_id] = _ids(home) - {w3c["id"]}
    decoded = _wallet(home, "show", shc_id)
    assert decoded.returncode == 0, _said(decoded)
    assert "fhirBundle" in decoded.stdout  # the payload, inflated
    assert jws not in decoded.stdout.replace("\n", "")
    assert jws in _wallet(home, "show", shc_id, "--raw").stdout.replace("\n", "")


# --- remove --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_remove_with_yes(home: Path, card: str, hospital: Hospital) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    w3c = hospital.w3c(allergy_claims(), CITIZEN, valid_from=now - timedelta(days=1))
    for credential in (card, json.dumps(w3c)):
        assert _wallet(home, "import", credential).returncode == 0
    [sd_jwt_id] = _ids(home) - {w3c["id"]}

    removed = _wallet(home, "remove", sd_jwt_id, "--yes")
    assert removed.returncode == 0, _said(removed)
    assert f"removed {sd_jwt_id}: AllergyIntolerance" in _said(removed)
    assert _ids(home) == {w3c["id"]}
    found = json.loads(_wallet(home, "search", "--format", "dc+sd-jwt", "--json").stdout)
    assert found == []
    # Its content is gone too: it can be imported again.
    assert _wallet(home, "import", card).returncode == 0

    unknown = _wallet(home, "remove", "urn:uuid:missing", "--yes")
    assert unknown.returncode == 1, _said(unknown)
    assert (
        "error: [walletCredentialNotFound] no credential urn:uuid:missing in this wallet"
        in _said(unknown)
    )
    assert "Traceback" not in _said(unknown)


def test_remove_without_yes_and_without_a_terminal_refuses(home: Path, card: str) -> None:
    assert _wallet(home, "import", card).returncode == 0
    credential_id = _only_id(home)
    refused = _wallet(home, "remove", credential_id)
    said = _said(refused)
    assert refused.returncode == 2, said
    assert f"error: [invalidInput] {credential_id} was not removed: there is no terminal" in said
    assert "give --yes" in said
    assert "[y/N]" not in said  # not prompted
    assert _ids(home) == {credential_id}


@pytest.mark.slow
def test_remove_asks_on_a_terminal(home: Path, card: str) -> None:
    assert _wallet(home, "import", card).returncode == 0
    credential_id = _only_id(home)

    kept = _on_terminal(home, "n\n", "remove", credential_id)
    said = _said(kept)
    assert kept.returncode == 1, said
    assert "Remove this credential from the wallet? [y/N]" in said
    assert f"{credential_id}: AllergyIntolerance" in said  # what it would remove
    assert "nothing was removed" in said
    assert _ids(home) == {credential_id}

    gone = _on_terminal(home, "y\n", "remove", credential_id)
    assert gone.returncode == 0, _said(gone)
    assert f"removed {credential_id}" in _said(gone)
    assert _ids(home) == set()

    unknown = _on_terminal(home, "y\n", "remove", credential_id)
    assert unknown.returncode == 1, _said(unknown)
    assert "[walletCredentialNotFound]" in _said(unknown)
    assert "[y/N]" not in _said(unknown)  # nothing to ask about


# --- decline an offer ----------------------------------------------------------------------------


@pytest.fixture
def offered(tmp_path: Path) -> Iterator[tuple[HospitalService, WalletService, str]]:
    """A hospital's offer waiting in a running wallet service: the services and its thread."""
    hospital = _start(tmp_path / "hospital")
    service: WalletService | None = None
    try:
        (tmp_path / "wallet").mkdir()
        service = WalletService(tmp_path / "wallet")
        connection = connect(service, hospital.admin, "Test General")
        bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
        offer = hospital.admin.post(
            f"/admin/connections/{connection}/offer", json={"fhir": bundle, "formats": ["sd-jwt"]}
        )
        assert offer.status_code == 202, offer.text
        thread = str(offer.json()["thread_id"])
        running = service
        wait_for("the offer to reach the wallet", lambda: running.cli_json("offers"))
        yield hospital, service, thread
    finally:
        if service is not None:
            service.stop()
        hospital.stop()


def _hospital_state(hospital: HospitalService, thread: str) -> Any:
    records = hospital.admin.get("/admin/records", params={"protocol": ISSUE}).json()
    return next((r["state"] for r in records if r["thread_id"] == thread), None)


@pytest.mark.slow
def test_decline_an_offer(offered: tuple[HospitalService, WalletService, str]) -> None:
    hospital, service, thread = offered
    declined = service.cli("decline", thread, check=False)
    assert declined.returncode == 0, _said(declined)
    assert f"declined the credential offer {thread}; nothing was requested" in _said(declined)
    assert service.cli_json("offers") == []
    wait_for("the hospital to abandon", lambda: _hospital_state(hospital, thread) == "abandoned")
    assert service.admin.get("/wallet/credentials").json() == []

    again = service.cli("decline", thread, check=False)
    assert again.returncode == 1, _said(again)
    assert "not waiting for the citizen" in _said(again)

    unknown = service.cli("decline", "no-such-thread", check=False)
    assert unknown.returncode == 1, _said(unknown)
    assert (
        "error: [protocolStateError] no presentation request or credential offer with thread "
        "no-such-thread here" in _said(unknown)
    )
    assert "Traceback" not in _said(unknown)
