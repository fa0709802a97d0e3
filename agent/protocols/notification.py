"""The health-mydata notification protocol 1.0: access notices, consent withdrawal, deletions.

Message Type URI: ``https://w3id.org/health-mydata/protocols/notification/1.0/notice`` (a
DIDComm PIURI in the project's own namespace: doc-uri
``https://w3id.org/health-mydata/protocols/``, protocol ``notification``, version ``1.0``).

Body (all kinds)::

    {"kind": "access-notice" | "consent-withdrawn" | "deletion-receipt",
     "occurred_at": "2026-11-29T06:00:00Z",      # XML Schema dateTimeStamp, required
     ...kind-specific members}

* ``access-notice`` (story 4, break-glass; and any access by a data user): ``accessor`` (DID,
  required), ``purpose`` (required), ``resources`` (non-empty array of strings naming what was
  read, e.g. credential types), optional ``break_glass`` (bool), ``reason``, ``audit_ref`` (the
  id of the tamper-evident log entry).
* ``consent-withdrawn`` (story 7): ``consent_id`` (required), optional ``scope`` (array of
  strings).
* ``deletion-receipt`` (story 7, the broker's answer): ``consent_id`` (required), ``deleted``
  (array of strings, may be empty), optional ``audit_ref``. It is sent with ``thid`` set to the
  withdrawal's thread, so the citizen can correlate it.

Each received notice is recorded (protocol ``.../notification/1.0``, role ``recipient``, state
``received``, keyed by the notice's message ``id``), so a redelivered notice has no second effect.
The ``on_notice`` callback may answer with another notice body (a broker answering
``consent-withdrawn`` with ``deletion-receipt``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from agent.clock import Clock, parse_datetime
from agent.errors import ProtocolStateError
from agent.protocols._messages import (
    Piuri,
    body_bool,
    body_str,
    check_not_expired,
    expect_type,
    malformed,
    new_message,
    reply_addressing,
    thread_id,
)
from agent.protocols.base import RecordRepository, StateMachine, is_duplicate
from agent.types import JSONObject

__all__ = [
    "NOTICE",
    "NOTIFICATION",
    "NOTIFICATION_RECIPIENT",
    "RECIPIENT_TRANSITIONS",
    "Notice",
    "NoticeCallback",
    "NoticeKind",
    "NotificationState",
    "build_notice",
    "handle_notification",
    "parse_notice",
]

NOTIFICATION: Final = "https://w3id.org/health-mydata/protocols/notification/1.0"
_PIURI: Final = Piuri.parse(NOTIFICATION)
NOTICE: Final = _PIURI.message_type("notice")


class NoticeKind(StrEnum):
    ACCESS_NOTICE = "access-notice"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    DELETION_RECEIPT = "deletion-receipt"


class NotificationState(StrEnum):
    RECEIVED = "received"


RECIPIENT_TRANSITIONS: Final[dict[NotificationState, frozenset[NotificationState]]] = {
    NotificationState.RECEIVED: frozenset(),
}
NOTIFICATION_RECIPIENT: Final = StateMachine.of(
    NOTIFICATION, "recipient", RECIPIENT_TRANSITIONS, initial=(NotificationState.RECEIVED,)
)

_REQUIRED: Final[dict[NoticeKind, tuple[str, ...]]] = {
    NoticeKind.ACCESS_NOTICE: ("accessor", "purpose"),
    NoticeKind.CONSENT_WITHDRAWN: ("consent_id",),
    NoticeKind.DELETION_RECEIPT: ("consent_id",),
}
_OPTIONAL: Final[dict[NoticeKind, tuple[str, ...]]] = {
    NoticeKind.ACCESS_NOTICE: ("reason", "audit_ref"),
    NoticeKind.CONSENT_WITHDRAWN: (),
    NoticeKind.DELETION_RECEIPT: ("audit_ref",),
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A parsed notice: its ``kind``, the checked ``body`` and the whole ``message``."""

    kind: NoticeKind
    thread_id: str
    body: JSONObject
    message: JSONObject


#: Recipient: act on a notice; return a body to answer with a notice on the same thread.
NoticeCallback = Callable[[Notice], Awaitable[JSONObject | None]]


def _strings(body: JSONObject, key: str, *, required: bool, non_empty: bool = False) -> None:
    value = body.get(key)
    if value is None and not required:
        return
    if (
        not isinstance(value, list)
        or not all(isinstance(item, str) and item for item in value)
        or (non_empty and not value)
    ):
        raise malformed(f"notice '{key}' must be an array of strings", member=key)


def _check_body(body: JSONObject) -> NoticeKind:
    try:
        kind = NoticeKind(str(body.get("kind")))
    except ValueError:
        raise malformed(
            f"notice 'kind' must be one of {', '.join(k.value for k in NoticeKind)}",
            member="kind",
        ) from None
    occurred = body_str(body, "occurred_at", required=True)
    try:
        parse_datetime(str(occurred))
    except ValueError:
        raise malformed(
            "notice 'occurred_at' must be a dateTimeStamp such as 2026-11-29T06:00:00Z",
            member="occurred_at",
        ) from None
    for key in _REQUIRED[kind]:
        body_str(body, key, required=True)
    for key in _OPTIONAL[kind]:
        body_str(body, key)
    if kind is NoticeKind.ACCESS_NOTICE:
        _strings(body, "resources", required=True, non_empty=True)
        body_bool(body, "break_glass", False)
    elif kind is NoticeKind.CONSENT_WITHDRAWN:
        _strings(body, "scope", required=False)
    else:
        _strings(body, "deleted", required=True)
    return kind


def parse_notice(message: Any) -> Notice:
    """Check a notification 1.x ``notice`` strictly.

    :raises InvalidInputError: unknown ``kind``, missing or mistyped members for the kind.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another message type.
    """
    checked, _ = expect_type(message, _PIURI, "notice")
    kind = _check_body(checked["body"])
    return Notice(kind, thread_id(checked), dict(checked["body"]), checked)


def build_notice(
    body: JSONObject,
    *,
    clock: Clock,
    thid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``notice`` with ``body`` (checked for its ``kind``).

    :raises InvalidInputError: the body does not fit its kind.
    """
    message = new_message(NOTICE, body, clock=clock, thid=thid, from_=from_, to=to)
    parse_notice(message)
    return message


async def handle_notification(
    message: Any,
    *,
    repository: RecordRepository,
    connection_id: str | None,
    on_notice: NoticeCallback,
) -> list[JSONObject]:
    """Record a received notice once, hand it to ``on_notice``, and send its answer if any.

    :raises InvalidInputError: the notice is malformed.
    :raises ProtocolStateError: the notice expired.
    """
    notice = parse_notice(message)
    check_not_expired(notice.message, repository.clock)
    try:
        await repository.create(
            NOTIFICATION,
            NOTIFICATION_RECIPIENT.role,
            str(notice.message["id"]),
            NotificationState.RECEIVED,
            connection_id=connection_id,
            data={"kind": notice.kind.value, "thread": notice.thread_id},
            message_id=str(notice.message["id"]),
        )
    except ProtocolStateError as exc:
        if is_duplicate(exc):
            return []
        raise
    answer = await on_notice(notice)
    if answer is None:
        return []
    return [
        build_notice(
            answer,
            clock=repository.clock,
            thid=notice.thread_id,
            **reply_addressing(notice.message),
        )
    ]
