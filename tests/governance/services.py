"""Running `mydata` as a user does: commands as subprocesses, services as `mydata serve ROLE`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import MYDATA, free_port, mydata, stop_process, wait_healthy

__all__ = ["Service", "env_for", "free_port", "mydata"]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    """The environment of one party's commands: its own MYDATA_HOME, no inherited token."""
    base = {k: v for k, v in os.environ.items() if k not in {"MYDATA_ADMIN_TOKEN"}}
    return {**base, "MYDATA_HOME": str(home), "COLUMNS": "200", **extra}


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
        try:
            wait_healthy(port, self.process, self.log_path)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.process)
