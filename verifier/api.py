"""The verifier's HTTP service: VC-API verify, presentation requests and submissions.

==================================  =====  ==================================================
``POST /credentials/verify``        open   VC-API: ``{"verifiableCredential", "options":
                                           {"checks"}}``; an SD-JWT VC string is accepted too
``POST /presentations/verify``      open   VC-API: ``{"verifiablePresentation", "options":
                                           {"checks", "challenge", "domain"}}``; a VP, or an
                                           SD-JWT+KB string (``challenge`` is the KB nonce,
                                           ``domain`` its ``aud``)
``POST /presentation-requests``     admin  a signed request with a fresh single-use nonce:
                                           201 ``{"request", "nonce", "audience", "expires"}``
``POST /presentations/submit``      open   a wallet's SD-JWT or VP for a request: verified
                                           against the request its nonce names, then the
                                           request's policy decides
``GET /verifier``                   open   the verifier's DID (the audience wallets address)
``POST /admin/connections/{id}/``   admin  a DCQL present-proof 3.0 request over DIDComm with
``request-presentation``                   a fresh nonce: ``{"dcql_query", "purpose",
                                           "role"?}`` -> 202 ``{"thread_id", "nonce", ...}``
                                           (:mod:`verifier.didcomm`)
``GET /admin/presentations/{thid}`` admin  the stored report and decision of that thread
==================================  =====  ==================================================

Status codes. VC-API (w3c-ccg/vc-api, "Verifying") answers 200 for a verified credential and
400 for invalid input; the W3C test suites (vc-data-model-2.0-test-suite
``tests/TestEndpoints.js``: any status >= 400, or a non-empty ``errors``, counts as a refusal;
``shouldThrowInvalidInput`` accepts 400 or 422) need only that a failure is not a 2xx. Here:

* **200** ``{"verified": true, "checks", "warnings", "errors": []}`` (plus ``results``);
* **400** the same shape with ``verified: false`` and one error per failed check, when the
  credential (presentation) did not verify, as VC-API specifies and the bitstring-status-list
  test suite requires (``shouldFailVerification``); ``POST /presentations/submit`` answers a
  policy refusal with 422;
* **400** ``PARSING_ERROR``: the body or the credential is not JSON / not an object / not a
  credential at all, or an option is malformed (an unknown check name);
* **413** a body over 1 MiB.

Never a 500 for anything a client sends: every domain error of a verify route is answered
in the VC-API shape above; admin routes use :func:`agent.service.error_response`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.clock import format_datetime, utcnow
from agent.credentials.jose import decode_jws
from agent.credentials.proofs import proof_objects
from agent.dids import DIDResolver, did_key_from_public
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import DEFAULT_MAX_BYTES, parse_json_object
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.keys.askar import AskarSigner
from agent.observability import record_verification
from agent.openapi import json_body, object_schema
from agent.runtime import DIDCommAgent
from agent.service import AgentServiceConfig, create_agent_app, read_json_body, read_json_bytes
from agent.status import StatusChecker
from agent.storage import Store
from agent.trustsync import OperatorSource, TrustSync
from verifier.didcomm import get_presentation, register_verifier, send_dcql_request
from verifier.nonces import NonceStore
from verifier.policy import (
    EmergencyPolicy,
    GenericPolicy,
    InsurerClaimPolicy,
    Policy,
    claim_context,
    evidence_key,
    with_claim_check,
)
from verifier.report import VerificationReport
from verifier.request import create_presentation_request
from verifier.sdjwt import TokenStatusCache, http_token_fetcher, verify_sd_jwt_presentation
from verifier.submit import verify_submission
from verifier.trust import TrustRegistry
from verifier.trustsync import trust_router
from verifier.verify import verify_credential, verify_presentation

__all__ = ["VerifierSettings", "VerifierState", "create_verifier_app", "load_identity"]

log = logging.getLogger(__name__)

IDENTITY_CATEGORY = "verifier_identity"
ROLES = ("generic", "emergency", "insurer")


@dataclass(frozen=True)
class VerifierSettings:
    """What a verifier service trusts and how it decides.

    :param operator_dids: the trust operators; without any, the ``trust`` check does not run.
    :param trust_cache: a JSON file of :meth:`TrustRegistry.export` to load at start-up.
    :param operator_urls: ``(operator DID, its service URL)`` pairs (each DID also in
        ``operator_dids``): their trust lists and accreditations are fetched at start-up and
        refreshed in the background before their ``max-age`` runs out
        (:mod:`verifier.trustsync`).
    :param trust_refresh: refresh at least this often (default: by ``max-age``).
    :param insecure_http_hosts: hosts whose did:web and status lists may use plain http.
    :param default_role: the policy for requests that name none.
    :param purpose: the purpose this verifier acts for (requests carry it; submissions must).
    """

    operator_dids: frozenset[str] = frozenset()
    trust_cache: Path | None = None
    operator_urls: tuple[tuple[str, str], ...] = ()
    trust_refresh: timedelta | None = None
    insecure_http_hosts: frozenset[str] = frozenset()
    default_role: str = "generic"
    purpose: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifierState:
    """What the routes use; built once the store is open."""

    store: Store
    did: str
    signer: AskarSigner
    resolver: DIDResolver
    nonces: NonceStore
    status_checker: StatusChecker
    token_status: TokenStatusCache
    trust: TrustRegistry | None
    policies: dict[str, Policy]
    purpose: str | None
    default_role: str


async def load_identity(store: Store) -> tuple[str, AskarSigner]:
    """The verifier's did:key and signer, created on first use and kept in the store."""
    keys = AskarKeyStore(store)
    async with store.session() as session:
        record = await session.fetch(IDENTITY_CATEGORY, "default")
    if record is not None:
        value = record.json()
        assert isinstance(value, dict)
        return str(value["did"]), await keys.signer(str(value["verificationMethod"]))
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    vm = f"{did}#{multikey}"
    await keys.bind(
        multikey,
        did=did,
        verification_method=vm,
        relationships=["assertionMethod", "authentication"],
    )
    try:
        async with store.session() as session:
            await session.insert(
                IDENTITY_CATEGORY, "default", {"did": did, "verificationMethod": vm}
            )
    except HealthMyDataError as exc:
        if exc.code is not ErrorCode.STORE_DUPLICATE:
            raise
        return await load_identity(store)  # another replica was first
    return did, await keys.signer(vm)


