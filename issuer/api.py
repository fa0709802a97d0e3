"""The hospital's HTTP service: VC-API issue and status, did:web, status lists, DIDComm.

Routes (OpenAPI at ``/docs``):

==========================================  =====  ================================================
``POST /credentials/issue``                 admin  VC-API: sign a credential; 201
                                                   ``{"verifiableCredential": ...}``
``POST /credentials/status``                admin  VC-API: revoke, suspend or reinstate by id
``GET /.well-known/did.json``               open   the hospital's did:web document
``GET /accreditation``                      open   its accreditation credential (operator)
``POST /fhir/import``                       admin  FHIR R4 record to credentials, 422 naming
                                                   the bad element's path
``POST /batches``                           admin  start (or resume) a batch job; 202, or 422
                                                   naming the bad field before anything is stored
``GET /batches/{id}``                       admin  its state and counts (issued, failed)
``GET /batches/{id}/credentials``           admin  its credentials, a page at a time
``GET /batches/{id}/failures``              admin  its failed items: key, error code, message
``GET /status-lists/{list_id}``             open   a signed BitstringStatusListCredential, with
                                                   ``Cache-Control``, ``ETag`` and 304 answers
``GET /status-lists/{list_id}/token``       open   the same list as a Token Status List JWT
``POST /didcomm``, ``/admin/...``           mixed  the DIDComm agent (:mod:`agent.service`)
==========================================  =====  ================================================

Handlers only parse input, call :class:`issuer.hospital.Hospital` and serialise the result
(STYLE.md item 12). Bodies are parsed strictly (:mod:`agent.jsonio`): malformed JSON is a 400,
a credential that breaks the data model a 422, both with a machine-readable ``code``. Every
member a handler reads is checked, by type too, before anything is issued or stored: a flag is
a JSON boolean (``"false"`` is refused, not read as true), a list of formats names each once.

Batch jobs (:mod:`issuer.batch`) run in the background. The request is checked whole before the
202: ``jobId``, ``format`` and each patient's ``key``, ``subject``, ``fhir`` (an object) and
``holderJwk`` (an object; required for ``sd-jwt``); a bad one is a 422 naming its path
(``patients[3].subject``, never its value) and nothing is stored. What only issuing reveals (a
FHIR resource that does not validate or has no credential type, a key that is not a usable
public JWK) fails that patient's item alone: ``GET /batches/{id}`` counts the failed items and
``GET /batches/{id}/failures`` lists them, with the error's code and message (paths and types,
never a value of the record). A run that stops on an unexpected error leaves the job
``failed``: the job record says so when the run got that far; when it did not (the store failed
before the job started), this process remembers it and ``GET /batches/{id}`` answers ``failed``
with the error's type until the job is posted again, which resumes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from agent.credentials.jose import key_from_jwk
from agent.credentials.status_list import ENTRY_TYPE, LIST_CREDENTIAL_TYPE, parse_status_entry
from agent.errors import (
    DataModelError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    StatusError,
)
from agent.jsonio import DEFAULT_MAX_BYTES, parse_json_object
from agent.openapi import json_body, object_schema
from agent.runtime import DIDCommAgent
from agent.service import (
    AgentServiceConfig,
    create_agent_app,
    read_json_body,
    read_json_bytes,
    run_in_background,
)
from agent.status.publish import SignedCache, find_list, status_list_router
from issuer.accreditation import load_link
from issuer.batch import BatchJobs, JobState
from issuer.didcomm import RECORD_SELECTION, offer_router, register_issuance
from issuer.fhir import read_fhir_input
from issuer.hospital import FORMATS, Hospital, StatusAction
from issuer.requests import flag, record_formats
from issuer.templates import (
    CredentialKind,
    RecordClaims,
    claim_evidence,
    emergency_summary,
    records_from_bundle,
)

__all__ = ["create_hospital_app"]

log = logging.getLogger(__name__)

#: How long verifiers may cache a status list before asking again (seconds).
STATUS_LIST_MAX_AGE = 300

#: ``credentialStatus[].type`` values of ``POST /credentials/status`` that name this hospital's
#: status mechanism, the Bitstring Status List: the entry type its credentials carry (what
#: Digital Bazaar's clients send) and the list credential's type (the VC-API's example). The
#: member is optional (the ``status`` says which entry changes); any other type is refused.
STATUS_UPDATE_TYPES: Final = frozenset({ENTRY_TYPE, LIST_CREDENTIAL_TYPE})

#: A batch job's id, as :class:`issuer.batch.BatchJobs` accepts it.
_JOB_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,100}")
#: The largest page of ``GET /batches/{id}/credentials`` and ``/failures``.
_MAX_PAGE: Final = 1000


def _hospital(request: Request) -> Hospital:
    hospital: Hospital = request.app.state.hospital
    return hospital


async def _json_body(request: Request) -> dict[str, Any]:
    return await read_json_body(request)


def _status_cache_control(request: Request) -> str:
    """``Cache-Control`` of the status lists: ``mydata serve hospital --status-max-age``
    seconds; 0 is ``no-cache`` (every verifier fetch sees a change at once)."""
    max_age: int = request.app.state.status_max_age
    return f"public, max-age={max_age}" if max_age > 0 else "no-cache"


async def _check_managed_status(hospital: Hospital, credential_id: str) -> None:
    """The credential has this hospital's revocation and suspension entries (one issued with
    the client's own ``credentialStatus`` has not: its status is not managed here).

    :raises InvalidInputError: ``notFound``, unknown credential or no such entries.
    """
    record = await hospital.issued(credential_id)
    prefix = f"{hospital.base_url}/status-lists/"
    purposes = {
        entry.get("statusPurpose")
        for entry in record.status
        if isinstance(entry, Mapping) and str(entry.get("statusListCredential")).startswith(prefix)
    }
    # An SD-JWT VC's status is its revocation entry (its Token Status List carries no
    # suspension); one an earlier version's batch issued has that entry only on record.
    sd_jwt = credential_id.startswith("urn:sd-jwt:")
    needed = {"revocation"} if sd_jwt else {"revocation", "suspension"}
    if not needed <= purposes:
        raise InvalidInputError(
            "this credential was issued with the client's own credentialStatus; its status is "
            "not managed here",
            code=ErrorCode.NOT_FOUND,
            details={"reason": "clientStatus"},
        )


def _client_status(credential: Mapping[str, Any], hospital: Hospital) -> bool:
    """Whether the client gave its own ``credentialStatus``; each entry must be an object with
    a ``type`` (a string or a non-empty list of strings); ``id`` is optional. A
    ``BitstringStatusListEntry`` must meet every MUST of its specification; the rest (an
    ``id`` that is not a URL, an undefined type) is checked with the whole credential.

    :raises DataModelError: an entry that is not so (422, ``details.rule: credentialStatus``).
    """
    if "credentialStatus" not in credential:
        return False
    status = credential["credentialStatus"]
    entries = status if isinstance(status, list) else [status]
    if not entries:
        raise DataModelError(
            "credentialStatus is an empty list; omit it for the issuer's own entries",
            code=ErrorCode.MALFORMED_VALUE_ERROR,
            details={"path": "credentialStatus", "rule": "credentialStatus"},
        )
    for index, entry in enumerate(entries):
        path = f"credentialStatus[{index}]" if isinstance(status, list) else "credentialStatus"
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or not all(isinstance(k, str) and k for k in kinds):
            raise DataModelError(
                f"{path} must be an object with a type",
                code=ErrorCode.MALFORMED_VALUE_ERROR,
                details={"path": f"{path}.type", "rule": "credentialStatus"},
            )
        if kind == ENTRY_TYPE:
            # Never sign a Bitstring Status List entry a verifier would find malformed.
            try:
                parse_status_entry(entry)
            except StatusError as error:
                raise DataModelError(
                    f"{path}: {error.message}",
                    code=ErrorCode.MALFORMED_VALUE_ERROR,
                    details={"path": path, "rule": "credentialStatus"},
                ) from None
            # This hospital's lists hand out their indexes themselves (no collisions).
            if str(entry.get("statusListCredential")).startswith(
                f"{hospital.base_url}/status-lists/"
            ):
                raise DataModelError(
                    f"{path} points into this issuer's own status lists, whose indexes it "
                    "assigns; omit credentialStatus to get entries",
                    code=ErrorCode.MALFORMED_VALUE_ERROR,
                    details={"path": f"{path}.statusListCredential", "rule": "credentialStatus"},
                )
    return True


def _check_holder_jwk(holder_jwk: object, path: str) -> None:
    """``holder_jwk`` is a public JWK an SD-JWT VC can be bound to (:func:`key_from_jwk`).

    :raises InvalidInputError: 422 naming ``path``.
    """
    try:
        key_from_jwk(holder_jwk, "holderJwk")
    except HealthMyDataError as error:
        raise InvalidInputError(
            error.message, details={"path": path, "reason": "invalidJwk"}
        ) from None


def _status_changes(changes: list[Any]) -> list[str]:
    """The ``status`` of each ``credentialStatus`` item, all checked before any is applied.

    :raises InvalidInputError: ``PARSING_ERROR`` (400) for an item that is not an object with
        a string ``status``; 422 for an unknown ``status`` or a ``type`` not in
        :data:`STATUS_UPDATE_TYPES`.
    """
    actions: list[str] = []
    for index, change in enumerate(changes):
        path = f"credentialStatus[{index}]"
        if not isinstance(change, Mapping) or not isinstance(change.get("status"), str):
            raise InvalidInputError(
                "each credentialStatus item needs a 'status'", code=ErrorCode.PARSING_ERROR
            )
        if change["status"] not in StatusAction.ALL:
            raise InvalidInputError(
                f"{path}.status must be one of {sorted(StatusAction.ALL)}",
                details={"path": f"{path}.status", "reason": "unknownStatus"},
            )
        if "type" in change and change["type"] not in STATUS_UPDATE_TYPES:
            raise InvalidInputError(
                f"{path}.type must be one of {sorted(STATUS_UPDATE_TYPES)} (this hospital's "
                "credentials use the Bitstring Status List), or be left out",
                details={"path": f"{path}.type", "reason": "unsupportedStatusType"},
            )
        actions.append(change["status"])
    return actions


@dataclass(frozen=True)
class _BatchRequest:
    """``POST /batches``'s body, checked."""

    job_id: str
    credential_format: str
    items: list[tuple[str, dict[str, Any]]]


