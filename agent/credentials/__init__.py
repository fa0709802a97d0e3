"""W3C Verifiable Credentials: the data model, JSON-LD contexts, JCS and Data Integrity proofs.

- :mod:`agent.credentials.model`: VC Data Model 2.0 rules (and 1.1 input), validity periods.
- :mod:`agent.credentials.contexts`: the pinned JSON-LD contexts; undefined terms are errors.
- :mod:`agent.credentials.jcs`: RFC 8785 canonical JSON, fast.
- :mod:`agent.credentials.suites`: ``eddsa-jcs-2022`` and ``eddsa-rdfc-2022``.
- :mod:`agent.credentials.proofs`: add and verify proofs, proof sets and chains, purposes.
- :mod:`agent.credentials.status_list`: Bitstring Status List codec, entries, list credentials.
"""

from agent.credentials.contexts import (
    HEALTH_V1,
    KNOWN_CONTEXTS,
    check_contexts,
    check_terms,
    document_loader,
    expand,
    jsonld_options,
    load_context,
)
from agent.credentials.jcs import canonicalize, format_number
from agent.credentials.model import (
    CREDENTIALS_V1_CONTEXT,
    CREDENTIALS_V2_CONTEXT,
    CredentialVersion,
    ModelRule,
    ValidityPeriodViolation,
    build_credential,
    check_validity_period,
    upgrade_v1_input,
    validate_credential,
    validate_presentation,
)
from agent.credentials.proofs import (
    DEFAULT_SUITES,
    ProofResult,
    add_proof,
    check_controller_binding,
    check_proof_controllers,
    verify_proofs,
)
from agent.credentials.status_list import (
    DEFAULT_MAX_DECODED_BYTES,
    ENTRY_TYPE,
    FINAL_PURPOSES,
    LIST_CREDENTIAL_TYPE,
    LIST_TYPE,
    MIN_ENTRIES,
    Bitstring,
    StatusEntry,
    StatusPurpose,
    StatusResult,
    check_status,
    credential_issuer,
    decode_list,
    encode_list,
    parse_status_entries,
    parse_status_entry,
    status_entry,
    status_list_credential,
)
from agent.credentials.suites import SUITES, Cryptosuite, EddsaJcs2022, EddsaRdfc2022, get_suite

__all__ = [
    "CREDENTIALS_V1_CONTEXT",
    "CREDENTIALS_V2_CONTEXT",
    "DEFAULT_MAX_DECODED_BYTES",
    "DEFAULT_SUITES",
    "ENTRY_TYPE",
    "FINAL_PURPOSES",
    "HEALTH_V1",
    "KNOWN_CONTEXTS",
    "LIST_CREDENTIAL_TYPE",
    "LIST_TYPE",
    "MIN_ENTRIES",
    "SUITES",
    "Bitstring",
    "CredentialVersion",
    "Cryptosuite",
    "EddsaJcs2022",
    "EddsaRdfc2022",
    "ModelRule",
    "ProofResult",
    "StatusEntry",
    "StatusPurpose",
    "StatusResult",
    "ValidityPeriodViolation",
    "add_proof",
    "build_credential",
    "canonicalize",
    "check_contexts",
    "check_controller_binding",
    "check_proof_controllers",
    "check_status",
    "check_terms",
    "check_validity_period",
    "credential_issuer",
    "decode_list",
    "document_loader",
    "encode_list",
    "expand",
    "format_number",
    "get_suite",
    "jsonld_options",
    "load_context",
    "parse_status_entries",
    "parse_status_entry",
    "status_entry",
    "status_list_credential",
    "upgrade_v1_input",
    "validate_credential",
    "validate_presentation",
    "verify_proofs",
]
