"""QA findings on `mydata insurer verify`, `mydata er scan` and `mydata did resolve`, run as the
real `mydata` command: unknown claim types and evidence for another claim type are refused,
errors name the file at fault, a trust cache given as an offline cache is said to be one,
rejection reasons are true, and did:web on this machine can be fetched over plain http with
``--insecure-http-host`` (and an https failure there says so)."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import utcnow
from agent.credentials.sd_jwt import issue_sd_jwt
from agent.dids import DIDResolver
from tests.verifier.conftest import Party
from tests.verifier.world import (
    CLAIM,
    SUMMARY,
    accreditation,
    claim_evidence,
    emergency_card,
    jwk_of,
)
from verifier.offline import export_offline_cache
from verifier.policy import CLAIM_TYPE_MISMATCH, VCT_EMERGENCY_SUMMARY
from verifier.trust import TrustRegistry

MYDATA = Path(sys.executable).with_name("mydata")


def mydata(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MYDATA), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "MYDATA_HOME": str(home), "COLUMNS": "250"},
    )


def _offline_cache(operator: Party, hospital: Party) -> dict[str, Any]:
    async def build() -> dict[str, Any]:
        trust = TrustRegistry({operator.did}, DIDResolver())
        await trust.add_accreditation(accreditation(operator, hospital.did))
        return export_offline_cache(trust=trust)

    return asyncio.run(build())


def _trust_cache(operator: Party, hospital: Party) -> dict[str, Any]:
    """What `mydata er sync --trust-out` writes (a TrustRegistry export)."""

    async def build() -> dict[str, Any]:
        trust = TrustRegistry({operator.did}, DIDResolver())
        await trust.add_accreditation(accreditation(operator, hospital.did))
        return trust.export()

    return asyncio.run(build())


@pytest.fixture
def evidence_and_cache(
    hospital: Party, citizen: Party, operator: Party, tmp_path: Path
) -> tuple[Path, Path]:
    evidence = tmp_path / "evidence.sd-jwt"
    evidence.write_text(claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1)))
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps(_offline_cache(operator, hospital)))
    return evidence, cache


# --- 1: claim types ---------------------------------------------------------------------------


def _without_disclosure(sd_jwt: str, name: str) -> str:
    """``sd_jwt`` with the Disclosure of the member ``name`` left out, as a holder may."""
    jwt, *disclosures = sd_jwt.split("~")
    kept = [
        d
        for d in disclosures
        if not d or json.loads(base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)))[1] != name
    ]
    assert len(kept) == len(disclosures) - 1, f"no Disclosure of {name}"
    return "~".join([jwt, *kept])


def test_insurer_verify_refuses_an_unknown_claim_type_as_unusable_input(
    evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    evidence, cache = evidence_and_cache
    store = tmp_path / "ins.sqlite"
    result = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "bogus", "--claim-id", "C-1",
        "--cache", str(cache), "--store", str(store), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: [invalidInput]" in result.stderr
    assert "--claim-type, one of institutional, oral, pharmacy, professional, vision" in (
        " ".join(result.stderr.split())
    )
    assert "ACCEPTED" not in result.stdout
    assert not store.exists()  # refused before anything was stored

    blank = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "institutional", "--claim-id", " ",
        "--cache", str(cache), "--store", str(store), home=tmp_path,
    )  # fmt: skip
    assert blank.returncode == 2, blank.stdout + blank.stderr
    assert "--claim-id" in blank.stderr


def test_insurer_verify_rejects_evidence_issued_for_another_claim_type(
    evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    evidence, cache = evidence_and_cache  # claimType: institutional
    result = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "pharmacy", "--claim-id", "C-PH",
        "--cache", str(cache), "--store", str(tmp_path / "ins.sqlite"), "--json", home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["decision"]["accepted"] is False
    [error] = body["report"]["errors"]
    assert (error["check"], error["code"]) == ("fields", CLAIM_TYPE_MISMATCH)
    assert any(
        "institutional claim, not for a pharmacy claim" in r for r in body["decision"]["reasons"]
    )

    # The same evidence for the claim type it was issued for is accepted (docs/verifier.md).
    ok = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "institutional", "--claim-id",
        "C-IN", "--cache", str(cache), "--store", str(tmp_path / "ins.sqlite"), home=tmp_path,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "accredited evidence for an institutional claim" in " ".join(ok.stdout.split())


# --- 11, 12: errors name the file, a trust cache is called one ----------------------------------


def test_errors_name_the_cache_file_that_cannot_be_read(
    hospital: Party, evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    evidence, _ = evidence_and_cache
    missing = tmp_path / "nope.json"
    result = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "institutional", "--claim-id", "C",
        "--cache", str(missing), "--store", str(tmp_path / "ins.sqlite"), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    err = " ".join(result.stderr.split())
    assert f"cannot read the offline cache {missing}" in err
    assert "evidence.sd-jwt" not in err

    card = tmp_path / "card.txt"
    card.write_text(emergency_card(hospital, iat=utcnow() - timedelta(days=1)))
    scan = mydata("er", "scan", str(card), "--cache", str(tmp_path / "nothere.json"), home=tmp_path)
    assert scan.returncode == 2
    assert f"cannot read the offline cache {tmp_path / 'nothere.json'}" in " ".join(
        scan.stderr.split()
    )


def test_a_trust_cache_given_as_offline_cache_is_named_with_the_fix(
    hospital: Party, operator: Party, tmp_path: Path
) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(_trust_cache(operator, hospital)))
    card = tmp_path / "card.txt"
    card.write_text(emergency_card(hospital, iat=utcnow() - timedelta(days=1)))
    result = mydata("er", "scan", str(card), "--cache", str(trust), home=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert f"{trust} is a trust cache" in err
    assert "mydata er sync" in err
    assert "-o FILE" in err
    assert "add_document" not in err
    assert "http_client" not in err


# --- 13: true reasons, one warning ---------------------------------------------------------------


def _tampered(sd_jwt: str) -> str:
    """The same SD-JWT with its issuer signature broken (the claims cannot be verified)."""
    jwt, rest = sd_jwt.split("~", 1)
    header, payload, signature = jwt.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}~{rest}"


def test_reasons_say_what_failed_not_that_the_content_is_wrong(
    hospital: Party, citizen: Party, evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    _, cache = evidence_and_cache
    card = tmp_path / "card.txt"
    card.write_text(_tampered(emergency_card(hospital, iat=utcnow() - timedelta(days=1))))
    scan = mydata("er", "scan", str(card), "--json", "--cache", str(cache), home=tmp_path)
    assert scan.returncode == 1, scan.stdout + scan.stderr
    reasons = json.loads(scan.stdout)["decision"]["reasons"]
    assert "this is not an emergency summary" not in reasons
    assert any(r.startswith("proof failed") for r in reasons), reasons

    evidence = tmp_path / "bad-evidence.sd-jwt"
    evidence.write_text(
        _tampered(claim_evidence(hospital, citizen, iat=utcnow() - timedelta(days=1)))
    )
    result = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "institutional", "--claim-id", "C",
        "--cache", str(cache), "--store", str(tmp_path / "ins.sqlite"), "--json", home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    reasons = json.loads(result.stdout)["decision"]["reasons"]
    assert not any("claim needs:" in r for r in reasons), reasons
    assert any("could not be verified" in r for r in reasons), reasons
    assert any(r.startswith("proof failed") for r in reasons), reasons


def test_insurer_verify_prints_each_warning_once(
    evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    evidence, _ = evidence_and_cache
    result = mydata(
        "insurer", "verify", str(evidence), "--claim-type", "institutional", "--claim-id", "C",
        "--store", str(tmp_path / "ins.sqlite"), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warnings, result.stdout
    assert len(warnings) == len(set(warnings)), warnings


# --- 14: plain http on this machine --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def did_web_server(hospital: Party, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A plain-http server on localhost publishing a did:web document with the hospital's key."""
    port = _free_port()
    did = f"did:web:localhost%3A{port}"
    multikey = hospital.signer.verification_method.split("#", 1)[1]
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multikey,
            }
        ],
        "assertionMethod": [f"{did}#key-1"],
    }
    root = tmp_path / "www"
    (root / ".well-known").mkdir(parents=True)
    (root / ".well-known" / "did.json").write_text(json.dumps(document))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield did, port
    server.shutdown()
    server.server_close()


