"""A document is a credential or a presentation, never both; ``type_values`` reads any shape."""

from __future__ import annotations

from typing import Any

import pytest

from agent.credentials.model import (
    ModelRule,
    type_values,
    validate_credential,
    validate_presentation,
)
from agent.errors import DataModelError, ErrorCode
from tests.credentials.test_credential_model import credential, presentation


def test_credential_typed_also_as_presentation_is_refused() -> None:
    """C1: the forged credential of /tmp/rev/t2.py added VerifiablePresentation to its type to
    be bound to its (absent) holder instead of its issuer."""
    doc = credential()
    doc["type"] = ["VerifiableCredential", "VerifiablePresentation"]
    with pytest.raises(DataModelError) as caught:
        validate_credential(doc)
    assert caught.value.code is ErrorCode.MALFORMED_VALUE_ERROR
    assert caught.value.details == {"path": "type", "rule": ModelRule.TYPE_CONFLICT}


def test_presentation_typed_also_as_credential_is_refused() -> None:
    doc = presentation()
    doc["type"] = ["VerifiablePresentation", "VerifiableCredential"]
    with pytest.raises(DataModelError) as caught:
        validate_presentation(doc)
    assert caught.value.details == {"path": "type", "rule": ModelRule.TYPE_CONFLICT}


def test_embedded_credential_typed_as_presentation_is_refused_with_its_path() -> None:
    doc = presentation()
    embedded = credential()
    embedded["type"] = ["VerifiableCredential", "VerifiablePresentation"]
    doc["verifiableCredential"] = [embedded]
    with pytest.raises(DataModelError) as caught:
        validate_presentation(doc)
    assert caught.value.details == {
        "path": "verifiableCredential[0].type",
        "rule": ModelRule.TYPE_CONFLICT,
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"type": "VerifiableCredential"}, {"VerifiableCredential"}),
        ({"type": ["VerifiableCredential", 5, None, "X"]}, {"VerifiableCredential", "X"}),
        ({"type": 5}, set()),  # /tmp/rev/type5.json: TypeError in the CLI
        ({"type": {"a": 1}}, set()),
        ({"type": None}, set()),
        ({}, set()),
        ([1, 2], set()),
        ("VerifiableCredential", set()),
    ],
)
def test_type_values_tolerates_any_shape(document: Any, expected: set[str]) -> None:
    assert type_values(document) == expected