def _state(request: Request) -> VerifierState:
    state: VerifierState = request.app.state.verifier
    return state


def _vc_api_error(error: HealthMyDataError) -> JSONResponse:
    status = 413 if error.code is ErrorCode.INPUT_TOO_LARGE else 400
    return JSONResponse(
        {"verified": False, "checks": [], "warnings": [], "errors": [error.to_dict()]},
        status_code=status,
    )


def _answer(report: VerificationReport) -> JSONResponse:
    record_verification(report)
    return JSONResponse(report.to_dict(), status_code=200 if report.verified else 400)


async def _body(request: Request) -> dict[str, Any]:
    return await read_json_body(request)


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise InvalidInputError("options must be a JSON object", code=ErrorCode.PARSING_ERROR)
    checks = options.get("checks")
    if checks is not None and (
        not isinstance(checks, list) or not all(isinstance(c, str) for c in checks)
    ):
        raise InvalidInputError(
            "options.checks must be a list of check names", code=ErrorCode.PARSING_ERROR
        )
    if checks == []:
        # No selection: the endpoint's default checks, for every format (decision 0007).
        options = {**options, "checks": None}
    for name in ("challenge", "domain"):
        if options.get(name) is not None and not isinstance(options[name], str):
            raise InvalidInputError(
                f"options.{name} must be a string", code=ErrorCode.PARSING_ERROR
            )
    return options


def _unknown_check(error: HealthMyDataError) -> HealthMyDataError:
    # An unknown check name is malformed input (400), not a credential that failed (422).
    if error.code is ErrorCode.INVALID_INPUT:
        return InvalidInputError(error.message, code=ErrorCode.PARSING_ERROR)
    return error


