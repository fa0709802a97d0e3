"""`mydata hospital accreditation fetch` (and `hospital init --operator`) say how the
registration and the accreditation really stand, with next steps that work: a rejection shows
its reason and leads to a new registration, a suspended or revoked accreditation is never shown
as valid (the operator's status lists, checked as `mydata selftest` checks them), and the
printed self-test names the plain-http operator host of a local trial.

Real `mydata` commands against a real operator service on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuer.cli import _standing
from tests.governance.services import Service, env_for, free_port, mydata

OPERATOR_TOKEN = "operator-admin-token-for-fetch-states"


class Operator:
    """`mydata operator init` and `mydata serve operator` at http://127.0.0.1:PORT."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = f"sqlite://{home / 'operator.sqlite'}"
        self.env = env_for(home)
        out = mydata(
            "operator", "init", "--base-url", self.url, "--store", self.store,
            "--name", "Test Trust Operator", env=self.env,
        ).stdout  # fmt: skip
        match = re.search(r"operator DID\s+(did:key:\S+)", out)
        assert match, out
        self.did = match.group(1)
        self.service = Service(
            "operator",
            env_for(home, MYDATA_ADMIN_TOKEN=OPERATOR_TOKEN),
            self.port,
            "--store",
            self.store,
        )

    def cli(self, *args: str, check: bool = True) -> Any:
        return mydata("operator", *args, "--store", self.store, env=self.env, check=check)


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    running = Operator(tmp_path_factory.mktemp("operator"))
    yield running
    running.service.stop()


class Hospital:
    """A hospital's store in its own MYDATA_HOME (no service: fetch needs none)."""

    def __init__(self, home: Path, base_url: str = "") -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.base_url = base_url or f"http://localhost:{free_port()}"
        self.store = f"sqlite://{home / 'hospital.sqlite'}"
        self.env = env_for(home)

    def init(self, operator_url: str, *extra: str) -> Any:
        insecure = ("--insecure-http-host", "localhost") if "localhost" in self.base_url else ()
        return mydata(
            "hospital", "init", "--base-url", self.base_url, "--store", self.store,
            *insecure, "--operator", operator_url, *extra, env=self.env, check=False,
        )  # fmt: skip

    def fetch(self, *extra: str) -> Any:
        return mydata(
            "hospital", "accreditation", "fetch", "--store", self.store, *extra,
            env=self.env, check=False,
        )  # fmt: skip


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone (words joined by single spaces)."""
    return " ".join(text.split())


def _registration(out: str, state: str) -> str:
    match = re.search(rf"registration\s+(\S+): {state}", out)
    assert match, out
    return match.group(1)


def test_a_rejection_shows_its_reason_and_leads_to_a_new_registration(
    operator: Operator, tmp_path: Path
) -> None:
    hospital = Hospital(tmp_path / "hospital")
    init = hospital.init(operator.url, "--name", "St. Olav")
    assert init.returncode == 0, init.stdout + init.stderr
    first = _registration(init.stdout, "pending")
    operator.cli("reject", first, "--reason", "domain not verified")

    fetched = hospital.fetch()
    out = _flat(fetched.stdout)
    assert fetched.returncode == 1, fetched.stdout + fetched.stderr
    assert f"registration {first}: rejected" in out
    assert "reason domain not verified" in out
    # Never the impossible step: the operator cannot approve a rejected registration.
    assert "mydata operator approve" not in out
    assert "a rejected registration cannot be approved any more" in out
    assert (
        f"register again: mydata hospital init --base-url {hospital.base_url} --name 'St. Olav' "
        f"--insecure-http-host localhost --operator {operator.url} --store {hospital.store}"
    ) in out
    refused = operator.cli("approve", first, check=False)
    assert refused.returncode == 1
    assert "rejected already" in refused.stderr

    # The printed step works: init registers again (with the stored name, even without
    # --name); the operator approves the new registration and fetch then holds it.
    again = hospital.init(operator.url)
    assert again.returncode == 0, again.stdout + again.stderr
    second = _registration(again.stdout, "pending")
    assert second != first
    listed = operator.cli("registrations", "--state", "pending").stdout
    assert second[:8] in listed
    assert "St. Olav" in listed
    operator.cli("approve", second)
    held = hospital.fetch()
    assert held.returncode == 0, held.stdout + held.stderr
    assert "neither revoked nor suspended" in held.stdout


def test_a_rejection_without_a_reason_says_so(operator: Operator, tmp_path: Path) -> None:
    hospital = Hospital(tmp_path / "hospital")
    registration = _registration(hospital.init(operator.url).stdout, "pending")
    operator.cli("reject", registration)
    fetched = hospital.fetch()
    assert fetched.returncode == 1
    assert "reason         (none given)" in fetched.stdout


def test_suspended_and_revoked_accreditations_are_never_shown_valid(
    operator: Operator, tmp_path: Path
) -> None:
    hospital = Hospital(tmp_path / "hospital")
    init = hospital.init(operator.url, "--name", "St. Olav", "--operator-token", OPERATOR_TOKEN)
    assert init.returncode == 0, init.stdout + init.stderr
    accreditation = re.search(r"accreditation\s+(urn:uuid:\S+) \(valid until", init.stdout)
    assert accreditation, init.stdout
    accreditation_id = accreditation.group(1)
    assert "status         neither revoked nor suspended" in init.stdout

    valid = hospital.fetch()
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "(valid until" in valid.stdout
    assert "mydata serve hospital" in valid.stdout

    operator.cli("suspend", accreditation_id)
    suspended = hospital.fetch()
    out = _flat(suspended.stdout)
    assert suspended.returncode == 1, suspended.stdout
    assert f"accreditation {accreditation_id}: suspended" in out
    assert "the operator has suspended this accreditation (http://127.0.0.1:" in out
    assert "valid until" not in out
    assert "mydata serve hospital" not in out  # no advice to serve
    assert f"mydata operator reinstate {accreditation_id}" in out
    assert f"then check again: mydata hospital accreditation fetch --store {hospital.store}" in out

    operator.cli("reinstate", accreditation_id)
    assert hospital.fetch().returncode == 0

    operator.cli("revoke", accreditation_id)
    revoked = hospital.fetch()
    out = _flat(revoked.stdout)
    assert revoked.returncode == 1, revoked.stdout
    assert f"accreditation {accreditation_id}: revoked" in out
    assert "the operator has revoked this accreditation" in out
    assert "valid until" not in out
    assert "mydata serve hospital" not in out
    assert "revocation is final" in out
    assert "register again: mydata hospital init" in out
    # The printed step works: init --operator registers again (revocation is final, so a new
    # accreditation takes a new registration).
    again = hospital.init(operator.url)
    assert again.returncode == 0, again.stdout + again.stderr
    _registration(again.stdout, "pending")
    # The served accreditation is gone with it: /accreditation has nothing until approval.
    shown = mydata(
        "hospital", "accreditation", "show", "--store", hospital.store,
        env=hospital.env, check=False,
    )  # fmt: skip
    assert shown.returncode == 1


def test_init_on_a_suspended_accreditation_exits_1(operator: Operator, tmp_path: Path) -> None:
    hospital = Hospital(tmp_path / "hospital")
    init = hospital.init(operator.url, "--operator-token", OPERATOR_TOKEN)
    accreditation = re.search(r"accreditation\s+(urn:uuid:\S+)", init.stdout)
    assert accreditation, init.stdout
    operator.cli("suspend", accreditation.group(1))
    again = hospital.init(operator.url)
    assert again.returncode == 1, again.stdout
    assert f"{accreditation.group(1)}: suspended" in again.stdout
    assert "valid until" not in again.stdout


def test_a_status_that_cannot_be_read_is_not_valid(operator: Operator, tmp_path: Path) -> None:
    """The operator is registered with at http://localhost:PORT while its status lists are at
    http://127.0.0.1:PORT (its base URL): plain http there needs the flag fetch names."""
    hospital = Hospital(tmp_path / "hospital")
    operator_url = f"http://localhost:{operator.port}"
    init = hospital.init(operator_url, "--operator-token", OPERATOR_TOKEN)
    assert init.returncode == 1, init.stdout + init.stderr
    assert "status unknown" in init.stdout
    fetched = hospital.fetch()
    out = _flat(fetched.stdout)
    assert fetched.returncode == 1
    assert "status unknown" in out
    assert "valid until" not in out
    assert "not checked: [STATUS_RETRIEVAL_ERROR]" in out
    assert (
        f"check again: mydata hospital accreditation fetch --store {hospital.store} "
        "--insecure-http-host 127.0.0.1"
    ) in out
    allowed = hospital.fetch("--insecure-http-host", "127.0.0.1")
    assert allowed.returncode == 0, allowed.stdout
    assert "neither revoked nor suspended" in allowed.stdout


