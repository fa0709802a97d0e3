"""validate_credential and validate_presentation against the VC Data Model 2.0 rules.

One table of invalid documents (id = the rule they break) and one of valid ones, plus the spec
examples in vectors/vc_data_model_examples.json.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.credentials import model
from agent.credentials.model import (
    CREDENTIALS_V1_CONTEXT,
    CREDENTIALS_V2_CONTEXT,
    CredentialVersion,
    ModelRule,
    validate_credential,
    validate_presentation,
)
from agent.errors import DataModelError, ErrorCode

V1 = CREDENTIALS_V1_CONTEXT
V2 = CREDENTIALS_V2_CONTEXT
HEALTH = "https://health.example/contexts/allergy/v1"
#: A marker standing for health data; it must never reach an error message.
SECRET = "SECRET-penicillin-anaphylaxis-7731"
MALFORMED = ErrorCode.MALFORMED_VALUE_ERROR
RANGE = ErrorCode.RANGE_ERROR
PARSING = ErrorCode.PARSING_ERROR
DELETE = object()
EXAMPLES = json.loads(
    (Path(__file__).parent / "vectors" / "vc_data_model_examples.json").read_text("utf-8")
)


def sri(data: bytes, alg: str = "sha384") -> str:
    return f"{alg}-" + base64.b64encode(hashlib.new(alg, data).digest()).decode()


def credential() -> dict[str, Any]:
    """A valid VC 2.0 allergy credential whose claims carry the SECRET marker."""
    return {
        "@context": [V2, HEALTH],
        "id": "urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873",
        "type": ["VerifiableCredential", "AllergyCredential"],
        "issuer": "did:web:hospital.example",
        "validFrom": "2026-01-01T10:00:00+02:00",
        "validUntil": "2026-01-01T09:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "allergy": {"substance": SECRET, "criticality": "high"},
        },
    }


def v1_credential() -> dict[str, Any]:
    return {
        "@context": [V1, HEALTH],
        "type": ["VerifiableCredential", "AllergyCredential"],
        "issuer": {"id": "did:web:hospital.example", "name": "Example Hospital"},
        "issuanceDate": "2026-01-01T10:00:00",
        "expirationDate": "2027-01-01T10:00:00Z",
        "credentialSubject": {"allergy": SECRET},
    }


def presentation() -> dict[str, Any]:
    second = credential()
    second["id"] = "https://hospital.example/credentials/2"
    return {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": "did:example:holder",
        "verifiableCredential": [credential(), second],
    }


def _parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for segment in path.split("."):
        name, *indexes = segment.replace("]", "").split("[")
        if name:
            parts.append(name)
        parts.extend(int(index) for index in indexes)
    return parts


def mutate(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``{"a.b[0].c": value}`` changes to a copy; DELETE removes the member."""
    doc = copy.deepcopy(doc)
    for path, value in changes.items():
        *parents, last = _parse_path(path)
        target: Any = doc
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return doc


def case(
    case_id: str,
    changes: dict[str, Any],
    path: str,
    rule: ModelRule,
    code: ErrorCode = MALFORMED,
    *,
    base: Callable[[], dict[str, Any]] = credential,
    allow_v1: bool = False,
) -> Any:
    return pytest.param(base, changes, path, rule, code, allow_v1, id=case_id)


R = ModelRule
BAD_SHA384 = "sha384-" + base64.b64encode(b"x" * 32).decode()

