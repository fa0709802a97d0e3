"""The operator's HTTP service: trust list, accreditations, status lists, registration.

Routes (OpenAPI at ``/docs``):

==========================================  =====  ================================================
``GET /trust-list``                         open   the signed trust list, with ``Cache-Control``,
                                                   ``ETag`` and 304 answers
``GET /accreditations/{id}``                open   one accreditation credential
``GET /status-lists/{list_id}``             open   a signed BitstringStatusListCredential
``GET /.well-known/did.json``               open   the operator's did:web document
``GET /operator``                           open   the operator's DID, name and trust list URL
``POST /registrations/challenge``           open   a single-use DID-auth challenge
``POST /registrations``                     open   apply for accreditation (DID-auth)
``GET /registrations/{id}``                 open   a registration's state (and accreditation)
``GET /admin/registrations``                admin  registrations, by state
``POST /admin/registrations/{id}/approve``  admin  accredit the applicant
``POST /admin/registrations/{id}/reject``   admin  refuse it
``POST /admin/accreditations``              admin  accredit a DID directly
``GET /admin/accreditations``               admin  every accreditation and its state
``POST /admin/accreditations/status``       admin  revoke, suspend or reinstate
==========================================  =====  ================================================

Handlers parse input, call :class:`governance.operator.Operator` and serialise the result.
Errors are ``{"code", "message"}`` (:mod:`agent.service`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from agent.errors import ErrorCode, InvalidInputError
from agent.jsonio import parse_json_object
from agent.openapi import json_body, object_schema
from agent.runtime import DIDCommAgent
from agent.service import AgentServiceConfig, create_agent_app
from agent.status.publish import SignedCache, cached_response, status_list_router
from governance.operator import ROLES, Operator

__all__ = ["MAX_AGE", "create_operator_app"]

#: How long verifiers may cache the trust list and status lists before asking again (seconds).
MAX_AGE = 300
_PUBLIC_CACHE = f"public, max-age={MAX_AGE}"


def _operator(request: Request) -> Operator:
    operator: Operator = request.app.state.operator
    return operator


def _valid_days(body: dict[str, Any]) -> timedelta:
    days = body.get("validDays", 365)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise InvalidInputError("'validDays' must be an integer from 1 to 3650")
    return timedelta(days=days)


# Request bodies as the handlers read them (agent.openapi): the routes parse their own bodies.
_ROLE = {"type": "string", "enum": sorted(ROLES), "description": "the accreditation role"}
_NAME = {"type": "string", "maxLength": 200, "default": ""}
_VALID_DAYS = {"type": "integer", "minimum": 1, "maximum": 3650, "default": 365}
_REGISTER_BODY = object_schema(
    {
        "presentation": {
            "type": "object",
            "description": "a DID-auth VerifiablePresentation over a challenge from "
            "POST /registrations/challenge",
        },
        "role": _ROLE,
        "name": _NAME,
        "didDocument": {
            "type": "object",
            "description": "only for a did:web its domain does not serve yet",
        },
    },
    required=["presentation", "role"],
)
_APPROVE_BODY = object_schema({"validDays": _VALID_DAYS})
_REJECT_BODY = object_schema({"reason": {"type": "string", "maxLength": 200, "default": ""}})
_ACCREDIT_BODY = object_schema(
    {
        "subject": {"type": "string", "pattern": "^did:", "maxLength": 2048},
        "role": _ROLE,
        "name": _NAME,
        "validDays": _VALID_DAYS,
    },
    required=["subject", "role"],
)
_ACCREDIT_EXAMPLE = {
    "subject": "did:web:hospital.example",
    "role": "AccreditedHealthcareProvider",
    "name": "Example Hospital",
}
_STATUS_BODY = object_schema(
    {
        "id": {"type": "string", "description": "the accreditation's id"},
        "status": {"type": "string", "enum": ["active", "revoked", "suspended"]},
    },
    required=["id", "status"],
)


def _public_router() -> APIRouter:
    router = APIRouter(tags=["operator"])

    @router.get("/operator", summary="Who the operator is")
    async def about(request: Request) -> dict[str, Any]:
        operator = _operator(request)
        return {"did": operator.did, "name": operator.name, "trustList": operator.trust_list_url()}

    @router.get(
        "/trust-list",
        summary="The signed trust list (accreditations in force)",
        responses={304: {"description": "Not modified (If-None-Match)"}},
    )
    async def trust_list(request: Request) -> Response:
        operator = _operator(request)
        entries = await operator.trust_list_entries()
        version = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        cache: SignedCache = request.app.state.signed
        body = await cache.body("trust-list", version, lambda: operator.trust_list(entries=entries))
        return cached_response(request, body, "application/vc+ld+json", _PUBLIC_CACHE)

    @router.get(
        "/accreditations/{accreditation_id}",
        summary="One accreditation credential",
        responses={404: {"description": "No accreditation with that id"}},
    )
    async def accreditation(request: Request, accreditation_id: str) -> Response:
        found = await _operator(request).accreditation(accreditation_id)
        return cached_response(
            request, json.dumps(found.credential).encode(), "application/vc+ld+json", _PUBLIC_CACHE
        )

    router.include_router(
        status_list_router(
            _operator,
            cache=lambda request: request.app.state.signed,
            cache_control=lambda _: _PUBLIC_CACHE,
        )
    )

    @router.get("/.well-known/did.json", tags=["identity"], summary="The operator's DID document")
    async def did_document(request: Request) -> JSONResponse:
        return JSONResponse(
            await _operator(request).did_document(),
            media_type="application/did+json",
            headers={"Cache-Control": _PUBLIC_CACHE},
        )

    @router.post(
        "/registrations/challenge",
        status_code=201,
        tags=["registration"],
        summary="A single-use challenge for a DID-auth registration",
    )
    async def challenge(request: Request) -> dict[str, str]:
        return await _operator(request).challenge()

    @router.post(
        "/registrations",
        status_code=201,
        tags=["registration"],
        summary="Apply for accreditation, proving control of a DID",
        responses={
            400: {"description": "Bad or replayed challenge, proof not the DID's, bad JSON"},
            422: {"description": "Unknown role, not a presentation"},
        },
        openapi_extra=json_body(_REGISTER_BODY),
    )
    async def register(request: Request) -> dict[str, Any]:
        """Body: ``{"presentation": <DID-auth VP>, "role": ROLE, "name"?: str,
        "didDocument"?: {...}}`` (the document only for a did:web its domain does not serve
        yet). The registration waits for the operator's decision."""
        body = parse_json_object(await request.body())
        did_document = body.get("didDocument")
        if did_document is not None and not isinstance(did_document, dict):
            raise InvalidInputError("'didDocument' must be an object")
        registration = await _operator(request).register(
            body.get("presentation"),
            role=_role(body),
            name=body.get("name", ""),
            did_document=did_document,
        )
        return registration.to_json()

    @router.get(
        "/registrations/{registration_id}",
        tags=["registration"],
        summary="A registration's state, with its accreditation once approved",
    )
    async def registration(request: Request, registration_id: str) -> dict[str, Any]:
        return await _registration_view(_operator(request), registration_id)

    return router


