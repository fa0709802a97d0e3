"""Credential templates: each topic from real resources, the emergency summary, claim evidence."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ErrorCode, InvalidInputError
from issuer.fhir import FHIR_VERSION, read_fhir_input
from issuer.templates import (
    CredentialKind,
    claim_evidence,
    claims_for_resource,
    emergency_summary,
    records_from_bundle,
)
from tests.issuer.conftest import IPS, SAMPLES, SHC, load


def _input(path: Path) -> Any:
    return read_fhir_input(load(path))


def test_allergy_from_the_ips_minimal_bundle() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    allergy = parsed.resources[7]
    claims = claims_for_resource(allergy, parsed.index)
    assert claims.kind is CredentialKind.ALLERGY_INTOLERANCE
    assert claims.vct == "https://w3id.org/health-mydata/vct/AllergyIntolerance/v1"
    assert claims.subject == {"fhirVersion": FHIR_VERSION, "fhirResource": allergy}
    body = claims.sd_claims["allergy"]
    assert body["code"] == {
        "system": "http://snomed.info/sct",
        "code": "373270004",
        "display": "Substance with penicillin structure and antibacterial mechanism of action "
        "(substance)",
    }
    assert body["criticality"] == "high"
    assert body["clinicalStatus"] == "active"
    assert body["verificationStatus"] == "confirmed"
    assert body["category"] == ["medication"]
    assert body["onset"] == "2010"
    # Data minimisation: no identifiers, no patient reference.
    assert "identifier" not in str(claims.sd_claims)
    assert "urn:uuid" not in str(claims.sd_claims)
    assert ("allergy", "criticality") in claims.disclosable
    assert ("allergy", "category", 0) in claims.disclosable
    assert claims.source_ids == ("AllergyIntolerance/fe2769fd-22c9-4307-9122-ee0466e5aebb",)
    assert claims.record_key.startswith("AllergyIntolerance/fe2769fd-22c9-4307-9122-ee0466e5aebb#")


def test_allergy_reactions_are_disclosable_per_field() -> None:
    parsed = _input(SAMPLES / "ips-emergency-bundle.json")
    claims = claims_for_resource(parsed.resources[3], parsed.index)
    reaction = claims.sd_claims["allergy"]["reactions"][0]
    assert reaction["severity"] == "severe"
    assert reaction["manifestation"][0]["code"] == "39579001"
    for path in [
        ("allergy", "reactions"),
        ("allergy", "reactions", 0),
        ("allergy", "reactions", 0, "severity"),
        ("allergy", "reactions", 0, "manifestation"),
    ]:
        assert path in claims.disclosable


def test_condition_keeps_every_coding() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    claims = claims_for_resource(parsed.resources[4], parsed.index)
    assert claims.kind is CredentialKind.CONDITION
    body = claims.sd_claims["condition"]
    assert body["code"]["code"] == "198436008"
    assert body["code"]["otherCodings"] == [
        {
            "system": "http://hl7.org/fhir/sid/icd-10",
            "code": "N95.1",
            "display": "Menopausal and female climacteric states",
        }
    ]
    assert body["severity"]["display"] == "Moderate"
    assert (body["onset"], body["recorded"]) == ("2015", "2016-10")


def test_medication_statement_resolves_its_medication() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    claims = claims_for_resource(parsed.resources[5], parsed.index)
    assert claims.kind is CredentialKind.MEDICATION
    body = claims.sd_claims["medication"]
    assert body["code"]["code"] == "108774000"
    assert {c["code"] for c in body["code"]["otherCodings"]} >= {"L02BG03"}
    assert body["dosage"][0]["dose"] == "1 tablet"
    assert body["dosage"][0]["frequency"] == "1/d"
    assert body["effective"] == {"start": "2015-03"}
    assert claims.subject["fhirIncluded"] == [parsed.resources[6]]
    assert claims.source_ids[1] == "Medication/6369a973-afc7-4617-8877-3e9811e05a5b"


def test_unresolvable_medication_reference_is_refused_with_its_path() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    with pytest.raises(InvalidInputError) as caught:
        claims_for_resource(parsed.resources[5])
    assert caught.value.details == {
        "path": "MedicationStatement.medicationReference",
        "reason": "unresolvedReference",
    }


def test_medication_request() -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.whocc.no/atc", "code": "B01AF01"}],
            "text": "rivaroxaban 20 mg",
        },
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2025-01-02",
        "dosageInstruction": [{"text": "20 mg once daily with food"}],
    }
    claims = claims_for_resource(request)
    body = claims.sd_claims["medication"]
    assert body["intent"] == "order"
    assert body["authored"] == "2025-01-02"
    assert body["dosage"] == [{"text": "20 mg once daily with food"}]


def test_immunizations_from_ips_and_smart_health_cards() -> None:
    parsed = _input(IPS / "bundle-no-info-required-sections.json")
    records = records_from_bundle(parsed.resources, parsed.index)
    assert [r.kind for r in records] == [CredentialKind.IMMUNIZATION] * 2
    body = records[0].sd_claims["immunization"]
    assert body["vaccine"]["code"] == "141"
    assert body["occurrence"] == "2020-07-03"
    assert body["doseNumber"] == 2
    assert body["lotNumber"] == "B52b"
    assert body["performer"] == "NorthCare Pukete Road"
    shc = _input(SHC / "example-00-a-fhirBundle.json")
    records = records_from_bundle(shc.resources, shc.index)
    assert len(records) == 3
    assert records[0].sd_claims["immunization"]["performer"] == "ABC General Hospital"
    # No id: the source is named by a content digest.
    assert records[0].source_ids[0].startswith("Immunization#sha256:")


def test_laboratory_observations_skip_the_panel() -> None:
    shc = _input(SHC / "example-02-a-fhirBundle.json")
    records = records_from_bundle(shc.resources, shc.index)
    observations = [r for r in shc.resources if r["resourceType"] == "Observation"]
    panels = [o for o in observations if o.get("hasMember") and "valueQuantity" not in o]
    assert panels
    assert len(records) == len(observations) - len(panels)
    hemoglobin = records[0].sd_claims["observation"]
    assert hemoglobin["code"]["code"] == "718-7"
    assert hemoglobin["value"] == {"value": 176, "unit": "g/L"}
    assert hemoglobin["referenceRange"] == [
        {"low": {"value": 135, "unit": "g/L"}, "high": {"value": 180, "unit": "g/L"}}
    ]


def test_blood_type_and_vital_sign_observations() -> None:
    parsed = _input(SAMPLES / "ips-emergency-bundle.json")
    blood = claims_for_resource(parsed.resources[6], parsed.index)
    assert blood.name == "Blood type"
    assert blood.sd_claims["observation"]["kind"] == "bloodType"
    assert blood.sd_claims["observation"]["value"]["code"] == "278149003"
    pressure = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": "2025-02-01T08:00:00Z",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 128, "unit": "mmHg"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": 82, "unit": "mmHg"},
            },
        ],
    }
    claims = claims_for_resource(pressure)
    assert claims.name == "Vital sign"
    components = claims.sd_claims["observation"]["components"]
    assert [c["value"]["value"] for c in components] == [128, 82]
    assert ("observation", "components", 1, "value") in claims.disclosable


def test_unsupported_type_and_void_records() -> None:
    with pytest.raises(InvalidInputError) as caught:
        claims_for_resource({"resourceType": "Patient", "id": "p"})
    assert caught.value.details["reason"] == "unsupportedResourceType"
    parsed = _input(IPS / "bundle-minimal.json")
    resources = copy.deepcopy(parsed.resources)
    resources[7]["verificationStatus"]["coding"][0]["code"] = "entered-in-error"
    kinds = [r.kind for r in records_from_bundle(resources)]
    assert CredentialKind.ALLERGY_INTOLERANCE not in kinds
    assert len(kinds) == 2


def test_record_key_is_stable_and_changes_with_content() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    first = claims_for_resource(parsed.resources[7], parsed.index)
    again = claims_for_resource(copy.deepcopy(parsed.resources[7]), parsed.index)
    assert first.record_key == again.record_key
    changed = copy.deepcopy(parsed.resources[7])
    changed["criticality"] = "low"
    assert claims_for_resource(changed).record_key != first.record_key


# --- emergency summary ---------------------------------------------------------------------


def test_emergency_summary_of_ips_minimal() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    claims = emergency_summary(parsed.resources, index=parsed.index)
    assert claims.kind is CredentialKind.EMERGENCY_SUMMARY
    assert claims.sd_claims == {
        "allergies": [
            {
                "code": "sct|373270004",
                "text": "Substance with penicillin structure and antibacterial...",
                "criticality": "high",
            }
        ],
        "problems": [{"code": "sct|198436008", "text": "Menopausal flushing"}],
        "medications": [{"code": "atc|L02BG03", "text": "anastrozole", "dose": "1 tablet 1/d"}],
    }
    # The mother is a contact but not an emergency contact (v3 MTH, no v2-0131 C).
    assert "emergencyContact" not in claims.sd_claims
    assert claims.disclosable == (("allergies",), ("problems",), ("medications",))
    assert claims.subject == claims.sd_claims


def test_emergency_summary_with_only_an_emergency_contact() -> None:
    parsed = _input(IPS / "bundle-no-info-required-sections.json")
    claims = emergency_summary(parsed.resources, index=parsed.index)
    # Sections with emptyReason say "no information": nothing is asserted for them.
    assert claims.sd_claims == {
        "emergencyContact": [{"name": "Peter Rabbit Rabbit", "phone": "07 853 9191"}]
    }
    assert claims.source_ids == ("Patient/AAA1234",)


def test_emergency_summary_with_every_section() -> None:
    parsed = _input(SAMPLES / "ips-emergency-bundle.json")
    claims = emergency_summary(parsed.resources, index=parsed.index)
    assert claims.sd_claims == {
        "allergies": [{"code": "sct|762952008", "text": "Peanut", "criticality": "high"}],
        "problems": [{"code": "sct|44054006", "text": "Diabetes mellitus type 2"}],
        "medications": [{"code": "atc|A10BA02", "text": "metformin", "dose": "500 mg 2/d"}],
        "bloodType": {"code": "sct|278149003", "text": "Blood group A Rh(D) positive"},
        "advanceDirective": {
            "code": "sct|89666000",
            "text": "Cardiopulmonary resuscitation",
            "provision": "deny",
            "date": "2023-09-12",
        },
        "emergencyContact": [{"name": "Ola Nordmann", "phone": "+4791234567"}],
    }
    assert "Consent/a5b6c7d8-e9f0-4a1b-8c3d-4e5f60718293" in claims.source_ids


def test_emergency_summary_filters_inactive_and_other_patients() -> None:
    parsed = _input(SAMPLES / "ips-emergency-bundle.json")
    resources = copy.deepcopy(parsed.resources)
    resources[4]["clinicalStatus"]["coding"][0]["code"] = "resolved"
    resources[5]["status"] = "completed"
    other = {"resourceType": "Patient", "id": "someone-else"}
    related = {
        "resourceType": "RelatedPerson",
        "id": "rp",
        "patient": {"reference": "Patient/1b4e28ba-2fa1-41d2-883f-0016d3cca427"},
        "relationship": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "ECON"}
                ]
            }
        ],
        "name": [{"text": "Dr. Neighbour"}],
        "telecom": [{"system": "phone", "value": "+4722222222"}],
        "address": [{"city": "Oslo"}],
    }
    resources += [other, related]
    with pytest.raises(InvalidInputError) as caught:
        emergency_summary(resources)
    assert caught.value.details["reason"] == "severalPatients"
    claims = emergency_summary(resources, patient_id="1b4e28ba-2fa1-41d2-883f-0016d3cca427")
    assert "problems" not in claims.sd_claims
    assert "medications" not in claims.sd_claims
    assert claims.sd_claims["emergencyContact"] == [
        {"name": "Ola Nordmann", "phone": "+4791234567"},
        {"name": "Dr. Neighbour", "phone": "+4722222222"},
    ]
    # Nothing of the first patient leaks into someone else's summary.
    with pytest.raises(InvalidInputError) as caught:
        emergency_summary(resources, patient_id="someone-else")
    assert caught.value.details["reason"] == "noEmergencyContent"


def test_emergency_summary_refuses_empty_input() -> None:
    shc = _input(SHC / "example-00-a-fhirBundle.json")
    with pytest.raises(InvalidInputError) as caught:
        emergency_summary(shc.resources, index=shc.index)
    assert caught.value.code is ErrorCode.INVALID_FHIR
    assert caught.value.details["reason"] == "noEmergencyContent"


# --- claim evidence ------------------------------------------------------------------------


def test_claim_evidence_from_the_discharge_claim() -> None:
    parsed = _input(SAMPLES / "discharge-bundle.json")
    claims = claim_evidence(parsed.resources, parsed.index)
    assert claims.kind is CredentialKind.CLAIM_EVIDENCE
    evidence = claims.sd_claims
    assert evidence["encounter"]["class"] == "IMP"
    assert evidence["encounter"]["period"] == {
        "start": "2025-03-02T21:40:00+01:00",
        "end": "2025-03-05T11:15:00+01:00",
    }
    assert evidence["diagnoses"] == [
        {
            "code": {
                "system": "http://hl7.org/fhir/sid/icd-10",
                "code": "K35.8",
                "display": "Other and unspecified acute appendicitis",
            },
            "role": "principal",
            "rank": 1,
        }
    ]
    assert evidence["procedures"][0]["code"]["code"] == "174041007"
    assert [c["net"]["value"] for c in evidence["charges"]] == [2400.0, 2550.0, 37.0]
    assert evidence["charges"][1]["quantity"] == 3
    assert evidence["chargeTotal"] == {"value": 4987.0, "currency": "EUR"}
    assert evidence["claimType"] == "institutional"
    for path in [
        ("encounter", "period"),
        ("diagnoses", 0, "code"),
        ("charges", 2),
        ("charges", 2, "net"),
        ("chargeTotal",),
    ]:
        assert path in claims.disclosable
    # Patient identifiers, the insurer's policy number and internal ids stay out.
    text = str(evidence)
    for absent in ("01017012345", "HX-55-2031", "CLM-2025", "urn:uuid", "Nordmann"):
        assert absent not in text
    assert "Claim/2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f" in claims.source_ids


def test_claim_evidence_from_charge_items_and_encounter_diagnoses() -> None:
    parsed = _input(SAMPLES / "discharge-bundle.json")
    resources = [r for r in parsed.resources if r["resourceType"] != "Claim"]
    evidence = claim_evidence(resources, parsed.index).sd_claims
    assert evidence["diagnoses"][0]["role"] == "DD"
    assert evidence["procedures"][0]["date"]["start"] == "2025-03-03T08:10:00+01:00"
    assert [c["net"]["value"] for c in evidence["charges"]] == [2400.0, 2550.0]
    assert evidence["chargeTotal"] == {"value": 4950.0, "currency": "EUR"}
    assert "claimType" not in evidence


def test_claim_evidence_needs_an_encounter() -> None:
    parsed = _input(IPS / "bundle-minimal.json")
    with pytest.raises(InvalidInputError) as caught:
        claim_evidence(parsed.resources, parsed.index)
    assert caught.value.details["reason"] == "missingEncounter"