INVALID_CREDENTIALS = [
    case("context.required", {"@context": DELETE}, "@context", R.CONTEXT_REQUIRED),
    case("context.orderedSet-string", {"@context": V2}, "@context", R.CONTEXT_ORDERED_SET),
    case("context.orderedSet-empty", {"@context": []}, "@context", R.CONTEXT_ORDERED_SET),
    case(
        "context.orderedSet-duplicate",
        {"@context": [V2, HEALTH, HEALTH]},
        "@context[2]",
        R.CONTEXT_ORDERED_SET,
    ),
    case("context.base", {"@context": [HEALTH, V2]}, "@context[0]", R.CONTEXT_BASE),
    case("context.base-v1-not-allowed", {"@context": [V1]}, "@context[0]", R.CONTEXT_BASE),
    case("context.item-number", {"@context": [V2, 42]}, "@context[1]", R.CONTEXT_ITEM),
    case("context.item-relative", {"@context": [V2, "ctx.jsonld"]}, "@context[1]", R.CONTEXT_ITEM),
    case("context.mixedVersions", {"@context": [V2, V1]}, "@context[1]", R.CONTEXT_MIXED_VERSIONS),
    case("id.url-relative", {"id": "credentials/3732"}, "id", R.ID_URL),
    case("id.url-list", {"id": ["urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873"]}, "id", R.ID_URL),
    case("id.url-bad-uuid", {"id": "urn:uuid:not-a-uuid"}, "id", R.ID_URL),
    case("id.url-bad-did", {"id": "did:Example:123"}, "id", R.ID_URL),
    case("id.url-no-host", {"id": "https:///credentials/1"}, "id", R.ID_URL),
    case("id.url-space", {"id": "https://a.example/x y"}, "id", R.ID_URL),
    case("id.url-percent", {"id": "https://a.example/%zz"}, "id", R.ID_URL),
    case("type.required", {"type": DELETE}, "type", R.TYPE_REQUIRED),
    case("type.value-number", {"type": 7}, "type", R.TYPE_VALUE),
    case("type.value-empty", {"type": []}, "type", R.TYPE_VALUE),
    case("type.value-item", {"type": ["VerifiableCredential", None]}, "type[1]", R.TYPE_VALUE),
    case("type.value-space", {"type": ["VerifiableCredential", "A B"]}, "type[1]", R.TYPE_VALUE),
    case("type.base", {"type": ["AllergyCredential"]}, "type", R.TYPE_BASE),
    case("name.value", {"name": 5}, "name", R.NAME_VALUE),
    case("name.value-empty", {"name": []}, "name", R.NAME_VALUE),
    case("description.value", {"description": [True]}, "description[0]", R.DESCRIPTION_VALUE),
    case(
        "languageValue.keys",
        {"name": {"@value": "Allergy", "lang": "en"}},
        "name",
        R.LANGUAGE_KEYS,
    ),
    case(
        "languageValue.value", {"name": [{"@language": "en"}]}, "name[0].@value", R.LANGUAGE_VALUE
    ),
    case(
        "languageValue.language",
        {"name": {"@value": "Allergy", "@language": "en_US"}},
        "name.@language",
        R.LANGUAGE_TAG,
    ),
    case(
        "languageValue.direction",
        {"name": {"@value": "Allergy", "@direction": "up"}},
        "name.@direction",
        R.LANGUAGE_DIRECTION,
    ),
    case("issuer.required", {"issuer": DELETE}, "issuer", R.ISSUER_REQUIRED),
    case("issuer.value-number", {"issuer": 1}, "issuer", R.ISSUER_VALUE),
    case("issuer.value-relative", {"issuer": "hospital"}, "issuer", R.ISSUER_VALUE),
    case("issuer.value-list", {"issuer": ["did:web:a.example"]}, "issuer", R.ISSUER_VALUE),
    case("issuer.id-missing", {"issuer": {"name": "Hospital"}}, "issuer.id", R.ISSUER_ID),
    case("issuer.id-relative", {"issuer": {"id": "hospital"}}, "issuer.id", R.ISSUER_ID),
    case(
        "issuer.description",
        {"issuer": {"id": "did:web:a.example", "description": 3}},
        "issuer.description",
        R.DESCRIPTION_VALUE,
    ),
    case(
        "credentialSubject.required",
        {"credentialSubject": DELETE},
        "credentialSubject",
        R.SUBJECT_REQUIRED,
    ),
    case(
        "credentialSubject.value-string",
        {"credentialSubject": "x"},
        "credentialSubject",
        R.SUBJECT_VALUE,
    ),
    case(
        "credentialSubject.value-empty",
        {"credentialSubject": []},
        "credentialSubject",
        R.SUBJECT_VALUE,
    ),
    case(
        "credentialSubject.value-item",
        {"credentialSubject": [{"allergy": SECRET}, SECRET]},
        "credentialSubject[1]",
        R.SUBJECT_VALUE,
    ),
    case(
        "credentialSubject.claims-empty",
        {"credentialSubject": [{"allergy": SECRET}, {}]},
        "credentialSubject[1]",
        R.SUBJECT_CLAIMS,
    ),
    case(
        "credentialSubject.id",
        {"credentialSubject": [{"id": f"patient-{SECRET}", "allergy": SECRET}]},
        "credentialSubject[0].id",
        R.SUBJECT_ID,
    ),
    case(
        "validFrom.format-no-zone",
        {"validFrom": "2026-01-01T10:00:00"},
        "validFrom",
        R.VALID_FROM_FORMAT,
    ),
    case("validFrom.format-date", {"validFrom": "2026-01-01"}, "validFrom", R.VALID_FROM_FORMAT),
    case(
        "validFrom.format-calendar",
        {"validFrom": "2026-02-30T00:00:00Z"},
        "validFrom",
        R.VALID_FROM_FORMAT,
    ),
    case("validFrom.format-number", {"validFrom": 1767225600}, "validFrom", R.VALID_FROM_FORMAT),
    case(
        "validFrom.format-lower-z",
        {"validFrom": "2026-01-01T10:00:00z"},
        "validFrom",
        R.VALID_FROM_FORMAT,
    ),
    case(
        "validUntil.format",
        {"validUntil": "2026-01-01T25:00:00Z"},
        "validUntil",
        R.VALID_UNTIL_FORMAT,
    ),
    case(
        "validity.order",
        {"validFrom": "2026-01-01T10:00:00+02:00", "validUntil": "2026-01-01T07:59:59Z"},
        "validUntil",
        R.VALIDITY_ORDER,
        RANGE,
    ),
    case(
        "validity.foreignProperty",
        {"expirationDate": "2027-01-01T00:00:00Z"},
        "expirationDate",
        R.VALIDITY_FOREIGN,
    ),
    case(
        "credentialStatus.value",
        {"credentialStatus": "revoked"},
        "credentialStatus",
        R.STATUS_VALUE,
    ),
    case(
        "credentialStatus.type",
        {"credentialStatus": {"id": "https://s.example/1#2"}},
        "credentialStatus.type",
        R.STATUS_TYPE,
    ),
    case(
        "credentialStatus.id",
        {"credentialStatus": [{"type": "BitstringStatusListEntry"}, {"type": "X", "id": "1#2"}]},
        "credentialStatus[1].id",
        R.STATUS_ID,
    ),
    case("credentialSchema.value", {"credentialSchema": []}, "credentialSchema", R.SCHEMA_VALUE),
    case(
        "credentialSchema.type",
        {"credentialSchema": {"id": "https://s.example/a.json"}},
        "credentialSchema.type",
        R.SCHEMA_TYPE,
    ),
    case(
        "credentialSchema.id",
        {"credentialSchema": {"type": "JsonSchema"}},
        "credentialSchema.id",
        R.SCHEMA_ID,
    ),
    case("proof.value", {"proof": "eyJhbGciOi"}, "proof", R.PROOF_VALUE),
    case(
        "proof.type",
        {"proof": [{"type": "DataIntegrityProof"}, {"cryptosuite": "eddsa-jcs-2022"}]},
        "proof[1].type",
        R.PROOF_TYPE,
    ),
    case(
        "relatedResource.value",
        {"relatedResource": "https://a.example"},
        "relatedResource",
        R.RELATED_VALUE,
    ),
    case(
        "relatedResource.id",
        {"relatedResource": {"digestSRI": sri(b"a")}},
        "relatedResource.id",
        R.RELATED_ID,
    ),
    case(
        "relatedResource.unique",
        {
            "relatedResource": [
                {"id": V2, "digestSRI": sri(b"a")},
                {"id": V2, "digestMultibase": "uEiDcLw"},
            ]
        },
        "relatedResource[1].id",
        R.RELATED_UNIQUE,
    ),
    case(
        "relatedResource.digest",
        {"relatedResource": [{"id": V2}]},
        "relatedResource[0]",
        R.RELATED_DIGEST,
    ),
    case(
        "relatedResource.digestSRI-algorithm",
        {
            "relatedResource": [
                {"id": V2, "digestSRI": "md5-" + base64.b64encode(b"x" * 16).decode()}
            ]
        },
        "relatedResource[0].digestSRI",
        R.RELATED_SRI,
    ),
    case(
        "relatedResource.digestSRI-length",
        {"relatedResource": [{"id": V2, "digestSRI": BAD_SHA384}]},
        "relatedResource[0].digestSRI",
        R.RELATED_SRI,
    ),
    case(
        "relatedResource.digestMultibase-prefix",
        {"relatedResource": [{"id": V2, "digestMultibase": "mEiDcLw"}]},
        "relatedResource[0].digestMultibase",
        R.RELATED_MULTIBASE,
    ),
    case(
        "relatedResource.digestMultibase-base58",
        {"relatedResource": [{"id": V2, "digestMultibase": "z0OIl"}]},
        "relatedResource[0].digestMultibase",
        R.RELATED_MULTIBASE,
    ),
    case(
        "relatedResource.mediaType",
        {"relatedResource": [{"id": V2, "digestSRI": sri(b"a"), "mediaType": "json"}]},
        "relatedResource[0].mediaType",
        R.RELATED_MEDIA_TYPE,
    ),
    case(
        "refreshService.type",
        {"refreshService": {"url": "https://r.example"}},
        "refreshService.type",
        R.REFRESH_TYPE,
    ),
    case(
        "termsOfUse.type",
        {"termsOfUse": [{"id": "https://t.example/1"}]},
        "termsOfUse[0].type",
        R.TERMS_TYPE,
    ),
    case(
        "termsOfUse.id",
        {"termsOfUse": {"type": "IssuerPolicy", "id": "policy 1"}},
        "termsOfUse.id",
        R.TERMS_ID,
    ),
    case(
        "evidence.type",
        {"evidence": {"id": "https://e.example/1"}},
        "evidence.type",
        R.EVIDENCE_TYPE,
    ),
    case(
        "evidence.id", {"evidence": {"type": "Evidence", "id": "e1"}}, "evidence.id", R.EVIDENCE_ID
    ),
    case(
        "confidenceMethod.type",
        {"confidenceMethod": {"id": "did:example:a#k"}},
        "confidenceMethod.type",
        R.CONFIDENCE_TYPE,
    ),
    case("renderMethod.value", {"renderMethod": 1}, "renderMethod", R.RENDER_VALUE),
    case(
        "renderMethod.type",
        {"renderMethod": [{"template": "x"}]},
        "renderMethod[0].type",
        R.RENDER_TYPE,
    ),
    # VC 1.1 input, accepted only with allow_v1=True.
    case(
        "issuanceDate.required",
        {"issuanceDate": DELETE},
        "issuanceDate",
        R.ISSUANCE_DATE_REQUIRED,
        base=v1_credential,
        allow_v1=True,
    ),
    case(
        "issuanceDate.format",
        {"issuanceDate": "2026-01-01"},
        "issuanceDate",
        R.ISSUANCE_DATE_FORMAT,
        base=v1_credential,
        allow_v1=True,
    ),
    case(
        "expirationDate.format",
        {"expirationDate": "soon"},
        "expirationDate",
        R.EXPIRATION_DATE_FORMAT,
        base=v1_credential,
        allow_v1=True,
    ),
    case(
        "validity.foreignProperty-v1",
        {"validFrom": "2026-01-01T10:00:00Z"},
        "validFrom",
        R.VALIDITY_FOREIGN,
        base=v1_credential,
        allow_v1=True,
    ),
    case(
        "credentialStatus.id-required-v1",
        {"credentialStatus": {"type": "StatusList2021Entry"}},
        "credentialStatus.id",
        R.STATUS_ID,
        base=v1_credential,
        allow_v1=True,
    ),
    case(
        "refreshService.id-required-v1",
        {"refreshService": {"type": "ManualRefreshService2018"}},
        "refreshService.id",
        R.REFRESH_ID,
        base=v1_credential,
        allow_v1=True,
    ),
]


