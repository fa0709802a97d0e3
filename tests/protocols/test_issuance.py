"""Issue Credential 3.0 between an issuer (alice) and a holder (bob), each on its own store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.errors import InvalidInputError, ProtocolStateError
from agent.protocols import (
    FORMAT_SD_JWT_VC,
    FORMAT_W3C_VC_DI,
    FORMAT_W3C_VC_DI_OFFER,
    FORMAT_W3C_VC_DI_REQUEST,
    ISSUE_CREDENTIAL,
    MEDIA_TYPE_JSON,
    MEDIA_TYPE_SD_JWT_VC,
    CredentialMessage,
    ProtocolRecord,
    attachment_base64,
    attachment_bytes,
    attachment_json,
    build_issue_credential,
    handle_issuance,
    handle_problem_report,
    issue_credential,
    offer_credential,
    propose_credential,
    report_problem,
    request_credential,
)
from tests.protocols._helpers import Party

ISSUER_DID = "did:example:hospital"
HOLDER_DID = "did:example:citizen"
AT_ISSUER = "conn-citizen"  # The issuer's connection id for the holder.
AT_HOLDER = "conn-hospital"  # The holder's connection id for the issuer.

OFFER = attachment_json(
    "offer-0",
    MEDIA_TYPE_JSON,
    FORMAT_W3C_VC_DI_OFFER,
    {
        "data_model_versions_supported": ["2.0"],
        "credential": {"type": ["VerifiableCredential", "AllergyCredential"]},
    },
)
REQUEST = attachment_json(
    "request-0", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI_REQUEST, {"data_model_version": "2.0"}
)
SD_JWT = "eyJhbGciOiJFZERTQSJ9.eyJ2Y3QiOiJhbGxlcmd5In0.c2ln~WyJzYWx0IiwiYSIsMV0~"


class Issuer:
    """The issuer's injected issue callback, counting its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, request: CredentialMessage, record: ProtocolRecord) -> list[Any]:
        self.calls.append(request.thread_id)
        return [
            attachment_json(
                "cred-0", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {"credential": {"proof": {}}}
            ),
            attachment_base64("cred-1", MEDIA_TYPE_SD_JWT_VC, FORMAT_SD_JWT_VC, SD_JWT),
        ]


