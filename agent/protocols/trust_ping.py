"""Trust Ping 2.0 (``https://didcomm.org/trust-ping/2.0``): test a DIDComm channel end to end.

DIDComm Messaging v2, "Trust Ping Protocol 2.0": the sender's ``ping`` has body
``{"response_requested": <bool, default true>}``; the receiver answers a ping that requests one
with a ``ping-response`` whose ``thid`` is the ping's ``id``. The "trust" comes from the envelope
(both sides proved they can decrypt and authenticate), so the protocol keeps no state here: a
redelivered ping simply gets another response, which has no other effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from agent.clock import Clock
from agent.protocols._messages import (
    Piuri,
    body_bool,
    check_not_expired,
    expect_type,
    malformed,
    new_message,
    reply_addressing,
)
from agent.types import JSONObject

__all__ = [
    "PING",
    "PING_RESPONSE",
    "TRUST_PING",
    "PingResponseCallback",
    "build_ping",
    "build_ping_response",
    "handle_trust_ping",
    "parse_trust_ping",
]

TRUST_PING: Final = "https://didcomm.org/trust-ping/2.0"
_PIURI: Final = Piuri.parse(TRUST_PING)
PING: Final = _PIURI.message_type("ping")
PING_RESPONSE: Final = _PIURI.message_type("ping-response")

#: Called with a received ping-response (e.g. to measure round-trip time).
PingResponseCallback = Callable[[JSONObject], Awaitable[None]]


def parse_trust_ping(message: Any) -> tuple[str, JSONObject]:
    """Check a trust-ping 2.x message; returns its name (``ping`` or ``ping-response``) and it.

    :raises InvalidInputError: ``response_requested`` is not a boolean, or a ping-response has no
        ``thid``.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another message type.
    """
    checked, name = expect_type(message, _PIURI, "ping", "ping-response")
    if name == "ping":
        body_bool(checked["body"], "response_requested", True)
    elif not checked.get("thid"):
        raise malformed("a ping-response must name the ping in 'thid'", header="thid")
    return name, checked


def build_ping(
    *,
    clock: Clock,
    response_requested: bool = True,
    from_: str | None = None,
    to: Iterable[str] | None = None,
    expires_time: int | None = None,
) -> JSONObject:
    """A ``ping``; send it authcrypted (with ``from``) when a response is requested."""
    return new_message(
        PING,
        {"response_requested": response_requested},
        clock=clock,
        from_=from_,
        to=to,
        expires_time=expires_time,
    )


def build_ping_response(ping: JSONObject, *, clock: Clock) -> JSONObject:
    """The ``ping-response`` to ``ping`` (``thid`` = the ping's ``id``), addressed back."""
    _, checked = parse_trust_ping(ping)
    return new_message(
        PING_RESPONSE, {}, clock=clock, thid=str(checked["id"]), **reply_addressing(checked)
    )


async def handle_trust_ping(
    message: Any,
    *,
    clock: Clock,
    connection_id: str | None = None,
    on_response: PingResponseCallback | None = None,
) -> list[JSONObject]:
    """Answer a ping that requests a response; hand a ping-response to ``on_response``.

    :raises InvalidInputError: the message is malformed.
    :raises ProtocolStateError: another message type, or the ping expired.
    """
    del connection_id  # Stateless: any connection may ping.
    name, checked = parse_trust_ping(message)
    check_not_expired(checked, clock)
    if name == "ping":
        if checked["body"].get("response_requested", True):
            return [build_ping_response(checked, clock=clock)]
        return []
    if on_response is not None:
        await on_response(checked)
    return []