@pytest.mark.parametrize(
    ("base", "changes", "path", "rule", "code", "allow_v1"), INVALID_CREDENTIALS
)
def test_invalid_credential_raises_with_path_rule_and_code(
    base: Callable[[], dict[str, Any]],
    changes: dict[str, Any],
    path: str,
    rule: ModelRule,
    code: ErrorCode,
    allow_v1: bool,
) -> None:
    doc = mutate(base(), changes)
    with pytest.raises(DataModelError) as caught:
        validate_credential(doc, allow_v1=allow_v1)
    assert caught.value.details == {"path": path, "rule": rule}
    assert caught.value.code == code
    # Health data never reaches a message, whatever the rule (errors.py: paths and types only).
    assert SECRET not in str(caught.value)
    assert SECRET not in json.dumps(caught.value.to_dict())


@pytest.mark.parametrize("doc", [None, [], "{}", 3, True], ids=repr)
def test_a_non_object_is_a_parsing_error(doc: object) -> None:
    with pytest.raises(DataModelError) as caught:
        validate_credential(doc)
    assert caught.value.code == PARSING
    assert caught.value.details == {"path": "", "rule": R.DOCUMENT_OBJECT}


VALID_CREDENTIALS = [
    pytest.param({}, id="base"),
    pytest.param({"type": "VerifiableCredential"}, id="type-single-string"),
    pytest.param({"validFrom": DELETE, "validUntil": DELETE}, id="no-validity-period"),
    pytest.param({"validUntil": "2026-01-01T08:00:00Z"}, id="validity-same-instant-other-offset"),
    pytest.param(
        {"validFrom": "2025-12-31T24:00:00Z", "validUntil": "2026-01-01T00:00:00.000001-14:00"},
        id="validity-midnight-and-fraction",
    ),
    pytest.param({"issuer": "did:web:hospital.example:units:allergy#key-1"}, id="did-url-issuer"),
    pytest.param({"issuer": "https://hospital.example/ä/issuer"}, id="iri-issuer"),
    pytest.param(
        {"@context": [V2, {"@vocab": "https://health.example/vocab#"}]}, id="context-object"
    ),
    pytest.param({"name": "Allergy", "description": {"@value": "Drug allergies"}}, id="names"),
    pytest.param(
        {
            "name": [
                {"@value": "Allergi", "@language": "nb-NO"},
                {"@value": "x", "@language": "zh-Hant-TW"},
            ]
        },
        id="names-language-tags",
    ),
    pytest.param(
        {
            "relatedResource": [
                {
                    "id": V2,
                    "digestSRI": sri(b"context", "sha384"),
                    "mediaType": "application/ld+json",
                },
                {"id": HEALTH, "digestSRI": [sri(b"h", "sha256"), sri(b"h", "sha512")]},
                {
                    "id": "https://health.example/leaflet.pdf",
                    "digestMultibase": "zQmYtUc4iTCbbfVSDNKvtQqrfyezPPnFvE33wFmutw9PBBk",
                },
                {
                    "id": "https://health.example/logo.png",
                    "digestMultibase": "uEiDcLw",
                    "digestSRI": sri(b"p"),
                },
            ]
        },
        id="related-resources",
    ),
    pytest.param(
        {
            "confidenceMethod": {"type": "ExampleConfidenceMethod"},
            "renderMethod": [{"type": "SvgRenderingTemplate2023"}],
            "termsOfUse": {"type": "HealthDataPolicy"},
            "evidence": [{"type": ["Evidence"]}],
            "refreshService": {"type": "ExampleRefresh"},
            "credentialSchema": {"type": "JsonSchema", "id": "https://health.example/s.json"},
            "credentialStatus": {"type": "BitstringStatusListEntry"},
            "proof": {"type": "DataIntegrityProof"},
        },
        id="extension-points",
    ),
]


