"""Turn a hospital's FHIR record into a signed credential.

One credential per clinical topic (DESIGN.md, STYLE.md item 13): the FHIR resource travels
verbatim as a JSON literal (``fhirResource``, typed ``@json`` in the health context) so that
nothing the hospital recorded is reinterpreted or dropped on the way.

Two formats from one :class:`issuer.templates.RecordClaims`:

* :func:`w3c_credential`: an unsigned W3C VC 2.0 credential, checked against the data model
  and, strictly, against the shipped JSON-LD contexts; sign it with :func:`issue_credential`.
* :func:`sd_jwt_credential`: an SD-JWT VC (RFC 9901, draft-ietf-oauth-sd-jwt-vc; ``typ``
  ``dc+sd-jwt``) with the template's claims selectively disclosable and the holder's key in
  ``cnf``.

:func:`record_credential` is the original one-resource shortcut and stays for its callers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from agent.clock import utcnow
from agent.credentials.contexts import HEALTH_V1, check_terms
from agent.credentials.model import build_credential
from agent.credentials.proofs import add_proof
from agent.credentials.sd_jwt import issue_sd_jwt
from agent.errors import ErrorCode, InvalidInputError
from agent.keys.signer import Signer
from issuer.fhir import FHIR_VERSION, validate_resource
from issuer.templates import RecordClaims

__all__ = [
    "SD_JWT_VC_TYPE",
    "TOPICS",
    "issue_credential",
    "record_credential",
    "sd_jwt_credential",
    "w3c_credential",
]

#: The ``typ`` of the SD-JWT VCs issued (draft-ietf-oauth-sd-jwt-vc, "dc+sd-jwt").
SD_JWT_VC_TYPE = "dc+sd-jwt"

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


_CHECKED_SHAPES: set[tuple[object, ...]] = set()


def w3c_credential(
    claims: RecordClaims,
    *,
    issuer: str | dict[str, Any],
    subject_did: str,
    valid_from: datetime,
    credential_id: str | None = None,
    valid_until: datetime | None = None,
    status: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An unsigned W3C VC 2.0 credential of ``claims`` about ``subject_did``.

    ``type`` is ``["VerifiableCredential", claims.kind]``, ``@context`` the VC 2.0 context and
    the health vocabulary, ``credentialSubject`` ``{"id": subject_did, **claims.subject}``.

    :param status: ``credentialStatus`` entries (Bitstring Status List), if any.
    :returns: the credential, validated (VC Data Model 2.0) and with every term defined by the
        shipped contexts (strict), ready for :func:`issue_credential`.
    :raises agent.errors.DataModelError: a rule of the data model is broken (e.g. a relative
        ``credential_id``, ``valid_until`` before ``valid_from``).
    :raises agent.errors.ContextError: a term is undefined (a template out of step with
        ``health-v1.jsonld``).
    """
    credential = build_credential(
        types=["VerifiableCredential", str(claims.kind)],
        issuer=issuer,
        subject={"id": subject_did, **claims.subject},
        contexts=[HEALTH_V1],
        credential_id=credential_id or f"urn:uuid:{uuid.uuid4()}",
        valid_from=valid_from,
        valid_until=valid_until,
        status=status,
        name=claims.name,
    )
    # The term check expands the whole document with pyld (milliseconds). A template's subject
    # members are @json literals or plain strings, so one check per shape covers every credential
    # of that shape; a batch of 100,000 pays for it once per kind.
    shape = (
        str(claims.kind),
        tuple(sorted(claims.subject)),
        tuple(sorted(str(entry.get("statusPurpose")) for entry in status or [])),
        valid_until is not None,
    )
    if shape not in _CHECKED_SHAPES:
        check_terms(credential, strict=True)
        _CHECKED_SHAPES.add(shape)
    return credential


def sd_jwt_credential(
    claims: RecordClaims,
    *,
    signer: Signer,
    issuer: str,
    holder_jwk: dict[str, Any] | None,
    iat: datetime,
    exp: datetime | None = None,
    status: dict[str, Any] | None = None,
    decoys: int = 0,
) -> str:
    """An SD-JWT VC of ``claims``: ``<Issuer-signed JWT>~<Disclosure>~...~`` (no KB-JWT).

    Every path of ``claims.disclosable`` is selectively disclosable; ``vct`` is
    ``claims.vct``; ``cnf.jwk`` binds it to the holder's key, so a presentation can carry a Key
    Binding JWT. ``holder_jwk=None`` issues it without ``cnf``: meant for the emergency card
    only, which is shown offline in one QR code without Key Binding (an unconscious patient
    cannot sign), so a holder key would cost about 125 of its 1,195 characters for nothing.
    ``status`` (e.g. ``{"status_list": {"idx": 7, "uri": "https://..."}}``) is never
    disclosable (SD-JWT VC forbids it).

    :param signer: the issuer's key; its ``verification_method`` becomes the ``kid``.
    :param issuer: the ``iss`` claim, the issuer's DID.
    :param decoys: decoy digests per ``_sd`` array (RFC 9901, section 4.2.5).
    :raises agent.errors.InvalidInputError: see :func:`agent.credentials.sd_jwt.issue_sd_jwt`.
    """
    payload: dict[str, Any] = dict(claims.sd_claims)
    if status is not None:
        if "status" in payload:
            raise InvalidInputError(
                "the template's claims already have a status claim",
                details={"claims": ["status"]},
            )
        payload["status"] = status
    return issue_sd_jwt(
        payload,
        signer,
        iss=issuer,
        iat=iat,
        exp=exp,
        disclosable=claims.disclosable,
        holder_jwk=holder_jwk,
        vct=claims.vct,
        typ=SD_JWT_VC_TYPE,
        decoys=decoys,
    )