async def _vc_api_verify(
    raw: bytes, verify: Callable[[dict[str, Any], dict[str, Any]], Awaitable[VerificationReport]]
) -> Response:
    """Parse the body and its options, run ``verify(body, options)``, answer in the VC-API
    shape (module docstring); any domain error is a 400 (413 when too large)."""
    try:
        body = parse_json_object(raw, max_bytes=DEFAULT_MAX_BYTES)
        report = await verify(body, _options(body))
    except HealthMyDataError as error:
        return _vc_api_error(_unknown_check(error))
    return _answer(report)


async def verify_credential_answer(app: Any, raw: bytes) -> Response:
    """``POST /credentials/verify`` given the raw body (FastAPI route and direct path)."""
    state: VerifierState = app.state.verifier

    async def verify(body: dict[str, Any], options: dict[str, Any]) -> VerificationReport:
        credential = body.get("verifiableCredential")
        if isinstance(credential, str):
            return await verify_sd_jwt_presentation(
                credential,
                resolver=state.resolver,
                checks=options.get("checks"),
                status=state.token_status,
                trust=state.trust,
                require_key_binding=False,
            )
        if not isinstance(credential, dict):
            raise InvalidInputError(
                "verifiableCredential must be a credential object (or an SD-JWT VC string)",
                code=ErrorCode.PARSING_ERROR,
            )
        purpose = options.get("expectedProofPurpose", "assertionMethod")
        if not isinstance(purpose, str):
            raise InvalidInputError(
                "options.expectedProofPurpose must be a string", code=ErrorCode.PARSING_ERROR
            )
        return await verify_credential(
            credential,
            resolver=state.resolver,
            checks=options.get("checks"),
            status_checker=state.status_checker,
            trust=state.trust,
            expected_proof_purpose=purpose,
            challenge=options.get("challenge"),
            domain=options.get("domain"),
            depth_checked=True,  # parse_json_object refused deeper bodies
        )

    return await _vc_api_verify(raw, verify)


async def verify_presentation_answer(app: Any, raw: bytes) -> Response:
    """``POST /presentations/verify`` given the raw body (FastAPI route and direct path)."""
    state: VerifierState = app.state.verifier

    async def verify(body: dict[str, Any], options: dict[str, Any]) -> VerificationReport:
        presentation = body.get("verifiablePresentation")
        if isinstance(presentation, str):
            return await verify_sd_jwt_presentation(
                presentation,
                resolver=state.resolver,
                checks=options.get("checks"),
                expected_nonce=options.get("challenge"),
                audience=options.get("domain"),
                status=state.token_status,
                trust=state.trust,
            )
        if not isinstance(presentation, dict):
            raise InvalidInputError(
                "verifiablePresentation must be a presentation object (or an SD-JWT string)",
                code=ErrorCode.PARSING_ERROR,
            )
        return await verify_presentation(
            presentation,
            resolver=state.resolver,
            challenge=options.get("challenge"),
            domain=options.get("domain"),
            checks=options.get("checks"),
            status_checker=state.status_checker,
            trust=state.trust,
            # Generic verification: no role policy applies here (decision 0007).
            require_holder_binding=False,
            depth_checked=True,  # parse_json_object refused deeper bodies
        )

    return await _vc_api_verify(raw, verify)


#: The VC-API verify routes, also served past FastAPI's routing (agent.service.DirectRoutes).
DIRECT_ROUTES = {
    ("POST", "/credentials/verify"): verify_credential_answer,
    ("POST", "/presentations/verify"): verify_presentation_answer,
}


