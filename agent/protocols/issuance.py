"""Issue Credential 3.0 (``https://didcomm.org/issue-credential/3.0``), issuer and holder roles.

Spec: WACI-DIDComm "Issue Credential Protocol 3.0"
(https://github.com/decentralized-identity/waci-didcomm/tree/main/issue_credential, listed at
https://didcomm.org/issue-credential/3.0). Messages: ``propose-credential`` (holder, optional),
``offer-credential`` (issuer), ``request-credential`` (holder), ``issue-credential`` (issuer) and
the protocol's ``ack`` (holder; body ``{"status": "OK"}`` as in the WACI test vectors). Errors are
report-problem 2.0 problem-reports, handled by :mod:`agent.protocols.problem_report`, which move
both sides to ``abandoned``.

Attachments carry ``format`` inside each attachment (3.0 dropped the 2.0 ``formats`` array); see
:mod:`agent.protocols.attachments` for the identifiers we use.

States (spec names, plus ``abandoned`` from present-proof 3.0 for the problem-report case)::

    issuer:  (start) -> proposal-received | offer-sent | request-received
             proposal-received -> offer-sent | abandoned
             offer-sent        -> request-received | proposal-received | abandoned
             request-received  -> credential-issued | offer-sent | abandoned
             credential-issued -> done | abandoned
    holder:  (start) -> proposal-sent | offer-received | request-sent
             proposal-sent       -> offer-received | abandoned
             offer-received      -> request-sent | proposal-sent | abandoned
             request-sent        -> credential-received | offer-received | abandoned
             credential-received -> done | abandoned

Effects happen after the claim: the issuer first moves to ``request-received`` (one handler wins
the locked transition), then calls ``issue``; the holder first moves to ``credential-received``,
then calls ``store``. A crash in between leaves the record in that state, from which
:func:`issue_credential` (issuer) or a new ``store`` call by the wallet continues. Issued
credentials are never kept in the protocol record (the wallet stores them); only attachment ids
and formats are.
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
    body_object,
    body_str,
    body_without_none,
    check_not_expired,
    expect_type,
    malformed,
    reply_addressing,
    thread_id,
)
from agent.protocols.base import ProtocolRecord, RecordRepository, StateMachine
from agent.types import JSONObject

__all__ = [
    "HOLDER",
    "HOLDER_TRANSITIONS",
    "ISSUER",
    "ISSUER_TRANSITIONS",
    "ISSUE_CREDENTIAL",
    "ISSUE_CREDENTIAL_MESSAGES",
    "CredentialMessage",
    "IssuanceRole",
    "IssuanceState",
    "IssueCallback",
    "OfferCallback",
    "StoreCallback",
    "build_credential_ack",
    "build_issue_credential",
    "build_offer_credential",
    "build_propose_credential",
    "build_request_credential",
    "handle_issuance",
    "issue_credential",
    "offer_credential",
    "parse_issuance_message",
    "propose_credential",
    "request_credential",
]

#: The Protocol Identifier URI we implement.
ISSUE_CREDENTIAL: Final = "https://didcomm.org/issue-credential/3.0"
_PIURI: Final = Piuri.parse(ISSUE_CREDENTIAL)
#: The message names of the protocol.
ISSUE_CREDENTIAL_MESSAGES: Final = (
    "propose-credential",
    "offer-credential",
    "request-credential",
    "issue-credential",
    "ack",
)
_ACK_STATUSES: Final = frozenset({"OK", "PENDING", "FAIL"})


class IssuanceRole(StrEnum):
    ISSUER = "issuer"
    HOLDER = "holder"


class IssuanceState(StrEnum):
    """Issue Credential 3.0 states, named as in the spec."""

    PROPOSAL_SENT = "proposal-sent"
    PROPOSAL_RECEIVED = "proposal-received"
    OFFER_SENT = "offer-sent"
    OFFER_RECEIVED = "offer-received"
    REQUEST_SENT = "request-sent"
    REQUEST_RECEIVED = "request-received"
    CREDENTIAL_ISSUED = "credential-issued"
    CREDENTIAL_RECEIVED = "credential-received"
    DONE = "done"
    ABANDONED = "abandoned"


_S = IssuanceState

ISSUER_TRANSITIONS: Final[dict[IssuanceState, frozenset[IssuanceState]]] = {
    _S.PROPOSAL_RECEIVED: frozenset({_S.OFFER_SENT, _S.ABANDONED}),
    _S.OFFER_SENT: frozenset({_S.REQUEST_RECEIVED, _S.PROPOSAL_RECEIVED, _S.ABANDONED}),
    _S.REQUEST_RECEIVED: frozenset({_S.CREDENTIAL_ISSUED, _S.OFFER_SENT, _S.ABANDONED}),
    _S.CREDENTIAL_ISSUED: frozenset({_S.DONE, _S.ABANDONED}),
    _S.DONE: frozenset(),
    _S.ABANDONED: frozenset(),
}
HOLDER_TRANSITIONS: Final[dict[IssuanceState, frozenset[IssuanceState]]] = {
    _S.PROPOSAL_SENT: frozenset({_S.OFFER_RECEIVED, _S.ABANDONED}),
    _S.OFFER_RECEIVED: frozenset({_S.REQUEST_SENT, _S.PROPOSAL_SENT, _S.ABANDONED}),
    _S.REQUEST_SENT: frozenset({_S.CREDENTIAL_RECEIVED, _S.OFFER_RECEIVED, _S.ABANDONED}),
    _S.CREDENTIAL_RECEIVED: frozenset({_S.DONE, _S.ABANDONED}),
    _S.DONE: frozenset(),
    _S.ABANDONED: frozenset(),
}

ISSUER: Final = StateMachine.of(
    ISSUE_CREDENTIAL,
    IssuanceRole.ISSUER,
    ISSUER_TRANSITIONS,
    initial=(_S.PROPOSAL_RECEIVED, _S.OFFER_SENT, _S.REQUEST_RECEIVED),
)
HOLDER: Final = StateMachine.of(
    ISSUE_CREDENTIAL,
    IssuanceRole.HOLDER,
    HOLDER_TRANSITIONS,
    initial=(_S.PROPOSAL_SENT, _S.OFFER_RECEIVED, _S.REQUEST_SENT),
)


@dataclass(frozen=True, slots=True)
class CredentialMessage:
    """A parsed issue-credential message, as callbacks see it.

    :param name: the message name (``offer-credential``, ``issue-credential``, ...).
    :param thread_id: the thread it belongs to.
    :param connection_id: the connection it arrived on (``None`` for a built message).
    :param body: the checked body (``goal_code``, ``comment``, ``credential_preview``,
        ``replacement_id``, ``status``).
    :param attachments: the checked attachments, each with its ``format``.
    :param message: the whole plaintext message.
    """

    name: str
    thread_id: str
    connection_id: str | None
    body: JSONObject
    attachments: tuple[JSONObject, ...]
    message: JSONObject


#: Issuer: the attachments of ``issue-credential`` for a ``request-credential``.
IssueCallback = Callable[[CredentialMessage, ProtocolRecord], Awaitable[list[JSONObject]]]
#: Holder: keep the issued credential attachments (encrypted, in the wallet).
StoreCallback = Callable[[CredentialMessage, ProtocolRecord], Awaitable[None]]
#: Holder: the ``request-credential`` attachments for an offer, or ``None`` to decide later.
OfferCallback = Callable[[CredentialMessage, ProtocolRecord], Awaitable[list[JSONObject] | None]]


def parse_issuance_message(message: Any, *, connection_id: str | None = None) -> CredentialMessage:
    """Check an issue-credential 3.x message strictly.

    :raises InvalidInputError: ``reason=malformedMessage``/``malformedAttachment``: a header,
        body member or attachment has the wrong shape, or a message that must carry attachments
        (offer, request, issue) has none.
    :raises ProtocolStateError: ``reason=unsupportedMessageType`` for another message type.
    """
    checked, name = expect_type(message, _PIURI, *ISSUE_CREDENTIAL_MESSAGES)
    body = checked["body"]
    for key in ("goal_code", "comment", "replacement_id"):
        body_str(body, key)
    body_object(body, "credential_preview")
    if name == "ack":
        status = body.get("status", "OK")
        if status not in _ACK_STATUSES:
            raise malformed("an ack 'status' is OK, PENDING or FAIL", member="status")
        if not checked.get("thid"):
            raise malformed("an ack must name its thread in 'thid'", header="thid")
    if name == "issue-credential" and not checked.get("thid"):
        # A request may start a thread; an issue never does.
        raise malformed("issue-credential must name its thread in 'thid'", header="thid")
    attachments = attachments_of(
        checked,
        required=name in ("offer-credential", "request-credential", "issue-credential"),
        protocol="issue-credential 3.0",
    )
    return CredentialMessage(
        name=name,
        thread_id=thread_id(checked),
        connection_id=connection_id,
        body=dict(body),
        attachments=tuple(attachments),
        message=checked,
    )


#: ``_build(name, body, attachments, *, clock, thid, ...)``: a message of this protocol, checked.
_build: Final = partial(_flow.build, _PIURI, parse_issuance_message)


def build_propose_credential(
    attachments: Iterable[JSONObject] = (),
    *,
    clock: Clock,
    credential_preview: JSONObject | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``propose-credential`` message (holder to issuer)."""
    body = body_without_none(
        goal_code=goal_code, comment=comment, credential_preview=credential_preview
    )
    return _build(
        "propose-credential", body, attachments, clock=clock, thid=thid, pthid=pthid,
        from_=from_, to=to,
    )  # fmt: skip


