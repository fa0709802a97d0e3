"""Hospital issuer: FHIR records to credentials (status lists, did:web and the VC-API follow).

- :mod:`issuer.fhir`: FHIR R4 validation; errors name the element path, never its value.
- :mod:`issuer.issue`: one credential per clinical topic, signed with Data Integrity.
"""

from issuer.fhir import FHIR_VERSION, validate_resource
from issuer.issue import TOPICS, issue_credential, record_credential

__all__ = ["FHIR_VERSION", "TOPICS", "issue_credential", "record_credential", "validate_resource"]
