"""Credential templates: which credential a FHIR record becomes, and what it says.

One credential type per clinical topic (STYLE.md item 13, DESIGN.md section 1), each in two
forms built from one :class:`RecordClaims`:

* the **W3C VC** (``credentialSubject``): for a single-topic credential the FHIR R4 resource
  verbatim (``fhirResource``, a JSON literal in the health context) with ``fhirVersion``, so
  nothing the hospital recorded is reinterpreted; resources it references and that are needed
  to read it (the ``Medication`` of a ``MedicationStatement``) travel in ``fhirIncluded``;
* the **SD-JWT VC** (``sd_claims``): a clinically meaningful flattening in which every clinical
  field of the record, every element of a list and every field of such an element is
  selectively disclosable (``disclosable``), so that a citizen can show an allergy's substance
  and criticality without its onset date. Patient identifiers, internal references, narrative
  and extensions are dropped (data minimisation; the holder is bound by ``cnf``).

Composite credentials:

* :func:`emergency_summary` is the emergency subset of the HL7 International Patient Summary
  (IPS IG, Composition sections: allergies 48765-2, problems 11450-4, medications 10160-0,
  advance directives 42348-3) plus blood type (LOINC 882-1, 883-9, 10331-7) and emergency
  contacts (``Patient.contact`` with relationship ``C`` of v2-0131, or ``RelatedPerson``). It is
  compact by design: the SD-JWT with all its Disclosures must fit one QR code (1,195 characters,
  as SMART Health Cards' single-chunk limit at error correction level L).
* :func:`claim_evidence` is what an insurer needs for a claim: the encounter, its diagnoses
  (ICD-10 preferred), procedures and itemised charges (FHIR ``Claim.item`` or ``ChargeItem``).

The claim shapes per type are documented in ``docs/fhir-mapping.md``.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from agent.credentials.jcs import canonicalize
from agent.credentials.sd_jwt import ClaimPath
from agent.errors import ErrorCode, InvalidInputError
from issuer.fhir import FHIR_VERSION, BundleIndex, precomputed

__all__ = [
    "BLOOD_TYPE_LOINC",
    "EMERGENCY_TEXT_MAX",
    "VCT_BASE",
    "CredentialKind",
    "MappedRecord",
    "RecordClaims",
    "claim_evidence",
    "claims_for_resource",
    "emergency_summary",
    "map_record",
    "record_digest",
    "records_from_bundle",
]

#: The prefix of every SD-JWT VC type (``vct``) this issuer uses.
VCT_BASE: Final = "https://w3id.org/health-mydata/vct/"

#: LOINC codes of blood type observations: ABO and Rh group (882-1), ABO group (883-9) and
#: Rh type (10331-7).
BLOOD_TYPE_LOINC: Final = frozenset({"882-1", "883-9", "10331-7"})

#: The longest text of an emergency summary item; longer displays are cut at a word.
EMERGENCY_TEXT_MAX: Final = 60

_LOINC: Final = "http://loinc.org"
_SNOMED: Final = "http://snomed.info/sct"
_V2_0131: Final = "http://terminology.hl7.org/CodeSystem/v2-0131"
_V3_ROLE: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# IPS Composition section codes (LOINC).
_SECTION_ADVANCE_DIRECTIVES: Final = "42348-3"
# Short names of code systems for the compact emergency items (``sct|373270004``).
_SYSTEM_ABBREVIATIONS: Final = {
    _SNOMED: "sct",
    _LOINC: "ln",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
    "http://www.whocc.no/atc": "atc",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxn",
    "http://hl7.org/fhir/sid/cvx": "cvx",
    "http://unitsofmeasure.org": "ucum",
    "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips": "ips-absent",
}
_HL7_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/"
# A SNOMED CT fully specified name ends with its semantic tag, e.g. "(substance)".
_SEMANTIC_TAG: Final = re.compile(r"\s*\((?:[a-z]+(?: [a-z]+)*|[a-z]+/[a-z]+)\)$")
# Members of a flattened CodeableConcept; such an object is one disclosable unit.
_CONCEPT_KEYS: Final = frozenset({"system", "code", "display", "text", "otherCodings"})
# Statuses that mean the record is void (FHIR R4 status value sets).
_VOID: Final = frozenset({"entered-in-error"})


class CredentialKind(StrEnum):
    """The credential types the issuer issues (the W3C ``type`` and the health context terms)."""

    ALLERGY_INTOLERANCE = "AllergyIntoleranceCredential"
    CONDITION = "ConditionCredential"
    MEDICATION = "MedicationCredential"
    IMMUNIZATION = "ImmunizationCredential"
    OBSERVATION = "ObservationCredential"
    EMERGENCY_SUMMARY = "EmergencySummaryCredential"
    CLAIM_EVIDENCE = "ClaimEvidenceCredential"

    @property
    def vct(self) -> str:
        """The SD-JWT VC type, e.g. ``https://w3id.org/health-mydata/vct/Condition/v1``."""
        return f"{VCT_BASE}{self.value.removesuffix('Credential')}/v1"


@dataclass(frozen=True)
class RecordClaims:
    """What one credential says, in both formats.

    :param kind: the credential type.
    :param name: a human-readable name for the credential's ``name``; it names the topic only,
        never a clinical value (``name`` is not selectively disclosable).
    :param subject: the ``credentialSubject`` members other than ``id`` (W3C VC). For one
        resource, ``fhirResource`` shares its nested values with the input resource (the
        credential builders copy what they embed).
    :param sd_claims: the SD-JWT VC claims other than ``iss``, ``iat``, ``exp``, ``cnf``,
        ``vct`` and ``status``.
    :param disclosable: claim paths (:data:`agent.credentials.sd_jwt.ClaimPath`) of
        ``sd_claims`` to make selectively disclosable.
    :param vct: the SD-JWT VC type.
    :param source_ids: the FHIR resources it came from, as ``Type/id`` (or
        ``Type#sha256:<digest>`` for a resource without an id).
    :param record_key: stable for the same record content; for idempotent batch issuance
        (together with the subject). ``Type/id#<digest>`` for one resource,
        ``<kind>#<digest>`` for a composite; the digest covers the content, so a changed record
        gets a new key.
    """

    kind: CredentialKind
    name: str
    subject: dict[str, Any]
    sd_claims: dict[str, Any]
    disclosable: tuple[ClaimPath, ...]
    vct: str
    source_ids: tuple[str, ...]
    record_key: str