def _batch_request(body: Mapping[str, Any]) -> _BatchRequest:
    """``POST /batches``'s body checked whole, before anything is stored. Messages name paths,
    never values. What only issuing reveals (invalid FHIR, say) fails one item later.

    A patient's payload is the item as posted (its digest identifies the job when it is posted
    again), ``key`` included; without a ``key`` it is the item's position.

    :raises InvalidInputError: 422: ``invalidInput`` for ``jobId``, ``format`` or
        ``patients``; ``batchItemInvalid`` for a patient, with ``details.item`` (its position)
        and ``details.path``.
    """
    job_id = body.get("jobId", f"job-{uuid.uuid4().hex[:12]}")
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidInputError(
            "'jobId' must be 1 to 100 letters, digits, '-', '_' or '.'",
            details={"path": "jobId", "reason": "invalidJobId"},
        )
    credential_format = body.get("format", "vc")
    if not isinstance(credential_format, str) or credential_format not in FORMATS:
        raise InvalidInputError(
            f"'format' must be one of {sorted(FORMATS)}",
            details={"path": "format", "reason": "unknownFormat", "formats": sorted(FORMATS)},
        )
    patients = body.get("patients")
    if not isinstance(patients, list):
        raise InvalidInputError(
            "'patients' must be a list of objects",
            details={"path": "patients", "reason": "notAList"},
        )
    items = [
        (_batch_item(position, patient, credential_format), patient)
        for position, patient in enumerate(patients)
    ]
    return _BatchRequest(job_id, credential_format, items)


