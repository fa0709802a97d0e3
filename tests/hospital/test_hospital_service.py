"""The hospital service end to end: VC-API issue, verify, revoke, suspend, keys, bad input."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import UNSIGNED_ALLERGY
from tests.hospital.conftest import HospitalService, mydata
from verifier.cli import verify_document


def issue(
    service: HospitalService, credential: dict[str, Any] | None = None, **options: Any
) -> Any:
    body: dict[str, Any] = {"credential": credential or copy.deepcopy(UNSIGNED_ALLERGY)}
    if options:
        body["options"] = options
    return service.admin.post("/credentials/issue", json=body)


def verify(credential: dict[str, Any]) -> dict[str, Any]:
    report = asyncio.run(verify_document(credential))
    return {str(r.check): (str(r.status), r.code) for r in report.results}


def set_status(service: HospitalService, credential_id: str, status: str) -> httpx.Response:
    return service.admin.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
        },
    )


def test_issue_verify_then_revoke_is_rejected_by_the_status_check(
    hospital: HospitalService,
) -> None:
    response = issue(hospital)
    assert response.status_code == 201, response.text
    credential = response.json()["verifiableCredential"]
    assert credential["issuer"] == "did:web:localhost%3A" + str(hospital.port)
    assert {e["statusPurpose"] for e in credential["credentialStatus"]} == {
        "revocation",
        "suspension",
    }
    checks = verify(credential)
    assert all(status == "passed" for status, _ in checks.values()), checks

    revoked = set_status(hospital, credential["id"], "revoked")
    assert revoked.status_code == 200, revoked.text
    assert verify(credential)["status"] == ("failed", "credentialRevoked")
    # Revocation is final.
    assert set_status(hospital, credential["id"], "active").status_code == 422


def test_suspend_and_reinstate(hospital: HospitalService) -> None:
    credential = issue(hospital).json()["verifiableCredential"]
    assert set_status(hospital, credential["id"], "suspended").status_code == 200
    assert verify(credential)["status"] == ("failed", "credentialSuspended")
    assert set_status(hospital, credential["id"], "active").status_code == 200
    assert verify(credential)["status"][0] == "passed"


def test_the_mydata_verify_command_accepts_the_result(
    hospital: HospitalService, tmp_path: Path
) -> None:
    path = tmp_path / "issued.json"
    path.write_text(issue(hospital).text)  # the VC-API response as saved by a client
    result = mydata("verify", str(path), "--json", env=hospital.env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["verified"] is True


def test_mydata_verify_fetches_plain_http_only_from_the_hosts_it_is_given(
    hospital: HospitalService, tmp_path: Path
) -> None:
    """The issuer is did:web:localhost%3A<port>, served over http. Loopback hosts are allowed
    by default; naming other hosts with --insecure-http-host replaces that default."""
    path = tmp_path / "issued.json"
    path.write_text(issue(hospital).text)
    command = ("verify", str(path), "--json", "--insecure-http-host")
    allowed = mydata(*command, "localhost", env=hospital.env, check=False)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    refused = mydata(*command, "hospital.internal", env=hospital.env, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    report = json.loads(refused.stdout)
    assert report["verified"] is False
    assert "https://localhost:" in json.dumps(report["errors"])
    assert "add --insecure-http-host localhost" in " ".join(refused.stderr.split())


def test_vc_1_1_input_is_issued_as_2_0(hospital: HospitalService) -> None:
    legacy = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:123"},
    }
    # The 1.1 context defines no claim terms here, so give the subject a defined one.
    legacy["credentialSubject"]["name"] = "Test"
    legacy["@context"].append("https://www.w3.org/ns/credentials/examples/v2")
    response = issue(hospital, legacy)
    assert response.status_code == 201, response.text
    credential = response.json()["verifiableCredential"]
    assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert credential["validFrom"] == "2026-01-01T00:00:00Z"
    assert "issuanceDate" not in credential


def test_rdfc_on_request(hospital: HospitalService) -> None:
    response = issue(hospital, cryptosuite="eddsa-rdfc-2022")
    assert response.status_code == 201, response.text
    credential = response.json()["verifiableCredential"]
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert verify(credential)["proof"][0] == "passed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b"{not json", 400, "PARSING_ERROR", id="not-json"),
        pytest.param(b"[]", 400, "PARSING_ERROR", id="array"),
        pytest.param(b"{}", 400, "PARSING_ERROR", id="no-credential"),
        pytest.param(b'{"credential": "x"}', 400, "PARSING_ERROR", id="credential-not-object"),
        pytest.param(
            json.dumps({"credential": {**UNSIGNED_ALLERGY, "credentialSubject": "x"}}).encode(),
            422,
            "MALFORMED_VALUE_ERROR",
            id="bad-subject",
        ),
        pytest.param(
            json.dumps({"credential": {**UNSIGNED_ALLERGY, "validFrom": "yesterday"}}).encode(),
            422,
            "MALFORMED_VALUE_ERROR",
            id="bad-date",
        ),
        pytest.param(
            json.dumps(
                {"credential": UNSIGNED_ALLERGY, "options": {"cryptosuite": "rsa"}}
            ).encode(),
            400,
            "unsupportedCryptosuite",
            id="cryptosuite",
        ),
        pytest.param(
            json.dumps({"credential": {**UNSIGNED_ALLERGY, "undefinedTerm": 1}}).encode(),
            422,
            "undefinedTerm",
            id="undefined-term",
        ),
    ],
)
def test_bad_issue_requests_are_specific_errors(
    hospital: HospitalService, body: bytes, status: int, code: str
) -> None:
    response = hospital.admin.post(
        "/credentials/issue", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_framework_validation_errors_use_the_one_error_shape_without_the_value(
    hospital: HospitalService,
) -> None:
    secret_like = "Allergy-to-penicillin-" + "x" * 300
    response = hospital.admin.post("/admin/invitations", json={"goal_code": secret_like})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalidInput"
    assert body["details"]["errors"][0]["loc"] == ["body", "goal_code"]
    assert "detail" not in body
    assert "penicillin" not in response.text


def test_status_update_errors(hospital: HospitalService) -> None:
    assert set_status(hospital, "urn:uuid:never-issued", "revoked").status_code == 404
    credential = issue(hospital).json()["verifiableCredential"]
    assert set_status(hospital, credential["id"], "deleted").status_code == 422
    assert hospital.admin.post("/credentials/status", json={}).status_code == 400


@pytest.mark.parametrize(
    "path", ["/credentials/issue", "/credentials/status", "/admin/invitations"]
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic aG9zcGl0YWw6eA=="])
def test_admin_endpoints_refuse_missing_or_wrong_tokens(
    hospital: HospitalService, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.post(f"http://127.0.0.1:{hospital.port}{path}", json={}, headers=headers)
    assert response.status_code == 401


def test_did_document_and_status_list_are_served_with_caching(hospital: HospitalService) -> None:
    base = f"http://127.0.0.1:{hospital.port}"
    did = httpx.get(f"{base}/.well-known/did.json")
    assert did.status_code == 200
    assert did.json()["id"] == f"did:web:localhost%3A{hospital.port}"
    credential = issue(hospital).json()["verifiableCredential"]
    list_url = credential["credentialStatus"][0]["statusListCredential"]
    path = list_url.split(str(hospital.port), 1)[1]
    first = httpx.get(f"{base}{path}")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.json()["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    again = httpx.get(f"{base}{path}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    set_status(hospital, credential["id"], "revoked")
    changed = httpx.get(f"{base}{path}", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert httpx.get(f"{base}/status-lists/ffffffffffffffff").status_code == 404


def test_key_rotation_keeps_old_credentials_valid_until_the_key_is_retired(
    fresh_hospital: HospitalService,
) -> None:
    hospital = fresh_hospital
    old = issue(hospital).json()["verifiableCredential"]
    old_key = old["proof"]["verificationMethod"].split("#")[1]
    rotated = mydata("hospital", "rotate-key", "--store", hospital.store, env=hospital.env)
    new_key = rotated.stdout.split()[-1]
    assert new_key != old_key
    new = issue(hospital).json()["verifiableCredential"]
    assert new["proof"]["verificationMethod"].endswith("#" + new_key)
    assert verify(old)["proof"][0] == "passed"
    assert verify(new)["proof"][0] == "passed"

    mydata("hospital", "retire-key", old_key, "--store", hospital.store, env=hospital.env)
    assert verify(old)["proof"][0] == "failed"
    assert verify(new)["proof"][0] == "passed"
    refused = mydata(
        "hospital", "retire-key", new_key, "--store", hospital.store, env=hospital.env, check=False
    )
    assert refused.returncode == 1
    assert "active signing key" in refused.stderr


def test_serve_refuses_to_start_without_an_admin_token(tmp_path: Path) -> None:
    from tests.hospital.conftest import free_port, hospital_env

    env = hospital_env(tmp_path)
    del env["MYDATA_ADMIN_TOKEN"]
    store = f"sqlite://{tmp_path / 'h.sqlite'}"
    mydata("hospital", "init", "--base-url", "https://hospital.example", "--store", store, env=env)
    result = mydata(
        "serve", "hospital", "--port", str(free_port()), "--store", store, env=env, check=False
    )
    assert result.returncode == 2
    assert "MYDATA_ADMIN_TOKEN" in result.stderr


def test_cli_issue_and_revoke_without_the_service(tmp_path: Path) -> None:
    from tests.hospital.conftest import hospital_env

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
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(UNSIGNED_ALLERGY))
    out = tmp_path / "signed.json"
    mydata("hospital", "issue", str(unsigned), "--store", store, "-o", str(out), env=env)
    credential = json.loads(out.read_text())
    assert credential["issuer"].startswith("did:key:")
    assert (
        mydata(
            "verify", str(out), "--checks", "format,proof,issuer,validity", env=env, check=False
        ).returncode
        == 0
    )
    assert (
        "revoked"
        in mydata("hospital", "revoke", credential["id"], "--store", store, env=env).stdout
    )
    missing = mydata("hospital", "revoke", "urn:uuid:nope", "--store", store, env=env, check=False)
    assert missing.returncode == 1
    assert "notFound" in missing.stderr


def test_audit_log_records_issuance_and_revocation_and_detects_tampering(tmp_path: Path) -> None:
    import asyncio as _asyncio

    from agent.storage import open_store
    from tests.hospital.conftest import hospital_env

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
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(UNSIGNED_ALLERGY))
    out = tmp_path / "signed.json"
    mydata("hospital", "issue", str(unsigned), "--store", store, "-o", str(out), env=env)
    credential_id = json.loads(out.read_text())["id"]
    mydata("hospital", "revoke", credential_id, "--store", store, env=env)
    listing = mydata("hospital", "audit", "list", "--store", store, env=env).stdout
    for event in ("key.created", "credential.issued", "credential.revoked"):
        assert event in listing
    assert "criticality" not in listing  # identifiers only, never the health data
    assert (
        "audit log intact"
        in mydata("hospital", "audit", "verify", "--store", store, env=env).stdout
    )

    async def tamper() -> None:
        key_file = tmp_path / "h.sqlite.key"
        opened = await open_store(store, raw_key=key_file.read_text().strip())
        try:
            async with opened.transaction() as txn:
                (entry,) = [
                    r
                    for r in await txn.fetch_all("audit_entry")
                    if '"credential.revoked"' in r.value.decode()
                ]
                await txn.replace(
                    "audit_entry",
                    entry.name,
                    entry.value.replace(b"credential.revoked", b"credential.reinstated"),
                    tags=entry.tags,
                )
                await txn.commit()
        finally:
            await opened.close()

    _asyncio.run(tamper())
    result = mydata("hospital", "audit", "verify", "--store", store, env=env, check=False)
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout
    assert "at entry 3" in result.stdout


def test_the_service_issues_as_itself_whatever_issuer_the_request_names(
    hospital: HospitalService,
) -> None:
    named = issue(
        hospital,
        {
            **copy.deepcopy(UNSIGNED_ALLERGY),
            "issuer": {"id": "did:web:other.example", "name": "Other"},
        },
    )
    assert named.status_code == 201, named.text
    credential = named.json()["verifiableCredential"]
    assert credential["issuer"] == {"id": f"did:web:localhost%3A{hospital.port}", "name": "Other"}
    assert verify(credential)["issuer"][0] == "passed"
