"""Trust ping, problem reports, notifications and spec vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.errors import InvalidInputError, ProtocolStateError
from agent.protocols import (
    NOTIFICATION,
    PING_RESPONSE,
    Notice,
    build_notice,
    build_ping,
    build_problem_report,
    handle_notification,
    handle_trust_ping,
    parse_issuance_message,
    parse_notice,
    parse_presentation_message,
    parse_problem_report,
    problem_report_for,
    render_comment,
)
from tests.protocols._helpers import FakeClock, Party

VECTORS = Path(__file__).parent / "vectors"


def vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


# Spec vectors.


def test_waci_issue_credential_ack_parses() -> None:
    parsed = parse_issuance_message(vector("waci-issue-credential-ack.json"))
    assert (parsed.name, parsed.thread_id, parsed.body) == (
        "ack",
        "72ff1c01-5089-4a69-a208-7d5acda2670e",
        {"status": "OK"},
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("waci-present-proof-request.json", "request-presentation"),
        ("waci-present-proof-ack.json", "ack"),
    ],
)
def test_waci_present_proof_vectors_parse(name: str, kind: str) -> None:
    parsed = parse_presentation_message(vector(name))
    assert parsed.name == kind
    assert parsed.thread_id == "aad8e13a-01dc-4541-a961-70f1754dc5f1"


def test_didcomm_problem_report_vector_parses_and_renders() -> None:
    report = parse_problem_report(vector("didcomm-problem-report.json"))
    assert (report.sorter, report.scope, report.descriptors) == (
        "e",
        "p",
        ("xfer", "cant-use-endpoint"),
    )
    assert report.abandons_protocol
    assert report.text() == (
        "Unable to use the https://agents.r.us/inbox endpoint for did:sov:C805sNYhMrjHiqZDTUASHg."
    )


# Trust ping.


async def test_ping_gets_a_response_on_its_thread(clock: FakeClock) -> None:
    ping = build_ping(clock=clock, from_="did:example:a", to=["did:example:b"])
    assert ping["type"] == "https://didcomm.org/trust-ping/2.0/ping"
    [response] = await handle_trust_ping(ping, clock=clock)
    assert response["type"] == PING_RESPONSE
    assert (response["thid"], response["to"], response["from"]) == (
        ping["id"],
        ["did:example:a"],
        "did:example:b",
    )
    received: list[Any] = []

    async def on_response(message: Any) -> None:
        received.append(message)

    assert await handle_trust_ping(response, clock=clock, on_response=on_response) == []
    assert received == [response]


async def test_ping_without_response_requested_is_silent(clock: FakeClock) -> None:
    ping = build_ping(clock=clock, response_requested=False)
    assert await handle_trust_ping(ping, clock=clock) == []


@pytest.mark.parametrize(
    "message",
    [
        {
            "id": "1",
            "type": "https://didcomm.org/trust-ping/2.0/ping",
            "body": {"response_requested": "no"},
        },
        {"id": "1", "type": "https://didcomm.org/trust-ping/2.0/ping-response", "body": {}},
        {"id": "1", "type": "https://didcomm.org/trust-ping/2.0/ping"},
    ],
    ids=["bool", "no-thid", "no-body"],
)
async def test_malformed_pings(clock: FakeClock, message: Any) -> None:
    with pytest.raises(InvalidInputError):
        await handle_trust_ping(message, clock=clock)


async def test_ping_minor_version_is_tolerated_major_is_not(clock: FakeClock) -> None:
    ping = {**build_ping(clock=clock), "type": "https://didcomm.org/trust-ping/2.7/ping"}
    assert len(await handle_trust_ping(ping, clock=clock)) == 1
    with pytest.raises(ProtocolStateError) as caught:
        await handle_trust_ping(
            {**ping, "type": "https://didcomm.org/trust-ping/3.0/ping"}, clock=clock
        )
    assert caught.value.details["problem_code"] == "e.p.msg.unsupported"


# Problem reports.


@pytest.mark.parametrize(
    ("code", "sorter", "scope", "abandons"),
    [
        ("e.p.msg.unexpected", "e", "p", True),
        ("e.m.msg.bad-field", "e", "m", False),
        ("w.p.trust.crypto", "w", "p", False),
        ("e.request-sent.me.res.storage", "e", "request-sent", True),
    ],
)
def test_problem_codes_parse(
    clock: FakeClock, code: str, sorter: str, scope: str, abandons: bool
) -> None:
    report = parse_problem_report(build_problem_report(code, pthid="t", clock=clock))
    assert (report.sorter, report.scope, report.abandons_protocol) == (sorter, scope, abandons)


@pytest.mark.parametrize("code", ["x.p.msg", "E.P.MSG", "e", "e.p.Msg", "e.p..msg", "e.p.msg_x", 5])
def test_malformed_problem_codes_are_refused(clock: FakeClock, code: Any) -> None:
    with pytest.raises(InvalidInputError):
        build_problem_report(code, pthid="t", clock=clock)


def test_problem_report_requires_pthid(clock: FakeClock) -> None:
    report = build_problem_report("e.p.msg.unexpected", pthid="t", clock=clock)
    del report["pthid"]
    with pytest.raises(InvalidInputError):
        parse_problem_report(report)


def test_render_comment_fills_missing_and_appends_extra_args() -> None:
    assert render_comment("a {1} b {2}", ["x"]) == "a x b ?"
    assert render_comment("a {1}", ["x", "y", "z"]) == "a x y, z"
    assert render_comment("no args", []) == "no args"


def test_problem_report_for_our_errors(clock: FakeClock) -> None:
    incoming = {
        "id": "m1",
        "thid": "t1",
        "type": "https://didcomm.org/unknown/1.0/thing",
        "from": "did:example:peer",
        "to": ["did:example:me"],
        "body": {},
    }
    error = ProtocolStateError(
        "internal detail not for the peer",
        details={"reason": "unsupportedMessageType", "problem_code": "e.p.msg.unsupported"},
    )
    report = problem_report_for(error, incoming, clock=clock)
    assert report is not None
    parsed = parse_problem_report(report)
    assert (parsed.code, parsed.pthid, report["to"]) == (
        "e.p.msg.unsupported",
        "t1",
        ["did:example:peer"],
    )
    assert parsed.text() == "Message type https://didcomm.org/unknown/1.0/thing is not supported."
    assert "internal detail" not in json.dumps(report)
    duplicate = ProtocolStateError("dup", details={"reason": "duplicateMessage"})
    assert problem_report_for(duplicate, incoming, clock=clock) is None
    assert problem_report_for(error, {"no": "id"}, clock=clock) is None


# Notifications.


ACCESS = {
    "kind": "access-notice",
    "occurred_at": "2026-11-29T06:00:00Z",
    "accessor": "did:example:er-doctor",
    "purpose": "emergency-care",
    "resources": ["AllergyIntoleranceCredential"],
    "break_glass": True,
    "audit_ref": "log-42",
}


async def test_notice_recorded_once_and_answered(alice: Party, bob: Party) -> None:
    seen: list[Notice] = []

    async def broker(notice: Notice) -> dict[str, Any] | None:
        seen.append(notice)
        if notice.kind == "consent-withdrawn":
            return {
                "kind": "deletion-receipt",
                "occurred_at": "2026-11-29T06:01:00Z",
                "consent_id": notice.body["consent_id"],
                "deleted": ["dataset-7"],
            }
        return None

    withdrawal = build_notice(
        {"kind": "consent-withdrawn", "occurred_at": "2026-11-29T06:00:00Z", "consent_id": "c-1"},
        clock=alice.clock,
        from_="did:example:citizen",
        to=["did:example:broker"],
    )
    assert withdrawal["type"] == f"{NOTIFICATION}/notice"
    [receipt] = await handle_notification(
        withdrawal, repository=bob.repository, connection_id="c", on_notice=broker
    )
    parsed = parse_notice(receipt)
    assert (parsed.kind, parsed.thread_id, receipt["to"]) == (
        "deletion-receipt",
        withdrawal["id"],
        ["did:example:citizen"],
    )
    assert (
        await handle_notification(
            withdrawal, repository=bob.repository, connection_id="c", on_notice=broker
        )
        == []
    )
    access = build_notice(ACCESS, clock=alice.clock)
    assert (
        await handle_notification(
            access, repository=bob.repository, connection_id="c", on_notice=broker
        )
        == []
    )
    assert [n.kind for n in seen] == ["consent-withdrawn", "access-notice"]
    assert len(await bob.repository.find(NOTIFICATION)) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "gossip"},
        {"occurred_at": "yesterday"},
        {"occurred_at": "2026-11-29T06:00:00"},
        {"accessor": None},
        {"resources": []},
        {"resources": "AllergyIntoleranceCredential"},
        {"break_glass": "yes"},
    ],
    ids=lambda change: str(change)[:30],
)
def test_malformed_notices(clock: FakeClock, change: dict[str, Any]) -> None:
    body = {key: value for key, value in {**ACCESS, **change}.items() if value is not None}
    with pytest.raises(InvalidInputError):
        build_notice(body, clock=clock)
