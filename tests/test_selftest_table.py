"""`mydata selftest URL` lists every check whatever happens, and says what it was given.

Against a stopped service every check after `service` is listed as skipped, saying why; against
a service that is not a hospital's the `did-document` row says whether an admin token was given
(`--token` or MYDATA_ADMIN_TOKEN) rather than claiming none was. Real `mydata` commands; a real
operator service on 127.0.0.1 stands in for "not a hospital".
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from governance.selftest import CheckOutcome, SelftestReport, _render
from tests.conftest import stop_process, wait_healthy
from tests.governance.services import Service, env_for, free_port, mydata

CHECKS = [
    "service",
    "did-document",
    "issue-verify",
    "status-list",
    "accreditation",
    "operator",
    "accreditation-status",
]


def _report(url: str, env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any]]:
    result = mydata("selftest", url, "--json", *extra, env=env, check=False)
    return result.returncode, json.loads(result.stdout)


def test_a_stopped_service_lists_every_check_as_skipped(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, report = _report(url, env_for(tmp_path), "--token", "some-token")
    assert code == 1
    assert [c["name"] for c in report["checks"]] == CHECKS
    service, *rest = report["checks"]
    assert service["status"] == "fail"
    assert "cannot be reached" in service["message"]
    assert {c["status"] for c in rest} == {"skip"}
    assert {c["message"] for c in rest} == {"not run: the service cannot be reached"}

    table = mydata("selftest", url, env=env_for(tmp_path), check=False)
    assert table.returncode == 1
    assert "FAILED (1 failed, 6 skipped)" in table.stdout
    for name in CHECKS:
        assert name in table.stdout


@pytest.fixture(scope="module")
def not_a_hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An operator's service: it answers /healthz, but has no did:web, accreditation or
    /credentials/issue."""
    home = tmp_path_factory.mktemp("operator")
    port = free_port()
    store = f"sqlite://{home / 'operator.sqlite'}"
    mydata(
        "operator", "init", "--base-url", f"http://127.0.0.1:{port}", "--store", store,
        env=env_for(home),
    )  # fmt: skip
    service = Service(
        "operator", env_for(home, MYDATA_ADMIN_TOKEN="op-token"), port, "--store", store
    )
    yield f"http://127.0.0.1:{port}"
    service.stop()


def test_a_token_given_through_the_environment_is_acknowledged(
    not_a_hospital: str, tmp_path: Path
) -> None:
    env = env_for(tmp_path, MYDATA_ADMIN_TOKEN="hospital-token")
    code, report = _report(not_a_hospital, env)
    assert code == 1
    checks = {c["name"]: c for c in report["checks"]}
    assert [c["name"] for c in report["checks"]] == CHECKS  # issue-verify in its place
    did = checks["did-document"]
    assert did["status"] == "fail"
    assert "nor an admin token" not in did["message"]
    assert (
        "the admin token given (--token or MYDATA_ADMIN_TOKEN) issued no test credential"
        in (did["message"])
    )
    assert f"is {not_a_hospital} a hospital's service?" in did["message"]
    assert checks["issue-verify"]["status"] == "fail"
    assert "POST /credentials/issue gave HTTP 404" in checks["issue-verify"]["message"]

    # The same through --token.
    code, report = _report(not_a_hospital, env_for(tmp_path), "--token", "hospital-token")
    assert code == 1
    assert "the admin token given" in report["checks"][1]["message"]


def test_without_a_token_the_row_says_none_was_given(not_a_hospital: str, tmp_path: Path) -> None:
    code, report = _report(not_a_hospital, env_for(tmp_path))
    assert code == 1
    did = report["checks"][1]
    assert did["name"] == "did-document"
    assert (
        "no admin token was given (--token or MYDATA_ADMIN_TOKEN) to learn it from a test "
        "credential"
    ) in did["message"]
    assert "GET /accreditation gave HTTP 404" in did["message"]
    assert report["checks"][2] == {
        "name": "issue-verify",
        "status": "skip",
        "message": "needs the hospital's admin token (--token) to issue a test credential",
    }


@pytest.fixture
def plain_web_server(tmp_path: Path) -> Iterator[str]:
    """`python -m http.server`: /healthz answers, /.well-known/did.json is an HTML page."""
    root = tmp_path / "www"
    (root / ".well-known").mkdir(parents=True)
    (root / "healthz").write_text("ok\n")
    (root / ".well-known" / "did.json").write_text("<html><body>hello</body></html>\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process, tmp_path / "no-log", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_a_web_server_that_is_no_hospital_is_reported_not_raised(
    plain_web_server: str, tmp_path: Path
) -> None:
    code, report = _report(plain_web_server, env_for(tmp_path), "--token", "hospital-token")
    assert code == 1
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == CHECKS
    assert (
        "/.well-known/did.json gave HTTP 200 but not a JSON object"
        in checks["did-document"]["message"]
    )
    # Another server's error page, on one line and cut short.
    issue = checks["issue-verify"]["message"]
    assert issue.startswith("POST /credentials/issue gave HTTP 501: <!DOCTYPE HTML>")
    assert "\n" not in issue
    table = mydata("selftest", plain_web_server, env=env_for(tmp_path), check=False)
    assert table.returncode == 1
    assert "internal error" not in table.stderr
    assert "FAILED (2 failed, 4 skipped)" in table.stdout


def test_the_table_shows_bracketed_text_as_text() -> None:
    """An error code in brackets ("[notFound]") is the detail's text, not rich markup."""
    report = SelftestReport("https://hospital.example")
    report.add("service", CheckOutcome.FAIL, "[notFound] no such thing [bold]here")
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(_render(report))
    assert "[notFound] no such thing [bold]here" in console.export_text()