@pytest.mark.parametrize("changes", VALID_CREDENTIALS)
def test_valid_credential(changes: dict[str, Any]) -> None:
    assert validate_credential(mutate(credential(), changes)) is CredentialVersion.V2_0


def test_time_zones_compare_as_instants() -> None:
    # 10:00+02:00 is 08:00Z, which is before 09:00Z although "10:00" > "09:00" as text.
    doc = credential()
    assert (doc["validFrom"], doc["validUntil"]) == (
        "2026-01-01T10:00:00+02:00",
        "2026-01-01T09:00:00Z",
    )
    assert validate_credential(doc) is CredentialVersion.V2_0


def test_v1_credential_needs_allow_v1_and_reports_its_version() -> None:
    with pytest.raises(DataModelError) as caught:
        validate_credential(v1_credential())
    assert caught.value.details["rule"] == R.CONTEXT_BASE
    assert "allow_v1" in str(caught.value)
    assert validate_credential(v1_credential(), allow_v1=True) is CredentialVersion.V1_1


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_spec_examples(example: dict[str, Any]) -> None:
    validate = validate_presentation if example["kind"] == "presentation" else validate_credential
    expect = example["expect"]
    if expect == "valid":
        version = validate(example["document"], allow_v1=example["allow_v1"])
        assert version is (
            CredentialVersion.V1_1 if example["allow_v1"] else CredentialVersion.V2_0
        )
        return
    with pytest.raises(DataModelError) as caught:
        validate(example["document"], allow_v1=example["allow_v1"])
    assert caught.value.details == {"path": expect["path"], "rule": expect["rule"]}
    assert caught.value.code == expect["code"]


