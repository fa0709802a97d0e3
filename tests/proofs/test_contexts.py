"""Pinned contexts: nothing else is loaded, and no term is silently dropped."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.credentials import contexts
from agent.errors import ContextError, ErrorCode
from tests.conftest import load_vector

V2 = "https://www.w3.org/ns/credentials/v2"


def health_credential() -> dict[str, Any]:
    return {
        "@context": [V2, contexts.HEALTH_V1],
        "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
        "issuer": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:key:z6MkhWqdDBPojHA7cprTGTt5yHv5yUi1B8cnXn8ReLumkw6E",
            "type": "HealthRecordSubject",
            "fhirVersion": "4.0.1",
            "recordId": "urn:uuid:0b6f",
            "allergies": [
                {"resourceType": "AllergyIntolerance", "anyFhirField": {"nested": [1, 2.5]}}
            ],
        },
    }


@pytest.mark.parametrize("url", sorted(contexts.KNOWN_CONTEXTS))
def test_every_known_context_loads(url: str) -> None:
    remote = contexts.document_loader(url, {})
    assert remote["documentUrl"] == url
    assert "@context" in remote["document"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.w3.org/ns/credentials/undefined-terms/v2",
        "https://w3id.org/citizenship/v4rc1",
        "https://example.com/evil",
        "file:///etc/passwd",
    ],
)
def test_unknown_context_is_refused_without_network(url: str) -> None:
    with pytest.raises(ContextError) as caught:
        contexts.document_loader(url, {})
    assert caught.value.code is ErrorCode.CONTEXT_NOT_ALLOWED
    document = health_credential()
    document["@context"].append(url)
    with pytest.raises(ContextError) as caught:
        contexts.check_contexts(document)
    assert caught.value.code is ErrorCode.CONTEXT_NOT_ALLOWED


def test_loader_hands_out_copies() -> None:
    first = contexts.document_loader(V2, {})["document"]
    first["@context"]["id"] = "tampered"
    assert contexts.document_loader(V2, {})["document"]["@context"]["id"] == "@id"


def test_health_credential_terms_are_defined() -> None:
    expanded = contexts.expand(health_credential())
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    allergies = subject["https://w3id.org/health-mydata/vocab#allergies"][0]
    # FHIR content is a JSON literal: kept verbatim, no FHIR term can be dropped.
    assert allergies["@type"] == "@json"
    assert allergies["@value"][0]["anyFhirField"] == {"nested": [1, 2.5]}


def test_undefined_property_is_an_error_naming_the_path() -> None:
    document = health_credential()
    document["credentialSubject"]["bloodGroup"] = "A+"  # The term is bloodType.
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.code is ErrorCode.UNDEFINED_TERM
    assert caught.value.details == {
        "terms": ["bloodGroup"],
        "paths": ["$.credentialSubject.bloodGroup"],
    }


def test_undefined_type_is_an_error() -> None:
    document = health_credential()
    document["type"].append("MadeUpCredential")
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.code is ErrorCode.UNDEFINED_TERM
    assert caught.value.details["paths"] == [f"$.type[{len(document['type']) - 1}]"]
    assert caught.value.details["keywords"] == ["@type"]


def test_v2_alone_has_no_catch_all_vocab() -> None:
    """The final VC 2.0 context dropped the draft's issuer-dependent @vocab: even the lenient
    mode reports a term only the health context defines."""
    document = health_credential()
    document["@context"] = [V2]
    for strict in (True, False):
        with pytest.raises(ContextError) as caught:
            contexts.check_terms(document, strict=strict)
        assert caught.value.code is ErrorCode.UNDEFINED_TERM


def test_strict_mode_honours_the_examples_context_vocab() -> None:
    """Issue 6 gap 8: a pinned context other than the VC base context may declare @vocab (the
    examples context does); its terms and types expand there, in strict mode too."""
    alumni = load_vector("vc-di-eddsa", "unsigned.json")  # Uses the examples @vocab.
    contexts.check_terms(alumni, strict=False)
    contexts.check_terms(alumni)
    expanded = contexts.expand(alumni)
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    assert "https://www.w3.org/ns/credentials/examples#alumniOf" in subject


def test_inline_vocab_is_ignored_in_strict_mode() -> None:
    document = health_credential()
    document["@context"].append({"@vocab": "https://issuer.example/terms#"})
    document["credentialSubject"]["favouriteColour"] = "blue"
    contexts.check_terms(document, strict=False)
    with pytest.raises(ContextError):
        contexts.check_terms(document)


def test_protected_terms_cannot_be_redefined() -> None:
    document = health_credential()
    document["@context"].append({"allergies": "https://attacker.example/allergies"})
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR


def test_check_terms_does_not_modify_the_document() -> None:
    document = health_credential()
    document["@context"].append({"@vocab": "https://issuer.example/terms#"})
    before = copy.deepcopy(document)
    contexts.check_terms(document, strict=False)
    assert document == before
