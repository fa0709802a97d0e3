"""DIDComm v2 attachments and the format identifiers of our credential exchanges.

DIDComm Messaging v2, "Attachments": each attachment is an object with an optional ``id``
(unreserved URI characters only), ``description``, ``filename``, ``media_type``, ``format``,
``lastmod_time``, ``byte_count`` and a required ``data`` object holding one or more of
``json`` (embedded JSON), ``base64`` (base64url), ``links`` (with a ``hash``, which the spec makes
mandatory for linked content) and ``jws`` (a detached-payload JWS over the content).

Issue Credential 3.0 and Present Proof 3.0 (WACI-DIDComm) dropped the 2.0 ``formats`` array and
put ``format`` inside each attachment; this module does the same.

Format identifiers (``format`` of each attachment)
--------------------------------------------------

==================================  =========================================================
identifier                          content
==================================  =========================================================
``didcomm/w3c-di-vc-offer@v0.1``    offer: ``{"data_model_versions_supported": ["2.0"],
                                    "credential": <unsigned VC>}`` (Aries RFC 0809)
``didcomm/w3c-di-vc-request@v0.1``  request: ``{"data_model_version": "2.0", ...}`` (RFC 0809)
``didcomm/w3c-di-vc@v0.1``          issued: ``{"credential": <VC with a DataIntegrityProof>}``
                                    (RFC 0809; our suites are eddsa-jcs-2022 / eddsa-rdfc-2022)
``dc+sd-jwt``                       an SD-JWT VC in compact form (``data.base64`` of the ASCII
                                    serialization; media type ``application/dc+sd-jwt``), the
                                    identifier OpenID4VC uses for SD-JWT VC. In a presentation it
                                    is the SD-JWT with the disclosed Disclosures and a KB-JWT.
``health-mydata/sd-jwt-vc-offer@v1.0``   offer of an SD-JWT VC: ``{"vct": ..., "claims": [...]}``
``health-mydata/sd-jwt-vc-request@v1.0`` request: ``{"vct": ..., "holder_binding": <did:key>}``
``dif/presentation-exchange/definitions@v1.0``  request-presentation: ``{"options":
                                    {"challenge", "domain"}, "presentation_definition": {...}}``
                                    (present-proof 3.0 registry; WACI-DIDComm)
``dif/presentation-exchange/submission@v1.0``   presentation: a VP with a
                                    ``presentation_submission`` (present-proof 3.0 registry)
==================================  =========================================================

Why these: RFC 0809 is the registered DIDComm format for W3C VCs with Data Integrity proofs, and
``dc+sd-jwt`` is the SD-JWT VC media type's name; where no registry entry exists (SD-JWT VC offers
and requests) the identifier lives in the project's own ``health-mydata/`` namespace. The protocol
layer only checks the attachment shape; the injected issue/store/present/verify callbacks read the
payloads.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from agent.errors import ErrorCode, InvalidInputError
from agent.jsonio import parse_json
from agent.types import JSON, JSONObject

__all__ = [
    "FORMAT_PEX_DEFINITION",
    "FORMAT_PEX_SUBMISSION",
    "FORMAT_SD_JWT_VC",
    "FORMAT_SD_JWT_VC_OFFER",
    "FORMAT_SD_JWT_VC_REQUEST",
    "FORMAT_W3C_VC_DI",
    "FORMAT_W3C_VC_DI_OFFER",
    "FORMAT_W3C_VC_DI_REQUEST",
    "MEDIA_TYPE_JSON",
    "MEDIA_TYPE_SD_JWT_VC",
    "attachment_base64",
    "attachment_bytes",
    "attachment_json",
    "attachment_json_data",
    "attachment_links",
    "attachments_with_format",
    "parse_attachment",
]

#: Aries RFC 0809: W3C VC Data Integrity, offer / request / credential attachments.
FORMAT_W3C_VC_DI_OFFER: Final = "didcomm/w3c-di-vc-offer@v0.1"
FORMAT_W3C_VC_DI_REQUEST: Final = "didcomm/w3c-di-vc-request@v0.1"
FORMAT_W3C_VC_DI: Final = "didcomm/w3c-di-vc@v0.1"
#: SD-JWT VC (compact serialization, media type ``application/dc+sd-jwt``).
FORMAT_SD_JWT_VC: Final = "dc+sd-jwt"
FORMAT_SD_JWT_VC_OFFER: Final = "health-mydata/sd-jwt-vc-offer@v1.0"
FORMAT_SD_JWT_VC_REQUEST: Final = "health-mydata/sd-jwt-vc-request@v1.0"
#: DIF Presentation Exchange, as registered by present-proof 3.0.
FORMAT_PEX_DEFINITION: Final = "dif/presentation-exchange/definitions@v1.0"
FORMAT_PEX_SUBMISSION: Final = "dif/presentation-exchange/submission@v1.0"

MEDIA_TYPE_JSON: Final = "application/json"
MEDIA_TYPE_SD_JWT_VC: Final = "application/dc+sd-jwt"

#: RFC 3986 unreserved characters: the attachment ``id`` goes into URIs unescaped.
_UNRESERVED: Final = re.compile(r"^[A-Za-z0-9._~-]+$")
_BASE64URL: Final = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_STRING_MEMBERS: Final = ("description", "filename", "media_type", "format")
_INT_MEMBERS: Final = ("lastmod_time", "byte_count")


def _invalid(message: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(
        message,
        code=ErrorCode.INVALID_INPUT,
        details={"reason": "malformedAttachment", "problem_code": "e.p.msg.malformed", **details},
    )


def _descriptor(
    attachment_id: str,
    media_type: str | None,
    format_: str | None,
    data: JSONObject,
    *,
    description: str | None,
    filename: str | None,
    byte_count: int | None = None,
) -> JSONObject:
    attachment: JSONObject = {"id": attachment_id}
    if description is not None:
        attachment["description"] = description
    if filename is not None:
        attachment["filename"] = filename
    if media_type is not None:
        attachment["media_type"] = media_type
    if format_ is not None:
        attachment["format"] = format_
    if byte_count is not None:
        attachment["byte_count"] = byte_count
    attachment["data"] = data
    return parse_attachment(attachment)


def attachment_json(
    attachment_id: str,
    media_type: str | None,
    format_: str | None,
    data: JSON,
    *,
    description: str | None = None,
    filename: str | None = None,
) -> JSONObject:
    """An attachment embedding ``data`` as JSON (``data.json``).

    :raises InvalidInputError: ``attachment_id`` has characters outside RFC 3986 "unreserved".
    """
    return _descriptor(
        attachment_id,
        media_type,
        format_,
        {"json": data},
        description=description,
        filename=filename,
    )


def attachment_base64(
    attachment_id: str,
    media_type: str | None,
    format_: str | None,
    data: bytes | str,
    *,
    description: str | None = None,
    filename: str | None = None,
) -> JSONObject:
    """An attachment embedding ``data`` base64url-encoded without padding (``data.base64``).

    A ``str`` is encoded as UTF-8 first (an SD-JWT compact serialization, for example).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return _descriptor(
        attachment_id,
        media_type,
        format_,
        {"base64": encoded},
        description=description,
        filename=filename,
    )


