"""Operations for every party's HTTP service: probes, request ids, JSON logs, metrics, headers.

:func:`install_operations` adds to a FastAPI app (the agent service and the vault call it):

- ``GET /healthz``: liveness, ``{"status": "ok"}`` while the process serves HTTP at all;
- ``GET /readyz``: readiness, 200 ``{"status": "ready"}`` when the app's check (a cheap store
  read) answers within :data:`READINESS_TIMEOUT` seconds, else 503 ``{"status": "unavailable",
  "reason": ...}`` with ``reason`` one of :class:`NotReadyReason` (``starting``,
  ``shuttingDown``, ``storeUnavailable``, ``checkTimedOut``, ``checkFailed``);
- ``GET /metrics``: Prometheus text format from the app's own
  :class:`~prometheus_client.CollectorRegistry`, behind a bearer token (the metrics token
  ``MYDATA_METRICS_TOKEN`` or the admin token): fill levels of status lists tell how many
  credentials a hospital issued, which Bitstring Status List's random indexes are meant to hide;
- one pure ASGI middleware (:class:`OperationsMiddleware`) that, per HTTP request:

  * takes the caller's ``X-Request-ID`` when it is sane (:data:`REQUEST_ID_PATTERN`) or makes
    one, keeps it in a context variable for every log line of the request and echoes it;
  * logs one access line (``mydata.access``: method, path without query string, route
    template, status, duration; never headers or bodies; probes and scrapes at DEBUG);
  * counts the request by route template (never the raw path), method and status, and times it;
  * sets security headers: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
    no-referrer``, ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``
    (not on the OpenAPI HTML pages), ``Cache-Control: no-store`` unless the route chose its
    own (status lists, trust lists and DID documents are public and cacheable), and
    ``Strict-Transport-Security`` when the request came over HTTPS. No CORS headers: no
    service answers cross-origin requests from browsers (the wallet API is local);
  * answers an exception that escaped every handler with a JSON 500 (``internalError``) and
    logs its traceback once, with the request id.

Domain code records what it did through :func:`record_verification` and
:func:`record_issuance`. They find the metrics of the app serving the current request through a
context variable (tasks started by a request inherit it) and do nothing outside a request (the
CLI), so no party has to carry a metrics object around.

:func:`configure_logging` sets the root logger to one JSON object per line
(:class:`JsonFormatter`) or plain text; both redact bearer tokens that reach a message.
:func:`run_service` runs an app on uvicorn with graceful shutdown: on SIGTERM/SIGINT readiness
turns to 503 ``shuttingDown`` at once, the listening socket closes, requests in flight finish
(up to :data:`GRACEFUL_SHUTDOWN_SECONDS`), then the app's lifespan closes its store.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import logging
import re
import secrets
import signal
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final, Protocol

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.errors import HealthMyDataError
from agent.servenames import LogFormat
from agent.status import HEAD_CATEGORY
from agent.storage import Store

__all__ = [
    "ACCESS_LOGGER",
    "GRACEFUL_SHUTDOWN_SECONDS",
    "METRICS_TOKEN_ENV",
    "QUIET_LOGGERS",
    "READINESS_TIMEOUT",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_PATTERN",
    "GracefulServer",
    "JsonFormatter",
    "LogFormat",
    "NotReady",
    "NotReadyReason",
    "Operations",
    "OperationsMiddleware",
    "ServiceMetrics",
    "StartupReport",
    "configure_logging",
    "current_request_id",
    "install_operations",
    "operations_of",
    "record_issuance",
    "record_verification",
    "redact",
    "run_service",
    "service_config",
    "store_readiness",
]

log = logging.getLogger(__name__)

#: The header a request id travels in, both ways.
REQUEST_ID_HEADER: Final = "X-Request-ID"
#: What an incoming request id may look like; anything else is replaced by a fresh UUID so a
#: client cannot write arbitrary text (or a newline) into the logs.
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{7,127}")
#: The environment variable holding the bearer token Prometheus scrapes ``/metrics`` with.
METRICS_TOKEN_ENV: Final = "MYDATA_METRICS_TOKEN"  # noqa: S105 - a variable name, not a secret
#: The logger of the one-line-per-request access log.
ACCESS_LOGGER: Final = "mydata.access"
#: Seconds ``/readyz`` waits for the app's check before answering 503 ``checkTimedOut``.
READINESS_TIMEOUT: Final = 2.0
#: Seconds :func:`run_service` lets requests in flight finish after a stop signal.
GRACEFUL_SHUTDOWN_SECONDS: Final = 30

_OPERATIONS_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
_UNMATCHED: Final = "unmatched"
_BEARER: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
_HSTS: Final = "max-age=31536000"
_HEALTHY: Final = b'{"status":"ok"}'

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mydata_request_id", default=None
)
_metrics: contextvars.ContextVar[ServiceMetrics | None] = contextvars.ContextVar(
    "mydata_metrics", default=None
)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def redact(text: str) -> str:
    """``text`` with any ``Bearer <token>`` / ``Basic <credentials>`` replaced by a marker."""
    return _BEARER.sub(lambda m: f"{m.group(1)} [redacted]", text)


# --- logging -----------------------------------------------------------------------------------


#: Libraries whose chatty levels would log what a service must not, kept at WARNING or above:
#: askar's native library logs SQL statements and store options (a PostgreSQL URI's password
#: among them) at DEBUG; httpx and httpcore log every outgoing URL, query string included.
QUIET_LOGGERS: Final = ("aries_askar", "httpx", "httpcore")

#: Attributes a log record may carry (through ``extra=``) that the JSON formatter writes out.
#: Anything else passed as ``extra`` is left out: a log line is a fixed, reviewed shape.
_EXTRA_FIELDS: Final = ("method", "path", "route", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id`` (inside a request), the access fields of
    :data:`_EXTRA_FIELDS` when given, and ``exception`` (the traceback) when there is one.
    Bearer tokens in the message or traceback are redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact("".join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "")
        record.request_id = request_id or "-"
        try:
            return redact(super().format(record))
        finally:
            record.request_id = request_id


class _RequestContext(logging.Filter):
    """Stamps each record with the current request id (``-`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get() or ""
        return True


def configure_logging(
    level: str | int = "info",
    log_format: LogFormat | str = LogFormat.JSON,
    *,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every log record (the app's and uvicorn's) to ``stream`` (stderr) in ``log_format``.

    Replaces the handler a previous call installed, leaves other handlers alone, and returns
    the new handler (remove it from the root logger to undo).

    :raises ValueError: an unknown level or format.
    """
    chosen = LogFormat(log_format)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_RequestContext())
    if chosen is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler._mydata = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_mydata", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    return handler


# --- metrics -----------------------------------------------------------------------------------


class _CheckLike(Protocol):
    @property
    def check(self) -> object: ...


class _ReportLike(Protocol):
    """What :func:`record_verification` reads of a verifier's report."""

    @property
    def verified(self) -> bool: ...

    @property
    def failed(self) -> Sequence[_CheckLike]: ...


#: A scrape-time refresh of gauges from the store (status-list fill).
Refresher = Callable[["ServiceMetrics"], Awaitable[None]]


class ServiceMetrics:
    """The Prometheus metrics of one app, in a registry of its own (several apps may share a
    process: tests, the demo).

    Names and labels (labels never hold a raw path, an id or any personal datum):

    ========================================  =========  ===============================
    ``mydata_http_requests_total``            counter    ``method``, ``route``, ``status``
    ``mydata_http_request_duration_seconds``  histogram  ``method``, ``route``
    ``mydata_http_requests_in_progress``      gauge      (none)
    ``mydata_verifications_total``            counter    ``outcome`` (verified/rejected)
    ``mydata_verification_failures_total``    counter    ``check`` (the failed check)
    ``mydata_credentials_issued_total``       counter    ``format`` (vc/sd-jwt)
    ``mydata_status_list_allocated``          gauge      ``purpose``, ``list``
    ``mydata_status_list_size``               gauge      ``purpose``, ``list``
    ``mydata_status_lists``                   gauge      ``purpose`` (lists opened so far)
    ========================================  =========  ===============================

    plus the ``process_*``, ``python_gc_*`` and ``python_info`` collectors.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "mydata_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "mydata_http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            ["method", "route"],
            registry=r,
        )
        self.http_in_progress = Gauge(
            "mydata_http_requests_in_progress", "HTTP requests being served.", registry=r
        )
        self.verifications = Counter(
            "mydata_verifications",
            "Credentials and presentations verified, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.verification_failures = Counter(
            "mydata_verification_failures",
            "Failed checks of verifications, by check name.",
            ["check"],
            registry=r,
        )
        self.credentials_issued = Counter(
            "mydata_credentials_issued",
            "Credentials issued, by format.",
            ["format"],
            registry=r,
        )
        self.status_list_allocated = Gauge(
            "mydata_status_list_allocated",
            "Indexes taken (handed out, or reserved by a process) in the list being filled.",
            ["purpose", "list"],
            registry=r,
        )
        self.status_list_size = Gauge(
            "mydata_status_list_size",
            "Indexes the status list being filled hands out before the next opens.",
            ["purpose", "list"],
            registry=r,
        )
        self.status_lists = Gauge(
            "mydata_status_lists",
            "Status lists opened so far (all but the current one are full).",
            ["purpose"],
            registry=r,
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._refreshers: list[Refresher] = []
        # Outcome children by outcome, made on first use (a series appears once counted).
        self._outcomes: dict[bool, Counter] = {}

    def add_refresher(self, refresher: Refresher) -> None:
        """Run ``refresher`` before each scrape (it sets gauges from the store)."""
        self._refreshers.append(refresher)

    async def render(self) -> bytes:
        """The registry in Prometheus text format, gauges refreshed first. A refresher that
        fails leaves its gauges as they were and is logged; the scrape still answers."""
        for refresher in self._refreshers:
            try:
                await refresher(self)
            except Exception as exc:  # a scrape must not fail for one gauge
                log.warning("metrics refresh failed: %s", type(exc).__name__)
        return generate_latest(self.registry)

    def observe_verification(self, report: _ReportLike) -> None:
        verified = bool(report.verified)
        child = self._outcomes.get(verified)
        if child is None:
            child = self.verifications.labels(outcome="verified" if verified else "rejected")
            self._outcomes[verified] = child
        child.inc()
        for result in report.failed:
            self.verification_failures.labels(check=str(result.check)).inc()

    def observe_issuance(self, credential_format: str) -> None:
        self.credentials_issued.labels(format=credential_format).inc()


def record_verification(report: _ReportLike) -> None:
    """Count a verification (outcome and each failed check) in the serving app's metrics;
    nothing outside a request."""
    metrics = _metrics.get()
    if metrics is not None:
        metrics.observe_verification(report)


def record_issuance(credential_format: str, count: int = 1) -> None:
    """Count ``count`` credentials issued in ``credential_format`` (``vc``, ``sd-jwt``) in the
    serving app's metrics; nothing outside a request."""
    metrics = _metrics.get()
    if metrics is not None and count > 0:
        metrics.credentials_issued.labels(format=credential_format).inc(count)


async def _status_list_fill(store: Store, metrics: ServiceMetrics) -> None:
    # The allocator's head records (one per purpose) name the list being filled, its size,
    # how many indexes are taken and how many lists were opened (agent.status.allocator).
    async with store.session() as session:
        heads = await session.fetch_all(HEAD_CATEGORY)
    metrics.status_list_allocated.clear()
    metrics.status_list_size.clear()
    metrics.status_lists.clear()
    for record in heads:
        head = record.json()
        if not isinstance(head, dict):
            continue
        purpose, list_id = str(head.get("purpose", record.name)), str(head.get("list", ""))
        metrics.status_list_allocated.labels(purpose, list_id).set(int(head.get("allocated", 0)))
        metrics.status_list_size.labels(purpose, list_id).set(int(head.get("size", 0)))
        metrics.status_lists.labels(purpose).set(int(head.get("lists", 0)))


# --- readiness ---------------------------------------------------------------------------------


class NotReadyReason(StrEnum):
    """Why ``/readyz`` answers 503."""

    STARTING = "starting"
    SHUTTING_DOWN = "shuttingDown"
    STORE_UNAVAILABLE = "storeUnavailable"
    CHECK_TIMED_OUT = "checkTimedOut"
    CHECK_FAILED = "checkFailed"


class NotReady(Exception):
    """Raised by a readiness check: the app cannot serve yet, for ``reason``."""

    def __init__(self, reason: NotReadyReason) -> None:
        super().__init__(str(reason))
        self.reason = reason


#: A readiness check: returns when the app can serve; raises :class:`NotReady` (or a storage
#: error) when it cannot.
ReadinessCheck = Callable[[], Awaitable[None]]

_PROBE_CATEGORY: Final = "ops-readiness"


def store_readiness(get_store: Callable[[], Store | None]) -> ReadinessCheck:
    """A check that reads one (absent) record from the store ``get_store()`` returns: one
    indexed lookup, through the same connection pool as every request. ``None``: starting."""

    async def check() -> None:
        store = get_store()
        if store is None:
            raise NotReady(NotReadyReason.STARTING)
        async with store.session() as session:
            await session.fetch(_PROBE_CATEGORY, "probe")

    return check


@dataclass
class Operations:
    """What :func:`install_operations` keeps on ``app.state.operations``."""

    metrics: ServiceMetrics
    readiness: ReadinessCheck
    shutting_down: bool = False

    def begin_shutdown(self) -> None:
        """From now on ``/readyz`` answers 503 ``shuttingDown`` (load balancers stop sending)."""
        self.shutting_down = True

    async def probe(self) -> NotReadyReason | None:
        """``None`` when ready, else why not."""
        if self.shutting_down:
            return NotReadyReason.SHUTTING_DOWN
        try:
            await asyncio.wait_for(self.readiness(), READINESS_TIMEOUT)
        except NotReady as exc:
            return exc.reason
        except TimeoutError:
            return NotReadyReason.CHECK_TIMED_OUT
        except HealthMyDataError as exc:
            log.warning("readiness: store check failed: %s", exc.code)
            return NotReadyReason.STORE_UNAVAILABLE
        except Exception as exc:  # any failure means "not ready", said as a code
            log.warning("readiness: check failed: %s", type(exc).__name__)
            return NotReadyReason.CHECK_FAILED
        return None


def operations_of(app: Any) -> Operations:
    """The :class:`Operations` of an app built with :func:`install_operations`.

    :raises LookupError: the app has none.
    """
    found = getattr(getattr(app, "state", None), "operations", None)
    if not isinstance(found, Operations):
        raise LookupError("this app was not built with install_operations")
    return found


# --- the middleware ----------------------------------------------------------------------------


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if REQUEST_ID_PATTERN.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


#: Security headers every response gets unless the route set its own (lower-case names, as
#: ASGI response headers carry them).
_DEFAULT_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
_CSP_HEADER: Final = (b"content-security-policy", _CSP.encode())
_HSTS_HEADER: Final = (b"strict-transport-security", _HSTS.encode())
_REQUEST_ID_NAME: Final = REQUEST_ID_HEADER.lower().encode()


class OperationsMiddleware:
    """Request id, access log, request metrics and security headers (see the module docstring).

    A pure ASGI middleware, so streamed responses pass through untouched and the context
    variables it sets are seen by the handler and by any task the handler starts.

    Per request it does as little as it can: the header lists are built once, the metric
    children of a (method, route, status) are looked up once and kept, and the access line
    is formatted only when the access logger's level lets it through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        html_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.html_paths = frozenset(html_paths)
        self.access = logging.getLogger(ACCESS_LOGGER)
        # (html page, https) -> the default headers such a response gets.
        self._defaults: dict[tuple[bool, bool], tuple[tuple[bytes, bytes], ...]] = {
            (html, https): (
                *_DEFAULT_HEADERS,
                *(() if html else (_CSP_HEADER,)),
                *((_HSTS_HEADER,) if https else ()),
            )
            for html in (False, True)
            for https in (False, True)
        }
        # Label children by (method, route, status): a ``labels()`` call locks and hashes.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _observe(self, method: str, route: str, code: int, elapsed: float) -> None:
        key = (method, route, code)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.http_requests.labels(method, route, str(code)),
                self.metrics.http_duration.labels(method, route),
            )
            # Routes are templates and methods a short list, so this stays small; unmatched
            # paths all count as one route.
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        id_token = _request_id.set(request_id)
        metrics_token = _metrics.set(self.metrics)
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        defaults = self._defaults[path in self.html_paths, scope.get("scheme") == "https"]
        request_id_header = (_REQUEST_ID_NAME, request_id.encode("latin-1"))
        started = time.perf_counter()
        outcome: dict[str, int] = {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = int(message["status"])
                raw = message.get("headers") or ()
                present = {bytes(name).lower() for name, _ in raw}
                headers = list(raw)
                if _REQUEST_ID_NAME in present:  # ours replaces one the app set
                    headers = [h for h in headers if bytes(h[0]).lower() != _REQUEST_ID_NAME]
                headers.append(request_id_header)
                headers.extend(h for h in defaults if h[0] not in present)
                message["headers"] = headers
            await send(message)

        in_progress = self.metrics.http_in_progress
        in_progress.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Nothing below answered: one logged traceback (with the request id) and a JSON
            # 500 that says nothing about the cause.
            self.access.error("unhandled error in %s %s", method, path, exc_info=True)
            if "status" in outcome:
                raise
            response = JSONResponse(
                {"code": "internalError", "message": "internal error; see the service's logs"},
                status_code=500,
            )
            await response(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            in_progress.dec()
            route = getattr(scope.get("route"), "path", None) or _UNMATCHED
            code = outcome.get("status", 500)
            self._observe(method, route, code, elapsed)
            level = logging.DEBUG if path in _OPERATIONS_PATHS else logging.INFO
            if self.access.isEnabledFor(level):
                self.access.log(
                    level,
                    "%s %s %d",
                    method,
                    path,
                    code,
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": code,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            _metrics.reset(metrics_token)
            _request_id.reset(id_token)


# --- installing it -----------------------------------------------------------------------------


def _token_guard(tokens: Sequence[str | None], *, open_access: bool) -> Callable[..., Any]:
    bearer = HTTPBearer(auto_error=False)
    accepted = [t.encode() for t in tokens if t]

    async def guard(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if open_access:
            return
        given = (credentials.credentials if credentials else "").encode()
        # Compare with every accepted token, so the time taken does not say which matched.
        matched = [secrets.compare_digest(given, t) for t in accepted]
        if not credentials or not any(matched):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail={
                    "code": "unauthorized",
                    "message": "a valid metrics or admin bearer token is required",
                },
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard


_READY_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    503: {
        "description": "Not ready: starting, shutting down, or the store does not answer",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status", "reason"],
                    "properties": {
                        "status": {"type": "string", "enum": ["unavailable"]},
                        "reason": {"type": "string", "enum": [str(r) for r in NotReadyReason]},
                    },
                }
            }
        },
    }
}


def install_operations(
    app: FastAPI,
    *,
    readiness: ReadinessCheck,
    admin_token: str | None,
    metrics_token: str | None,
    insecure_admin: bool,
    store: Callable[[], Store | None] | None = None,
) -> Operations:
    """Add the probes, ``/metrics`` and :class:`OperationsMiddleware` to ``app`` (call before
    the app starts) and keep an :class:`Operations` on ``app.state.operations``.

    :param readiness: the app's readiness check (:func:`store_readiness`).
    :param admin_token: accepted on ``/metrics`` too.
    :param metrics_token: a token that opens ``/metrics`` only, so the monitoring system does
        not hold the admin token.
    :param insecure_admin: ``/metrics`` is open when this is on and no metrics token is set.
    :param store: the store whose status-list allocator heads feed the fill gauges.
    """
    metrics = ServiceMetrics()
    operations = Operations(metrics=metrics, readiness=readiness)
    app.state.operations = operations
    if store is not None:
        get_store = store

        async def fill(target: ServiceMetrics) -> None:
            opened = get_store()
            if opened is not None:
                await _status_list_fill(opened, target)

        metrics.add_refresher(fill)

    guard = _token_guard(
        [metrics_token, admin_token], open_access=insecure_admin and not metrics_token
    )

    @app.get("/healthz", tags=["operations"], summary="Liveness", response_model=dict[str, str])
    async def healthz() -> Response:
        # Pre-serialised: a probe answered many times a minute skips response encoding.
        return Response(_HEALTHY, media_type="application/json")

    @app.get("/readyz", tags=["operations"], summary="Readiness", responses=_READY_RESPONSES)
    async def readyz() -> JSONResponse:
        reason = await operations.probe()
        if reason is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "reason": str(reason)}, status_code=503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (metrics or admin bearer token)",
        dependencies=[Depends(guard)],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
    )
    async def metrics_route() -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    html = [p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p]
    app.add_middleware(OperationsMiddleware, metrics=metrics, html_paths=html)
    return operations


# --- serving -----------------------------------------------------------------------------------


class StartupReport:
    """The ASGI wrapper every served app runs in: a start-up that fails with a typed error
    (a store that does not open, a party not initialised, a wrong store key) is logged as one
    line, its code and what to do next, instead of Starlette's traceback. Any other start-up
    failure is a bug and keeps its traceback.

    Starlette sends ``lifespan.startup.failed`` (with the traceback as its message) and then
    re-raises; the message is held here until the exception shows what failed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @property
    def state(self) -> Any:
        """The wrapped app's state (:func:`operations_of` finds its operations there)."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except HealthMyDataError as exc:
            if held:
                held[:] = [{"type": "lifespan.startup.failed", "message": _startup_failure(exc)}]
            raise
        finally:
            # Replaced above for a typed error; as Starlette sent it for anything else.
            for message in held:
                await send(message)


def _startup_failure(exc: HealthMyDataError) -> str:
    """The one log line of a start-up refused with a typed error (its message says what to
    do; no value of a secret is ever in it)."""
    return f"the service did not start: {exc}"


class GracefulServer(uvicorn.Server):
    """A uvicorn server whose stop signal first turns the app's readiness to ``shuttingDown``.

    uvicorn then closes the listening socket, lets requests in flight finish (at most
    ``timeout_graceful_shutdown`` seconds) and runs the app's lifespan shutdown.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (the app's lifespan included), then :func:`gc.freeze`.

        Everything loaded by then (modules, models, routes, the app's state) lives as long as
        the process: frozen, it is out of the cyclic collector's sight, so a full collection
        scans only what requests allocate. Unfrozen, a full collection walks it all, tens of
        milliseconds every so often: the verifier's p99 went from 39-56 ms to under 10 ms
        (docs/performance.md). Done here, in a served process, and not in the app's lifespan,
        which tests start many times in one process.
        """
        await super().startup(sockets=sockets)
        gc.collect()
        gc.freeze()

    def begin_shutdown(self) -> None:
        """What a stop signal does, callable without one (tests, embedding)."""
        self._not_ready()
        self.should_exit = True

    #: Set in the workers of ``mydata serve --workers N``, whose parent decides when they stop.
    worker = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.worker:
            if sig == signal.SIGINT:
                # Ctrl-C reaches the terminal's whole process group; the parent forwards it as
                # SIGTERM. Taking both would be uvicorn's "second Ctrl-C": a forced exit that
                # skips the lifespan's shutdown (the store left open).
                return
            if self.should_exit:  # asked twice (Ctrl-C twice): stop at once
                self._captured_signals.append(sig)
                self.force_exit = True
                return
        self._not_ready()
        super().handle_exit(sig, frame)

    def _not_ready(self) -> None:
        with contextlib.suppress(LookupError):
            operations_of(self.config.app).begin_shutdown()


def service_config(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    graceful_timeout: int = GRACEFUL_SHUTDOWN_SECONDS,
) -> uvicorn.Config:
    """The uvicorn configuration every service runs with: logging left as
    :func:`configure_logging` set it (uvicorn's own configuration and access log are off:
    :class:`OperationsMiddleware` writes the access log without query strings or client
    addresses), graceful shutdown, HTTPS when given a certificate and key."""
    return uvicorn.Config(
        StartupReport(app),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=False,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_graceful_shutdown=graceful_timeout,
    )


def run_service(
    app: FastAPI,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    graceful_timeout: int = GRACEFUL_SHUTDOWN_SECONDS,
) -> None:
    """Serve ``app`` on uvicorn (:func:`service_config`) until SIGTERM/SIGINT, then shut down
    gracefully."""
    config = service_config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        graceful_timeout=graceful_timeout,
    )
    GracefulServer(config).run()
