"""One exception hierarchy for health-mydata, every error with a machine-readable code.

Primitives raise these; the verifier turns them into named checks of a report; the HTTP layer
maps them to status codes in one exception handler; the CLI maps them to exit codes.

::

    HealthMyDataError (code: ErrorCode)
    ├── InvalidInputError            malformed input: not JSON, wrong shape, too large
    ├── DIDError
    │   ├── DIDResolutionError       invalidDid, notFound, methodNotSupported, ...
    │   └── DIDDocumentError         the document is malformed or lacks a key
    ├── KeyMaterialError             key missing, wrong algorithm, bad multikey
    ├── StorageError                 store cannot open (wrong key), duplicate, not found
    ├── CredentialError
    │   ├── DataModelError           violates a VC Data Model 2.0 rule
    │   ├── ContextError             JSON-LD context unknown, term undefined
    │   └── StatusError              status list not retrieved, not verified, too short
    ├── ProofError
    │   ├── CryptosuiteError         unsupported or downgraded suite, malformed proof
    │   └── SignatureError           the signature does not verify
    ├── ProtocolStateError           a message out of order for its state machine
    └── MessagingError               a DIDComm envelope is malformed, does not decrypt or verify

Where a specification defines an error code the code reuses it: DID Resolution
(``invalidDid``, ``notFound``, ``methodNotSupported``, ``representationNotSupported``,
``invalidDidUrl``), VC Data Integrity (``PROOF_VERIFICATION_ERROR``,
``PROOF_GENERATION_ERROR``, ``MALFORMED_PROOF_ERROR``, ``INVALID_DOMAIN_ERROR``,
``INVALID_CHALLENGE_ERROR``) and VC Data Model (``PARSING_ERROR``, ``MALFORMED_VALUE_ERROR``,
``RANGE_ERROR``) and Bitstring Status List (``STATUS_RETRIEVAL_ERROR``,
``STATUS_VERIFICATION_ERROR``, ``STATUS_LIST_LENGTH_ERROR``). Messages name the likely cause
and, where there is one, the fix. They never include key material or health data: only paths,
identifiers and types.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ContextError",
    "CredentialError",
    "CryptosuiteError",
    "DIDDocumentError",
    "DIDError",
    "DIDResolutionError",
    "DataModelError",
    "ErrorCode",
    "HealthMyDataError",
    "InvalidInputError",
    "KeyMaterialError",
    "MessagingError",
    "ProofError",
    "ProtocolStateError",
    "SignatureError",
    "StatusError",
    "StorageError",
]


class ErrorCode(StrEnum):
    """Machine-readable error codes. Spec-defined names are kept verbatim."""

    # Generic input problems.
    INVALID_INPUT = "invalidInput"
    PARSING_ERROR = "PARSING_ERROR"  # VC Data Model 2.0, section 7.1 (verification)
    INPUT_TOO_LARGE = "inputTooLarge"
    INVALID_FHIR = "invalidFhir"

    # DID Resolution v0.3, section 7.1 (resolution metadata errors).
    INVALID_DID = "invalidDid"
    INVALID_DID_URL = "invalidDidUrl"
    NOT_FOUND = "notFound"
    METHOD_NOT_SUPPORTED = "methodNotSupported"
    REPRESENTATION_NOT_SUPPORTED = "representationNotSupported"
    INVALID_DID_DOCUMENT = "invalidDidDocument"
    RESOLUTION_TIMEOUT = "resolutionTimeout"

    # Keys.
    KEY_NOT_FOUND = "keyNotFound"
    UNSUPPORTED_KEY_TYPE = "unsupportedKeyType"
    INVALID_MULTIKEY = "invalidMultikey"

    # Storage.
    STORE_NOT_FOUND = "storeNotFound"
    STORE_WRONG_KEY = "storeWrongKey"
    STORE_KEY_MALFORMED = "storeKeyMalformed"  # not a raw key at all: 32 bytes in base58
    STORE_DUPLICATE = "storeDuplicate"
    STORE_RECORD_NOT_FOUND = "storeRecordNotFound"
    STORE_BACKEND_ERROR = "storeBackendError"

    # VC Data Model 2.0.
    MALFORMED_VALUE_ERROR = "MALFORMED_VALUE_ERROR"
    RANGE_ERROR = "RANGE_ERROR"
    CONTEXT_NOT_ALLOWED = "contextNotAllowed"
    UNDEFINED_TERM = "undefinedTerm"

    # VC Data Integrity 1.0, section 2.5 (processing errors).
    PROOF_GENERATION_ERROR = "PROOF_GENERATION_ERROR"
    PROOF_VERIFICATION_ERROR = "PROOF_VERIFICATION_ERROR"
    PROOF_TRANSFORMATION_ERROR = "PROOF_TRANSFORMATION_ERROR"
    MALFORMED_PROOF_ERROR = "MALFORMED_PROOF_ERROR"
    MISMATCHED_PROOF_PURPOSE_ERROR = "MISMATCHED_PROOF_PURPOSE_ERROR"
    INVALID_DOMAIN_ERROR = "INVALID_DOMAIN_ERROR"
    INVALID_CHALLENGE_ERROR = "INVALID_CHALLENGE_ERROR"
    INVALID_PROOF_DATETIME = "INVALID_PROOF_DATETIME"
    UNSUPPORTED_CRYPTOSUITE = "unsupportedCryptosuite"

    # Protocols.
    PROTOCOL_STATE_ERROR = "protocolStateError"

    # SD-JWT (RFC 9901): the Disclosures or the Key Binding JWT do not fit the Issuer-signed JWT.
    SD_JWT_DISCLOSURE_MISMATCH = "sdJwtDisclosureMismatch"
    SD_JWT_KEY_BINDING_MISSING = "sdJwtKeyBindingMissing"
    SD_JWT_KEY_BINDING_MISMATCH = "sdJwtKeyBindingMismatch"

    # DIDComm Messaging v2 envelopes (agent.messaging).
    DIDCOMM_MALFORMED = "didcommMalformed"
    DIDCOMM_UNSUPPORTED_ALG = "didcommUnsupportedAlg"
    DIDCOMM_DECRYPT_FAILED = "didcommDecryptFailed"
    DIDCOMM_BAD_SIGNATURE = "didcommBadSignature"
    DIDCOMM_SENDER_MISMATCH = "didcommSenderMismatch"
    DIDCOMM_RECIPIENT_NOT_FOUND = "didcommRecipientNotFound"
    DIDCOMM_RECIPIENTS_MISMATCH = "didcommRecipientsMismatch"
    DIDCOMM_KEY_NOT_AUTHORIZED = "didcommKeyNotAuthorized"
    DIDCOMM_BAD_NESTING = "didcommBadNesting"
    DIDCOMM_DELIVERY_FAILED = "didcommDeliveryFailed"
    DIDCOMM_NO_ENDPOINT = "didcommNoEndpoint"
    DIDCOMM_INVALID_INVITATION = "didcommInvalidInvitation"

    # Bitstring Status List v1.0, section 3.5 (processing errors).
    STATUS_RETRIEVAL_ERROR = "STATUS_RETRIEVAL_ERROR"
    STATUS_VERIFICATION_ERROR = "STATUS_VERIFICATION_ERROR"
    STATUS_LIST_LENGTH_ERROR = "STATUS_LIST_LENGTH_ERROR"
    CREDENTIAL_REVOKED = "credentialRevoked"
    CREDENTIAL_SUSPENDED = "credentialSuspended"

    # Verification reports (verifier.verify).
    CREDENTIAL_NOT_VERIFIED = "credentialNotVerified"  # an embedded credential failed a check
    HOLDER_BINDING_ERROR = "holderBindingError"  # no holder, or a subject is not the holder

    # Issuer operations: the audit log (issuer.audit) and batch issuance jobs (issuer.batch).
    AUDIT_EVENT_UNKNOWN = "auditEventUnknown"  # not one of issuer.audit.AuditEvent
    AUDIT_FIELD_REFUSED = "auditFieldRefused"  # not an identifier: may carry health data
    BATCH_JOB_NOT_FOUND = "batchJobNotFound"
    BATCH_JOB_CONFLICT = "batchJobConflict"  # a job id reused for other patients
    BATCH_ITEM_INVALID = "batchItemInvalid"  # a malformed or duplicate patient item

    # Verifier: presentation requests, nonces, requested fields, trust, policies (verifier.*).
    NONCE_UNKNOWN = "nonceUnknown"  # never issued by this verifier, or purged after expiry
    NONCE_EXPIRED = "nonceExpired"  # issued, but its presentation request has expired
    NONCE_REPLAYED = "nonceReplayed"  # already used once (single use, across replicas)
    REQUEST_INVALID = "presentationRequestInvalid"  # a malformed presentation definition
    FIELD_MISSING = "requestedFieldMissing"  # a requested field is not in the presentation
    PURPOSE_MISMATCH = "purposeMismatch"  # made for a request of another purpose
    CLAIM_TYPE_MISMATCH = "claimTypeMismatch"  # evidence made for another claim type
    ISSUER_NOT_TRUSTED = "issuerNotTrusted"  # no operator trusted here accredits the issuer
    TRUST_LIST_INVALID = "trustListInvalid"  # a trust list or accreditation does not verify
    DUPLICATE_CLAIM = "duplicateClaim"  # claim evidence presented for a second claim

    # Wallet
    WALLET_DUPLICATE_CREDENTIAL = "walletDuplicateCredential"  # same id or same content
    WALLET_CREDENTIAL_NOT_FOUND = "walletCredentialNotFound"
    WALLET_UNSUPPORTED_FORMAT = "walletUnsupportedFormat"  # not W3C VC, SD-JWT VC or SHC
    WALLET_ISSUER_KEY_NOT_FOUND = "walletIssuerKeyNotFound"  # no JWKS key for a SHC's kid
    PRESENTATION_QUERY_INVALID = "presentationQueryInvalid"  # a malformed DCQL query
    PRESENTATION_NO_MATCH = "presentationNoMatch"  # no stored credential answers the query
    CONSENT_NOT_FOUND = "consentNotFound"
    CONSENT_NOT_ACTIVE = "consentNotActive"  # withdrawn already
    CONSENT_RECEIPT_MISMATCH = "consentReceiptMismatch"  # a receipt for no withdrawn consent
    CONSENT_HISTORY_BROKEN = "consentHistoryBroken"  # the hash chain does not verify
    BACKUP_WRONG_PHRASE = "backupWrongPhrase"
    BACKUP_CORRUPT = "backupCorrupt"  # truncated or altered
    BACKUP_TARGET_NOT_EMPTY = "backupTargetNotEmpty"

    # Emergency card (agent.credentials.emergency_qr, wallet.emergency).
    EMERGENCY_QR_UNSUPPORTED = "emergencyQrUnsupported"  # not HM1: (another prefix or version)
    EMERGENCY_QR_MALFORMED = "emergencyQrMalformed"  # garbled or truncated card text
    EMERGENCY_CARD_UNENCODABLE = "emergencyCardUnencodable"  # not a round-tripping SD-JWT
    EMERGENCY_CARD_TOO_LARGE = "emergencyCardTooLarge"  # the sections do not fit one QR code


class HealthMyDataError(Exception):
    """Base of every error health-mydata raises on purpose.

    :param code: the machine-readable code, stable across releases.
    :param message: a sentence for a person: what went wrong and what to do next.
    :param details: optional machine-readable context (a JSON path, a DID, a check name). Never
        key material, passphrases or health data.
    """

    default_code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code if code is not None else self.default_code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON for HTTP bodies and ``--json`` output."""
        body: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(HealthMyDataError):
    """Input that cannot be used at all: not JSON, not an object, too large, wrong encoding."""

    default_code = ErrorCode.INVALID_INPUT


