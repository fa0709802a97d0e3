"""Presentation requests: what a verifier asks for, signed, with a single-use nonce.

A request is a compact JWS (RFC 7515) in the shape of an OpenID4VP request object (RFC 9101
"JAR", ``typ`` ``oauth-authz-req+jwt``), signed with EdDSA by the verifier's DID key (``kid`` a
DID URL of ``iss``), so a wallet can tell who asks and that nothing was changed on the way::

    {"iss": "<verifier DID>", "client_id": "<verifier DID>", "response_type": "vp_token",
     "nonce": "<single use>", "purpose": "emergency-care",
     "presentation_definition": {...DIF Presentation Exchange 2.0...},
     "iat": 1767225600, "exp": 1767226200, "jti": "urn:uuid:..."}

The wallet answers with an SD-JWT VC whose KB-JWT carries ``aud`` = the verifier DID and
``nonce`` = the request's, or a VP whose proof carries ``domain`` and ``challenge`` the same way.

**Requested fields** use DIF Presentation Exchange 2.0
(https://identity.foundation/presentation-exchange/spec/v2.0.0/): ``input_descriptors[]``, each
with ``constraints.fields[]``, each with ``path`` (JSONPath strings, the first that matches
counts), optional ``filter`` (a JSON Schema subset: ``type`` one type name, ``const`` any JSON
value, ``enum`` a non-empty array, ``pattern`` a regular expression of at most
:data:`MAX_PATTERN_LENGTH` characters; every value is checked when the request is made) and
``optional``; ``constraints.limit_disclosure`` ``"required"`` asks the wallet for nothing
else. JSONPath is the subset PE uses in practice: ``$``, ``.name``, ``['name']``, ``[n]``,
``[*]`` and ``.*``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agent.credentials.jose import decode_jws, key_from_resolved, sign_jws
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, ProofError
from agent.keys.signer import KeyResolver, Signer
from verifier.nonces import NonceStore

__all__ = [
    "MAX_PATTERN_LENGTH",
    "REQUEST_JWT_TYPE",
    "FieldMatch",
    "PresentationRequest",
    "create_presentation_request",
    "json_path",
    "match_definition",
    "parse_json_path",
    "validate_definition",
    "verify_presentation_request",
]

#: The ``typ`` of a signed request object (RFC 9101 section 10.8).
REQUEST_JWT_TYPE: Final = "oauth-authz-req+jwt"

_PathStep = str | int | None  # a member, an index, None for every element/member
_SEGMENT = re.compile(
    r"""\.(?P<name>[A-Za-z_$@][\w$@-]*)          # .name
      | \.\*                                     # .*
      | \[\s*(?P<index>0|[1-9][0-9]*)\s*\]        # [0]
      | \[\s*\*\s*\]                             # [*]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]       # ['name']
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]       # ["name"]
    """,
    re.VERBOSE,
)
_FILTER_KEYWORDS: Final = frozenset({"type", "const", "enum", "pattern"})
#: Longest ``filter.pattern`` accepted: a field's pattern (a code system, a date) is short.
MAX_PATTERN_LENGTH: Final = 512
_JSON_TYPES: Final = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _invalid(message: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.REQUEST_INVALID, details=details)


# --- JSONPath subset -------------------------------------------------------------------------


def parse_json_path(path: object) -> tuple[_PathStep, ...]:
    """The steps of a JSONPath of the subset PE uses (see the module docstring).

    :raises InvalidInputError: ``presentationRequestInvalid`` for anything else.
    """
    if not isinstance(path, str) or not path.startswith("$") or len(path) > 512:
        raise _invalid("a field path must be a JSONPath string starting with '$'")
    steps: list[_PathStep] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise _invalid(
                f"JSONPath {path[:80]!r} uses syntax beyond $, .name, ['name'], [n], [*], .*",
                path=path[:80],
            )
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("sq") is not None:
            steps.append(re.sub(r"\\(.)", r"\1", match.group("sq")))
        elif match.group("dq") is not None:
            steps.append(re.sub(r"\\(.)", r"\1", match.group("dq")))
        else:
            steps.append(None)
        position = match.end()
    return tuple(steps)


def json_path(document: Any, path: str) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every ``(concrete path, value)`` the JSONPath selects in ``document``.

    :raises InvalidInputError: for a path outside the subset.
    """
    found: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    for step in parse_json_path(path):
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for prefix, node in found:
            following.extend(_step(prefix, node, step))
        found = following
    return found