# Request bodies as the handlers read them (agent.openapi): the routes parse their own bodies.
_VC_API_OPTIONS = {
    "checks": {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "checks to run; none or an empty list: the endpoint's defaults",
    },
    "challenge": {"type": ["string", "null"]},
    "domain": {"type": ["string", "null"]},
}
_VERIFY_CREDENTIAL_BODY = object_schema(
    {
        "verifiableCredential": {
            "oneOf": [{"type": "object"}, {"type": "string"}],
            "description": "a credential with a Data Integrity proof, or an SD-JWT VC",
        },
        "options": object_schema({**_VC_API_OPTIONS, "expectedProofPurpose": {"type": "string"}}),
    },
    required=["verifiableCredential"],
)
_VERIFY_PRESENTATION_BODY = object_schema(
    {
        "verifiablePresentation": {
            "oneOf": [{"type": "object"}, {"type": "string"}],
            "description": "a presentation with a Data Integrity proof, or an SD-JWT VC with a "
            "key binding JWT",
        },
        "options": object_schema(_VC_API_OPTIONS),
    },
    required=["verifiablePresentation"],
)
_SUBMIT_BODY = object_schema(
    {
        "presentation": {
            "oneOf": [{"type": "object"}, {"type": "string"}],
            "description": "the answer to a presentation request of this verifier",
        }
    },
    required=["presentation"],
)
_ROLE_SCHEMA = {
    "type": "string",
    "enum": list(ROLES),
    "description": "the policy deciding on the answer; the verifier's default if none",
}
_CLAIM = {
    "claim_id": {"type": "string", "description": "the insurer role's claim"},
    "claim_type": {"type": "string", "description": "the insurer role's claim type"},
}
_DEFINITION_EXAMPLE = {
    "id": "emergency-summary",
    "input_descriptors": [{"id": "summary", "constraints": {"fields": [{"path": ["$.vct"]}]}}],
}
_PRESENTATION_REQUEST_BODY = object_schema(
    {
        "presentation_definition": object_schema(
            {
                "id": {"type": "string", "minLength": 1},
                "input_descriptors": {
                    "type": "array",
                    "minItems": 1,
                    "items": object_schema({"id": {"type": "string"}}, required=["id"]),
                },
            },
            required=["id", "input_descriptors"],
            description="a DIF Presentation Exchange 2.0 definition",
        ),
        "purpose": {"type": "string", "maxLength": 200},
        "role": _ROLE_SCHEMA,
        **_CLAIM,
    },
    required=["presentation_definition"],
)
_DCQL_REQUEST_BODY = object_schema(
    {
        "dcql_query": {"type": "object", "description": "a DCQL query"},
        "purpose": {"type": "string", "minLength": 1},
        "role": _ROLE_SCHEMA,
        **_CLAIM,
    },
    required=["dcql_query"],
)
_DCQL_REQUEST_EXAMPLE = {
    "dcql_query": {
        "credentials": [
            {
                "id": "summary",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["https://w3id.org/health-mydata/vct/EmergencySummary/v1"]},
            }
        ]
    },
    "purpose": "emergency care",
}


def _verify_router() -> APIRouter:
    router = APIRouter(tags=["VC-API"])

    @router.post(
        "/credentials/verify",
        response_model=None,
        openapi_extra=json_body(_VERIFY_CREDENTIAL_BODY),
    )
    async def verify_credential_route(request: Request) -> Response:
        """Verify a credential; 200 verified, 400 not verified or malformed."""
        return await verify_credential_answer(request.app, await read_json_bytes(request))

    @router.post(
        "/presentations/verify",
        response_model=None,
        openapi_extra=json_body(_VERIFY_PRESENTATION_BODY),
    )
    async def verify_presentation_route(request: Request) -> Response:
        """Verify a presentation; 200 verified, 400 not verified or malformed."""
        return await verify_presentation_answer(request.app, await read_json_bytes(request))

    @router.post(
        "/presentations/submit", response_model=None, openapi_extra=json_body(_SUBMIT_BODY)
    )
    async def submit(request: Request) -> JSONResponse:
        """A wallet's answer to a request: report and the request's policy decision."""
        state = _state(request)
        try:
            body = await _body(request)
            presentation = body.get("presentation")
            if not isinstance(presentation, str | dict):
                raise InvalidInputError(
                    "presentation must be an SD-JWT string or a presentation object",
                    code=ErrorCode.PARSING_ERROR,
                )
            context = await _request_context(state, presentation)
            role = str(context.get("role") or state.default_role)
            report = await verify_submission(
                presentation,
                resolver=state.resolver,
                nonces=state.nonces,
                audience=state.did,
                purpose=state.purpose,
                status_checker=state.status_checker,
                token_status=state.token_status,
                trust=state.trust,
            )
            report = with_claim_check(state.policies[role], report, context.get("claim_type"))
            record_verification(report)
            decision = await state.policies[role].decide(
                report,
                claim_id=context.get("claim_id"),
                claim_type=context.get("claim_type"),
                evidence_key=evidence_key(presentation),
            )
        except HealthMyDataError as error:
            return _vc_api_error(_unknown_check(error))
        body_out = {**report.to_dict(), "decision": decision.to_dict()}
        return JSONResponse(body_out, status_code=200 if decision.accepted else 422)

    @router.get("/verifier")
    async def identity(request: Request) -> dict[str, Any]:
        state = _state(request)
        return {"did": state.did, "purpose": state.purpose}

    return router


