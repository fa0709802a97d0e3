"""DCQL, the Digital Credentials Query Language of OpenID for Verifiable Presentations 1.0
(section 6): parse a verifier's query and match stored credentials against it.

Why DCQL and not DIF Presentation Exchange 2.0: ``docs/decisions/0005-presentation-query.md``.

Supported (OpenID4VP 1.0, sections 6.1 to 6.4):

* ``credentials``: Credential Queries with ``id``, ``format`` (``dc+sd-jwt`` or ``ldp_vc``),
  ``multiple``, ``meta`` (``vct_values`` for SD-JWT VC; ``type_values`` for W3C, a list of
  type lists, any one of which must all be in the credential's ``type``), ``claims`` (``id``,
  ``path``, ``values``) and ``claim_sets``;
* ``credential_sets`` with ``options`` and ``required``.

``trusted_authorities`` and ``require_cryptographic_holder_binding: false`` are not supported:
the first is refused, the second ignored (this wallet always binds). Unknown members are
refused, so a verifier never believes a constraint was applied that was not.

Claims path pointers (section 7) are the same as :data:`agent.credentials.sd_jwt.ClaimPath`:
strings select object members, non-negative integers array elements, ``null`` every element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.credentials.sd_jwt import ClaimPath
from agent.errors import ErrorCode
from wallet.errors import PresentationQueryError

__all__ = [
    "FORMATS",
    "ClaimQuery",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlQuery",
    "parse_dcql",
    "pointer",
    "select",
]

#: The DCQL format identifiers this wallet answers (OpenID4VP 1.0, Appendix B).
FORMATS: Final = frozenset({"dc+sd-jwt", "ldp_vc"})
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_QUERY_MEMBERS: Final = frozenset({"credentials", "credential_sets"})
_CREDENTIAL_MEMBERS: Final = frozenset(
    {
        "id",
        "format",
        "multiple",
        "meta",
        "claims",
        "claim_sets",
        "require_cryptographic_holder_binding",
    }
)
_CLAIM_MEMBERS: Final = frozenset({"id", "path", "values"})


@dataclass(frozen=True, slots=True)
class ClaimQuery:
    """One requested claim: its ``path`` and, optionally, the ``values`` accepted."""

    id: str | None
    path: ClaimPath
    values: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """One Credential Query. ``claims`` empty means no claim is requested beyond those the
    format always shows; ``claim_sets`` lists alternative sets of claim ids."""

    id: str
    format: str
    multiple: bool
    vct_values: tuple[str, ...] | None
    type_values: tuple[frozenset[str], ...] | None
    claims: tuple[ClaimQuery, ...]
    claim_sets: tuple[tuple[str, ...], ...] | None


@dataclass(frozen=True, slots=True)
class CredentialSetQuery:
    """Alternatives (``options``, each a list of Credential Query ids) of which one must be
    answered when ``required``."""

    options: tuple[tuple[str, ...], ...]
    required: bool


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None


def _invalid(message: str, **details: Any) -> PresentationQueryError:
    return PresentationQueryError(
        message, code=ErrorCode.PRESENTATION_QUERY_INVALID, details=details
    )


def _check_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _ID_CHARS:
        raise _invalid(f"{where} must be a non-empty string of letters, digits, _ and -")
    return value


def _only(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _invalid(f"{where} has members this wallet does not support: {unknown}")


def _path(value: object, where: str) -> ClaimPath:
    if not isinstance(value, list) or not value:
        raise _invalid(f"{where}.path must be a non-empty array")
    out: list[str | int | None] = []
    for item in value:
        if isinstance(item, bool) or not (
            item is None or isinstance(item, str) or (isinstance(item, int) and item >= 0)
        ):
            raise _invalid(f"{where}.path holds strings, non-negative integers and null only")
        out.append(item)
    return tuple(out)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{where} must be a non-empty array of strings")
    return tuple(value)


def _credential_query(raw: object, index: int) -> CredentialQuery:
    where = f"credentials[{index}]"
    if not isinstance(raw, Mapping):
        raise _invalid(f"{where} must be an object")
    _only(raw, _CREDENTIAL_MEMBERS, where)
    cid = _check_id(raw.get("id"), f"{where}.id")
    fmt = raw.get("format")
    if fmt not in FORMATS:
        raise _invalid(f"{where}.format must be one of {sorted(FORMATS)}", path=f"{where}.format")
    multiple = raw.get("multiple", False)
    if not isinstance(multiple, bool):
        raise _invalid(f"{where}.multiple must be a boolean")
    meta = raw.get("meta", {})
    if not isinstance(meta, Mapping):
        raise _invalid(f"{where}.meta must be an object")
    vct_values = None
    type_values = None
    if fmt == "dc+sd-jwt":
        _only(meta, frozenset({"vct_values"}), f"{where}.meta")
        if "vct_values" in meta:
            vct_values = _strings(meta["vct_values"], f"{where}.meta.vct_values")
    else:
        _only(meta, frozenset({"type_values"}), f"{where}.meta")
        if "type_values" in meta:
            lists = meta["type_values"]
            if not isinstance(lists, list) or not lists:
                raise _invalid(f"{where}.meta.type_values must be a non-empty array of arrays")
            type_values = tuple(frozenset(_strings(t, f"{where}.meta.type_values")) for t in lists)
    claims: list[ClaimQuery] = []
    raw_claims = raw.get("claims", [])
    if not isinstance(raw_claims, list) or ("claims" in raw and not raw_claims):
        raise _invalid(f"{where}.claims must be a non-empty array")
    for n, claim in enumerate(raw_claims):
        cwhere = f"{where}.claims[{n}]"
        if not isinstance(claim, Mapping):
            raise _invalid(f"{cwhere} must be an object")
        _only(claim, _CLAIM_MEMBERS, cwhere)
        claim_id = _check_id(claim["id"], f"{cwhere}.id") if "id" in claim else None
        values = claim.get("values")
        if values is not None and (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str | int | bool) for v in values)
        ):
            raise _invalid(
                f"{cwhere}.values must be a non-empty array of strings, numbers, booleans"
            )
        claims.append(
            ClaimQuery(
                claim_id, _path(claim.get("path"), cwhere), tuple(values) if values else None
            )
        )
    claim_sets = None
    if "claim_sets" in raw:
        ids = {c.id for c in claims}
        if None in ids:
            raise _invalid(f"{where}: with claim_sets every claim needs an id")
        sets = raw["claim_sets"]
        if not isinstance(sets, list) or not sets:
            raise _invalid(f"{where}.claim_sets must be a non-empty array")
        claim_sets = tuple(_strings(s, f"{where}.claim_sets") for s in sets)
        for option in claim_sets:
            if not set(option) <= ids:
                raise _invalid(f"{where}.claim_sets names claim ids that are not in claims")
    return CredentialQuery(
        cid, str(fmt), multiple, vct_values, type_values, tuple(claims), claim_sets
    )


def parse_dcql(query: object) -> DcqlQuery:
    """Check a DCQL query strictly and return it parsed.

    :raises PresentationQueryError: ``presentationQueryInvalid``, naming the member.
    """
    if not isinstance(query, Mapping):
        raise _invalid("a DCQL query is a JSON object with credentials")
    _only(query, _QUERY_MEMBERS, "the query")
    raw = query.get("credentials")
    if not isinstance(raw, list) or not raw:
        raise _invalid("credentials must be a non-empty array of Credential Queries")
    credentials = tuple(_credential_query(item, i) for i, item in enumerate(raw))
    ids = [c.id for c in credentials]
    if len(set(ids)) != len(ids):
        raise _invalid("Credential Query ids must be unique")
    sets = None
    if "credential_sets" in query:
        raw_sets = query["credential_sets"]
        if not isinstance(raw_sets, list) or not raw_sets:
            raise _invalid("credential_sets must be a non-empty array")
        parsed = []
        for i, item in enumerate(raw_sets):
            if not isinstance(item, Mapping):
                raise _invalid(f"credential_sets[{i}] must be an object")
            _only(item, frozenset({"options", "required", "purpose"}), f"credential_sets[{i}]")
            options = item.get("options")
            if not isinstance(options, list) or not options:
                raise _invalid(f"credential_sets[{i}].options must be a non-empty array")
            opts = tuple(_strings(o, f"credential_sets[{i}].options") for o in options)
            if not all(set(o) <= set(ids) for o in opts):
                raise _invalid(f"credential_sets[{i}] names unknown Credential Query ids")
            required = item.get("required", True)
            if not isinstance(required, bool):
                raise _invalid(f"credential_sets[{i}].required must be a boolean")
            parsed.append(CredentialSetQuery(opts, required))
        sets = tuple(parsed)
    return DcqlQuery(credentials, sets)


def select(data: Any, path: ClaimPath) -> list[tuple[tuple[str | int, ...], Any]]:
    """The (concrete path, value) pairs a claims path pointer selects in ``data`` (section 7):
    empty when it selects nothing."""
    current: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    for step in path:
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for where, value in current:
            if isinstance(step, str):
                if isinstance(value, dict) and step in value:
                    following.append(((*where, step), value[step]))
            elif step is None:
                if isinstance(value, list):
                    following.extend(((*where, i), v) for i, v in enumerate(value))
            elif isinstance(value, list) and step < len(value):
                following.append(((*where, step), value[step]))
        current = following
    return current


def pointer(path: Sequence[str | int | None]) -> str:
    """A claim path as a JSON Pointer for people to read (``null`` shown as ``*``)."""
    parts = ["*" if p is None else str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)
