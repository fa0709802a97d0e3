"""Turn a hospital's FHIR record into a signed credential.

One credential per clinical topic (DESIGN.md, STYLE.md item 13): the FHIR resource travels
verbatim as a JSON literal (``fhirResource``, typed ``@json`` in the health context) so that
nothing the hospital recorded is reinterpreted or dropped on the way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from agent.clock import utcnow
from agent.credentials.contexts import HEALTH_V1
from agent.credentials.model import build_credential
from agent.credentials.proofs import add_proof
from agent.errors import ErrorCode, InvalidInputError
from agent.keys.signer import Signer
from issuer.fhir import FHIR_VERSION, validate_resource

__all__ = ["TOPICS", "issue_credential", "record_credential"]

#: FHIR resource type -> (credential type, human-readable name).
TOPICS: dict[str, tuple[str, str]] = {
    "AllergyIntolerance": ("AllergyIntoleranceCredential", "Allergy or intolerance"),
    "Condition": ("ConditionCredential", "Health problem"),
    "MedicationStatement": ("MedicationCredential", "Medication"),
    "MedicationRequest": ("MedicationCredential", "Medication"),
    "Immunization": ("ImmunizationCredential", "Immunization"),
    "Observation": ("ObservationCredential", "Observation"),
}


def record_credential(
    resource: dict[str, Any],
    *,
    issuer: str,
    subject: str,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned credential for one FHIR resource about ``subject`` (the citizen's DID).

    :raises agent.errors.InvalidInputError: ``invalidFhir`` when the resource is not valid FHIR
        or its type has no credential type.
    """
    validate_resource(resource)
    kind = resource["resourceType"]
    if kind not in TOPICS:
        raise InvalidInputError(
            f"no credential type for FHIR {kind}; supported: {', '.join(sorted(TOPICS))}",
            code=ErrorCode.INVALID_FHIR,
        )
    credential_type, name = TOPICS[kind]
    return build_credential(
        types=["VerifiableCredential", credential_type],
        issuer=issuer,
        subject={"id": subject, "fhirVersion": FHIR_VERSION, "fhirResource": resource},
        contexts=[HEALTH_V1],
        credential_id=credential_id or f"urn:uuid:{uuid.uuid4()}",
        valid_from=valid_from or utcnow(),
        valid_until=valid_until,
        name=name,
    )


def issue_credential(
    credential: dict[str, Any],
    signer: Signer,
    *,
    cryptosuite: str = "eddsa-jcs-2022",
    created: datetime | None = None,
) -> dict[str, Any]:
    """Sign ``credential`` with a Data Integrity proof (assertionMethod) and return the result."""
    return add_proof(
        credential,
        signer,
        cryptosuite=cryptosuite,
        proof_purpose="assertionMethod",
        created=created or utcnow(),
    )