# --- small FHIR readers ------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(canonicalize(value)).hexdigest()[:32]


def _source_id(resource: Mapping[str, Any]) -> str:
    kind = resource["resourceType"]
    rid = resource.get("id")
    return f"{kind}/{rid}" if isinstance(rid, str) else f"{kind}#sha256:{_digest(resource)}"


def _codings(concept: object) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding", ()) if isinstance(c, Mapping) and "code" in c]


def _coding(coding: Mapping[str, Any]) -> dict[str, Any]:
    """A Coding without version, userSelected and extensions (FHIR R4 section 2.24.0.3)."""
    return {k: coding[k] for k in ("system", "code", "display") if k in coding}


def _concept(concept: object) -> dict[str, Any] | None:
    """A CodeableConcept flattened: its first coding, ``text``, further codings in
    ``otherCodings``; ``None`` when it has neither a coding nor text."""
    if not isinstance(concept, Mapping):
        return None
    codings = _codings(concept)
    out: dict[str, Any] = _coding(codings[0]) if codings else {}
    if isinstance(concept.get("text"), str):
        out["text"] = concept["text"]
    if len(codings) > 1:
        out["otherCodings"] = [_coding(c) for c in codings[1:]]
    return out or None


def _concepts(values: object) -> list[dict[str, Any]]:
    items = values if isinstance(values, list) else []
    return [c for c in (_concept(v) for v in items) if c is not None]


def _status(concept: object) -> str | None:
    """The code of a status CodeableConcept (``clinicalStatus``, ``verificationStatus``)."""
    codings = _codings(concept)
    return str(codings[0]["code"]) if codings else None


def _has_code(concept: object, system: str, codes: Iterable[str]) -> bool:
    wanted = set(codes)
    return any(c.get("system") == system and c.get("code") in wanted for c in _codings(concept))


def _quantity(quantity: object) -> dict[str, Any] | None:
    if not isinstance(quantity, Mapping):
        return None
    out = {k: quantity[k] for k in ("comparator", "value", "unit") if k in quantity}
    if "unit" not in out and "code" in quantity:
        out["unit"] = quantity["code"]
    return out or None


def _money(money: object) -> dict[str, Any] | None:
    if not isinstance(money, Mapping) or "value" not in money:
        return None
    return {k: money[k] for k in ("value", "currency") if k in money}


def _period(period: object) -> dict[str, Any] | None:
    if not isinstance(period, Mapping):
        return None
    return {k: period[k] for k in ("start", "end") if k in period} or None


def _choice(resource: Mapping[str, Any], prefix: str) -> Any:
    """A choice element ``prefix[x]`` (FHIR R4 section 2.24.0.1), simplified.

    dateTime, string, boolean and integer values are kept; a Period, Quantity, Age, Range or
    CodeableConcept is flattened.
    """
    for suffix in (
        "DateTime",
        "String",
        "Boolean",
        "Integer",
        "PositiveInt",
        "UnsignedInt",
        "Decimal",
        "Date",
        "Instant",
        "Time",
    ):
        if f"{prefix}{suffix}" in resource:
            return resource[f"{prefix}{suffix}"]
    if f"{prefix}Period" in resource:
        return _period(resource[f"{prefix}Period"])
    for suffix in ("Quantity", "Age"):
        if f"{prefix}{suffix}" in resource:
            return _quantity(resource[f"{prefix}{suffix}"])
    if f"{prefix}Range" in resource:
        value = resource[f"{prefix}Range"]
        return {k: _quantity(value[k]) for k in ("low", "high") if k in value}
    if f"{prefix}CodeableConcept" in resource:
        return _concept(resource[f"{prefix}CodeableConcept"])
    if f"{prefix}Ratio" in resource:
        value = resource[f"{prefix}Ratio"]
        return {k: _quantity(value[k]) for k in ("numerator", "denominator") if k in value}
    return None


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    """Set ``name`` unless ``value`` is empty: absent means "not recorded", never a default."""
    if value is not None and value != [] and value != {}:
        target[name] = value


def _field_paths(obj: Mapping[str, Any], prefix: tuple[str | int, ...]) -> list[ClaimPath]:
    """Every field of ``obj``, every element of a list field and every field of such an element
    (unless the element is a coded concept, which is disclosed whole)."""
    paths: list[ClaimPath] = []
    for name, value in obj.items():
        path = (*prefix, name)
        paths.append(path)
        if isinstance(value, list):
            for index, item in enumerate(value):
                paths.append((*path, index))
                if isinstance(item, Mapping) and not set(item) <= _CONCEPT_KEYS:
                    paths.extend((*path, index, field) for field in item)
    return paths


def _reference_error(path: str) -> InvalidInputError:
    return InvalidInputError(
        f"{path} does not resolve to a resource of the input; send the Bundle that contains "
        "it (FHIR R4 section 2.36)",
        code=ErrorCode.INVALID_FHIR,
        details={"path": path, "reason": "unresolvedReference"},
    )


# --- single-topic templates --------------------------------------------------------------------


def _allergy(resource: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "code", _concept(resource.get("code")))
    _put(out, "type", resource.get("type"))
    _put(out, "category", list(resource.get("category", [])))
    _put(out, "criticality", resource.get("criticality"))
    _put(out, "clinicalStatus", _status(resource.get("clinicalStatus")))
    _put(out, "verificationStatus", _status(resource.get("verificationStatus")))
    reactions = []
    for reaction in resource.get("reaction", []):
        item: dict[str, Any] = {}
        _put(item, "substance", _concept(reaction.get("substance")))
        _put(item, "manifestation", _concepts(reaction.get("manifestation")))
        _put(item, "severity", reaction.get("severity"))
        _put(item, "onset", reaction.get("onset"))
        _put(item, "exposureRoute", _concept(reaction.get("exposureRoute")))
        if item:
            reactions.append(item)
    _put(out, "reactions", reactions)
    _put(out, "onset", _choice(resource, "onset"))
    _put(out, "recorded", resource.get("recordedDate"))
    _put(out, "lastOccurrence", resource.get("lastOccurrence"))
    return out