def _batch_item(position: int, patient: object, credential_format: str) -> str:
    """The patient's key, once the item's members have the right types.

    :raises InvalidInputError: ``batchItemInvalid`` (422) naming the member's path.
    """
    where = f"patients[{position}]"

    def bad(member: str, what: str) -> InvalidInputError:
        path = f"{where}.{member}" if member else where
        return InvalidInputError(
            f"{path} {what}",
            code=ErrorCode.BATCH_ITEM_INVALID,
            details={"item": position, "path": path},
        )

    if not isinstance(patient, dict):
        raise bad("", "must be an object")
    key = patient.get("key", str(position))
    if not isinstance(key, str) or not key:
        raise bad("key", "must be a non-empty string")
    subject = patient.get("subject")
    if not isinstance(subject, str) or not subject.startswith("did:"):
        raise bad("subject", "must be the citizen's DID (a string starting with 'did:')")
    if not isinstance(patient.get("fhir"), dict):
        raise bad("fhir", "must be a FHIR R4 resource (a JSON object)")
    holder_jwk = patient.get("holderJwk")
    if holder_jwk is not None and not isinstance(holder_jwk, dict):
        raise bad("holderJwk", "must be a JWK object")
    if holder_jwk is None and credential_format == "sd-jwt":
        raise bad("holderJwk", "is required for format sd-jwt: the credential is bound to it")
    return key


