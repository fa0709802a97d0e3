"""The W3C Verifiable Credentials Data Model as rules on parsed JSON: validate, check time, build.

The rules come from *Verifiable Credentials Data Model v2.0* (W3C Recommendation,
https://www.w3.org/TR/vc-data-model-2.0/); section numbers in this package refer to it. "VC 1.1"
means *Verifiable Credentials Data Model v1.1* (https://www.w3.org/TR/vc-data-model/), which is
accepted only where a caller opts in with ``allow_v1=True``, and which :func:`upgrade_v1_input`
maps to 2.0 for issuers that must still take 1.1-shaped requests.

What is checked here is the *shape* of a conforming document (sections 4 and 5). What is not:
proofs (``agent.credentials.proofs``), JSON-LD expansion and undefined terms
(``agent.credentials.contexts``), status lists and related resources, which need the network.

Parsing is strict by default (STYLE 14): a single string ``@context`` is refused although JSON-LD
would read it as a one-item set, relative ``id`` values are refused, and a 2.0 document that
carries 1.1 dates (or the reverse) is refused rather than silently read without them.

Errors: the first violation raises :class:`~agent.errors.DataModelError` with
``details = {"path": "credentialSubject[0].id", "rule": ModelRule...}`` and a code from
section 7.2: ``PARSING_ERROR`` when the input is not a JSON object, ``RANGE_ERROR`` for the order
of ``validFrom``/``validUntil`` and for :func:`check_validity_period`, ``MALFORMED_VALUE_ERROR``
for everything else. Messages name the path, the JSON type found and what the specification
requires; they never repeat a value, because values are health data.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from agent.clock import (
    DEFAULT_MAX_CLOCK_SKEW,
    date_time_has_zone,
    format_datetime,
    parse_datetime,
)
from agent.credentials import _model_rules as _rules
from agent.credentials._model_rules import ModelRule
from agent.errors import DataModelError, ErrorCode, InvalidInputError
from agent.types import JSONObject

__all__ = [
    "CREDENTIALS_V1_CONTEXT",
    "CREDENTIALS_V2_CONTEXT",
    "CredentialVersion",
    "ModelRule",
    "ValidityPeriodViolation",
    "build_credential",
    "check_validity_period",
    "type_values",
    "upgrade_v1_input",
    "validate_credential",
    "validate_presentation",
]

#: The base context of VC Data Model 2.0 (section 4.3); always the first ``@context`` item.
CREDENTIALS_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: The base context of VC Data Model 1.1, accepted only with ``allow_v1=True``.
CREDENTIALS_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"

_EXAMPLES_V1_CONTEXT = "https://www.w3.org/2018/credentials/examples/v1"
_EXAMPLES_V2_CONTEXT = "https://www.w3.org/ns/credentials/examples/v2"
_ENVELOPED_TYPE = "EnvelopedVerifiableCredential"
_LANGUAGE_KEYS = frozenset({"@value", "@language", "@direction"})
# Members of a credentialSubject object that identify it rather than state a claim about it.
_NOT_CLAIMS = frozenset({"id", "@id", "@context"})


class CredentialVersion(StrEnum):
    """Which data model a document follows, told by its first ``@context`` item."""

    V1_1 = "1.1"
    V2_0 = "2.0"

    @property
    def base_context(self) -> str:
        """The base context URL that starts ``@context`` in this version."""
        return CREDENTIALS_V1_CONTEXT if self is CredentialVersion.V1_1 else CREDENTIALS_V2_CONTEXT


class ValidityPeriodViolation(StrEnum):
    """Why :func:`check_validity_period` refused a credential, as ``details['reason']``."""

    NOT_YET_VALID = "notYetValid"
    EXPIRED = "expired"


# --- small helpers -------------------------------------------------------------------------


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _objects(value: object, path: str, rule: ModelRule, what: str) -> list[tuple[str, JSONObject]]:
    """The objects of a property that holds "one or more objects" (section 6, arity).

    A single object keeps the bare path; array items get ``[i]`` appended.
    """
    if isinstance(value, dict):
        return [(path, value)]
    if isinstance(value, list):
        if not value:
            raise _rules.violation(
                path, rule, f"is an empty array; it must hold one or more {what}"
            )
        found: list[tuple[str, JSONObject]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _rules.violation(
                    f"{path}[{index}]",
                    rule,
                    f"is a JSON {_rules.json_type(item)}; {what} are objects",
                )
            found.append((f"{path}[{index}]", item))
        return found
    raise _rules.violation(
        path, rule, f"is a JSON {_rules.json_type(value)}; it must be one or more {what}"
    )


def type_values(document: object) -> frozenset[str]:
    """The string values of a document's ``type``, whatever shape it has.

    The one place the project reads a ``type`` before a document has been validated (to tell
    a credential from a presentation, say). Tolerant by design: a document that is not an
    object, has no ``type``, or whose ``type`` is a number, ``null`` or an object has no types;
    non-string items of a ``type`` array are ignored. Validation
    (:func:`validate_credential`) is what refuses such shapes.
    """
    if not isinstance(document, dict):
        return frozenset()
    value = document.get("type")
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


#: ``str.isspace`` as a pattern (the same code points; checked over all of Unicode).
_WHITESPACE = re.compile(r"\s")


def _checked_types(value: object, path: str, rule: ModelRule) -> list[str]:
    """The values of a ``type`` property, validated: one or more terms or absolute URLs
    (section 4.5)."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _rules.violation(path, rule, "is an empty array; type needs one or more values")
    for index, item in enumerate(values):
        where = f"{path}[{index}]" if isinstance(value, list) else path
        if not isinstance(item, str):
            raise _rules.violation(
                where, rule, f"is a JSON {_rules.json_type(item)}; a type is a string"
            )
        if not item or _WHITESPACE.search(item):
            raise _rules.violation(where, rule, "is not a JSON-LD term or absolute URL")
    return [item for item in values if isinstance(item, str)]