def _condition(resource: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "code", _concept(resource.get("code")))
    _put(out, "clinicalStatus", _status(resource.get("clinicalStatus")))
    _put(out, "verificationStatus", _status(resource.get("verificationStatus")))
    _put(out, "category", _concepts(resource.get("category")))
    _put(out, "severity", _concept(resource.get("severity")))
    _put(out, "bodySite", _concepts(resource.get("bodySite")))
    _put(out, "onset", _choice(resource, "onset"))
    _put(out, "abatement", _choice(resource, "abatement"))
    _put(out, "recorded", resource.get("recordedDate"))
    return out


def _timing_text(timing: object) -> str | None:
    """``Timing.repeat`` as ``<frequency>/<period><unit>``, e.g. ``1/d``, ``2/12h``."""
    if not isinstance(timing, Mapping):
        return None
    repeat = timing.get("repeat")
    if isinstance(repeat, Mapping) and "periodUnit" in repeat:
        period = repeat.get("period", 1)
        period_text = "" if period == 1 else f"{period:g}"
        return f"{repeat.get('frequency', 1)}/{period_text}{repeat['periodUnit']}"
    concept = _concept(timing.get("code"))
    return _short_text(concept) if concept else None


def _dose_text(dosage: Mapping[str, Any]) -> str | None:
    for dose_rate in dosage.get("doseAndRate", []):
        quantity = _quantity(dose_rate.get("doseQuantity"))
        if quantity and "value" in quantity:
            return f"{quantity['value']:g} {quantity.get('unit', '')}".strip()
        dose_range = dose_rate.get("doseRange")
        if isinstance(dose_range, Mapping):
            low, high = _quantity(dose_range.get("low")), _quantity(dose_range.get("high"))
            if low and high and "value" in low and "value" in high:
                return f"{low['value']:g}-{high['value']:g} {high.get('unit', '')}".strip()
    return None


def _dosage(dosage: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "text", dosage.get("text"))
    _put(out, "dose", _dose_text(dosage))
    _put(out, "frequency", _timing_text(dosage.get("timing")))
    _put(out, "route", _concept(dosage.get("route")))
    _put(out, "asNeeded", dosage.get("asNeededBoolean"))
    return out


