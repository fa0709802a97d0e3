"""Strict JSON parsing: every malformed input is a typed error with a code, never a crash."""

from __future__ import annotations

import json

import pytest

from agent.errors import ErrorCode, InvalidInputError
from agent.jsonio import MAX_DEPTH, check_depth, parse_json, parse_json_object


def test_parses_an_object() -> None:
    assert parse_json_object(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


def test_strips_a_byte_order_mark() -> None:
    assert parse_json("\ufeff{}") == {}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(b"{", ErrorCode.PARSING_ERROR, id="truncated"),
        pytest.param(b'{"a": 1, "a": 2}', ErrorCode.PARSING_ERROR, id="duplicate-member"),
        pytest.param(b'{"a": NaN}', ErrorCode.PARSING_ERROR, id="nan"),
        pytest.param(b'{"a": Infinity}', ErrorCode.PARSING_ERROR, id="infinity"),
        pytest.param(b'{"a": "\xff"}', ErrorCode.PARSING_ERROR, id="invalid-utf8"),
        pytest.param(
            b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), ErrorCode.PARSING_ERROR, id="too-deep"
        ),
        pytest.param(b"[" * 100_000, ErrorCode.PARSING_ERROR, id="deep-unclosed"),
        pytest.param(b" " * 20 + b"{}", None, id="whitespace-ok"),
    ],
)
def test_malformed_input_is_a_typed_error(data: bytes, code: ErrorCode | None) -> None:
    if code is None:
        assert parse_json(data) == {}
        return
    with pytest.raises(InvalidInputError) as info:
        parse_json(data)
    assert info.value.code is code


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"a": "' + "[" * (MAX_DEPTH * 2) + '"}'
    assert parse_json(text) == {"a": "[" * (MAX_DEPTH * 2)}


def test_size_limit() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_json(b"[" + b"1," * 600 + b"1]", max_bytes=1000)
    assert info.value.code is ErrorCode.INPUT_TOO_LARGE


def test_object_required() -> None:
    with pytest.raises(InvalidInputError, match="expected a JSON object"):
        parse_json_object(b"[1]")


def test_duplicate_member_message_names_no_value() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_json(b'{"allergy": "PENICILLIN-SECRET", "allergy": "x"}')
    assert "PENICILLIN-SECRET" not in str(info.value)
    assert info.value.details == {"member": "allergy"}


def test_number_overflowing_to_infinity_is_refused() -> None:
    """1e400 is JSON syntax, but Python reads it as inf, which no canonicalisation accepts."""
    for text in ('{"a": 1e400}', '{"a": -1e400}', '{"a": [1.5, 2e999]}'):
        with pytest.raises(InvalidInputError) as info:
            parse_json(text)
        assert info.value.code is ErrorCode.PARSING_ERROR
    assert parse_json('{"a": 1e308}') == {"a": 1e308}


def test_large_integers_are_kept() -> None:
    """Legal JSON; JCS refuses them later with its own typed error."""
    assert parse_json('{"a": 18446744073709551616}') == {"a": 2**64}


def test_integer_with_too_many_digits_is_a_typed_error() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_json('{"a": ' + "1" * 5000 + "}")
    assert info.value.code is ErrorCode.PARSING_ERROR


def _nested(depth: int, leaf: object = 1) -> object:
    """``depth`` levels of alternating arrays and objects around ``leaf``; strings with
    brackets, quotes and backslashes beside each level, which must not count."""
    value = leaf
    for level in range(depth):
        noise = '["{\\"' + "]" * (level % 3) + "}\\"
        value = [noise, value] if level % 2 else {"k": value, "s": noise}
    return value


@pytest.mark.parametrize("depth", [3, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH * 3])
def test_text_and_parsed_depth_limits_agree(depth: int) -> None:
    # ``depth`` levels in all; the padding (3 levels) holds more brackets than MAX_DEPTH.
    value = {"pad": [[] for _ in range(MAX_DEPTH)], "v": _nested(depth - 1)}
    text = json.dumps(value)
    assert text.count("[") + text.count("{") > MAX_DEPTH  # the scan runs, not the count alone
    if depth > MAX_DEPTH:
        with pytest.raises(InvalidInputError) as info:
            parse_json(text)
        assert info.value.code is ErrorCode.PARSING_ERROR
        with pytest.raises(InvalidInputError) as info:
            check_depth(value)
        assert info.value.code is ErrorCode.PARSING_ERROR
    else:
        assert parse_json(text) == value
        check_depth(value)


def test_many_shallow_containers_are_not_deep() -> None:
    value = {"items": [{"a": [1]} for _ in range(MAX_DEPTH * 4)]}
    assert parse_json(json.dumps(value)) == value
    check_depth(value)
    check_depth(value, max_depth=4)
    with pytest.raises(InvalidInputError):
        check_depth(value, max_depth=3)
