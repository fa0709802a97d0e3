"""A verifier service in a subprocess (uvicorn on 127.0.0.1), and clients for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "verifier-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VerifierService:
    def __init__(self, store: str, key: str, home: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / f"verifier-{self.port}.log"
        environment = {
            **os.environ,
            "VERIFIER_STORE": store,
            "VERIFIER_KEY": key,
            "VERIFIER_PORT": str(self.port),
            "MYDATA_ADMIN_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.verifier.serve_verifier"],
            env=environment,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.admin = httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"verifier exited: {self.log_path.read_text()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"verifier did not start: {self.log_path.read_text()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.client.close()
        self.admin.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._log.close()