def _medication_concept(
    resource: Mapping[str, Any], index: BundleIndex | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The medication's code, and the Medication resource it came from (if referenced)."""
    if "medicationCodeableConcept" in resource:
        return _concept(resource["medicationCodeableConcept"]), None
    reference = resource.get("medicationReference")
    if reference is None:
        return None, None
    path = f"{resource['resourceType']}.medicationReference"
    medication = index.resolve(reference, container=resource) if index else None
    if medication is None:
        display = reference.get("display") if isinstance(reference, Mapping) else None
        if isinstance(display, str):
            return {"text": display}, None
        raise _reference_error(path)
    if medication.get("resourceType") != "Medication":
        raise _reference_error(path)
    concept = _concept(medication.get("code"))
    if concept is None:
        raise InvalidInputError(
            f"{path} names a Medication without a code; a medication credential needs one",
            code=ErrorCode.INVALID_FHIR,
            details={"path": f"{path}.code", "reason": "missing"},
        )
    return concept, medication


def _medication(
    resource: Mapping[str, Any], index: BundleIndex | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    concept, medication = _medication_concept(resource, index)
    out: dict[str, Any] = {}
    _put(out, "code", concept)
    if medication is not None:
        _put(out, "form", _concept(medication.get("form")))
    _put(out, "status", resource.get("status"))
    if resource["resourceType"] == "MedicationRequest":
        _put(out, "intent", resource.get("intent"))
        _put(out, "authored", resource.get("authoredOn"))
        dosages = resource.get("dosageInstruction", [])
    else:
        _put(out, "effective", _choice(resource, "effective"))
        dosages = resource.get("dosage", [])
    _put(out, "dosage", [d for d in (_dosage(x) for x in dosages) if d])
    _put(out, "reasons", _concepts(resource.get("reasonCode")))
    return out, medication


def _performer_name(resource: Mapping[str, Any], index: BundleIndex | None) -> str | None:
    for performer in resource.get("performer", []):
        actor = performer.get("actor", {})
        if isinstance(actor.get("display"), str):
            return str(actor["display"])
        target = index.resolve(actor, container=resource) if index else None
        if target is not None and isinstance(target.get("name"), str):
            return str(target["name"])
    return None


def _immunization(resource: Mapping[str, Any], index: BundleIndex | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "vaccine", _concept(resource.get("vaccineCode")))
    _put(out, "status", resource.get("status"))
    _put(out, "statusReason", _concept(resource.get("statusReason")))
    _put(out, "occurrence", _choice(resource, "occurrence"))
    _put(out, "lotNumber", resource.get("lotNumber"))
    protocols = resource.get("protocolApplied", [])
    if protocols:
        protocol = protocols[0]
        _put(out, "doseNumber", _choice(protocol, "doseNumber"))
        _put(out, "seriesDoses", _choice(protocol, "seriesDoses"))
        _put(out, "series", protocol.get("series"))
        _put(out, "targetDisease", _concepts(protocol.get("targetDisease")))
    _put(out, "performer", _performer_name(resource, index))
    return out


def _observation_kind(resource: Mapping[str, Any]) -> str:
    """``bloodType`` (by LOINC), else the first ``observation-category`` code, else ``other``."""
    if _has_code(resource.get("code"), _LOINC, BLOOD_TYPE_LOINC):
        return "bloodType"
    for category in resource.get("category", []):
        code = _status(category)
        if code:
            return code
    return "other"


_OBSERVATION_NAMES: Final = {
    "bloodType": "Blood type",
    "laboratory": "Laboratory result",
    "vital-signs": "Vital sign",
}


def _observation_value(source: Mapping[str, Any]) -> Any:
    return _choice(source, "value")


def _observation(resource: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": _observation_kind(resource)}
    _put(out, "code", _concept(resource.get("code")))
    _put(out, "status", resource.get("status"))
    _put(out, "category", _concepts(resource.get("category")))
    _put(out, "effective", _choice(resource, "effective"))
    _put(out, "issued", resource.get("issued"))
    _put(out, "value", _observation_value(resource))
    _put(out, "dataAbsentReason", _concept(resource.get("dataAbsentReason")))
    _put(out, "interpretation", _concepts(resource.get("interpretation")))
    ranges = []
    for item in resource.get("referenceRange", []):
        entry: dict[str, Any] = {}
        _put(entry, "low", _quantity(item.get("low")))
        _put(entry, "high", _quantity(item.get("high")))
        _put(entry, "text", item.get("text"))
        if entry:
            ranges.append(entry)
    _put(out, "referenceRange", ranges)
    components = []
    for component in resource.get("component", []):
        entry = {}
        _put(entry, "code", _concept(component.get("code")))
        _put(entry, "value", _observation_value(component))
        _put(entry, "dataAbsentReason", _concept(component.get("dataAbsentReason")))
        _put(entry, "interpretation", _concepts(component.get("interpretation")))
        components.append(entry)
    _put(out, "components", components)
    _put(out, "bodySite", _concept(resource.get("bodySite")))
    _put(out, "method", _concept(resource.get("method")))
    return out


_TOPIC_OF: Final = {
    "AllergyIntolerance": (CredentialKind.ALLERGY_INTOLERANCE, "allergy"),
    "Condition": (CredentialKind.CONDITION, "condition"),
    "MedicationStatement": (CredentialKind.MEDICATION, "medication"),
    "MedicationRequest": (CredentialKind.MEDICATION, "medication"),
    "Immunization": (CredentialKind.IMMUNIZATION, "immunization"),
    "Observation": (CredentialKind.OBSERVATION, "observation"),
}
_NAMES: Final = {
    CredentialKind.ALLERGY_INTOLERANCE: "Allergy or intolerance",
    CredentialKind.CONDITION: "Health problem",
    CredentialKind.MEDICATION: "Medication",
    CredentialKind.IMMUNIZATION: "Immunization",
    CredentialKind.OBSERVATION: "Observation",
    CredentialKind.EMERGENCY_SUMMARY: "Emergency health summary",
    CredentialKind.CLAIM_EVIDENCE: "Hospital treatment evidence for an insurance claim",
}


def claims_for_resource(
    resource: Mapping[str, Any], bundle_index: BundleIndex | None = None
) -> RecordClaims:
    """The claims of a single-topic credential for one validated FHIR resource.

    Supported: AllergyIntolerance, Condition, MedicationStatement and MedicationRequest (both
    ``MedicationCredential``), Immunization and Observation (laboratory, vital signs, blood
    type). The resource should come from :func:`issuer.fhir.parse_fhir_input`.

    :param bundle_index: resolves references (``medicationReference``); without it only a
        reference's ``display`` can be used.
    Inside :func:`issuer.fhir.using_precomputed`, and without ``bundle_index``, the mapping
    computed for this very object in a worker process (:func:`map_record`, :mod:`issuer.batch`)
    is used, or its typed error raised, instead of mapping the resource again.

    :raises InvalidInputError: ``invalidFhir`` when the type has no credential
        (``details['reason']`` ``unsupportedResourceType``) or a needed reference does not
        resolve (``unresolvedReference``), with ``details['path']``.
    """
    if bundle_index is None:
        known = precomputed(resource)
        if known is not None and known.claims is not None:
            mapped = known.claims.result()
            if isinstance(mapped, MappedRecord):
                return _assemble(resource, mapped, [])
    mapped, included = _map(resource, bundle_index)
    return _assemble(resource, mapped, included)


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """What :func:`claims_for_resource` derives from one resource other than the resource
    itself: small, so that a batch's worker process can send it back cheaply (the resource is
    already in the batch process).

    :param digest: :func:`record_digest` of the resource alone, when computed with it.
    """

    kind: CredentialKind
    name: str
    topic: str
    body: dict[str, Any]
    disclosable: tuple[ClaimPath, ...]
    digest: str | None = None


def map_record(resource: Mapping[str, Any]) -> MappedRecord:
    """The mapping of a validated resource without a bundle index, with its digest: what a
    batch's worker computes for :func:`claims_for_resource` (a pure function of the resource).

    :raises InvalidInputError: as :func:`claims_for_resource`.
    """
    mapped, _ = _map(resource, None)  # Nothing is included without a bundle index.
    return MappedRecord(
        mapped.kind,
        mapped.name,
        mapped.topic,
        mapped.body,
        mapped.disclosable,
        record_digest(resource),
    )


def _map(
    resource: Mapping[str, Any], bundle_index: BundleIndex | None
) -> tuple[MappedRecord, list[dict[str, Any]]]:
    """The claims' mapping, and the resources to include (a referenced Medication)."""
    kind_name = resource.get("resourceType")
    if kind_name not in _TOPIC_OF:
        raise InvalidInputError(
            f"no credential type for FHIR {str(kind_name)[:64]}; supported: "
            f"{', '.join(sorted(_TOPIC_OF))}",
            code=ErrorCode.INVALID_FHIR,
            details={"path": "resourceType", "reason": "unsupportedResourceType"},
        )
    kind, topic = _TOPIC_OF[kind_name]
    included: list[dict[str, Any]] = []
    name = _NAMES[kind]
    if kind is CredentialKind.ALLERGY_INTOLERANCE:
        body = _allergy(resource)
    elif kind is CredentialKind.CONDITION:
        body = _condition(resource)
    elif kind is CredentialKind.MEDICATION:
        body, medication = _medication(resource, bundle_index)
        if medication is not None:
            included.append(medication)
    elif kind is CredentialKind.IMMUNIZATION:
        body = _immunization(resource, bundle_index)
    else:
        body = _observation(resource)
        name = _OBSERVATION_NAMES.get(body["kind"], name)
    disclosable = tuple(_field_paths(body, (topic,)))
    return MappedRecord(kind, name, topic, body, disclosable), included


def _assemble(
    resource: Mapping[str, Any], mapped: MappedRecord, included: list[dict[str, Any]]
) -> RecordClaims:
    kind = mapped.kind
    # Not copied: the credential builders copy what they embed (``build_credential``'s JSON
    # round trip), so a copy here would be a second one per credential.
    subject: dict[str, Any] = {"fhirVersion": FHIR_VERSION, "fhirResource": dict(resource)}
    if included:
        subject["fhirIncluded"] = included
    source_ids = (_source_id(resource), *(_source_id(r) for r in included))
    rid = resource.get("id")
    if mapped.digest is not None and not included:
        content = mapped.digest
    else:
        content = record_digest(resource, included)
    kind_name = resource.get("resourceType")
    record_key = f"{kind_name}/{rid}#{content}" if isinstance(rid, str) else f"{kind}#{content}"
    return RecordClaims(
        kind=kind,
        name=mapped.name,
        subject=subject,
        sd_claims={mapped.topic: mapped.body},
        disclosable=mapped.disclosable,
        vct=kind.vct,
        source_ids=source_ids,
        record_key=record_key,
    )


def record_digest(resource: Mapping[str, Any], included: Sequence[Mapping[str, Any]] = ()) -> str:
    """The content digest ending a single-topic ``record_key``: SHA-256 over the JCS of the
    resource and the resources included with it (a pure function of them, which a batch
    computes in its worker process)."""
    return _digest({"resource": resource, "included": list(included)})


def _is_void(resource: Mapping[str, Any]) -> bool:
    return (
        resource.get("status") in _VOID
        or _status(resource.get("verificationStatus")) in _VOID
        or (resource.get("resourceType") == "Observation" and resource.get("status") == "cancelled")
    )


def _is_grouper(resource: Mapping[str, Any]) -> bool:
    """An Observation that only groups others (a panel with ``hasMember``, no value)."""
    return (
        resource.get("resourceType") == "Observation"
        and bool(resource.get("hasMember"))
        and _observation_value(resource) is None
        and not resource.get("component")
        and "dataAbsentReason" not in resource
    )


def records_from_bundle(
    resources: Sequence[Mapping[str, Any]], index: BundleIndex | None = None
) -> list[RecordClaims]:
    """One single-topic credential per topic resource of a validated input, in input order.

    Resources of other types (Patient, Composition, Medication...) are context, not records.
    Skipped: records ``entered-in-error`` (and cancelled observations), and panel Observations
    that only group members (each member becomes its own credential).

    :param index: from :func:`issuer.fhir.read_fhir_input`; built from ``resources`` if absent.
    :raises InvalidInputError: see :func:`claims_for_resource`.
    """
    index = index or BundleIndex.of(resources)
    return [
        claims_for_resource(resource, index)
        for resource in resources
        if resource.get("resourceType") in _TOPIC_OF
        and not _is_void(resource)
        and not _is_grouper(resource)
    ]


# --- emergency summary (IPS subset) ------------------------------------------------------------


def _abbreviate(system: object) -> str:
    if not isinstance(system, str):
        return "?"
    if system in _SYSTEM_ABBREVIATIONS:
        return _SYSTEM_ABBREVIATIONS[system]
    if system.startswith(_HL7_CODE_SYSTEM):
        return system.removeprefix(_HL7_CODE_SYSTEM)
    return system


def _clean_display(coding: Mapping[str, Any]) -> str | None:
    """A coding's display without a SNOMED CT semantic tag (``(substance)``, ``(finding)``)."""
    display = coding.get("display")
    if not isinstance(display, str):
        return None
    return _SEMANTIC_TAG.sub("", display) if coding.get("system") == _SNOMED else display


def _short_text(concept: Mapping[str, Any]) -> str | None:
    """A flattened concept's text, or its display without a SNOMED CT semantic tag."""
    if isinstance(concept.get("text"), str):
        return str(concept["text"])
    return _clean_display(concept)


def _compact(concept: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{"code": "<system-abbrev>|<code>", "text": "<display>"}`` of a flattened concept.

    The codings of one CodeableConcept all mean the same concept (FHIR R4 section 2.24.0.2),
    so the one with the shortest display is taken: for a medicinal product that is usually
    the active ingredient (ATC), which an emergency doctor anywhere reads. A concept's own
    ``text`` wins over displays.
    """
    if concept is None:
        return None
    codings = [concept, *concept.get("otherCodings", [])]
    codings = [c for c in codings if "code" in c]
    chosen: Mapping[str, Any] | None = codings[0] if codings else None
    text = concept.get("text") if isinstance(concept.get("text"), str) else None
    if text is None:
        labelled = [c for c in codings if _clean_display(c)]
        if labelled:
            chosen = min(labelled, key=lambda c: len(_clean_display(c) or ""))
            text = _clean_display(chosen)
    out: dict[str, Any] = {}
    if chosen is not None:
        out["code"] = f"{_abbreviate(chosen.get('system'))}|{chosen['code']}"
    _put(out, "text", _shorten(text) if text is not None else None)
    return out or None


def _shorten(text: str) -> str:
    """``text`` cut at a word boundary to :data:`EMERGENCY_TEXT_MAX` characters, ending in
    "..." when cut (ASCII: a Disclosure's JSON escapes anything else to six characters).

    The code beside it stays exact; the full text is in the topic credential."""
    if len(text) <= EMERGENCY_TEXT_MAX:
        return text
    cut = text[: EMERGENCY_TEXT_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}..."


def _subject_reference(resource: Mapping[str, Any]) -> object:
    return resource.get("subject", resource.get("patient"))


def _about(
    resource: Mapping[str, Any], patient: Mapping[str, Any] | None, index: BundleIndex
) -> bool:
    """Whether ``resource`` is about ``patient`` (or has no subject to say otherwise)."""
    if patient is None:
        return True
    reference = _subject_reference(resource)
    if reference is None:
        return True
    target = index.resolve(reference)
    if target is not None:
        return target is patient
    text = reference.get("reference") if isinstance(reference, Mapping) else None
    return isinstance(text, str) and text.endswith(f"Patient/{patient.get('id')}")


def _select_patient(
    resources: Sequence[Mapping[str, Any]], patient_id: str | None
) -> Mapping[str, Any] | None:
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if patient_id is not None:
        for patient in patients:
            if patient.get("id") == patient_id:
                return patient
        raise InvalidInputError(
            "the input has no Patient with the patient_id given",
            code=ErrorCode.INVALID_FHIR,
            details={"path": "Patient.id", "reason": "patientNotFound"},
        )
    if len(patients) > 1:
        raise InvalidInputError(
            "the input has several Patients; pass patient_id to say whose summary to build",
            code=ErrorCode.INVALID_FHIR,
            details={"path": "Patient", "reason": "severalPatients"},
        )
    return patients[0] if patients else None


def _is_active_allergy(resource: Mapping[str, Any]) -> bool:
    return _status(resource.get("clinicalStatus")) in (None, "active") and _status(
        resource.get("verificationStatus")
    ) not in ("refuted", "entered-in-error")


def _is_active_problem(resource: Mapping[str, Any]) -> bool:
    # "recurrence" and "relapse" are kinds of "active" in the condition-clinical code system.
    return _status(resource.get("clinicalStatus")) in (
        "active",
        "recurrence",
        "relapse",
    ) and _status(resource.get("verificationStatus")) not in ("refuted", "entered-in-error")


def _emergency_allergy(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    item = _compact(_concept(resource.get("code")))
    if item is None:
        return None
    if "criticality" in resource:
        item["criticality"] = resource["criticality"]
    else:
        severities = [r.get("severity") for r in resource.get("reaction", [])]
        for level in ("severe", "moderate", "mild"):
            if level in severities:
                item["severity"] = level
                break
    return item


def _emergency_problem(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    # Code and text only: the QR budget goes to more problems rather than their severity.
    return _compact(_concept(resource.get("code")))


def _emergency_medication(resource: Mapping[str, Any], index: BundleIndex) -> dict[str, Any] | None:
    concept, _ = _medication_concept(resource, index)
    item = _compact(concept)
    if item is None:
        return None
    dosages = resource.get(
        "dosageInstruction" if resource["resourceType"] == "MedicationRequest" else "dosage", []
    )
    if dosages:
        dosage = dosages[0]
        text = dosage.get("text")
        if not isinstance(text, str):
            parts = [_dose_text(dosage), _timing_text(dosage.get("timing"))]
            text = " ".join(p for p in parts if p) or None
        _put(item, "dose", text)
    return item


def _blood_type(observations: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The latest combined ABO/Rh result (882-1), else ABO (883-9) and Rh (10331-7) joined."""

    def latest(code: str) -> Mapping[str, Any] | None:
        found = [o for o in observations if _has_code(o.get("code"), _LOINC, [code])]
        found.sort(key=lambda o: str(_choice(o, "effective") or o.get("issued") or ""))
        return found[-1] if found else None

    def value(observation: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if observation is None:
            return None
        result = _observation_value(observation)
        if isinstance(result, str):
            return {"text": result}
        return _compact(result) if isinstance(result, Mapping) else None

    combined = value(latest("882-1"))
    if combined is not None:
        return combined
    parts = [p for p in (value(latest("883-9")), value(latest("10331-7"))) if p is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return {"text": " ".join(str(p.get("text", p.get("code", ""))) for p in parts)}


def _advance_directive(
    resources: Sequence[Mapping[str, Any]], index: BundleIndex
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The IPS advance directives section's entries (Consent, DocumentReference), else any
    Consent with scope ``adr`` (consent-scope code system), summarised: the latest one."""
    candidates: list[Mapping[str, Any]] = []
    for composition in (r for r in resources if r.get("resourceType") == "Composition"):
        for section in composition.get("section", []):
            if _has_code(section.get("code"), _LOINC, [_SECTION_ADVANCE_DIRECTIVES]):
                for entry in section.get("entry", []):
                    target = index.resolve(entry)
                    if target is not None:
                        candidates.append(target)
    for resource in resources:
        if (
            resource.get("resourceType") == "Consent"
            and _status(resource.get("scope")) == "adr"
            and not any(resource is c for c in candidates)
        ):
            candidates.append(resource)
    candidates = [
        c
        for c in candidates
        if c.get("resourceType") in ("Consent", "DocumentReference")
        and c.get("status") in ("active", "current")
    ]
    if not candidates:
        return None
    chosen = max(candidates, key=lambda c: str(c.get("dateTime") or c.get("date") or ""))
    item: dict[str, Any] = {}
    if chosen["resourceType"] == "Consent":
        provision = chosen.get("provision", {})
        codes = provision.get("code", [])
        concept = _concept(codes[0]) if codes else None
        if concept is None:
            categories = chosen.get("category", [])
            concept = _concept(categories[0]) if categories else None
        item = _compact(concept) or {}
        if provision.get("type") in ("permit", "deny"):
            item["provision"] = provision["type"]
        _put(item, "date", chosen.get("dateTime"))
    else:
        item = _compact(_concept(chosen.get("type"))) or {}
        if isinstance(chosen.get("description"), str):
            item["text"] = chosen["description"]
        _put(item, "date", chosen.get("date"))
    return (item, chosen) if item else None


def _is_emergency_contact(relationships: object) -> bool:
    return any(
        _has_code(r, _V2_0131, ["C"]) or _has_code(r, _V3_ROLE, ["ECON"])
        for r in (relationships if isinstance(relationships, list) else [])
    )


def _contact(name: object, telecom: object) -> dict[str, Any] | None:
    """A contact as ``{"name", "phone"}`` only: no address, relationship or other telecom."""
    names = name if isinstance(name, list) else [name]
    out: dict[str, Any] = {}
    for human in names:
        if not isinstance(human, Mapping):
            continue
        if isinstance(human.get("text"), str):
            out["name"] = human["text"]
        else:
            parts = [*human.get("given", []), human.get("family")]
            out["name"] = " ".join(str(p) for p in parts if p)
        break
    for point in telecom if isinstance(telecom, list) else []:
        if isinstance(point, Mapping) and point.get("system") == "phone" and "value" in point:
            out["phone"] = point["value"]
            break
    return out if out.get("name") or out.get("phone") else None


def _emergency_contacts(
    resources: Sequence[Mapping[str, Any]],
    patient: Mapping[str, Any] | None,
    index: BundleIndex,
) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    for item in (patient or {}).get("contact", []):
        if _is_emergency_contact(item.get("relationship")):
            found = _contact(item.get("name"), item.get("telecom"))
            if found:
                contacts.append(found)
    for person in resources:
        if (
            person.get("resourceType") == "RelatedPerson"
            and person.get("active", True)
            and _about(person, patient, index)
            and _is_emergency_contact(person.get("relationship"))
        ):
            found = _contact(person.get("name"), person.get("telecom"))
            if found and found not in contacts:
                contacts.append(found)
    return contacts


def _composite_key(kind: CredentialKind, sources: Sequence[str], claims: Any) -> str:
    return f"{kind}#{_digest({'sources': list(sources), 'claims': claims})}"


def emergency_summary(
    resources: Sequence[Mapping[str, Any]],
    *,
    patient_id: str | None = None,
    index: BundleIndex | None = None,
) -> RecordClaims:
    """The emergency subset of an IPS: what an emergency doctor must know, and nothing more.

    Members (each present only when the record has something to say; absence means "no
    information", never "none"):

    * ``allergies``: active, not refuted AllergyIntolerances, ``{code, text, criticality}`` (or
      the worst reaction ``severity`` when no criticality is recorded);
    * ``problems``: Conditions whose clinicalStatus is active (or recurrence, relapse),
      ``{code, text, severity}``;
    * ``medications``: MedicationStatements and MedicationRequests with status active,
      ``{code, text, dose}``;
    * ``bloodType``: ``{code, text}`` of the latest LOINC 882-1 result (or 883-9 with 10331-7);
    * ``advanceDirective``: the latest active Consent or current DocumentReference of the IPS
      advance directives section (42348-3) or with Consent scope ``adr``: ``{code, text,
      provision, date}``;
    * ``emergencyContact``: ``[{name, phone}]`` from Patient.contact with relationship ``C``
      (v2-0131) or ``ECON`` (v3-RoleCode), or such a RelatedPerson.

    Codes are ``<system-abbrev>|<code>`` (``sct``, ``ln``, ``atc``, ``icd10``, ``rxn``...) and
    texts drop SNOMED CT semantic tags, so the SD-JWT fits one QR code. Each member is one
    Disclosure: a list is disclosed whole, since half an allergy list misleads more than none.

    :param patient_id: the ``Patient.id`` whose records to take; needed when the input has
        several Patients.
    :raises InvalidInputError: ``invalidFhir``: several Patients and no ``patient_id``, an
        unknown ``patient_id``, an unresolvable ``medicationReference``, or nothing for an
        emergency summary in the input (``details['reason']`` ``noEmergencyContent``).
    """
    index = index or BundleIndex.of(resources)
    patient = _select_patient(resources, patient_id)
    mine = [r for r in resources if _about(r, patient, index) and not _is_void(r)]
    used: list[Mapping[str, Any]] = []

    def collect(items: Iterable[tuple[Mapping[str, Any], dict[str, Any] | None]]) -> list[Any]:
        out = []
        for resource, item in items:
            if item is not None and item not in out:
                out.append(item)
                used.append(resource)
        return out

    summary: dict[str, Any] = {}
    _put(
        summary,
        "allergies",
        collect(
            (r, _emergency_allergy(r))
            for r in mine
            if r["resourceType"] == "AllergyIntolerance" and _is_active_allergy(r)
        ),
    )
    _put(
        summary,
        "problems",
        collect(
            (r, _emergency_problem(r))
            for r in mine
            if r["resourceType"] == "Condition" and _is_active_problem(r)
        ),
    )
    _put(
        summary,
        "medications",
        collect(
            (r, _emergency_medication(r, index))
            for r in mine
            if r["resourceType"] in ("MedicationStatement", "MedicationRequest")
            and r.get("status") == "active"
        ),
    )
    observations = [
        r
        for r in mine
        if r["resourceType"] == "Observation"
        and r.get("status") in ("final", "amended", "corrected")
        and _has_code(r.get("code"), _LOINC, BLOOD_TYPE_LOINC)
    ]
    blood = _blood_type(observations)
    if blood is not None:
        summary["bloodType"] = blood
        used.extend(observations)
    directive = _advance_directive(mine, index)
    if directive is not None:
        summary["advanceDirective"] = directive[0]
        used.append(directive[1])
    contacts = _emergency_contacts(mine, patient, index)
    _put(summary, "emergencyContact", contacts)
    if not summary:
        raise InvalidInputError(
            "the input holds nothing for an emergency summary (no active allergy, problem or "
            "medication, blood type, advance directive or emergency contact)",
            code=ErrorCode.INVALID_FHIR,
            details={"path": "Bundle.entry", "reason": "noEmergencyContent"},
        )
    if patient is not None and contacts:
        used.append(patient)
    sources = tuple(dict.fromkeys(_source_id(r) for r in used))
    kind = CredentialKind.EMERGENCY_SUMMARY
    return RecordClaims(
        kind=kind,
        name=_NAMES[kind],
        subject=copy.deepcopy(summary),
        sd_claims=summary,
        disclosable=tuple((name,) for name in summary),
        vct=kind.vct,
        source_ids=sources,
        record_key=_composite_key(kind, sources, summary),
    )


# --- claim evidence ----------------------------------------------------------------------------


def _preferred(concept: object, prefer: str | None = None) -> dict[str, Any] | None:
    """A CodeableConcept as one coding (and ``text``), preferring a coding whose system
    contains ``prefer`` (``icd-10`` for diagnoses, which claims are coded in)."""
    if prefer is not None:
        for coding in _codings(concept):
            if prefer in str(coding.get("system", "")):
                return _coding(coding)
    flat = _concept(concept)
    if flat is not None:
        flat.pop("otherCodings", None)
    return flat


def _claim_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "code", _preferred(item.get("productOrService")))
    _put(out, "date", _choice(item, "serviced"))
    quantity = _quantity(item.get("quantity"))
    if quantity is not None:
        _put(out, "quantity", quantity.get("value"))
    _put(out, "unitPrice", _money(item.get("unitPrice")))
    _put(out, "factor", item.get("factor"))
    _put(out, "net", _money(item.get("net")))
    return out


def _charge_item(charge: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "code", _preferred(charge.get("code")))
    _put(out, "date", _choice(charge, "occurrence"))
    quantity = _quantity(charge.get("quantity"))
    count = quantity.get("value") if quantity else None
    _put(out, "quantity", count)
    price = _money(charge.get("priceOverride"))
    _put(out, "unitPrice", price)
    _put(out, "factor", charge.get("factorOverride"))
    if price is not None:
        net = price["value"] * (count if count is not None else 1)
        net *= charge.get("factorOverride", 1)
        _put(out, "net", {**price, "value": round(net, 2)})
    return out


def claim_evidence(
    resources: Sequence[Mapping[str, Any]], index: BundleIndex | None = None
) -> RecordClaims:
    """What an insurer needs to settle a claim for one hospital stay.

    Assembled from a discharge input (one encounter):

    * ``encounter``: the Encounter (the one a Claim item or ChargeItem names, else the first)
      as ``{class, type, period, dischargeDisposition}``;
    * ``diagnoses``: the Claim's ``diagnosis`` if there is a Claim, else the Encounter's
      ``diagnosis``, else every Condition of the encounter; each ``{code, role, rank}`` with the
      ICD-10 coding preferred;
    * ``procedures``: the Claim's ``procedure``, else every Procedure of the encounter;
      ``{code, date, status}``;
    * ``charges``: each ``Claim.item`` ``{code, date, quantity, unitPrice, factor, net}``, else
      each ChargeItem (``priceOverride`` as unit price, ``net`` computed);
    * ``chargeTotal``: ``Claim.total``, else the sum of the nets in one currency;
    * ``claimType``: ``Claim.type`` (``institutional``...), when there is a Claim.

    Every member, every list element and every field of an element is disclosable, so an
    insurer can ask for the principal diagnosis and the total without the rest.

    :raises InvalidInputError: ``invalidFhir`` when there is no Encounter
        (``details['reason']`` ``missingEncounter``) or a Claim's diagnosis or procedure
        reference does not resolve (``unresolvedReference``).
    """
    index = index or BundleIndex.of(resources)
    claims = [r for r in resources if r.get("resourceType") == "Claim" and not _is_void(r)]
    claim = claims[0] if claims else None
    charges_in = [
        r
        for r in resources
        if r.get("resourceType") == "ChargeItem" and r.get("status") != "entered-in-error"
    ]
    encounters = [r for r in resources if r.get("resourceType") == "Encounter"]
    encounter: Mapping[str, Any] | None = None
    for reference in [
        *(e for item in (claim or {}).get("item", []) for e in item.get("encounter", [])),
        *(c.get("context") for c in charges_in),
    ]:
        target = index.resolve(reference)
        if target is not None and target.get("resourceType") == "Encounter":
            encounter = target
            break
    if encounter is None and encounters:
        encounter = encounters[0]
    if encounter is None:
        raise InvalidInputError(
            "claim evidence needs the Encounter of the stay; the input has none",
            code=ErrorCode.INVALID_FHIR,
            details={"path": "Encounter", "reason": "missingEncounter"},
        )
    used: list[Mapping[str, Any]] = [encounter]

    def of_encounter(kind: str) -> list[Mapping[str, Any]]:
        found = [
            r
            for r in resources
            if r.get("resourceType") == kind
            and not _is_void(r)
            and index.refers_to(r.get("encounter"), encounter)
        ]
        return found or [r for r in resources if r.get("resourceType") == kind and not _is_void(r)]

    visit: dict[str, Any] = {}
    encounter_class = encounter.get("class")
    if isinstance(encounter_class, Mapping):
        _put(visit, "class", encounter_class.get("code"))
    types = encounter.get("type", [])
    _put(visit, "type", _preferred(types[0]) if types else None)
    _put(visit, "period", _period(encounter.get("period")))
    hospitalization = encounter.get("hospitalization", {})
    _put(visit, "dischargeDisposition", _preferred(hospitalization.get("dischargeDisposition")))

    diagnoses: list[dict[str, Any]] = []
    if claim is not None and claim.get("diagnosis"):
        for position, diagnosis in enumerate(claim["diagnosis"]):
            concept = diagnosis.get("diagnosisCodeableConcept")
            if concept is None:
                target = index.resolve(diagnosis.get("diagnosisReference"), container=claim)
                if target is None:
                    raise _reference_error(f"Claim.diagnosis[{position}].diagnosisReference")
                used.append(target)
                concept = target.get("code")
            item: dict[str, Any] = {}
            _put(item, "code", _preferred(concept, "icd-10"))
            roles = diagnosis.get("type", [])
            _put(item, "role", _status(roles[0]) if roles else None)
            _put(item, "rank", diagnosis.get("sequence"))
            diagnoses.append(item)
    elif encounter.get("diagnosis"):
        for position, diagnosis in enumerate(encounter["diagnosis"]):
            target = index.resolve(diagnosis.get("condition"), container=encounter)
            if target is None:
                raise _reference_error(f"Encounter.diagnosis[{position}].condition")
            used.append(target)
            item = {}
            _put(item, "code", _preferred(target.get("code"), "icd-10"))
            _put(item, "role", _status(diagnosis.get("use")))
            _put(item, "rank", diagnosis.get("rank"))
            diagnoses.append(item)
    else:
        for condition in of_encounter("Condition"):
            used.append(condition)
            diagnoses.append({"code": _preferred(condition.get("code"), "icd-10")})

    procedures: list[dict[str, Any]] = []
    if claim is not None and claim.get("procedure"):
        for position, procedure in enumerate(claim["procedure"]):
            concept = procedure.get("procedureCodeableConcept")
            target = None
            if concept is None:
                target = index.resolve(procedure.get("procedureReference"), container=claim)
                if target is None:
                    raise _reference_error(f"Claim.procedure[{position}].procedureReference")
                used.append(target)
                concept = target.get("code")
            item = {}
            _put(item, "code", _preferred(concept))
            _put(item, "date", procedure.get("date"))
            _put(item, "status", target.get("status") if target is not None else None)
            procedures.append(item)
    else:
        for procedure in of_encounter("Procedure"):
            used.append(procedure)
            item = {}
            _put(item, "code", _preferred(procedure.get("code")))
            _put(item, "date", _choice(procedure, "performed"))
            _put(item, "status", procedure.get("status"))
            procedures.append(item)

    charges: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    if claim is not None:
        used.append(claim)
        charges = [_claim_item(item) for item in claim.get("item", [])]
        total = _money(claim.get("total"))
    else:
        used.extend(charges_in)
        charges = [_charge_item(charge) for charge in charges_in]
    if total is None:
        nets = [c["net"] for c in charges if "net" in c]
        currencies = {n.get("currency") for n in nets}
        if nets and len(currencies) == 1:
            total = {"value": round(sum(n["value"] for n in nets), 2)}
            currency = currencies.pop()
            if currency is not None:
                total["currency"] = currency

    evidence: dict[str, Any] = {}
    _put(evidence, "encounter", visit)
    _put(evidence, "diagnoses", diagnoses)
    _put(evidence, "procedures", procedures)
    _put(evidence, "charges", charges)
    _put(evidence, "chargeTotal", total)
    if claim is not None:
        _put(evidence, "claimType", _status(claim.get("type")))
    paths: list[ClaimPath] = []
    for name, value in evidence.items():
        paths.append((name,))
        if isinstance(value, Mapping) and name == "encounter":
            paths.extend((name, field) for field in value)
        elif isinstance(value, list):
            paths.extend(_field_paths({name: value}, ())[1:])
    sources = tuple(dict.fromkeys(_source_id(r) for r in used))
    kind = CredentialKind.CLAIM_EVIDENCE
    return RecordClaims(
        kind=kind,
        name=_NAMES[kind],
        subject=copy.deepcopy(evidence),
        sd_claims=evidence,
        disclosable=tuple(paths),
        vct=kind.vct,
        source_ids=sources,
        record_key=_composite_key(kind, sources, evidence),
    )
