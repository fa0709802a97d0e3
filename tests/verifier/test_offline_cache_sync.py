"""`mydata er sync --out`'s offline cache (:func:`verifier.trustsync.write_caches`) against real
services on 127.0.0.1: an operator and a hospital onboarded as `mydata hospital init
--operator` does. The hospital's own `/accreditation` and the operator's status lists go in, so
a cache made after the operator suspended the hospital refuses it offline with that reason,
though the operator's trust list no longer names it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.clock import parse_datetime
from agent.console import stdout_console
from agent.errors import ErrorCode
from agent.trustsync import OperatorSource
from issuer.accreditation import HOSPITAL_ROLE, fetch_accreditation, register_with_operator
from issuer.hospital import Hospital
from mydata.stories.world import LOOPBACK, World
from verifier.offline import load_offline_cache
from verifier.trustsync import write_caches


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = World(stdout_console(), tmp_path)
    try:
        operator = await world.start_operator(title="Test Operator", jurisdiction="NO")

        async def onboard(hospital: Hospital) -> None:
            link = await register_with_operator(
                hospital, operator.url, http=world.http, name="Test General"
            )
            approved = await operator.call(
                "POST",
                f"/admin/registrations/{link.registration_id}/approve",
                json={"validDays": 365},
            )
            world.parties["operator"].info["accreditation"] = approved["accreditation"]["id"]
            await fetch_accreditation(hospital, http=world.http, insecure_http_hosts=LOOPBACK)

        await world.start_hospital(title="Test General", onboard=onboard)
        yield world
    finally:
        await world.close()


async def _cache(world: World, out: Path) -> dict[str, Any]:
    """What `mydata er sync --operator DID --operator-url URL --issuer URL --out FILE` writes."""
    operator, hospital = world["operator"], world["hospital"]
    done = await write_caches(
        [OperatorSource(operator.info["did"], operator.url)],
        out=out,
        trust_out=None,
        issuers=[hospital.url],
        insecure_http_hosts=LOOPBACK,
    )
    assert [path for path, _ in done] == [str(out)]
    assert "1 accreditation(s)" in done[0][1]
    cache = json.loads(await asyncio.to_thread(out.read_text, encoding="utf-8"))
    assert isinstance(cache, dict)
    return cache


async def test_the_hospitals_accreditation_and_its_status_lists_go_in(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    operator, hospital = world["operator"], world["hospital"]
    before = await _cache(world, tmp_path / "before.json")
    accreditation_id = operator.info["accreditation"]
    trust = before["trust"]
    assert isinstance(trust, dict)
    [held] = trust["accreditations"]
    assert held["document"]["id"] == accreditation_id
    lists = before["statusLists"]
    assert isinstance(lists, dict)
    assert {e["statusListCredential"] for e in held["document"]["credentialStatus"]} == set(lists)

    await operator.call(
        "POST", "/admin/accreditations/status", json={"id": accreditation_id, "status": "suspended"}
    )
    after = await _cache(world, tmp_path / "after.json")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an HTTP client was created while offline")

    monkeypatch.setattr(httpx.AsyncClient, "__init__", refuse)
    did = hospital.info["did"]
    old = await load_offline_cache(before)
    assert old.trust is not None
    still = await old.trust.check_issuer(did, HOSPITAL_ROLE)
    assert still.trusted, still.reason
    new = await load_offline_cache(after)
    assert new.trust is not None
    refused = await new.trust.check_issuer(did, HOSPITAL_ROLE)
    assert not refused.trusted
    assert refused.code == str(ErrorCode.CREDENTIAL_SUSPENDED), refused
    assert "suspended the issuer's accreditation" in refused.reason
    assert refused.age is not None
    saved = after["savedAt"]
    assert isinstance(saved, str)
    assert set(new.status_lists) == set(lists)
    assert all(at <= parse_datetime(saved) for at in new.status_lists.values())
