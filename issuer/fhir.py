"""FHIR R4 input: validate a resource before it becomes a credential.

Validation uses fhir.resources (pydantic models of the FHIR specification; the R4B module, whose
resources used here match R4 4.0.1). An invalid resource is refused with the path of the first
bad element, never with its value (it is health data).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pydantic import ValidationError

from agent.errors import ErrorCode, InvalidInputError

__all__ = ["FHIR_VERSION", "validate_resource"]

#: The FHIR version credentials declare in ``fhirVersion``.
FHIR_VERSION = "4.0.1"

_MODULES = {
    "AllergyIntolerance": "allergyintolerance",
    "Condition": "condition",
    "MedicationStatement": "medicationstatement",
    "MedicationRequest": "medicationrequest",
    "Immunization": "immunization",
    "Observation": "observation",
    "Bundle": "bundle",
    "Patient": "patient",
}


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate_resource(resource: object, *, expected_type: str | None = None) -> dict[str, Any]:
    """Check that ``resource`` is a valid FHIR resource (of ``expected_type`` if given).

    :returns: the resource unchanged (the credential carries what the hospital recorded).
    :raises InvalidInputError: ``invalidFhir`` naming the element path, e.g.
        ``AllergyIntolerance.reaction[0].severity``.
    """
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise InvalidInputError(
            "not a FHIR resource: expected a JSON object with a resourceType",
            code=ErrorCode.INVALID_FHIR,
        )
    kind = resource["resourceType"]
    if expected_type is not None and kind != expected_type:
        raise InvalidInputError(
            f"expected a FHIR {expected_type}, got a {kind}", code=ErrorCode.INVALID_FHIR
        )
    if kind not in _MODULES:
        raise InvalidInputError(
            f"FHIR resource type {kind} is not supported; supported: {', '.join(sorted(_MODULES))}",
            code=ErrorCode.INVALID_FHIR,
        )
    model = getattr(import_module(f"fhir.resources.R4B.{_MODULES[kind]}"), kind)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = f"{kind}.{_path(tuple(first['loc']))}" if first["loc"] else kind
        raise InvalidInputError(
            f"invalid FHIR {kind}: {path}: {first['msg']}",
            code=ErrorCode.INVALID_FHIR,
            details={"path": path, "errors": len(exc.errors())},
        ) from None
    return resource