class _BatchRuns:
    """The batch jobs this process runs in the background: one run of a job at a time here
    (posting a running job again answers 202 and starts nothing). A run that fails is recorded
    in its job (:meth:`issuer.batch.BatchJobs.mark_failed`), for every replica to see."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def start(self, job_id: str) -> bool:
        """Note that ``job_id`` runs here; ``False`` when it already does."""
        if job_id in self.running:
            return False
        self.running.add(job_id)
        return True


async def _run_batch(hospital: Hospital, batch: _BatchRequest, runs: _BatchRuns) -> None:
    """Run a batch job in the background; the job's state says how it ended."""
    try:
        await hospital.run_batch(
            batch.job_id, batch.items, credential_format=batch.credential_format
        )
    except asyncio.CancelledError:
        log.warning(
            "batch job %s stopped by the service's shutdown; post it again with the "
            "same jobId to resume (nothing is issued twice)",
            batch.job_id,
        )
        raise
    except Exception as exc:  # failed: the job records it; post it again to resume
        log.error("batch job %s failed: %s", batch.job_id, type(exc).__name__)
    finally:
        runs.running.discard(batch.job_id)


class BatchStarted(BaseModel):
    """``POST /batches``: the job accepted; poll ``GET /batches/{jobId}``."""

    jobId: str = Field(description="the job's id: the one given, or a random one")
    total: int = Field(description="its patients")


class BatchStatus(BaseModel):
    """``GET /batches/{id}``: a batch job's state and counts."""

    jobId: str
    state: JobState = Field(
        description="pending (accepted, not started), running, done (every item issued or "
        "failed) or failed (the run stopped on an error: post the job again to resume it)"
    )
    done: int = Field(description="items processed: issued + failed")
    total: int = Field(description="items in the job")
    issued: int = Field(description="credentials issued: GET /batches/{id}/credentials")
    failed: int = Field(description="items that failed alone: GET /batches/{id}/failures")
    error: str | None = Field(
        description="when the state is failed, the type of the error that stopped the run; "
        "null otherwise"
    )


class BatchFailedItem(BaseModel):
    """One patient whose credential a batch job did not issue."""

    key: str = Field(description="the patient's key")
    code: str = Field(description="the error's machine-readable code, e.g. invalidFhir")
    message: str = Field(
        description="what is wrong, naming paths and types, never a value of the record "
        "(at most 300 characters)"
    )


class BatchFailures(BaseModel):
    """``GET /batches/{id}/failures``: a page of a batch job's failed items."""

    failures: list[BatchFailedItem]