def _require_document(doc: object, kind: str) -> JSONObject:
    if not isinstance(doc, dict):
        raise _rules.violation(
            "",
            ModelRule.DOCUMENT_OBJECT,
            f"is a JSON {_rules.json_type(doc)}; a verifiable {kind} is a JSON object",
            code=ErrorCode.PARSING_ERROR,
        )
    return doc


# --- section 4: basic concepts -------------------------------------------------------------


def _check_context(obj: JSONObject, prefix: str, allow_v1: bool) -> CredentialVersion:
    """Section 4.3: an ordered set whose first item is the base context, then URLs or objects."""
    path = _at(prefix, "@context")
    if "@context" not in obj:
        raise _rules.violation(path, ModelRule.CONTEXT_REQUIRED, "is missing; @context is required")
    contexts = obj["@context"]
    if not isinstance(contexts, list) or not contexts:
        raise _rules.violation(
            path,
            ModelRule.CONTEXT_ORDERED_SET,
            f"is a {'empty array' if contexts == [] else 'JSON ' + _rules.json_type(contexts)}; "
            f"@context must be a JSON array starting with {CREDENTIALS_V2_CONTEXT}",
        )
    first = contexts[0]
    if first == CREDENTIALS_V2_CONTEXT:
        version = CredentialVersion.V2_0
    elif first == CREDENTIALS_V1_CONTEXT and allow_v1:
        version = CredentialVersion.V1_1
    elif first == CREDENTIALS_V1_CONTEXT:
        raise _rules.violation(
            f"{path}[0]",
            ModelRule.CONTEXT_BASE,
            "is the VC 1.1 base context; only VC 2.0 is accepted here "
            "(upgrade 1.1 input with upgrade_v1_input, or pass allow_v1=True)",
        )
    else:
        raise _rules.violation(
            f"{path}[0]",
            ModelRule.CONTEXT_BASE,
            f"must be the base context {CREDENTIALS_V2_CONTEXT} (section 4.3)",
        )
    seen: set[str] = set()
    for index, item in enumerate(contexts[1:], start=1):
        where = f"{path}[{index}]"
        if isinstance(item, dict):
            continue
        problem = _rules.url_problem(item)
        if problem is not None:
            raise _rules.violation(
                where, ModelRule.CONTEXT_ITEM, f"{problem}; context items are URLs or objects"
            )
        if item in (CREDENTIALS_V1_CONTEXT, CREDENTIALS_V2_CONTEXT):
            raise _rules.violation(
                where,
                ModelRule.CONTEXT_MIXED_VERSIONS,
                "repeats a base context; a document follows exactly one data model version",
            )
        if item in seen:
            raise _rules.violation(
                where, ModelRule.CONTEXT_ORDERED_SET, "repeats an earlier context"
            )
        seen.add(item)
    return version


