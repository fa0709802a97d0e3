"""Decision 0007 at the services the W3C suites run against (docs/decisions/0007-*.md):
a client-given `credentialStatus` at `POST /credentials/issue`, and `options.checks` at the
verify routes. Not a port: our own tests of the rules the ports rely on."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.w3c_suites.conftest import Endpoint, Hospital

V2 = "https://www.w3.org/ns/credentials/v2"
BSL_ENTRY: dict[str, Any] = {
    "id": "https://status.example/lists/7#1234",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "1234",
    "statusListCredential": "https://status.example/lists/7",
}


def _credential(**extra: Any) -> dict[str, Any]:
    return {
        "@context": [V2],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:subject"},
        **extra,
    }


def _issue(hospital: Hospital, credential: dict[str, Any]) -> Any:
    return hospital.issuer.post({"credential": credential})


def test_client_status_is_kept_and_none_allocated(hospital: Hospital) -> None:
    result = _issue(hospital, _credential(credentialStatus=copy.deepcopy(BSL_ENTRY)))
    assert result.status == 201, result
    issued = result.data["verifiableCredential"]
    assert issued["credentialStatus"] == BSL_ENTRY
    # its status is the client's: the hospital does not manage it
    changed = hospital.status.post(
        {
            "credentialId": issued["id"],
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}],
        }
    )
    assert changed.status == 404, changed
    assert changed.data["details"]["reason"] == "clientStatus", changed


def test_without_client_status_the_issuer_allocates_both_entries(hospital: Hospital) -> None:
    result = _issue(hospital, _credential())
    assert result.status == 201, result
    entries = result.data["verifiableCredential"]["credentialStatus"]
    assert sorted(e["statusPurpose"] for e in entries) == ["revocation", "suspension"]
    assert all(e["statusListCredential"].startswith(hospital.service.url) for e in entries)


@pytest.mark.parametrize(
    ("status", "path"),
    [
        ({"id": "https://status.example/1"}, "credentialStatus.type"),
        ([{"type": ""}], "credentialStatus[0].type"),
        ([BSL_ENTRY, "not an object"], "credentialStatus[1].type"),
        ([], "credentialStatus"),
        ({**BSL_ENTRY, "statusListIndex": True}, "credentialStatus"),
        ({**BSL_ENTRY, "statusListIndex": "-1"}, "credentialStatus"),
    ],
    ids=["no-type", "empty-type", "not-object", "empty-list", "index-bool", "index-negative"],
)
def test_malformed_client_status_is_a_422(hospital: Hospital, status: Any, path: str) -> None:
    result = _issue(hospital, _credential(credentialStatus=copy.deepcopy(status)))
    assert result.status == 422, result
    assert result.data["code"] == "MALFORMED_VALUE_ERROR", result
    assert result.data["details"] == {"path": path, "rule": "credentialStatus"}, result


def test_client_entry_into_the_hospitals_own_lists_is_refused(hospital: Hospital) -> None:
    own = _issue(hospital, _credential()).data["verifiableCredential"]["credentialStatus"][0]
    copied = {**own, "statusListIndex": str(int(own["statusListIndex"]) + 1)}
    result = _issue(hospital, _credential(credentialStatus=copied))
    assert result.status == 422, result
    assert result.data["details"]["path"] == "credentialStatus.statusListCredential", result


@pytest.mark.parametrize("route", ["credentials", "presentations"])
def test_unknown_check_name_is_still_a_400(verifier: dict[str, Endpoint], route: str) -> None:
    key = "verifiableCredential" if route == "credentials" else "verifiablePresentation"
    result = verifier[route].post({key: {"@context": [V2]}, "options": {"checks": ["nonsense"]}})
    assert result.status == 400, result
    [error] = result.data["errors"]
    assert error["code"] == "PARSING_ERROR", result
    assert "nonsense" in error["message"], result
