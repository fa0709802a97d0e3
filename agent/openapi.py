"""The OpenAPI request body of a route that reads its JSON body itself.

Routes parse their bodies strictly (:mod:`agent.jsonio`: malformed JSON is a 400 with a
machine-readable code, not FastAPI's 422), so they take ``request: Request`` and FastAPI cannot
know their body. Without a declaration the OpenAPI shows none, and a client generator or a
fuzzer sends nothing. :func:`json_body` builds the declaration, given as a route's
``openapi_extra``; the schema must say what the handler really accepts, since tests send it.

Plain dicts only: imported by every service at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["json_body", "object_schema"]


def object_schema(
    properties: Mapping[str, Any],
    *,
    required: Iterable[str] = (),
    description: str | None = None,
) -> dict[str, Any]:
    """A JSON object schema with ``properties``, of which ``required`` must be present.

    No ``additionalProperties``: the handlers ignore members they do not read, and the schema
    says so by allowing them (the JSON Schema default).
    """
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    names = list(required)
    unknown = [name for name in names if name not in properties]
    if unknown:
        raise ValueError(f"required members not among the properties: {unknown}")
    if names:
        schema["required"] = names
    if description is not None:
        schema["description"] = description
    return schema


def json_body(
    schema: Mapping[str, Any],
    *,
    required: bool = True,
    example: Any = None,
    description: str | None = None,
    other_media: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose request body is JSON described by ``schema``.

    :param required: ``False`` for a route that takes an empty body as ``{}``.
    :param example: a body the route accepts (the tests send it).
    :param other_media: media types the route also reads, each with its media type object
        (``{"text/plain": {"schema": {"type": "string"}}}``).
    """
    media: dict[str, Any] = {"schema": dict(schema)}
    if example is not None:
        media["example"] = example
    body: dict[str, Any] = {
        "required": required,
        "content": {
            "application/json": media,
            **{k: dict(v) for k, v in (other_media or {}).items()},
        },
    }
    if description is not None:
        body["description"] = description
    return {"requestBody": body}
