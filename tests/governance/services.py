"""Running `mydata` as a user does: commands as subprocesses, services as `mydata serve ROLE`."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import MYDATA


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """The environment of one party's commands: its own MYDATA_HOME, no inherited token."""
    base = {k: v for k, v in os.environ.items() if k not in {"MYDATA_ADMIN_TOKEN"}}
    return {**base, "MYDATA_HOME": str(home), "COLUMNS": "200", **extra}


def mydata(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [MYDATA, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mydata {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


class Service:
    """A running `mydata serve ROLE` process on 127.0.0.1."""

    def __init__(self, role: str, env: dict[str, str], port: int, *extra: str) -> None:
        self.port = port
        self.log_path = Path(env["MYDATA_HOME"]) / f"serve-{role}-{port}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [MYDATA, "serve", role, "--port", str(port), "--log-level", "warning", *extra],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mydata serve {role} did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
