"""`mydata hospital` and `mydata operator` as the QA walkthrough ran them (defects 3, 4, 7, 8,
17, 19, 20): refusals come before anything is issued or written, and say why."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from agent.errors import InvalidInputError
from issuer.fhir import validate_resource
from tests.hospital.conftest import MYDATA, hospital_env, mydata

SAMPLES = Path(__file__).resolve().parents[2] / "mydata" / "samples"
BUNDLE = SAMPLES / "ips-emergency-bundle.json"
CITIZEN = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _err(result: subprocess.CompletedProcess[str]) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def _init(tmp_path: Path, *extra: str) -> tuple[dict[str, str], str]:
    env = hospital_env(tmp_path, COLUMNS="400")
    store = f"sqlite://{tmp_path / 'h.sqlite'}"
    mydata(
        "hospital", "init", "--base-url", "https://hospital.example", "--store", store,
        "--did-method", "key", *extra, env=env,
    )  # fmt: skip
    return env, store


def _audit_entries(env: dict[str, str], store: str) -> int:
    listing = mydata("hospital", "audit", "list", "--store", store, "--limit", "1000", env=env)
    return listing.stdout.count("credential.issued")


def _import(env: dict[str, str], store: str, *args: str) -> subprocess.CompletedProcess[str]:
    return mydata(
        "hospital", "import", *args, "--subject", CITIZEN, "--store", store, env=env, check=False
    )


def test_import_to_an_existing_file_is_refused_before_issuing(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    target = tmp_path / "records.json"
    target.write_text("keep me\n")
    result = _import(env, store, str(BUNDLE), "-o", str(target))
    assert result.returncode == 2, result.stderr
    assert "is a file" in _err(result)
    assert "nothing was issued" in _err(result)
    assert target.read_text() == "keep me\n"
    assert _audit_entries(env, store) == 0


def test_import_never_overwrites_earlier_credentials(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    out = tmp_path / "records"
    assert _import(env, store, str(BUNDLE), "-o", str(out)).returncode == 0
    before = {path.name: path.read_text() for path in out.iterdir()}
    issued = _audit_entries(env, store)
    again = _import(env, store, str(BUNDLE), "-o", str(out))
    assert again.returncode == 2
    assert "already holds" in _err(again)
    assert {path.name: path.read_text() for path in out.iterdir()} == before
    assert _audit_entries(env, store) == issued


def test_import_creates_a_missing_folder_and_private_files(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    out = tmp_path / "new" / "records"
    result = _import(env, store, str(BUNDLE), "-o", str(out), "--emergency-summary")
    assert result.returncode == 0, result.stderr
    files = list(out.iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_issue_output_is_private(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(
        json.dumps(
            {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": CITIZEN},
            }
        )
    )
    out = tmp_path / "signed.json"
    out.write_text("")
    out.chmod(0o644)  # an existing world-readable file is made private too
    mydata("hospital", "issue", str(unsigned), "--store", store, "-o", str(out), env=env)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["proof"]
    folder = mydata(
        "hospital", "issue", str(unsigned), "--store", store, "-o", str(tmp_path), env=env,
        check=False,
    )  # fmt: skip
    assert folder.returncode == 2
    assert "is a folder" in _err(folder)


def test_bad_json_is_a_parsing_error_naming_the_file(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for args in (
        [str(bad)],
        [str(BUNDLE), "--format", "sd-jwt", "--holder-jwk", str(bad)],
    ):
        result = _import(env, store, *args)
        assert result.returncode == 2, result.stderr
        assert "[PARSING_ERROR]" in _err(result)
        assert str(bad) in _err(result).replace("\n", "")
        assert "internal error" not in _err(result)
    issue = mydata("hospital", "issue", str(bad), "--store", store, env=env, check=False)
    assert issue.returncode == 2
    assert "[PARSING_ERROR]" in _err(issue)
    assert _audit_entries(env, store) == 0


def test_sd_jwt_without_a_holder_key_is_refused_before_issuing(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    result = _import(env, store, str(BUNDLE), "--format", "vc", "--format", "sd-jwt")
    assert result.returncode == 2
    assert "--holder-jwk" in _err(result)
    assert _audit_entries(env, store) == 0


def test_fhir_error_path_has_no_pydantic_root_segment() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_resource(
            {"resourceType": "AllergyIntolerance", "patient": {"reference": "P/1"}, "code": 5}
        )
    assert caught.value.details["path"] == "AllergyIntolerance.code"
    assert ".root" not in caught.value.message


def test_hospital_init_refuses_the_operators_store_and_back(tmp_path: Path) -> None:
    env = hospital_env(tmp_path, COLUMNS="400")
    operator_store = f"sqlite://{tmp_path / 'operator.sqlite'}"
    mydata("operator", "init", "--base-url", "https://op.example", "--store", operator_store,
           env=env)  # fmt: skip
    result = mydata(
        "hospital", "init", "--base-url", "https://h.example", "--store", operator_store,
        "--did-method", "key", env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "belongs to the operator" in _err(result)
    nothing = mydata("hospital", "did-document", "--store", operator_store, env=env, check=False)
    assert "holds no hospital" in _err(nothing)
    _, hospital_store = _init(tmp_path)
    back = mydata(
        "operator", "init", "--base-url", "https://op.example", "--store", hospital_store,
        env=env, check=False,
    )  # fmt: skip
    assert back.returncode == 2
    assert "belongs to a hospital" in _err(back)


def test_init_refuses_a_store_it_has_no_key_for(tmp_path: Path) -> None:
    env = hospital_env(tmp_path, COLUMNS="400")
    foreign = tmp_path / "wallet.sqlite"
    foreign.write_bytes(b"a passphrase-encrypted store")
    for party in ("hospital", "operator"):
        result = mydata(
            party, "init", "--base-url", "https://x.example", "--store", str(foreign), env=env,
            check=False,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert "no key file" in _err(result)
        assert not (tmp_path / "wallet.sqlite.key").exists()


def test_init_again_says_which_options_were_ignored(tmp_path: Path) -> None:
    env, store = _init(tmp_path, "--name", "St. Olav")
    same = mydata("hospital", "init", "--base-url", "https://hospital.example", "--store", store,
                  env=env)  # fmt: skip
    assert "warning" not in _err(same)
    again = mydata(
        "hospital", "init", "--base-url", "https://other.example", "--name", "Other", "--store",
        store, env=env,
    )  # fmt: skip
    text = _err(again)
    assert "--base-url https://other.example" in text
    assert "https://hospital.example" in text
    assert "'St. Olav'" in text
    operator_store = f"sqlite://{tmp_path / 'operator.sqlite'}"
    mydata("operator", "init", "--base-url", "https://op.example", "--store", operator_store,
           env=env)  # fmt: skip
    moved = mydata("operator", "init", "--base-url", "https://op2.example", "--store",
                   operator_store, env=env)  # fmt: skip
    assert "https://op.example" in _err(moved)
    assert "ignored" in _err(moved)


def _patients(path: Path, count: int, bad: set[int]) -> None:
    bundle = json.loads(BUNDLE.read_text())
    allergy = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "AllergyIntolerance"
    )
    with path.open("w") as handle:
        for i in range(count):
            fhir = {**allergy, "criticality": 5} if i in bad else allergy
            handle.write(json.dumps({"key": f"p-{i}", "subject": CITIZEN, "fhir": fhir}) + "\n")


def test_batch_names_the_failed_patients_and_a_finished_job(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    patients = tmp_path / "patients.jsonl"
    _patients(patients, 30, bad=set(range(5, 30)))
    args = ["hospital", "batch", str(patients), "--store", store, "--job-id", "j1"]
    first = mydata(*args, env=env, check=False)
    assert first.returncode == 1
    err = _err(first)
    assert "25 patients got no credential" in err
    assert "line 6 (patient p-5): [invalidFhir]" in err
    assert "AllergyIntolerance.criticality" in err
    assert "and 5 more" in err
    assert "--all-failures" in err
    again = mydata(*args, "--all-failures", env=env, check=False)
    assert again.returncode == 1
    assert "already complete" in _err(again)
    assert "issuing" not in _err(again)
    assert "(0 now" in again.stdout
    assert "line 30 (patient p-29)" in _err(again)


def test_batch_interrupted_says_how_to_resume(tmp_path: Path) -> None:
    env, store = _init(tmp_path)
    patients = tmp_path / "patients.jsonl"
    _patients(patients, 30000, bad=set())  # seconds of issuing, even on a fast machine
    wal = tmp_path / "h.sqlite-wal"
    before = wal.stat().st_size if wal.exists() else 0
    process = subprocess.Popen(
        [MYDATA, "hospital", "batch", str(patients), "--store", store, "--job-id", "night",
         "--chunk-size", "100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Interrupt the job itself, not the start-up or the reading of the file (which a loaded
    # machine can stretch past any fixed delay): wait for the job's first megabyte of writes.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > before + 1_000_000:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--job-id night" in " ".join(stderr.split())
    assert "resume" in stderr
