"""A verifier fetching its trust data from a running operator (`mydata serve operator`):
`mydata serve verifier --operator DID --operator-url URL` trusts what the operator accredits,
stops trusting a revoked accreditation after a refresh, and keeps its last good data, with its
age, when the operator is down. `mydata er sync` writes the offline and trust caches."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage import generate_raw_key, open_store
from tests.governance.services import Service, env_for, free_port, mydata
from tests.verifier.conftest import Party, _party
from tests.verifier.test_verify import allergy_credential
from verifier.offline import load_offline_cache
from verifier.trust import TrustRegistry

TOKEN = "trust-sync-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ROLE = "AccreditedHealthcareProvider"


@dataclass
class World:
    home: Path
    operator_env: dict[str, str]
    operator_did: str
    operator_url: str
    operator: Service
    verifier: Service
    verifier_url: str
    accredited: Party
    unaccredited: Party
    citizen: Party
    accreditation_id: str


def _parties(tmp: Path) -> tuple[Party, Party, Party]:
    async def make() -> tuple[Party, Party, Party]:
        store = await open_store(f"sqlite://{tmp / 'parties.sqlite'}", raw_key=generate_raw_key())
        try:
            return await _party(store), await _party(store), await _party(store)
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("trust-sync")
    operator_env = env_for(home / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mydata("operator", "init", "--base-url", url, env=operator_env)
    operator = Service("operator", operator_env, port, "--insecure-http-host", "127.0.0.1")
    try:
        yield from _with_operator(home, operator_env, operator, url)
    finally:
        operator.stop()


def _with_operator(
    home: Path, operator_env: dict[str, str], operator: Service, url: str
) -> Iterator[World]:
    operator_did = httpx.get(f"{url}/operator").json()["did"]
    accredited, unaccredited, citizen = _parties(home)
    out = mydata(
        "operator",
        "accredit",
        accredited.did,
        "--role",
        ROLE,
        "--name",
        "St. Olav",
        env=operator_env,
    ).stdout
    accreditation_id = re.search(r"urn:uuid:[0-9a-f-]+", out)
    assert accreditation_id is not None, out
    verifier_port = free_port()
    (home / "verifier").mkdir()
    verifier = Service(
        "verifier",
        env_for(home / "verifier", MYDATA_ADMIN_TOKEN=TOKEN),
        verifier_port,
        "--operator", operator_did,
        "--operator-url", url,
        "--insecure-http-host", "127.0.0.1",
    )  # fmt: skip
    try:
        yield World(
            home,
            operator_env,
            operator_did,
            url,
            operator,
            verifier,
            f"http://127.0.0.1:{verifier_port}",
            accredited,
            unaccredited,
            citizen,
            accreditation_id.group(0),
        )
    finally:
        verifier.stop()


def _verify(world: World, issuer: Party) -> tuple[int, dict[str, Any]]:
    credential = allergy_credential(issuer, world.citizen)
    response = httpx.post(
        f"{world.verifier_url}/credentials/verify",
        json={"verifiableCredential": credential},
        timeout=30,
    )
    assert response.status_code != 500, response.text
    return response.status_code, response.json()


def _trust_error(body: dict[str, Any]) -> str | None:
    codes = [e["code"] for e in body["errors"] if e.get("check") == "trust"]
    return codes[0] if codes else None


def test_sync_then_revoke_then_operator_down(world: World) -> None:
    """One sequence, as the operator's state changes: fetched and trusted, revoked and refused
    after a refresh, then served from the last good data while the operator is down."""
    status = httpx.get(f"{world.verifier_url}/admin/trust", headers=ADMIN).json()
    assert status["sources"] == [{"did": world.operator_did, "url": world.operator_url}]
    assert status["entries"] == 1
    assert status["lastError"] is None
    assert status["maxAgeSeconds"] == 300  # the operator's Cache-Control

    code, body = _verify(world, world.accredited)
    assert code == 200, body
    assert body["verified"] is True
    code, body = _verify(world, world.unaccredited)
    assert code == 400
    assert _trust_error(body) == "issuerNotTrusted"

    # The operator revokes; the verifier sees it once it refreshes.
    mydata("operator", "revoke", world.accreditation_id, env=world.operator_env)
    refreshed = httpx.post(f"{world.verifier_url}/admin/trust/refresh", headers=ADMIN)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["entries"] == 0
    code, body = _verify(world, world.accredited)
    assert code == 400
    assert _trust_error(body) == "issuerNotTrusted"

    # Accredit again, refresh, then take the operator down: the last good data stays in use.
    mydata("operator", "accredit", world.accredited.did, "--role", ROLE, env=world.operator_env)
    assert httpx.post(f"{world.verifier_url}/admin/trust/refresh", headers=ADMIN).is_success
    world.operator.stop()
    failed = httpx.post(f"{world.verifier_url}/admin/trust/refresh", headers=ADMIN)
    assert failed.status_code == 502
    assert failed.json()["code"] == "trustStale"
    stale = httpx.get(f"{world.verifier_url}/admin/trust", headers=ADMIN).json()
    assert stale["stale"] is True
    assert "STATUS_RETRIEVAL_ERROR" in stale["lastError"]
    assert stale["entries"] == 1
    assert isinstance(stale["ageSeconds"], int)
    assert stale["fetchedAt"]
    code, body = _verify(world, world.accredited)
    # The trust list fetched before the outage is in force, and the accreditation's status
    # list is still within the max-age it was cached for (decision 0006).
    assert code == 200, body
    assert body["verified"] is True
    assert "trust" in body["checks"]


def test_admin_trust_needs_the_token(world: World) -> None:
    assert httpx.get(f"{world.verifier_url}/admin/trust").status_code == 401
    assert httpx.post(f"{world.verifier_url}/admin/trust/refresh").status_code == 401


def test_er_sync_writes_caches_that_load(tmp_path: Path) -> None:
    """`mydata er sync` against a running operator: both files load, verified, offline; a
    wrong operator DID loads nothing."""
    env = env_for(tmp_path / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mydata("operator", "init", "--base-url", url, env=env)
    hospital, stranger, _ = _parties(tmp_path)
    mydata("operator", "accredit", hospital.did, "--role", ROLE, env=env)
    operator = Service("operator", env, port, "--insecure-http-host", "127.0.0.1")
    try:
        did = httpx.get(f"{url}/operator").json()["did"]
        user = env_for(tmp_path / "er")
        offline, trust = tmp_path / "offline.json", tmp_path / "trust.json"
        args = ("er", "sync", "--operator", did, "--operator-url", url)
        shown = mydata(*args, "-o", str(offline), "--trust-out", str(trust), env=user).stdout
        assert "trust list (1 entries)" in shown
        assert "1 accreditation(s)" in shown

        wrong = mydata(
            "er", "sync", "--operator", stranger.did, "--operator-url", url, "-o",
            str(tmp_path / "no.json"), env=user, check=False,
        )  # fmt: skip
        assert wrong.returncode == 1
        assert "issuerNotTrusted" in wrong.stdout + wrong.stderr
        assert not (tmp_path / "no.json").exists()
    finally:
        operator.stop()

    async def decisions() -> tuple[bool, bool, bool]:
        loaded = await load_offline_cache(json.loads(offline.read_text()))
        assert loaded.trust is not None
        registry = TrustRegistry({did}, loaded.resolver)
        await registry.import_(json.loads(trust.read_text()))
        return (
            (await loaded.trust.check_issuer(hospital.did)).trusted,
            (await loaded.trust.check_issuer(stranger.did)).trusted,
            len(registry.export()["accreditations"]) == 1,
        )

    assert asyncio.run(decisions()) == (True, False, True)
