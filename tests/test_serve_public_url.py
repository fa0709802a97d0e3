"""``mydata serve --public-url`` is checked before anything starts (QA): ``--public-url
notaurl`` started, and the service then handed out ``"invitation_url": "notaurl/invite?_oob=..."``.
It must be an absolute http(s) URL with a host and no user, query or fragment (what
``agent.identity.check_base_url`` asks of a party's base URL), and https unless its host is
loopback or named by ``--insecure-http-host``; else exit 2 with one ``error:`` line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from mydata.serve import _check_command_line
from tests.conftest import MYDATA, free_port, stop_process, wait_healthy

TOKEN = "public-url-admin-token-0123456789"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_STORE_KEY"}
    return {**env, "MYDATA_HOME": str(home), "MYDATA_ADMIN_TOKEN": TOKEN}


def _serve(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mydata serve hospital`` on a store that does not exist: past the command line's
    checks it stops with ``storeNotFound`` (exit 1), so exit 2 means the check refused."""
    return subprocess.run(
        [MYDATA, "serve", "hospital", "--port", str(free_port()),
         "--store", f"sqlite://{home / 'hospital.sqlite'}", *args],
        env=_env(home), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "hospital.example",
        "/invite",
        "ftp://hospital.example",
        "https://",
        "https://hospital.example/?tenant=a",
        "https://hospital.example/#top",
        "https://admin@hospital.example",
        "https://hospital.example:notaport",
        "https://hospital.example:99999",
    ],
)
def test_a_url_peers_cannot_use_is_refused_before_anything_starts(tmp_path: Path, url: str) -> None:
    result = _serve(tmp_path, "--public-url", url)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: --public-url {url!r} is not an absolute http(s) URL with a host" in said
    assert "storeNotFound" not in said  # refused before the store was looked at
    assert "Traceback" not in said
    assert not list(tmp_path.glob("hospital.sqlite*"))


def test_plain_http_to_another_host_needs_insecure_http_host(tmp_path: Path) -> None:
    refused = _serve(tmp_path, "--public-url", "http://hospital.example:8000")
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--public-url http://hospital.example:8000 uses http" in said
    assert "add --insecure-http-host hospital.example" in said
    allowed = _serve(
        tmp_path,
        "--public-url",
        "http://hospital.example:8000",
        "--insecure-http-host",
        "hospital.example",
    )
    # Past the check: the next refusal is the missing store's.
    assert allowed.returncode == 1, allowed.stdout + allowed.stderr
    assert "storeNotFound" in allowed.stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://hospital.example",
        "https://hospital.example:8443/mydata/",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://[::1]:8000",
    ],
)
def test_https_and_loopback_http_pass(url: str) -> None:
    _check_command_line(
        host="127.0.0.1",
        admin_insecure_mode=False,
        operator=[],
        operator_url=[],
        insecure_hosts=frozenset(),
        public_url=url,
    )


def test_invitations_are_made_from_the_public_url(tmp_path: Path) -> None:
    """A verifier (which makes its own store) started with a public URL under a path hands
    out invitations there."""
    port = free_port()
    public = "https://verifier.example/mydata"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [MYDATA, "serve", "verifier", "--port", str(port), "--public-url", public,
             "--store", f"sqlite://{tmp_path / 'verifier.sqlite'}", "--log-level", "warning"],
            env=_env(tmp_path), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(port, process, log)
        made = httpx.post(
            f"http://127.0.0.1:{port}/admin/invitations",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert made.status_code == 201, made.text
        assert made.json()["invitation_url"].startswith(f"{public}/invite?_oob=")
    finally:
        stop_process(process)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_a_network_host_needs_a_public_url(tmp_path: Path, host: str) -> None:
    """Without --public-url the service advertised http://0.0.0.0:PORT in its invitations and
    DIDComm endpoint (review)."""
    result = subprocess.run(
        [MYDATA, "serve", "verifier", "--host", host, "--port", str(free_port())],
        env={**os.environ, "MYDATA_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "give --public-url" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
