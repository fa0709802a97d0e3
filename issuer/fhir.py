"""FHIR R4 input: validate resources and bundles before they become credentials.

Validation uses fhir.resources (pydantic models of the FHIR specification; the R4B module, whose
resources used here match R4 4.0.1). An invalid element is refused with
:class:`agent.errors.InvalidInputError` (code ``invalidFhir``) whose ``details['path']`` names
the element in FHIRPath-like form, e.g.
``Bundle.entry[3].resource.AllergyIntolerance.reaction[0].severity``; the HTTP layer maps it to
422. Messages and details carry paths, resource types and the kind of error, never an element's
value: it is health data.

Accepted input (:func:`parse_fhir_input`):

* a ``Bundle`` of type ``document`` (FHIR R4 section 3.3.1 "Documents"; the IPS document's first
  entry is its ``Composition``), ``collection``, ``transaction``/``batch`` (each entry's
  ``resource``; the ``request`` says what the sender wanted done with it, which does not matter
  here) or ``searchset``;
* a single resource.

References inside a bundle (FHIR R4 section 2.36 "Resolving references in Bundles": an entry's
``fullUrl``, ``urn:uuid:``, relative ``Type/id`` and contained ``#id``) are resolved by
:class:`BundleIndex`, for example ``MedicationStatement.medicationReference`` to the
``Medication`` it names.

Outcomes computed in another process (:class:`Precomputed`, :func:`using_precomputed`): a
batch (:mod:`issuer.batch`) validates the next chunk's resources (and maps them for their
claims) in a worker process while the current chunk is signed. Inside
``using_precomputed``, :func:`validate_resource` of one of those resource objects (the same
object, not an equal one) returns the worker's verdict, raising the same typed error the check
would raise here; so the batch's ``issue_one`` keeps calling ``validate_resource`` in its own
order (its subject check first, for one) and its errors per item stay what they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from agent.errors import ErrorCode, InvalidInputError

__all__ = [
    "BUNDLE_TYPES",
    "FHIR_VERSION",
    "BundleIndex",
    "FhirInput",
    "parse_fhir_input",
    "read_fhir_input",
    "validate_resource",
]

#: The FHIR version credentials declare in ``fhirVersion``.
FHIR_VERSION: Final = "4.0.1"

#: Bundle types accepted as input (FHIR R4 ValueSet ``bundle-type``): those that carry records.
BUNDLE_TYPES: Final = frozenset({"document", "collection", "transaction", "batch", "searchset"})

# Pydantic error types whose standard messages never quote the input; anything else is reported
# by its type only, since some fhir.resources validators quote the offending value.
_SAFE_MESSAGES: Final = {
    "missing": "required element is missing",
    "extra_forbidden": "element is not defined for this resource type",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "decimal_type": "expected a decimal",
    "decimal_parsing": "expected a decimal",
    "bool_type": "expected a boolean",
    "bool_parsing": "expected a boolean",
    "list_type": "expected an array",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "string_pattern_mismatch": "does not match the FHIR datatype's pattern",
    "string_too_short": "is empty; FHIR forbids empty strings",
    "value_error": "is not a valid value for its FHIR datatype",
    "date_from_datetime_parsing": "is not a valid FHIR date",
    "datetime_from_date_parsing": "is not a valid FHIR dateTime",
    "url_parsing": "is not a valid FHIR uri",
}


def _model(kind: str) -> Any:
    """The fhir.resources R4B model class of resource type ``kind``, or ``None``."""
    from fhir.resources.R4B import get_fhir_model_class

    if not kind.isidentifier() or not kind[:1].isupper():
        return None
    try:
        return get_fhir_model_class(kind)
    except (ValueError, KeyError, ImportError):
        return None


def _loc_path(loc: Iterable[int | str]) -> str:
    """``.reaction[0].severity`` for pydantic's ``('reaction', 0, 'severity')``.

    A trailing ``root`` is pydantic's name for a model's whole-value validator (fhir.resources
    checks a complex datatype's type there), not a FHIR element: no FHIR R4 element is called
    ``root``, and a user would look for it in vain, so the path ends at the element itself.
    """
    parts = list(loc)
    if parts and parts[-1] == "root":
        parts.pop()
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _invalid(message: str, path: str, reason: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(
        message, code=ErrorCode.INVALID_FHIR, details={"path": path, "reason": reason, **details}
    )


def _check(resource: object, where: str, expected_type: str | None = None) -> dict[str, Any]:
    """Validate one resource; ``where`` prefixes paths (``""`` or ``Bundle.entry[3].resource``).

    Paths name the resource type after ``where`` so that a reader sees which model applied:
    ``Bundle.entry[3].resource.AllergyIntolerance.reaction[0].severity``.
    """
    at = f"{where}." if where else ""
    if not isinstance(resource, dict):
        raise _invalid(
            f"not a FHIR resource at {where or '(input)'}: expected a JSON object with a "
            "resourceType",
            where or "(input)",
            "notAResource",
        )
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        path = f"{at}resourceType"
        raise _invalid(
            f"{path} is missing (or not a string): every FHIR resource names its type",
            path,
            "missingResourceType",
        )
    model = _model(kind)
    if model is None:
        path = f"{at}resourceType"
        raise _invalid(
            f"{path} is not a FHIR R4 resource type; check the spelling (case matters, e.g. "
            "AllergyIntolerance)",
            path,
            "unknownResourceType",
        )
    if expected_type is not None and kind != expected_type:
        path = f"{at}resourceType"
        raise _invalid(
            f"{path}: expected a FHIR {expected_type}, got a {kind}",
            path,
            "unexpectedResourceType",
            expected=expected_type,
        )
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        path = f"{at}{kind}{_loc_path(first['loc'])}"
        reason = str(first["type"])
        explanation = _SAFE_MESSAGES.get(reason, "is not valid")
        raise _invalid(
            f"invalid FHIR {kind}: {path} {explanation}", path, reason, errors=len(errors)
        ) from None
    return resource


def validate_resource(resource: object, *, expected_type: str | None = None) -> dict[str, Any]:
    """Check that ``resource`` is a valid FHIR R4 resource (of ``expected_type`` if given).

    Any resource type of FHIR R4 is accepted here; which types become credentials is decided by
    :mod:`issuer.templates`. Inside :func:`using_precomputed`, a verdict computed for this very
    object in a worker process is used instead of checking again.

    :returns: the resource unchanged (the credential carries what the hospital recorded).
    :raises InvalidInputError: ``invalidFhir`` with ``details['path']`` naming the element,
        e.g. ``AllergyIntolerance.reaction[0].severity``, and ``details['reason']`` (the kind of
        error: ``missingResourceType``, ``unknownResourceType``, ``string_type``, ...).
    """
    if expected_type is None:
        known = precomputed(resource)
        if known is not None and known.validation is not None:
            known.validation.result()
            return known.resource  # This very object (``precomputed`` matches by identity).
    return _check(resource, "", expected_type)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a pure function of a resource returned, or the :class:`InvalidInputError` it
    raised, in a form that crosses processes (pickle): the error as message, code and details,
    since an exception with keyword-only arguments does not unpickle.

    :param value: the return value (``None`` when only the verdict matters).
    :param error: ``(message, code, details)`` of the error raised.
    """

    value: Any = None
    error: tuple[str, str, dict[str, Any]] | None = None

    @classmethod
    def of(cls, function: Any, *args: Any) -> Outcome | None:
        """Call ``function(*args)``; ``None`` when it raised anything but exactly an
        :class:`InvalidInputError`, which the caller then meets by calling it again itself
        (so an unexpected error is raised where it was raised before, unchanged)."""
        try:
            return cls(value=function(*args))
        except InvalidInputError as exc:
            if type(exc) is not InvalidInputError:
                return None
            return cls(error=(exc.message, str(exc.code), exc.details))
        except Exception:
            return None

    def result(self) -> Any:
        """The value, or the error raised again: same class, message, code and details."""
        if self.error is not None:
            message, code, details = self.error
            raise InvalidInputError(message, code=ErrorCode(code), details=dict(details))
        return self.value


@dataclass(frozen=True, slots=True)
class Precomputed:
    """Outcomes computed for one resource in a worker process (:mod:`issuer.batch`).

    :param resource: the main process's resource object; lookups match it by identity, so an
        equal resource elsewhere, or this one after it was changed, is never confused with it
        (the batch does not change its items).
    :param validation: :func:`validate_resource`'s verdict (value ``None``).
    :param claims: :func:`issuer.templates.map_record`'s outcome (its mapping, or its typed
        error), for :func:`issuer.templates.claims_for_resource` without a bundle index;
        ``None`` when not computed.
    """

    resource: dict[str, Any]
    validation: Outcome | None
    claims: Outcome | None


_PRECOMPUTED: ContextVar[Mapping[int, Precomputed] | None] = ContextVar(
    "issuer_fhir_precomputed", default=None
)


@contextmanager
def using_precomputed(entries: Iterable[Precomputed]) -> Iterator[None]:
    """Within the block (this context: the current task and tasks it starts),
    :func:`validate_resource` and :func:`issuer.templates.claims_for_resource` use the
    entries' outcomes for the entries' resources. The table holds the resources, so their ids stay
    theirs while it is in use."""
    token = _PRECOMPUTED.set({id(entry.resource): entry for entry in entries})
    try:
        yield
    finally:
        _PRECOMPUTED.reset(token)


def precomputed(resource: object) -> Precomputed | None:
    """The entry for this very object inside :func:`using_precomputed`, else ``None``."""
    table = _PRECOMPUTED.get()
    if table is None:
        return None
    found = table.get(id(resource))
    return found if found is not None and found.resource is resource else None


def _reference_text(reference: object) -> str | None:
    if isinstance(reference, Mapping):
        reference = reference.get("reference")
    return reference if isinstance(reference, str) and reference else None


@dataclass
class BundleIndex:
    """Resolves references between the resources of one input (FHIR R4 section 2.36).

    A resource is found by its entry's ``fullUrl`` (``urn:uuid:...`` or an absolute URL), by
    ``Type/id``, by ``urn:uuid:<id>`` when its id is a UUID (the IPS examples' convention), by
    the ``Type/id`` tail of an absolute URL, and, relative to the referring resource, by a
    contained ``#id``.
    """

    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, resources: Sequence[Mapping[str, Any]], full_urls: Sequence[str | None] = ()
    ) -> BundleIndex:
        """An index of ``resources``; ``full_urls[i]`` is the ``fullUrl`` of resource ``i``."""
        index = cls()
        for position, resource in enumerate(resources):
            kind, rid = resource.get("resourceType"), resource.get("id")
            item = dict(resource) if not isinstance(resource, dict) else resource
            if isinstance(kind, str) and isinstance(rid, str):
                index._by_key.setdefault(f"{kind}/{rid}", item)
                index._by_key.setdefault(f"urn:uuid:{rid}", item)
            url = full_urls[position] if position < len(full_urls) else None
            if url:
                index._by_key[url] = item
        return index

    def resolve(
        self, reference: object, *, container: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The resource ``reference`` (a Reference or its string) points to, or ``None``.

        :param container: the referring resource, for contained references (``#id``).
        """
        text = _reference_text(reference)
        if text is None:
            return None
        if text.startswith("#"):
            for item in (container or {}).get("contained", ()):
                if isinstance(item, dict) and item.get("id") == text[1:]:
                    return item
            return None
        found = self._by_key.get(text)
        if found is None and "/" in text and not text.startswith("urn:"):
            # An absolute URL: try its Type/id tail, dropping a version (_history/n).
            parts = text.split("/_history/")[0].rstrip("/").split("/")
            if len(parts) >= 2:
                found = self._by_key.get(f"{parts[-2]}/{parts[-1]}")
        return found

    def refers_to(self, reference: object, target: Mapping[str, Any]) -> bool:
        """Whether ``reference`` resolves to ``target`` (the same resource object)."""
        found = self.resolve(reference)
        return found is not None and found is target


@dataclass(frozen=True)
class FhirInput:
    """A validated FHIR input.

    :param resources: every resource, in entry order (for a document, the Composition first).
    :param index: resolves references between them.
    :param bundle_type: the Bundle's ``type``, or ``None`` for a single resource.
    """

    resources: list[dict[str, Any]]
    index: BundleIndex
    bundle_type: str | None


def read_fhir_input(obj: object) -> FhirInput:
    """Validate a Bundle or a single resource and index its resources.

    The Bundle itself (``type``, ``entry[i].fullUrl``, ``entry[i].request``...) is validated
    without its resources, then each entry's resource with its own model, so that a path names
    the entry: ``Bundle.entry[3].resource.AllergyIntolerance.reaction[0].severity``.

    :raises InvalidInputError: ``invalidFhir`` with ``details['path']``: not a resource, an
        unknown or missing ``resourceType``, an invalid element, an unsupported Bundle type
        (``Bundle.type``), an entry without a resource, or a document whose first entry is not
        a Composition (FHIR R4 section 3.3.1).
    """
    if not isinstance(obj, dict) or obj.get("resourceType") != "Bundle":
        resource = _check(obj, "")
        return FhirInput([resource], BundleIndex.of([resource]), None)
    entries = obj.get("entry", [])
    if not isinstance(entries, list):
        raise _invalid("Bundle.entry must be an array", "Bundle.entry", "list_type")
    shell = dict(obj)
    shell["entry"] = [
        {k: v for k, v in entry.items() if k != "resource"} if isinstance(entry, dict) else entry
        for entry in entries
    ]
    _check(shell, "")
    bundle_type = obj.get("type")
    if bundle_type not in BUNDLE_TYPES:
        raise _invalid(
            f"Bundle.type must be one of {', '.join(sorted(BUNDLE_TYPES))} to carry records",
            "Bundle.type",
            "unsupportedBundleType",
        )
    resources: list[dict[str, Any]] = []
    full_urls: list[str | None] = []
    for position, entry in enumerate(entries):
        where = f"Bundle.entry[{position}].resource"
        if "resource" not in entry:
            if bundle_type in ("transaction", "batch") and entry.get("request", {}).get(
                "method"
            ) in ("DELETE", "GET", "HEAD"):
                continue  # A request without a resource carries no record.
            raise _invalid(
                f"{where} is missing: an entry of a {bundle_type} Bundle must carry a resource",
                where,
                "missing",
            )
        resources.append(_check(entry["resource"], where))
        full_urls.append(entry.get("fullUrl"))
    if bundle_type == "document" and (
        not resources or resources[0].get("resourceType") != "Composition"
    ):
        where = "Bundle.entry[0].resource.resourceType"
        raise _invalid(
            "a document Bundle's first entry must be its Composition (FHIR R4 section 3.3.1)",
            where,
            "documentWithoutComposition",
        )
    return FhirInput(resources, BundleIndex.of(resources, full_urls), bundle_type)


def parse_fhir_input(obj: object) -> list[dict[str, Any]]:
    """The validated resources of a Bundle (document, collection, transaction...) or resource.

    See :func:`read_fhir_input`, which also returns the reference index.

    :raises InvalidInputError: ``invalidFhir`` with ``details['path']``.
    """
    return read_fhir_input(obj).resources
