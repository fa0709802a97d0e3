"""Steps every stateful protocol shares (private): build a checked message, record a message
sent or received, summarise it for the record, abandon."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent.clock import Clock
from agent.errors import ProtocolStateError
from agent.protocols._messages import Piuri, new_message, thread_id
from agent.protocols.base import (
    ABANDONED,
    ProtocolRecord,
    RecordRepository,
    StateMachine,
    is_duplicate,
)
from agent.types import JSONObject


def build(
    piuri: Piuri,
    check: Callable[[JSONObject], object],
    name: str,
    body: JSONObject,
    attachments: Iterable[JSONObject] | None,
    *,
    clock: Clock,
    thid: str | None,
    pthid: str | None = None,
    from_: str | None = None,
    to: Iterable[str] | None = None,
) -> JSONObject:
    """A ``name`` message of the protocol ``piuri``, checked by the protocol's parser ``check``
    before it is returned (a builder never hands out a message its own peer would refuse)."""
    message = new_message(
        piuri.message_type(name),
        body,
        clock=clock,
        thid=thid,
        pthid=pthid,
        from_=from_,
        to=to,
        attachments=attachments,
    )
    check(message)
    return message


def summary(message: Mapping[str, Any]) -> JSONObject:
    """What a record keeps of a message: its id and its attachments' ids and formats."""
    return {
        "id": message["id"],
        "attachments": [
            {"id": item.get("id"), "format": item.get("format")}
            for item in message.get("attachments") or ()
        ],
    }


async def send(
    repository: RecordRepository,
    machine: StateMachine,
    message: JSONObject,
    to_state: str,
    connection_id: str | None,
    data: Mapping[str, Any],
) -> ProtocolRecord:
    """Record that ``message`` is sent: a new record when it starts a thread (no ``thid``, or a
    thread not known yet), otherwise a transition of its thread to ``to_state``.

    :raises ProtocolStateError: as :meth:`RecordRepository.create` and ``transition``.
    """
    tid = thread_id(message)
    if message.get("thid") is None or (await repository.get(machine.protocol, tid)) is None:
        return await repository.create(
            machine.protocol,
            machine.role,
            tid,
            to_state,
            connection_id=connection_id,
            data=dict(data),
            message_id=message["id"],
        )
    return await repository.transition(
        machine.protocol, tid, to_state, update_data=data, message_id=message["id"]
    )


async def receive(
    repository: RecordRepository,
    machine: StateMachine,
    message: Mapping[str, Any],
    to_state: str,
    *,
    connection_id: str | None,
    update_data: Mapping[str, Any] | None = None,
) -> ProtocolRecord | None:
    """Record that ``message`` moved its thread to ``to_state``; ``None`` for a redelivery.

    A message on an unknown thread starts a record when ``to_state`` is an initial state of the
    machine; otherwise it is out of order. A message on a thread of another connection is refused
    (a peer cannot advance a thread it is not part of).

    :raises ProtocolStateError: as :meth:`RecordRepository.create` and ``transition``, and
        ``reason=wrongConnection``.
    """
    tid = thread_id(message)
    message_id = str(message["id"])
    existing = await repository.get(machine.protocol, tid)
    try:
        if existing is None and to_state in machine.initial:
            return await repository.create(
                machine.protocol,
                machine.role,
                tid,
                to_state,
                connection_id=connection_id,
                data=dict(update_data or {}),
                message_id=message_id,
            )
        if existing is not None and existing.connection_id != connection_id:
            raise ProtocolStateError(
                f"thread {tid!r} runs on another connection; the message is refused",
                details={
                    "reason": "wrongConnection",
                    "problem_code": "e.p.msg.unexpected",
                    "thread_id": tid,
                },
            )
        return await repository.transition(
            machine.protocol,
            tid,
            to_state,
            update_data=update_data,
            message_id=message_id,
        )
    except ProtocolStateError as exc:
        if is_duplicate(exc):
            return None
        raise


async def abandon(
    repository: RecordRepository,
    record: ProtocolRecord,
    problem: Mapping[str, Any],
    *,
    message_id: str | None = None,
) -> ProtocolRecord | None:
    """Move ``record`` to ``abandoned`` keeping ``problem``; ``None`` when it is terminal or the
    message was processed already."""
    machine = repository.machine(record.protocol, record.role)
    if ABANDONED not in machine.allowed(record.state):
        return None
    try:
        return await repository.transition(
            record.protocol,
            record.thread_id,
            ABANDONED,
            update_data={"problem": dict(problem)},
            message_id=message_id,
        )
    except ProtocolStateError as exc:
        if is_duplicate(exc) or exc.details.get("reason") == "illegalTransition":
            # Already abandoned or finished by a concurrent handler.
            return None
        raise
