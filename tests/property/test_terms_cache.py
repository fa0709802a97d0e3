"""check_terms' shape cache never changes an answer: for random edits of credentials whose
shapes were accepted (the cache warm), the answer equals that of a full expansion (cache cold)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.credentials import contexts
from agent.errors import ContextError

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"

BASE: dict[str, Any] = {
    "@context": [V2, contexts.HEALTH_V1],
    "id": "urn:uuid:0b6f2c1e-5a8e-4c1b-9f0e-1d2c3b4a5f60",
    "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
    "issuer": {"id": "did:web:hospital.example", "name": "Hospital"},
    "validFrom": "2026-01-01T00:00:00Z",
    "name": "Allergy",
    "credentialSubject": {
        "id": "did:key:z6MkhWqdDBPojHA7cprTGTt5yHv5yUi1B8cnXn8ReLumkw6E",
        "fhirVersion": "4.0.1",
        "fhirResource": {"resourceType": "AllergyIntolerance", "note": [{"text": "x"}]},
    },
    "credentialStatus": {
        "id": "https://hospital.example/status/1#5",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "5",
        "statusListCredential": "https://hospital.example/status/1",
    },
}

#: Paths (in BASE) whose value an edit may replace, and the keys an edit may add or remove.
PATHS = [
    ("id",),
    ("issuer",),
    ("issuer", "id"),
    ("issuer", "name"),
    ("validFrom",),
    ("name",),
    ("type",),
    ("credentialSubject", "id"),
    ("credentialSubject", "fhirVersion"),
    ("credentialStatus", "id"),
    ("credentialStatus", "type"),
    ("credentialStatus", "statusPurpose"),
    ("credentialStatus", "statusListCredential"),
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "relative",
            "#fragment",
            "_:b0",
            "did:example:other",
            "https://example.org/x",
            "assertionMethod",  # a term of a pinned context
            "VerifiableCredential",
            "MadeUpCredential",
            "@id",
            "",
            "two words",
        ]
    ),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.sampled_from(["VerifiableCredential", "relative", "did:example:x"]), max_size=3),
    st.fixed_dictionaries({"id": st.sampled_from(["did:example:y", "relative"])}),
)
KEYS = st.sampled_from(["description", "favouriteColour", "relatedResource", "evidence", "@type"])
CONTEXTS = st.sampled_from([[V2, contexts.HEALTH_V1], [V2, EXAMPLES, contexts.HEALTH_V1], [V2]])


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    contexts._accepted_shapes.clear()
    yield
    contexts._accepted_shapes.clear()


def _outcome(document: dict[str, Any]) -> tuple[str, ...]:
    try:
        contexts.check_terms(document)
    except ContextError as exc:
        return ("refused", str(exc.code), repr(exc.details.get("paths")))
    return ("accepted",)


def _edit(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = document
    for name in path[:-1]:
        if not isinstance(node.get(name), dict):
            return
        node = node[name]
    node[path[-1]] = value


def _sibling(node: Any, verbatim: bool = False) -> Any:
    """``node`` with every value the shape abstracts replaced by another of its class: a
    different document of the same shape."""
    terms, _, aliases = contexts._pinned_vocabulary()
    if isinstance(node, dict):
        return {
            key: value
            if key == "@context"
            else _sibling(
                value, key in aliases or (key[:1] == "@" and key not in ("@id", "@value"))
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_sibling(item, verbatim) for item in node]
    if isinstance(node, str):
        if verbatim or node in terms or node.startswith("@"):
            return node
        if node.startswith("_:"):
            return "_:sibling"
        return "urn:sibling:x" if contexts._ABSOLUTE_IRI.match(node) else "sibling text"
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return 7 if abs(node) < 2**53 else node
    if isinstance(node, float):
        return 2.5
    return node


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    context=CONTEXTS,
    edits=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), max_size=3),
    added=st.lists(st.tuples(KEYS, VALUES), max_size=2),
)
def test_a_sibling_of_the_same_shape_gets_the_same_answer(
    context: list[str], edits: list[tuple[tuple[str, ...], Any]], added: list[tuple[str, Any]]
) -> None:
    edited = copy.deepcopy(BASE)
    edited["@context"] = context
    for path, value in edits:
        _edit(edited, path, value)
    for key, value in added:
        edited["credentialSubject"][key] = value
    cold_answer = _outcome(edited)
    contexts._accepted_shapes.clear()
    sibling = _sibling(edited)
    assert contexts._shape_key(sibling, True) == contexts._shape_key(edited, True)
    # Whatever the sibling's answer (remembered when accepted), the edited document's is the
    # one a full expansion gives: the cache is only ever consulted for a shape both share.
    sibling_answer = _outcome(sibling)
    assert _outcome(edited) == cold_answer
    assert (sibling_answer == ("accepted",)) is (cold_answer == ("accepted",))
