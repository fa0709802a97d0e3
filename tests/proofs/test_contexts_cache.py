"""check_terms: the per-shape cache never accepts what a full expansion refuses; which @vocab
strict mode honours (issue 6 gap 8)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from agent.credentials import contexts
from agent.errors import ContextError, ErrorCode
from agent.types import JSONObject

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
ISSUER_DEPENDENT = "https://www.w3.org/ns/credentials/issuer-dependent#"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    contexts._accepted_shapes.clear()
    yield
    contexts._accepted_shapes.clear()


def credential(**subject: Any) -> dict[str, Any]:
    return {
        "@context": [V2, contexts.HEALTH_V1],
        "id": "urn:uuid:0b6f2c1e-5a8e-4c1b-9f0e-1d2c3b4a5f60",
        "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
        "issuer": "did:web:hospital.example",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhWqdDBPojHA7cprTGTt5yHv5yUi1B8cnXn8ReLumkw6E",
            "fhirVersion": "4.0.1",
            "fhirResource": {"resourceType": "AllergyIntolerance", "note": [{"text": "x"}]},
            **subject,
        },
    }


def expansions(monkeypatch: pytest.MonkeyPatch) -> list[JSONObject]:
    """Record every full expansion check_terms runs."""
    seen: list[JSONObject] = []
    real = contexts.expand

    def counting(document: JSONObject, *, strict: bool = True) -> list[JSONObject]:
        seen.append(document)
        return real(document, strict=strict)

    monkeypatch.setattr(contexts, "expand", counting)
    return seen


def test_same_shape_other_values_is_not_expanded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = expansions(monkeypatch)
    contexts.check_terms(credential())
    other = credential()
    other["id"] = "urn:uuid:11111111-2222-4333-8444-555555555555"
    other["issuer"] = "did:web:other-hospital.example"
    other["credentialSubject"]["id"] = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    other["credentialSubject"]["fhirResource"]["note"][0]["text"] = "another patient's note"
    other["validFrom"] = "2026-02-02T00:00:00Z"
    contexts.check_terms(other)
    assert len(seen) == 1


def test_a_new_undefined_term_is_refused_after_its_shape_sibling_was_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = expansions(monkeypatch)
    contexts.check_terms(credential())
    changed = credential()
    changed["favouriteColour"] = "blue"
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(changed)
    assert caught.value.code is ErrorCode.UNDEFINED_TERM
    assert caught.value.details["paths"] == ["$.favouriteColour"]
    assert len(seen) == 2
    # Refusals are never remembered: the same document is refused again, by a full expansion.
    with pytest.raises(ContextError):
        contexts.check_terms(changed)
    assert len(seen) == 3


def test_a_new_undefined_type_is_refused_after_the_known_type_was_accepted() -> None:
    contexts.check_terms(credential())
    changed = credential()
    changed["type"] = ["VerifiableCredential", "MadeUpCredential"]
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(changed)
    assert caught.value.details["paths"] == ["$.type[1]"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("id",), "relative-id"),
        (("issuer",), "hospital"),
        (("credentialSubject", "id"), "#patient"),
    ],
)
def test_a_relative_iri_where_an_absolute_one_was_is_refused(
    where: tuple[str, ...], value: str
) -> None:
    contexts.check_terms(credential())
    changed = credential()
    node: dict[str, Any] = changed
    for name in where[:-1]:
        node = node[name]
    node[where[-1]] = value
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(changed)
    assert caught.value.code is ErrorCode.UNDEFINED_TERM
    assert caught.value.details["paths"] == ["$." + ".".join(where)]


def test_a_value_that_is_a_term_is_part_of_the_shape() -> None:
    """An @vocab-typed property expands a term-valued string as a term: proofPurpose."""
    proof = {
        "@context": [V2],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "proofPurpose": "assertionMethod",
        "verificationMethod": "did:web:hospital.example#key-1",
        "created": "2026-01-01T00:00:00Z",
    }
    contexts.check_terms(proof)
    other = {**proof, "proofPurpose": "notATerm"}
    assert contexts._shape_key(proof, True) != contexts._shape_key(other, True)
    with pytest.raises(ContextError):
        contexts.check_terms(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (True, "relative"),
        (True, False),
        (None, "relative"),
        (1, 1.5),
        ("did:example:1", "relative"),
        ("did:example:1", "_:b0"),
        ({"a": 1}, [1]),
        (["x", "y"], ["xy"]),
    ],
)
def test_values_expansion_tells_apart_are_different_shapes(one: Any, other: Any) -> None:
    assert contexts._shape_key(credential(recordId=one), True) != contexts._shape_key(
        credential(recordId=other), True
    )


def test_a_boolean_accepted_does_not_let_a_relative_iri_through() -> None:
    """``issuer`` is an @id-typed term: ``true`` expands to a literal, ``"hospital"`` to a
    relative IRI, which is refused."""
    document = credential()
    document["issuer"] = True
    contexts.check_terms(document)  # a literal: the term check has nothing to say
    assert len(contexts._accepted_shapes) == 1
    document["issuer"] = "hospital"
    with pytest.raises(ContextError):
        contexts.check_terms(document)


def test_a_huge_integer_is_not_abstracted() -> None:
    small = credential(recordNumber=5)
    huge = credential(recordNumber=10**400)
    assert contexts._shape_key(small, True) != contexts._shape_key(huge, True)


def test_an_inline_context_is_never_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = expansions(monkeypatch)
    document = credential()
    document["@context"] = [*document["@context"], {"colour": "https://example.org/colour"}]
    document["colour"] = "blue"
    contexts.check_terms(document)
    contexts.check_terms(copy.deepcopy(document))
    assert len(seen) == 2
    assert contexts._accepted_shapes == {}


def test_strict_and_lenient_shapes_are_apart() -> None:
    document = credential()
    document["@context"] = [V2, EXAMPLES, contexts.HEALTH_V1]
    assert contexts._shape_key(document, True) != contexts._shape_key(document, False)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contexts, "_SHAPE_CACHE_SIZE", 3)
    for n in range(5):
        document = credential()
        document["credentialSubject"]["fhirResource"]["note"] = [{"text": "x"}] * n
        contexts.check_terms(document)
    assert len(contexts._accepted_shapes) == 3


# --- @vocab in strict mode (issue 6 gap 8) -------------------------------------------------------


def test_a_type_through_the_examples_vocab_expands_to_an_absolute_iri() -> None:
    """vc-data-model-2.0 4.05 credential-optional-type-ok.json: type RelationshipCredential."""
    document = {
        "@context": [V2, EXAMPLES],
        "type": ["VerifiableCredential", "RelationshipCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", "spouse": "did:example:spouse"},
    }
    contexts.check_terms(document)
    expanded = contexts.expand(document)
    assert (
        "https://www.w3.org/ns/credentials/examples#RelationshipCredential"
        in (expanded[0]["@type"])
    )


def test_without_the_examples_context_the_same_type_is_refused() -> None:
    document = {
        "@context": [V2],
        "type": ["VerifiableCredential", "RelationshipCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject"},
    }
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.details["paths"] == ["$.type[1]"]


@pytest.mark.parametrize("vocab", [ISSUER_DEPENDENT, "https://issuer.example/terms#"])
def test_an_inline_vocab_is_still_ignored_in_strict_mode(vocab: str) -> None:
    document = credential(favouriteColour="blue")
    document["@context"] = [*document["@context"], {"@vocab": vocab}]
    contexts.check_terms(document, strict=False)
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.details["paths"] == ["$.credentialSubject.favouriteColour"]


def test_the_base_context_issuer_dependent_vocab_is_not_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a pinned VC 2.0 base context to carry the draft's issuer-dependent @vocab (or an
    examples-like context to declare it), strict mode would still refuse what only it catches."""
    real = contexts.load_context

    def with_draft_vocab(url: str) -> JSONObject:
        document = real(url)
        if url in (V2, EXAMPLES):
            context = document["@context"]
            assert isinstance(context, dict)
            context["@vocab"] = ISSUER_DEPENDENT
        return document

    monkeypatch.setattr(contexts, "load_context", with_draft_vocab)
    contexts._resolver.cache_clear()
    try:
        document = credential(favouriteColour="blue")
        document["@context"] = [V2, EXAMPLES, contexts.HEALTH_V1]
        contexts.check_terms(document, strict=False)  # the lenient mode follows the draft
        with pytest.raises(ContextError) as caught:
            contexts.check_terms(document)
        assert caught.value.details["paths"] == ["$.credentialSubject.favouriteColour"]
    finally:
        contexts._resolver.cache_clear()


def test_strip_vocab_keeps_other_vocabularies_when_asked() -> None:
    context = {
        "@vocab": "https://example.org/#",
        "Thing": {"@id": "https://example.org/#Thing", "@context": {"@vocab": ISSUER_DEPENDENT}},
    }
    kept = contexts._strip_vocab(context, only_issuer_dependent=True)
    assert kept == {
        "@vocab": "https://example.org/#",
        "Thing": {"@id": context["Thing"]["@id"], "@context": {}},
    }
    assert contexts._strip_vocab(context) == {
        "Thing": {"@id": "https://example.org/#Thing", "@context": {}}
    }
