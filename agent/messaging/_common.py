"""Helpers shared by the DIDComm envelope modules: media types, base64url, JSON, DID URLs."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from agent.errors import ErrorCode, InvalidInputError, MessagingError
from agent.jsonio import parse_json_object
from agent.types import JSONObject

#: Media types, DIDComm Messaging v2 section "IANA Media Types".
PLAIN_TYP: Final = "application/didcomm-plain+json"
SIGNED_TYP: Final = "application/didcomm-signed+json"
ENCRYPTED_TYP: Final = "application/didcomm-encrypted+json"

#: The largest envelope :func:`agent.messaging.unpack` reads by default. Health records travel
#: as attachments, so this is larger than :data:`agent.jsonio.DEFAULT_MAX_BYTES`.
DEFAULT_MAX_ENVELOPE_BYTES: Final = 4 * 1024 * 1024

_B64URL: Final = re.compile(r"^[A-Za-z0-9_-]*$")
# A DID (DID Core section 3.1) and a DID URL with a fragment naming a verification method.
_DID: Final = re.compile(r"^did:[a-z0-9]+:(?:[A-Za-z0-9._%-]*:)*[A-Za-z0-9._%-]+$")


def malformed(message: str, **details: Any) -> MessagingError:
    """A ``didcommMalformed`` error with ``details``."""
    return MessagingError(message, code=ErrorCode.DIDCOMM_MALFORMED, details=details)


def same_media_type(value: object, expected: str) -> bool:
    """Whether ``value`` names ``expected``; the ``application/`` prefix may be omitted
    (DIDComm v2 "Media Types", after RFC 7515 section 4.1.9)."""
    if not isinstance(value, str):
        return False
    return value == expected or "application/" + value == expected


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: object, field: str) -> bytes:
    """Decode base64url without padding, strictly: only the URL-safe alphabet, no padding, and
    the canonical encoding only (unused trailing bits must be zero), so that two different
    strings never decode to the same bytes.

    :raises MessagingError: ``didcommMalformed`` naming ``field``.
    """
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        raise malformed(f"{field} must be unpadded base64url", field=field)
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise malformed(f"{field} is not valid base64url", field=field) from exc
    if b64url_encode(data) != value:
        raise malformed(f"{field} is not canonical base64url", field=field)
    return data


def dumps(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the form every envelope layer is serialized in."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes | str, *, max_bytes: int, what: str) -> JSONObject:
    """Strict JSON object parsing (:mod:`agent.jsonio`) with its errors as ``MessagingError``.

    :raises MessagingError: ``inputTooLarge`` over ``max_bytes``; ``didcommMalformed`` for
        anything that is not one strict JSON object.
    """
    try:
        return parse_json_object(data, max_bytes=max_bytes)
    except InvalidInputError as exc:
        code = (
            ErrorCode.INPUT_TOO_LARGE
            if exc.code is ErrorCode.INPUT_TOO_LARGE
            else ErrorCode.DIDCOMM_MALFORMED
        )
        raise MessagingError(
            f"{what} is not acceptable JSON: {exc.message}",
            code=code,
            details={"what": what, "cause": str(exc.code)},
        ) from exc


def is_did(value: object) -> bool:
    """Whether ``value`` is a DID without path, query or fragment."""
    return isinstance(value, str) and _DID.match(value) is not None


def did_of_kid(kid: object, field: str) -> str:
    """The DID of a key id, which must be an absolute DID URL ``did:…#fragment``.

    :raises MessagingError: ``didcommMalformed`` when it is not.
    """
    if isinstance(kid, str):
        did, sep, fragment = kid.partition("#")
        if sep and fragment and is_did(did):
            return did
    raise malformed(
        f"{field} must be a DID URL naming a verification method ('did:…#fragment')",
        field=field,
    )


def require_object(value: object, field: str) -> JSONObject:
    """``value`` as a JSON object, or ``didcommMalformed``."""
    if not isinstance(value, dict):
        raise malformed(f"{field} must be a JSON object", field=field)
    return value


def require_string(value: object, field: str) -> str:
    """``value`` as a non-empty string, or ``didcommMalformed``."""
    if not isinstance(value, str) or not value:
        raise malformed(f"{field} must be a non-empty string", field=field)
    return value
