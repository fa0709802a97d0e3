"""`mydata wallet trust add` and `init --operator` apply the wallet service's rule for operator
URLs (QA): plain http only to a host named by `--insecure-http-host`, with no loopback default.
Before, `trust add --operator-url http://127.0.0.1:18100` was accepted, and a service started
with `--insecure-http-host localhost` refused that URL at every refresh, so the wallet never had
trust data and showed every verifier as NOT accredited. An operator without a URL (never
fetched by the service) is refused too; `trust status` says "never fetched", not "never
fetched old". Real `mydata` processes, a real operator service and wallet service."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.governance.services import Service, env_for, free_port, mydata

OPERATOR = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
TOKEN = "trust-add-rules-token"


def _env(home: Path) -> dict[str, str]:
    return env_for(home, MYDATA_PASSPHRASE="trust add rules", MYDATA_ADMIN_TOKEN=TOKEN)


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _trusted(env: dict[str, str]) -> list[dict[str, str]]:
    listed: list[dict[str, str]] = json.loads(
        mydata("wallet", "trust", "list", "--json", env=env).stdout
    )
    return listed


@pytest.fixture
def home(tmp_path: Path) -> Path:
    mydata("wallet", "init", env=_env(tmp_path))
    return tmp_path


def test_plain_http_needs_the_host_named_as_the_service_needs_it(home: Path) -> None:
    env = _env(home)
    url = "http://127.0.0.1:18100"
    # The QA case: no flag, and a flag naming another host (what the service was started with).
    for extra in ((), ("--insecure-http-host", "localhost")):
        refused = mydata(
            "wallet", "trust", "add", "--operator", OPERATOR, "--operator-url", url, *extra,
            env=env, check=False,
        )  # fmt: skip
        said = _said(refused)
        assert refused.returncode == 2, said
        assert f"error: [invalidInput] trust add: --operator-url {url} uses plain http" in said
        assert "add --insecure-http-host 127.0.0.1 here" in said
        assert "mydata serve wallet --insecure-http-host 127.0.0.1" in said
        assert "Traceback" not in said
    assert _trusted(env) == []

    added = mydata(
        "wallet", "trust", "add", "--operator", OPERATOR, "--operator-url", url,
        "--insecure-http-host", "127.0.0.1", env=env,
    )  # fmt: skip
    said = _said(added)
    assert f"trusting operator {OPERATOR} (fetched from {url})" in said
    assert "started with --insecure-http-host 127.0.0.1" in said
    assert _trusted(env) == [{"did": OPERATOR, "url": url}]

    # https needs no flag, and says nothing about plain http.
    https = mydata(
        "wallet", "trust", "add", "--operator", OPERATOR, "--operator-url",
        "https://operator.example", env=env,
    )  # fmt: skip
    assert "plain http" not in _said(https)
    assert _trusted(env) == [{"did": OPERATOR, "url": "https://operator.example"}]


def test_an_operator_without_a_url_or_a_url_that_is_none_is_refused(home: Path) -> None:
    env = _env(home)
    bare = mydata("wallet", "trust", "add", "--operator", OPERATOR, env=env, check=False)
    said = _said(bare)
    assert bare.returncode == 2, said
    assert f"--operator {OPERATOR} has no --operator-url" in said
    assert "would never be used" in said
    for url in ("ftp://operator.example", "operator.example"):
        odd = mydata(
            "wallet", "trust", "add", "--operator", OPERATOR, "--operator-url", url,
            env=env, check=False,
        )  # fmt: skip
        assert odd.returncode == 2, _said(odd)
        assert f"--operator-url {url} is not an http(s) URL" in _said(odd)
    assert _trusted(env) == []


def test_init_applies_the_same_rules_before_creating_anything(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for args in (
        ("--operator", OPERATOR),
        ("--operator", OPERATOR, "--operator-url", "http://127.0.0.1:18100"),
        ("--operator-url", "https://operator.example"),
    ):
        refused = mydata("wallet", "init", *args, env=env, check=False)
        assert refused.returncode == 2, _said(refused)
        assert "error: [invalidInput] init: " in _said(refused)
        assert not list(tmp_path.glob("wallet*")), args  # no store was created
    made = mydata(
        "wallet", "init", "--operator", OPERATOR, "--operator-url", "http://localhost:18100",
        "--insecure-http-host", "localhost", env=env,
    )  # fmt: skip
    assert "mydata serve wallet --insecure-http-host localhost" in _said(made)
    assert _trusted(env) == [{"did": OPERATOR, "url": "http://localhost:18100"}]


@pytest.mark.slow
def test_what_trust_add_accepts_the_service_fetches(tmp_path: Path) -> None:
    """A real operator on 127.0.0.1; `trust add --insecure-http-host 127.0.0.1`, then `serve
    wallet --insecure-http-host 127.0.0.1`: the trust list is fetched (before, the CLI took the
    URL without the flag and the service refused it)."""
    operator_env = env_for(tmp_path / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
    (tmp_path / "operator").mkdir()
    operator_port = free_port()
    operator_url = f"http://127.0.0.1:{operator_port}"
    mydata("operator", "init", "--base-url", operator_url, env=operator_env)
    started: list[Service] = []
    try:
        started.append(Service("operator", operator_env, operator_port))
        operator_did = httpx.get(f"{operator_url}/operator", timeout=10).json()["did"]
        (tmp_path / "wallet").mkdir()
        wallet_port = free_port()
        env = {**_env(tmp_path / "wallet"), "MYDATA_WALLET_URL": f"http://127.0.0.1:{wallet_port}"}
        mydata("wallet", "init", env=env)
        mydata(
            "wallet", "trust", "add", "--operator", operator_did, "--operator-url", operator_url,
            "--insecure-http-host", "127.0.0.1", env=env,
        )  # fmt: skip
        started.append(Service("wallet", env, wallet_port, "--insecure-http-host", "127.0.0.1"))
        status = json.loads(mydata("wallet", "trust", "status", "--json", env=env).stdout)
        assert status["operators"] == [operator_did]
        assert status["lastError"] is None, status
        assert status["fetchedAt"] is not None
        said = _said(mydata("wallet", "trust", "status", env=env))
        assert "trust data 0 min old" in said, said

        # The operator gone and the service restarted: never fetched, said so plainly.
        started.pop().stop()
        started[0].stop()
        started.clear()
        started.append(Service("wallet", env, wallet_port, "--insecure-http-host", "127.0.0.1"))
        status = wait_for(
            "the failed fetch",
            lambda: json.loads(mydata("wallet", "trust", "status", "--json", env=env).stdout),
        )
        assert status["fetchedAt"] is None
        assert "uses https" not in str(status["lastError"])  # the URL was taken, not refused
        said = _said(mydata("wallet", "trust", "status", env=env))
        assert "(trust data never fetched)" in said, said
        assert "never fetched old" not in said
    finally:
        for service in reversed(started):
            service.stop()