def _selftest_line(out: str) -> str:
    match = re.search(r"\d\. (mydata selftest .*?)(?: \d\. |$)", _flat(out))
    assert match, out
    return match.group(1)


def test_the_printed_selftest_names_a_loopback_plain_http_operator(
    operator: Operator, tmp_path: Path
) -> None:
    # The hospital at localhost, the operator at 127.0.0.1 (story 1's local set-up).
    local = Hospital(tmp_path / "local")
    pending = local.init(operator.url)
    assert pending.returncode == 0, pending.stdout + pending.stderr
    line = _selftest_line(pending.stdout)
    assert line == (
        f"mydata selftest {local.base_url} --token <secret> --operator {operator.did} "
        "--insecure-http-host 127.0.0.1"
    )
    # Once approved, the accreditation's status lists name the host.
    operator.cli("approve", _registration(pending.stdout, "pending"))
    fetched = local.fetch()
    assert fetched.returncode == 0, fetched.stdout
    assert _selftest_line(fetched.stdout).endswith("--insecure-http-host 127.0.0.1")

    # A hospital on the same host as the operator: the self-test allows its URL's own host.
    same = Hospital(tmp_path / "same", base_url=f"http://127.0.0.1:{free_port()}")
    init = same.init(operator.url, "--did-method", "key", "--insecure-http-host", "127.0.0.1")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "--insecure-http-host" not in _selftest_line(init.stdout)

    # An https hospital (a real deployment) with a local operator still gets the flag; a
    # remote plain-http operator would not (it is no local trial): not named here.
    https = Hospital(tmp_path / "https", base_url="https://hospital.example")
    init = https.init(operator.url, "--did-method", "key")
    assert init.returncode == 0, init.stdout + init.stderr
    assert _selftest_line(init.stdout).endswith("--insecure-http-host 127.0.0.1")


async def test_an_expired_accreditation_is_not_valid() -> None:
    """The validity period is checked before any status list is fetched."""
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:0f5b6f0e-3f7c-4c55-9d0b-6f4e3c1d2a10",
        "type": ["VerifiableCredential", "AccreditedHealthcareProvider"],
        "issuer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "validFrom": "2020-01-01T00:00:00Z",
        "validUntil": "2021-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:web:hospital.example"},
    }

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be fetched: {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as http:
        standing = await _standing(credential, http=http, now=datetime.now(UTC), hosts=frozenset())
    assert standing.state == "expired"
    assert not standing.in_force
