"""w3c/vc-data-model-2.0-test-suite, ported in part: `tests/70-issuer.js` (4.7 Issuer).

`TestEndpoints.issue` posts `createRequestBody({issuer, vc})` (tests/mock.data.js): the
fixture's own `issuer` (or `issuer.id`) is kept when it has one, else the implementation's id
is filled in. A refusal is any HTTP error (`post` throws on status >= 400). See SOURCE.md.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
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


# --- tests/20-contexts.js, 30-identifiers.js, 60-credential-subject.js, 80-validity-period.js
# (VC issuer side; the VP cases need the suite's createVp/verifyVp and are not ported).

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
SUBJECT = {"id": "did:example:subject"}
VC_TYPE = ["VerifiableCredential"]

# tests/input/*.json, verbatim (commit per file in SOURCE.md)
FIXTURES.update(
    {
        # credential-ok.json is not stored; the shape every other fixture shares is used.
        "credential-ok.json": {"@context": [V2], "type": VC_TYPE, "credentialSubject": SUBJECT},
        "credential-no-context-fail.json": {"type": VC_TYPE, "credentialSubject": SUBJECT},
        "credential-missing-base-context-fail.json": {
            "@context": [EXAMPLES_V2],
            "type": VC_TYPE,
            "credentialSubject": SUBJECT,
        },
        "credential-context-combo1-ok.json": {
            "@context": [V2, EXAMPLES_V2],
            "type": VC_TYPE,
            "credentialSubject": SUBJECT,
        },
        "credential-context-combo2-ok.json": {
            "@context": [
                V2,
                {"ExampleVerifiableCredential": "https://example.org/#ExampleVerifiableCredential"},
            ],
            "type": ["VerifiableCredential", "ExampleVerifiableCredential"],
            "credentialSubject": SUBJECT,
        },
        "credential-context-combo3-fail.json": {
            "@context": [V2, "https ://not-a-url/contexts/example/v1"],
            "type": VC_TYPE,
            "credentialSubject": SUBJECT,
        },
        "credential-context-combo4-fail.json": {
            "@context": [V2, 123192875],
            "type": VC_TYPE,
            "credentialSubject": SUBJECT,
        },
        "credential-id-other-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-22T21:35:22Z",
            "issuer": "did:example:other-issuer",
            "credentialSubject": SUBJECT,
        },
        "credential-id-nonidentifier-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "id": None,
            "credentialSubject": SUBJECT,
        },
        # 30-identifiers.js names credential-id-single-ok / -subject-single-ok / -multi-fail /
        # -not-url-fail; the index holds them under their earlier names, used here.
        "credential-single-id-ok.json": {
            "@context": [V2, EXAMPLES_V2],
            "type": VC_TYPE,
            "id": "https://example.org/credentials/1",
            "credentialSubject": {"description": "A single id test for VC 2.0"},
        },
        "credential-subject-single-id-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "credentialSubject": SUBJECT,
        },
        "credential-multi-id-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "id": ["https://example.org/credentials/1", "https://example.net/credentials/1"],
            "credentialSubject": SUBJECT,
        },
        "credential-id-subject-multi-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "credentialSubject": {"id": ["did:example:subject:one", "did:example:subject:two"]},
        },
        "credential-not-url-id-fail.json": {
            "@context": [V2, EXAMPLES_V2],
            "type": VC_TYPE,
            "id": "https ://not-a-url/vcs/343cf54b-2c38-480e-b6e8-7302332eae75",
            "credentialSubject": {"name": "id not a url test"},
        },
        "credential-no-subject-fail.json": {"@context": [V2], "type": VC_TYPE},
        "credential-subject-no-claims-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T00:16:15Z",
            "issuer": "did:example:issuer",
            "credentialSubject": {},
        },
        "credential-subject-multiple-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "credentialSubject": [
                {"id": "did:example:subject"},
                {"id": "did:example:other:subject"},
            ],
        },
        "credential-subject-multiple-empty-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "credentialSubject": [{"id": "did:example:subject"}, {}],
        },
        "credential-validfrom-ms-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T01:02:58.447Z",
            "credentialSubject": SUBJECT,
        },
        "credential-validfrom-tz-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-25T19:10:39-06:00",
            "credentialSubject": SUBJECT,
        },
        "credential-validfrom-invalid-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "Sat 25 Feb 2023 07:16:31 PM CST",
            "credentialSubject": SUBJECT,
        },
        "credential-validuntil-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T01:19:19Z",
            "validUntil": "2023-02-26T01:19:20Z",
            "credentialSubject": SUBJECT,
        },
        "credential-validuntil-ms-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T01:20:00Z",
            "validUntil": "2023-02-26T01:20:18.477Z",
            "credentialSubject": SUBJECT,
        },
        "credential-validuntil-tz-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T01:21:23Z",
            "validUntil": "2023-02-25T19:21:29-06:00",
            "credentialSubject": SUBJECT,
        },
        "credential-validuntil-invalid-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "2023-02-26T01:21:51Z",
            "validUntil": "Sun, 26 Feb 2023 01:22:14 +0000",
            "credentialSubject": SUBJECT,
        },
        "credential-validUntil-validFrom-ok.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "PAST DATE",
            "validUntil": "FUTURE DATE",
            "credentialSubject": SUBJECT,
        },
        "credential-validUntil-validFrom-fail.json": {
            "@context": [V2],
            "type": VC_TYPE,
            "validFrom": "FUTURE DATE",
            "validUntil": "PAST DATE",
            "credentialSubject": SUBJECT,
        },
    }
)


def issue_ok(hospital: Hospital, name: str) -> dict[str, Any]:
    """`assert.doesNotReject(endpoints.issue(...))`: the issued VC."""
    result = issue(hospital, name)
    assert result.ok, (name, result)
    return result.data["verifiableCredential"]


def issue_rejected(hospital: Hospital, name: str) -> None:
    """`assert.rejects(endpoints.issue(...), {name: 'HTTPError'})`."""
    result = issue(hospital, name)
    assert result.status >= 400, (name, result)
    assert result.status != 401, (name, result)


def test_contexts_vc_must_include_context(hospital: Hospital) -> None:
    """Verifiable credentials MUST include a @context property."""
    vc = issue_ok(hospital, "credential-ok.json")
    assert isinstance(vc.get("@context"), list)
    issue_rejected(hospital, "credential-no-context-fail.json")


def test_contexts_vc_first_item_base_context(hospital: Hospital) -> None:
    """Verifiable credentials: The value of the @context property MUST be an ordered set where
    the first item is a URL with the value https://www.w3.org/ns/credentials/v2."""
    vc = issue_ok(hospital, "credential-ok.json")
    assert isinstance(vc["@context"], list), "Failed to support `@context` as an Array."
    assert vc["@context"][0] == V2, "Failed to keep `@context` order intact."
    issue_rejected(hospital, "credential-missing-base-context-fail.json")


