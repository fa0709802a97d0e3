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
``GET /status-lists/{list_id}``             open   a signed BitstringStatusListCredential, with
                                                   ``Cache-Control``, ``ETag`` and 304 answers
``GET /status-lists/{list_id}/token``       open   the same list as a Token Status List JWT
``POST /didcomm``, ``/admin/...``           mixed  the DIDComm agent (:mod:`agent.service`)
==========================================  =====  ================================================

Handlers only parse input, call :class:`issuer.hospital.Hospital` and serialise the result
(STYLE.md item 12). Bodies are parsed strictly (:mod:`agent.jsonio`): malformed JSON is a 400,
a credential that breaks the data model a 422, both with a machine-readable ``code``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from agent.credentials.status_list import ENTRY_TYPE, parse_status_entry
from agent.errors import DataModelError, ErrorCode, InvalidInputError, StatusError
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
from issuer.batch import BatchJobs
from issuer.didcomm import RECORD_SELECTION, offer_router, register_issuance
from issuer.fhir import read_fhir_input
from issuer.hospital import FORMATS, Hospital, StatusAction
from issuer.templates import claim_evidence, emergency_summary, records_from_bundle

__all__ = ["create_hospital_app"]

log = logging.getLogger(__name__)

#: How long verifiers may cache a status list before asking again (seconds).
STATUS_LIST_MAX_AGE = 300


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
    if not {"revocation", "suspension"} <= purposes:
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
                    "type": {"type": "string"},
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
            "pattern": "^[A-Za-z0-9._-]{1,100}$",
            "description": "a new job's id, or an interrupted one's to resume it; random if none",
        },
        "format": {"type": "string", "enum": sorted(FORMATS), "default": "vc"},
        "patients": {
            "type": "array",
            "items": object_schema(
                {
                    "key": {"type": "string", "description": "unique; the position if none"},
                    "subject": {"type": "string", "pattern": "^did:"},
                    "fhir": {"type": "object", "description": "a FHIR R4 resource"},
                    "holderJwk": {"type": "object"},
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
        responses={404: {"description": "No credential with that id was issued here"}},
        openapi_extra=json_body(_STATUS_BODY, example=_STATUS_EXAMPLE),
    )
    async def update_status(request: Request) -> dict[str, Any]:
        """``revoked`` (final), ``suspended``, or ``active`` (lifts a suspension)."""
        body = await _json_body(request)
        credential_id = body.get("credentialId")
        changes = body.get("credentialStatus")
        if not isinstance(credential_id, str) or not isinstance(changes, list) or not changes:
            raise InvalidInputError(
                "the request needs 'credentialId' and a non-empty 'credentialStatus' list",
                code=ErrorCode.PARSING_ERROR,
            )
        await _check_managed_status(_hospital(request), credential_id)
        result: dict[str, bool] = {}
        for change in changes:
            if not isinstance(change, Mapping) or not isinstance(change.get("status"), str):
                raise InvalidInputError(
                    "each credentialStatus item needs a 'status'", code=ErrorCode.PARSING_ERROR
                )
            result.update(await _hospital(request).update_status(credential_id, change["status"]))
        return {"credentialId": credential_id, "status": result}

    @router.post(
        "/fhir/import",
        status_code=201,
        tags=["FHIR"],
        summary="Issue credentials from a FHIR R4 record",
        responses={422: {"description": "Invalid FHIR: the path of the bad element is named"}},
        openapi_extra=json_body(_FHIR_IMPORT_BODY),
    )
    async def fhir_import(request: Request) -> dict[str, Any]:
        """One credential per clinical topic (and, on request, the EmergencySummary and
        ClaimEvidence composites) in each requested format."""
        body = await _json_body(request)
        subject = body.get("subject")
        formats = body.get("formats", ["vc"])
        holder_jwk = body.get("holderJwk")
        if not isinstance(subject, str) or not subject.startswith("did:"):
            raise InvalidInputError(
                "'subject' must be the citizen's DID", code=ErrorCode.PARSING_ERROR
            )
        if not isinstance(formats, list) or not formats or not set(formats) <= FORMATS:
            raise InvalidInputError(f"'formats' must list some of {sorted(FORMATS)}")
        if holder_jwk is not None and not isinstance(holder_jwk, dict):
            raise InvalidInputError("'holderJwk' must be a JWK object")
        parsed = read_fhir_input(body.get("fhir"))
        records = []
        if body.get("topics", True):
            records.extend(records_from_bundle(parsed.resources, parsed.index))
        if body.get("emergencySummary", False):
            records.append(emergency_summary(parsed.resources, index=parsed.index))
        if body.get("claimEvidence", False):
            records.append(claim_evidence(parsed.resources, index=parsed.index))
        if not records:
            raise InvalidInputError(
                "the FHIR input holds no resource that becomes a credential",
                code=ErrorCode.INVALID_FHIR,
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
        openapi_extra=json_body(_BATCH_BODY),
    )
    async def start_batch(request: Request) -> dict[str, Any]:
        """Body: ``{"jobId"?: str, "format": "vc"|"sd-jwt", "patients": [{"key", "subject",
        "fhir", "holderJwk"?}]}``. Runs in the background; poll ``GET /batches/{id}``. Posting
        the same ``jobId`` again resumes an interrupted job and issues nothing twice. A job the
        service's shutdown stopped stays ``running``, as after a crash: post it again."""
        body = await read_json_body(request, max_bytes=64 * 1024 * 1024)
        patients = body.get("patients")
        credential_format = body.get("format", "vc")
        job_id = body.get("jobId") or f"job-{uuid.uuid4().hex[:12]}"
        if not isinstance(patients, list) or not all(isinstance(p, dict) for p in patients):
            raise InvalidInputError("'patients' must be a list of objects")
        items = [(str(p.get("key", index)), p) for index, p in enumerate(patients)]
        hospital = _hospital(request)
        jobs = BatchJobs(hospital.store, clock=hospital.clock, audit=hospital.audit)
        await jobs.create(job_id, items, str(credential_format))  # validates before 202

        async def run() -> None:
            try:
                await hospital.run_batch(job_id, items, credential_format=credential_format)
            except asyncio.CancelledError:
                log.warning(
                    "batch job %s stopped by the service's shutdown; post it again with the "
                    "same jobId to resume (nothing is issued twice)",
                    job_id,
                )
                raise
            except Exception:  # the job record says failed; resume by posting it again
                log.exception("batch job %s failed", job_id)

        run_in_background(request.app, run(), name=f"batch {job_id}")
        return {"jobId": job_id, "total": len(items)}

    @router.get("/batches/{job_id}", tags=["batch"], summary="A batch job's progress")
    async def batch_status(request: Request, job_id: str) -> dict[str, Any]:
        hospital = _hospital(request)
        state, done, total = await BatchJobs(hospital.store, clock=hospital.clock).status(job_id)
        return {"jobId": job_id, "state": str(state), "done": done, "total": total}

    @router.get("/batches/{job_id}/credentials", tags=["batch"])
    async def batch_credentials(
        request: Request, job_id: str, offset: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        hospital = _hospital(request)
        jobs = BatchJobs(hospital.store, clock=hospital.clock)
        items = await jobs.credentials(
            job_id, limit=min(max(limit, 1), 1000), offset=max(offset, 0)
        )
        return {
            "credentials": [
                {"key": i.patient_key, "id": i.credential_id, "credential": i.credential}
                for i in items
            ]
        }

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
        register_issuance(agent, hospital)

    return create_agent_app(
        config,
        configure=configure,
        admin_routers=[_issue_router(), offer_router()],
        public_routers=[_public_router()],
        admin_direct_routes=ADMIN_DIRECT_ROUTES,
    )
