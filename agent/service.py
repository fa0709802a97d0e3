"""What every party's HTTP service shares: the DIDComm endpoint, admin auth, errors, health.

:func:`create_agent_app` builds a FastAPI app around a :class:`~agent.runtime.DIDCommAgent`:

- ``POST /didcomm``: the DIDComm inbound endpoint (no auth: envelopes authenticate senders);
- ``/admin/...``: invitations, connections, trust pings and protocol records, behind a bearer
  token (``MYDATA_ADMIN_TOKEN``); ``insecure_admin=True`` turns the check off for local testing
  only, with a loud warning at start-up (like ACA-Py's ``--admin-insecure-mode``), and is
  refused when a token is set: a token is never switched off by a flag;
- ``GET /healthz``, ``GET /readyz`` (the store answers a cheap read), ``GET /metrics``
  (metrics or admin token), request ids, JSON access logs, request metrics and security
  headers: :func:`agent.observability.install_operations`;
- one exception handler that maps :class:`~agent.errors.HealthMyDataError` to a JSON error with
  its code (400, 404 or 422), never a 500 with a traceback. Details are logged, and only the
  error's own message (which never holds health data) goes to the client.

Each party adds its own routers (``admin_routers`` behind the token, ``public_routers`` open)
and protocol handlers (``configure``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.errors import ErrorCode, HealthMyDataError, StorageError
from agent.jsonio import DEFAULT_MAX_BYTES, parse_json_object
from agent.messaging import inbound_router, invitation_qr, parse_invitation_url
from agent.observability import METRICS_TOKEN_ENV, install_operations, store_readiness
from agent.openapi import json_body
from agent.runtime import DIDCommAgent
from agent.servenames import ADMIN_TOKEN_ENV
from agent.storage import Store, open_store, settle_pending_calls

__all__ = [
    "ADMIN_TOKEN_ENV",
    "AgentServiceConfig",
    "DirectHandler",
    "DirectRoutes",
    "admin_guard",
    "bearer_matcher",
    "create_agent_app",
    "error_response",
    "is_json_media_type",
    "read_json_body",
    "read_json_bytes",
    "run_in_background",
    "validation_error_response",
]

log = logging.getLogger(__name__)


_STATUS_BY_CODE: dict[str, int] = {
    str(ErrorCode.INVALID_INPUT): 422,
    str(ErrorCode.INVALID_FHIR): 422,
    str(ErrorCode.MALFORMED_VALUE_ERROR): 422,
    str(ErrorCode.RANGE_ERROR): 422,
    str(ErrorCode.UNDEFINED_TERM): 422,
    str(ErrorCode.CONTEXT_NOT_ALLOWED): 422,
    str(ErrorCode.PARSING_ERROR): 400,
    str(ErrorCode.INPUT_TOO_LARGE): 413,
    str(ErrorCode.NOT_FOUND): 404,
    str(ErrorCode.STORE_RECORD_NOT_FOUND): 404,
    str(ErrorCode.BATCH_JOB_NOT_FOUND): 404,
    str(ErrorCode.BATCH_JOB_CONFLICT): 409,
    # A record that exists already (a credential id given again): the request conflicts with
    # the state, it is not malformed.
    str(ErrorCode.STORE_DUPLICATE): 409,
    str(ErrorCode.BATCH_ITEM_INVALID): 422,
}


@dataclass(frozen=True)
class AgentServiceConfig:
    """How to run one party's agent service.

    :param store_uri: ``sqlite://path`` or ``postgres://...``.
    :param store_key: the store's raw key (:func:`agent.storage.generate_raw_key`); services
        read it from a secret manager or the environment, never from the command line.
    :param public_url: the URL peers reach this service at (``/didcomm`` is appended).
    :param admin_token: the bearer token for ``/admin``; ``None`` reads
        :data:`ADMIN_TOKEN_ENV`.
    :param insecure_admin: no admin authentication at all (local testing only); refused when
        an admin token is set (here or in the environment).
    :param metrics_token: a bearer token that opens ``/metrics`` only; ``None`` reads
        ``MYDATA_METRICS_TOKEN`` (the admin token opens it too).
    :param create_store: provision the store at start-up when it does not exist; ``False``
        for a party whose store its ``init`` command makes (a missing one is then a start-up
        failure, and a mistyped path leaves no empty store behind).
    :param missing_store_hint: what to do when the store is missing and not created (appended
        to the ``storeNotFound`` error).
    """

    store_uri: str
    store_key: str
    public_url: str
    title: str = "health-mydata agent"
    admin_token: str | None = None
    insecure_admin: bool = False
    metrics_token: str | None = None
    create_store: bool = True
    missing_store_hint: str | None = None


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` type (FHIR, DIDComm), parameters ignored."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json_body(request: Request, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """The request's JSON object body, refused with 415 unless it is declared as JSON.

    Declaring the media type is not pedantry: a browser sends ``text/plain`` cross-site
    without a CORS preflight, so a JSON API that parses any body is open to cross-site
    request forgery from any web page a user of the service opens.
    """
    return parse_json_object(await read_json_bytes(request), max_bytes=max_bytes)


async def read_json_bytes(request: Request) -> bytes:
    """The request's body, unparsed, refused with 415 unless it is declared as JSON
    (:func:`read_json_body`)."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise HTTPException(
            415,
            detail={
                "code": "unsupportedMediaType",
                "message": "send the body as application/json (Content-Type header)",
            },
        )
    return await request.body()


