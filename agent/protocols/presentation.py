"""Present Proof 3.0 (``https://didcomm.org/present-proof/3.0``), verifier and prover roles.

Spec: WACI-DIDComm "Present Proof Protocol 3.0"
(https://github.com/decentralized-identity/waci-didcomm/blob/main/present_proof/present-proof-v3.md).
Messages: ``propose-presentation`` (prover, optional), ``request-presentation`` (verifier; body
``will_confirm``, default ``false``; the presentation query travels as an attachment, e.g.
``dif/presentation-exchange/definitions@v1.0`` with ``options.challenge``/``domain``),
``presentation`` (prover) and the protocol's ``ack`` (verifier, sent when ``will_confirm``).
Problem-reports (:mod:`agent.protocols.problem_report`) move both sides to ``abandoned``; the
verifier itself answers a presentation its ``verify`` callback rejects with one
(``e.p.msg.presentation-rejected``) and abandons.

States (the spec's names)::

    verifier: (start) -> request-sent | proposal-received
              proposal-received     -> request-sent | abandoned
              request-sent          -> presentation-received | proposal-received | abandoned
              presentation-received -> done | abandoned
    prover:   (start) -> request-received | proposal-sent
              proposal-sent     -> request-received | abandoned
              request-received  -> presentation-sent | proposal-sent | abandoned
              presentation-sent -> done | abandoned

When ``will_confirm`` is false no ack comes: the prover moves ``presentation-sent -> done`` as
soon as it sends. Presentations are never kept in the record (only attachment ids and formats);
the verifier keeps what its purpose allows through its own ``verify`` callback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Final

from agent.clock import Clock
from agent.errors import ProtocolStateError
from agent.protocols import _flow
from agent.protocols._messages import (
    Piuri,
    attachments_of,
    body_bool,
    body_str,
    body_without_none,
    check_not_expired,
    expect_type,
    malformed,
    reply_addressing,
    thread_id,
)
from agent.protocols.base import ProtocolRecord, RecordRepository, StateMachine
from agent.protocols.problem_report import build_problem_report
from agent.types import JSONObject

__all__ = [
    "PRESENTATION_REJECTED",
    "PRESENT_PROOF",
    "PRESENT_PROOF_MESSAGES",
    "PROVER",
    "PROVER_TRANSITIONS",
    "VERIFIER",
    "VERIFIER_TRANSITIONS",
    "PresentCallback",
    "PresentationMessage",
    "PresentationRole",
    "PresentationState",
    "VerifyCallback",
    "build_presentation",
    "build_presentation_ack",
    "build_propose_presentation",
    "build_request_presentation",
    "handle_presentation",
    "parse_presentation_message",
    "propose_presentation",
    "request_presentation",
    "send_presentation",
]

PRESENT_PROOF: Final = "https://didcomm.org/present-proof/3.0"
_PIURI: Final = Piuri.parse(PRESENT_PROOF)
PRESENT_PROOF_MESSAGES: Final = (
    "propose-presentation",
    "request-presentation",
    "presentation",
    "ack",
)
#: The problem code a verifier sends when its verify callback rejects a presentation.
PRESENTATION_REJECTED: Final = "e.p.msg.presentation-rejected"


class PresentationRole(StrEnum):
    VERIFIER = "verifier"
    PROVER = "prover"


class PresentationState(StrEnum):
    """Present Proof 3.0 states, named as in the spec."""

    PROPOSAL_SENT = "proposal-sent"
    PROPOSAL_RECEIVED = "proposal-received"
    REQUEST_SENT = "request-sent"
    REQUEST_RECEIVED = "request-received"
    PRESENTATION_SENT = "presentation-sent"
    PRESENTATION_RECEIVED = "presentation-received"
    DONE = "done"
    ABANDONED = "abandoned"


_S = PresentationState

VERIFIER_TRANSITIONS: Final[dict[PresentationState, frozenset[PresentationState]]] = {
    _S.PROPOSAL_RECEIVED: frozenset({_S.REQUEST_SENT, _S.ABANDONED}),
    _S.REQUEST_SENT: frozenset({_S.PRESENTATION_RECEIVED, _S.PROPOSAL_RECEIVED, _S.ABANDONED}),
    _S.PRESENTATION_RECEIVED: frozenset({_S.DONE, _S.ABANDONED}),
    _S.DONE: frozenset(),
    _S.ABANDONED: frozenset(),
}
PROVER_TRANSITIONS: Final[dict[PresentationState, frozenset[PresentationState]]] = {
    _S.PROPOSAL_SENT: frozenset({_S.REQUEST_RECEIVED, _S.ABANDONED}),
    _S.REQUEST_RECEIVED: frozenset({_S.PRESENTATION_SENT, _S.PROPOSAL_SENT, _S.ABANDONED}),
    _S.PRESENTATION_SENT: frozenset({_S.DONE, _S.ABANDONED}),
    _S.DONE: frozenset(),
    _S.ABANDONED: frozenset(),
}

VERIFIER: Final = StateMachine.of(
    PRESENT_PROOF,
    PresentationRole.VERIFIER,
    VERIFIER_TRANSITIONS,
    initial=(_S.REQUEST_SENT, _S.PROPOSAL_RECEIVED),
)
PROVER: Final = StateMachine.of(
    PRESENT_PROOF,
    PresentationRole.PROVER,
    PROVER_TRANSITIONS,
    initial=(_S.REQUEST_RECEIVED, _S.PROPOSAL_SENT),
)


@dataclass(frozen=True, slots=True)
class PresentationMessage:
    """A parsed present-proof message, as callbacks see it (fields as
    :class:`agent.protocols.issuance.CredentialMessage`)."""

    name: str
    thread_id: str
    connection_id: str | None
    body: JSONObject
    attachments: tuple[JSONObject, ...]
    message: JSONObject


#: Prover: the ``presentation`` attachments for a request, or ``None`` to ask the citizen first.
PresentCallback = Callable[
    [PresentationMessage, ProtocolRecord], Awaitable[list[JSONObject] | None]
]
#: Verifier: whether the presentation satisfies the request (report and policy live behind it).
VerifyCallback = Callable[[PresentationMessage, ProtocolRecord], Awaitable[bool]]


def parse_presentation_message(
    message: Any, *, connection_id: str | None = None
) -> PresentationMessage:
    """Check a present-proof 3.x message strictly.

    :raises InvalidInputError: ``reason=malformedMessage``/``malformedAttachment``; a
        ``request-presentation`` or ``presentation`` without attachments; a non-boolean
        ``will_confirm``.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another message type.
    """
    checked, name = expect_type(message, _PIURI, *PRESENT_PROOF_MESSAGES)
    body = checked["body"]
    body_str(body, "goal_code")
    body_str(body, "comment")
    if name == "request-presentation":
        body_bool(body, "will_confirm", False)
    if name in ("presentation", "ack") and not checked.get("thid"):
        raise malformed(f"{name} must name its thread in 'thid'", header="thid")
    attachments = attachments_of(
        checked,
        required=name in ("request-presentation", "presentation"),
        protocol="present-proof 3.0",
    )
    return PresentationMessage(
        name=name,
        thread_id=thread_id(checked),
        connection_id=connection_id,
        body=dict(body),
        attachments=tuple(attachments),
        message=checked,
    )


#: ``_build(name, body, attachments, *, clock, thid, ...)``: a message of this protocol, checked.
_build: Final = partial(_flow.build, _PIURI, parse_presentation_message)


def build_propose_presentation(
    attachments: Iterable[JSONObject] = (),
    *,
    clock: Clock,
    comment: str | None = None,
    goal_code: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``propose-presentation`` message (prover to verifier); attachments may be empty."""
    body = body_without_none(goal_code=goal_code, comment=comment)
    return _build(
        "propose-presentation", body, attachments, clock=clock, thid=thid, pthid=pthid,
        from_=from_, to=to,
    )  # fmt: skip