def attachment_links(
    attachment_id: str,
    media_type: str | None,
    format_: str | None,
    links: Iterable[str],
    content_hash: str,
    *,
    byte_count: int | None = None,
    description: str | None = None,
) -> JSONObject:
    """An attachment that points to its content (``data.links``) with the content's multihash.

    DIDComm v2 requires ``hash`` whenever content is referenced by ``links``.
    """
    return _descriptor(
        attachment_id,
        media_type,
        format_,
        {"links": list(links), "hash": content_hash},
        description=description,
        filename=None,
        byte_count=byte_count,
    )


def parse_attachment(value: Any, *, index: int | None = None) -> JSONObject:
    """Check one attachment object strictly; returns it unchanged.

    :raises InvalidInputError: ``reason=malformedAttachment`` naming the member at fault.
    """
    where = {"attachment": index} if index is not None else {}
    if not isinstance(value, dict):
        raise _invalid("an attachment must be a JSON object", **where)
    attachment_id = value.get("id")
    if attachment_id is not None and (
        not isinstance(attachment_id, str) or not _UNRESERVED.match(attachment_id)
    ):
        raise _invalid(
            "an attachment 'id' must be a non-empty string of unreserved URI characters "
            "(A-Z a-z 0-9 - . _ ~)",
            member="id",
            **where,
        )
    for member in _STRING_MEMBERS:
        if member in value and not (isinstance(value[member], str) and value[member]):
            raise _invalid(f"attachment '{member}' must be a non-empty string", member=member)
    for member in _INT_MEMBERS:
        if member in value and (
            isinstance(value[member], bool) or not isinstance(value[member], int)
        ):
            raise _invalid(f"attachment '{member}' must be an integer", member=member)
    data = value.get("data")
    if not isinstance(data, dict):
        raise _invalid("an attachment needs a 'data' object", member="data", **where)
    if not any(key in data for key in ("json", "base64", "links")):
        raise _invalid(
            "attachment 'data' holds no content: give 'json', 'base64' or 'links'",
            member="data",
            **where,
        )
    if "base64" in data:
        encoded = data["base64"]
        if not isinstance(encoded, str) or not _BASE64URL.match(encoded):
            raise _invalid("attachment 'data.base64' must be base64url text", member="data.base64")
    if "links" in data:
        links = data["links"]
        if not isinstance(links, list) or not all(isinstance(x, str) and x for x in links):
            raise _invalid("attachment 'data.links' must be an array of URLs", member="data.links")
        if not isinstance(data.get("hash"), str) or not data["hash"]:
            raise _invalid(
                "linked attachment content needs 'data.hash' (DIDComm v2 makes it mandatory)",
                member="data.hash",
            )
    if "jws" in data and not isinstance(data["jws"], dict):
        raise _invalid("attachment 'data.jws' must be a JWS object", member="data.jws")
    return value


