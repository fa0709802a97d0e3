"""RFC 8785 canonicalisation: equal to the ``rfc8785`` reference, and faster than it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.credentials.jcs import canonicalize, format_number
from agent.errors import InvalidInputError

SAFE_INT = 2**53 - 1

# Text over all of Unicode except lone surrogates (which are not JSON-encodable as UTF-8),
# weighted towards the ranges where JCS and Python differ.
_chars = st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF, blacklist_categories=("Cs",)),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
    st.characters(max_codepoint=0x7F),
)
_text = st.text(_chars, max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-SAFE_INT, max_value=SAFE_INT),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
JSON_VALUES = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(_text, children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=600)
@given(JSON_VALUES)
def test_equals_rfc8785(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_equal_rfc8785(value: float) -> None:
    assert format_number(value).encode() == rfc8785.dumps(value)
    assert float(format_number(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (123456789012345680000.0, "123456789012345680000"),
        (4.5e15, "4500000000000000"),
    ],
    ids=str,
)
def test_ecmascript_number_format(value: float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, None, "x"]}, '{"a":[true,null,"x"],"b":1}'),
        ('\u0000\u001f\b\t\n\f\r"\\', '"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\"'),
        ("\u007f\u2028\u2029é€😀", '"\u007f\u2028\u2029é€😀"'),
        # UTF-16 order: U+1F600 (surrogates D83D...) sorts before U+E000.
        ({"\ue000": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ue000":1}'),
        (
            {"\u20ac": 1, "\r": 2, "1": 3, "\u0080": 4, "\U0001f600": 5, "\ufb33": 6},
            '{"\\r":2,"1":3,"\u0080":4,"\u20ac":1,"\U0001f600":5,"\ufb33":6}',
        ),
        ([1.0, 2.5, 1e-7, 1e21], "[1,2.5,1e-7,1e+21]"),
        ({"x": (1, 2)}, '{"x":[1,2]}'),
    ],
    ids=["sorting", "escapes", "no-escape", "utf16-order", "rfc8785-3.2.3", "floats", "tuple"],
)
def test_hand_cases(value: Any, expected: str) -> None:
    assert canonicalize(value) == expected.encode("utf-8")
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 2**53, -(2**53), {1: "x"}, "\ud800", {"\udfff": 1}, object()],
    ids=[
        "nan",
        "inf",
        "-inf",
        "2^53",
        "-2^53",
        "int-key",
        "lone-surrogate",
        "surrogate-key",
        "object",
    ],
)
def test_rejects_what_rfc8785_rejects(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        canonicalize(value)
    with pytest.raises((rfc8785.CanonicalizationError, TypeError, ValueError)):
        rfc8785.dumps(value)


def test_placeholder_collision_falls_back() -> None:
    from agent.credentials import jcs

    tricky = {"a": f"{jcs._TOKEN}0", "b": 1e-7}
    assert canonicalize(tricky) == rfc8785.dumps(tricky)


def _health_credential() -> dict[str, Any]:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}
            ]
        },
        "subject": {"reference": "Patient/8f2c"},
        "effectiveDateTime": "2024-03-01T09:30:00+01:00",
        "valueQuantity": {
            "value": 36.6,
            "unit": "Cel",
            "system": "http://unitsofmeasure.org",
            "code": "Cel",
        },
        "note": [{"text": "Mesure axillaire, patient à jeun — température normale"}],
    }
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/health-mydata/v1"],
        "type": ["VerifiableCredential", "ObservationCredential"],
        "issuer": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "validFrom": "2024-03-01T10:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhWqdDBPojHA7cprTGTt5yHv5yUi1B8cnXn8ReLumkw6E",
            "fhirVersion": "4.0.1",
            "observations": [dict(observation, id=f"obs-{i}") for i in range(5)],
        },
    }


def test_health_credential_canonical_form_equals_rfc8785() -> None:
    """Speed is measured in bench/ (``./dev bench proofs``), never asserted in a test."""
    credential = _health_credential()
    size = len(json.dumps(credential))
    assert 2500 < size < 4000
    assert canonicalize(credential) == rfc8785.dumps(credential)