def _role(body: dict[str, Any]) -> str:
    """The body's ``role``; a body without one is told so (rather than "unknown role 'None'").

    Which roles exist is checked by the operator (``register``, ``accredit``).

    :raises InvalidInputError: ``role`` is missing or null.
    """
    role = body.get("role")
    if role is None:
        raise InvalidInputError(
            f"the request has no 'role': give one of {', '.join(sorted(ROLES))}",
            details={"member": "role"},
        )
    return role  # type: ignore[no-any-return]  # its value is checked by the operator


async def _registration_view(operator: Operator, registration_id: str) -> dict[str, Any]:
    found = await operator.registration(registration_id)
    view = found.to_json()
    view["accreditation"] = (
        (await operator.accreditation(found.accreditation_id)).credential
        if found.accreditation_id
        else None
    )
    return view


def _admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/registrations", summary="Registrations, by state")
    async def registrations(request: Request, state: str | None = None) -> list[dict[str, Any]]:
        return [r.to_json() for r in await _operator(request).registrations(state=state)]

    @router.post(
        "/registrations/{registration_id}/approve",
        summary="Accredit the applicant",
        openapi_extra=json_body(_APPROVE_BODY, required=False),
    )
    async def approve(request: Request, registration_id: str) -> dict[str, Any]:
        body = parse_json_object(await request.body() or b"{}")
        operator = _operator(request)
        accreditation = await operator.approve(registration_id, valid_for=_valid_days(body))
        return {
            "registration": (await operator.registration(registration_id)).to_json(),
            "accreditation": accreditation.credential,
        }

    @router.post(
        "/registrations/{registration_id}/reject",
        summary="Refuse the applicant",
        openapi_extra=json_body(_REJECT_BODY, required=False),
    )
    async def reject(request: Request, registration_id: str) -> dict[str, Any]:
        body = parse_json_object(await request.body() or b"{}")
        reason = body.get("reason", "")
        rejected = await _operator(request).reject(registration_id, reason=reason)
        return rejected.to_json()

    @router.post(
        "/accreditations",
        status_code=201,
        summary="Accredit a DID",
        openapi_extra=json_body(_ACCREDIT_BODY, example=_ACCREDIT_EXAMPLE),
    )
    async def accredit(request: Request) -> dict[str, Any]:
        """Body: ``{"subject": DID, "role": ROLE, "name"?: str, "validDays"?: int}``."""
        body = parse_json_object(await request.body())
        accreditation = await _operator(request).accredit(
            body.get("subject"),  # type: ignore[arg-type]  # checked by accredit
            _role(body),
            name=body.get("name", ""),
            valid_for=_valid_days(body),
        )
        return {"accreditation": accreditation.credential}

    @router.get("/accreditations", summary="Every accreditation and its state")
    async def accreditations(request: Request) -> list[dict[str, Any]]:
        return [a.summary() for a in await _operator(request).accreditations()]

    @router.post(
        "/accreditations/status",
        summary="Revoke, suspend or reinstate",
        openapi_extra=json_body(_STATUS_BODY),
    )
    async def update_status(request: Request) -> dict[str, Any]:
        """Body: ``{"id": "urn:uuid:...", "status": "revoked"|"suspended"|"active"}``."""
        body = parse_json_object(await request.body())
        accreditation_id, action = body.get("id"), body.get("status")
        if not isinstance(accreditation_id, str) or not isinstance(action, str):
            raise InvalidInputError(
                "the request needs 'id' and 'status' strings", code=ErrorCode.PARSING_ERROR
            )
        updated = await _operator(request).update_status(accreditation_id, action)
        return {"id": updated.id, "state": str(updated.state)}

    return router


def create_operator_app(
    config: AgentServiceConfig,
    *,
    insecure_http_hosts: frozenset[str] = frozenset(),
) -> FastAPI:
    """The operator service over the store in ``config`` (``mydata operator init`` first).

    :param insecure_http_hosts: hosts whose did:web may be fetched over plain http when
        checking applicants (local testing only).
    :raises agent.errors.StorageError: at start-up, when the store does not open.
    """

    async def configure(app: FastAPI, agent: DIDCommAgent) -> None:
        operator = await Operator.load(
            agent.store, insecure_http_hosts=insecure_http_hosts, http=agent.http
        )
        if operator is None:
            raise InvalidInputError(
                "this store holds no operator: run 'mydata operator init' first",
                code=ErrorCode.STORE_NOT_FOUND,
            )
        app.state.operator = operator
        app.state.signed = SignedCache(operator.clock)

    return create_agent_app(
        config,
        configure=configure,
        admin_routers=[_admin_router()],
        public_routers=[_public_router()],
    )