def _check_id(obj: JSONObject, prefix: str, rule: ModelRule = ModelRule.ID_URL) -> None:
    """Section 4.4: ``id`` is optional and, if present, a single URL."""
    if "id" in obj:
        problem = _rules.url_problem(obj["id"])
        if problem is not None:
            raise _rules.violation(_at(prefix, "id"), rule, f"{problem}; an id is a single URL")


_BASE_TYPES = ("VerifiableCredential", "VerifiablePresentation")


def _check_type(obj: JSONObject, prefix: str, required: str) -> None:
    """Section 4.5: ``type`` is present and includes the base type of the document, and not
    the other base type.

    A document typed both ``VerifiableCredential`` and ``VerifiablePresentation`` is refused:
    whether its proof must be the issuer's or the holder's would depend on which the reader
    picked, and a forger would pick the one that is not checked.
    """
    path = _at(prefix, "type")
    if "type" not in obj:
        raise _rules.violation(
            path, ModelRule.TYPE_REQUIRED, f"is missing; it must include {required}"
        )
    types = _checked_types(obj["type"], path, ModelRule.TYPE_VALUE)
    if required not in types:
        raise _rules.violation(path, ModelRule.TYPE_BASE, f"does not include {required}")
    other = next(base for base in _BASE_TYPES if base != required)
    if other in types:
        raise _rules.violation(
            path,
            ModelRule.TYPE_CONFLICT,
            f"includes both {required} and {other}; a document is one or the other",
        )


def _check_language_value(value: object, path: str, rule: ModelRule) -> None:
    """A string or a language value object (section 11.1: ``@value``, ``@language``,
    ``@direction``)."""
    if isinstance(value, str):
        return
    if not isinstance(value, dict):
        raise _rules.violation(
            path,
            rule,
            f"is a JSON {_rules.json_type(value)}; it must be a string or a language value object",
        )
    if any(key not in _LANGUAGE_KEYS for key in value):
        raise _rules.violation(
            path,
            ModelRule.LANGUAGE_KEYS,
            "is a language value object with members other than @value, @language, @direction",
        )
    if not isinstance(value.get("@value"), str):
        found = (
            "missing" if "@value" not in value else f"a JSON {_rules.json_type(value['@value'])}"
        )
        raise _rules.violation(
            _at(path, "@value"),
            ModelRule.LANGUAGE_VALUE,
            f"is {found}; a language value object holds its text in @value as a string",
        )
    if "@language" in value:
        problem = _rules.language_tag_problem(value["@language"])
        if problem is not None:
            raise _rules.violation(_at(path, "@language"), ModelRule.LANGUAGE_TAG, problem)
    if "@direction" in value and value["@direction"] not in ("ltr", "rtl"):
        raise _rules.violation(
            _at(path, "@direction"), ModelRule.LANGUAGE_DIRECTION, "must be 'ltr' or 'rtl'"
        )


def _check_names(obj: JSONObject, prefix: str) -> None:
    """Section 4.6: ``name`` and ``description`` are strings or language value objects."""
    for key, rule in (("name", ModelRule.NAME_VALUE), ("description", ModelRule.DESCRIPTION_VALUE)):
        if key not in obj:
            continue
        path, value = _at(prefix, key), obj[key]
        if isinstance(value, list):
            if not value:
                raise _rules.violation(path, rule, "is an empty array; omit it or give one or more")
            for index, item in enumerate(value):
                _check_language_value(item, f"{path}[{index}]", rule)
        else:
            _check_language_value(value, path, rule)


def _check_issuer(obj: JSONObject, prefix: str) -> None:
    """Section 4.7: ``issuer`` is a URL or an object whose ``id`` is a URL."""
    path = _at(prefix, "issuer")
    if "issuer" not in obj:
        raise _rules.violation(
            path, ModelRule.ISSUER_REQUIRED, "is missing; a credential has an issuer"
        )
    issuer = obj["issuer"]
    if isinstance(issuer, str):
        problem = _rules.url_problem(issuer)
        if problem is not None:
            raise _rules.violation(path, ModelRule.ISSUER_VALUE, f"{problem}; the issuer is a URL")
        return
    if not isinstance(issuer, dict):
        raise _rules.violation(
            path,
            ModelRule.ISSUER_VALUE,
            f"is a JSON {_rules.json_type(issuer)}; it must be a URL or an object with an id URL",
        )
    if "id" not in issuer:
        raise _rules.violation(
            _at(path, "id"), ModelRule.ISSUER_ID, "is missing; an issuer object needs an id URL"
        )
    _check_id(issuer, path, ModelRule.ISSUER_ID)
    _check_names(issuer, path)


