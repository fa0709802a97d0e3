"""DIDComm plaintext messages (``application/didcomm-plain+json``).

DIDComm Messaging v2, section "Plaintext Message Structure" / "Message Headers": ``id``,
``type`` and ``body`` are required; ``from``, ``to``, ``thid``, ``pthid``, ``created_time``,
``expires_time`` and ``attachments`` are optional and typed here. Other headers are extensions
that "SHOULD be ignored if not understood, and MUST NOT be the basis of failure": they are kept,
unchecked, in :attr:`Message.extra_headers` and written back by :meth:`Message.to_json`. That
includes ``from_prior`` (DID rotation), which this module does **not** verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from agent.messaging._common import (
    DEFAULT_MAX_ENVELOPE_BYTES,
    PLAIN_TYP,
    dumps,
    is_did,
    loads,
    malformed,
    require_object,
    require_string,
    same_media_type,
)
from agent.types import JSONObject

__all__ = ["Message", "parse_message"]

_KNOWN: Final = frozenset(
    {
        "typ",
        "id",
        "type",
        "from",
        "to",
        "thid",
        "pthid",
        "created_time",
        "expires_time",
        "body",
        "attachments",
    }
)


@dataclass(frozen=True, slots=True)
class Message:
    """A DIDComm v2 plaintext message.

    :param id: unique to the sender.
    :param type: the Message Type URI (``https://didcomm.org/<protocol>/<version>/<name>``).
    :param body: the message type specific attributes; present even if empty.
    :param from_: the sender's DID (``from``; no fragment). Only an authcrypt or signature
        layer makes it trustworthy: see :class:`agent.messaging.UnpackResult`.
    :param to: the recipients' DIDs (no fragments), or ``None`` when the header is absent.
    :param thid: the thread id; :attr:`thread_id` falls back to ``id``.
    :param pthid: the parent thread id.
    :param created_time: UTC epoch seconds.
    :param expires_time: UTC epoch seconds after which the sender considers it void.
    :param attachments: attachment objects as sent (each has a ``data`` object).
    :param extra_headers: other top-level headers, preserved as received.
    """

    id: str
    type: str
    body: JSONObject
    from_: str | None = None
    to: tuple[str, ...] | None = None
    thid: str | None = None
    pthid: str | None = None
    created_time: int | None = None
    expires_time: int | None = None
    attachments: tuple[JSONObject, ...] | None = None
    extra_headers: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Check what a caller builds exactly as what a peer sends.
        _check(self.to_json())

    @property
    def thread_id(self) -> str:
        """``thid``, or ``id`` when the message starts a thread (spec: "If not included the id
        property of the message MUST be treated as the value of the thid")."""
        return self.thid if self.thid is not None else self.id

    def to_json(self) -> JSONObject:
        """The message as JSON, with ``typ`` set to ``application/didcomm-plain+json``."""
        data: JSONObject = {"typ": PLAIN_TYP, "id": self.id, "type": self.type}
        optional: dict[str, Any] = {
            "from": self.from_,
            "to": list(self.to) if self.to is not None else None,
            "thid": self.thid,
            "pthid": self.pthid,
            "created_time": self.created_time,
            "expires_time": self.expires_time,
        }
        data.update({name: value for name, value in optional.items() if value is not None})
        data["body"] = self.body
        if self.attachments is not None:
            data["attachments"] = list(self.attachments)
        for name, value in self.extra_headers.items():
            if name not in _KNOWN:
                data[name] = value
        return data

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON of :meth:`to_json`."""
        return dumps(self.to_json())


def _optional_string(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else require_string(value, name)


def _optional_time(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise malformed(f"{name} must be UTC epoch seconds (a non-negative integer)", field=name)
    return value


def _attachments(value: object) -> tuple[JSONObject, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise malformed("attachments must be a list of objects", field="attachments")
    checked: list[JSONObject] = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        attachment = require_object(item, where)
        require_object(attachment.get("data"), f"{where}.data")
        if "id" in attachment:
            require_string(attachment["id"], f"{where}.id")
        checked.append(attachment)
    return tuple(checked)


def parse_message(
    data: Mapping[str, Any] | bytes | str, *, max_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES
) -> Message:
    """Parse and check a DIDComm plaintext message (spec section "Message Headers").

    :param data: the parsed JSON object, or its bytes/text (parsed strictly by
        :mod:`agent.jsonio`).
    :raises MessagingError: ``didcommMalformed`` naming the header that is missing or of the
        wrong type (``id``, ``type``, ``body``, a ``from``/``to`` that is not a DID, a time that
        is not epoch seconds, ``typ`` other than the plaintext media type);
        ``inputTooLarge`` over ``max_bytes``.
    """
    if isinstance(data, bytes | str):
        data = loads(data, max_bytes=max_bytes, what="the plaintext message")
    return Message(**_check(data))


def _check(data: object) -> dict[str, Any]:
    """The :class:`Message` fields of a plaintext message's JSON, checked."""
    obj = require_object(data, "message")
    if "typ" in obj and not same_media_type(obj["typ"], PLAIN_TYP):
        raise malformed(f"a plaintext message's typ must be {PLAIN_TYP}", field="typ")
    for name in ("id", "type"):
        if name not in obj:
            raise malformed(f"the plaintext message has no '{name}' (REQUIRED)", field=name)
    if "body" not in obj:
        raise malformed(
            "the plaintext message has no 'body' (REQUIRED, even if empty)", field="body"
        )
    sender = obj.get("from")
    if sender is not None and not is_did(sender):
        raise malformed("'from' must be a DID without a fragment", field="from")
    to_value = obj.get("to")
    to: tuple[str, ...] | None = None
    if to_value is not None:
        if not isinstance(to_value, list) or not all(is_did(item) for item in to_value):
            raise malformed("'to' must be a list of DIDs without fragments", field="to")
        to = tuple(to_value)
    return dict(
        id=require_string(obj["id"], "id"),
        type=require_string(obj["type"], "type"),
        body=require_object(obj["body"], "body"),
        from_=sender,
        to=to,
        thid=_optional_string(obj, "thid"),
        pthid=_optional_string(obj, "pthid"),
        created_time=_optional_time(obj, "created_time"),
        expires_time=_optional_time(obj, "expires_time"),
        attachments=_attachments(obj.get("attachments")),
        extra_headers={name: value for name, value in obj.items() if name not in _KNOWN},
    )