INVALID_PRESENTATIONS = [
    case("context.base", {"@context": [HEALTH]}, "@context[0]", R.CONTEXT_BASE, base=presentation),
    case("id.url", {"id": "vp-1"}, "id", R.ID_URL, base=presentation),
    case("type.base", {"type": ["VerifiableCredential"]}, "type", R.TYPE_BASE, base=presentation),
    case("holder.value", {"holder": "me"}, "holder", R.HOLDER_VALUE, base=presentation),
    case("holder.value-number", {"holder": 5}, "holder", R.HOLDER_VALUE, base=presentation),
    case("holder.id", {"holder": {"name": "me"}}, "holder.id", R.HOLDER_ID, base=presentation),
    case(
        "verifiableCredential.value-string",
        {"verifiableCredential": ["eyJhbGciOiJFZERTQSJ9.e30.sig"]},
        "verifiableCredential[0]",
        R.VC_VALUE,
        base=presentation,
    ),
    case(
        "verifiableCredential.value-empty",
        {"verifiableCredential": []},
        "verifiableCredential",
        R.VC_VALUE,
        base=presentation,
    ),
    case(
        "nested-issuer.required",
        {"verifiableCredential[1].issuer": DELETE},
        "verifiableCredential[1].issuer",
        R.ISSUER_REQUIRED,
        base=presentation,
    ),
    case(
        "nested-credentialSubject.id",
        {"verifiableCredential[0].credentialSubject.id": f"{SECRET} patient"},
        "verifiableCredential[0].credentialSubject.id",
        R.SUBJECT_ID,
        base=presentation,
    ),
    case(
        "nested-validity.order",
        {"verifiableCredential[1].validUntil": "2025-01-01T00:00:00Z"},
        "verifiableCredential[1].validUntil",
        R.VALIDITY_ORDER,
        RANGE,
        base=presentation,
    ),
    case(
        "nested-single-object",
        {
            "verifiableCredential": {
                "@context": [V2],
                "type": "VerifiableCredential",
                "issuer": "did:example:a",
            }
        },
        "verifiableCredential.credentialSubject",
        R.SUBJECT_REQUIRED,
        base=presentation,
    ),
    case(
        "envelopedCredential.context",
        {
            "verifiableCredential": [
                {"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,e30"}
            ]
        },
        "verifiableCredential[0].@context",
        R.ENVELOPED_CONTEXT,
        base=presentation,
    ),
    case(
        "envelopedCredential.type",
        {
            "verifiableCredential": [
                {
                    "@context": [V2],
                    "type": ["VerifiableCredential", "EnvelopedVerifiableCredential"],
                    "id": "data:application/vc+jwt,e30",
                }
            ]
        },
        "verifiableCredential[0].type",
        R.TYPE_VALUE,
        base=presentation,
    ),
    case(
        "envelopedCredential.id",
        {
            "verifiableCredential": [
                {
                    "@context": V2,
                    "type": "EnvelopedVerifiableCredential",
                    "id": "https://a.example/vc",
                }
            ]
        },
        "verifiableCredential[0].id",
        R.ENVELOPED_ID,
        base=presentation,
    ),
    case(
        "envelopedCredential.id-no-media-type",
        {
            "verifiableCredential": [
                {"@context": V2, "type": "EnvelopedVerifiableCredential", "id": "data:,e30"}
            ]
        },
        "verifiableCredential[0].id",
        R.ENVELOPED_ID,
        base=presentation,
    ),
    case(
        "termsOfUse.type",
        {"termsOfUse": {"id": "https://t.example"}},
        "termsOfUse.type",
        R.TERMS_TYPE,
        base=presentation,
    ),
    case("proof.type", {"proof": {}}, "proof.type", R.PROOF_TYPE, base=presentation),
]


