"""`POST /admin/invitations` takes its body (goal_code, goal) or none: without one it answered
422 "the request is malformed at body", although every member has a default (QA)."""

from __future__ import annotations

import pytest

from tests.operations.conftest import SERVICES, Running, StartService

#: The services that run a DIDComm agent: all but the vault.
AGENT_SERVICES = tuple(service for service in SERVICES if service != "vault")


@pytest.mark.parametrize("service", AGENT_SERVICES)
async def test_an_invitation_without_a_body_uses_the_defaults(
    start: StartService, service: str
) -> None:
    running: Running = await start(service)
    bare = await running.client.post("/admin/invitations", headers=running.admin)
    assert bare.status_code == 201, bare.text
    assert "_oob=" in bare.json()["invitation_url"]
    named = await running.client.post(
        "/admin/invitations", json={"goal": "City ER"}, headers=running.admin
    )
    assert named.status_code == 201, named.text
    wrong = await running.client.post("/admin/invitations", json={"goal": 5}, headers=running.admin)
    assert wrong.status_code == 422
    refused = await running.client.post("/admin/invitations")
    assert refused.status_code == 401
