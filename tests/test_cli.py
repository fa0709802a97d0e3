"""The mydata command as a user runs it: exit codes, named checks, no tracebacks."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mydata.cli import build_app
from tests.conftest import VECTORS, load_vector

runner = CliRunner()
app = build_app()

SIGNED = {
    "eddsa-jcs-2022": VECTORS / "vc-di-eddsa" / "eddsa-jcs-2022" / "signedJCS.json",
    "eddsa-rdfc-2022": VECTORS / "vc-di-eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json",
    "proof-set": VECTORS / "vc-di-eddsa" / "proof-set-chain" / "signedProofSet2.json",
    "proof-chain": VECTORS / "vc-di-eddsa" / "proof-set-chain" / "signedProofChain2.json",
}


def run(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_spec_vectors_verify_with_checks_proof(name: str) -> None:
    result = run("verify", str(SIGNED[name]), "--checks", "proof", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verified"] is True
    assert report["checks"] == ["proof"]


def _tamper(document: dict[str, Any], where: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    if where == "claim":
        changed["credentialSubject"]["alumniOf"] = "The School of ExampleZ"
    elif where == "proof-options":
        created = changed["proof"]["created"]
        changed["proof"]["created"] = created[:-2] + ("1Z" if created[-2] != "1" else "2Z")
    elif where == "proof-value":
        value = changed["proof"]["proofValue"]
        changed["proof"]["proofValue"] = (
            value[:10] + ("X" if value[10] != "X" else "Y") + value[11:]
        )
    return changed


@pytest.mark.parametrize("where", ["claim", "proof-options", "proof-value"])
@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "eddsa-rdfc-2022"])
def test_one_changed_character_is_rejected_by_the_proof_check(
    tmp_path: Path, suite: str, where: str
) -> None:
    signed = json.loads(SIGNED[suite].read_text())
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(_tamper(signed, where)))
    result = run("verify", str(path), "--checks", "proof", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["verified"] is False
    assert [e["check"] for e in report["errors"]] == ["proof"]
    # The proof-options change moves `created` by one second into the past: still within any
    # skew, so the signature is what fails.
    assert report["errors"][0]["code"] == "PROOF_VERIFICATION_ERROR"


def test_human_output_names_the_failing_check(tmp_path: Path) -> None:
    signed = json.loads(SIGNED["eddsa-jcs-2022"].read_text())
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(_tamper(signed, "claim")))
    result = run("verify", str(path), "--checks", "proof")
    assert result.exit_code == 1
    assert "proof" in result.output
    assert "failed" in result.output
    assert "REJECTED" in result.output


@pytest.mark.parametrize(
    ("content", "code"),
    [
        pytest.param(b"{not json", "PARSING_ERROR", id="not-json"),
        pytest.param(b"[1, 2]", "PARSING_ERROR", id="array"),
        pytest.param(b'{"type": "Something"}', "PARSING_ERROR", id="neither-vc-nor-vp"),
        pytest.param(b"\xff\xfe", "PARSING_ERROR", id="invalid-utf8"),
        pytest.param(b"[" * 5000, "PARSING_ERROR", id="deeply-nested"),
    ],
)
def test_unusable_input_exits_2_with_a_typed_error(
    tmp_path: Path, content: bytes, code: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = run("verify", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.output)["error"]["code"] == code
    assert "Traceback" not in result.output


def test_unknown_check_name_exits_2() -> None:
    result = run("verify", str(SIGNED["eddsa-jcs-2022"]), "--checks", "signature")
    assert result.exit_code == 2
    assert "unknown check" in result.output


def test_missing_file_exits_2() -> None:
    result = run("verify", "/nonexistent/credential.json")
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_stdin_is_accepted() -> None:
    text = SIGNED["eddsa-jcs-2022"].read_text()
    result = run("verify", "-", "--checks", "proof", "--json", stdin=text)
    assert result.exit_code == 0, result.output


def test_spec_vector_full_report_names_each_failed_check() -> None:
    """Without --checks the W3C vector is rejected, and the report says exactly why."""
    result = run("verify", str(SIGNED["eddsa-jcs-2022"]), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    failed = {e["check"] for e in report["errors"]}
    # The vector's issuer is an https URL while its key is a did:key: not the issuer's key.
    assert "issuer" in failed
    assert "proof" not in failed


def test_did_resolve_prints_the_document() -> None:
    vector = load_vector("did-key", "ed25519-x25519.json")
    did = next(iter(vector))
    result = run("did", "resolve", did)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == did


def test_did_resolve_bad_did_exits_2() -> None:
    result = run("did", "resolve", "did:key:zNotAKey")
    assert result.exit_code == 2
    assert "invalidDid" in result.output


@pytest.mark.parametrize("method", ["key", "peer"])
def test_did_create_then_resolve(tmp_path: Path, method: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("MYDATA_PASSPHRASE", "correct horse battery staple")
    store = tmp_path / "agent.sqlite"
    extra = ["--endpoint", "http://127.0.0.1:8080/didcomm"] if method == "peer" else []
    result = run("did", "create", "--method", method, "--store", str(store), *extra)
    assert result.exit_code == 0, result.output
    did = result.stdout.strip().splitlines()[0]
    assert did.startswith(f"did:{method}:")
    assert store.exists()
    resolved = run("did", "resolve", did)
    assert json.loads(resolved.output)["id"] == did


def test_did_create_with_wrong_passphrase_on_existing_store(
    tmp_path: Path, monkeypatch: Any
) -> None:
    store = tmp_path / "agent.sqlite"
    monkeypatch.setenv("MYDATA_PASSPHRASE", "first")
    assert run("did", "create", "--store", str(store)).exit_code == 0
    monkeypatch.setenv("MYDATA_PASSPHRASE", "second")
    result = run("did", "create", "--store", str(store))
    assert result.exit_code == 2
    assert "storeWrongKey" in result.output
    assert "second" not in result.output


# --- regressions from the foundation review -------------------------------------------------


def test_type_that_is_a_number_exits_2_with_a_typed_error(tmp_path: Path) -> None:
    """/tmp/rev/type5.json: ``"type": 5`` raised TypeError in the CLI's own type reader."""
    document = json.loads(SIGNED["eddsa-jcs-2022"].read_text())
    document["type"] = 5
    path = tmp_path / "type5.json"
    path.write_text(json.dumps(document))
    result = run("verify", str(path), "--json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["error"]["code"] == "PARSING_ERROR"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("where", "value"),
    [
        pytest.param("created", "2023-02-30T00:00:00Z", id="feb30"),
        pytest.param("expires", "10000-01-01T00:00:00Z", id="year-10000"),
        pytest.param("cryptosuite", ["eddsa-jcs-2022"], id="cryptosuite-list"),
    ],
)
def test_malformed_proof_fields_are_rejected_not_crashed_on(
    tmp_path: Path, where: str, value: Any
) -> None:
    """/tmp/rev/feb30.json and cs.json: tracebacks before."""
    document = json.loads(SIGNED["eddsa-jcs-2022"].read_text())
    document["proof"][where] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = run("verify", str(path), "--checks", "proof", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["errors"][0]["code"] == "MALFORMED_PROOF_ERROR"


def test_number_overflowing_to_infinity_exits_2(tmp_path: Path) -> None:
    text = SIGNED["eddsa-jcs-2022"].read_text().replace('"The School of Examples"', "1e400")
    path = tmp_path / "inf.json"
    path.write_text(text)
    result = run("verify", str(path), "--json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["error"]["code"] == "PARSING_ERROR"


@pytest.mark.parametrize("as_json", [True, False])
def test_unexpected_error_exits_2_without_traceback_or_data(
    tmp_path: Path, monkeypatch: Any, as_json: bool
) -> None:
    """The last-resort handler: a bug is exit 2 with a generic message, never a traceback
    (which could quote the document)."""
    secret = "secret-marker-91c2"

    async def broken(document: dict[str, Any], **kwargs: Any) -> Any:
        raise KeyError(secret)

    monkeypatch.setattr("verifier.cli.verify_document", broken)
    result = run("verify", str(SIGNED["eddsa-jcs-2022"]), *(["--json"] if as_json else []))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert secret not in result.output
    assert "internal error" in " ".join(result.output.split())
    if as_json:
        assert json.loads(result.output)["verified"] is False


def test_checks_help_lists_issuer_and_holder() -> None:
    result = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "issuer" in result.output
    assert "holder" in result.output


def test_proof_only_report_warns_that_the_issuer_was_not_checked() -> None:
    result = run("verify", str(SIGNED["eddsa-jcs-2022"]), "--checks", "proof", "--json")
    assert result.exit_code == 0
    warnings = json.loads(result.output)["warnings"]
    assert any("issuer check did not run" in warning for warning in warnings)


async def test_resolver_gets_the_cli_timeout(monkeypatch: Any) -> None:
    """The resolver's own 10 s default overrode the client's 5 s."""
    from verifier import cli

    seen: dict[str, Any] = {}
    real = cli.DIDResolver

    def capture(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(cli, "DIDResolver", capture)
    signed = json.loads(SIGNED["eddsa-jcs-2022"].read_text())
    report = await cli.verify_document(signed, checks=["proof"])
    assert report.verified
    assert seen["timeout"] == cli.RESOLVE_TIMEOUT == 5.0


@pytest.mark.parametrize(
    "args",
    [
        ["hospital", "issue", "/nonexistent/unsigned.json"],
        ["wallet", "restore", "/nonexistent/backup.bin", "--phrase", "AAAA"],
    ],
)
def test_a_missing_file_is_a_one_line_error_not_a_traceback(
    args: list[str], tmp_path: Path
) -> None:
    exe = Path(sys.executable).with_name("mydata")
    result = subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_PASSPHRASE": "x"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "/nonexistent/" in result.stderr


def test_ctrl_c_before_a_command_takes_over_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A KeyboardInterrupt while the command line is built (modules loading) printed a
    # traceback; it is "interrupted" and the shell's code for SIGINT.
    import mydata.cli

    def interrupted(**_: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.delenv("MYDATA_DEBUG", raising=False)
    monkeypatch.setattr(mydata.cli, "build_app", interrupted)
    with pytest.raises(SystemExit) as stopped:
        mydata.cli.main()
    assert stopped.value.code == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "interrupted"
    assert "Traceback" not in captured.err
