"""The backup vault: a service run by the public operator that keeps encrypted wallet backups,
and the wallet's client for it.

The vault learns nothing about health data and lets no one but the phrase's holder read,
replace or delete a backup:

* It stores opaque blobs: the output of :func:`wallet.backup.backup`, encrypted client-side
  with a key from the recovery phrase (Argon2id, random salt per backup). The vault's own
  askar store encrypts them once more at rest.
* There are no accounts. From the recovery phrase the client derives, on the device::

      master  = Argon2id(phrase body, salt "health-mydata/vault/v1", 64 MiB, 3 passes, 4 lanes)
      secret  = HKDF-SHA256(master, info "health-mydata vault access secret v1")   32 bytes
      slot_id = base64url(SHA-256("health-mydata vault slot v1" || 0x00 || secret)) 43 chars

  The secret is the bearer token (``Authorization: Bearer base64url(secret)``), and the slot
  id is a hash *of the secret*. So the vault authenticates a request without looking at its
  store: it hashes the token and compares (constant time) with the slot in the path. A token
  that does not open the slot is refused with 401 whether the slot exists or not; the vault
  has no existence oracle to offer (and no stored hash to steal, since the slot id already is
  one). 404 is only ever said to the slot's owner (the right token, an empty slot).
* What the vault sees: slot ids, access secrets (in each request), ciphertext, sizes and
  times. The secret lets a guesser test a recovery phrase at the cost of one 64 MiB Argon2id,
  the same cost as testing it against a stored backup's key check, so it gives the operator
  nothing the ciphertext did not. The Argon2id salt is fixed (there is no account to hold a
  per-citizen salt); a generated phrase has 150 random bits, so precomputation is moot.
  Backup key and access secret come from different Argon2id salts: one tells nothing of the
  other.

HTTP API (:func:`create_vault_app`, ``mydata serve vault``); errors are ``{"code",
"message"}`` like every party's service:

==============================  ==============================================================
``PUT /vault/{slot}``           body: the blob (``application/octet-stream``, at most
                                ``max_blob_bytes``, default 64 MiB; 413 beyond). Create: 201,
                                no precondition or ``If-None-Match: *`` (412 if the slot holds
                                a backup). Replace: 200, ``If-Match: "<etag>"`` required (428
                                without, 412 when it is not the current one). ``ETag`` in the
                                answer.
``GET /vault/{slot}``           the blob, ``ETag``; 404 for an empty slot
``HEAD /vault/{slot}``          ``ETag`` and ``Content-Length`` only
``DELETE /vault/{slot}``        204; optional ``If-Match`` (412); 404 for an empty slot
``GET /healthz``, ``/readyz``   liveness; readiness (the store answers), 503 with a reason
``GET /metrics``                Prometheus metrics; metrics or admin bearer token
``GET /admin/stats``            slots and bytes held; admin bearer token
==============================  ==============================================================

No rate limiting in the app: guessing a 256-bit secret is hopeless, and a vault exposed to the
internet sits behind a reverse proxy that limits requests and connections per client. The
ETag is the blob's SHA-256 (22 base64url characters), so a device that remembers the ETag of
what it last wrote or read cannot overwrite a newer backup from another device by accident.

The client (:func:`upload_backup`, :func:`download_backup`, :func:`delete_backup`) refuses
plain ``http`` except to a loopback host: the access secret is a bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.clock import format_datetime, utcnow
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StorageError
from agent.observability import METRICS_TOKEN_ENV, install_operations, store_readiness
from agent.service import (
    ADMIN_TOKEN_ENV,
    AgentServiceConfig,
    admin_guard,
    error_response,
    validation_error_response,
)
from agent.storage import Store, open_store
from wallet.backup import DEFAULT_KDF, normalise_recovery_phrase
from wallet.errors import BackupError
from wallet.holder import Wallet

__all__ = [
    "DEFAULT_MAX_BLOB_BYTES",
    "SYNC_CATEGORY",
    "VaultBlob",
    "VaultReceipt",
    "VaultSlot",
    "create_vault_app",
    "delete_backup",
    "download_backup",
    "fetch_backup",
    "remember_etag",
    "remembered_etag",
    "slot_for_secret",
    "upload_backup",
    "vault_slot",
]

log = logging.getLogger(__name__)

#: The largest blob a vault accepts by default (and a client downloads).
DEFAULT_MAX_BLOB_BYTES: Final = 64 * 1024 * 1024
#: The wallet-side record of the ETag last written to or read from a vault slot. Not in
#: ``BACKUP_CATEGORIES``: it belongs to this device, not to the backup.
SYNC_CATEGORY: Final = "vault-sync"

_SLOT_SALT: Final = b"health-mydata/vault/v1"
_SECRET_INFO: Final = b"health-mydata vault access secret v1"
_SLOT_LABEL: Final = b"health-mydata vault slot v1\x00"
_META: Final = "vault-slot"
_BLOB: Final = "vault-blob"
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


# --- slot and secret ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class VaultSlot:
    """Where a recovery phrase's backup lives in a vault, and the token that opens it."""

    slot_id: str
    secret: str = field(repr=False)