async def issue_answer(app: Any, raw: bytes) -> Response:
    """``POST /credentials/issue`` given the raw body (FastAPI route and direct path).

    :raises HealthMyDataError: answered by the app's handler (:func:`agent.service.error_response`).
    """
    hospital: Hospital = app.state.hospital
    body = parse_json_object(raw, max_bytes=DEFAULT_MAX_BYTES)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise InvalidInputError(
            "the request needs a 'credential' object", code=ErrorCode.PARSING_ERROR
        )
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInputError("'options' must be an object", code=ErrorCode.PARSING_ERROR)
    cryptosuite = options.get("cryptosuite", "eddsa-jcs-2022")
    with_status = options.get("credentialStatus", True)
    if not isinstance(cryptosuite, str) or not isinstance(with_status, bool):
        raise InvalidInputError(
            "options.cryptosuite must be a string and options.credentialStatus a boolean"
        )
    # A credentialStatus the (admin-authenticated) client gives is kept as given, and the
    # issuer then allocates none of its own (decision 0007).
    given_status = _client_status(credential, hospital)
    signed = await hospital.issue(
        credential, cryptosuite=cryptosuite, with_status=with_status and not given_status
    )
    return JSONResponse({"verifiableCredential": signed}, status_code=201)


#: The VC-API issue route, also served past FastAPI's routing (agent.service.DirectRoutes).
ADMIN_DIRECT_ROUTES = {("POST", "/credentials/issue"): issue_answer}

# Request bodies as the handlers read them (agent.openapi): the routes parse their own bodies.
_ISSUE_BODY = object_schema(
    {
        "credential": {"type": "object", "description": "the unsigned credential"},
        "options": object_schema(
            {
                "cryptosuite": {
                    "type": "string",
                    "enum": ["eddsa-jcs-2022", "eddsa-rdfc-2022"],
                    "default": "eddsa-jcs-2022",
                },
                "credentialStatus": {"type": "boolean", "default": True},
            }
        ),
    },
    required=["credential"],
)
_ISSUE_EXAMPLE = {
    "credential": {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:citizen"},
    }
}
_STATUS_BODY = object_schema(
    {
        "credentialId": {"type": "string"},
        "credentialStatus": {
            "type": "array",
            "minItems": 1,
            "items": object_schema(
                {
                    "type": {
                        "type": "string",
                        "enum": sorted(STATUS_UPDATE_TYPES),
                        "description": "optional: this hospital's status mechanism",
                    },
                    "status": {"type": "string", "enum": sorted(StatusAction.ALL)},
                },
                required=["status"],
            ),
        },
    },
    required=["credentialId", "credentialStatus"],
)
_STATUS_EXAMPLE = {
    "credentialId": "urn:uuid:0f5e2a5c-3c1b-4a53-9a43-6f1d1e0e8a11",
    "credentialStatus": [{"type": "BitstringStatusListEntry", "status": "revoked"}],
}
_FHIR_IMPORT_BODY = object_schema(
    {
        **RECORD_SELECTION,
        "subject": {"type": "string", "pattern": "^did:", "description": "the holder's DID"},
        "holderJwk": {"type": "object", "description": "the holder's key, for SD-JWT VC"},
    },
    required=["fhir", "subject"],
)
_BATCH_BODY = object_schema(
    {
        "jobId": {
            "type": "string",
            "pattern": f"^{_JOB_ID.pattern}$",
            "description": "a new job's id, or an interrupted one's to resume it; random if none",
        },
        "format": {"type": "string", "enum": sorted(FORMATS), "default": "vc"},
        "patients": {
            "type": "array",
            "items": object_schema(
                {
                    "key": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": "unique; the position if none",
                    },
                    "subject": {"type": "string", "pattern": "^did:"},
                    "fhir": {"type": "object", "description": "a FHIR R4 resource"},
                    "holderJwk": {
                        "type": "object",
                        "description": "the holder's public JWK; required for sd-jwt",
                    },
                },
                required=["subject", "fhir"],
            ),
        },
    },
    required=["patients"],
)


