"""build_credential and upgrade_v1_input: outputs always validate; the 1.1 mapping is exact."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.clock import parse_datetime
from agent.credentials.model import (
    CREDENTIALS_V1_CONTEXT,
    CREDENTIALS_V2_CONTEXT,
    CredentialVersion,
    ModelRule,
    build_credential,
    upgrade_v1_input,
    validate_credential,
)
from agent.errors import DataModelError, ErrorCode, InvalidInputError

HEALTH = "https://health.example/contexts/allergy/v1"
FROM = datetime(2026, 1, 1, 10, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
UNTIL = datetime(2027, 1, 1, tzinfo=UTC)


def test_build_credential_shape() -> None:
    subject: dict[str, Any] = {"id": "did:example:patient", "allergy": {"substance": "penicillin"}}
    built = build_credential(
        types=["AllergyCredential", "VerifiableCredential", "AllergyCredential"],
        issuer="did:web:hospital.example",
        subject=subject,
        contexts=[HEALTH, CREDENTIALS_V2_CONTEXT, HEALTH],
        credential_id="urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873",
        valid_from=FROM,
        valid_until=UNTIL,
        status={"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
        name={"@value": "Allergies", "@language": "en"},
        description="Drug allergies recorded by the hospital",
    )
    assert built == {
        "@context": [CREDENTIALS_V2_CONTEXT, HEALTH],
        "id": "urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873",
        "type": ["VerifiableCredential", "AllergyCredential"],
        "issuer": "did:web:hospital.example",
        "name": {"@value": "Allergies", "@language": "en"},
        "description": "Drug allergies recorded by the hospital",
        "validFrom": "2026-01-01T08:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "credentialSubject": subject,
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
    }
    subject["allergy"]["substance"] = "changed later"
    assert built["credentialSubject"]["allergy"]["substance"] == "penicillin"


def test_build_refuses_what_would_not_validate() -> None:
    with pytest.raises(DataModelError) as caught:
        build_credential(
            types=[], issuer="did:example:i", subject={"a": 1}, valid_from=FROM, credential_id="x"
        )
    assert caught.value.details == {"path": "id", "rule": ModelRule.ID_URL}
    with pytest.raises(DataModelError) as caught:
        build_credential(types=[], issuer="did:example:i", subject={}, valid_from=FROM)
    assert caught.value.details["rule"] == ModelRule.SUBJECT_CLAIMS
    with pytest.raises(DataModelError) as caught:
        build_credential(
            types=[],
            issuer="did:example:i",
            subject={"a": 1},
            valid_from=FROM,
            valid_until=FROM - timedelta(microseconds=1),
        )
    assert caught.value.code == ErrorCode.RANGE_ERROR
    assert caught.value.details["rule"] == ModelRule.VALIDITY_ORDER
    with pytest.raises(InvalidInputError):
        build_credential(
            types=[], issuer="did:example:i", subject={"a": float("nan")}, valid_from=FROM
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        build_credential(
            types=[],
            issuer="did:example:i",
            subject={"a": 1},
            valid_from=datetime(2026, 1, 1),
        )


_TERMS = st.from_regex(r"[A-Z][A-Za-z0-9]{0,20}", fullmatch=True)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_CLAIMS = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda key: key not in {"id", "@id", "@context"}),
    _JSON,
    min_size=1,
    max_size=4,
)
_ISSUERS = st.one_of(
    st.from_regex(r"did:[a-z0-9]{1,8}:[A-Za-z0-9._\-]{1,20}", fullmatch=True),
    st.from_regex(r"https://[a-z]{1,10}\.example(/[a-z0-9]{1,8}){0,3}", fullmatch=True),
    st.uuids().map(lambda value: f"urn:uuid:{value}"),
)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))]
)
_TIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=_ZONES
)
_NAMES = (
    st.none()
    | st.text()
    | st.builds(
        lambda text, tag: {"@value": text, "@language": tag},
        st.text(),
        st.sampled_from(["en", "fr-CA", "zh-Hant-TW", "nb", "ar"]),
    )
)


@given(
    types=st.lists(_TERMS, max_size=3),
    issuer=_ISSUERS,
    subject=_CLAIMS | st.lists(_CLAIMS, min_size=1, max_size=3),
    valid_from=_TIMES,
    duration=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
    name=_NAMES,
    credential_id=st.none() | st.uuids().map(lambda value: f"urn:uuid:{value}"),
)
def test_build_credential_output_always_validates(
    types: list[str],
    issuer: str,
    subject: Any,
    valid_from: datetime,
    duration: timedelta | None,
    name: Any,
    credential_id: str | None,
) -> None:
    valid_until = None if duration is None else valid_from + duration
    built = build_credential(
        types=types,
        issuer=issuer,
        subject=subject,
        valid_from=valid_from,
        valid_until=valid_until,
        name=name,
        credential_id=credential_id,
        contexts=[HEALTH],
    )
    assert validate_credential(built) is CredentialVersion.V2_0
    assert parse_datetime(built["validFrom"], require_zone=True) == valid_from.replace(
        microsecond=0
    )
    assert built["credentialSubject"] == subject


V1_INPUT: dict[str, Any] = {
    "@context": [CREDENTIALS_V1_CONTEXT, "https://www.w3.org/2018/credentials/examples/v1", HEALTH],
    "id": "http://example.edu/credentials/58473",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "issuer": "https://example.edu/issuers/565049",
    "issuanceDate": "2010-01-01T00:00:00",
    "expirationDate": "2020-01-01T19:23:24-05:00",
    "credentialStatus": {"id": "https://example.edu/status/24#1", "type": "StatusList2021Entry"},
    "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "x"},
}


def test_upgrade_v1_input_maps_context_and_dates() -> None:
    original = copy.deepcopy(V1_INPUT)
    upgraded = upgrade_v1_input(V1_INPUT)
    assert original == V1_INPUT
    assert upgraded == {
        "@context": [
            CREDENTIALS_V2_CONTEXT,
            "https://www.w3.org/ns/credentials/examples/v2",
            HEALTH,
        ],
        "id": "http://example.edu/credentials/58473",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": "https://example.edu/issuers/565049",
        "validFrom": "2010-01-01T00:00:00Z",
        "validUntil": "2020-01-01T19:23:24-05:00",
        "credentialStatus": {
            "id": "https://example.edu/status/24#1",
            "type": "StatusList2021Entry",
        },
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "x"},
    }
    assert validate_credential(upgraded) is CredentialVersion.V2_0


def test_upgrade_passes_v2_through_as_a_copy() -> None:
    v2 = upgrade_v1_input(V1_INPUT)
    again = upgrade_v1_input(v2)
    assert again == v2
    assert again is not v2


@pytest.mark.parametrize(
    ("changes", "path", "rule"),
    [
        pytest.param(
            {"proof": {"type": "Ed25519Signature2020"}},
            "proof",
            ModelRule.UPGRADE_PROOF,
            id="upgrade.proof",
        ),
        pytest.param(
            {"issuanceDate": None},
            "issuanceDate",
            ModelRule.ISSUANCE_DATE_REQUIRED,
            id="issuanceDate.required",
        ),
        pytest.param(
            {"expirationDate": "2000-01-01T00:00:00Z"},
            "validUntil",
            ModelRule.VALIDITY_ORDER,
            id="validity.order",
        ),
    ],
)
def test_upgrade_refuses(changes: dict[str, Any], path: str, rule: ModelRule) -> None:
    doc = {**copy.deepcopy(V1_INPUT), **changes}
    doc = {key: value for key, value in doc.items() if value is not None}
    with pytest.raises(DataModelError) as caught:
        upgrade_v1_input(doc)
    assert caught.value.details == {"path": path, "rule": rule}
