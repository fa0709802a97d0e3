"""Protocol records, their state machines, and the one guard that moves a record between states.

Why this shape (STYLE.md item 8): each protocol module declares its states as a ``StrEnum`` with
the names its spec uses, and per role a ``TRANSITIONS: dict[State, frozenset[State]]`` table. A
:class:`StateMachine` wraps one role's table. :func:`advance` is the only code that produces a
record in a new state; it raises :class:`~agent.errors.ProtocolStateError` naming the current and
the allowed states. Records are frozen, so nothing else can assign ``.state`` (the anti-pattern is
acapy's scattered ``record.state = ...``; the model is credo-ts ``assertState``).

Persistence: a :class:`RecordRepository` keeps records in an askar store (category
``protocol_record``, one record per protocol and thread). :meth:`RecordRepository.transition`
reads the record with ``for_update=True`` and writes it back in **one** transaction, so two
handlers, or two replicas on one PostgreSQL, cannot both advance the same record: the second one
sees the state the first one wrote and is refused by :func:`advance`. Because everything lives in
the store, reopening it after a restart resumes every thread exactly where it was.

Redelivery: each record keeps the ids of the last :data:`MAX_PROCESSED_IDS` messages that moved
it. A transition or creation carrying a ``message_id`` already in that list raises
``ProtocolStateError`` with ``details["reason"] == "duplicateMessage"`` before anything is written;
handlers turn it into "no new effect" (an empty list of outgoing messages). We chose per-record
ids over a caller-side idempotency layer because the check must happen inside the same locked
transaction as the state change to be correct under concurrent redelivery.

One store holds one side of a thread: records are keyed by protocol and thread id only. An agent
talking to itself needs two stores (or two profiles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, TypeVar

from agent.clock import Clock, utcnow
from agent.errors import ErrorCode, ProtocolStateError, StorageError
from agent.storage import Record, Store
from agent.types import JSONObject

__all__ = [
    "ABANDONED",
    "DONE",
    "DUPLICATE_MESSAGE",
    "MAX_PROCESSED_IDS",
    "RECORD_CATEGORY",
    "ProtocolRecord",
    "RecordRepository",
    "StateMachine",
    "advance",
    "is_duplicate",
]

#: The askar record category protocol records are kept in.
RECORD_CATEGORY: Final = "protocol_record"
#: How many message ids a record remembers for redelivery detection.
MAX_PROCESSED_IDS: Final = 32
#: ``details["reason"]`` of the error raised for a message that was processed already.
DUPLICATE_MESSAGE: Final = "duplicateMessage"
#: Terminal state names shared by every protocol here (present-proof 3.0 names them so).
DONE: Final = "done"
ABANDONED: Final = "abandoned"

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class StateMachine:
    """One role's state machine in one protocol.

    :param protocol: the Protocol Identifier URI we implement, e.g.
        ``https://didcomm.org/issue-credential/3.0``; records are stored under it.
    :param role: the role's name from the spec (``issuer``, ``holder``, ``verifier``, ...).
    :param initial: the states a new record may start in.
    :param transitions: for each state, the states it may move to; terminal states map to
        the empty set.
    """

    protocol: str
    role: str
    initial: frozenset[str]
    transitions: Mapping[str, frozenset[str]]

    @classmethod
    def of(
        cls,
        protocol: str,
        role: str,
        transitions: Mapping[S, frozenset[S]],
        *,
        initial: Iterable[S],
    ) -> StateMachine:
        """A machine from a typed ``TRANSITIONS`` table (states are kept by their string value)."""
        table = {
            str(state): frozenset(str(n) for n in nexts) for state, nexts in transitions.items()
        }
        start = frozenset(str(state) for state in initial)
        unknown = start.union(*table.values()) - set(table)
        if unknown:
            raise ValueError(
                f"{protocol} {role}: states {sorted(unknown)} are reachable but have no row in the "
                "transition table; add them (terminal states map to frozenset())"
            )
        return cls(protocol, role, start, table)

    def allowed(self, state: str) -> frozenset[str]:
        """The states ``state`` may move to."""
        return self.transitions.get(state, frozenset())

    def is_terminal(self, state: str) -> bool:
        return not self.allowed(state)


@dataclass(frozen=True, slots=True)
class ProtocolRecord:
    """The stored state of one protocol thread, as seen by one party.

    :param protocol: the Protocol Identifier URI (see :attr:`StateMachine.protocol`).
    :param role: this party's role.
    :param thread_id: the DIDComm ``thid`` of the thread.
    :param state: the current state; change it only with :func:`advance`.
    :param connection_id: the connection (pairwise relationship) the thread runs on, if any.
    :param data: protocol data kept between messages (offers, requests, attachment summaries).
        Treat it as read-only; pass ``update_data`` to :meth:`RecordRepository.transition`.
    :param created: when the record was created.
    :param updated: when it last changed.
    :param version: incremented by each transition, for optimistic checks.
    :param processed: ids of the last messages that changed the record (redelivery detection).
    """

    protocol: str
    role: str
    thread_id: str
    state: str
    connection_id: str | None
    data: JSONObject
    created: datetime
    updated: datetime
    version: int = 1
    processed: tuple[str, ...] = field(default=())

    def to_json(self) -> JSONObject:
        return {
            "protocol": self.protocol,
            "role": self.role,
            "thread_id": self.thread_id,
            "state": self.state,
            "connection_id": self.connection_id,
            "data": self.data,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "version": self.version,
            "processed": list(self.processed),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ProtocolRecord:
        return cls(
            protocol=str(value["protocol"]),
            role=str(value["role"]),
            thread_id=str(value["thread_id"]),
            state=str(value["state"]),
            connection_id=value.get("connection_id"),
            data=dict(value.get("data") or {}),
            created=datetime.fromisoformat(value["created"]),
            updated=datetime.fromisoformat(value["updated"]),
            version=int(value["version"]),
            processed=tuple(str(x) for x in value.get("processed") or ()),
        )


def _remember(processed: tuple[str, ...], message_id: str | None) -> tuple[str, ...]:
    if message_id is None:
        return processed
    return (*processed, message_id)[-MAX_PROCESSED_IDS:]


def advance(
    machine: StateMachine,
    record: ProtocolRecord,
    to: str,
    *,
    now: datetime,
    data: JSONObject | None = None,
    message_id: str | None = None,
) -> ProtocolRecord:
    """``record`` moved to state ``to``: the only way a record changes state.

    :param data: the record's new data (``None`` keeps it).
    :param message_id: the id of the message that caused the move, remembered for redelivery.
    :raises ProtocolStateError: ``reason=illegalTransition`` (problem code
        ``e.p.msg.unexpected``) when ``machine`` does not allow ``record.state -> to``; the
        message names the current and the allowed states. ``reason=wrongMachine`` when the
        machine is for another protocol or role.
    """
    if (machine.protocol, machine.role) != (record.protocol, record.role):
        raise ProtocolStateError(
            f"the {machine.protocol} {machine.role} state machine cannot move a "
            f"{record.protocol} {record.role} record",
            details={"reason": "wrongMachine", "thread_id": record.thread_id},
        )
    allowed = machine.allowed(record.state)
    if to not in allowed:
        allowed_text = ", ".join(sorted(allowed)) if allowed else "none (it is terminal)"
        raise ProtocolStateError(
            f"{_short(machine.protocol)} {machine.role}: thread {record.thread_id!r} is in state "
            f"{record.state!r} and cannot move to {to!r}; allowed from {record.state!r}: "
            f"{allowed_text}",
            details={
                "reason": "illegalTransition",
                "problem_code": "e.p.msg.unexpected",
                "protocol": machine.protocol,
                "role": machine.role,
                "thread_id": record.thread_id,
                "state": record.state,
                "to": to,
                "allowed": sorted(allowed),
            },
        )
    return replace(
        record,
        state=to,
        data=record.data if data is None else data,
        updated=now,
        version=record.version + 1,
        processed=_remember(record.processed, message_id),
    )


def is_duplicate(error: BaseException) -> bool:
    """Whether ``error`` reports a message that was processed already (no new effect due)."""
    return (
        isinstance(error, ProtocolStateError) and error.details.get("reason") == DUPLICATE_MESSAGE
    )


def _short(protocol: str) -> str:
    return protocol.rstrip("/").rsplit("/", 2)[-2] + "/" + protocol.rstrip("/").rsplit("/", 1)[-1]


def _duplicate(record: ProtocolRecord, message_id: str) -> ProtocolStateError:
    return ProtocolStateError(
        f"message {message_id!r} was already processed on thread {record.thread_id!r}; "
        "a redelivery has no new effect",
        details={
            "reason": DUPLICATE_MESSAGE,
            "thread_id": record.thread_id,
            "message_id": message_id,
            "state": record.state,
        },
    )


class RecordRepository:
    """Protocol records in an askar store, changed only through :func:`advance`.

    :param store: an open store; records go into category :data:`RECORD_CATEGORY`.
    :param machines: the state machines records may follow; by default every machine this
        package defines (issue-credential, present-proof, notification).
    :param clock: the time source for ``created``/``updated``.
    """

    def __init__(
        self,
        store: Store,
        machines: Iterable[StateMachine] | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._store = store
        self._clock = clock
        # None: the built-in machines, looked up on first use. Their modules import this one,
        # and a service that runs none of those protocols (the vault) never loads them.
        self._machines: dict[tuple[str, str], StateMachine] | None = (
            None
            if machines is None
            else {(machine.protocol, machine.role): machine for machine in machines}
        )

    @property
    def clock(self) -> Clock:
        return self._clock

    def _machines_by_key(self) -> dict[tuple[str, str], StateMachine]:
        if self._machines is None:
            from agent.protocols._machines import builtin_machines

            self._machines = {(m.protocol, m.role): m for m in builtin_machines()}
        return self._machines

    def machine(self, protocol: str, role: str) -> StateMachine:
        """The state machine of ``role`` in ``protocol``.

        :raises ProtocolStateError: ``reason=unknownRole`` when none was registered.
        """
        try:
            return self._machines_by_key()[(protocol, role)]
        except KeyError:
            raise ProtocolStateError(
                f"no state machine for role {role!r} of {protocol}; pass it to RecordRepository",
                details={"reason": "unknownRole", "protocol": protocol, "role": role},
            ) from None

    async def create(
        self,
        protocol: str,
        role: str,
        thread_id: str,
        state: str,
        *,
        connection_id: str | None = None,
        data: JSONObject | None = None,
        message_id: str | None = None,
    ) -> ProtocolRecord:
        """Store a new record for ``thread_id`` in one of its machine's initial states.

        :raises ProtocolStateError: ``reason=illegalTransition`` when ``state`` is not an
            initial state; ``reason=duplicateMessage`` when the thread exists and ``message_id``
            already created or moved it; ``reason=threadExists`` (problem code
            ``e.p.msg.unexpected``) when the thread exists otherwise, naming its state.
        """
        machine = self.machine(protocol, role)
        if state not in machine.initial:
            raise ProtocolStateError(
                f"{_short(protocol)} {role}: a thread cannot start in state {state!r}; it starts "
                f"in one of: {', '.join(sorted(machine.initial))}",
                details={
                    "reason": "illegalTransition",
                    "problem_code": "e.p.msg.unexpected",
                    "protocol": protocol,
                    "role": role,
                    "thread_id": thread_id,
                    "state": None,
                    "to": state,
                    "allowed": sorted(machine.initial),
                },
            )
        now = self._clock()
        record = ProtocolRecord(
            protocol=protocol,
            role=role,
            thread_id=thread_id,
            state=state,
            connection_id=connection_id,
            data=dict(data or {}),
            created=now,
            updated=now,
            version=1,
            processed=_remember((), message_id),
        )
        try:
            async with self._store.session() as session:
                await session.insert(
                    RECORD_CATEGORY, _name(protocol, thread_id), record.to_json(), _tags(record)
                )
        except StorageError as exc:
            if exc.code is not ErrorCode.STORE_DUPLICATE:
                raise
            existing = await self.get(protocol, thread_id)
            if existing is None:  # Removed in between: report the original failure.
                raise
            if message_id is not None and message_id in existing.processed:
                raise _duplicate(existing, message_id) from None
            raise ProtocolStateError(
                f"{_short(protocol)}: thread {thread_id!r} exists already, in state "
                f"{existing.state!r}; a message starting it again is out of order",
                details={
                    "reason": "threadExists",
                    "problem_code": "e.p.msg.unexpected",
                    "thread_id": thread_id,
                    "state": existing.state,
                },
            ) from None
        return record

    async def get(self, protocol: str, thread_id: str) -> ProtocolRecord | None:
        """The record of ``thread_id`` in ``protocol``, or ``None``."""
        async with self._store.session() as session:
            row = await session.fetch(RECORD_CATEGORY, _name(protocol, thread_id))
        return None if row is None else _decode(row)

    async def find(
        self,
        protocol: str | None = None,
        *,
        state: str | None = None,
        connection_id: str | None = None,
        role: str | None = None,
        thread_id: str | None = None,
    ) -> list[ProtocolRecord]:
        """The records matching every filter given, oldest first."""
        query = {
            key: value
            for key, value in (
                ("protocol", protocol),
                ("state", state),
                ("connection_id", connection_id),
                ("role", role),
                ("thread_id", thread_id),
            )
            if value is not None
        }
        async with self._store.session() as session:
            rows = await session.fetch_all(RECORD_CATEGORY, query or None, order_by="id")
        return [_decode(row) for row in rows]

    async def transition(
        self,
        protocol: str,
        thread_id: str,
        to_state: str,
        *,
        update_data: Mapping[str, Any] | None = None,
        expect_state: str | Iterable[str] | None = None,
        expect_version: int | None = None,
        message_id: str | None = None,
    ) -> ProtocolRecord:
        """Move the record of ``thread_id`` to ``to_state`` in one locked transaction.

        The record is read with ``for_update=True``, checked, advanced and written back before
        commit; a concurrent transition of the same record waits and then sees the new state.

        :param update_data: merged (top-level keys) into the record's data.
        :param expect_state: refuse unless the record is in this state (or one of these).
        :param expect_version: refuse unless the record has this version (optimistic check).
        :param message_id: the message causing the move; refused when already processed.
        :raises ProtocolStateError: ``reason=unknownThread`` (no record), ``duplicateMessage``,
            ``unexpectedState``, ``versionConflict`` or ``illegalTransition``; nothing is written.
        """
        name = _name(protocol, thread_id)
        async with self._store.transaction() as txn:
            row = await txn.fetch(RECORD_CATEGORY, name, for_update=True)
            if row is None:
                raise ProtocolStateError(
                    f"{_short(protocol)}: no thread {thread_id!r} here; the message belongs to a "
                    "thread this agent never started or joined",
                    details={
                        "reason": "unknownThread",
                        "problem_code": "e.p.msg.unexpected",
                        "thread_id": thread_id,
                    },
                )
            record = _decode(row)
            if message_id is not None and message_id in record.processed:
                raise _duplicate(record, message_id)
            _check_expectations(record, expect_state, expect_version)
            data = record.data if update_data is None else {**record.data, **update_data}
            moved = advance(
                self.machine(record.protocol, record.role),
                record,
                to_state,
                now=self._clock(),
                data=data,
                message_id=message_id,
            )
            await txn.replace(RECORD_CATEGORY, name, moved.to_json(), _tags(moved))
            await txn.commit()
        return moved


def _check_expectations(
    record: ProtocolRecord,
    expect_state: str | Iterable[str] | None,
    expect_version: int | None,
) -> None:
    if expect_state is not None:
        expected = {expect_state} if isinstance(expect_state, str) else set(expect_state)
        if record.state not in expected:
            raise ProtocolStateError(
                f"{_short(record.protocol)} {record.role}: thread {record.thread_id!r} is in state "
                f"{record.state!r}, expected {' or '.join(repr(s) for s in sorted(expected))}",
                details={
                    "reason": "unexpectedState",
                    "problem_code": "e.p.msg.unexpected",
                    "thread_id": record.thread_id,
                    "state": record.state,
                    "allowed": sorted(expected),
                },
            )
    if expect_version is not None and record.version != expect_version:
        raise ProtocolStateError(
            f"thread {record.thread_id!r} changed meanwhile (version {record.version}, expected "
            f"{expect_version}); reload it and decide again",
            details={
                "reason": "versionConflict",
                "thread_id": record.thread_id,
                "version": record.version,
            },
        )


def _name(protocol: str, thread_id: str) -> str:
    return f"{protocol} {thread_id}"


def _tags(record: ProtocolRecord) -> dict[str, str]:
    tags = {
        "protocol": record.protocol,
        "role": record.role,
        "thread_id": record.thread_id,
        "state": record.state,
    }
    if record.connection_id is not None:
        tags["connection_id"] = record.connection_id
    return tags


def _decode(row: Record) -> ProtocolRecord:
    return ProtocolRecord.from_json(row.json())
