"""FHIR input: every example bundle parses; an invalid element is refused with its exact path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ErrorCode, InvalidInputError
from issuer.fhir import BundleIndex, parse_fhir_input, read_fhir_input, validate_resource
from tests.issuer.conftest import ALL_BUNDLES, IPS, SAMPLES, load

SECRET = "SECRET-MARKER-7731"


@pytest.mark.parametrize("path", ALL_BUNDLES, ids=lambda p: p.name)
def test_every_example_bundle_parses(path: Path) -> None:
    bundle = load(path)
    resources = parse_fhir_input(bundle)
    assert len(resources) == len(bundle["entry"])
    assert resources == [entry["resource"] for entry in bundle["entry"]]
    if bundle["type"] == "document":
        assert resources[0]["resourceType"] == "Composition"


def test_single_resource_is_accepted() -> None:
    allergy = json.loads((SAMPLES / "allergy-intolerance.json").read_text("utf-8"))
    parsed = read_fhir_input(allergy)
    assert parsed.resources == [allergy]
    assert parsed.bundle_type is None


def test_transaction_takes_the_resources_and_skips_deletes() -> None:
    bundle = load(SAMPLES / "discharge-bundle.json")
    bundle["entry"].append({"request": {"method": "DELETE", "url": "Condition/old"}})
    resources = parse_fhir_input(bundle)
    assert [r["resourceType"] for r in resources][-1] == "Claim"
    assert len(resources) == len(bundle["entry"]) - 1


def _error(bundle: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_fhir_input(bundle)
    assert caught.value.code is ErrorCode.INVALID_FHIR
    return caught.value


def _minimal() -> dict[str, Any]:
    return load(IPS / "bundle-minimal.json")


def test_wrong_type_deep_in_an_entry_names_the_exact_path() -> None:
    bundle = _minimal()
    bundle["entry"][7]["resource"]["reaction"] = [
        {"manifestation": [{"text": "hives"}], "severity": 3}
    ]
    error = _error(bundle)
    assert error.details["path"] == (
        "Bundle.entry[7].resource.AllergyIntolerance.reaction[0].severity"
    )
    assert error.details["reason"] == "string_type"


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (
            lambda b: b["entry"][3]["resource"].update(resourceType="Organisation"),
            "Bundle.entry[3].resource.resourceType",
            "unknownResourceType",
        ),
        (
            lambda b: b["entry"][4]["resource"].pop("resourceType"),
            "Bundle.entry[4].resource.resourceType",
            "missingResourceType",
        ),
        (
            lambda b: b["entry"][5]["resource"]["dosage"][0]["doseAndRate"][0][
                "doseQuantity"
            ].update(value="one"),
            "Bundle.entry[5].resource.MedicationStatement.dosage[0].doseAndRate[0]"
            ".doseQuantity.value",
            None,
        ),
        (
            lambda b: b["entry"][4]["resource"].pop("subject"),
            "Bundle.entry[4].resource.Condition.subject",
            "missing",
        ),
        (
            lambda b: b["entry"][4]["resource"]["code"].update(coding={"code": "x"}),
            "Bundle.entry[4].resource.Condition.code.coding",
            "list_type",
        ),
        (
            lambda b: b["entry"][6]["resource"].update(ingredients=[]),
            "Bundle.entry[6].resource.Medication.ingredients",
            "extra_forbidden",
        ),
        (lambda b: b.update(type="message"), "Bundle.type", "unsupportedBundleType"),
        (
            lambda b: b["entry"].insert(0, b["entry"].pop(1)),
            "Bundle.entry[0].resource.resourceType",
            "documentWithoutComposition",
        ),
        (lambda b: b["entry"][2].pop("resource"), "Bundle.entry[2].resource", "missing"),
    ],
    ids=[
        "unknown-type",
        "missing-type",
        "decimal-as-string",
        "missing-required",
        "object-for-array",
        "undefined-element",
        "bundle-type",
        "document-order",
        "entry-without-resource",
    ],
)
def test_injected_errors_give_their_path(mutate: Any, path: str, reason: str | None) -> None:
    bundle = _minimal()
    mutate(bundle)
    error = _error(bundle)
    assert error.details["path"] == path
    if reason is not None:
        assert error.details["reason"] == reason


def test_single_resource_paths_start_at_the_type() -> None:
    allergy = copy.deepcopy(_minimal()["entry"][7]["resource"])
    allergy["onsetDateTime"] = "yesterday"
    with pytest.raises(InvalidInputError) as caught:
        validate_resource(allergy)
    assert caught.value.details["path"] == "AllergyIntolerance.onsetDateTime"
    with pytest.raises(InvalidInputError) as caught:
        validate_resource(_minimal()["entry"][4]["resource"], expected_type="Observation")
    assert caught.value.details["reason"] == "unexpectedResourceType"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(onsetDateTime=SECRET),
        lambda r: r.update(criticality=[SECRET]),
        lambda r: r["code"]["coding"][0].update(code={"v": SECRET}),
        lambda r: r.update(note=[{"text": 17, "authorString": SECRET}]),
        lambda r: r.update(**{SECRET: "x"}),
        lambda r: r.update(resourceType=SECRET),
    ],
)
def test_error_messages_never_carry_clinical_values(mutate: Any) -> None:
    bundle = _minimal()
    mutate(bundle["entry"][7]["resource"])
    error = _error(bundle)
    text = f"{error} {error.message} {json.dumps(error.to_dict())}"
    # An undefined element's *name* is part of the path; its value never is.
    assert SECRET not in text.replace(f".{SECRET}", "")


def test_references_resolve_by_full_url_relative_and_contained() -> None:
    parsed = read_fhir_input(_minimal())
    statement, medication = parsed.resources[5], parsed.resources[6]
    assert parsed.index.resolve(statement["medicationReference"]) is medication
    nz = read_fhir_input(load(IPS / "bundle-no-info-required-sections.json"))
    section = nz.resources[0]["section"][3]
    targets = [nz.index.resolve(entry) for entry in section["entry"]]
    assert [t["resourceType"] for t in targets if t] == ["Immunization", "Immunization"]
    absolute = "https://terminz.azurewebsites.net/fhir/Patient/AAA1234/_history/2"
    assert nz.index.resolve({"reference": absolute}) is nz.resources[1]
    container = {"contained": [{"resourceType": "Medication", "id": "m1"}]}
    assert BundleIndex().resolve("#m1", container=container) == container["contained"][0]
    assert parsed.index.resolve("Medication/unknown") is None
    assert parsed.index.resolve({"display": "no reference"}) is None
