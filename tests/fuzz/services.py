"""Every party's service as a user runs it: ``mydata <party> init`` where there is one, then
``mydata serve <party>`` on 127.0.0.1 in a subprocess, with its stderr captured to a file.

Used by the fuzzing and secrets tests (and bench/replicas_load.py): one place that knows how
each party starts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from agent.storage import generate_raw_key
from tests.conftest import MYDATA, free_port, stop_process, wait_healthy

TOKEN = "fuzz-admin-token-0123456789"
PASSPHRASE = "fuzz wallet passphrase: correct horse"
PARTIES = ("hospital", "verifier", "wallet", "vault", "operator")


class PartyService:
    """``mydata serve <party>`` on a free port of 127.0.0.1, initialised first when needed.

    :param store: a store URI (default: a SQLite file in ``home``); replicas pass the same one.
    :param init: run ``mydata <party> init`` (once per store; replicas pass False after the
        first).
    """

    def __init__(
        self,
        party: str,
        home: Path,
        *,
        store: str | None = None,
        store_key: str | None = None,
        init: bool = True,
        public_url: str | None = None,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.party = party
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store or f"sqlite://{home / f'{party}.sqlite'}"
        self.env = {
            **os.environ,
            "MYDATA_HOME": str(home),
            "MYDATA_ADMIN_TOKEN": TOKEN,
            "MYDATA_PASSPHRASE": PASSPHRASE,
            "MYDATA_STORE_KEY": store_key or generate_raw_key(),
            "COLUMNS": "200",
            **(env or {}),
        }
        public = public_url or f"http://localhost:{self.port}"
        if init:
            self._init(public)
        self.log_path = home / f"{party}-{self.port}.log"
        command = [MYDATA, "serve", party, "--port", str(self.port), "--store", self.store]
        if party in ("hospital", "operator"):
            command += ["--public-url", public, "--insecure-http-host", "localhost"]
        command += ["--log-level", "info", *extra]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.admin = httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        wait_healthy(self.port, self.process, self.log_path)

    def _init(self, public: str) -> None:
        if self.party == "hospital":
            args = ["hospital", "init", "--base-url", public, "--store", self.store]
            args += ["--insecure-http-host", "localhost", "--name", "Fuzz General"]
        elif self.party == "operator":
            args = ["operator", "init", "--base-url", public, "--store", self.store]
        elif self.party == "wallet":
            args = ["wallet", "init", "--store", self.store]
        else:
            return
        result = subprocess.run(
            [MYDATA, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"mydata {' '.join(args)}: {result.stdout}{result.stderr}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        self.admin.close()
        stop_process(self.process)
