"""w3c/vc-data-model-2.0-test-suite, ported in part: `tests/70-issuer.js` (4.7 Issuer).

`TestEndpoints.issue` posts `createRequestBody({issuer, vc})` (tests/mock.data.js): the
fixture's own `issuer` (or `issuer.id`) is kept when it has one, else the implementation's id
is filled in. A refusal is any HTTP error (`post` throws on status >= 400). See SOURCE.md.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.w3c_suites.conftest import Endpoint, Hospital

V2 = "https://www.w3.org/ns/credentials/v2"

# tests/input/*.json, verbatim
FIXTURES: dict[str, dict[str, Any]] = {
    "credential-issuer-object-ok.json": {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "validFrom": "2023-02-26T00:37:06Z",
        "issuer": {"id": "did:example:issuer"},
        "credentialSubject": {"id": "did:example:subject"},
    },
    "credential-issuer-no-url-fail.json": {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": "fake-issuer",
        "credentialSubject": {"id": "did:example:subject"},
    },
    "credential-issuer-null-fail.json": {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": None,
        "credentialSubject": {"id": "did:example:subject"},
    },
    "credential-issuer-object-id-null-fail.json": {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": {"id": None},
        "credentialSubject": {"id": "did:example:subject"},
    },
    "credential-issuer-object-id-no-url-fail.json": {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": {"id": "fake-issuer"},
        "credentialSubject": {"id": "did:example:subject"},
    },
}


def create_request_body(issuer: Endpoint, vc: dict[str, Any]) -> dict[str, Any]:
    """tests/mock.data.js createRequestBody (JS `typeof null` is 'object' too)."""
    credential = copy.deepcopy(vc)
    if isinstance(credential.get("issuer"), dict):
        credential["issuer"]["id"] = credential["issuer"].get("id") or issuer.settings["id"]
    elif credential.get("issuer") is None and "issuer" in credential:
        # JS: `null.id = ...` throws a TypeError before anything is posted; the fixture's
        # intent (a null issuer) is posted as is instead.
        pass
    else:
        credential["issuer"] = credential.get("issuer") or issuer.settings["id"]
    return {"credential": credential, "options": issuer.settings.get("options", {})}


def issue(hospital: Hospital, name: str) -> Any:
    return hospital.issuer.post(create_request_body(hospital.issuer, FIXTURES[name]))


def test_issuer_property_present(hospital: Hospital) -> None:
    """A verifiable credential MUST have an issuer property."""
    # credential-ok.json is not stored in the index; the suite's own validVc shape is used.
    result = hospital.issuer.post(
        create_request_body(
            hospital.issuer,
            {
                "@context": [V2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:subject"},
            },
        )
    )
    assert result.ok, result
    assert "issuer" in result.data["verifiableCredential"]


def test_issuer_url_or_object_positive(hospital: Hospital) -> None:
    """The value of the issuer property MUST be either a URL, or an object containing an id
    property whose value is a URL. (credential-issuer-object-ok.json is issued)"""
    result = issue(hospital, "credential-issuer-object-ok.json")
    assert result.ok, result


@pytest.mark.parametrize(
    "fixture",
    [
        "credential-issuer-no-url-fail.json",
        "credential-issuer-null-fail.json",
        pytest.param(
            "credential-issuer-object-id-null-fail.json",
            marks=pytest.mark.xfail(
                strict=True,
                reason="suite quirk: createRequestBody replaces the null issuer.id with the "
                "implementation's DID, so the request holds a valid credential, which a "
                "conformant issuer issues (see SOURCE.md)",
            ),
        ),
        "credential-issuer-object-id-no-url-fail.json",
    ],
)
def test_issuer_url_or_object_negative(hospital: Hospital, fixture: str) -> None:
    """The value of the issuer property MUST be either a URL, or an object containing an id
    property whose value is a URL. (each *-fail.json is refused with an HTTP error)"""
    result = issue(hospital, fixture)
    assert result.status >= 400, result
    assert result.status != 401, result
