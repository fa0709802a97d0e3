"""did:web: a DID document served over HTTPS by its controller (https://w3c-ccg.github.io/did-method-web/).

Hospitals publish their issuer DID this way (DESIGN.md section 2): the document lives at
``https://<domain>/.well-known/did.json`` (or ``https://<domain>/<path>/did.json``), so that the
hospital's web PKI vouches for its keys.

Fetching treats the server as untrusted: the HTTP client is injected (tests pass an
``httpx.MockTransport``), redirects are not followed, the whole exchange has a deadline, the body
is read up to a size limit, and the content type, JSON shape and ``id`` are checked before pydid
sees the document (did:web, section 3.2.1 "Read (Resolve)": the resolved document's ``id`` must
equal the DID).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx

from agent.dids.document import DID_CONTEXT, MULTIKEY_CONTEXT, parse_document
from agent.errors import (
    DIDDocumentError,
    DIDResolutionError,
    ErrorCode,
    InvalidInputError,
    KeyMaterialError,
)
from agent.jsonio import parse_json_object
from agent.keys.multikey import KeyType, encode_multikey
from agent.types import JSONObject

if TYPE_CHECKING:
    from agent.dids.document import DIDDocument

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "DEFAULT_TIMEOUT",
    "build_did_web_document",
    "did_web_from_url",
    "did_web_to_url",
    "resolve_did_web",
]

#: Largest did.json accepted. A DID document with a few keys is 1-5 KiB; the limit leaves room
#: for many rotated keys and services and stops a hostile server from exhausting memory.
DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024
#: Seconds allowed for the whole fetch (connect, headers and body).
DEFAULT_TIMEOUT = 10.0

_PREFIX = "did:web:"
_SEGMENT = re.compile(r"^(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~-])+$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_JSON_TYPES = (
    "application/did+json",
    "application/did+ld+json",
    "application/json",
    "application/ld+json",
)


def _invalid(did: str, reason: str) -> DIDResolutionError:
    return DIDResolutionError(
        f"not a valid did:web: {reason}", code=ErrorCode.INVALID_DID, details={"did": did}
    )


def _check_host(did: str, host: str, insecure_http_hosts: Collection[str]) -> None:
    if host in insecure_http_hosts:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        # did:web, section 3.2.1: the domain must match a TLS certificate name, not an address.
        raise _invalid(did, f"{host} is an IP address; did:web needs a domain name")
    if not _HOST.match(host):
        raise _invalid(did, f"{host!r} is not a valid domain name")


def did_web_to_url(did: str, *, insecure_http_hosts: Collection[str] = frozenset()) -> str:
    """The HTTPS URL of a did:web's document (did:web, section 3.2.1 "Read (Resolve)").

    ``did:web:example.com`` → ``https://example.com/.well-known/did.json``;
    ``did:web:example.com%3A8443:dept:cardio`` → ``https://example.com:8443/dept/cardio/did.json``.

    :param insecure_http_hosts: hosts to fetch over plain ``http`` (and which may be IP
        addresses), for local development and tests only, e.g. ``{"localhost"}``.
    :raises DIDResolutionError: (``invalidDid``) for a DID that is not ``did:web:``, an empty,
        IP or malformed host, a bad port, or a path segment such as ``..``.
    """
    if not isinstance(did, str) or not did.startswith(_PREFIX) or len(did) == len(_PREFIX):
        raise _invalid(str(did), "a did:web starts with 'did:web:' followed by a domain")
    if any(c in did for c in "/?#") or did != did.strip():
        raise _invalid(did, "a did:web contains no '/', '?', '#' or spaces (use ':' for paths)")
    domain, *segments = did[len(_PREFIX) :].split(":")
    authority = unquote(domain)
    host, _, port = authority.partition(":")
    if "%" in host or not host:
        raise _invalid(did, "the domain is empty or percent-encodes more than the port colon")
    host = host.lower()
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise _invalid(did, f"port {port!r} is not a number between 1 and 65535")
    _check_host(did, host, insecure_http_hosts)
    for segment in segments:
        if not segment or segment in (".", "..") or not _SEGMENT.match(segment):
            raise _invalid(did, f"path segment {segment!r} is empty, '.' or '..', or malformed")
    scheme = "http" if host in insecure_http_hosts else "https"
    netloc = f"{host}:{port}" if port else host
    path = "/" + "/".join(segments) if segments else "/.well-known"
    return f"{scheme}://{netloc}{path}/did.json"


def did_web_from_url(base_url: str, *, insecure_http_hosts: Collection[str] = frozenset()) -> str:
    """The did:web for a hospital's base URL (did:web, section 3.2.2 "Create (Register)").

    ``https://example.com`` → ``did:web:example.com``; ``https://example.com:8443/dept/cardio``
    → ``did:web:example.com%3A8443:dept:cardio``. A trailing ``/did.json`` or
    ``/.well-known/did.json`` is dropped, so the URL of the document itself works too.

    :raises DIDResolutionError: (``invalidDid``) for a URL that is not ``https`` (or ``http`` on
        an insecure host), has a query, fragment or credentials, or has no valid host.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    allowed = {"https", "http"} if host in insecure_http_hosts else {"https"}
    if parts.scheme not in allowed:
        raise _invalid(base_url, "a did:web document is served over https; give an https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password or not host:
        raise _invalid(base_url, "give a plain URL: a host and a path, no query or credentials")
    _check_host(base_url, host, insecure_http_hosts)
    path = parts.path
    for suffix in ("/.well-known/did.json", "/did.json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    segments = [s for s in path.split("/") if s]
    domain = host + (f"%3A{parts.port}" if parts.port else "")
    did = ":".join([_PREFIX + domain, *segments])
    # Round-trip through the parser so that every rule there also holds for what is made here.
    did_web_to_url(did, insecure_http_hosts=insecure_http_hosts)
    return did


def build_did_web_document(
    did: str,
    keys: Sequence[tuple[KeyType, bytes]],
    *,
    services: Sequence[JSONObject] = (),
) -> JSONObject:
    """The DID document a hospital serves at its did:web URL.

    Each key becomes a ``Multikey`` method whose fragment is its own Multikey value
    (``did:web:…#z6Mk…``), as in did:key. Fragments that name the key, rather than its position
    (``#key-1``), keep every ``verificationMethod`` in already-issued credentials pointing at the
    same key while keys are added and retired: list the new key and the old one together, and the
    old one still verifies what it signed until it is removed from the list.

    Ed25519 and P-256 keys are listed under ``assertionMethod`` (issuing credentials) and
    ``authentication``; X25519 keys under ``keyAgreement`` (DIDComm encryption).

    :raises KeyMaterialError: for a key type other than Ed25519, P-256 or X25519, a wrong
        length, or the same key listed twice.
    :raises DIDResolutionError: (``invalidDid``) when ``did`` is not a valid did:web.
    """
    if not did.startswith(_PREFIX):
        raise _invalid(did, "build_did_web_document needs a did:web")
    document: JSONObject = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [],
    }
    seen: set[str] = set()
    for key_type, raw in keys:
        if key_type not in (KeyType.ED25519_PUB, KeyType.X25519_PUB, KeyType.P256_PUB):
            raise KeyMaterialError(
                f"a did:web document publishes public keys only, not {key_type}",
                code=ErrorCode.UNSUPPORTED_KEY_TYPE,
            )
        multikey = encode_multikey(key_type, raw)
        if multikey in seen:
            raise KeyMaterialError(
                f"key {multikey} is listed twice", code=ErrorCode.INVALID_MULTIKEY
            )
        seen.add(multikey)
        vm_id = f"{did}#{multikey}"
        document["verificationMethod"].append(
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        )
        relationships = (
            ("keyAgreement",)
            if key_type is KeyType.X25519_PUB
            else ("assertionMethod", "authentication")
        )
        for relationship in relationships:
            document.setdefault(relationship, []).append(vm_id)
    if services:
        document["service"] = [dict(s) for s in services]
    return document


def _content_type_ok(value: str | None) -> bool:
    if not value:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type in _JSON_TYPES


async def _fetch(
    client: httpx.AsyncClient, did: str, url: str, max_bytes: int, request_timeout: float
) -> bytes:
    headers = {"Accept": "application/did+json, application/json;q=0.9"}
    async with client.stream(
        "GET", url, headers=headers, follow_redirects=False, timeout=request_timeout
    ) as response:
        if response.status_code in (404, 410):
            raise DIDResolutionError(
                f"{did} has no DID document at {url} (HTTP {response.status_code}); check the "
                "DID, or ask its controller to publish did.json there",
                code=ErrorCode.NOT_FOUND,
                details={"did": did, "status": response.status_code},
            )
        if response.status_code != 200:
            raise DIDResolutionError(
                f"fetching {url} for {did} gave HTTP {response.status_code}, not 200 "
                "(redirects are not followed); try again later or check the DID",
                code=ErrorCode.NOT_FOUND,
                details={"did": did, "status": response.status_code},
            )
        if not _content_type_ok(response.headers.get("content-type")):
            raise DIDDocumentError(
                f"{url} answered with content type {response.headers.get('content-type')!r}, "
                "not application/did+json or application/json",
                code=ErrorCode.INVALID_DID_DOCUMENT,
                details={"did": did},
            )
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(did, url, max_bytes)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise _too_large(did, url, max_bytes)
        return bytes(body)


def _too_large(did: str, url: str, max_bytes: int) -> DIDDocumentError:
    return DIDDocumentError(
        f"the DID document at {url} is larger than {max_bytes} bytes; a DID document this large "
        "is not plausible, so it was not read",
        code=ErrorCode.INVALID_DID_DOCUMENT,
        details={"did": did, "limit": max_bytes},
    )


async def resolve_did_web(
    did: str,
    client: httpx.AsyncClient,
    *,
    time_limit: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    insecure_http_hosts: Collection[str] = frozenset(),
) -> DIDDocument:
    """Fetch and parse a did:web's document with an injected HTTP client.

    :param time_limit: seconds for the whole fetch; also passed to httpx per request.
    :param max_bytes: the largest body read.
    :raises DIDResolutionError: ``invalidDid`` for a malformed DID; ``notFound`` for HTTP 404/410,
        any other non-200 status, or a connection failure; ``resolutionTimeout`` when the server
        does not answer in time.
    :raises DIDDocumentError: (``invalidDidDocument``) for a wrong content type, a body over
        ``max_bytes``, invalid JSON, a document whose ``id`` is not ``did``, or one pydid rejects.
    """
    url = did_web_to_url(did, insecure_http_hosts=insecure_http_hosts)
    try:
        async with asyncio.timeout(time_limit):
            body = await _fetch(client, did, url, max_bytes, time_limit)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise DIDResolutionError(
            f"{url} did not answer within {time_limit} s; try again later",
            code=ErrorCode.RESOLUTION_TIMEOUT,
            details={"did": did},
        ) from exc
    except httpx.TransportError as exc:
        raise DIDResolutionError(
            f"could not fetch {url} for {did}: {type(exc).__name__}; check the domain and network",
            code=ErrorCode.NOT_FOUND,
            details={"did": did},
        ) from exc
    try:
        # The strict parser: bounded nesting (no RecursionError), no duplicate members, no NaN.
        document = parse_json_object(body, max_bytes=max_bytes)
    except InvalidInputError as exc:
        raise DIDDocumentError(
            f"the DID document at {url} is not a usable JSON object: {exc.message}",
            code=ErrorCode.INVALID_DID_DOCUMENT,
            details={"did": did},
        ) from exc
    if document.get("id") != did:
        raise DIDDocumentError(
            f"the document at {url} is for {document.get('id')!r}, not {did}; the server may be "
            "misconfigured or serving someone else's document",
            code=ErrorCode.INVALID_DID_DOCUMENT,
            details={"did": did},
        )
    return parse_document(document)
