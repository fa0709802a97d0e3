"""Checks of the hospital's request bodies that more than one route makes.

``POST /fhir/import`` (issuer/api.py) and ``POST /admin/connections/{id}/offer``
(issuer/didcomm.py) take the same record selection: the formats to issue and three flags. A
flag read by truthiness took ``"false"`` for yes, and a format list of objects was a 500 (QA);
both routes refuse them alike here, as a 422 naming the member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.errors import InvalidInputError
from issuer.hospital import FORMATS

__all__ = ["flag", "record_formats"]


def flag(body: Mapping[str, Any], name: str, default: bool) -> bool:
    """``body[name]``, a JSON boolean; ``default`` when the member is absent.

    :raises InvalidInputError: any other value (``"false"``, ``0``, ``null``): 422.
    """
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInputError(
            f"'{name}' must be true or false (a JSON boolean)",
            details={"path": name, "reason": "notABoolean"},
        )
    return value


def record_formats(body: Mapping[str, Any]) -> list[str]:
    """``body["formats"]`` (default ``["vc"]``): a non-empty list of known formats, each once.

    :raises InvalidInputError: anything else: 422.
    """
    formats = body.get("formats", ["vc"])
    if (
        not isinstance(formats, list)
        or not formats
        or not all(isinstance(f, str) and f in FORMATS for f in formats)
        or len(set(formats)) < len(formats)
    ):
        raise InvalidInputError(
            f"'formats' must list some of {sorted(FORMATS)}, each once",
            details={"path": "formats", "reason": "unknownFormat"},
        )
    return list(formats)
