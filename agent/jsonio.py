"""Strict JSON input: size limit, UTF-8 only, no duplicate keys, no NaN, bounded nesting.

Signed documents are parsed here before anything else looks at them. Duplicate keys are
refused because two parsers could disagree on which value was signed; NaN and Infinity are
refused because they are not JSON and cannot be canonicalised (RFC 8785).
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, Final

from agent.errors import ErrorCode, InvalidInputError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_DEPTH",
    "check_depth",
    "json_type",
    "parse_json",
    "parse_json_object",
]

#: Default size limit for one document (a credential, a presentation, a DID document).
DEFAULT_MAX_BYTES = 1024 * 1024
#: Deeper nesting than this is refused before it can exhaust the interpreter's stack.
MAX_DEPTH = 64


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInputError(
                "JSON object has a duplicate member name; a signed document must be unambiguous",
                code=ErrorCode.PARSING_ERROR,
                details={"member": key[:64]},
            )
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise InvalidInputError(f"{name} is not a JSON value (RFC 8259)", code=ErrorCode.PARSING_ERROR)


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; one that overflows to infinity is refused.

    ``1e400`` is valid JSON syntax, but Python reads it as ``inf``, which is not a JSON value and
    cannot be canonicalised or compared; refusing it here gives one typed error at the edge.
    Integers are left alone: large ones are legal JSON (JCS refuses those beyond 2**53 itself).
    """
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInputError(
            "a JSON number is too large to be represented as a finite double (RFC 8259 section 6)",
            code=ErrorCode.PARSING_ERROR,
        )
    return value


def json_type(value: object) -> str:
    """The JSON type name of a parsed value, for messages that must not show the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return f"non-JSON {type(value).__name__}"


def check_depth(value: object, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse an already-parsed value that nests arrays and objects deeper than ``max_depth``,
    as :func:`parse_json` refuses such text: for values that did not come through it (an API
    caller's dict), before recursive code (JSON-LD expansion, canonicalisation) meets them.

    :raises InvalidInputError: (``PARSING_ERROR``) when it is too deep.
    """
    # Level by level: one list comprehension per level, not a stack entry per node.
    level: list[object] = [value]
    depth = 0
    while True:
        containers = [node for node in level if isinstance(node, dict | list)]
        if not containers:
            return
        depth += 1
        if depth > max_depth:
            raise InvalidInputError(
                f"document nests deeper than {max_depth} levels",
                code=ErrorCode.PARSING_ERROR,
            )
        level = []
        for node in containers:
            level.extend(node.values() if isinstance(node, dict) else node)


#: A JSON string, or an unterminated one running to the end of the text.
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether the bracket nesting of ``text``, ignoring brackets inside strings, exceeds
    ``max_depth``.

    A text with no more opening brackets than ``max_depth`` cannot nest deeper (counting is a
    C loop: most documents stop here). Otherwise strings are cut out and the running depth of
    the remaining brackets is measured, all in C (``re``, ``itertools.accumulate``).
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth


def parse_json(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse one JSON document strictly.

    :raises InvalidInputError: ``inputTooLarge`` over ``max_bytes``; ``PARSING_ERROR`` for
        invalid UTF-8, invalid JSON, duplicate member names, NaN/Infinity (also a number such
        as ``1e400`` that overflows to infinity) or nesting deeper than :data:`MAX_DEPTH`.
    """
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > max_bytes:
        raise InvalidInputError(
            # Not the size: a service reads at most one byte over the limit before refusing.
            f"document is over the limit of {max_bytes} bytes",
            code=ErrorCode.INPUT_TOO_LARGE,
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"document is not valid UTF-8 (byte offset {exc.start})",
                code=ErrorCode.PARSING_ERROR,
            ) from exc
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    if _too_deep(text, MAX_DEPTH):
        raise InvalidInputError(
            f"document nests deeper than {MAX_DEPTH} levels", code=ErrorCode.PARSING_ERROR
        )
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code=ErrorCode.PARSING_ERROR,
        ) from exc
    except ValueError:
        # int() refuses integer literals of more than sys.get_int_max_str_digits() digits.
        raise InvalidInputError(
            "a JSON number has too many digits to be read", code=ErrorCode.PARSING_ERROR
        ) from None


def parse_json_object(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """:func:`parse_json`, and the result must be a JSON object."""
    value = parse_json(data, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"expected a JSON object, got a JSON {json_type(value)}",
            code=ErrorCode.PARSING_ERROR,
        )
    return value