class DIDError(HealthMyDataError):
    """Anything about DIDs and DID documents."""

    default_code = ErrorCode.INVALID_DID


class DIDResolutionError(DIDError):
    """A DID could not be resolved; ``code`` is a DID Resolution error code."""

    default_code = ErrorCode.NOT_FOUND


class DIDDocumentError(DIDError):
    """A resolved DID document is malformed or lacks the verification method asked for."""

    default_code = ErrorCode.INVALID_DID_DOCUMENT


class KeyMaterialError(HealthMyDataError):
    """A key is missing, of the wrong type, or its encoding (multikey, JWK) is malformed."""

    default_code = ErrorCode.KEY_NOT_FOUND


class StorageError(HealthMyDataError):
    """The store could not be opened or a record operation failed."""

    default_code = ErrorCode.STORE_BACKEND_ERROR


class CredentialError(HealthMyDataError):
    """A credential or presentation is not acceptable as a document."""

    default_code = ErrorCode.MALFORMED_VALUE_ERROR


class DataModelError(CredentialError):
    """A rule of the W3C VC Data Model 2.0 is broken; ``details['path']`` names where."""

    default_code = ErrorCode.MALFORMED_VALUE_ERROR


class ContextError(CredentialError):
    """A JSON-LD context is not shipped with the package, or a term is not defined by any."""

    default_code = ErrorCode.UNDEFINED_TERM


