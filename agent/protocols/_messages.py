"""Plaintext DIDComm v2 message helpers shared by the protocol modules (private).

Why plain dicts: the protocol layer consumes and produces ``application/didcomm-plain+json``
objects and knows nothing of envelopes or transports, so that ``agent.messaging`` can pack them
and any transport can carry them. The header rules follow DIDComm Messaging v2, "Message
Headers": ``id``, ``type`` and ``body`` are required, the others are optional and typed.

Every error raised here carries ``details["reason"]`` (a stable camelCase token) and, when the
peer should hear about it, ``details["problem_code"]``: the report-problem 2.0 code that
:func:`agent.protocols.problem_report_for` puts in the problem-report it builds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agent.clock import Clock
from agent.errors import ErrorCode, InvalidInputError, ProtocolStateError
from agent.protocols.attachments import parse_attachment
from agent.types import JSONObject

#: DIDComm Messaging v2, "Message Type URI": (doc-uri)(protocol-name)/(semver)/(message-name).
_MTURI: Final = re.compile(r"^(.*?)([a-z0-9._-]+)/(\d+)\.(\d+)/([a-z0-9._-]+)$")
#: The same for a Protocol Identifier URI (no message name).
_PIURI: Final = re.compile(r"^(.*?)([a-z0-9._-]+)/(\d+)\.(\d+)$")

#: report-problem 2.0 codes the protocol layer suggests for its errors.
PROBLEM_MALFORMED: Final = "e.p.msg.malformed"
PROBLEM_UNSUPPORTED: Final = "e.p.msg.unsupported"
PROBLEM_UNEXPECTED: Final = "e.p.msg.unexpected"
PROBLEM_EXPIRED: Final = "e.p.req.time"

_HEADER_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "thid": str,
    "pthid": str,
    "from": str,
    "created_time": int,
    "expires_time": int,
}


@dataclass(frozen=True, slots=True)
class MessageType:
    """A parsed Message Type URI; ``family`` is everything but the minor version and name."""

    doc_uri: str
    protocol: str
    major: int
    minor: int
    name: str

    @property
    def family(self) -> tuple[str, str, int]:
        return (self.doc_uri, self.protocol, self.major)


@dataclass(frozen=True, slots=True)
class Piuri:
    """A parsed Protocol Identifier URI such as ``https://didcomm.org/issue-credential/3.0``."""

    uri: str
    doc_uri: str
    protocol: str
    major: int
    minor: int

    @classmethod
    def parse(cls, uri: str) -> Piuri:
        match = _PIURI.match(uri)
        if match is None:
            raise ValueError(f"not a protocol identifier URI (doc-uri/name/major.minor): {uri!r}")
        doc, name, major, minor = match.groups()
        return cls(uri, doc, name, int(major), int(minor))

    @property
    def family(self) -> tuple[str, str, int]:
        return (self.doc_uri, self.protocol, self.major)

    def message_type(self, name: str) -> str:
        """The MTURI of message ``name`` in this protocol version."""
        return f"{self.uri}/{name}"


def malformed(message: str, **details: Any) -> InvalidInputError:
    """An :class:`InvalidInputError` for a message of the wrong shape (``e.p.msg.malformed``)."""
    return InvalidInputError(
        message,
        code=ErrorCode.INVALID_INPUT,
        details={"reason": "malformedMessage", "problem_code": PROBLEM_MALFORMED, **details},
    )


def parse_message_type(value: Any) -> MessageType:
    """Split a Message Type URI into its parts.

    :raises InvalidInputError: ``reason=malformedMessage`` when ``value`` is not a string of the
        form ``<doc-uri><protocol>/<major>.<minor>/<name>``.
    """
    if not isinstance(value, str):
        raise malformed("the message 'type' must be a Message Type URI string")
    match = _MTURI.match(value)
    if match is None:
        raise malformed(
            "the message 'type' is not a Message Type URI "
            "(<doc-uri><protocol-name>/<major>.<minor>/<message-name>)",
            type=value[:200],
        )
    doc, protocol, major, minor, name = match.groups()
    return MessageType(doc, protocol, int(major), int(minor), name)


def check_headers(message: Any) -> JSONObject:
    """The message, after checking the DIDComm v2 plaintext headers and attachment shapes.

    :raises InvalidInputError: ``reason=malformedMessage`` naming the offending header.
    """
    if not isinstance(message, dict):
        raise malformed(
            f"a DIDComm plaintext message is a JSON object, not {type(message).__name__}"
        )
    msg_id = message.get("id")
    if not isinstance(msg_id, str) or not msg_id:
        raise malformed("the message has no 'id' (a non-empty string is required)", header="id")
    parse_message_type(message.get("type"))
    if not isinstance(message.get("body"), dict):
        raise malformed("the message 'body' must be a JSON object, even if empty", header="body")
    for header, expected in _HEADER_TYPES.items():
        value = message.get(header)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, expected):
            raise malformed(f"the '{header}' header has the wrong type", header=header)
        if isinstance(value, str) and not value:
            raise malformed(f"the '{header}' header is empty", header=header)
    to = message.get("to")
    if to is not None and (
        not isinstance(to, list) or not all(isinstance(item, str) and item for item in to)
    ):
        raise malformed("the 'to' header must be an array of DID strings", header="to")
    attachments = message.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise malformed("'attachments' must be an array", header="attachments")
        for index, attachment in enumerate(attachments):
            parse_attachment(attachment, index=index)
    return message


