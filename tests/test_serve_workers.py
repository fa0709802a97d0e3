"""``mydata serve --workers N``: several pre-forked workers on one port, stopped together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.storage import generate_raw_key
from tests.conftest import MYDATA, free_port, wait_healthy

TOKEN = "workers-admin-token-for-tests"


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


@contextlib.contextmanager
def _two_workers(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str], set[int], Path]]:
    """A verifier service with two workers, answering: its port, parent, workers and log.
    The whole process group is killed afterwards."""
    port = free_port()
    log = tmp_path / "serve.log"
    process = _start_verifier(tmp_path, port, log)
    try:
        wait_healthy(port, process, log)
        workers = _workers_of(process.pid)
        assert len(workers) == 2
        yield port, process, workers, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_verifier_runs_as_two_workers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as (port, process, workers, _):
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
        assert _all_gone(workers)


def _all_gone(pids: set[int]) -> bool:
    """Whether every process in ``pids`` has exited (polled: the kernel may take a moment to
    report a process that has just ended as gone)."""
    for _ in range(600):
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as (_, process, workers, log):
        process.kill()  # SIGKILL: the parent cannot forward anything
        process.wait()
        assert _all_gone(workers), log.read_text()


def test_the_wallet_refuses_several_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [MYDATA, "serve", "wallet", "--port", str(free_port()), "--workers", "2"],
        env={**_env(tmp_path), "MYDATA_PASSPHRASE": "not used"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "one worker" in result.stderr


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_dead_worker_stops_the_service_with_a_failure_code(tmp_path: Path) -> None:
    # Serving on with one worker fewer than configured would show only in a log line; the
    # service stops instead, non-zero, so its supervisor restarts it whole.
    with _two_workers(tmp_path) as (_, process, workers, log):
        os.kill(min(workers), signal.SIGKILL)
        assert process.wait(timeout=60) == 1
        assert _all_gone(workers)
        assert "stopping the other workers" in log.read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_refused_start_up_is_one_clear_line_and_exit_code_3(tmp_path: Path, workers: int) -> None:
    # A hospital service on a store where no hospital was initialised: a typed error at
    # start-up, reported as its code and what to do, not as a traceback; with two workers
    # the parent too exits 3 (it exited 0 before).
    store = f"sqlite://{tmp_path}/not-a-hospital.sqlite"
    command = [MYDATA, "serve", "hospital", "--port", str(free_port()), "--store", store]
    result = subprocess.run(
        [*command, "--workers", str(workers)],
        env={**_env(tmp_path), "MYDATA_STORE_KEY": generate_raw_key()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "the service did not start: storeNotFound" in output
    assert "run 'mydata hospital init' first" in output
    assert "Traceback" not in output
