"""agent.messaging.message: strict plaintext parsing; and the package's public surface."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import ErrorCode, MessagingError
from agent.messaging import Message, parse_message

VALID: dict[str, Any] = {
    "id": "1",
    "type": "https://didcomm.org/basicmessage/2.0/message",
    "from": "did:example:alice",
    "to": ["did:example:bob"],
    "body": {},
}


def test_unknown_headers_are_preserved() -> None:
    data = {**VALID, "lang": "nl", "from_prior": "eyJ...", "please_ack": ["receipt"]}
    message = parse_message(data)
    assert dict(message.extra_headers) == {
        "lang": "nl",
        "from_prior": "eyJ...",
        "please_ack": ["receipt"],
    }
    assert message.to_json() == {"typ": "application/didcomm-plain+json", **data}


def test_typ_may_omit_the_application_prefix() -> None:
    assert parse_message({**VALID, "typ": "didcomm-plain+json"}).id == "1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"type": None}, "type"),
        ({"body": None}, "body"),
        ({"id": ""}, "id"),
        ({"id": 1}, "id"),
        ({"body": []}, "body"),
        ({"from": "did:example:alice#key-1"}, "from"),
        ({"from": "alice"}, "from"),
        ({"to": "did:example:bob"}, "to"),
        ({"to": ["did:example:bob#key-1"]}, "to"),
        ({"thid": 5}, "thid"),
        ({"created_time": "2024-01-01"}, "created_time"),
        ({"expires_time": True}, "expires_time"),
        ({"expires_time": -1}, "expires_time"),
        ({"attachments": {}}, "attachments"),
        ({"attachments": [{"id": "a"}]}, "attachments[0].data"),
        ({"attachments": [{"id": 3, "data": {}}]}, "attachments[0].id"),
        ({"typ": "application/didcomm-signed+json"}, "typ"),
    ],
)
def test_malformed_headers_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    data = {**VALID, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(MessagingError) as info:
        parse_message(data)
    assert info.value.code is ErrorCode.DIDCOMM_MALFORMED
    assert info.value.details["field"] == field


def test_building_a_malformed_message_is_refused_too() -> None:
    with pytest.raises(MessagingError):
        Message(id="1", type="t", body={}, from_="not a did")


def test_thread_id_falls_back_to_id() -> None:
    assert parse_message({**VALID, "thid": "t-1"}).thread_id == "t-1"
    assert parse_message(VALID).thread_id == "1"


def test_parse_from_bytes_is_strict() -> None:
    with pytest.raises(MessagingError) as info:
        parse_message(b'{"id":"1","id":"1","type":"t","body":{}}')
    assert info.value.code is ErrorCode.DIDCOMM_MALFORMED


@given(
    st.fixed_dictionaries(
        {"id": st.text(min_size=1), "type": st.text(min_size=1)},
        optional={
            "thid": st.text(min_size=1),
            "pthid": st.text(min_size=1),
            "created_time": st.integers(0, 2**40),
            "lang": st.text(),
        },
    )
)
def test_hypothesis_parse_serialize_round_trip(headers: dict[str, Any]) -> None:
    data = {**headers, "body": {"k": headers["id"]}}
    message = parse_message(data)
    assert parse_message(message.to_bytes()) == message
    assert message.to_json() == {"typ": "application/didcomm-plain+json", **data}


# --- public surface (STYLE 2) and layering (STYLE 10) ------------------------------------------
