"""Shared fixtures: spec vectors, stores on SQLite files and (when configured) PostgreSQL; helpers
for tests that run ``mydata`` commands and services as processes."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage import Store, generate_raw_key, open_store, remove_store

VECTORS = Path(__file__).parent / "vectors"

#: The URL of a PostgreSQL database the tests may use; .ci/run sets it. Each test derives a
#: database of its own from it (askar creates it, and drops it when the test removes the store).
POSTGRES_URL = os.environ.get("MYDATA_TEST_POSTGRES_URL", "")


def load_vector(*parts: str) -> Any:
    """A vector file under tests/vectors/, parsed when it is JSON."""
    path = VECTORS.joinpath(*parts)
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix in {".json", ".jsonld"} else text


@pytest.fixture
def postgres_url() -> str:
    """A URL for a fresh PostgreSQL database of this test's own, or a skip with the reason."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need MYDATA_TEST_POSTGRES_URL (.ci/run sets it)")
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/mydata_test_{uuid.uuid4().hex[:12]}"


#: The backends a test that asks for ``store_uri`` (or ``store``) runs on, one run each.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URI where no store exists yet: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'store.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    # Drops the per-test database that provisioning created.
    await remove_store(url)


@pytest.fixture
def raw_key() -> str:
    """A fresh raw store key: no Argon2 cost, for tests where the passphrase is not the point."""
    return generate_raw_key()


@pytest.fixture
async def store(store_uri: str, raw_key: str) -> AsyncIterator[Store]:
    """A new, open store on each backend, closed after the test."""
    opened = await open_store(store_uri, raw_key=raw_key)
    yield opened
    await opened.close()


class TickingClock:
    """A clock that moves one second per reading, so that every entry has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


#: An unsigned credential of the health context: a high-criticality AllergyIntolerance about a
#: did:key subject. Shared by every test module; copy it before changing it.
UNSIGNED_ALLERGY: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/health-mydata/v1"],
    "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
    "credentialSubject": {
        "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "fhirVersion": "4.0.1",
        "fhirResource": {"resourceType": "AllergyIntolerance", "criticality": "high"},
    },
}

#: The installed ``mydata`` console script of this environment.
MYDATA = str(Path(sys.executable).with_name("mydata"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mydata(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``mydata ARGS`` with ``env``; with ``check``, fail with its output unless it exits 0."""
    result = subprocess.run(
        [MYDATA, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mydata {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def wait_healthy(
    port: int, process: subprocess.Popen[Any], log: Path, *, timeout: float = 60.0
) -> None:
    """Wait until the service ``process`` started answers ``GET /healthz`` on ``port``.

    :raises RuntimeError: with the service's log, when it exits or does not answer in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the service did not answer /healthz: {log.read_text(errors='replace')}")


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 30) -> Any:
    """Poll ``condition`` until it returns something true, and return that.

    :raises AssertionError: naming ``what``, when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM ``process`` and reap it; SIGKILL when it has not stopped after 10 seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 (1 day) and its key, for HTTPS services."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class StatusListServer:
    """A real HTTP server on 127.0.0.1 that publishes one Status List Token at :attr:`uri`
    (whatever :attr:`token` holds; 503 while it is empty), for the wallet's status checks.

    :param host: the host name in :attr:`uri` (``localhost`` for a service started with
        ``--insecure-http-host localhost``).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.token = ""
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.token.encode()
                self.send_response(200 if body else 503)
                self.send_header("Content-Type", "application/statuslist+jwt")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://{host}:{self.httpd.server_address[1]}/status/1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