def test_did_resolve_takes_insecure_http_host_and_says_so_when_https_fails(
    did_web_server: tuple[str, int], tmp_path: Path
) -> None:
    did, port = did_web_server
    refused = mydata("did", "resolve", did, home=tmp_path)
    assert refused.returncode == 2
    err = " ".join(refused.stderr.split())
    assert f"https://localhost:{port} could not be reached" in err
    assert "--insecure-http-host localhost" in err

    resolved = mydata("did", "resolve", did, "--insecure-http-host", "localhost", home=tmp_path)
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout)["id"] == did


def test_did_resolve_of_a_non_did_gives_command_line_advice(tmp_path: Path) -> None:
    result = mydata("did", "resolve", "hello", home=tmp_path)
    assert result.returncode == 2
    err = " ".join(result.stderr.split())
    assert "error: [invalidDid] 'hello' is not a DID" in err
    assert "resolve_key" not in err
    url = mydata("did", "resolve", "did:key:z6MkExample#key-1", home=tmp_path)
    assert url.returncode == 2
    assert "give the DID alone: did:key:z6MkExample" in " ".join(url.stderr.split())


def _did_web_sd_jwt(hospital: Party, did: str, claims: dict[str, Any], vct: str, **kw: Any) -> str:
    return issue_sd_jwt(
        claims,
        hospital.signer,
        iss=did,
        kid=f"{did}#key-1",
        iat=utcnow() - timedelta(days=1),
        disclosable=[(name,) for name in claims],
        vct=vct,
        **kw,
    )