async def _request_context(
    state: VerifierState, presentation: str | dict[str, Any]
) -> dict[str, Any]:
    """What the request named by the submission's nonce asked for (role, claim), without
    consuming the nonce; empty when it cannot be read (the checks will say why)."""
    nonce: object = None
    try:
        if isinstance(presentation, str):
            kb = presentation.strip().rsplit("~", 1)[-1]
            if kb:
                nonce = decode_jws(kb, "keyBindingJwt")[1].get("nonce")
        else:
            proofs = proof_objects(presentation)
            nonce = proofs[0].get("challenge") if proofs else None
        record = await state.nonces.peek(nonce)
    except HealthMyDataError:
        return {}
    return dict(record.request.get("context") or {})


def _role(body: Mapping[str, Any], state: VerifierState) -> str:
    """The policy a request names (default: the verifier's), refused unless it is one we run."""
    role = body.get("role", state.default_role)
    if not isinstance(role, str) or role not in state.policies:
        raise InvalidInputError(
            f"role must be one of {', '.join(ROLES)}", code=ErrorCode.REQUEST_INVALID
        )
    return role


def _admin_router() -> APIRouter:
    router = APIRouter(tags=["verifier admin"])

    @router.post(
        "/presentation-requests",
        status_code=201,
        openapi_extra=json_body(
            _PRESENTATION_REQUEST_BODY,
            example={"presentation_definition": _DEFINITION_EXAMPLE, "purpose": "emergency care"},
        ),
    )
    async def create_request(request: Request) -> dict[str, Any]:
        """A signed presentation request with a fresh nonce.

        Body: ``{"presentation_definition": {...}, "purpose"?, "role"?, "claim_id"?,
        "claim_type"?}``.
        """
        state = _state(request)
        body = await _body(request)
        # Refused here, before a nonce is spent: an unknown role; for the insurer's, a
        # missing claim id or a claim type it does not know (the DIDComm route's check).
        role = _role(body, state)
        context: dict[str, Any] = {
            **({"role": role} if "role" in body else {}),
            **claim_context(state.policies[role], body.get("claim_id"), body.get("claim_type")),
        }
        now = utcnow()
        purpose = body.get("purpose")
        if purpose is None:  # absent or null: the verifier's own
            purpose = state.purpose
        if purpose is not None and not isinstance(purpose, str):
            raise InvalidInputError(
                "purpose must be a string",
                code=ErrorCode.REQUEST_INVALID,
                details={"field": "purpose"},
            )
        made = await create_presentation_request(
            state.nonces,
            state.signer,
            audience=state.did,
            definition=body.get("presentation_definition") or {},
            purpose=purpose,
            now=now,
            context=context,
        )
        return {
            "request": made.jws,
            "nonce": made.nonce,
            "audience": state.did,
            "expires": format_datetime(now + state.nonces.ttl),
        }

    @router.post(
        "/admin/connections/{connection_id}/request-presentation",
        status_code=202,
        openapi_extra=json_body(_DCQL_REQUEST_BODY, example=_DCQL_REQUEST_EXAMPLE),
    )
    async def request_over_didcomm(request: Request, connection_id: str) -> dict[str, Any]:
        """Send a DCQL request on a DIDComm connection.

        Body: ``{"dcql_query": {...}, "purpose"?, "role"?, "claim_id"?, "claim_type"?}``
        (purpose defaults to the verifier's, role to its default policy; the insurer role
        needs ``claim_id`` and ``claim_type``, :func:`verifier.didcomm.claim_context`). A bad
        body is a 400 ``presentationRequestInvalid`` before any nonce is spent.
        """
        state = _state(request)
        body = await _body(request)
        role = _role(body, state)
        purpose = body.get("purpose")
        if purpose is None:  # absent or null: the verifier's own
            purpose = state.purpose
        if purpose is None:
            raise InvalidInputError(
                'purpose is required: give "purpose" in the body, or run the verifier with '
                "'mydata serve verifier --purpose TEXT' to make it the default",
                code=ErrorCode.REQUEST_INVALID,
                details={"field": "purpose"},
            )
        if not isinstance(purpose, str) or not purpose:
            raise InvalidInputError(
                "purpose must be a non-empty string",
                code=ErrorCode.REQUEST_INVALID,
                details={"field": "purpose"},
            )
        agent: DIDCommAgent = request.app.state.agent
        return await send_dcql_request(
            agent,
            state,
            connection_id,
            body.get("dcql_query"),
            purpose=purpose,
            role=role,
            claim_id=body.get("claim_id"),
            claim_type=body.get("claim_type"),
        )

    @router.get("/admin/presentations/{thread_id}")
    async def presentation_outcome(request: Request, thread_id: str) -> dict[str, Any]:
        """The stored report and decision of a DIDComm presentation (404 when none)."""
        agent: DIDCommAgent = request.app.state.agent
        found = await get_presentation(agent, thread_id)
        if found is None:
            raise HealthMyDataError(
                "no presentation is stored for this thread (none yet, or deleted)",
                code=ErrorCode.NOT_FOUND,
                details={"reason": "unknownThread"},
            )
        return found

    return router