def slot_for_secret(secret: str) -> str | None:
    """The slot an access secret opens (``None`` for a token that is not one: 32 bytes,
    canonical unpadded base64url)."""
    if len(secret) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(secret + "=")
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != 32 or _b64url(raw) != secret:
        return None
    return _slot_of(raw)


def _slot_of(raw_secret: bytes) -> str:
    return _b64url(hashlib.sha256(_SLOT_LABEL + raw_secret).digest())


def vault_slot(phrase: str) -> VaultSlot:
    """The slot id and access secret of a recovery phrase (see the module docstring); the
    same phrase gives the same slot on every device. Takes about 0.2 s (Argon2id, 64 MiB).

    :raises BackupError: ``backupWrongPhrase`` (``malformed``) for a mistyped phrase.
    """
    body = normalise_recovery_phrase(phrase)
    master = Argon2id(
        salt=_SLOT_SALT,
        length=32,
        iterations=DEFAULT_KDF.iterations,
        lanes=DEFAULT_KDF.lanes,
        memory_cost=DEFAULT_KDF.memory_kib,
    ).derive(body.encode("ascii"))
    raw = HKDF(SHA256(), 32, salt=None, info=_SECRET_INFO).derive(master)
    return VaultSlot(_slot_of(raw), _b64url(raw))


def _etag_for(blob: bytes) -> str:
    return '"' + _b64url(hashlib.sha256(blob).digest())[:22] + '"'


def _etag_matches(header: str, current: str | None) -> bool:
    """RFC 9110 strong comparison of an ``If-Match``/``If-None-Match`` list with the current
    ETag (``None``: the slot is empty, which nothing matches)."""
    if current is None:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or any(
        hmac.compare_digest(c.encode(), current.encode()) for c in candidates if c.isascii()
    )


# --- the service -------------------------------------------------------------------------------


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


_UNAUTHORISED: Final = (
    401,
    "unauthorized",
    "this access secret does not open this slot",
)
_EMPTY: Final = (404, str(ErrorCode.NOT_FOUND), "no backup is stored in this slot")