def _check_subjects(obj: JSONObject, prefix: str) -> None:
    """Section 4.8: one or more objects, each identified or the subject of a claim."""
    path = _at(prefix, "credentialSubject")
    if "credentialSubject" not in obj:
        raise _rules.violation(path, ModelRule.SUBJECT_REQUIRED, "is missing; it holds the claims")
    for where, subject in _objects(
        obj["credentialSubject"], path, ModelRule.SUBJECT_VALUE, "subject objects"
    ):
        # An identified subject with no other claim ({"id": ...}) is accepted: the W3C
        # vc-data-model-2.0 and vc-di-eddsa test suites issue and verify exactly that shape.
        # An empty object identifies and says nothing, and is refused.
        if not any(key != "@context" for key in subject):
            raise _rules.violation(
                where, ModelRule.SUBJECT_CLAIMS, "is empty; a subject needs an id or a claim"
            )
        _check_id(subject, where, ModelRule.SUBJECT_ID)


def _parse_period_bound(
    obj: JSONObject, prefix: str, key: str, rule: ModelRule, *, require_zone: bool
) -> datetime | None:
    if key not in obj:
        return None
    try:
        return parse_datetime(obj[key], require_zone=require_zone)
    except ValueError as exc:
        kind = "dateTimeStamp" if require_zone else "dateTime"
        raise _rules.violation(
            _at(prefix, key), rule, f"{exc} (an XML Schema {kind} is required)"
        ) from None


def _check_validity(obj: JSONObject, prefix: str, version: CredentialVersion) -> None:
    """Section 4.9 for 2.0 (``validFrom`` <= ``validUntil`` as instants); VC 1.1
    ``issuanceDate`` (required) and ``expirationDate``."""
    if version is CredentialVersion.V2_0:
        for foreign in ("issuanceDate", "expirationDate"):
            if foreign in obj:
                raise _rules.violation(
                    _at(prefix, foreign),
                    ModelRule.VALIDITY_FOREIGN,
                    "is a VC 1.1 property; VC 2.0 uses validFrom and validUntil "
                    "(upgrade_v1_input maps them)",
                )
        start = _parse_period_bound(
            obj, prefix, "validFrom", ModelRule.VALID_FROM_FORMAT, require_zone=True
        )
        end = _parse_period_bound(
            obj, prefix, "validUntil", ModelRule.VALID_UNTIL_FORMAT, require_zone=True
        )
        if start is not None and end is not None and start > end:
            raise _rules.violation(
                _at(prefix, "validUntil"),
                ModelRule.VALIDITY_ORDER,
                "is earlier than validFrom; validFrom must be the same instant or earlier",
                code=ErrorCode.RANGE_ERROR,
            )
        return
    for foreign in ("validFrom", "validUntil"):
        if foreign in obj:
            raise _rules.violation(
                _at(prefix, foreign),
                ModelRule.VALIDITY_FOREIGN,
                "is a VC 2.0 property; a VC 1.1 credential uses issuanceDate and expirationDate",
            )
    if "issuanceDate" not in obj:
        raise _rules.violation(
            _at(prefix, "issuanceDate"),
            ModelRule.ISSUANCE_DATE_REQUIRED,
            "is missing; a VC 1.1 credential must have an issuanceDate",
        )
    _parse_period_bound(
        obj, prefix, "issuanceDate", ModelRule.ISSUANCE_DATE_FORMAT, require_zone=False
    )
    _parse_period_bound(
        obj, prefix, "expirationDate", ModelRule.EXPIRATION_DATE_FORMAT, require_zone=False
    )


def _check_typed(
    obj: JSONObject,
    prefix: str,
    key: str,
    rules: tuple[ModelRule, ModelRule, ModelRule | None],
    *,
    id_required: bool = False,
) -> None:
    """An extension point whose values are objects that each declare a ``type`` (sections
    4.10-4.12, 5.4-5.6, 5.10), with an ``id`` URL where the section asks for one."""
    if key not in obj:
        return
    value_rule, type_rule, id_rule = rules
    for where, item in _objects(obj[key], _at(prefix, key), value_rule, f"{key} objects"):
        if "type" not in item:
            raise _rules.violation(
                _at(where, "type"), type_rule, f"is missing; each {key} needs a type"
            )
        _checked_types(item["type"], _at(where, "type"), type_rule)
        if id_rule is None:
            continue
        if id_required and "id" not in item:
            raise _rules.violation(
                _at(where, "id"), id_rule, f"is missing; each {key} needs an id URL"
            )
        _check_id(item, where, id_rule)


