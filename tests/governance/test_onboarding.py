"""Story 1 end to end, as an operator and a hospital run it: real `mydata` commands and real
services on 127.0.0.1.

The operator initialises and serves; `mydata hospital init --operator ... --operator-token ...`
creates the hospital, registers it by DID-auth and stores its accreditation; `mydata serve
hospital` publishes it; `mydata selftest` passes every check, and fails the accreditation's
status once `mydata operator revoke` has run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.governance.services import Service, env_for, free_port, mydata

OPERATOR_TOKEN = "operator-admin-token-for-tests"
HOSPITAL_TOKEN = "hospital-admin-token-for-tests"


class Operator:
    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = f"sqlite://{home / 'operator.sqlite'}"
        self.env = env_for(home)
        out = mydata(
            "operator", "init", "--base-url", self.url, "--store", self.store,
            "--name", "Test Trust Operator", "--jurisdiction", "NO", env=self.env,
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
            "--insecure-http-host",
            "localhost",
        )

    def cli(self, *args: str, check: bool = True) -> Any:
        return mydata("operator", *args, "--store", self.store, env=self.env, check=check)


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """One operator service for the module (each test accredits DIDs of its own)."""
    running = Operator(tmp_path_factory.mktemp("operator"))
    yield running
    running.service.stop()


def _hospital_init(home: Path, port: int, operator: Operator, *extra: str) -> Any:
    return mydata(
        "hospital", "init", "--base-url", f"http://localhost:{port}",
        "--store", f"sqlite://{home / 'hospital.sqlite'}", "--name", "St. Olav",
        "--insecure-http-host", "localhost", "--operator", operator.url, *extra,
        env=env_for(home), check=False,
    )  # fmt: skip


def _selftest(url: str, *extra: str, env: dict[str, str]) -> tuple[int, dict[str, str]]:
    result = mydata("selftest", url, "--json", *extra, env=env, check=False)
    report = json.loads(result.stdout)
    assert report["passed"] is (result.returncode == 0)
    return result.returncode, {c["name"]: c["status"] for c in report["checks"]}


@pytest.mark.slow
def test_onboarding_end_to_end_then_revocation(operator: Operator, tmp_path: Path) -> None:
    home = tmp_path / "hospital"
    home.mkdir()
    port = free_port()
    init = _hospital_init(home, port, operator, "--operator-token", OPERATOR_TOKEN)
    assert init.returncode == 0, init.stdout + init.stderr
    assert re.search(r"registration\s+\S+: approved", init.stdout), init.stdout
    accreditation_id = re.search(r"accreditation\s+(urn:uuid:\S+)", init.stdout)
    assert accreditation_id, init.stdout
    assert "mydata selftest" in init.stdout  # the next steps

    hospital = Service(
        "hospital",
        env_for(home, MYDATA_ADMIN_TOKEN=HOSPITAL_TOKEN),
        port,
        "--store",
        f"sqlite://{home / 'hospital.sqlite'}",
        "--public-url",
        f"http://localhost:{port}",
        "--insecure-http-host",
        "localhost",
    )
    try:
        served = httpx.get(f"http://127.0.0.1:{port}/accreditation", timeout=10)
        assert served.status_code == 200
        assert served.json()["id"] == accreditation_id.group(1)
        assert served.json()["issuer"] == operator.did

        url = f"http://localhost:{port}"
        trusted = ("--operator", operator.did, "--insecure-http-host", "127.0.0.1")
        code, checks = _selftest(url, "--token", HOSPITAL_TOKEN, *trusted, env=env_for(home))
        assert code == 0, checks
        assert set(checks.values()) == {"pass"}
        assert set(checks) == {
            "service",
            "did-document",
            "issue-verify",
            "status-list",
            "accreditation",
            "operator",
            "accreditation-status",
        }

        # Without the token the issuance rows are skipped, and say so; nothing fails.
        code, checks = _selftest(url, *trusted, env=env_for(home))
        assert code == 0
        assert checks["issue-verify"] == checks["status-list"] == "skip"

        # Another operator's DID: the operator row fails.
        code, checks = _selftest(
            url, "--operator", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "--insecure-http-host", "127.0.0.1", env=env_for(home),
        )  # fmt: skip
        assert (code, checks["operator"]) == (1, "fail")

        revoked = operator.cli("revoke", accreditation_id.group(1))
        assert "revoked" in revoked.stdout
        code, checks = _selftest(url, "--token", HOSPITAL_TOKEN, *trusted, env=env_for(home))
        assert code == 1
        assert checks["accreditation-status"] == "fail"
        assert {n for n, s in checks.items() if s != "pass"} == {"accreditation-status"}
        table = mydata("selftest", url, *trusted, env=env_for(home), check=False)
        assert table.returncode == 1
        assert "the operator has revoked this accreditation" in table.stdout
        assert "FAILED" in table.stdout
        # The operator's trust list no longer names the hospital.
        listed = httpx.get(f"{operator.url}/trust-list", timeout=10).json()
        hospital_did = served.json()["credentialSubject"]["id"]
        entries = listed["credentialSubject"]["trustListEntry"]
        assert hospital_did not in {e["id"] for e in entries}
    finally:
        hospital.stop()


@pytest.mark.slow
def test_onboarding_with_later_approval(operator: Operator, tmp_path: Path) -> None:
    """Without the operator's token: register, the operator approves, the hospital fetches."""
    home = tmp_path / "hospital"
    home.mkdir()
    store = ("--store", f"sqlite://{home / 'hospital.sqlite'}")
    init = _hospital_init(home, free_port(), operator)
    assert init.returncode == 0, init.stdout + init.stderr
    registration = re.search(r"registration\s+(\S+): pending", init.stdout)
    assert registration, init.stdout
    assert f"mydata operator approve {registration.group(1)}" in init.stdout

    early = mydata("hospital", "accreditation", "fetch", *store, env=env_for(home), check=False)
    assert early.returncode == 1
    assert "pending" in early.stdout
    listed = operator.cli("registrations", "--state", "pending").stdout
    assert registration.group(1) in listed
    assert "submitted document" in listed  # a did:web its domain does not serve yet
    approved = operator.cli("approve", registration.group(1))
    assert "approved" in approved.stdout
    fetched = mydata("hospital", "accreditation", "fetch", *store, env=env_for(home))
    assert re.search(r"accreditation\s+urn:uuid:", fetched.stdout), fetched.stdout
    shown = json.loads(
        mydata("hospital", "accreditation", "show", *store, env=env_for(home)).stdout
    )
    assert shown["issuer"] == operator.did
    assert shown["credentialSubject"]["accreditedRole"] == "AccreditedHealthcareProvider"