def test_er_scan_and_insurer_verify_fetch_did_web_over_http_only_when_told(
    hospital: Party, citizen: Party, did_web_server: tuple[str, int], tmp_path: Path
) -> None:
    did, port = did_web_server
    card = tmp_path / "card.txt"
    card.write_text(_did_web_sd_jwt(hospital, did, SUMMARY, VCT_EMERGENCY_SUMMARY))

    https = mydata("er", "scan", str(card), "--json", home=tmp_path)
    assert https.returncode == 1
    assert "--insecure-http-host localhost" in " ".join(https.stderr.split())
    http_ok = mydata(
        "er", "scan", str(card), "--json", "--insecure-http-host", "localhost", home=tmp_path
    )
    report = json.loads(http_ok.stdout)["report"]
    assert "proof" in report["checks"], report  # the key was fetched over plain http
    assert "insecure-http-host" not in http_ok.stderr

    evidence = tmp_path / "evidence.sd-jwt"
    evidence.write_text(
        _did_web_sd_jwt(
            hospital,
            did,
            CLAIM,
            "https://w3id.org/health-mydata/vct/ClaimEvidence/v1",
            holder_jwk=jwk_of(citizen),
        )
    )
    common = ["--claim-type", "institutional", "--claim-id", "C", "--json"]
    store = ["--store", str(tmp_path / "ins.sqlite")]
    https = mydata("insurer", "verify", str(evidence), *common, *store, home=tmp_path)
    assert https.returncode == 1
    assert f"https://localhost:{port} could not be reached" in " ".join(https.stderr.split())
    http_ok = mydata(
        "insurer", "verify", str(evidence), *common, *store,
        "--insecure-http-host", "localhost", home=tmp_path,
    )  # fmt: skip
    assert "proof" in json.loads(http_ok.stdout)["report"]["checks"], http_ok.stdout


def test_serve_verifier_names_the_policy_option_for_an_unknown_policy(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(MYDATA), "serve", "verifier", "--policy", "bogus", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "MYDATA_HOME": str(tmp_path), "MYDATA_ADMIN_TOKEN": "t" * 32},
    )
    assert result.returncode == 2, result.stderr
    err = " ".join(result.stderr.split())
    assert "unknown verifier policy 'bogus': --policy must be one of generic, emergency" in err
    assert "default_role" not in err


def test_insurer_verify_refuses_evidence_that_withholds_its_claim_type(
    evidence_and_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    # Institutional evidence holds every field a pharmacy claim needs; without claimType it
    # could not be told from pharmacy evidence, so every claim type requires claimType.
    evidence, cache = evidence_and_cache
    withheld = tmp_path / "withheld.sd-jwt"
    withheld.write_text(_without_disclosure(evidence.read_text().strip(), "claimType"))
    result = mydata(
        "insurer", "verify", str(withheld), "--claim-type", "pharmacy", "--claim-id", "C-PH2",
        "--cache", str(cache), "--store", str(tmp_path / "ins.sqlite"), "--json", home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["decision"]["accepted"] is False
    assert any("claimType" in reason for reason in body["decision"]["reasons"]), body