def expect_type(message: Any, piuri: Piuri, *names: str) -> tuple[JSONObject, str]:
    """Check ``message`` is one of ``names`` of protocol ``piuri`` (any minor version).

    DIDComm semver: a recipient that implements ``x.y`` accepts ``x.z`` for any ``z`` and works
    with the older feature set of the two.

    :returns: the checked message and its message name.
    :raises InvalidInputError: the headers are malformed.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another protocol, major
        version or message name.
    """
    checked = check_headers(message)
    parsed = parse_message_type(checked["type"])
    if parsed.family != piuri.family or parsed.name not in names:
        raise ProtocolStateError(
            f"expected a {piuri.protocol} {piuri.major}.x message ({', '.join(names)}), got "
            f"{checked['type']!r}",
            details={
                "reason": "unsupportedMessageType",
                "problem_code": PROBLEM_UNSUPPORTED,
                "type": str(checked["type"])[:200],
            },
        )
    return checked, parsed.name


def thread_id(message: Mapping[str, Any]) -> str:
    """The message's thread: ``thid``, or its own ``id`` when it starts the thread."""
    return str(message.get("thid") or message["id"])


def check_not_expired(message: Mapping[str, Any], clock: Clock) -> None:
    """Refuse a message whose sender declared it void (``expires_time`` in the past).

    :raises ProtocolStateError: ``reason=expired``, problem code ``e.p.req.time``.
    """
    expires = message.get("expires_time")
    if expires is not None and int(clock().timestamp()) > expires:
        raise ProtocolStateError(
            "the message expired before it was processed (its 'expires_time' has passed)",
            details={"reason": "expired", "problem_code": PROBLEM_EXPIRED, "expires_time": expires},
        )


def body_str(body: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    """An optional (or required) non-empty string member of ``body``."""
    value = body.get(key)
    if value is None:
        if required:
            raise malformed(f"the body lacks '{key}'", member=key)
        return None
    if not isinstance(value, str) or not value:
        raise malformed(f"the body member '{key}' must be a non-empty string", member=key)
    return value


def body_bool(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise malformed(f"the body member '{key}' must be true or false", member=key)
    return value


def body_object(body: Mapping[str, Any], key: str) -> JSONObject | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise malformed(f"the body member '{key}' must be a JSON object", member=key)
    return value


def attachments_of(
    message: Mapping[str, Any], *, required: bool, protocol: str
) -> list[JSONObject]:
    """The (already shape-checked) attachments, at least one when ``required``, each saying its
    ``format`` (as the 3.0 credential protocols require).

    :param protocol: the protocol's name and version, for the error (``present-proof 3.0``).
    """
    attachments = list(message.get("attachments") or [])
    if required and not attachments:
        raise malformed("this message must carry at least one attachment", header="attachments")
    for attachment in attachments:
        if "format" not in attachment:
            raise malformed(f"{protocol} attachments must say their 'format'", header="attachments")
    return attachments


def new_message(
    type_: str,
    body: JSONObject,
    *,
    clock: Clock,
    message_id: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
    attachments: Iterable[JSONObject] | None = None,
    expires_time: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONObject:
    """A plaintext message with the headers DIDComm v2 defines; ``None`` headers are left out."""
    message: JSONObject = {
        "id": message_id or str(uuid.uuid4()),
        "type": type_,
        "created_time": int(clock().timestamp()),
        "body": dict(body),
    }
    if thid is not None:
        message["thid"] = thid
    if pthid is not None:
        message["pthid"] = pthid
    if from_ is not None:
        message["from"] = from_
    if to is not None:
        message["to"] = list(to)
    if expires_time is not None:
        message["expires_time"] = expires_time
    attached = list(attachments or [])
    if attached:
        message["attachments"] = attached
    if extra:
        message.update(extra)
    return check_headers(message)


def reply_addressing(message: Mapping[str, Any]) -> dict[str, Any]:
    """``from_``/``to`` for a reply: back to the sender, from the (single) recipient."""
    addressing: dict[str, Any] = {}
    sender = message.get("from")
    if isinstance(sender, str):
        addressing["to"] = [sender]
    recipients = message.get("to")
    if isinstance(recipients, list) and len(recipients) == 1:
        addressing["from_"] = recipients[0]
    return addressing


def body_without_none(**members: Any) -> JSONObject:
    return {key: value for key, value in members.items() if value is not None}


def timestamp(value: datetime) -> int:
    return int(value.timestamp())