def test_wrong_operator_token_is_refused(operator: Operator, tmp_path: Path) -> None:
    home = tmp_path / "hospital"
    home.mkdir()
    init = _hospital_init(home, free_port(), operator, "--operator-token", "not-the-token")
    assert init.returncode == 1
    assert "unauthorized" in init.stderr
    assert "Traceback" not in init.stderr


def test_unreachable_operator_is_a_clear_error(tmp_path: Path) -> None:
    result = mydata(
        "hospital", "init", "--base-url", "https://hospital.example",
        "--operator", f"http://127.0.0.1:{free_port()}", env=env_for(tmp_path), check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "could not reach the operator" in result.stderr
    assert "Traceback" not in result.stderr


def test_operator_cli_lifecycle(operator: Operator, tmp_path: Path) -> None:
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    accredited = operator.cli(
        "accredit", did, "--role", "LicensedClinician", "--name", "Dr. Hansen",
        "-o", str(tmp_path / "acc.json"),
    )  # fmt: skip
    accreditation_id = re.search(r"(urn:uuid:\S+)", accredited.stdout)
    assert accreditation_id, accredited.stdout
    written = json.loads((tmp_path / "acc.json").read_text())
    assert written["id"] == accreditation_id.group(1)

    def trust_entries() -> list[dict[str, str]]:
        """The trust list's entries for ``did`` (other tests accredit other DIDs)."""
        out = tmp_path / "trust-list.json"
        operator.cli("trust-list", "--out", str(out))
        document = json.loads(out.read_text())
        assert document["issuer"] == operator.did
        return [e for e in document["credentialSubject"]["trustListEntry"] if e["id"] == did]

    assert [e["id"] for e in trust_entries()] == [did]
    assert "suspended" in operator.cli("suspend", accreditation_id.group(1)).stdout
    assert trust_entries() == []
    assert "active" in operator.cli("reinstate", accreditation_id.group(1)).stdout
    assert [e["accreditedRole"] for e in trust_entries()] == ["LicensedClinician"]
    assert "revoked" in operator.cli("revoke", accreditation_id.group(1)).stdout
    assert "revoked" in operator.cli("list", "--subject", did).stdout
    again = operator.cli("reinstate", accreditation_id.group(1), check=False)
    assert again.returncode == 1
    assert "final" in again.stderr

    bad_role = operator.cli("accredit", did, "--role", "Hospital", check=False)
    assert bad_role.returncode == 1
    assert "unknown accreditation role" in bad_role.stderr
    unknown = operator.cli("revoke", "urn:uuid:nope", check=False)
    assert unknown.returncode == 1
    assert "notFound" in unknown.stderr
    audited = operator.cli("audit", "list", "--limit", "1000").stdout
    assert "accreditation.suspended" in audited
    assert "accreditation.reinstated" in audited
    assert "audit log intact" in operator.cli("audit", "verify").stdout