def _check_related_resources(obj: JSONObject, prefix: str) -> None:
    """Section 5.3: objects with a unique ``id`` URL and a ``digestSRI`` or ``digestMultibase``."""
    if "relatedResource" not in obj:
        return
    path = _at(prefix, "relatedResource")
    seen: set[str] = set()
    for where, resource in _objects(
        obj["relatedResource"], path, ModelRule.RELATED_VALUE, "related resource objects"
    ):
        if "id" not in resource:
            raise _rules.violation(
                _at(where, "id"), ModelRule.RELATED_ID, "is missing; a related resource needs one"
            )
        _check_id(resource, where, ModelRule.RELATED_ID)
        if resource["id"] in seen:
            raise _rules.violation(
                _at(where, "id"),
                ModelRule.RELATED_UNIQUE,
                "repeats the id of an earlier related resource; ids must be unique",
            )
        seen.add(resource["id"])
        if "digestSRI" not in resource and "digestMultibase" not in resource:
            raise _rules.violation(
                where,
                ModelRule.RELATED_DIGEST,
                "has neither digestSRI nor digestMultibase; at least one is required",
            )
        for key, check, rule in (
            ("digestSRI", _rules.digest_sri_problem, ModelRule.RELATED_SRI),
            ("digestMultibase", _rules.digest_multibase_problem, ModelRule.RELATED_MULTIBASE),
            ("mediaType", _rules.media_type_problem, ModelRule.RELATED_MEDIA_TYPE),
        ):
            if key in resource:
                problem = check(resource[key])
                if problem is not None:
                    raise _rules.violation(_at(where, key), rule, problem)


_R = ModelRule
_PROOF_RULES = (_R.PROOF_VALUE, _R.PROOF_TYPE, None)
_TERMS_RULES = (_R.TERMS_VALUE, _R.TERMS_TYPE, _R.TERMS_ID)


def _credential(obj: JSONObject, prefix: str, allow_v1: bool) -> CredentialVersion:
    version = _check_context(obj, prefix, allow_v1)
    v1 = version is CredentialVersion.V1_1
    _check_id(obj, prefix)
    _check_type(obj, prefix, "VerifiableCredential")
    _check_names(obj, prefix)
    _check_issuer(obj, prefix)
    _check_subjects(obj, prefix)
    _check_validity(obj, prefix, version)
    # VC 1.1 required an id on status and refresh objects; 2.0 made both optional.
    _check_typed(
        obj,
        prefix,
        "credentialStatus",
        (_R.STATUS_VALUE, _R.STATUS_TYPE, _R.STATUS_ID),
        id_required=v1,
    )
    _check_typed(
        obj,
        prefix,
        "credentialSchema",
        (_R.SCHEMA_VALUE, _R.SCHEMA_TYPE, _R.SCHEMA_ID),
        id_required=True,
    )
    _check_typed(obj, prefix, "proof", _PROOF_RULES)
    _check_related_resources(obj, prefix)
    _check_typed(
        obj,
        prefix,
        "refreshService",
        (_R.REFRESH_VALUE, _R.REFRESH_TYPE, _R.REFRESH_ID),
        id_required=v1,
    )
    _check_typed(obj, prefix, "termsOfUse", _TERMS_RULES)
    _check_typed(obj, prefix, "evidence", (_R.EVIDENCE_VALUE, _R.EVIDENCE_TYPE, _R.EVIDENCE_ID))
    _check_typed(obj, prefix, "confidenceMethod", (_R.CONFIDENCE_VALUE, _R.CONFIDENCE_TYPE, None))
    _check_typed(obj, prefix, "renderMethod", (_R.RENDER_VALUE, _R.RENDER_TYPE, None))
    return version


