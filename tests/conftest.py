"""Shared fixtures: spec vectors, stores on SQLite files and (when configured) PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


#: The installed ``mydata`` console script of this environment.
MYDATA = str(Path(sys.executable).with_name("mydata"))


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