@pytest.mark.parametrize(
    ("base", "changes", "path", "rule", "code", "allow_v1"), INVALID_PRESENTATIONS
)
def test_invalid_presentation_raises_with_prefixed_path(
    base: Callable[[], dict[str, Any]],
    changes: dict[str, Any],
    path: str,
    rule: ModelRule,
    code: ErrorCode,
    allow_v1: bool,
) -> None:
    with pytest.raises(DataModelError) as caught:
        validate_presentation(mutate(base(), changes), allow_v1=allow_v1)
    assert caught.value.details == {"path": path, "rule": rule}
    assert caught.value.code == code
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="two-embedded-credentials"),
        pytest.param(
            {"verifiableCredential": DELETE, "holder": {"id": "did:example:h"}}, id="no-credentials"
        ),
        pytest.param(
            {
                "verifiableCredential": [
                    {
                        "@context": [V2],
                        "type": "EnvelopedVerifiableCredential",
                        "id": "data:application/vc+sd-jwt,eyJhbGciOiJFUzI1NiJ9.e30.c2ln~",
                    },
                    credential(),
                ]
            },
            id="enveloped-and-embedded",
        ),
    ],
)
def test_valid_presentation(changes: dict[str, Any]) -> None:
    assert validate_presentation(mutate(presentation(), changes)) is CredentialVersion.V2_0


