"""Dispatch plaintext messages to protocol handlers by Message Type URI, with semver tolerance.

DIDComm Messaging v2, "Protocols" / "Semver Rules": parties that implement the same protocol at
the same *major* version but different *minor* versions can interoperate at the older minor's
feature set. A handler registered for ``https://didcomm.org/trust-ping/2.0`` therefore receives
``.../trust-ping/2.1/ping`` too (and 2.0 handlers ignore unknown optional fields), while 1.x or
3.x messages are unsupported.

An unknown message type raises :class:`~agent.errors.ProtocolStateError` with
``details["reason"] == "unsupportedMessageType"`` and ``details["problem_code"] ==
"e.p.msg.unsupported"``; :func:`agent.protocols.problem_report_for` turns it into the
problem-report for the sender.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

from agent.errors import ProtocolStateError
from agent.protocols._messages import (
    PROBLEM_UNSUPPORTED,
    Piuri,
    check_headers,
    parse_message_type,
)
from agent.types import JSONObject

__all__ = ["MessageHandler", "ProtocolRegistry"]


class MessageHandler(Protocol):
    """A bound protocol handler: one incoming message in, the messages to send back out.

    Bind role, repository and callbacks with :func:`functools.partial` or a closure, e.g.
    ``partial(handle_issuance, role="issuer", repository=repo, issue=issue)``.
    """

    def __call__(
        self, message: JSONObject, *, connection_id: str | None
    ) -> Awaitable[list[JSONObject]]: ...


class ProtocolRegistry:
    """Message type -> handler, matching protocol name and major version, any minor version."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str, int], tuple[Piuri, frozenset[str], MessageHandler]]
        self._handlers = {}

    def register(self, piuri: str, handler: MessageHandler, *, messages: Iterable[str]) -> None:
        """Route the ``messages`` (names) of protocol ``piuri`` (``<doc-uri><name>/<x.y>``).

        :raises ValueError: ``piuri`` is not a Protocol Identifier URI, or the protocol's major
            version is registered already.
        """
        parsed = Piuri.parse(piuri)
        if parsed.family in self._handlers:
            raise ValueError(f"{parsed.protocol} {parsed.major}.x is registered already")
        names = frozenset(messages)
        if not names:
            raise ValueError(f"register at least one message name of {piuri}")
        self._handlers[parsed.family] = (parsed, names, handler)

    @property
    def protocols(self) -> list[str]:
        """The registered Protocol Identifier URIs (for discover-features), sorted."""
        return sorted(piuri.uri for piuri, _, _ in self._handlers.values())

    def resolve(self, message_type: str) -> MessageHandler:
        """The handler for ``message_type``.

        :raises InvalidInputError: ``message_type`` is not a Message Type URI.
        :raises ProtocolStateError: ``reason=unsupportedMessageType`` (problem code
            ``e.p.msg.unsupported``) for an unknown protocol, major version or message name.
        """
        parsed = parse_message_type(message_type)
        entry = self._handlers.get(parsed.family)
        if entry is None or parsed.name not in entry[1]:
            known = sorted(piuri.uri for piuri, _, _ in self._handlers.values())
            raise ProtocolStateError(
                f"no handler for message type {message_type!r}; this agent speaks "
                f"{', '.join(known) or 'no protocols'}",
                details={
                    "reason": "unsupportedMessageType",
                    "problem_code": PROBLEM_UNSUPPORTED,
                    "type": message_type[:200],
                },
            )
        return entry[2]

    async def dispatch(self, message: Any, *, connection_id: str | None) -> list[JSONObject]:
        """Check the headers of ``message`` and run its handler.

        :raises InvalidInputError: the message headers are malformed.
        :raises ProtocolStateError: unsupported type, or whatever the handler raises.
        """
        checked = check_headers(message)
        handler = self.resolve(str(checked["type"]))
        return await handler(checked, connection_id=connection_id)