def build_offer_credential(
    attachments: Iterable[JSONObject],
    *,
    clock: Clock,
    credential_preview: JSONObject | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    replacement_id: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """An ``offer-credential`` message (issuer to holder)."""
    body = body_without_none(
        goal_code=goal_code,
        comment=comment,
        replacement_id=replacement_id,
        credential_preview=credential_preview,
    )
    return _build(
        "offer-credential", body, attachments, clock=clock, thid=thid, pthid=pthid,
        from_=from_, to=to,
    )  # fmt: skip


def build_request_credential(
    attachments: Iterable[JSONObject],
    *,
    clock: Clock,
    comment: str | None = None,
    goal_code: str | None = None,
    thid: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``request-credential`` message (holder to issuer)."""
    body = body_without_none(goal_code=goal_code, comment=comment)
    return _build(
        "request-credential", body, attachments, clock=clock, thid=thid, pthid=pthid,
        from_=from_, to=to,
    )  # fmt: skip


def build_issue_credential(
    attachments: Iterable[JSONObject],
    *,
    clock: Clock,
    thid: str,
    comment: str | None = None,
    replacement_id: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """An ``issue-credential`` message (issuer to holder) on thread ``thid``."""
    body = body_without_none(comment=comment, replacement_id=replacement_id)
    return _build("issue-credential", body, attachments, clock=clock, thid=thid, from_=from_, to=to)


def build_credential_ack(
    *,
    clock: Clock,
    thid: str,
    status: str = "OK",
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """The protocol's ``ack`` (holder to issuer) with ``status`` OK, PENDING or FAIL."""
    return _build("ack", {"status": status}, None, clock=clock, thid=thid, from_=from_, to=to)


# Sending side: each function records the new state, then returns the message to send.


async def offer_credential(
    repository: RecordRepository,
    attachments: Iterable[JSONObject],
    *,
    connection_id: str | None,
    thread_id: str | None = None,
    credential_preview: JSONObject | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Issuer: offer a credential, on a new thread or in answer to a proposal (``thread_id``).

    :raises ProtocolStateError: the thread is not in a state from which an offer may be sent.
    """
    attached = list(attachments)
    offer = build_offer_credential(
        attached,
        clock=repository.clock,
        credential_preview=credential_preview,
        comment=comment,
        goal_code=goal_code,
        thid=thread_id,
        pthid=pthid,
        from_=from_,
        to=to,
    )
    data = {"offer": _flow.summary(offer), "offer_attachments": attached}
    await _flow.send(repository, ISSUER, offer, _S.OFFER_SENT, connection_id, data)
    return offer


async def propose_credential(
    repository: RecordRepository,
    attachments: Iterable[JSONObject] = (),
    *,
    connection_id: str | None,
    thread_id: str | None = None,
    credential_preview: JSONObject | None = None,
    comment: str | None = None,
    goal_code: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Holder: propose what to receive, on a new thread or as a counter-proposal to an offer."""
    proposal = build_propose_credential(
        attachments,
        clock=repository.clock,
        credential_preview=credential_preview,
        comment=comment,
        goal_code=goal_code,
        thid=thread_id,
        pthid=pthid,
        from_=from_,
        to=to,
    )
    await _flow.send(
        repository,
        HOLDER,
        proposal,
        _S.PROPOSAL_SENT,
        connection_id,
        {"proposal": _flow.summary(proposal)},
    )
    return proposal


async def request_credential(
    repository: RecordRepository,
    attachments: Iterable[JSONObject],
    *,
    connection_id: str | None,
    thread_id: str | None = None,
    comment: str | None = None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Holder: request the credential, answering an offer (``thread_id``) or starting a thread.

    :raises ProtocolStateError: the thread is not in ``offer-received`` (or unknown when given).
    """
    request = build_request_credential(
        attachments,
        clock=repository.clock,
        comment=comment,
        thid=thread_id,
        pthid=pthid,
        from_=from_,
        to=to,
    )
    await _flow.send(
        repository,
        HOLDER,
        request,
        _S.REQUEST_SENT,
        connection_id,
        {"request": _flow.summary(request)},
    )
    return request


async def issue_credential(
    repository: RecordRepository,
    thread_id: str,
    attachments: Iterable[JSONObject],
    *,
    comment: str | None = None,
    replacement_id: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """Issuer: send the credential for a thread in ``request-received``.

    :raises ProtocolStateError: the thread is unknown or not in ``request-received``.
    """
    message = build_issue_credential(
        attachments,
        clock=repository.clock,
        thid=thread_id,
        comment=comment,
        replacement_id=replacement_id,
        from_=from_,
        to=to,
    )
    await repository.transition(
        ISSUE_CREDENTIAL,
        thread_id,
        _S.CREDENTIAL_ISSUED,
        expect_state=_S.REQUEST_RECEIVED,
        update_data={"issued": _flow.summary(message)},
        message_id=message["id"],
    )
    return message


# Receiving side.


async def handle_issuance(
    message: Any,
    *,
    role: IssuanceRole | str,
    repository: RecordRepository,
    connection_id: str | None,
    issue: IssueCallback | None = None,
    store: StoreCallback | None = None,
    on_offer: OfferCallback | None = None,
) -> list[JSONObject]:
    """Process one incoming issue-credential message; returns the messages to send back.

    Issuer: ``propose-credential`` records ``proposal-received`` (answer with
    :func:`offer_credential`); ``request-credential`` records ``request-received`` and, when
    ``issue`` is given, issues at once (else call :func:`issue_credential` later, e.g. after a
    person approved); ``ack`` finishes the thread.
    Holder: ``offer-credential`` records ``offer-received`` and, when ``on_offer`` returns
    request attachments, requests at once; ``issue-credential`` records ``credential-received``,
    calls ``store`` (required) and answers with an ``ack``, ending in ``done``.

    A redelivered message (same ``id``) returns ``[]`` and changes nothing.

    :raises InvalidInputError: the message is malformed.
    :raises ProtocolStateError: the message is out of order for the thread's state (nothing is
        stored then), belongs to another connection, has expired, or is not one this role
        receives.
    """
    parsed = parse_issuance_message(message, connection_id=connection_id)
    check_not_expired(parsed.message, repository.clock)
    role = IssuanceRole(role)
    receives = _ISSUER_RECEIVES if role is IssuanceRole.ISSUER else _HOLDER_RECEIVES
    if parsed.name not in receives:
        raise ProtocolStateError(
            f"an {role} does not receive {parsed.name!r} in issue-credential",
            details={
                "reason": "unexpectedMessage",
                "problem_code": "e.p.msg.unexpected",
                "thread_id": parsed.thread_id,
            },
        )
    if role is IssuanceRole.ISSUER:
        return await _issuer_receives(parsed, repository, connection_id, issue)
    return await _holder_receives(parsed, repository, connection_id, store, on_offer)


_ISSUER_RECEIVES: Final = frozenset({"propose-credential", "request-credential", "ack"})
_HOLDER_RECEIVES: Final = frozenset({"offer-credential", "issue-credential"})


async def _issuer_receives(
    parsed: CredentialMessage,
    repository: RecordRepository,
    connection_id: str | None,
    issue: IssueCallback | None,
) -> list[JSONObject]:
    if parsed.name == "propose-credential":
        data = {"proposal": _flow.summary(parsed.message), "proposal_body": parsed.body}
        await _flow.receive(
            repository, ISSUER, parsed.message, _S.PROPOSAL_RECEIVED,
            connection_id=connection_id, update_data=data,
        )  # fmt: skip
        return []
    if parsed.name == "request-credential":
        request_data: JSONObject = {
            "request": _flow.summary(parsed.message),
            "request_attachments": list(parsed.attachments),
        }
        record = await _flow.receive(
            repository, ISSUER, parsed.message, _S.REQUEST_RECEIVED,
            connection_id=connection_id, update_data=request_data,
        )  # fmt: skip
        if record is None or issue is None:
            return []
        attachments = await issue(parsed, record)
        credential = await issue_credential(
            repository, record.thread_id, attachments, **reply_addressing(parsed.message)
        )
        return [credential]
    # ack
    status = parsed.body.get("status", "OK")
    if status == "PENDING":
        return []
    to_state = _S.DONE if status == "OK" else _S.ABANDONED
    await _flow.receive(
        repository, ISSUER, parsed.message, to_state,
        connection_id=connection_id, update_data={"ack": status},
    )  # fmt: skip
    return []


async def _holder_receives(
    parsed: CredentialMessage,
    repository: RecordRepository,
    connection_id: str | None,
    store: StoreCallback | None,
    on_offer: OfferCallback | None,
) -> list[JSONObject]:
    addressing = reply_addressing(parsed.message)
    if parsed.name == "offer-credential":
        data = {
            "offer": _flow.summary(parsed.message),
            "offer_body": parsed.body,
            "offer_attachments": list(parsed.attachments),
        }
        record = await _flow.receive(
            repository, HOLDER, parsed.message, _S.OFFER_RECEIVED,
            connection_id=connection_id, update_data=data,
        )  # fmt: skip
        if record is None or on_offer is None:
            return []
        attachments = await on_offer(parsed, record)
        if attachments is None:
            return []
        request = await request_credential(
            repository,
            attachments,
            connection_id=connection_id,
            thread_id=record.thread_id,
            **addressing,
        )
        return [request]
    # issue-credential
    if store is None:
        raise ProtocolStateError(
            "a holder needs a store callback to accept issue-credential",
            details={"reason": "noStoreCallback", "problem_code": "e.p.me"},
        )
    record = await _flow.receive(
        repository, HOLDER, parsed.message, _S.CREDENTIAL_RECEIVED,
        connection_id=connection_id, update_data={"issued": _flow.summary(parsed.message)},
    )  # fmt: skip
    if record is None:
        return []
    await store(parsed, record)
    ack = build_credential_ack(clock=repository.clock, thid=record.thread_id, **addressing)
    await repository.transition(
        ISSUE_CREDENTIAL,
        record.thread_id,
        _S.DONE,
        expect_state=_S.CREDENTIAL_RECEIVED,
        message_id=ack["id"],
    )
    return [ack]
