"""Present Proof 3.0 between a verifier (alice) and a prover (bob), each on its own store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.errors import InvalidInputError, ProtocolStateError
from agent.protocols import (
    FORMAT_PEX_DEFINITION,
    FORMAT_PEX_SUBMISSION,
    MEDIA_TYPE_JSON,
    PRESENT_PROOF,
    PresentationMessage,
    ProtocolRecord,
    attachment_json,
    attachment_json_data,
    handle_presentation,
    handle_problem_report,
    parse_problem_report,
    propose_presentation,
    request_presentation,
    send_presentation,
)
from tests.protocols._helpers import Party

AT_VERIFIER = "conn-prover"
AT_PROVER = "conn-verifier"
QUERY = attachment_json(
    "query-0",
    MEDIA_TYPE_JSON,
    FORMAT_PEX_DEFINITION,
    {
        "options": {"challenge": "3fa85f64-5717-4562-b3fc-2c963f66afa7", "domain": "er.example"},
        "presentation_definition": {"id": "emergency", "input_descriptors": []},
    },
)
SUBMISSION = attachment_json(
    "vp-0", MEDIA_TYPE_JSON, FORMAT_PEX_SUBMISSION, {"type": ["VerifiablePresentation"]}
)


class Prover:
    def __init__(self, *, consent: bool = True) -> None:
        self.consent = consent
        self.requests: list[Any] = []

    async def __call__(self, request: PresentationMessage, record: ProtocolRecord) -> Any:
        self.requests.append(attachment_json_data(request.attachments[0]))
        return [SUBMISSION] if self.consent else None


class Verifier:
    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.calls = 0

    async def __call__(self, presentation: PresentationMessage, record: ProtocolRecord) -> bool:
        self.calls += 1
        assert record.data["request_attachments"] == [QUERY]
        return self.accept


async def as_verifier(party: Party, message: Any, verifier: Verifier | None = None) -> list[Any]:
    return await handle_presentation(
        message,
        role="verifier",
        repository=party.repository,
        connection_id=AT_VERIFIER,
        verify=verifier,
    )


async def as_prover(party: Party, message: Any, prover: Prover | None = None) -> list[Any]:
    return await handle_presentation(
        message, role="prover", repository=party.repository, connection_id=AT_PROVER, present=prover
    )


async def state(party: Party, thread_id: str) -> str | None:
    record = await party.repository.get(PRESENT_PROOF, thread_id)
    return None if record is None else record.state


async def request(alice: Party, *, will_confirm: bool) -> dict[str, Any]:
    return await request_presentation(
        alice.repository, [QUERY], connection_id=AT_VERIFIER, will_confirm=will_confirm
    )


async def test_request_presentation_ack_with_will_confirm(alice: Party, bob: Party) -> None:
    prover, verifier = Prover(), Verifier()
    req = await request(alice, will_confirm=True)
    thid = req["id"]
    assert req["type"] == "https://didcomm.org/present-proof/3.0/request-presentation"
    assert req["body"]["will_confirm"] is True
    [presentation] = await as_prover(bob, req, prover)
    assert prover.requests[0]["options"]["domain"] == "er.example"
    assert await state(bob, thid) == "presentation-sent"
    [ack] = await as_verifier(alice, presentation, verifier)
    assert ack["type"] == "https://didcomm.org/present-proof/3.0/ack"
    assert await state(alice, thid) == "done"
    assert await as_prover(bob, ack) == []
    assert await state(bob, thid) == "done"


async def test_without_will_confirm_nobody_acks(alice: Party, bob: Party) -> None:
    req = await request(alice, will_confirm=False)
    [presentation] = await as_prover(bob, req, Prover())
    assert await state(bob, req["id"]) == "done"
    assert await as_verifier(alice, presentation, Verifier()) == []
    assert await state(alice, req["id"]) == "done"


async def test_prover_waits_for_consent_then_presents(alice: Party, bob: Party) -> None:
    req = await request(alice, will_confirm=True)
    assert await as_prover(bob, req, Prover(consent=False)) == []
    assert await state(bob, req["id"]) == "request-received"
    presentation = await send_presentation(bob.repository, req["id"], [SUBMISSION])
    [ack] = await as_verifier(alice, presentation, Verifier())
    await as_prover(bob, ack)
    assert (await state(alice, req["id"]), await state(bob, req["id"])) == ("done", "done")


async def test_proposal_path(alice: Party, bob: Party) -> None:
    proposal = await propose_presentation(bob.repository, connection_id=AT_PROVER)
    thid = proposal["id"]
    assert await as_verifier(alice, proposal) == []
    assert await state(alice, thid) == "proposal-received"
    req = await request_presentation(
        alice.repository, [QUERY], connection_id=AT_VERIFIER, thread_id=thid
    )
    [presentation] = await as_prover(bob, req, Prover())
    await as_verifier(alice, presentation, Verifier())
    assert (await state(alice, thid), await state(bob, thid)) == ("done", "done")


async def test_rejected_presentation_abandons_both_with_a_problem_report(
    alice: Party, bob: Party
) -> None:
    req = await request(alice, will_confirm=True)
    [presentation] = await as_prover(bob, req, Prover())
    [problem] = await as_verifier(alice, presentation, Verifier(accept=False))
    report = parse_problem_report(problem)
    assert (report.code, report.pthid) == ("e.p.msg.presentation-rejected", req["id"])
    assert await state(alice, req["id"]) == "abandoned"
    await handle_problem_report(problem, repository=bob.repository, connection_id=AT_PROVER)
    assert await state(bob, req["id"]) == "abandoned"


async def test_presentation_without_request_is_refused(alice: Party, bob: Party) -> None:
    req = await request(alice, will_confirm=True)
    [presentation] = await as_prover(bob, req, Prover())
    await as_verifier(alice, presentation, Verifier())
    before = await alice.repository.get(PRESENT_PROOF, req["id"])
    with pytest.raises(ProtocolStateError) as caught:
        await as_verifier(alice, {**presentation, "id": "second"}, Verifier())
    assert "'done'" in caught.value.message
    assert await alice.repository.get(PRESENT_PROOF, req["id"]) == before
    with pytest.raises(ProtocolStateError) as caught:
        await as_verifier(alice, {**presentation, "id": "third", "thid": "nope"}, Verifier())
    assert caught.value.details["reason"] == "unknownThread"


async def test_ack_before_presentation_is_refused(alice: Party, bob: Party) -> None:
    req = await request(alice, will_confirm=True)
    await as_prover(bob, req, Prover(consent=False))
    ack = {"id": "a", "type": f"{PRESENT_PROOF}/ack", "thid": req["id"], "body": {}}
    with pytest.raises(ProtocolStateError) as caught:
        await as_prover(bob, ack)
    assert "'request-received'" in caught.value.message
    assert "abandoned, presentation-sent, proposal-sent" in caught.value.message
    assert await state(bob, req["id"]) == "request-received"


async def test_restart_then_continue(alice: Party, bob: Party) -> None:
    req = await request(alice, will_confirm=True)
    await as_prover(bob, req, Prover(consent=False))
    await bob.restart()
    await alice.restart()
    presentation = await send_presentation(bob.repository, req["id"], [SUBMISSION])
    [ack] = await as_verifier(alice, presentation, Verifier())
    await as_prover(bob, ack)
    assert await state(bob, req["id"]) == "done"


async def test_concurrent_and_redelivered_presentations_verify_once(
    alice: Party, bob: Party
) -> None:
    verifier = Verifier()
    req = await request(alice, will_confirm=True)
    [presentation] = await as_prover(bob, req, Prover())
    results = await asyncio.gather(
        as_verifier(alice, presentation, verifier), as_verifier(alice, presentation, verifier)
    )
    assert sorted(len(r) for r in results) == [0, 1]
    assert await as_verifier(alice, presentation, verifier) == []
    assert verifier.calls == 1
    assert await as_prover(bob, req, Prover()) == []


@pytest.mark.parametrize(
    "change",
    [{"attachments": []}, {"body": {"will_confirm": "yes"}}, {"type": f"{PRESENT_PROOF}/nope"}],
    ids=["no-query", "will-confirm-not-bool", "unknown-name"],
)
async def test_malformed_requests_are_refused(
    alice: Party, bob: Party, change: dict[str, Any]
) -> None:
    req = {**(await request(alice, will_confirm=False)), **change}
    with pytest.raises((InvalidInputError, ProtocolStateError)):
        await as_prover(bob, req, Prover())
    assert await bob.repository.find() == []
