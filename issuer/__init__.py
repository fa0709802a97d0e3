"""Hospital issuer: FHIR records to credentials (status lists, did:web and the VC-API follow).

- :mod:`issuer.fhir`: FHIR R4 input (Bundles and resources); errors name the element path,
  never its value.
- :mod:`issuer.templates`: one credential type per clinical topic, plus the IPS emergency
  summary and claim evidence; what each says in the W3C VC and in the SD-JWT VC.
- :mod:`issuer.issue`: W3C VCs signed with Data Integrity, and SD-JWT VCs.
"""

from issuer.fhir import (
    BUNDLE_TYPES,
    FHIR_VERSION,
    BundleIndex,
    FhirInput,
    parse_fhir_input,
    read_fhir_input,
    validate_resource,
)
from issuer.issue import (
    SD_JWT_VC_TYPE,
    TOPICS,
    issue_credential,
    record_credential,
    sd_jwt_credential,
    w3c_credential,
)
from issuer.templates import (
    BLOOD_TYPE_LOINC,
    EMERGENCY_TEXT_MAX,
    VCT_BASE,
    CredentialKind,
    RecordClaims,
    claim_evidence,
    claims_for_resource,
    emergency_summary,
    records_from_bundle,
)

__all__ = [
    "BLOOD_TYPE_LOINC",
    "BUNDLE_TYPES",
    "EMERGENCY_TEXT_MAX",
    "FHIR_VERSION",
    "SD_JWT_VC_TYPE",
    "TOPICS",
    "VCT_BASE",
    "BundleIndex",
    "CredentialKind",
    "FhirInput",
    "RecordClaims",
    "claim_evidence",
    "claims_for_resource",
    "emergency_summary",
    "issue_credential",
    "parse_fhir_input",
    "read_fhir_input",
    "record_credential",
    "records_from_bundle",
    "sd_jwt_credential",
    "validate_resource",
    "w3c_credential",
]