def validate_credential(doc: object, *, allow_v1: bool = False) -> CredentialVersion:
    """Check that ``doc`` is a conforming verifiable credential (sections 4 and 5).

    Embedded ``proof`` objects are checked for shape only (an object with a ``type``); whether
    they verify is for ``agent.credentials.proofs``.

    :param doc: a parsed JSON value, typically from :func:`agent.jsonio.parse_json`.
    :param allow_v1: also accept VC 1.1 documents (base context
        ``https://www.w3.org/2018/credentials/v1``, ``issuanceDate`` required,
        ``expirationDate`` optional, ``id`` required on status and refresh objects).
    :returns: the data model version ``doc`` follows.
    :raises DataModelError: on the first broken rule; ``details`` has ``path`` and ``rule``.
    """
    return _credential(_require_document(doc, "credential"), "", allow_v1)


def _check_enveloped(item: JSONObject, where: str) -> None:
    """Section 4.13.1: ``@context`` includes the base context, ``type`` is exactly
    ``EnvelopedVerifiableCredential`` and ``id`` is a ``data:`` URL."""
    contexts = item.get("@context")
    listed = contexts if isinstance(contexts, list) else [contexts]
    if CREDENTIALS_V2_CONTEXT not in listed:
        raise _rules.violation(
            _at(where, "@context"),
            ModelRule.ENVELOPED_CONTEXT,
            f"{'is missing' if contexts is None else 'does not include the base context'}; "
            f"an enveloped credential's @context must include {CREDENTIALS_V2_CONTEXT}",
        )
    if _checked_types(item["type"], _at(where, "type"), ModelRule.TYPE_VALUE) != [_ENVELOPED_TYPE]:
        raise _rules.violation(
            _at(where, "type"),
            ModelRule.TYPE_VALUE,
            f"must be exactly {_ENVELOPED_TYPE} for an enveloped credential",
        )
    if "id" not in item:
        raise _rules.violation(
            _at(where, "id"), ModelRule.ENVELOPED_ID, "is missing; it carries the credential"
        )
    problem = _rules.data_url_problem(item["id"])
    if problem is not None:
        raise _rules.violation(_at(where, "id"), ModelRule.ENVELOPED_ID, problem)


def _is_enveloped(item: JSONObject) -> bool:
    return _ENVELOPED_TYPE in type_values(item)


def validate_presentation(doc: object, *, allow_v1: bool = False) -> CredentialVersion:
    """Check that ``doc`` is a conforming verifiable presentation (section 4.13).

    Each embedded credential is checked with :func:`validate_credential` and its errors carry
    the path inside the presentation, e.g. ``verifiableCredential[1].issuer``. Enveloped
    credentials (section 4.13.1) are checked for their envelope only; their payload is opened by
    the securing mechanism that produced it.

    :param allow_v1: accept VC 1.1 for the presentation and for the credentials it embeds.
    :returns: the data model version of the presentation itself.
    :raises DataModelError: on the first broken rule; ``details`` has ``path`` and ``rule``.
    """
    obj = _require_document(doc, "presentation")
    version = _check_context(obj, "", allow_v1)
    _check_id(obj, "")
    _check_type(obj, "", "VerifiablePresentation")
    if "holder" in obj:
        holder = obj["holder"]
        if isinstance(holder, dict):
            if "id" not in holder:
                raise _rules.violation(
                    "holder.id", ModelRule.HOLDER_ID, "is missing; it must be a URL"
                )
            _check_id(holder, "holder", ModelRule.HOLDER_ID)
        else:
            problem = _rules.url_problem(holder)
            if problem is not None:
                raise _rules.violation(
                    "holder", ModelRule.HOLDER_VALUE, f"{problem}; a holder is a URL or an object"
                )
    if "verifiableCredential" in obj:
        for where, item in _objects(
            obj["verifiableCredential"],
            "verifiableCredential",
            ModelRule.VC_VALUE,
            "verifiable credential objects (not strings or URLs)",
        ):
            if _is_enveloped(item):
                _check_enveloped(item, where)
            else:
                _credential(item, where, allow_v1)
    _check_typed(obj, "", "termsOfUse", _TERMS_RULES)
    _check_typed(obj, "", "proof", _PROOF_RULES)
    return version


# --- validity period at a given time -------------------------------------------------------


