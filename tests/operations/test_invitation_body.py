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
    declared = await running.client.post(
        "/admin/invitations", headers={**running.admin, "content-type": "application/json"}
    )
    assert declared.status_code == 201, declared.text  # JSON declared, no body (review)
    assert "_oob=" in bare.json()["invitation_url"]
    named = await running.client.post(
        "/admin/invitations", json={"goal": "City ER"}, headers=running.admin
    )
    assert named.status_code == 201, named.text
    wrong = await running.client.post("/admin/invitations", json={"goal": 5}, headers=running.admin)
    assert wrong.status_code == 422
    refused = await running.client.post("/admin/invitations")
    assert refused.status_code == 401


@pytest.mark.parametrize("path", ["/admin/invitations", "/admin/connections"])
async def test_the_didcomm_admin_bodies_are_read_like_every_other_body(
    start: StartService, path: str
) -> None:
    """They were FastAPI model bodies: malformed JSON was a 422, ``text/plain`` was parsed,
    and no size limit applied (a 20 MB body was read and parsed). Now as every route: 400, 415,
    413, and a wrong member a 422 under ``body`` (QA)."""
    running: Running = await start("hospital")
    json_type = {**running.admin, "content-type": "application/json"}
    malformed = await running.client.post(path, content=b'{"goal": ', headers=json_type)
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["code"] == "PARSING_ERROR"
    nested = await running.client.post(path, content=b"[" * 200 + b"]" * 200, headers=json_type)
    assert nested.status_code == 400, nested.text
    plain = await running.client.post(
        path, content=b"{}", headers={**running.admin, "content-type": "text/plain"}
    )
    assert plain.status_code == 415, plain.text
    huge = await running.client.post(
        path, content=b'{"label": "' + b"a" * (2 * 1024 * 1024) + b'"}', headers=json_type
    )
    assert huge.status_code == 413, huge.text
    wrong = await running.client.post(
        path, json={"goal": 5, "invitation_url": 5}, headers=json_type
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["code"] == "invalidInput"
    assert all(e["loc"][0] == "body" for e in wrong.json()["details"]["errors"])
    assert "5" not in wrong.json()["message"]