class _Refused(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.response = _error(status, code, message, headers)


def _authorise(request: Request, slot_id: str) -> None:
    """Stateless: the bearer token must hash to ``slot_id``. Nothing is looked up first."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = slot_for_secret(token.strip()) if scheme.lower() == "bearer" else None
    given = slot_id.encode("utf-8", "replace")
    if expected is None or not hmac.compare_digest(expected.encode(), given):
        raise _Refused(*_UNAUTHORISED, headers={"WWW-Authenticate": "Bearer"})


def _too_large(limit: int) -> _Refused:
    return _Refused(413, str(ErrorCode.INPUT_TOO_LARGE), f"a backup is at most {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Refused(400, str(ErrorCode.INVALID_INPUT), "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    if size == 0:
        raise _Refused(400, str(ErrorCode.INVALID_INPUT), "the backup is empty")
    return b"".join(chunks)


def create_vault_app(
    config: AgentServiceConfig, *, max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
) -> FastAPI:
    """The vault service (see the module docstring): a plain FastAPI app on its own askar store
    (``config.store_uri``, raw key ``config.store_key``; ``public_url`` is unused). The admin
    token (``config.admin_token`` or ``MYDATA_ADMIN_TOKEN``) guards ``/admin/stats`` only.

    :raises ValueError: no admin token and not ``insecure_admin``.
    """
    admin_token = config.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    guard = admin_guard(admin_token, insecure=config.insecure_admin)
    if max_blob_bytes < 1:
        raise ValueError("max_blob_bytes must be positive")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(config.store_uri, raw_key=config.store_key)
        app.state.store = store
        # Writes are serialised in this process; on PostgreSQL with several replicas the
        # row lock (for_update) in the transaction keeps read-check-write atomic.
        app.state.write_lock = asyncio.Lock()
        try:
            yield
        finally:
            operations.begin_shutdown()
            await store.close()

    app = FastAPI(title=config.title, lifespan=lifespan, docs_url=None, redoc_url=None)
    operations = install_operations(
        app,
        readiness=store_readiness(lambda: getattr(app.state, "store", None)),
        admin_token=admin_token,
        metrics_token=config.metrics_token or os.environ.get(METRICS_TOKEN_ENV),
        insecure_admin=config.insecure_admin,
    )

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> JSONResponse:
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = exc.detail
        body = detail if isinstance(detail, dict) else {"code": "httpError", "message": str(detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc)

    @app.exception_handler(HealthMyDataError)
    async def _domain_error(request: Request, exc: HealthMyDataError) -> JSONResponse:
        if isinstance(exc, StorageError):
            log.error("vault store failed: %s", exc.code)
            return _error(503, str(exc.code), "the vault's store is unavailable; try again later")
        return error_response(exc)

    def _store(request: Request) -> Store:
        store: Store = request.app.state.store
        return store

    @app.put("/vault/{slot_id}")
    async def put_backup(request: Request, slot_id: str) -> Response:
        _authorise(request, slot_id)
        blob = await _read_body(request, max_blob_bytes)
        if_match = request.headers.get("if-match")
        if_none_match = request.headers.get("if-none-match")
        etag = _etag_for(blob)
        meta = {"etag": etag, "size": len(blob), "updated": format_datetime(utcnow())}
        async with request.app.state.write_lock, _store(request).transaction() as txn:
            found = await txn.fetch(_META, slot_id, for_update=True)
            current = _current(found.json() if found else None)
            if if_none_match is not None and _etag_matches(if_none_match, current):
                raise _Refused(412, "preconditionFailed", "the slot holds a backup already")
            if if_match is not None and not _etag_matches(if_match, current):
                raise _Refused(
                    412,
                    "preconditionFailed",
                    "the slot holds another backup than If-Match names (or none)",
                )
            if current is not None and if_match is None:
                raise _Refused(
                    428,
                    "preconditionRequired",
                    "replacing a backup needs If-Match with its current ETag",
                )
            if current is None:
                await txn.insert(_META, slot_id, meta)
                await txn.insert(_BLOB, slot_id, blob)
            else:
                await txn.replace(_META, slot_id, meta)
                await txn.replace(_BLOB, slot_id, blob)
            await txn.commit()
        return JSONResponse(
            {"etag": etag, "size": len(blob)},
            status_code=201 if current is None else 200,
            headers={"ETag": etag},
        )

    @app.get("/vault/{slot_id}")
    async def get_backup(request: Request, slot_id: str) -> Response:
        _authorise(request, slot_id)
        async with _store(request).session() as session:
            meta = await session.fetch(_META, slot_id)
            blob = await session.fetch(_BLOB, slot_id)
        current = _current(meta.json() if meta else None)
        if current is None or blob is None:
            raise _Refused(*_EMPTY)
        return Response(
            blob.value,
            media_type="application/octet-stream",
            headers={"ETag": current, "Cache-Control": "no-store"},
        )

    @app.head("/vault/{slot_id}")
    async def head_backup(request: Request, slot_id: str) -> Response:
        _authorise(request, slot_id)
        async with _store(request).session() as session:
            meta = await session.fetch(_META, slot_id)
        value = meta.json() if meta else None
        current = _current(value)
        if current is None or not isinstance(value, dict):
            raise _Refused(*_EMPTY)
        return Response(
            headers={
                "ETag": current,
                "Content-Length": str(value.get("size", 0)),
                "Cache-Control": "no-store",
            },
            media_type="application/octet-stream",
        )

    @app.delete("/vault/{slot_id}", status_code=204)
    async def delete_backup_route(request: Request, slot_id: str) -> Response:
        _authorise(request, slot_id)
        if_match = request.headers.get("if-match")
        async with request.app.state.write_lock, _store(request).transaction() as txn:
            found = await txn.fetch(_META, slot_id, for_update=True)
            current = _current(found.json() if found else None)
            if current is None:
                raise _Refused(*_EMPTY)
            if if_match is not None and not _etag_matches(if_match, current):
                raise _Refused(412, "preconditionFailed", "the slot holds another backup")
            await txn.remove(_META, slot_id)
            if await txn.fetch(_BLOB, slot_id) is not None:
                await txn.remove(_BLOB, slot_id)
            await txn.commit()
        return Response(status_code=204)

    @app.get("/admin/stats", dependencies=[Depends(guard)], tags=["admin"])
    async def stats(request: Request) -> dict[str, int]:
        """How many slots hold a backup and their total size; nothing about any one slot."""
        async with _store(request).session() as session:
            metas = await session.fetch_all(_META)
        sizes = [m.json() for m in metas]
        return {
            "slots": len(sizes),
            "bytes": sum(int(s.get("size", 0)) for s in sizes if isinstance(s, dict)),
            "max_blob_bytes": max_blob_bytes,
        }

    return app


def _current(meta: Any) -> str | None:
    if isinstance(meta, dict) and isinstance(meta.get("etag"), str):
        return str(meta["etag"])
    return None


# --- the client --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VaultReceipt:
    """What a vault answered to an upload: the stored backup's ETag and size."""

    etag: str
    size: int
    created: bool


@dataclass(frozen=True, slots=True)
class VaultBlob:
    """A backup read from a vault, with its ETag (remember it for the next upload)."""

    data: bytes = field(repr=False)
    etag: str


def _slot_url(vault_url: str, slot: VaultSlot) -> str:
    parts = urlsplit(vault_url)
    host = parts.hostname or ""
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host.lower() in _LOOPBACK_NAMES
        if not loopback:
            raise InvalidInputError(
                "a vault is reached over https (the access secret is a bearer token); plain "
                "http only to this machine (127.0.0.1, ::1, localhost)",
                details={"vault": vault_url},
            )
    elif parts.scheme != "https" or not host:
        raise InvalidInputError(
            "the vault URL must be https://HOST[:PORT][/PATH]", details={"vault": vault_url}
        )
    return vault_url.rstrip("/") + "/vault/" + slot.slot_id


def _slot(phrase: str | VaultSlot) -> VaultSlot:
    return phrase if isinstance(phrase, VaultSlot) else vault_slot(phrase)


def _headers(slot: VaultSlot, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {slot.secret}", **extra}


def _unreachable(vault_url: str, exc: httpx.HTTPError) -> StorageError:
    return StorageError(
        f"cannot reach the vault at {vault_url} ({type(exc).__name__}); check the URL and "
        "your connection",
        code=ErrorCode.STORE_BACKEND_ERROR,
        details={"vault": vault_url},
    )


def _refusal(response: httpx.Response, vault_url: str) -> HealthMyDataError:
    status = response.status_code
    details = {"vault": vault_url, "status": status}
    if status == 404:
        return BackupError(
            "the vault holds no backup for this recovery phrase; check the phrase character "
            "by character, and the vault URL",
            code=ErrorCode.BACKUP_WRONG_PHRASE,
            details={**details, "reason": "notInVault"},
        )
    if status == 401:
        return BackupError(
            "the vault refused this phrase's access secret",
            code=ErrorCode.BACKUP_WRONG_PHRASE,
            details={**details, "reason": "vaultRefused"},
        )
    if status in (412, 428):
        return BackupError(
            "the vault holds another backup for this phrase than this wallet last wrote or "
            "read (another device backed up since, or this wallet never saw it); restore that "
            "one first, or pass --force to replace it",
            code=ErrorCode.BACKUP_TARGET_NOT_EMPTY,
            details={**details, "reason": "vaultChanged"},
        )
    if status == 413:
        return InvalidInputError(
            "the backup is larger than the vault accepts",
            code=ErrorCode.INPUT_TOO_LARGE,
            details=details,
        )
    return StorageError(
        f"the vault answered HTTP {status}; try again later",
        code=ErrorCode.STORE_BACKEND_ERROR,
        details=details,
    )


async def _current_etag(vault_url: str, slot: VaultSlot, client: httpx.AsyncClient) -> str | None:
    url = _slot_url(vault_url, slot)
    try:
        response = await client.head(url, headers=_headers(slot))
    except httpx.HTTPError as exc:
        raise _unreachable(vault_url, exc) from None
    if response.status_code == 404:
        return None
    if response.status_code != 200 or "etag" not in response.headers:
        raise _refusal(response, vault_url)
    return response.headers["etag"]


async def upload_backup(
    vault_url: str,
    phrase: str | VaultSlot,
    data: bytes,
    *,
    client: httpx.AsyncClient,
    if_match: str | None = None,
    force: bool = False,
) -> VaultReceipt:
    """Put a backup (the bytes of :func:`wallet.backup.backup`) into the phrase's slot.

    Without ``if_match`` only an empty slot is written; with it, only the backup that ETag
    names is replaced. ``force`` replaces whatever the slot holds.

    :raises BackupError: ``backupTargetNotEmpty`` (``vaultChanged``) when the slot holds another
        backup; ``backupWrongPhrase`` for a malformed phrase.
    :raises InvalidInputError: ``inputTooLarge``; a plain-http URL to another machine.
    :raises StorageError: ``storeBackendError`` when the vault cannot be reached or fails.
    """
    slot = _slot(phrase)
    url = _slot_url(vault_url, slot)
    if force:
        if_match = await _current_etag(vault_url, slot, client)
    condition = {"If-Match": if_match} if if_match else {"If-None-Match": "*"}
    headers = _headers(slot, **condition, **{"Content-Type": "application/octet-stream"})
    try:
        response = await client.put(url, content=data, headers=headers)
    except httpx.HTTPError as exc:
        raise _unreachable(vault_url, exc) from None
    if response.status_code not in (200, 201) or "etag" not in response.headers:
        raise _refusal(response, vault_url)
    return VaultReceipt(response.headers["etag"], len(data), response.status_code == 201)


async def fetch_backup(
    vault_url: str,
    phrase: str | VaultSlot,
    *,
    client: httpx.AsyncClient,
    max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
) -> VaultBlob:
    """The backup in the phrase's slot and its ETag; read at most ``max_bytes``.

    :raises BackupError: ``backupWrongPhrase`` (``notInVault``): the slot is empty, i.e. no
        backup was ever stored under this phrase at this vault.
    :raises InvalidInputError: ``inputTooLarge``; a plain-http URL to another machine.
    :raises StorageError: ``storeBackendError`` when the vault cannot be reached or fails.
    """
    slot = _slot(phrase)
    url = _slot_url(vault_url, slot)
    try:
        async with client.stream("GET", url, headers=_headers(slot)) as response:
            if response.status_code != 200 or "etag" not in response.headers:
                await response.aread()
                raise _refusal(response, vault_url)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise InvalidInputError(
                        f"the vault sent more than {max_bytes} bytes",
                        code=ErrorCode.INPUT_TOO_LARGE,
                        details={"vault": vault_url},
                    )
                chunks.append(chunk)
            return VaultBlob(b"".join(chunks), response.headers["etag"])
    except httpx.HTTPError as exc:
        raise _unreachable(vault_url, exc) from None


async def download_backup(
    vault_url: str, phrase: str | VaultSlot, *, client: httpx.AsyncClient
) -> bytes:
    """The backup in the phrase's slot (see :func:`fetch_backup`); restore it with
    :func:`wallet.backup.restore`."""
    return (await fetch_backup(vault_url, phrase, client=client)).data


async def delete_backup(
    vault_url: str,
    phrase: str | VaultSlot,
    *,
    client: httpx.AsyncClient,
    if_match: str | None = None,
) -> None:
    """Delete the backup in the phrase's slot (only the one ``if_match`` names, if given).

    :raises BackupError: ``backupWrongPhrase`` (``notInVault``), ``backupTargetNotEmpty``
        (``vaultChanged``).
    """
    slot = _slot(phrase)
    headers = _headers(slot, **({"If-Match": if_match} if if_match else {}))
    try:
        response = await client.delete(_slot_url(vault_url, slot), headers=headers)
    except httpx.HTTPError as exc:
        raise _unreachable(vault_url, exc) from None
    if response.status_code != 204:
        raise _refusal(response, vault_url)


# --- what a device remembers -------------------------------------------------------------------


def _sync_name(vault_url: str, slot: VaultSlot) -> str:
    return f"{vault_url.rstrip('/')}#{slot.slot_id}"


async def remembered_etag(wallet: Wallet, vault_url: str, slot: VaultSlot) -> str | None:
    """The ETag this wallet last wrote to or read from the slot, if any."""
    async with wallet.store.session(wallet.profile) as session:
        record = await session.fetch(SYNC_CATEGORY, _sync_name(vault_url, slot))
    value = record.json() if record else None
    return _current(value)


async def remember_etag(wallet: Wallet, vault_url: str, slot: VaultSlot, etag: str) -> None:
    """Keep the slot's current ETag in the wallet (encrypted, not part of any backup)."""
    name = _sync_name(vault_url, slot)
    value = {"etag": etag, "time": format_datetime(utcnow())}
    async with wallet.store.transaction(wallet.profile) as txn:
        if await txn.fetch(SYNC_CATEGORY, name, for_update=True) is None:
            await txn.insert(SYNC_CATEGORY, name, value)
        else:
            await txn.replace(SYNC_CATEGORY, name, value)
        await txn.commit()