def test_contexts_vc_subsequent_items(hospital: Hospital) -> None:
    """Verifiable Credential `@context`: "Subsequent items in the ordered set MUST be composed
    of any combination of URLs and/or objects where each is processable as a JSON-LD
    Context.\""""
    issue_ok(hospital, "credential-context-combo1-ok.json")
    issue_ok(hospital, "credential-context-combo2-ok.json")
    issue_rejected(hospital, "credential-context-combo3-fail.json")
    issue_rejected(hospital, "credential-context-combo4-fail.json")


def test_identifiers_single_url(hospital: Hospital) -> None:
    """If present, the value of the id property MUST be a single URL, which MAY be
    dereferenceable."""
    issue_ok(hospital, "credential-id-other-ok.json")
    issue_rejected(hospital, "credential-id-nonidentifier-fail.json")
    issue_ok(hospital, "credential-single-id-ok.json")
    issue_ok(hospital, "credential-subject-single-id-ok.json")
    issue_rejected(hospital, "credential-multi-id-fail.json")
    issue_rejected(hospital, "credential-id-subject-multi-fail.json")
    issue_rejected(hospital, "credential-not-url-id-fail.json")


def test_credential_subject_required(hospital: Hospital) -> None:
    """A verifiable credential MUST contain a credentialSubject property."""
    issue_rejected(hospital, "credential-no-subject-fail.json")


def test_credential_subject_claims(hospital: Hospital) -> None:
    """The value of the credentialSubject property is a set of objects where each object MUST
    be the subject of one or more claims, which MUST be serialized inside the
    credentialSubject property."""
    issue_rejected(hospital, "credential-subject-no-claims-fail.json")
    issue_ok(hospital, "credential-subject-multiple-ok.json")
    issue_rejected(hospital, "credential-subject-multiple-empty-fail.json")


def test_validity_valid_from(hospital: Hospital) -> None:
    """If present, the value of the validFrom property MUST be an [XMLSCHEMA11-2] dateTimeStamp
    string value representing the date and time the credential becomes valid, which could be a
    date and time in the future or in the past."""
    issue_ok(hospital, "credential-validfrom-ms-ok.json")
    issue_ok(hospital, "credential-validfrom-tz-ok.json")
    issue_rejected(hospital, "credential-validfrom-invalid-fail.json")
    issue_ok(hospital, "credential-validfrom-ms-ok.json")


def test_validity_valid_until(hospital: Hospital) -> None:
    """If present, the value of the validUntil property MUST be an [XMLSCHEMA11-2]
    dateTimeStamp string value representing the date and time the credential ceases to be
    valid, which could be a date and time in the past or in the future."""
    issue_ok(hospital, "credential-validuntil-ok.json")
    issue_ok(hospital, "credential-validuntil-ms-ok.json")
    issue_ok(hospital, "credential-validuntil-tz-ok.json")
    issue_rejected(hospital, "credential-validuntil-invalid-fail.json")


def create_timestamp(skew_years: int) -> str:
    """data-generator.js createTimeStamp({skewYears}) (ISO, seconds, 'Z')."""
    now = datetime.now(UTC)
    return now.replace(year=now.year + skew_years).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "title",
    [
        "If a validUntil value also exists, the validFrom value MUST express a datetime that is "
        "temporally the same or earlier than the datetime expressed by the validUntil value.",
        "If a validFrom value also exists, the validUntil value MUST express a datetime that is "
        "temporally the same or later than the datetime expressed by the validFrom value.",
    ],
    ids=["validFrom-before-validUntil", "validUntil-after-validFrom"],
)
def test_validity_temporality(
    hospital: Hospital, verifier: dict[str, Endpoint], title: str
) -> None:
    positive = copy.deepcopy(FIXTURES["credential-validUntil-validFrom-ok.json"])
    positive["validFrom"] = create_timestamp(-1)
    positive["validUntil"] = create_timestamp(1)
    result = hospital.issuer.post(create_request_body(hospital.issuer, positive))
    assert result.ok, result
    negative = copy.deepcopy(FIXTURES["credential-validUntil-validFrom-fail.json"])
    negative["validFrom"] = create_timestamp(1)
    negative["validUntil"] = create_timestamp(-1)
    # assertions.js shouldRejectEitherIssueOrVerify
    result = hospital.issuer.post(create_request_body(hospital.issuer, negative))
    if result.ok:
        verified = verifier["credentials"].post(
            {"verifiableCredential": result.data["verifiableCredential"], "options": {}}
        )
        assert not verified.ok, "Failed to reject a VC with a `validUntil` before its `validFrom`."