def _step(
    prefix: tuple[str | int, ...], node: Any, step: _PathStep
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if step is None:
        if isinstance(node, dict):
            yield from (((*prefix, k), v) for k, v in node.items())
        elif isinstance(node, list):
            yield from (((*prefix, i), v) for i, v in enumerate(node))
    elif isinstance(step, int):
        if isinstance(node, list) and step < len(node):
            yield (*prefix, step), node[step]
    elif isinstance(node, dict) and step in node:
        yield (*prefix, step), node[step]


# --- presentation definitions ----------------------------------------------------------------


def validate_definition(definition: object) -> dict[str, Any]:
    """Check a PE 2.0 presentation definition's shape; returns it.

    :raises InvalidInputError: ``presentationRequestInvalid`` naming what is wrong.
    """
    if not isinstance(definition, dict):
        raise _invalid("a presentation definition must be a JSON object")
    if not isinstance(definition.get("id"), str) or not definition["id"]:
        raise _invalid("presentation_definition.id must be a non-empty string")
    descriptors = definition.get("input_descriptors")
    if not isinstance(descriptors, list) or not descriptors:
        raise _invalid("presentation_definition.input_descriptors must be a non-empty list")
    ids: set[str] = set()
    for i, descriptor in enumerate(descriptors):
        where = f"input_descriptors[{i}]"
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("id"), str):
            raise _invalid(f"{where} must be an object with a string id", path=where)
        if descriptor["id"] in ids:
            raise _invalid(f"{where}.id is used twice", path=where)
        ids.add(descriptor["id"])
        constraints = descriptor.get("constraints", {})
        if not isinstance(constraints, dict):
            raise _invalid(f"{where}.constraints must be an object", path=where)
        limit = constraints.get("limit_disclosure")
        if limit is not None and limit not in ("required", "preferred"):
            raise _invalid(
                f"{where}.constraints.limit_disclosure must be 'required' or 'preferred'",
                path=where,
            )
        fields = constraints.get("fields", [])
        if not isinstance(fields, list):
            raise _invalid(f"{where}.constraints.fields must be a list", path=where)
        for j, field_ in enumerate(fields):
            at = f"{where}.constraints.fields[{j}]"
            if not isinstance(field_, dict):
                raise _invalid(f"{at} must be an object", path=at)
            paths = field_.get("path")
            if not isinstance(paths, list) or not paths:
                raise _invalid(f"{at}.path must be a non-empty list of JSONPaths", path=at)
            for path in paths:
                parse_json_path(path)
            if "filter" in field_:
                _validate_filter(field_["filter"], f"{at}.filter")
            if "optional" in field_ and not isinstance(field_["optional"], bool):
                raise _invalid(f"{at}.optional must be a boolean", path=at)
    return definition


def _validate_filter(filter_: object, at: str) -> None:
    """Refuse a filter that is not an object of the supported keywords, each with a usable
    value, so that a request the verifier stores can always be evaluated.

    :raises InvalidInputError: ``presentationRequestInvalid``; ``details.keyword`` names the
        keyword at fault.
    """
    if filter_ is None:
        return  # as if absent (accepted so far; a filter of null filters nothing)
    supported = ", ".join(sorted(_FILTER_KEYWORDS))
    if not isinstance(filter_, dict):
        raise _invalid(f"{at} must be an object using only {supported}", path=at)
    unknown = sorted(str(keyword) for keyword in set(filter_) - _FILTER_KEYWORDS)
    if unknown:
        raise _invalid(
            f"{at} may use only {supported}, not {unknown[0][:40]!r}",
            path=at,
            keyword=unknown[0][:40],
        )
    if "type" in filter_ and (
        not isinstance(filter_["type"], str) or filter_["type"] not in _JSON_TYPES
    ):
        raise _invalid(
            f"{at}.type must be one of {', '.join(_JSON_TYPES)}", path=at, keyword="type"
        )
    if "enum" in filter_ and (not isinstance(filter_["enum"], list) or not filter_["enum"]):
        raise _invalid(f"{at}.enum must be a non-empty array", path=at, keyword="enum")
    if "pattern" in filter_:
        pattern = filter_["pattern"]
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
            raise _invalid(
                f"{at}.pattern must be a regular expression (a string) of at most "
                f"{MAX_PATTERN_LENGTH} characters",
                path=at,
                keyword="pattern",
            )
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError, ValueError) as exc:
            raise _invalid(
                f"{at}.pattern is not a valid regular expression: {exc}",
                path=at,
                keyword="pattern",
            ) from None
    # "const" may be any JSON value.


