"""`mydata hospital import` and `mydata hospital batch`, as a user runs them (kill -9 included)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

from agent.clock import utcnow
from agent.errors import HealthMyDataError
from agent.storage import open_store
from issuer.batch import BatchJobs
from tests.hospital.conftest import MYDATA, hospital_env, mydata

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _init(tmp_path: Path) -> tuple[dict[str, str], str]:
    env = hospital_env(tmp_path)
    store = f"sqlite://{tmp_path / 'h.sqlite'}"
    mydata(
        "hospital",
        "init",
        "--base-url",
        "https://hospital.example",
        "--store",
        store,
        "--did-method",
        "key",
        env=env,
    )
    return env, store


def test_import_writes_one_credential_per_topic_that_verifies(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    out = tmp_path / "out"
    result = mydata(
        "hospital",
        "import",
        str(SAMPLES / "ips-emergency-bundle.json"),
        "--subject",
        CITIZEN,
        "--store",
        store,
        "--emergency-summary",
        "-o",
        str(out),
        env=env,
    )
    assert "kind" in result.stdout
    files = sorted(out.glob("*.json"))
    assert any("EmergencySummaryCredential" in path.name for path in files)
    assert len(files) >= 3
    for path in files:
        check = mydata("verify", str(path), "--offline", "--json", env=env, check=False)
        assert check.returncode == 0, check.stdout
        assert json.loads(check.stdout)["verified"] is True


def test_import_of_invalid_fhir_names_the_path(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "resourceType": "AllergyIntolerance",
                "criticality": 5,
                "patient": {"reference": "Patient/1"},
            }
        )
    )
    result = mydata(
        "hospital", "import", str(bad), "--subject", CITIZEN, "--store", store, env=env, check=False
    )
    assert result.returncode == 1
    assert "AllergyIntolerance.criticality" in result.stderr
    assert "Traceback" not in result.stderr


def _patients(path: Path, count: int) -> None:
    bundle = json.loads((SAMPLES / "ips-emergency-bundle.json").read_text())
    resource = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "AllergyIntolerance"
    )
    with path.open("w") as handle:
        for i in range(count):
            handle.write(
                json.dumps({"key": f"patient-{i}", "subject": CITIZEN, "fhir": resource}) + "\n"
            )


async def _job_state(store: str, key: str, job: str) -> tuple[str, int, int]:
    opened = await open_store(store, raw_key=key)
    try:
        state, done, total = await BatchJobs(opened, clock=utcnow).status(job)
        return str(state), done, total
    finally:
        await opened.close()


async def _credentials(store: str, key: str, job: str, total: int) -> list[str]:
    opened = await open_store(store, raw_key=key)
    try:
        issued = await BatchJobs(opened, clock=utcnow).credentials(job, limit=total + 10)
        return [item.patient_key for item in issued]
    finally:
        await opened.close()


def test_batch_killed_midway_then_rerun_gives_exactly_one_credential_per_patient(
    tmp_path: Path,
) -> None:
    env, store = _init(tmp_path)
    patients = tmp_path / "patients.jsonl"
    total = 3000
    _patients(patients, total)
    args = [
        MYDATA,
        "hospital",
        "batch",
        str(patients),
        "--store",
        store,
        "--job-id",
        "night",
        "--chunk-size",
        "100",
    ]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = (tmp_path / "h.sqlite.key").read_text().strip()
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _, done, _ = asyncio.run(_job_state(store, key, "night"))
        except HealthMyDataError:  # the job record is not there yet
            done = 0
        if done >= 500:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < done < total, f"expected to kill mid-batch, done={done}"

    result = mydata(*args[1:], env=env)
    assert f"{total} of {total} issued" in result.stdout
    keys = asyncio.run(_credentials(store, key, "night", total))
    assert len(keys) == total
    assert len(set(keys)) == total
    # Running it once more issues nothing.
    again = mydata(*args[1:], env=env)
    assert "(0 now" in again.stdout
