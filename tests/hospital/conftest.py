"""A hospital service as a user runs it: `mydata hospital init`, then `mydata serve hospital`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MYDATA, free_port, mydata, stop_process, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hospital-admin-token-for-tests"


class HospitalService:
    """A running `mydata serve hospital` process and an admin client for it."""

    def __init__(self, env: dict[str, str], store: str, port: int, public_url: str) -> None:
        self.env = env
        self.store = store
        self.port = port
        self.url = public_url
        self.log_path = Path(env["MYDATA_HOME"]) / f"serve-{port}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                MYDATA,
                "serve",
                "hospital",
                "--port",
                str(port),
                "--store",
                store,
                "--public-url",
                public_url,
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.admin = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        wait_healthy(port, self.process, self.log_path, timeout=30)

    def stop(self) -> None:
        self.admin.close()
        stop_process(self.process)


def hospital_env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MYDATA_HOME": str(home), "MYDATA_ADMIN_TOKEN": TOKEN, **extra}


def _start(home: Path) -> HospitalService:
    port = free_port()
    public_url = f"http://localhost:{port}"
    env = hospital_env(home)
    store = f"sqlite://{home / 'hospital.sqlite'}"
    mydata(
        "hospital",
        "init",
        "--base-url",
        public_url,
        "--store",
        store,
        "--insecure-http-host",
        "localhost",
        "--name",
        "Test General",
        env=env,
    )
    return HospitalService(env, store, port, public_url)


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HospitalService]:
    """One service for a module's tests (each test issues credentials of its own)."""
    service = _start(tmp_path_factory.mktemp("hospital"))
    yield service
    service.stop()


@pytest.fixture
def fresh_hospital(tmp_path: Path) -> Iterator[HospitalService]:
    """A service of this test's own, for tests that change the hospital (its keys)."""
    service = _start(tmp_path)
    yield service
    service.stop()
