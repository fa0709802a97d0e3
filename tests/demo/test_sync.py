"""`mydata er sync`'s fetching (:mod:`verifier.trustsync`, through the stories' helpers): only
the configured operator's trust list loads, an offline cache is what `mydata er scan --cache`
reads, and the command refuses what it cannot do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.console import stdout_console
from agent.errors import CredentialError, ErrorCode, InvalidInputError
from mydata.cli import build_app
from mydata.stories.sync import fetch_trust, offline_cache
from mydata.stories.world import LOOPBACK, World
from verifier.offline import load_offline_cache

OTHER_OPERATOR = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """An operator that accredited one hospital (registered directly by the operator)."""
    world = World(stdout_console(), tmp_path)
    try:
        operator = await world.start_operator(title="Test Operator", jurisdiction="NO")
        hospital = await world.start_hospital(title="Test General")
        await operator.call(
            "POST",
            "/admin/accreditations",
            json={"subject": hospital.info["did"], "role": "AccreditedHealthcareProvider"},
        )
        yield world
    finally:
        await world.close()


async def test_only_the_configured_operators_trust_list_loads(world: World) -> None:
    operator, hospital = world["operator"], world["hospital"]
    registry = await fetch_trust(
        world.http, operator.url, operator.info["did"], insecure_http_hosts=LOOPBACK
    )
    decision = await registry.check_issuer(hospital.info["did"])
    assert decision.trusted, decision.reason
    assert len(registry.export()["accreditations"]) == 1
    with pytest.raises(CredentialError) as refused:
        await fetch_trust(world.http, operator.url, OTHER_OPERATOR, insecure_http_hosts=LOOPBACK)
    assert refused.value.code is ErrorCode.ISSUER_NOT_TRUSTED


async def test_the_offline_cache_trusts_the_hospital_with_no_network(world: World) -> None:
    operator, hospital = world["operator"], world["hospital"]
    trust = await fetch_trust(
        world.http,
        operator.url,
        operator.info["did"],
        accreditations=False,
        insecure_http_hosts=LOOPBACK,
    )
    cache = await offline_cache(
        world.http, trust=trust, issuers=[hospital.url], insecure_http_hosts=LOOPBACK
    )
    assert [d["id"] for d in cache["didDocuments"]] == [hospital.info["did"]]
    assert cache["trust"]["accreditations"] == []
    offline = await load_offline_cache(json.loads(json.dumps(cache)))
    assert offline.trust is not None
    decision = await offline.trust.check_issuer(hospital.info["did"])
    assert decision.trusted, decision.reason
    assert decision.age is not None


async def test_plain_http_is_refused_outside_loopback(world: World) -> None:
    with pytest.raises(InvalidInputError, match="uses https"):
        await fetch_trust(world.http, "http://operator.example", world["operator"].info["did"])


def test_the_command_needs_an_output_and_reports_an_unreachable_operator(tmp_path: Path) -> None:
    app = build_app()
    runner = CliRunner()
    base = ["er", "sync", "--operator", OTHER_OPERATOR, "--operator-url", "http://127.0.0.1:9"]
    nothing = runner.invoke(app, base)
    assert nothing.exit_code == 2
    assert "--out" in nothing.output
    unreachable = runner.invoke(app, [*base, "--out", str(tmp_path / "cache.json")])
    assert unreachable.exit_code == 1
    assert "cannot fetch the trust list" in unreachable.output
    assert not (tmp_path / "cache.json").exists()
