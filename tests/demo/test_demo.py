"""`mydata demo` as a user runs it: every story's decision, exit code 0, nothing left behind;
and, in-process, the services are stopped and the folder removed when a story fails or the
demo is interrupted."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mydata.demo
from mydata.cli import build_app
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import World
from tests.conftest import MYDATA

#: One line per decision the stories must reach (a regular expression each, in order).
DECISIONS = [
    # 1 onboarding
    r"decision: operator ACCEPTED Demo General accredited as AccreditedHealthcareProvider",
    r"decision: selftest PASSED the deployment at http://localhost:\d+",
    r"decision: verifiers ACCEPTED did:web:localhost%3A\d+ as an issuer of health credentials",
    # 2 issuance
    r"decision: wallet STORED 10 credentials from Demo General, each verified, encrypted",
    r"decision: hospital PASSED batch demo-allergies: 200 of 200 patients issued",
    # 3 emergency card
    r"decision: ER ACCEPTED the emergency card, offline: an accredited hospital issued",
    r"decision: ER REJECTED the altered card \(format\)",
    # 5 insurer claim
    r"decision: wallet STORED the ClaimEvidence credential",
    r"decision: insurer ACCEPTED claim C-2026-0042",
    r"decision: insurer FLAGGED claim C-2026-0057: this claim evidence was presented already "
    r"for claim C-2026-0042",
    # 8 phone change
    r"decision: new phone ACCEPTED the backup: (\d+) of \1 credentials",
    r"decision: ER ACCEPTED the new phone's presentation: holder binding passed",
    # 9 revocation
    r"decision: ER REJECTED the suspended allergy credential \(status\)",
    r"decision: verifier ACCEPTED the allergy credential after the suspension was lifted",
    r"decision: ER ACCEPTED the card offline, on status data \d+ s old",
    r"decision: ER REJECTED the card after syncing: revoked",
]


@pytest.mark.slow
def test_the_demo_runs_every_story_to_its_decision_and_cleans_up(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = subprocess.run(
        [MYDATA, "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120", "TMPDIR": str(temp)},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    decisions = [line.strip() for line in result.stdout.splitlines() if "decision:" in line]
    position = 0
    for pattern in DECISIONS:
        found = next(
            (i for i in range(position, len(decisions)) if re.match(pattern, decisions[i])), None
        )
        assert found is not None, f"no decision matching {pattern!r} after #{position}: {output}"
        position = found + 1
    assert "unexpected:" not in output
    assert "Traceback" not in output
    assert re.search(r"demo finished in \d+\.\d s", result.stdout)
    # The revoked card is refused by the status check, not by anything else.
    assert "status failed: the issuer has revoked this credential" in result.stdout
    # The temporary folder (stores, caches, keys) is gone.
    assert list(temp.iterdir()) == []


def _demo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("demo-") and t.is_alive()]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    ("error", "exit_code"), [(RuntimeError("a party broke"), 1), (KeyboardInterrupt(), 130)]
)
def test_a_failed_or_interrupted_story_stops_every_service_and_removes_the_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    exit_code: int,
) -> None:
    seen: dict[str, object] = {}

    async def story(world: World, out: Narrator, shared: Shared) -> None:
        await world.start_vault()
        seen["workdir"] = world.workdir
        seen["ports"] = [int(p.admin.base_url.port or 0) for p in world.parties.values()]
        assert (world.workdir / "operator.sqlite").exists()
        assert len(_demo_threads()) == 2
        raise error

    monkeypatch.setattr(mydata.demo, "STORIES", ((1, "breaks", story),))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    result = CliRunner().invoke(build_app(), ["demo"])
    assert result.exit_code == exit_code, result.output
    if exit_code == 1:
        assert "the story stopped: RuntimeError: a party broke" in result.output
        assert "demo FAILED" in result.output
    else:
        assert "interrupted" in result.output
    workdir = seen["workdir"]
    assert isinstance(workdir, Path)
    assert workdir.parent == tmp_path
    assert not workdir.exists()
    assert _demo_threads() == []
    ports = seen["ports"]
    assert isinstance(ports, list)
    assert len(ports) == 2
    assert all(_port_free(port) for port in ports)


@pytest.mark.slow
def test_ctrl_c_during_a_story_stops_the_services_and_removes_the_folder(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [MYDATA, "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120", "TMPDIR": str(temp)},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Story 2." in line:  # the operator, hospital, wallet and verifiers are running
            break
    assert [p.name for p in temp.iterdir()] != []
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    assert "Traceback" not in rest
    assert list(temp.iterdir()) == []