def check_validity_period(
    doc: object,
    *,
    now: datetime,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> None:
    """Refuse a credential that is not valid at ``now`` (section 4.9; VC 1.1 ``issuanceDate``
    and ``expirationDate``), allowing ``max_clock_skew`` either way.

    Comparison is between instants, so offsets do not matter: ``2026-01-01T10:00:00+02:00`` is
    before ``2026-01-01T09:00:00Z``. A credential is valid when
    ``validFrom - skew <= now <= validUntil + skew``; both ends are inclusive. A missing bound is
    open. The document's other rules are not checked here: call :func:`validate_credential`
    first.

    :param now: the current instant, timezone-aware (pass it in: STYLE 9).
    :raises DataModelError: ``RANGE_ERROR`` with ``details`` ``rule`` ``validFrom`` and
        ``reason`` ``notYetValid``, or ``rule`` ``validUntil`` and ``reason`` ``expired``;
        ``MALFORMED_VALUE_ERROR`` when a bound is not a date-time.
    :raises ValueError: when ``now`` is naive or ``max_clock_skew`` is negative.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (for example datetime.now(UTC))")
    if max_clock_skew < timedelta(0):
        raise ValueError("max_clock_skew must not be negative")
    obj = _require_document(doc, "credential")
    contexts = obj.get("@context")
    v1 = isinstance(contexts, list) and contexts[:1] == [CREDENTIALS_V1_CONTEXT]
    start_key, end_key = ("issuanceDate", "expirationDate") if v1 else ("validFrom", "validUntil")
    start = _parse_period_bound(
        obj,
        "",
        start_key,
        ModelRule.ISSUANCE_DATE_FORMAT if v1 else ModelRule.VALID_FROM_FORMAT,
        require_zone=not v1,
    )
    end = _parse_period_bound(
        obj,
        "",
        end_key,
        ModelRule.EXPIRATION_DATE_FORMAT if v1 else ModelRule.VALID_UNTIL_FORMAT,
        require_zone=not v1,
    )
    skew = f"{max_clock_skew.total_seconds():g} s"
    if start is not None and now + max_clock_skew < start:
        raise DataModelError(
            f"{start_key}: the credential is not valid yet; {start_key} is later than now "
            f"plus the allowed clock skew ({skew})",
            code=ErrorCode.RANGE_ERROR,
            details={
                "path": start_key,
                "rule": ModelRule.VALID_FROM,
                "reason": ValidityPeriodViolation.NOT_YET_VALID,
            },
        )
    if end is not None and now - max_clock_skew > end:
        raise DataModelError(
            f"{end_key}: the credential has expired; {end_key} is earlier than now "
            f"minus the allowed clock skew ({skew})",
            code=ErrorCode.RANGE_ERROR,
            details={
                "path": end_key,
                "rule": ModelRule.VALID_UNTIL,
                "reason": ValidityPeriodViolation.EXPIRED,
            },
        )


# --- building and upgrading ----------------------------------------------------------------


def _plain_copy(value: object) -> Any:
    """A deep copy of a tree made only of exact dict (str keys), list, str, int, finite float,
    bool and None, equal to what the JSON round trip of :func:`_plain_json` returns for such a
    tree; raises :class:`_NotPlain` at anything else."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        copied = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _NotPlain
            copied[key] = _plain_copy(item)
        return copied
    if kind is list:
        return [_plain_copy(item) for item in value]  # type: ignore[attr-defined]
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return value
    raise _NotPlain


class _NotPlain(Exception):
    """A value :func:`_plain_copy` leaves to the JSON round trip."""


def _plain_json(value: object, name: str) -> Any:
    """A deep copy made only of dict, list, str, int, float, bool and None."""
    try:
        # The common case, a tree of plain JSON types, is copied without encoding it; anything
        # else (tuples, non-str keys, subclasses, NaN) takes the round trip, which converts or
        # refuses it.
        return _plain_copy(value)
    except (_NotPlain, RecursionError):  # RecursionError: a cycle, which json.dumps names.
        pass
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} is not JSON-serialisable ({type(exc).__name__}); "
            "use only objects, arrays, strings, finite numbers, booleans and null",
            details={"path": name},
        ) from None


