"""`mydata serve verifier` as a real process, over HTTPS with a self-signed certificate."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MYDATA, VECTORS, make_certificate


@pytest.fixture
def https_verifier(tmp_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    from tests.hospital.conftest import free_port

    if not Path("/usr/bin/openssl").exists():
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = make_certificate(tmp_path)
    port = free_port()
    env = {**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_ADMIN_TOKEN": "verifier-token"}
    process = subprocess.Popen(
        [
            MYDATA,
            "serve",
            "verifier",
            "--port",
            str(port),
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if (
                httpx.get(
                    f"{url}/healthz", verify=ssl.create_default_context(cafile=str(cert))
                ).status_code
                == 200
            ):
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield url, process, cert  # type: ignore[misc]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_vc_api_verify_over_https(
    https_verifier: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, _, cert = https_verifier  # type: ignore[misc]
    signed = json.loads((VECTORS / "vc-di-eddsa" / "eddsa-jcs-2022" / "signedJCS.json").read_text())
    ok = httpx.post(
        f"{url}/credentials/verify",
        verify=ssl.create_default_context(cafile=str(cert)),
        json={"verifiableCredential": signed, "options": {"checks": ["proof"]}},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["verified"] is True
    signed["credentialSubject"]["alumniOf"] = "Tampered"
    bad = httpx.post(
        f"{url}/credentials/verify",
        verify=ssl.create_default_context(cafile=str(cert)),
        json={"verifiableCredential": signed, "options": {"checks": ["proof"]}},
    )
    assert bad.status_code == 400
    assert [e["check"] for e in bad.json()["errors"]] == ["proof"]
    garbage = httpx.post(
        f"{url}/credentials/verify",
        verify=ssl.create_default_context(cafile=str(cert)),
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert garbage.status_code == 400
    # Plain HTTP to the HTTPS port is not served.
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https", "http") + "/healthz", timeout=2).raise_for_status()
