"""State machines, the advance guard and the record repository."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from agent.errors import ProtocolStateError
from agent.protocols import (
    HOLDER,
    ISSUE_CREDENTIAL,
    ISSUER,
    NOTIFICATION_RECIPIENT,
    PROVER,
    VERIFIER,
    ProtocolRecord,
    StateMachine,
    advance,
    is_duplicate,
)
from agent.protocols.issuance import IssuanceState
from tests.protocols._helpers import Party

MACHINES = [ISSUER, HOLDER, VERIFIER, PROVER, NOTIFICATION_RECIPIENT]
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _record(machine: StateMachine, state: str) -> ProtocolRecord:
    return ProtocolRecord(
        protocol=machine.protocol,
        role=machine.role,
        thread_id="t-1",
        state=state,
        connection_id="c",
        data={},
        created=NOW,
        updated=NOW,
    )


def _all_moves() -> list[tuple[StateMachine, str, str]]:
    return [
        (machine, state, to)
        for machine in MACHINES
        for state in machine.transitions
        for to in machine.transitions
    ]


@pytest.mark.parametrize(
    ("machine", "state", "to"),
    _all_moves(),
    ids=[f"{m.role}:{s}->{t}" for m, s, t in _all_moves()],
)
def test_advance_allows_exactly_the_table(machine: StateMachine, state: str, to: str) -> None:
    record = _record(machine, state)
    if to in machine.allowed(state):
        moved = advance(machine, record, to, now=NOW, message_id="m")
        assert (moved.state, moved.version, moved.processed) == (to, 2, ("m",))
        assert record.state == state  # The original is untouched.
        return
    with pytest.raises(ProtocolStateError) as caught:
        advance(machine, record, to, now=NOW)
    error = caught.value
    assert error.details["reason"] == "illegalTransition"
    assert (error.details["state"], error.details["to"]) == (state, to)
    assert error.details["allowed"] == sorted(machine.allowed(state))
    assert f"'{state}'" in error.message
    assert f"'{to}'" in error.message
    for allowed in machine.allowed(state):
        assert allowed in error.message


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: f"{m.protocol}:{m.role}")
def test_every_state_reaches_a_terminal_state(machine: StateMachine) -> None:
    terminals = {state for state in machine.transitions if machine.is_terminal(state)}
    for state in machine.transitions:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in machine.allowed(frontier.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & terminals, f"{state} never ends"
    if machine is not NOTIFICATION_RECIPIENT:
        # Abandoning is possible from every open state (a problem-report can arrive any time).
        for state in machine.transitions:
            assert machine.is_terminal(state) or "abandoned" in machine.allowed(state)


def test_advance_refuses_another_protocols_machine() -> None:
    with pytest.raises(ProtocolStateError) as caught:
        advance(VERIFIER, _record(ISSUER, "offer-sent"), "done", now=NOW)
    assert caught.value.details["reason"] == "wrongMachine"


def test_a_table_with_an_unlisted_state_is_refused() -> None:
    with pytest.raises(ValueError, match="no row"):
        StateMachine.of(
            ISSUE_CREDENTIAL,
            "broken",
            {IssuanceState.OFFER_SENT: frozenset({IssuanceState.DONE})},
            initial=(IssuanceState.OFFER_SENT,),
        )


async def test_create_get_find_and_transition(alice: Party) -> None:
    repo = alice.repository
    created = await repo.create(
        ISSUE_CREDENTIAL, "issuer", "t-1", "offer-sent", connection_id="c-1", data={"a": 1}
    )
    await repo.create(ISSUE_CREDENTIAL, "holder", "t-2", "offer-received", connection_id="c-2")
    assert await repo.get(ISSUE_CREDENTIAL, "t-1") == created
    assert await repo.get(ISSUE_CREDENTIAL, "missing") is None
    assert [r.thread_id for r in await repo.find(ISSUE_CREDENTIAL)] == ["t-1", "t-2"]
    assert [r.thread_id for r in await repo.find(ISSUE_CREDENTIAL, connection_id="c-2")] == ["t-2"]
    assert [r.thread_id for r in await repo.find(state="offer-sent")] == ["t-1"]
    alice.clock.advance(5)
    moved = await repo.transition(
        ISSUE_CREDENTIAL, "t-1", "request-received", update_data={"b": 2}, expect_state="offer-sent"
    )
    assert (moved.state, moved.version, moved.data) == ("request-received", 2, {"a": 1, "b": 2})
    assert moved.updated > moved.created
    assert await repo.get(ISSUE_CREDENTIAL, "t-1") == moved
    assert await repo.find(state="offer-sent") == []


async def test_create_refuses_a_non_initial_state_and_an_existing_thread(alice: Party) -> None:
    repo = alice.repository
    with pytest.raises(ProtocolStateError) as caught:
        await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "done")
    assert "offer-sent" in caught.value.message
    await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "offer-sent", message_id="m1")
    with pytest.raises(ProtocolStateError) as caught:
        await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "offer-sent", message_id="m1")
    assert is_duplicate(caught.value)
    with pytest.raises(ProtocolStateError) as caught:
        await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "offer-sent", message_id="m2")
    assert caught.value.details["reason"] == "threadExists"
    with pytest.raises(ProtocolStateError) as caught:
        await repo.create(ISSUE_CREDENTIAL, "auditor", "t2", "offer-sent")
    assert caught.value.details["reason"] == "unknownRole"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"to_state": "done"}, "illegalTransition"),
        ({"to_state": "request-received", "expect_state": "proposal-received"}, "unexpectedState"),
        ({"to_state": "request-received", "expect_version": 7}, "versionConflict"),
        ({"to_state": "request-received", "message_id": "m1"}, "duplicateMessage"),
    ],
)
async def test_refused_transitions_write_nothing(
    alice: Party, kwargs: dict[str, object], reason: str
) -> None:
    repo = alice.repository
    before = await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "offer-sent", message_id="m1")
    with pytest.raises(ProtocolStateError) as caught:
        await repo.transition(ISSUE_CREDENTIAL, "t", **kwargs)  # type: ignore[arg-type]
    assert caught.value.details["reason"] == reason
    assert await repo.get(ISSUE_CREDENTIAL, "t") == before


async def test_transition_of_an_unknown_thread(alice: Party) -> None:
    with pytest.raises(ProtocolStateError) as caught:
        await alice.repository.transition(ISSUE_CREDENTIAL, "nope", "done")
    assert caught.value.details["reason"] == "unknownThread"


async def test_concurrent_transitions_exactly_one_wins(alice: Party) -> None:
    repo = alice.repository
    await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "request-received")
    await repo.transition(ISSUE_CREDENTIAL, "t", "credential-issued")
    results = await asyncio.gather(
        repo.transition(ISSUE_CREDENTIAL, "t", "done"),
        repo.transition(ISSUE_CREDENTIAL, "t", "abandoned"),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, ProtocolRecord)]
    losers = [r for r in results if isinstance(r, ProtocolStateError)]
    assert (len(winners), len(losers)) == (1, 1)
    stored = await repo.get(ISSUE_CREDENTIAL, "t")
    assert stored == winners[0]
    assert stored is not None
    assert stored.version == 3
    assert losers[0].details["state"] == stored.state


async def test_many_concurrent_identical_transitions_one_wins(alice: Party) -> None:
    repo = alice.repository
    await repo.create(ISSUE_CREDENTIAL, "issuer", "t", "offer-sent")
    results = await asyncio.gather(
        *(repo.transition(ISSUE_CREDENTIAL, "t", "request-received") for _ in range(8)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ProtocolRecord) for r in results) == 1


async def test_records_survive_a_restart(alice: Party) -> None:
    created = await alice.repository.create(
        ISSUE_CREDENTIAL, "issuer", "t", "offer-sent", connection_id="c", message_id="m"
    )
    await alice.restart()
    assert await alice.repository.get(ISSUE_CREDENTIAL, "t") == created
    moved = await alice.repository.transition(ISSUE_CREDENTIAL, "t", "request-received")
    assert moved.processed == ("m",)


async def test_processed_ids_are_bounded(alice: Party) -> None:
    repo = alice.repository
    await repo.create(ISSUE_CREDENTIAL, "holder", "t", "request-sent", message_id="m0")
    record = await repo.transition(ISSUE_CREDENTIAL, "t", "offer-received", message_id="m1")
    for index in range(2, 40):
        to = "request-sent" if record.state == "offer-received" else "offer-received"
        record = await repo.transition(ISSUE_CREDENTIAL, "t", to, message_id=f"m{index}")
    assert len(record.processed) == 32
    assert record.processed[-1] == "m39"