def create_verifier_app(
    config: AgentServiceConfig,
    settings: VerifierSettings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
) -> Any:
    """The verifier service over the store in ``config`` (see the module docstring).

    :param http_client: for did:web, status lists (defaults to the agent's client).
    """
    chosen = settings or VerifierSettings()
    if chosen.default_role not in ROLES:
        # Worded for the person who chose it (mydata serve verifier --policy).
        raise ValueError(
            f"unknown verifier policy {str(chosen.default_role)[:40]!r}: --policy must be one of "
            f"{', '.join(ROLES)}"
        )

    async def configure(app: FastAPI, agent: DIDCommAgent) -> None:
        http = http_client or agent.http
        resolver = DIDResolver(http_client=http, insecure_http_hosts=chosen.insecure_http_hosts)
        status_checker = StatusChecker(
            http, resolver, insecure_http_hosts=chosen.insecure_http_hosts
        )
        trust = None
        if chosen.operator_dids:
            trust = TrustRegistry(chosen.operator_dids, resolver, status_checker)
            if chosen.trust_cache is not None:
                await trust.import_(parse_json_object(chosen.trust_cache.read_bytes()))
            if chosen.operator_urls:
                sync = TrustSync(
                    trust,
                    [OperatorSource(did, url) for did, url in chosen.operator_urls],
                    http,
                    resolver,
                    status_checker,
                    insecure_http_hosts=chosen.insecure_http_hosts,
                    refresh_interval=chosen.trust_refresh,
                )
                if not await sync.refresh():
                    log.warning("starting with no fresh trust data: %s", sync.last_error)
                sync.start()
                app.state.trust_sync = sync
        did, signer = await load_identity(agent.store)
        app.state.verifier = VerifierState(
            store=agent.store,
            did=did,
            signer=signer,
            resolver=resolver,
            nonces=NonceStore(agent.store),
            status_checker=status_checker,
            token_status=TokenStatusCache(
                http_token_fetcher(http, insecure_http_hosts=chosen.insecure_http_hosts)
            ),
            trust=trust,
            policies={
                "generic": GenericPolicy(),
                "emergency": EmergencyPolicy(),
                "insurer": InsurerClaimPolicy(agent.store),
            },
            purpose=chosen.purpose,
            default_role=chosen.default_role,
        )
        register_verifier(agent, app.state.verifier)

    app = create_agent_app(
        config,
        configure=configure,
        admin_routers=[_admin_router(), trust_router()],
        public_routers=[_verify_router()],
        direct_routes=DIRECT_ROUTES,
    )

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with inner(served):
            try:
                yield
            finally:
                sync: TrustSync | None = getattr(served.state, "trust_sync", None)
                if sync is not None:
                    await sync.stop()

    app.router.lifespan_context = lifespan
    return app