def _json_equal(left: Any, right: Any) -> bool:
    """JSON Schema equality (``const``, ``enum``): ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return left is None and right is None


def _type_accepts(kind: object, value: Any) -> bool:
    """JSON Schema ``type``: a boolean is no number; ``1.0`` is an integer."""
    types = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if types is None:
        return False
    if kind in ("number", "integer") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, types)


def _filter_accepts(filter_: object, value: Any) -> bool:
    """Whether ``value`` passes the field's filter. Total: a filter that could not be
    evaluated (:func:`validate_definition` refuses those) is not satisfied, never an error."""
    if filter_ is None:
        return True
    if not isinstance(filter_, Mapping):
        return False
    if "type" in filter_ and not _type_accepts(filter_["type"], value):
        return False
    if "const" in filter_ and not _json_equal(value, filter_["const"]):
        return False
    if "enum" in filter_:
        options = filter_["enum"]
        if not isinstance(options, list) or not any(_json_equal(value, o) for o in options):
            return False
    if "pattern" in filter_:
        pattern = filter_["pattern"]
        if not isinstance(pattern, str) or not isinstance(value, str):
            return False
        try:
            return re.search(pattern, value) is not None
        except (re.error, RecursionError, OverflowError, ValueError):
            return False
    return True


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """How a set of credentials answers a presentation definition.

    :param missing: ``(descriptor id, the field's paths)`` for each required field that no
        credential has (or none that passes its filter).
    :param matched: per credential (by index), the concrete paths the fields selected.
    :param limit_disclosure: whether any descriptor said ``limit_disclosure: required``.
    """

    missing: tuple[tuple[str, tuple[str, ...]], ...]
    matched: tuple[tuple[tuple[str | int, ...], ...], ...]
    limit_disclosure: bool


def match_definition(
    definition: Mapping[str, Any], credentials: Sequence[Mapping[str, Any]]
) -> FieldMatch:
    """Match credentials (claims objects: an SD-JWT's processed payload, or a W3C credential)
    against a presentation definition: each descriptor needs one credential with every
    required field.

    :raises InvalidInputError: ``presentationRequestInvalid`` for a malformed definition.
    """
    validate_definition(definition)
    matched: list[set[tuple[str | int, ...]]] = [set() for _ in credentials]
    missing: list[tuple[str, tuple[str, ...]]] = []
    limit = False
    for descriptor in definition["input_descriptors"]:
        constraints = descriptor.get("constraints", {})
        limit = limit or constraints.get("limit_disclosure") == "required"
        fields = constraints.get("fields", [])
        best: list[tuple[str, tuple[str, ...]]] | None = None
        best_index = -1
        best_paths: set[tuple[str | int, ...]] = set()
        for index, credential in enumerate(credentials):
            lacking: list[tuple[str, tuple[str, ...]]] = []
            paths: set[tuple[str | int, ...]] = set()
            for field_ in fields:
                hits = _field_hits(field_, credential)
                if hits:
                    paths.update(hits)
                elif not field_.get("optional", False):
                    lacking.append((descriptor["id"], tuple(field_["path"])))
            if best is None or len(lacking) < len(best):
                best, best_index, best_paths = lacking, index, paths
        if best is None:  # no credential at all
            best = [
                (descriptor["id"], tuple(f["path"])) for f in fields if not f.get("optional", False)
            ]
        missing.extend(best)
        if best_index >= 0:
            matched[best_index].update(best_paths)
    return FieldMatch(
        missing=tuple(missing),
        matched=tuple(tuple(sorted(m, key=str)) for m in matched),
        limit_disclosure=limit,
    )


def _field_hits(field_: Mapping[str, Any], credential: Any) -> list[tuple[str | int, ...]]:
    for path in field_["path"]:
        hits = [
            concrete
            for concrete, value in json_path(credential, path)
            if _filter_accepts(field_.get("filter"), value)
        ]
        if hits:
            return hits
    return []


# --- signed requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A signed presentation request.

    :param jws: the compact JWS to hand to the wallet (QR code, DIDComm, HTTP).
    :param nonce: its single-use nonce.
    :param claims: the signed payload.
    """

    jws: str
    nonce: str
    claims: dict[str, Any]


async def create_presentation_request(
    nonces: NonceStore,
    signer: Signer,
    *,
    audience: str,
    definition: Mapping[str, Any],
    purpose: str | None,
    now: datetime,
    context: Mapping[str, Any] | None = None,
) -> PresentationRequest:
    """Sign a presentation request and store its nonce (with the definition and purpose, so
    the submission is checked against what was asked, whatever the wallet sends back).

    :param audience: the verifier's DID: ``iss``/``client_id``, and the ``aud`` (``domain``)
        presentations must carry.
    :param context: what the verifier keeps with the nonce for its policy (the role, the
        insurer's claim id and type); not sent to the wallet.
    :raises InvalidInputError: ``presentationRequestInvalid`` for a malformed definition.
    :raises CryptosuiteError: the signer is neither EdDSA nor ES256.
    """
    if not isinstance(definition, Mapping):
        raise _invalid("presentation_definition must be a JSON object")
    validate_definition(dict(definition))
    if purpose is not None and (not isinstance(purpose, str) or len(purpose) > 200):
        raise _invalid("purpose must be a string of at most 200 characters")
    record = await nonces.issue(
        audience=audience,
        purpose=purpose,
        request={"presentation_definition": dict(definition), "context": dict(context or {})},
        now=now,
    )
    claims: dict[str, Any] = {
        "iss": audience,
        "client_id": audience,
        "response_type": "vp_token",
        "nonce": record.nonce,
        "presentation_definition": dict(definition),
        "iat": int(now.timestamp()),
        "exp": int(record.expires.timestamp()),
        "jti": f"urn:uuid:{uuid.uuid4()}",
    }
    if purpose is not None:
        claims["purpose"] = purpose
    header = {
        "alg": signer.algorithm,
        "kid": signer.verification_method,
        "typ": REQUEST_JWT_TYPE,
    }
    return PresentationRequest(sign_jws(header, claims, signer), record.nonce, claims)


async def verify_presentation_request(
    jws: str, *, resolver: KeyResolver, now: datetime
) -> dict[str, Any]:
    """Check a signed request as a wallet would: ``typ``, the key is the ``iss``'s, the
    signature, ``exp``, and the definition's shape. Returns the claims.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed JWS or header.
    :raises ProofError: ``PROOF_VERIFICATION_ERROR`` when the key is not the issuer's;
        ``nonceExpired`` when the request has expired.
    :raises agent.errors.SignatureError: the signature does not verify.
    :raises InvalidInputError: ``presentationRequestInvalid`` for a malformed definition.
    """
    header, claims, signing_input, signature = decode_jws(jws, "presentationRequest")
    kid, iss = header.get("kid"), claims.get("iss")
    if header.get("typ") != REQUEST_JWT_TYPE or not isinstance(kid, str):
        raise CryptosuiteError(
            f"a presentation request has typ {REQUEST_JWT_TYPE} and a kid",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": "presentationRequest"},
        )
    if not isinstance(iss, str) or kid.partition("#")[0] != iss:
        raise ProofError(
            "the presentation request is signed with a key of another DID than its iss",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"part": "presentationRequest", "reason": "issuerKeyMismatch"},
        )
    key = await resolver.resolve_key(kid, "assertionMethod")
    if key.controller != iss:
        raise ProofError(
            "the presentation request key is not controlled by its iss",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"part": "presentationRequest", "reason": "issuerKeyMismatch"},
        )
    key_from_resolved(key).verify(
        header.get("alg"), signing_input, signature, "presentationRequest"
    )
    exp = claims.get("exp")
    if not isinstance(exp, int) or now.timestamp() >= exp:
        raise ProofError(
            "the presentation request has expired (or has no exp)",
            code=ErrorCode.NONCE_EXPIRED,
        )
    validate_definition(claims.get("presentation_definition"))
    return claims
