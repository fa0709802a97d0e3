"""RFC 8785 JSON Canonicalization Scheme (JCS), byte-for-byte equal to ``rfc8785.dumps``.

JCS (https://www.rfc-editor.org/rfc/rfc8785) is the transformation of the ``eddsa-jcs-2022``
suite (https://www.w3.org/TR/vc-di-eddsa/#transformation-eddsa-jcs-2022). The reference
``rfc8785`` package is pure Python; this module gets the same bytes several times faster by
letting the C encoder behind ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` do the work, which already equals JCS except in three places:

1. **Numbers** (RFC 8785 section 3.2.2.3): JCS prints floats as ECMAScript
   ``Number.prototype.toString`` does (``1e+21``, ``1e-7``, ``1`` for ``1.0``, ``0`` for
   ``-0.0``); Python prints ``1e+21``, ``1e-07``, ``1.0``, ``-0.0``. Floats are replaced by
   placeholder strings, and the placeholders by :func:`format_number` output afterwards.
   Integers outside +-(2**53 - 1) are rejected, as ``rfc8785`` does.
2. **Key order** (section 3.2.3): JCS sorts by UTF-16 code units, Python by code points. The two
   differ only when a key holds a character at or above U+E000 (which sorts after the
   surrogates that encode characters above U+FFFF in UTF-16); such documents take the slow path.
3. **Escaping** (section 3.2.2.2) is already equal: both escape only ``"``, ``\\`` and the
   controls below U+0020 (``\\b \\t \\n \\f \\r``, others as lowercase ``\\u00xx``) and leave
   DEL, U+2028 and U+2029 as they are. Lone surrogates cannot be encoded in UTF-8 and are
   rejected.

A cheap scan decides between the paths; anything unusual (subclasses of the JSON types, tuples)
goes through :func:`_slow_canonicalize`, a plain recursive serialiser with the same rules.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from json.encoder import encode_basestring
from typing import Any

from agent.errors import ErrorCode, InvalidInputError

__all__ = ["canonicalize", "format_number"]

_INT_MAX = 2**53 - 1
_INT_MIN = -(2**53) + 1

# A per-process random marker for float placeholders. A collision with document text is
# detected (the number of replacements must equal the number of floats) and falls back.
_TOKEN = "\ue000jcs" + secrets.token_hex(16) + "#"
_PLACEHOLDER = re.compile('"' + re.escape(_TOKEN) + '([0-9]+)"')
_HIGH_KEY_CHAR = re.compile("[\ue000-\uffff]")


def _error(message: str, path: str | None = None) -> InvalidInputError:
    """The error for a value JCS cannot represent: the message names the JSON path and the
    kind of problem, never the value (documents carry health data)."""
    where = f" at {path}" if path is not None else ""
    return InvalidInputError(
        f"cannot canonicalise as JCS (RFC 8785): {message}{where}",
        code=ErrorCode.INVALID_INPUT,
        details={"path": path} if path is not None else {},
    )


def _unsafe_int(value: object) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (_INT_MIN <= value <= _INT_MAX)
    )


def _non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _bad_key(value: object) -> bool:
    return isinstance(value, dict) and not all(isinstance(key, str) for key in value)


def _lone_surrogate(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _path_of(root: Any, bad: Any) -> str | None:
    """The JSON path (``$.a[0].b``) of the first value for which ``bad`` holds, also looking at
    object keys; only computed once an error is certain, so the fast path stays fast."""
    stack: list[tuple[str, Any]] = [("$", root)]
    while stack:
        path, value = stack.pop()
        if bad(value):
            return path
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                if bad(key):
                    return f"{path}.<key>"
                readable = isinstance(key, str) and key.isprintable() and not _lone_surrogate(key)
                name = str.__str__(key)[:64] if readable else "<key>"
                children.append((f"{path}.{name}", item))
            stack.extend(reversed(children))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return None


def format_number(value: float) -> str:
    """ECMAScript ``Number.prototype.toString`` for a finite float (RFC 8785 section 3.2.2.3).

    Python's ``repr`` already yields the shortest round-tripping digits, as ECMAScript
    requires; only the placement of the decimal point and exponent differs
    (ECMA-262 section 6.1.6.1.20, Number::toString).

    :raises InvalidInputError: for NaN and infinities, which JSON cannot represent.
    """
    if math.isnan(value) or math.isinf(value):
        raise _error("NaN and infinities are not JSON numbers")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + format_number(-value)
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    sign = "+" if n - 1 >= 0 else "-"
    head = digits[0] if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(n - 1)}"


def _scan(root: Any) -> tuple[int, bool]:
    """Count the floats Python would print differently, and check the fast path applies.

    ``repr`` of a float already equals ECMAScript output unless it uses an exponent or ends in
    ``.0`` (both print the shortest round-trip digits, and Python's positional range is inside
    ECMAScript's), so most clinical values (``36.6``, ``7.2``) need no rewriting.

    :returns: ``(floats_to_rewrite, fast_path_ok)``.
    :raises InvalidInputError: for values JCS cannot represent.
    """
    rewrite = 0
    stack = [root]
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is dict:
            try:
                keys = "".join(value)
            except TypeError:
                raise _error("object keys must be strings", _path_of(root, _bad_key)) from None
            if not keys.isascii() and _HIGH_KEY_CHAR.search(keys):
                return rewrite, False
            extend(value.values())
        elif kind is list:
            extend(value)
        elif kind is int:
            if value > _INT_MAX or value < _INT_MIN:
                raise _error(
                    "an integer is outside the IEEE 754 safe range (+-2**53-1)",
                    _path_of(root, _unsafe_int),
                )
        elif kind is float:
            if value != value or value in (math.inf, -math.inf):
                raise _error("NaN and infinities are not JSON numbers", _path_of(root, _non_finite))
            text = repr(value)
            if "e" in text or text.endswith(".0"):
                rewrite += 1
        elif isinstance(value, str | int | float | list | tuple | dict):
            return rewrite, False
        else:
            raise _error(
                f"a {kind.__name__} is not a JSON type",
                _path_of(root, lambda item, found=value: item is found),
            )
    return rewrite, True


def _replace_floats(value: Any, numbers: list[str]) -> Any:
    kind = type(value)
    if kind is float:
        text = repr(value)
        if "e" not in text and not text.endswith(".0"):
            return value
        numbers.append(format_number(value))
        return f"{_TOKEN}{len(numbers) - 1}"
    if kind is dict:
        return {key: _replace_floats(item, numbers) for key, item in value.items()}
    if kind is list:
        return [_replace_floats(item, numbers) for item in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _encode(text: str, root: Any) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(
            "a string contains a lone surrogate, which is not valid UTF-8",
            _path_of(root, _lone_surrogate),
        ) from None


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    :raises InvalidInputError: for NaN/infinite floats, integers beyond +-(2**53 - 1), non-string
        keys, lone surrogates and non-JSON types, the cases ``rfc8785`` rejects.
    """
    floats, fast = _scan(value)
    if not fast:
        return _encode(_slow(value), value)
    if not floats:
        return _encode(_dumps(value), value)
    numbers: list[str] = []
    text = _dumps(_replace_floats(value, numbers))
    replaced = 0

    def number(match: re.Match[str]) -> str:
        nonlocal replaced
        replaced += 1
        return numbers[int(match.group(1))]

    text = _PLACEHOLDER.sub(number, text)
    if replaced != len(numbers):  # The marker occurred in the document itself.
        return _encode(_slow(value), value)
    return _encode(text, value)


def _slow(root: Any) -> str:
    """:func:`_slow_canonicalize`, with the path of the offending value added to its errors."""
    try:
        return _slow_canonicalize(root)
    except _SlowError as exc:
        raise _error(exc.reason, _path_of(root, exc.bad)) from None


class _SlowError(Exception):
    def __init__(self, reason: str, bad: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bad = bad


def _slow_canonicalize(value: Any) -> str:
    """The general serialiser: any JSON-compatible value, keys in UTF-16 code unit order."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return str(encode_basestring(str.__str__(value)))
    if isinstance(value, int):
        number = int(value)
        if number > _INT_MAX or number < _INT_MIN:
            raise _SlowError(
                "an integer is outside the IEEE 754 safe range (+-2**53-1)", _unsafe_int
            )
        return str(number)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _SlowError("NaN and infinities are not JSON numbers", _non_finite)
        return format_number(float(value))
    if isinstance(value, list | tuple):
        return "[" + ",".join(_slow_canonicalize(item) for item in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _SlowError("object keys must be strings", _bad_key)
            items.append((str.__str__(key), item))
        items.sort(key=lambda pair: pair[0].encode("utf-16-be", "surrogatepass"))
        return (
            "{"
            + ",".join(
                str(encode_basestring(key)) + ":" + _slow_canonicalize(item) for key, item in items
            )
            + "}"
        )
    raise _SlowError(f"a {type(value).__name__} is not a JSON type", lambda item: item is value)
