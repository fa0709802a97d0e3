"""With no MYDATA_PASSPHRASE and no terminal to ask on, wallet commands and the wallet service
say what to set and exit 2 (not a GetPassWarning and 'Aborted.', exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MYDATA = str(Path(sys.executable).with_name("mydata"))


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MYDATA_PASSPHRASE"}
    env["MYDATA_HOME"] = str(home)
    env["MYDATA_ADMIN_TOKEN"] = "test-token"
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["wallet", "list"],
        ["wallet", "init"],
        ["serve", "wallet", "--port", "1"],
    ],
)
def test_no_passphrase_and_no_terminal(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [MYDATA, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stdout + done.stderr
    assert "set MYDATA_PASSPHRASE (or run in a terminal to be asked)" in said
    assert "Traceback" not in done.stderr
    assert "GetPassWarning" not in done.stderr
    assert not list(tmp_path.glob("*.sqlite*"))