def attachment_bytes(attachment: Mapping[str, Any]) -> bytes:
    """The inline content as bytes: ``data.base64`` decoded, or ``data.json`` serialised.

    :raises InvalidInputError: ``reason=linkedAttachment`` when the content is only linked (fetch
        it through the injected HTTP client, then check ``data.hash``), or the base64 is invalid.
    """
    data = parse_attachment(attachment)["data"]
    if "base64" in data:
        text = str(data["base64"]).rstrip("=")
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise _invalid("attachment 'data.base64' does not decode") from exc
    if "json" in data:
        return json.dumps(data["json"], ensure_ascii=False, separators=(",", ":")).encode()
    raise InvalidInputError(
        "the attachment content is only linked; fetch it and check its hash first",
        code=ErrorCode.INVALID_INPUT,
        details={"reason": "linkedAttachment", "problem_code": "e.p.xfer.cant-fetch"},
    )


def attachment_json_data(attachment: Mapping[str, Any]) -> JSON:
    """The content as JSON: ``data.json``, or ``data.base64`` holding UTF-8 JSON.

    :raises InvalidInputError: the content is linked, or base64 content is not JSON.
    """
    data = parse_attachment(attachment)["data"]
    if "json" in data:
        return data["json"]
    return parse_json(attachment_bytes(attachment))


def attachments_with_format(
    attachments: Iterable[Mapping[str, Any]], *formats: str
) -> list[JSONObject]:
    """The attachments whose ``format`` is one of ``formats``, in their order."""
    return [dict(item) for item in attachments if item.get("format") in formats]