def test_presentation_with_v1_credential_needs_allow_v1() -> None:
    doc = mutate(presentation(), {"verifiableCredential": [v1_credential()]})
    with pytest.raises(DataModelError) as caught:
        validate_presentation(doc)
    assert caught.value.details["path"] == "verifiableCredential[0].@context[0]"
    assert validate_presentation(doc, allow_v1=True) is CredentialVersion.V2_0


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"validFrom": f"{SECRET}T10:00:00Z"}, id="date"),
        pytest.param({"issuer": f"{SECRET}"}, id="issuer"),
        pytest.param({"name": {"@value": "x", "@language": SECRET}}, id="language"),
        pytest.param({"type": ["VerifiableCredential", f"{SECRET} X"]}, id="type"),
        pytest.param(
            {"relatedResource": [{"id": V2, "digestSRI": f"sha256-{SECRET}"}]}, id="digest"
        ),
        pytest.param(
            {"credentialSubject": {"id": f"urn:uuid:{SECRET}", "allergy": SECRET}}, id="subject-id"
        ),
    ],
)
def test_error_messages_never_echo_the_invalid_value(changes: dict[str, Any]) -> None:
    with pytest.raises(DataModelError) as caught:
        validate_credential(mutate(credential(), changes))
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.details)


def test_public_surface_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(model).items()
        if not name.startswith("_")
        and (
            getattr(value, "__module__", "").startswith("agent.credentials")
            or (name.isupper() and isinstance(value, str))
        )
    }
    assert model.__all__ == sorted(model.__all__)
    assert set(model.__all__) == public


def test_identified_subject_without_other_claims_is_accepted() -> None:
    """The W3C test suites' fixtures use ``{"id": ...}`` subjects (tests/w3c_suites)."""
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject"},
    }
    assert validate_credential(document) == "2.0"