def _issue_router() -> APIRouter:
    router = APIRouter(tags=["VC-API"])

    @router.post(
        "/credentials/issue",
        status_code=201,
        response_model=dict[str, Any],
        summary="Issue a credential (VC-API)",
        responses={
            400: {"description": "Malformed request (not JSON, no credential)"},
            422: {"description": "The credential breaks a VC Data Model rule"},
        },
        openapi_extra=json_body(_ISSUE_BODY, example=_ISSUE_EXAMPLE),
    )
    async def issue(request: Request) -> Response:
        """Sign the unsigned ``credential`` (VC 2.0, or VC 1.1 input which is upgraded) as this
        hospital, with revocation and suspension status entries unless
        ``options.credentialStatus`` is false or the credential carries its own."""
        return await issue_answer(request.app, await read_json_bytes(request))

    @router.post(
        "/credentials/status",
        summary="Update a credential's status (VC-API)",
        responses={
            400: {"description": "Malformed request (no credentialId, an item without status)"},
            404: {"description": "No credential with that id was issued here"},
            422: {"description": "An unknown status or type; nothing is changed"},
        },
        openapi_extra=json_body(_STATUS_BODY, example=_STATUS_EXAMPLE),
    )
    async def update_status(request: Request) -> dict[str, Any]:
        """``revoked`` (final), ``suspended``, or ``active`` (lifts a suspension). An item's
        ``type``, when given, must name the Bitstring Status List (``BitstringStatusListEntry``
        or ``BitstringStatusListCredential``). Every item is checked before any is applied."""
        body = await _json_body(request)
        credential_id = body.get("credentialId")
        changes = body.get("credentialStatus")
        if not isinstance(credential_id, str) or not isinstance(changes, list) or not changes:
            raise InvalidInputError(
                "the request needs 'credentialId' and a non-empty 'credentialStatus' list",
                code=ErrorCode.PARSING_ERROR,
            )
        actions = _status_changes(changes)  # all checked before any is applied
        await _check_managed_status(_hospital(request), credential_id)
        result: dict[str, bool] = {}
        for action in actions:
            result.update(await _hospital(request).update_status(credential_id, action))
        return {"credentialId": credential_id, "status": result}

    @router.post(
        "/fhir/import",
        status_code=201,
        tags=["FHIR"],
        summary="Issue credentials from a FHIR R4 record",
        responses={
            422: {
                "description": "Invalid FHIR (the path of the bad element is named), or a "
                "member of the wrong type; nothing is issued"
            }
        },
        openapi_extra=json_body(_FHIR_IMPORT_BODY),
    )
    async def fhir_import(request: Request) -> dict[str, Any]:
        """One credential per clinical topic (and, on request, the EmergencySummary and
        ClaimEvidence composites) in each requested format. ``topics``, ``emergencySummary``
        and ``claimEvidence`` are JSON booleans; everything is checked before anything is
        issued."""
        body = await _json_body(request)
        subject = body.get("subject")
        holder_jwk = body.get("holderJwk")
        if not isinstance(subject, str) or not subject.startswith("did:"):
            raise InvalidInputError(
                "'subject' must be the citizen's DID", code=ErrorCode.PARSING_ERROR
            )
        formats = record_formats(body)
        if holder_jwk is not None and not isinstance(holder_jwk, dict):
            raise InvalidInputError(
                "'holderJwk' must be a JWK object", details={"path": "holderJwk"}
            )
        if holder_jwk is not None and "sd-jwt" in formats:
            _check_holder_jwk(holder_jwk, "holderJwk")
        topics = flag(body, "topics", True)
        with_summary = flag(body, "emergencySummary", False)
        with_evidence = flag(body, "claimEvidence", False)
        parsed = read_fhir_input(body.get("fhir"))
        records: list[RecordClaims] = []
        if topics:
            records.extend(records_from_bundle(parsed.resources, parsed.index))
        if with_summary:
            records.append(emergency_summary(parsed.resources, index=parsed.index))
        if with_evidence:
            records.append(claim_evidence(parsed.resources, index=parsed.index))
        if not records:
            raise InvalidInputError(
                "the FHIR input holds no resource that becomes a credential",
                code=ErrorCode.INVALID_FHIR,
            )
        if (
            "sd-jwt" in formats
            and holder_jwk is None
            and any(claims.kind != CredentialKind.EMERGENCY_SUMMARY for claims in records)
        ):
            # Refused here, not half-way through: the vc ones would be issued already.
            raise InvalidInputError(
                "an SD-JWT VC needs the holder's public key (holderJwk) for key binding",
                details={"path": "holderJwk", "reason": "missing"},
            )
        hospital = _hospital(request)
        issued = [
            await hospital.issue_record(
                claims, subject_did=subject, credential_format=fmt, holder_jwk=holder_jwk
            )
            for claims in records
            for fmt in formats
        ]
        return {
            "credentials": [
                {"kind": c.kind, "format": c.format, "id": c.id, "credential": c.credential}
                for c in issued
            ]
        }

    @router.post(
        "/batches",
        status_code=202,
        tags=["batch"],
        summary="Start a batch job",
        response_model=BatchStarted,
        responses={
            409: {"description": "The jobId exists with other patients or another format"},
            422: {"description": "A bad member, named by its path; nothing is stored"},
        },
        openapi_extra=json_body(_BATCH_BODY),
    )
    async def start_batch(request: Request) -> BatchStarted:
        """Body: ``{"jobId"?: str, "format": "vc"|"sd-jwt", "patients": [{"key", "subject",
        "fhir", "holderJwk"?}]}``, checked whole before anything is stored (a bad member is a
        422 naming its path). Runs in the background; poll ``GET /batches/{id}``. Posting the
        same ``jobId`` again resumes an interrupted or failed job and issues nothing twice. A
        job the service's shutdown stopped stays ``running``, as after a crash: post it
        again."""
        body = await read_json_body(request, max_bytes=64 * 1024 * 1024)
        batch = _batch_request(body)
        hospital = _hospital(request)
        jobs = BatchJobs(hospital.store, clock=hospital.clock, audit=hospital.audit)
        # The same jobId with other patients or another format: 409 batchJobConflict.
        await jobs.create(batch.job_id, batch.items, batch.credential_format)
        runs: _BatchRuns = request.app.state.batch_runs
        if runs.start(batch.job_id):  # else it runs here already: one run at a time
            run_in_background(
                request.app, _run_batch(hospital, batch, runs), name=f"batch {batch.job_id}"
            )
        return BatchStarted(jobId=batch.job_id, total=len(batch.items))

    @router.get(
        "/batches/{job_id}",
        tags=["batch"],
        summary="A batch job's progress",
        response_model=BatchStatus,
        responses={404: {"description": "No batch job with that id"}},
    )
    async def batch_status(request: Request, job_id: str) -> BatchStatus:
        """Its state, and how many items were issued and how many failed (listed at
        ``GET /batches/{id}/failures``)."""
        hospital = _hospital(request)
        job = await BatchJobs(hospital.store, clock=hospital.clock).job(job_id)
        return BatchStatus(
            jobId=job_id,
            state=job.state,
            done=job.done,
            total=job.total,
            issued=job.issued,
            failed=job.failed,
            error=job.error,
        )

    @router.get(
        "/batches/{job_id}/credentials",
        tags=["batch"],
        summary="A batch job's credentials",
        responses={404: {"description": "No batch job with that id"}},
    )
    async def batch_credentials(
        request: Request, job_id: str, offset: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        """``limit`` (at most 1,000) of its credentials from ``offset``, in input order:
        ``{"credentials": [{"key", "id", "credential"}]}``."""
        hospital = _hospital(request)
        jobs = BatchJobs(hospital.store, clock=hospital.clock)
        items = await jobs.credentials(
            job_id, limit=min(max(limit, 1), _MAX_PAGE), offset=max(offset, 0)
        )
        return {
            "credentials": [
                {"key": i.patient_key, "id": i.credential_id, "credential": i.credential}
                for i in items
            ]
        }

    @router.get(
        "/batches/{job_id}/failures",
        tags=["batch"],
        summary="A batch job's failed items",
        response_model=BatchFailures,
        responses={404: {"description": "No batch job with that id"}},
    )
    async def batch_failures(
        request: Request, job_id: str, offset: int = 0, limit: int = 100
    ) -> BatchFailures:
        """``limit`` (at most 1,000) of the items that failed from ``offset``, in input order:
        the patient's key, the error's code and its message (paths and types, never a value
        of the record). Post those patients again in a new job once their records are
        fixed."""
        hospital = _hospital(request)
        page = await BatchJobs(hospital.store, clock=hospital.clock).failure_details(
            job_id, offset=max(offset, 0), limit=min(max(limit, 1), _MAX_PAGE)
        )
        return BatchFailures(
            failures=[
                BatchFailedItem(key=item.patient_key, code=item.code, message=item.message)
                for item in page
            ]
        )

    return router


def _public_router() -> APIRouter:
    router = APIRouter()

    @router.get("/.well-known/did.json", tags=["identity"], summary="The hospital's DID document")
    async def did_document(request: Request) -> JSONResponse:
        hospital = _hospital(request)
        if not hospital.did.startswith("did:web:"):
            raise InvalidInputError(
                "this hospital's DID is not a did:web; resolve it directly",
                code=ErrorCode.NOT_FOUND,
            )
        return JSONResponse(
            await hospital.did_document(),
            media_type="application/did+json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.get(
        "/accreditation",
        tags=["identity"],
        summary="The hospital's accreditation credential from the public operator",
        responses={404: {"description": "Not accredited (yet)"}},
    )
    async def accreditation(request: Request) -> Response:
        link = await load_link(_hospital(request))
        if link is None or link.credential is None:
            raise InvalidInputError(
                "this hospital holds no accreditation yet (mydata hospital accreditation fetch)",
                code=ErrorCode.NOT_FOUND,
            )
        return Response(
            json.dumps(link.credential),
            media_type="application/vc+ld+json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.get(
        "/status-lists/{list_id}/token",
        tags=["status"],
        summary="The same list as an IETF Token Status List JWT (for SD-JWT VC)",
    )
    async def status_list_token(request: Request, list_id: str) -> Response:
        hospital = _hospital(request)
        _, token = await find_list(
            list_id, lambda purpose: hospital.status_list_token(list_id, purpose)
        )
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": _status_cache_control(request)},
        )

    router.include_router(
        status_list_router(
            _hospital,
            cache=lambda request: request.app.state.signed_lists,
            cache_control=_status_cache_control,
        )
    )

    return router


