"""``mydata serve --workers N``: several pre-forked workers on one port, stopped together."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MYDATA

TOKEN = "workers-admin-token-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def _workers_of(pid: int) -> set[int]:
    """The service's worker processes, once both are forked (the parent forks them in turn,
    and the first may answer /healthz before the second exists)."""
    found: set[int] = set()
    for _ in range(600):
        found = _children(pid)
        if len(found) >= 2:
            break
        time.sleep(0.1)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_ADMIN_TOKEN": TOKEN}


def _wait_healthy(port: int, process: subprocess.Popen[str], log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"the service exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the service did not answer /healthz")


def _start_verifier(tmp_path: Path, port: int, log: Path) -> subprocess.Popen[str]:
    store = f"sqlite://{tmp_path}/verifier.sqlite"
    with log.open("w") as out:
        return subprocess.Popen(
            [MYDATA, "serve", "verifier", "--port", str(port), "--store", store, "--workers", "2"],
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, so cleanup reaches the workers
        )


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_verifier_runs_as_two_workers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    process = _start_verifier(tmp_path, port, log)
    try:
        _wait_healthy(port, process, log)
        workers = _workers_of(process.pid)
        assert len(workers) == 2
        # Fresh connections, so the kernel may hand them to either worker; each must answer.
        for _ in range(6):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                assert client.get("/healthz").status_code == 200
                refused = client.post(
                    "/credentials/verify",
                    content=b"not json",
                    headers={"Content-Type": "application/json"},
                )
                assert refused.status_code == 400
                assert refused.json()["errors"][0]["code"] == "PARSING_ERROR"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not any(_alive(pid) for pid in workers)
    finally:
        _kill_group(process)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    process = _start_verifier(tmp_path, port, log)
    try:
        _wait_healthy(port, process, log)
        workers = _workers_of(process.pid)
        assert len(workers) == 2
        process.kill()  # SIGKILL: the parent cannot forward anything
        process.wait()
        for _ in range(600):
            if not any(_alive(pid) for pid in workers):
                break
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), log.read_text()
    finally:
        _kill_group(process)


def test_the_wallet_refuses_several_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [MYDATA, "serve", "wallet", "--port", str(_free_port()), "--workers", "2"],
        env={**_env(tmp_path), "MYDATA_PASSPHRASE": "not used"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "one worker" in result.stderr
