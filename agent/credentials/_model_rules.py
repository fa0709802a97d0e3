"""Value checks behind :mod:`agent.credentials.model`: URLs, language values, digests.

Date-times are read by :func:`agent.clock.parse_datetime`, the project's one XML Schema
date-time parser.

Each ``*_problem`` function returns ``None`` when the value is acceptable, or a short phrase that
completes the sentence "the value ...". The phrase describes the *shape* of what was found (a JSON
type, a missing scheme), never the value itself: credentials carry health data, and error messages
end up in logs and HTTP bodies. The caller adds the JSON path and the rule.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from enum import StrEnum
from typing import Any

from agent.errors import DataModelError, ErrorCode, KeyMaterialError
from agent.jsonio import json_type
from agent.keys.multikey import decode_multibase_base58btc

__all__ = [
    "ModelRule",
    "data_url_problem",
    "digest_multibase_problem",
    "digest_sri_problem",
    "json_type",
    "language_tag_problem",
    "media_type_problem",
    "url_problem",
    "violation",
]


class ModelRule(StrEnum):
    """The rule a document broke, as ``details['rule']`` of a :class:`DataModelError`.

    Values are stable identifiers: ``<property>.<aspect>``. The section of the VC Data Model 2.0
    (W3C Recommendation, 15 May 2025) that states the rule is in each comment.
    """

    DOCUMENT_OBJECT = "document.object"  # 4.2: a credential is a JSON object (map)
    CONTEXT_REQUIRED = "context.required"  # 4.3
    CONTEXT_ORDERED_SET = "context.orderedSet"  # 4.3: an ordered set, i.e. a JSON array
    CONTEXT_BASE = "context.base"  # 4.3: first item is the base context URL
    CONTEXT_ITEM = "context.item"  # 4.3: later items are URLs or objects
    CONTEXT_MIXED_VERSIONS = "context.mixedVersions"  # 4.3 with VC 1.1 "Contexts"
    ID_URL = "id.url"  # 4.4
    TYPE_REQUIRED = "type.required"  # 4.5
    TYPE_VALUE = "type.value"  # 4.5: one or more terms or absolute URLs
    TYPE_BASE = "type.base"  # 4.5: VerifiableCredential / VerifiablePresentation
    TYPE_CONFLICT = "type.conflict"  # 4.5 / 4.13: a document is a credential or a presentation
    NAME_VALUE = "name.value"  # 4.6
    DESCRIPTION_VALUE = "description.value"  # 4.6
    LANGUAGE_VALUE = "languageValue.value"  # 11.1: @value is a string
    LANGUAGE_TAG = "languageValue.language"  # 11.1: @language is a BCP 47 tag
    LANGUAGE_DIRECTION = "languageValue.direction"  # 11.1: @direction is ltr or rtl
    LANGUAGE_KEYS = "languageValue.keys"  # 11.1: no other members
    ISSUER_REQUIRED = "issuer.required"  # 4.7
    ISSUER_VALUE = "issuer.value"  # 4.7: a URL or an object
    ISSUER_ID = "issuer.id"  # 4.7: the object's id is a URL
    SUBJECT_REQUIRED = "credentialSubject.required"  # 4.8
    SUBJECT_VALUE = "credentialSubject.value"  # 4.8: one or more objects
    SUBJECT_CLAIMS = "credentialSubject.claims"  # 4.8: each object holds at least one claim
    SUBJECT_ID = "credentialSubject.id"  # 4.8 with 4.4
    VALID_FROM_FORMAT = "validFrom.format"  # 4.9: XML Schema dateTimeStamp
    VALID_UNTIL_FORMAT = "validUntil.format"  # 4.9: XML Schema dateTimeStamp
    VALID_FROM = "validFrom"  # 4.9: checked at a given time, the credential is valid already
    VALID_UNTIL = "validUntil"  # 4.9: checked at a given time, the credential is still valid
    VALIDITY_ORDER = "validity.order"  # 4.9: validFrom is not later than validUntil
    VALIDITY_FOREIGN = "validity.foreignProperty"  # 4.9 / VC 1.1: one model's dates only
    ISSUANCE_DATE_REQUIRED = "issuanceDate.required"  # VC 1.1 "Issuance Date"
    ISSUANCE_DATE_FORMAT = "issuanceDate.format"  # VC 1.1 "Issuance Date": XML Schema dateTime
    EXPIRATION_DATE_FORMAT = "expirationDate.format"  # VC 1.1 "Expiration"
    STATUS_VALUE = "credentialStatus.value"  # 4.10
    STATUS_TYPE = "credentialStatus.type"  # 4.10
    STATUS_ID = "credentialStatus.id"  # 4.10 (optional in 2.0, required in VC 1.1)
    SCHEMA_VALUE = "credentialSchema.value"  # 4.11
    SCHEMA_TYPE = "credentialSchema.type"  # 4.11
    SCHEMA_ID = "credentialSchema.id"  # 4.11: required, a URL
    PROOF_VALUE = "proof.value"  # 4.12 (the proof itself is checked elsewhere)
    PROOF_TYPE = "proof.type"  # 4.12
    HOLDER_VALUE = "holder.value"  # 4.13
    HOLDER_ID = "holder.id"  # 4.13
    VC_VALUE = "verifiableCredential.value"  # 4.13: objects only, never strings
    ENVELOPED_CONTEXT = "envelopedCredential.context"  # 4.13.1
    ENVELOPED_ID = "envelopedCredential.id"  # 4.13.1: a data: URL
    RELATED_VALUE = "relatedResource.value"  # 5.3
    RELATED_ID = "relatedResource.id"  # 5.3: required, a URL
    RELATED_UNIQUE = "relatedResource.unique"  # 5.3: ids are unique
    RELATED_DIGEST = "relatedResource.digest"  # 5.3: digestSRI or digestMultibase present
    RELATED_SRI = "relatedResource.digestSRI"  # 5.3: SRI hash-expression
    RELATED_MULTIBASE = "relatedResource.digestMultibase"  # 5.3: multibase string
    RELATED_MEDIA_TYPE = "relatedResource.mediaType"  # 5.3
    REFRESH_VALUE = "refreshService.value"  # 5.4
    REFRESH_TYPE = "refreshService.type"  # 5.4
    REFRESH_ID = "refreshService.id"  # 5.4 (required in VC 1.1)
    TERMS_VALUE = "termsOfUse.value"  # 5.5
    TERMS_TYPE = "termsOfUse.type"  # 5.5
    TERMS_ID = "termsOfUse.id"  # 5.5
    EVIDENCE_VALUE = "evidence.value"  # 5.6
    EVIDENCE_TYPE = "evidence.type"  # 5.6
    EVIDENCE_ID = "evidence.id"  # 5.6
    CONFIDENCE_VALUE = "confidenceMethod.value"  # 5.10: reserved, type required
    CONFIDENCE_TYPE = "confidenceMethod.type"  # 5.10
    RENDER_VALUE = "renderMethod.value"  # 5.10: reserved, type required
    RENDER_TYPE = "renderMethod.type"  # 5.10
    UPGRADE_PROOF = "upgrade.proof"  # a secured VC 1.1 credential cannot be re-contexted


def violation(
    path: str,
    rule: ModelRule,
    message: str,
    *,
    code: ErrorCode = ErrorCode.MALFORMED_VALUE_ERROR,
) -> DataModelError:
    """The error for one broken rule: ``details`` hold the JSON path and the rule id only."""
    where = path or "the document"
    return DataModelError(f"{where}: {message}", code=code, details={"path": path, "rule": rule})


# --- URLs (section 4.4) --------------------------------------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# Whitespace, controls and the characters RFC 3986 never allows unescaped. Non-ASCII letters are
# left alone: JSON-LD identifiers are IRIs (RFC 3987).
_FORBIDDEN = re.compile(r'[\x00-\x20\x7f-\x9f<>"{}|\\^`]')
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DID_IDCHAR = r"(?:[A-Za-z0-9._\-]|%[0-9A-Fa-f]{2})"
_DID = re.compile(rf"did:[a-z0-9]+:(?:{_DID_IDCHAR}*:)*{_DID_IDCHAR}+")


def url_problem(value: object) -> str | None:
    """Why ``value`` is not an absolute URL (section 4.4), or ``None``.

    Strict on purpose: a scheme is required (no relative references, which would be resolved
    against an unknown base), ``http(s)`` URLs need a host, DIDs follow DID Core 1.0 section 3.1
    and ``urn:uuid:`` carries an RFC 9562 UUID.
    """
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a URL string"
    # The same URLs come back on every verification (issuers, contexts, status lists, types):
    # short ones are answered from a bounded cache.
    return _url_problem_cached(value) if len(value) <= 512 else _url_problem(value)


def _url_problem(value: str) -> str | None:
    scheme, colon, rest = value.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        return "has no URL scheme (use an absolute URL such as https://, did: or urn:uuid:)"
    if not rest:
        return "has nothing after its scheme"
    if _FORBIDDEN.search(value):
        return "contains whitespace, control characters or characters URLs do not allow"
    if _BAD_PERCENT.search(value):
        return "has a '%' that is not followed by two hexadecimal digits"
    lowered = scheme.lower()
    if lowered in {"http", "https"}:
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0] if rest.startswith("//") else ""
        if not authority.rpartition("@")[2]:
            return "is an http(s) URL without a host"
    elif lowered == "did":
        did = re.split(r"[/?#]", value, maxsplit=1)[0]
        if not _DID.fullmatch(did):
            return "is not a DID (expected did:<lowercase method>:<method-specific id>)"
    elif lowered == "urn" and rest.lower().startswith("uuid:") and not _UUID.fullmatch(rest[5:]):
        return "is a urn:uuid: URN without a well-formed UUID"
    return None


_url_problem_cached = functools.lru_cache(maxsize=4096)(_url_problem)


# RFC 9110 "tchar": the characters of type, subtype and parameter names.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+"
_MEDIA_TYPE = re.compile(rf"{_TCHARS}/{_TCHARS}(?:\s*;\s*{_TCHARS}=(?:{_TCHARS}|\"[^\"]*\"))*")
_DATA_URL = re.compile(rf"data:{_TCHARS}/{_TCHARS}(?:;{_TCHARS}=[^;,]*)*(?:;base64)?,.+", re.DOTALL)


def media_type_problem(value: object) -> str | None:
    """Why ``value`` is not a media type (RFC 6838, ``type/subtype`` with parameters)."""
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a media type string"
    if not _MEDIA_TYPE.fullmatch(value):
        return "is not a media type of the form type/subtype"
    return None


def data_url_problem(value: object) -> str | None:
    """Why ``value`` is not a ``data:`` URL (RFC 2397) with a media type and a payload.

    The media type is required here: it is how a verifier learns which enveloping securing
    mechanism (VC-JOSE-COSE, SD-JWT) produced the payload (section 4.13.1).
    """
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a data: URL string"
    if not value.startswith("data:"):
        return "is not a data: URL"
    if not _DATA_URL.fullmatch(value):
        return "is not a data: URL of the form data:<type>/<subtype>[;base64],<payload> (RFC 2397)"
    return None


# --- Language values (section 11.1) --------------------------------------------------------

# RFC 5646 section 2.1 "langtag" and "privateuse"; irregular grandfathered tags are not accepted.
_LANGUAGE_TAG = re.compile(
    r"(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+)"
)


def language_tag_problem(value: object) -> str | None:
    """Why ``value`` is not a well-formed BCP 47 language tag, or ``None``."""
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a language tag string"
    if not _LANGUAGE_TAG.fullmatch(value):
        return "is not a well-formed BCP 47 language tag (such as en, fr-CA or zh-Hant)"
    return None


# --- Digests (section 5.3) -----------------------------------------------------------------

_SRI = re.compile(r"(?P<alg>sha256|sha384|sha512)-(?P<b64>[A-Za-z0-9+/_\-]+={0,2})(?:\?[!-~]*)?")
_SRI_LENGTH = {"sha256": 32, "sha384": 48, "sha512": 64}
_BASE64URL = re.compile(r"[A-Za-z0-9_\-]+")


def _one_or_more_strings(value: object, check: Any) -> str | None:
    if isinstance(value, list):
        if not value:
            return "is an empty array; give one or more digests"
        for item in value:
            problem: str | None = check(item)
            if problem is not None:
                return problem
        return None
    result: str | None = check(value)
    return result


def _sri_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a string"
    match = _SRI.fullmatch(value)
    if match is None:
        return "is not an SRI hash-expression (sha256-, sha384- or sha512- then base64)"
    encoded = match["b64"].replace("-", "+").replace("_", "/")
    try:
        digest = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "is an SRI hash-expression whose digest is not valid base64"
    if len(digest) != _SRI_LENGTH[match["alg"]]:
        return "is an SRI hash-expression whose digest length does not match its algorithm"
    return None


def digest_sri_problem(value: object) -> str | None:
    """Why ``value`` is not one or more SRI ``hash-expression`` strings (W3C SRI, section 3.5).

    The digest must decode and have the length of its algorithm, so a truncated or mistyped
    digest is caught here rather than as a mismatch when the resource is fetched.
    """
    return _one_or_more_strings(value, _sri_problem)


def _multibase_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"is a JSON {json_type(value)}, not a string"
    if len(value) < 2:
        return "is too short to be a multibase digest"
    prefix, body = value[0], value[1:]
    if prefix == "u":
        if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
            return "is not base64url without padding after its 'u' multibase prefix"
        decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != body:
            return "is not canonical base64url after its 'u' multibase prefix"
        return None
    if prefix == "z":
        try:
            decode_multibase_base58btc(value)
        except KeyMaterialError:
            return "is not base58btc after its 'z' multibase prefix"
        return None
    return "has a multibase prefix other than 'u' (base64url) or 'z' (base58btc)"


def digest_multibase_problem(value: object) -> str | None:
    """Why ``value`` is not one or more multibase-encoded digests (VC Data Integrity 2.6).

    Only the multibase layer is checked: the ``u`` (base64url, no padding) and ``z``
    (base58btc) encodings that Controlled Identifiers 1.0 names for interoperability. The
    multihash header inside is left to the code that fetches and hashes the resource, because
    the Data Model's own examples encode a bare ``0x12`` code without the multihash length byte,
    and a strict header check would refuse them.
    """
    return _one_or_more_strings(value, _multibase_problem)
