"""ProtocolRegistry: routing by type, semver minor tolerance, unknown types; public surface."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from agent.errors import InvalidInputError, ProtocolStateError
from agent.protocols import (
    ISSUE_CREDENTIAL,
    ISSUE_CREDENTIAL_MESSAGES,
    MEDIA_TYPE_JSON,
    PRESENT_PROOF,
    PRESENT_PROOF_MESSAGES,
    REPORT_PROBLEM,
    TRUST_PING,
    ProtocolRegistry,
    attachment_json,
    handle_issuance,
    handle_presentation,
    handle_problem_report,
    handle_trust_ping,
    offer_credential,
    problem_report_for,
)
from tests.protocols._helpers import FakeClock, Party


def registry_for(party: Party, role: str) -> ProtocolRegistry:
    """How an agent wires its handlers: bind role, repository and callbacks once."""
    registry = ProtocolRegistry()
    registry.register(
        TRUST_PING,
        partial(handle_trust_ping, clock=party.clock),
        messages=("ping", "ping-response"),
    )
    registry.register(
        ISSUE_CREDENTIAL,
        partial(handle_issuance, role=role, repository=party.repository),
        messages=ISSUE_CREDENTIAL_MESSAGES,
    )
    registry.register(
        PRESENT_PROOF,
        partial(handle_presentation, role="verifier", repository=party.repository),
        messages=PRESENT_PROOF_MESSAGES,
    )
    registry.register(
        REPORT_PROBLEM,
        partial(handle_problem_report, repository=party.repository),
        messages=("problem-report",),
    )
    return registry


async def test_dispatch_routes_by_type_and_tolerates_minor_versions(
    alice: Party, bob: Party
) -> None:
    registry = registry_for(bob, "holder")
    offer = await offer_credential(
        alice.repository,
        [attachment_json("o", MEDIA_TYPE_JSON, "didcomm/w3c-di-vc-offer@v0.1", {})],
        connection_id="c",
    )
    newer = {**offer, "type": "https://didcomm.org/issue-credential/3.4/offer-credential"}
    assert await registry.dispatch(newer, connection_id="c") == []
    record = await bob.repository.get(ISSUE_CREDENTIAL, offer["id"])
    assert record is not None
    assert record.state == "offer-received"
    ping = {"id": "p", "type": "https://didcomm.org/trust-ping/2.1/ping", "body": {}}
    [response] = await registry.dispatch(ping, connection_id="c")
    assert response["thid"] == "p"
    assert registry.protocols == sorted(
        [ISSUE_CREDENTIAL, PRESENT_PROOF, REPORT_PROBLEM, TRUST_PING]
    )


@pytest.mark.parametrize(
    "message_type",
    [
        "https://didcomm.org/trust-ping/1.0/ping",
        "https://didcomm.org/trust-ping/3.0/ping",
        "https://didcomm.org/trust-ping/2.0/pong",
        "https://didcomm.org/basicmessage/2.0/message",
        "https://example.org/trust-ping/2.0/ping",
    ],
)
async def test_unknown_types_raise_unsupported(clock: FakeClock, message_type: str) -> None:
    registry = ProtocolRegistry()
    registry.register(TRUST_PING, partial(handle_trust_ping, clock=clock), messages=("ping",))
    message = {"id": "m", "type": message_type, "body": {}, "from": "did:example:peer"}
    with pytest.raises(ProtocolStateError) as caught:
        await registry.dispatch(message, connection_id=None)
    error = caught.value
    assert error.details["reason"] == "unsupportedMessageType"
    report = problem_report_for(error, message, clock=clock)
    assert report is not None
    assert report["body"]["code"] == "e.p.msg.unsupported"
    assert report["pthid"] == "m"


@pytest.mark.parametrize(
    "message",
    [[], {"id": "m", "body": {}}, {"id": "m", "type": "not a uri", "body": {}}],
    ids=["not-object", "no-type", "bad-type"],
)
async def test_malformed_messages_are_invalid_input(message: Any) -> None:
    with pytest.raises(InvalidInputError):
        await ProtocolRegistry().dispatch(message, connection_id=None)


def test_registering_a_major_version_twice_is_refused(clock: FakeClock) -> None:
    registry = ProtocolRegistry()
    handler = partial(handle_trust_ping, clock=clock)
    registry.register(TRUST_PING, handler, messages=("ping",))
    with pytest.raises(ValueError, match="registered already"):
        registry.register("https://didcomm.org/trust-ping/2.3", handler, messages=("ping",))
    with pytest.raises(ValueError, match="protocol identifier"):
        registry.register("trust-ping", handler, messages=("ping",))