def build_request_presentation(
    attachments: Iterable[JSONObject],
    *,
    clock: Clock,
    will_confirm: bool = False,
    comment: str | None = None,
    goal_code: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``request-presentation`` message; the presentation query goes in ``attachments``."""
    body = body_without_none(goal_code=goal_code, comment=comment, will_confirm=will_confirm)
    return _build(
        "request-presentation", body, attachments, clock=clock, thid=thid, pthid=pthid,
        from_=from_, to=to,
    )  # fmt: skip


def build_presentation(
    attachments: Iterable[JSONObject],
    *,
    clock: Clock,
    thid: str,
    comment: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``presentation`` message (prover to verifier) on thread ``thid``."""
    body = body_without_none(comment=comment)
    return _build("presentation", body, attachments, clock=clock, thid=thid, from_=from_, to=to)


def build_presentation_ack(
    *,
    clock: Clock,
    thid: str,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """The protocol's ``ack`` (verifier to prover): the presentation was accepted."""
    return _build("ack", {"status": "OK"}, None, clock=clock, thid=thid, from_=from_, to=to)


async def request_presentation(
    repository: RecordRepository,
    attachments: Iterable[JSONObject],
    *,
    connection_id: str | None,
    will_confirm: bool = False,
    thread_id: str | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Verifier: request a presentation, on a new thread or answering a proposal."""
    attached = list(attachments)
    request = build_request_presentation(
        attached,
        clock=repository.clock,
        will_confirm=will_confirm,
        comment=comment,
        goal_code=goal_code,
        thid=thread_id,
        pthid=pthid,
        from_=from_,
        to=to,
    )
    data = {
        "request": _flow.summary(request),
        "request_attachments": attached,
        "will_confirm": will_confirm,
    }
    await _flow.send(repository, VERIFIER, request, _S.REQUEST_SENT, connection_id, data)
    return request


async def propose_presentation(
    repository: RecordRepository,
    attachments: Iterable[JSONObject] = (),
    *,
    connection_id: str | None,
    thread_id: str | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Prover: propose a presentation, on a new thread or as a counter-proposal to a request."""
    proposal = build_propose_presentation(
        attachments,
        clock=repository.clock,
        comment=comment,
        goal_code=goal_code,
        thid=thread_id,
        pthid=pthid,
        from_=from_,
        to=to,
    )
    await _flow.send(
        repository, PROVER, proposal, _S.PROPOSAL_SENT, connection_id,
        {"proposal": _flow.summary(proposal)},
    )  # fmt: skip
    return proposal


async def send_presentation(
    repository: RecordRepository,
    thread_id: str,
    attachments: Iterable[JSONObject],
    *,
    comment: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Prover: present for a thread in ``request-received`` (e.g. after the citizen consented).

    Moves to ``presentation-sent``, and straight on to ``done`` when the request said the
    verifier will not confirm.

    :raises ProtocolStateError: the thread is unknown or not in ``request-received``.
    """
    message = build_presentation(
        attachments, clock=repository.clock, thid=thread_id, comment=comment, from_=from_, to=to
    )
    record = await repository.transition(
        PRESENT_PROOF,
        thread_id,
        _S.PRESENTATION_SENT,
        expect_state=_S.REQUEST_RECEIVED,
        update_data={"presentation": _flow.summary(message)},
        message_id=message["id"],
    )
    if not record.data.get("will_confirm", False):
        await repository.transition(
            PRESENT_PROOF, thread_id, _S.DONE, expect_state=_S.PRESENTATION_SENT
        )
    return message


_VERIFIER_RECEIVES: Final = frozenset({"propose-presentation", "presentation"})
_PROVER_RECEIVES: Final = frozenset({"request-presentation", "ack"})


async def handle_presentation(
    message: Any,
    *,
    role: PresentationRole | str,
    repository: RecordRepository,
    connection_id: str | None,
    present: PresentCallback | None = None,
    verify: VerifyCallback | None = None,
) -> list[JSONObject]:
    """Process one incoming present-proof message; returns the messages to send back.

    Verifier: ``propose-presentation`` records ``proposal-received`` (answer with
    :func:`request_presentation`); ``presentation`` records ``presentation-received``, calls
    ``verify`` (required), then ends in ``done`` (with an ack when ``will_confirm``) or in
    ``abandoned`` with a problem-report ``e.p.msg.presentation-rejected``.
    Prover: ``request-presentation`` records ``request-received`` and, when ``present`` returns
    attachments, presents at once (else call :func:`send_presentation` later); ``ack`` ends in
    ``done``.

    A redelivered message (same ``id``) returns ``[]`` and changes nothing.

    :raises InvalidInputError: the message is malformed.
    :raises ProtocolStateError: out of order (nothing stored changes), another connection's
        thread, expired, or not a message this role receives.
    """
    parsed = parse_presentation_message(message, connection_id=connection_id)
    check_not_expired(parsed.message, repository.clock)
    role = PresentationRole(role)
    receives = _VERIFIER_RECEIVES if role is PresentationRole.VERIFIER else _PROVER_RECEIVES
    if parsed.name not in receives:
        raise ProtocolStateError(
            f"a {role} does not receive {parsed.name!r} in present-proof",
            details={
                "reason": "unexpectedMessage",
                "problem_code": "e.p.msg.unexpected",
                "thread_id": parsed.thread_id,
            },
        )
    addressing = reply_addressing(parsed.message)
    if parsed.name == "propose-presentation":
        await _flow.receive(
            repository, VERIFIER, parsed.message, _S.PROPOSAL_RECEIVED,
            connection_id=connection_id,
            update_data={"proposal": _flow.summary(parsed.message), "proposal_body": parsed.body},
        )  # fmt: skip
        return []
    if parsed.name == "presentation":
        if verify is None:
            raise ProtocolStateError(
                "a verifier needs a verify callback to accept a presentation",
                details={"reason": "noVerifyCallback", "problem_code": "e.p.me"},
            )
        record = await _flow.receive(
            repository, VERIFIER, parsed.message, _S.PRESENTATION_RECEIVED,
            connection_id=connection_id,
            update_data={"presentation": _flow.summary(parsed.message)},
        )  # fmt: skip
        if record is None:
            return []
        if await verify(parsed, record):
            await repository.transition(
                PRESENT_PROOF, record.thread_id, _S.DONE, expect_state=_S.PRESENTATION_RECEIVED,
                update_data={"accepted": True},
            )  # fmt: skip
            if record.data.get("will_confirm", False):
                return [
                    build_presentation_ack(
                        clock=repository.clock, thid=record.thread_id, **addressing
                    )
                ]
            return []
        problem = build_problem_report(
            PRESENTATION_REJECTED,
            pthid=record.thread_id,
            comment="The presentation does not satisfy the request.",
            clock=repository.clock,
            **addressing,
        )
        await repository.transition(
            PRESENT_PROOF, record.thread_id, _S.ABANDONED, expect_state=_S.PRESENTATION_RECEIVED,
            update_data={"accepted": False, "problem": {"code": PRESENTATION_REJECTED}},
        )  # fmt: skip
        return [problem]
    if parsed.name == "request-presentation":
        will_confirm = bool(parsed.body.get("will_confirm", False))
        record = await _flow.receive(
            repository, PROVER, parsed.message, _S.REQUEST_RECEIVED,
            connection_id=connection_id,
            update_data={
                "request": _flow.summary(parsed.message),
                "request_attachments": list(parsed.attachments),
                "will_confirm": will_confirm,
            },
        )  # fmt: skip
        if record is None or present is None:
            return []
        attachments = await present(parsed, record)
        if attachments is None:
            return []
        return [await send_presentation(repository, record.thread_id, attachments, **addressing)]
    # ack
    await _flow.receive(
        repository, PROVER, parsed.message, _S.DONE,
        connection_id=connection_id, update_data={"acked": True},
    )  # fmt: skip
    return []