class Wallet:
    """The holder's injected callbacks: accept every offer, keep what is issued."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.stored: list[tuple[str, ...]] = []

    async def on_offer(self, offer: CredentialMessage, record: ProtocolRecord) -> list[Any] | None:
        return [REQUEST] if self.accept else None

    async def store(self, issued: CredentialMessage, record: ProtocolRecord) -> None:
        self.stored.append(tuple(str(a["format"]) for a in issued.attachments))


async def as_issuer(party: Party, message: Any, issuer: Issuer | None = None) -> list[Any]:
    return await handle_issuance(
        message,
        role="issuer",
        repository=party.repository,
        connection_id=AT_ISSUER,
        issue=issuer,
    )


async def as_holder(party: Party, message: Any, wallet: Wallet) -> list[Any]:
    return await handle_issuance(
        message,
        role="holder",
        repository=party.repository,
        connection_id=AT_HOLDER,
        store=wallet.store,
        on_offer=wallet.on_offer,
    )


async def state(party: Party, thread_id: str) -> str | None:
    record = await party.repository.get(ISSUE_CREDENTIAL, thread_id)
    return None if record is None else record.state


async def offer(alice: Party) -> dict[str, Any]:
    return await offer_credential(
        alice.repository, [OFFER], connection_id=AT_ISSUER, from_=ISSUER_DID, to=[HOLDER_DID]
    )


# Happy paths.


async def test_offer_request_issue_ack_ends_done_on_both_sides(alice: Party, bob: Party) -> None:
    issuer, wallet = Issuer(), Wallet()
    offer_msg = await offer(alice)
    thid = offer_msg["id"]
    assert offer_msg["type"] == "https://didcomm.org/issue-credential/3.0/offer-credential"
    assert await state(alice, thid) == "offer-sent"

    [request] = await as_holder(bob, offer_msg, wallet)
    assert request["type"].endswith("/request-credential")
    assert (request["thid"], request["from"], request["to"]) == (thid, HOLDER_DID, [ISSUER_DID])
    assert await state(bob, thid) == "request-sent"

    [issued] = await as_issuer(alice, request, issuer)
    assert issued["type"].endswith("/issue-credential")
    assert issued["thid"] == thid
    assert await state(alice, thid) == "credential-issued"

    [ack] = await as_holder(bob, issued, wallet)
    assert ack["type"] == "https://didcomm.org/issue-credential/3.0/ack"
    assert ack["body"] == {"status": "OK"}
    assert wallet.stored == [(FORMAT_W3C_VC_DI, FORMAT_SD_JWT_VC)]
    assert await state(bob, thid) == "done"

    assert await as_issuer(alice, ack) == []
    assert await state(alice, thid) == "done"
    assert issuer.calls == [thid]
    # The SD-JWT VC survives its base64url attachment byte for byte.
    assert attachment_bytes(issued["attachments"][1]).decode() == SD_JWT


async def test_records_keep_no_issued_credential(alice: Party, bob: Party) -> None:
    wallet = Wallet()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, wallet)
    [issued] = await as_issuer(alice, request, Issuer())
    await as_holder(bob, issued, wallet)
    for party in (alice, bob):
        record = await party.repository.get(ISSUE_CREDENTIAL, offer_msg["id"])
        assert record is not None
        assert record.data["issued"]["attachments"] == [
            {"id": "cred-0", "format": FORMAT_W3C_VC_DI},
            {"id": "cred-1", "format": FORMAT_SD_JWT_VC},
        ]
        assert "proof" not in str(record.data)
        assert SD_JWT not in str(record.data)


async def test_holder_may_start_with_a_request(alice: Party, bob: Party) -> None:
    wallet = Wallet()
    request = await request_credential(bob.repository, [REQUEST], connection_id=AT_HOLDER)
    thid = request["id"]
    assert await state(bob, thid) == "request-sent"
    [issued] = await as_issuer(alice, request, Issuer())
    [ack] = await as_holder(bob, issued, wallet)
    await as_issuer(alice, ack)
    assert (await state(alice, thid), await state(bob, thid)) == ("done", "done")


async def test_proposal_path_and_manual_issuance(alice: Party, bob: Party) -> None:
    wallet = Wallet(accept=False)
    proposal = await propose_credential(
        bob.repository,
        connection_id=AT_HOLDER,
        credential_preview={"attributes": [{"name": "allergy", "value": "penicillin"}]},
    )
    thid = proposal["id"]
    assert await as_issuer(alice, proposal) == []
    assert await state(alice, thid) == "proposal-received"

    offer_msg = await offer_credential(
        alice.repository, [OFFER], connection_id=AT_ISSUER, thread_id=thid
    )
    assert offer_msg["thid"] == thid
    # The wallet waits for the citizen: no request yet.
    assert await as_holder(bob, offer_msg, wallet) == []
    assert await state(bob, thid) == "offer-received"
    request = await request_credential(
        bob.repository, [REQUEST], connection_id=AT_HOLDER, thread_id=thid
    )
    # No issue callback: the issuer approves later.
    assert await as_issuer(alice, request) == []
    assert await state(alice, thid) == "request-received"
    issued = await issue_credential(
        alice.repository,
        thid,
        [attachment_json("c", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {"credential": {}})],
    )
    [ack] = await as_holder(bob, issued, wallet)
    await as_issuer(alice, ack)
    assert (await state(alice, thid), await state(bob, thid)) == ("done", "done")


async def test_ack_fail_abandons_and_pending_changes_nothing(alice: Party, bob: Party) -> None:
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, Wallet())
    [issued] = await as_issuer(alice, request, Issuer())
    thid = offer_msg["id"]
    pending = {**_ack(thid, "PENDING"), "id": "ack-pending"}
    assert await as_issuer(alice, pending) == []
    assert await state(alice, thid) == "credential-issued"
    await as_issuer(alice, _ack(thid, "FAIL"))
    assert await state(alice, thid) == "abandoned"
    del issued


def _ack(thid: str, status: str) -> dict[str, Any]:
    return {
        "id": f"ack-{status}",
        "type": "https://didcomm.org/issue-credential/3.0/ack",
        "thid": thid,
        "body": {"status": status},
    }


# Out-of-order messages: refused, naming the states, and nothing stored changes.


async def test_issue_without_a_request_is_refused_and_changes_nothing(
    alice: Party, bob: Party
) -> None:
    wallet = Wallet(accept=False)
    offer_msg = await offer(alice)
    await as_holder(bob, offer_msg, wallet)
    before = await bob.repository.get(ISSUE_CREDENTIAL, offer_msg["id"])
    rogue = build_issue_credential(
        [attachment_json("c", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {"credential": {}})],
        clock=alice.clock,
        thid=offer_msg["id"],
    )
    with pytest.raises(ProtocolStateError) as caught:
        await as_holder(bob, rogue, wallet)
    error = caught.value
    assert error.details["reason"] == "illegalTransition"
    assert error.details["problem_code"] == "e.p.msg.unexpected"
    assert "'offer-received'" in error.message
    assert "'credential-received'" in error.message
    assert "abandoned, proposal-sent, request-sent" in error.message
    assert error.details["allowed"] == ["abandoned", "proposal-sent", "request-sent"]
    assert await bob.repository.get(ISSUE_CREDENTIAL, offer_msg["id"]) == before
    assert wallet.stored == []


async def test_issue_on_an_unknown_thread_creates_nothing(alice: Party, bob: Party) -> None:
    rogue = build_issue_credential(
        [attachment_json("c", MEDIA_TYPE_JSON, FORMAT_W3C_VC_DI, {})],
        clock=alice.clock,
        thid="never-started",
    )
    with pytest.raises(ProtocolStateError) as caught:
        await as_holder(bob, rogue, Wallet())
    assert caught.value.details["reason"] == "unknownThread"
    assert await bob.repository.find() == []


async def test_second_issue_on_a_done_thread_is_refused(alice: Party, bob: Party) -> None:
    wallet = Wallet()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, wallet)
    [issued] = await as_issuer(alice, request, Issuer())
    await as_holder(bob, issued, wallet)
    before = await bob.repository.get(ISSUE_CREDENTIAL, offer_msg["id"])
    second = {**issued, "id": "another-issue"}
    with pytest.raises(ProtocolStateError) as caught:
        await as_holder(bob, second, wallet)
    assert "'done'" in caught.value.message
    assert "none (it is terminal)" in caught.value.message
    assert await bob.repository.get(ISSUE_CREDENTIAL, offer_msg["id"]) == before
    assert len(wallet.stored) == 1


@pytest.mark.parametrize(
    ("step", "expected_state"),
    [
        ("ack-before-issue", "offer-sent"),
        ("issue-api-before-request", "offer-sent"),
        ("request-after-done", "done"),
    ],
)
async def test_issuer_refuses_out_of_order(
    alice: Party, bob: Party, step: str, expected_state: str
) -> None:
    offer_msg = await offer(alice)
    thid = offer_msg["id"]
    if step == "request-after-done":
        wallet = Wallet()
        [request] = await as_holder(bob, offer_msg, wallet)
        [issued] = await as_issuer(alice, request, Issuer())
        [ack] = await as_holder(bob, issued, wallet)
        await as_issuer(alice, ack)
    another = await request_credential(
        bob.repository, [REQUEST], connection_id=AT_HOLDER, thread_id="x"
    )
    before = await alice.repository.get(ISSUE_CREDENTIAL, thid)
    attempts = {
        "ack-before-issue": lambda: as_issuer(alice, _ack(thid, "OK")),
        "issue-api-before-request": lambda: issue_credential(alice.repository, thid, [REQUEST]),
        "request-after-done": lambda: as_issuer(alice, {**another, "thid": thid}, Issuer()),
    }
    with pytest.raises(ProtocolStateError) as caught:
        await attempts[step]()
    assert f"'{expected_state}'" in caught.value.message
    assert await alice.repository.get(ISSUE_CREDENTIAL, thid) == before


async def test_a_role_refuses_the_other_roles_messages(alice: Party, bob: Party) -> None:
    offer_msg = await offer(alice)
    with pytest.raises(ProtocolStateError) as caught:
        await as_issuer(bob, offer_msg)
    assert caught.value.details["reason"] == "unexpectedMessage"
    assert await bob.repository.find() == []


async def test_another_connection_cannot_advance_the_thread(alice: Party, bob: Party) -> None:
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, Wallet())
    with pytest.raises(ProtocolStateError) as caught:
        await handle_issuance(
            request, role="issuer", repository=alice.repository, connection_id="conn-mallory"
        )
    assert caught.value.details["reason"] == "wrongConnection"
    assert await state(alice, offer_msg["id"]) == "offer-sent"


async def test_an_expired_offer_is_refused(alice: Party, bob: Party) -> None:
    offer_msg = await offer(alice)
    expiring = {**offer_msg, "expires_time": offer_msg["created_time"] + 60}
    bob.clock.advance(61)
    with pytest.raises(ProtocolStateError) as caught:
        await as_holder(bob, expiring, Wallet())
    assert caught.value.details["problem_code"] == "e.p.req.time"
    assert await bob.repository.find() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": None}, "malformedMessage"),
        ({"id": ""}, "malformedMessage"),
        ({"thid": 7}, "malformedMessage"),
        ({"to": "did:example:one"}, "malformedMessage"),
        ({"attachments": []}, "malformedMessage"),
        ({"attachments": [{"id": "a b", "data": {"json": {}}}]}, "malformedAttachment"),
        ({"attachments": [{"id": "a", "format": "x", "data": {}}]}, "malformedAttachment"),
        (
            {"attachments": [{"id": "a", "format": "x", "data": {"links": ["u"]}}]},
            "malformedAttachment",
        ),
        (
            {"attachments": [{"id": "a", "format": "x", "data": {"base64": "a+b/"}}]},
            "malformedAttachment",
        ),
        ({"attachments": [{"id": "a", "data": {"json": {}}}]}, "malformedMessage"),
        ({"body": {"comment": 3}}, "malformedMessage"),
        ({"body": {"credential_preview": []}}, "malformedMessage"),
    ],
    ids=lambda value: str(value)[:40],
)
async def test_malformed_offers_are_refused(
    alice: Party, bob: Party, change: dict[str, Any], reason: str
) -> None:
    offer_msg = {**(await offer(alice)), **change}
    with pytest.raises(InvalidInputError) as caught:
        await as_holder(bob, offer_msg, Wallet())
    assert caught.value.details["reason"] == reason
    assert await bob.repository.find() == []


async def test_a_present_proof_message_is_not_an_issuance_message(bob: Party) -> None:
    message = {"id": "1", "type": "https://didcomm.org/present-proof/3.0/ack", "body": {}}
    with pytest.raises(ProtocolStateError) as caught:
        await as_holder(bob, message, Wallet())
    assert caught.value.details["reason"] == "unsupportedMessageType"


# Restarts, concurrency, redelivery, problem-reports.


async def test_restart_mid_protocol_resumes_where_it_was(alice: Party, bob: Party) -> None:
    wallet = Wallet()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, wallet)
    await alice.restart()
    await bob.restart()
    assert await state(alice, offer_msg["id"]) == "offer-sent"
    assert await state(bob, offer_msg["id"]) == "request-sent"
    [issued] = await as_issuer(alice, request, Issuer())
    await bob.restart()
    [ack] = await as_holder(bob, issued, wallet)
    await alice.restart()
    await as_issuer(alice, ack)
    assert (await state(alice, offer_msg["id"]), await state(bob, offer_msg["id"])) == (
        "done",
        "done",
    )


async def test_concurrent_delivery_of_one_request_issues_once(alice: Party, bob: Party) -> None:
    issuer = Issuer()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, Wallet())
    results = await asyncio.gather(
        as_issuer(alice, request, issuer), as_issuer(alice, request, issuer)
    )
    assert sorted(len(result) for result in results) == [0, 1]
    assert issuer.calls == [offer_msg["id"]]
    assert await state(alice, offer_msg["id"]) == "credential-issued"


async def test_two_different_requests_race_and_exactly_one_wins(alice: Party, bob: Party) -> None:
    issuer = Issuer()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, Wallet())
    twin = {**request, "id": "twin-request"}
    results = await asyncio.gather(
        as_issuer(alice, request, issuer), as_issuer(alice, twin, issuer), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], ProtocolStateError)
    assert errors[0].details["reason"] == "illegalTransition"
    assert len(issuer.calls) == 1


async def test_redelivered_messages_have_no_second_effect(alice: Party, bob: Party) -> None:
    issuer, wallet = Issuer(), Wallet()
    offer_msg = await offer(alice)
    [request] = await as_holder(bob, offer_msg, wallet)
    assert await as_holder(bob, offer_msg, wallet) == []
    [issued] = await as_issuer(alice, request, issuer)
    assert await as_issuer(alice, request, issuer) == []
    [ack] = await as_holder(bob, issued, wallet)
    assert await as_holder(bob, issued, wallet) == []
    await as_issuer(alice, ack)
    assert await as_issuer(alice, ack) == []
    # Even after the thread is done, a redelivered request is recognised, not an error.
    assert await as_issuer(alice, request, issuer) == []
    assert (len(issuer.calls), len(wallet.stored)) == (1, 1)
    bob_record = await bob.repository.get(ISSUE_CREDENTIAL, offer_msg["id"])
    assert bob_record is not None
    assert bob_record.state == "done"


async def test_problem_report_abandons_both_sides(alice: Party, bob: Party) -> None:
    offer_msg = await offer(alice)
    await as_holder(bob, offer_msg, Wallet(accept=False))
    problem = await report_problem(
        bob.repository,
        ISSUE_CREDENTIAL,
        offer_msg["id"],
        "e.p.msg.issuance-abandoned",
        from_=HOLDER_DID,
        to=[ISSUER_DID],
    )
    assert problem["type"] == "https://didcomm.org/report-problem/2.0/problem-report"
    assert problem["pthid"] == offer_msg["id"]
    assert await state(bob, offer_msg["id"]) == "abandoned"
    reply = await handle_problem_report(
        problem, repository=alice.repository, connection_id=AT_ISSUER
    )
    assert reply == []
    record = await alice.repository.get(ISSUE_CREDENTIAL, offer_msg["id"])
    assert record is not None
    assert record.state == "abandoned"
    assert record.data["problem"]["code"] == "e.p.msg.issuance-abandoned"
    # Redelivered: no change; and a late request on the abandoned thread is refused.
    assert (
        await handle_problem_report(problem, repository=alice.repository, connection_id=AT_ISSUER)
        == []
    )
    late = await request_credential(bob.repository, [REQUEST], connection_id=AT_HOLDER)
    with pytest.raises(ProtocolStateError) as caught:
        await as_issuer(alice, {**late, "thid": offer_msg["id"]}, Issuer())
    assert "'abandoned'" in caught.value.message


async def test_problem_report_from_another_connection_changes_nothing(
    alice: Party, bob: Party
) -> None:
    offer_msg = await offer(alice)
    await as_holder(bob, offer_msg, Wallet(accept=False))
    problem = await report_problem(
        bob.repository, ISSUE_CREDENTIAL, offer_msg["id"], "e.p.msg.issuance-abandoned"
    )
    await handle_problem_report(problem, repository=alice.repository, connection_id="conn-eve")
    assert await state(alice, offer_msg["id"]) == "offer-sent"