class ProofError(HealthMyDataError):
    """A Data Integrity proof could not be created or does not verify."""

    default_code = ErrorCode.PROOF_VERIFICATION_ERROR


class CryptosuiteError(ProofError):
    """The proof is malformed, or names a suite or purpose this verifier does not accept."""

    default_code = ErrorCode.MALFORMED_PROOF_ERROR


class SignatureError(ProofError):
    """The signature does not verify over the canonical document and proof options."""

    default_code = ErrorCode.PROOF_VERIFICATION_ERROR


class ProtocolStateError(HealthMyDataError):
    """A protocol message arrived in a state that does not allow it."""

    default_code = ErrorCode.PROTOCOL_STATE_ERROR


class StatusError(CredentialError):
    """A credential's status cannot be established: its Bitstring Status List could not be
    retrieved, does not verify, or is too short to give herd privacy (``STATUS_*`` codes); or
    the entry or list is malformed (``MALFORMED_VALUE_ERROR``, ``RANGE_ERROR``,
    ``inputTooLarge``)."""

    default_code = ErrorCode.STATUS_VERIFICATION_ERROR


class MessagingError(HealthMyDataError):
    """A DIDComm message or envelope is malformed, does not decrypt or verify, or names the wrong
    sender; ``code`` is one of the ``didcomm*`` codes."""

    default_code = ErrorCode.DIDCOMM_MALFORMED