#: A route's handler on the direct path: ``(app, body) -> response``; ``body`` is the raw
#: request body of a request declared as JSON, at most ``max_bytes + 1`` bytes of it.
DirectHandler = Callable[[Any, bytes], Awaitable[Response]]


class DirectRoutes:
    """Serve a few hot ``(method, path)`` routes without FastAPI's routing and dependency
    layers; everything else goes to the app underneath.

    On this project's 2-core machines FastAPI's per-request work (matching every route of the
    included routers, dependency solving, the exception and exit-stack middlewares, the
    request object) cost about as much as a whole eddsa-jcs-2022 verification. The routes
    served here are still declared on the FastAPI app with the *same handler* (OpenAPI, and
    any request the direct path does not take: another method, a body not declared as JSON,
    which FastAPI answers with its 405 or 415), so both paths answer alike;
    ``tests/verifier/test_direct_routes.py`` compares them byte for byte.

    Installed inside :class:`agent.observability.OperationsMiddleware`: request ids, security
    headers, the access log and metrics (under the route's template) apply as before. A
    :class:`~agent.errors.HealthMyDataError` from a handler is answered as the app's exception
    handler answers it (:func:`error_response`); anything else reaches that middleware's 500.
    An ``admin`` route is taken only when ``authorize(scope)`` says the request carries the
    admin token; otherwise FastAPI's guard answers (401), so refusals stay in one place.

    The body is read up to ``max_bytes + 1`` bytes (the handler's parser refuses more with
    413) instead of whole, so an oversized body costs no more memory than the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[tuple[str, str], DirectHandler],
        admin: Collection[tuple[str, str]] = (),
        authorize: Callable[[Scope], bool] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.admin = frozenset(admin)
        self.authorize = authorize
        self.max_bytes = max_bytes
        self._scope_routes = {key: _DirectRoute(key[1], frozenset({key[0]})) for key in self.routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key: tuple[str, str] = (scope["method"], scope["path"])
        handler = self.routes.get(key)
        if (
            handler is None
            or not is_json_media_type(_header(scope, b"content-type"))
            # An admin route without the right token: FastAPI's guard answers the 401.
            or (key in self.admin and (self.authorize is None or not self.authorize(scope)))
        ):
            await self.app(scope, receive, send)
            return
        body = await self._body(receive)
        if body is None:  # the client went away
            return
        scope["route"] = self._scope_routes[key]
        try:
            response = await handler(scope["app"], body)
        except HealthMyDataError as exc:  # as create_agent_app's exception handler answers
            log.info("%s %s refused: %s", scope["method"], scope["path"], exc.code)
            response = error_response(exc)
        await response(scope, receive, send)

    async def _body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while size <= self.max_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)[: self.max_bytes + 1]


@dataclass(frozen=True)
class _DirectRoute:
    """What ``scope["route"]`` holds on the direct path: the metrics read its ``path`` (the
    route's template; direct routes have no path parameters)."""

    path: str
    methods: frozenset[str]


def bearer_matcher(token: str | None, *, insecure: bool) -> Callable[[Scope], bool]:
    """Whether a request carries ``Authorization: Bearer <token>``, as :func:`admin_guard`
    decides it (scheme case-insensitive, constant-time comparison; anything passes in
    insecure mode)."""
    expected = (token or "").encode()

    def matches(scope: Scope) -> bool:
        if insecure:
            return True
        scheme, _, given = (_header(scope, b"authorization") or "").partition(" ")
        return (
            bool(expected)
            and scheme.lower() == "bearer"
            and secrets.compare_digest(given.encode("latin-1"), expected)
        )

    return matches


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's parameter or body validation failure in the one error shape: where and what,
    never the value refused (it may be a health datum or a secret)."""
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "type": str(error.get("type", ""))}
        for error in exc.errors()[:20]
    ]
    where = ", ".join(".".join(e["loc"]) for e in errors[:3]) or "the request"
    return JSONResponse(
        {
            "code": str(ErrorCode.INVALID_INPUT),
            "message": f"the request is malformed at {where}; see the API reference",
            "details": {"errors": errors},
        },
        status_code=422,
    )


def error_response(error: HealthMyDataError) -> JSONResponse:
    """The JSON error for ``error`` with a status chosen from its code."""
    if error.details.get("reason") in {"unknownConnection", "unknownThread"}:
        code = 404
    else:
        code = _STATUS_BY_CODE.get(str(error.code), 400)
    return JSONResponse(error.to_dict(), status_code=code)


def admin_guard(token: str | None, *, insecure: bool) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that requires ``Authorization: Bearer <token>``.

    :raises ValueError: when there is no token and insecure mode is off: a service must not
        start with an open admin API by accident; and when there is a token and insecure mode
        is on: a token that is set is never switched off (a program embedding a service with
        ``insecure_admin=True`` while ``MYDATA_ADMIN_TOKEN`` is set gets no open admin API).
    """
    if insecure and token:
        raise ValueError(
            f"an admin token is set ({ADMIN_TOKEN_ENV}) and insecure admin mode is asked for "
            "(--admin-insecure-mode): give one or the other"
        )
    if not insecure and not token:
        raise ValueError(
            f"no admin token: set {ADMIN_TOKEN_ENV} (or pass --admin-insecure-mode for local "
            "testing only)"
        )
    bearer = HTTPBearer(auto_error=False)
    expected = (token or "").encode()

    # The dependency is a default value, not ``Annotated[...]``: with postponed annotations
    # FastAPI would look ``bearer`` up in the module's globals and miss this closure's.
    async def guard(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if insecure:
            return
        given = (credentials.credentials if credentials else "").encode()
        if not credentials or not secrets.compare_digest(given, expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail={
                    "code": "unauthorized",
                    "message": "a valid admin bearer token is required",
                },
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard


async def _open_party_store(config: AgentServiceConfig) -> Store:
    """The party's store; a missing one, when it is not to be created, refused with the hint."""
    try:
        return await open_store(
            config.store_uri, raw_key=config.store_key, create=config.create_store
        )
    except StorageError as exc:
        if config.create_store or exc.code != ErrorCode.STORE_NOT_FOUND:
            raise
        hint = f": {config.missing_store_hint}" if config.missing_store_hint else ""
        raise StorageError(
            f"there is no store at {exc.details.get('uri', 'the --store given')}{hint}",
            code=ErrorCode.STORE_NOT_FOUND,
            details=exc.details,
        ) from None


class _InvitationRequest(BaseModel):
    goal_code: str = Field(default="connect", max_length=100)
    goal: str = Field(default="", max_length=500)


class _AcceptRequest(BaseModel):
    invitation_url: str = Field(max_length=8192)
    label: str = Field(default="", max_length=200)


_Body = TypeVar("_Body", bound=BaseModel)


async def _read_model(request: Request, model: type[_Body], *, optional: bool = False) -> _Body:
    """The request's JSON body as ``model``, read as every other route reads its body
    (:func:`read_json_body`: 415 unless declared as JSON, 413 over the size limit, 400 for
    malformed or too deeply nested JSON), then validated: 422 as FastAPI's own validation
    answers, located under ``body``. ``optional``: an empty body stands for every default
    (many clients declare JSON whether they send a body or not)."""
    if optional and not await request.body():  # with or without a content type
        return model()
    data = await read_json_body(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def run_in_background(app: FastAPI, work: Coroutine[Any, Any, None], *, name: str) -> None:
    """Run ``work`` as a task the service owns: at shutdown it is cancelled and awaited
    before the store closes (a batch job resumes from its record when posted again).
    ``work`` handles its own failures; one that escapes is logged."""
    tasks: set[asyncio.Task[None]] = app.state.background_tasks
    task = asyncio.get_running_loop().create_task(work, name=name)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _stop_background(app: FastAPI) -> None:
    tasks: set[asyncio.Task[None]] = getattr(app.state, "background_tasks", set())
    while tasks:  # again, for any task started while the others stopped
        running = list(tasks)
        for task in running:
            task.cancel()
        outcomes = await asyncio.gather(*running, return_exceptions=True)
        for task, outcome in zip(running, outcomes, strict=True):
            tasks.discard(task)
            if isinstance(outcome, Exception):
                log.error("background task %s failed: %s", task.get_name(), type(outcome).__name__)


def create_agent_app(
    config: AgentServiceConfig,
    *,
    configure: Callable[[FastAPI, DIDCommAgent], Awaitable[None]] | None = None,
    admin_routers: Sequence[APIRouter] = (),
    public_routers: Sequence[APIRouter] = (),
    other_store: Callable[[FastAPI], Store | None] | None = None,
    direct_routes: Mapping[tuple[str, str], DirectHandler] | None = None,
    admin_direct_routes: Mapping[tuple[str, str], DirectHandler] | None = None,
) -> FastAPI:
    """A FastAPI app running one party's DIDComm agent (see the module docstring).

    ``configure(app, agent)`` runs once the store is open: register protocol handlers and put
    the party's own state on ``app.state`` there. Routes reach the agent as
    ``request.app.state.agent``. ``other_store(app)``: a second store the party keeps (the
    citizen's wallet beside its agent's), which ``/readyz`` checks too. ``direct_routes``:
    hot routes also served by :class:`DirectRoutes` (declare each on a router as well);
    ``admin_direct_routes`` likewise, taken only with the admin token.
    """
    token = config.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    guard = admin_guard(token, insecure=config.insecure_admin)
    if config.insecure_admin:
        log.warning(
            "ADMIN API IS UNAUTHENTICATED (insecure admin mode): anyone who can reach %s can "
            "act as this party. Never use this outside local testing.",
            config.public_url,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await _open_party_store(config)
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        agent = DIDCommAgent(store, endpoint=config.public_url.rstrip("/") + "/didcomm", http=http)
        if configure is not None:
            await configure(app, agent)
        app.state.agent = agent
        try:
            yield
        finally:
            operations.begin_shutdown()
            await _stop_background(app)
            await agent.drain()
            # A task cancelled in the middle of a store call leaves the call running in
            # askar's threads; its callback must find this loop still open.
            await settle_pending_calls(seconds=5.0)
            await http.aclose()
            await store.close()

    app = FastAPI(title=config.title, lifespan=lifespan)
    app.state.background_tasks = set()

    def _agent_store() -> Store | None:
        agent: DIDCommAgent | None = getattr(app.state, "agent", None)
        return agent.store if agent is not None else None

    checks = [store_readiness(_agent_store)]
    if other_store is not None:
        party_store = other_store
        checks.append(store_readiness(lambda: party_store(app)))

    async def readiness() -> None:
        for check in checks:
            await check()

    if direct_routes or admin_direct_routes:
        # Added before the operations middleware, so it runs inside it.
        app.add_middleware(
            DirectRoutes,
            routes={**(direct_routes or {}), **(admin_direct_routes or {})},
            admin=tuple(admin_direct_routes or ()),
            authorize=bearer_matcher(token, insecure=config.insecure_admin),
        )
    operations = install_operations(
        app,
        readiness=readiness,
        admin_token=token,
        metrics_token=config.metrics_token or os.environ.get(METRICS_TOKEN_ENV),
        insecure_admin=config.insecure_admin,
        store=_agent_store,
    )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # One error shape everywhere: {"code", "message"}, not FastAPI's {"detail": ...}.
        detail: Any = exc.detail  # typed str, but a dict when raised with one (admin_guard)
        body = detail if isinstance(detail, dict) else {"code": "httpError", "message": str(detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(HealthMyDataError)
    async def _domain_error(request: Request, exc: HealthMyDataError) -> JSONResponse:
        log.info("%s %s refused: %s", request.method, request.url.path, exc.code)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc)

    async def _receive(body: bytes, media_type: str) -> None:
        await app.state.agent.receive(body, media_type)

    app.include_router(inbound_router(_receive))

    admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(guard)])

    @admin.post(
        "/invitations",
        status_code=201,
        openapi_extra=json_body(_InvitationRequest.model_json_schema(), required=False),
    )
    async def create_invitation(request: Request) -> dict[str, Any]:
        """An out-of-band invitation URL (and its QR code as SVG) from a new relationship DID.
        The body (``goal_code``, ``goal``) may be left out."""
        body = await _read_model(request, _InvitationRequest, optional=True)
        agent: DIDCommAgent = request.app.state.agent
        invitation = await agent.create_invitation(goal_code=body.goal_code, goal=body.goal)
        url = invitation.to_url(config.public_url.rstrip("/") + "/invite")
        qr = invitation_qr(url)
        return {
            "invitation_id": invitation.id,
            "invitation_url": url,
            "qr_svg": qr.decode() if isinstance(qr, bytes) else qr,
        }

    @admin.post(
        "/connections",
        status_code=201,
        openapi_extra=json_body(_AcceptRequest.model_json_schema()),
    )
    async def accept_invitation(request: Request) -> dict[str, Any]:
        """Accept an invitation URL (as scanned): connect and send a trust ping."""
        body = await _read_model(request, _AcceptRequest)
        agent: DIDCommAgent = request.app.state.agent
        invitation = parse_invitation_url(body.invitation_url)
        connection = await agent.accept_invitation(invitation, label=body.label)
        return asdict(connection)

    @admin.get("/connections")
    async def list_connections(request: Request) -> list[dict[str, Any]]:
        agent: DIDCommAgent = request.app.state.agent
        return [asdict(c) for c in await agent.connections()]

    @admin.get("/connections/{connection_id}")
    async def get_connection(request: Request, connection_id: str) -> dict[str, Any]:
        agent: DIDCommAgent = request.app.state.agent
        return asdict(await agent.connection(connection_id))

    @admin.post("/connections/{connection_id}/ping", status_code=202)
    async def ping(request: Request, connection_id: str) -> dict[str, str]:
        agent: DIDCommAgent = request.app.state.agent
        return {"ping_id": await agent.ping(connection_id)}

    @admin.get("/records")
    async def records(
        request: Request, protocol: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        """Protocol records (issue-credential, present-proof, ...): thread, role, state."""
        agent: DIDCommAgent = request.app.state.agent
        found = await agent.repository.find(protocol=protocol, state=state)
        return [
            {
                "protocol": r.protocol,
                "role": r.role,
                "thread_id": r.thread_id,
                "state": r.state,
                "connection_id": r.connection_id,
                "updated": r.updated,
            }
            for r in found
        ]

    app.include_router(admin)
    for router in admin_routers:
        app.include_router(router, dependencies=[Depends(guard)])
    for router in public_routers:
        app.include_router(router)
    return app