def create_hospital_app(
    config: AgentServiceConfig,
    *,
    insecure_http_hosts: frozenset[str] = frozenset(),
    status_max_age: int = STATUS_LIST_MAX_AGE,
) -> FastAPI:
    """The hospital service over the store in ``config`` (``mydata hospital init`` first).

    :param status_max_age: seconds verifiers may cache a status list (``Cache-Control``);
        0 sends ``no-cache``, so a revocation is seen at once (decision 0006 keeps TTL
        caching; 0007 makes the lifetime a setting).
    :raises agent.errors.StorageError: at start-up, when the store does not open.
    :raises ValueError: a negative ``status_max_age``.
    """
    if status_max_age < 0:
        raise ValueError("the status list max-age must be 0 or more seconds")

    async def configure(app: FastAPI, agent: DIDCommAgent) -> None:
        hospital = await Hospital.load(agent.store, insecure_http_hosts=insecure_http_hosts)
        if hospital is None:
            raise InvalidInputError(
                "this store holds no hospital: run 'mydata hospital init' first",
                code=ErrorCode.STORE_NOT_FOUND,
            )
        app.state.hospital = hospital
        app.state.status_max_age = status_max_age
        app.state.signed_lists = SignedCache(hospital.clock)
        app.state.batch_runs = _BatchRuns()
        register_issuance(agent, hospital)

    return create_agent_app(
        config,
        configure=configure,
        admin_routers=[_issue_router(), offer_router()],
        public_routers=[_public_router()],
        admin_direct_routes=ADMIN_DIRECT_ROUTES,
    )