def build_credential(
    *,
    types: Sequence[str],
    issuer: str | Mapping[str, Any],
    subject: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    valid_from: datetime,
    contexts: Sequence[str] = (),
    credential_id: str | None = None,
    valid_until: datetime | None = None,
    status: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    name: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None = None,
    description: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None = None,
) -> JSONObject:
    """An unsecured VC 2.0 credential, validated before it is returned (section 4).

    ``@context`` is the base context followed by ``contexts`` (duplicates dropped, order kept);
    ``type`` is ``VerifiableCredential`` followed by ``types``. Times are written in UTC with
    second precision (``2026-01-01T08:00:00Z``). Inputs are deep-copied, so later changes by the
    caller do not reach the credential.

    :raises DataModelError: when the result breaks a rule (a relative ``credential_id``, a
        subject without claims, ``valid_until`` before ``valid_from``, ...).
    :raises InvalidInputError: when an argument is not JSON-serialisable.
    :raises ValueError: when a datetime is naive.
    """
    start = format_datetime(valid_from, "valid_from")
    if valid_until is not None:
        end = format_datetime(valid_until, "valid_until")
        if valid_until < valid_from:
            raise _rules.violation(
                "validUntil",
                ModelRule.VALIDITY_ORDER,
                "is earlier than validFrom; valid_until must not precede valid_from",
                code=ErrorCode.RANGE_ERROR,
            )
    extra_contexts = [c for c in dict.fromkeys(contexts) if c != CREDENTIALS_V2_CONTEXT]
    extra_types = [t for t in dict.fromkeys(types) if t != "VerifiableCredential"]
    credential: JSONObject = {
        "@context": [CREDENTIALS_V2_CONTEXT, *_plain_json(extra_contexts, "contexts")],
    }
    if credential_id is not None:
        credential["id"] = credential_id
    credential["type"] = ["VerifiableCredential", *_plain_json(extra_types, "types")]
    credential["issuer"] = _plain_json(issuer, "issuer")
    if name is not None:
        credential["name"] = _plain_json(name, "name")
    if description is not None:
        credential["description"] = _plain_json(description, "description")
    credential["validFrom"] = start
    if valid_until is not None:
        credential["validUntil"] = end
    credential["credentialSubject"] = _plain_json(subject, "credentialSubject")
    if status is not None:
        credential["credentialStatus"] = _plain_json(status, "credentialStatus")
    validate_credential(credential)
    return credential


def upgrade_v1_input(doc: object) -> JSONObject:
    """Map a VC 1.1 credential, as a VC-API issuer may still receive it, to VC 2.0.

    The mapping, applied to a copy:

    ==============================================  =============================================
    VC 1.1                                          VC 2.0
    ==============================================  =============================================
    ``@context[0]`` ``.../2018/credentials/v1``     ``https://www.w3.org/ns/credentials/v2``
    ``.../2018/credentials/examples/v1``            ``.../ns/credentials/examples/v2``
    other ``@context`` items                        kept, in order
    ``issuanceDate``                                ``validFrom`` (same instant; a value without
                                                    a time zone gets ``Z``, as section 4.9 reads
                                                    it as UTC)
    ``expirationDate``                              ``validUntil`` (same rule)
    ``credentialStatus``, ``refreshService``, ...   kept unchanged (their types are not renamed;
                                                    the status module decides what it supports)
    ``proof``                                       refused: the proof covers the 1.1 document
                                                    and would not verify after the mapping
    ==============================================  =============================================

    A document that is already VC 2.0 is validated and returned as a copy, so that an issuer can
    pass every request through this function.

    :returns: a new VC 2.0 document that :func:`validate_credential` accepts.
    :raises DataModelError: when the input is not a valid VC 1.1 (or 2.0) credential, when it
        carries a ``proof`` (rule ``upgrade.proof``), or when the result breaks a 2.0 rule
        (for example ``expirationDate`` before ``issuanceDate``).
    """
    version = validate_credential(doc, allow_v1=True)
    source = copy.deepcopy(_require_document(doc, "credential"))
    if version is CredentialVersion.V2_0:
        return source
    if "proof" in source:
        raise _rules.violation(
            "proof",
            ModelRule.UPGRADE_PROOF,
            "is present; a secured VC 1.1 credential cannot be re-expressed as VC 2.0 "
            "without invalidating its proof (submit it unsecured)",
        )
    mapped_contexts: list[Any] = [CREDENTIALS_V2_CONTEXT]
    for item in source["@context"][1:]:
        item = _EXAMPLES_V2_CONTEXT if item == _EXAMPLES_V1_CONTEXT else item
        if item not in mapped_contexts:
            mapped_contexts.append(item)
    upgraded: JSONObject = {}
    for key, value in source.items():
        if key == "@context":
            upgraded[key] = mapped_contexts
        elif key in ("issuanceDate", "expirationDate"):
            target = "validFrom" if key == "issuanceDate" else "validUntil"
            upgraded[target] = value if date_time_has_zone(value) else f"{value}Z"
        else:
            upgraded[key] = value
    validate_credential(upgraded)
    return upgraded
