"""DIDComm v2 attachments: builders, strict parsing, and a round trip per encoder."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import InvalidInputError
from agent.protocols import (
    FORMAT_SD_JWT_VC,
    FORMAT_W3C_VC_DI,
    MEDIA_TYPE_JSON,
    attachment_base64,
    attachment_bytes,
    attachment_json,
    attachment_json_data,
    attachment_links,
    attachments_with_format,
    parse_attachment,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.binary(max_size=512))
def test_base64_round_trip(data: bytes) -> None:
    attachment = attachment_base64("a", "application/octet-stream", None, data)
    assert "=" not in attachment["data"]["base64"]
    assert attachment_bytes(attachment) == data


@given(JSON_VALUES)
def test_json_round_trip(value: Any) -> None:
    attachment = attachment_json("a", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, value)
    assert attachment_json_data(attachment) == value
    as_base64 = attachment_base64("b", MEDIA_TYPE_JSON, None, attachment_bytes(attachment))
    assert attachment_json_data(as_base64) == value


def test_shapes() -> None:
    assert attachment_json("vc-1", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {"a": 1}) == {
        "id": "vc-1",
        "media_type": "application/json",
        "format": "didcomm/w3c-di-vc@v0.1",
        "data": {"json": {"a": 1}},
    }
    linked = attachment_links("x", None, None, ["https://example.org/x"], "zQm...", byte_count=9)
    assert linked["data"] == {"links": ["https://example.org/x"], "hash": "zQm..."}
    with pytest.raises(InvalidInputError) as caught:
        attachment_bytes(linked)
    assert caught.value.details["reason"] == "linkedAttachment"


def test_padded_base64_is_accepted() -> None:
    assert attachment_bytes({"id": "a", "data": {"base64": "aGk="}}) == b"hi"


@pytest.mark.parametrize(
    "value",
    [
        "not an object",
        {"id": "a"},
        {"id": "a/b", "data": {"json": 1}},
        {"id": "", "data": {"json": 1}},
        {"data": {"jws": {}}},
        {"data": {"base64": "a b"}},
        {"data": {"links": "https://x"}},
        {"data": {"links": ["https://x"]}},
        {"data": {"json": 1, "jws": "x"}},
        {"format": "", "data": {"json": 1}},
        {"byte_count": "9", "data": {"json": 1}},
        {"byte_count": True, "data": {"json": 1}},
    ],
    ids=lambda value: str(value)[:40],
)
def test_malformed_attachments(value: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_attachment(value)
    assert caught.value.details["reason"] == "malformedAttachment"


def test_select_by_format() -> None:
    a = attachment_json("a", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {})
    b = attachment_base64("b", "application/dc+sd-jwt", FORMAT_SD_JWT_VC, "x~y~")
    assert attachments_with_format([a, b], FORMAT_SD_JWT_VC) == [b]
