"""Offline caches carry the operator's Bitstring Status Lists, so an offline verifier checks an
accreditation's status as of the sync: against a running operator (`mydata serve operator`),
a cache made before a suspension still trusts the issuer (and says how old its data is); one
made after it refuses the issuer with the suspension as the reason. Loading and verifying
touch no network."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.clock import parse_datetime
from agent.errors import ErrorCode, InvalidInputError, StatusError
from agent.storage import generate_raw_key, open_store
from mydata.stories.sync import LOOPBACK_HOSTS, fetch_trust, offline_cache
from tests.governance.services import Service, env_for, free_port, mydata
from tests.verifier.conftest import Party, _party
from tests.verifier.test_verify import allergy_credential
from verifier.offline import load_offline_cache
from verifier.report import Check, CheckStatus
from verifier.verify import verify_credential

TOKEN = "offline-status-admin-token"
ROLE = "AccreditedHealthcareProvider"


@dataclass
class Caches:
    operator_url: str
    hospital: Party
    citizen: Party
    accreditation_id: str
    before: dict[str, Any]
    after: dict[str, Any]


async def _parties(tmp: Path) -> tuple[Party, Party]:
    store = await open_store(f"sqlite://{tmp / 'parties.sqlite'}", raw_key=generate_raw_key())
    try:
        return await _party(store), await _party(store)
    finally:
        await store.close()


async def _sync(url: str, did: str, published: str | None = None) -> dict[str, Any]:
    """What `mydata sync --out` writes. ``published``: the accreditation the hospital serves
    at its ``/accreditation`` (here fetched from the operator, which keeps serving it after a
    suspension while its trust list no longer names the hospital)."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
        trust = await fetch_trust(http, url, did, insecure_http_hosts=LOOPBACK_HOSTS)
        if published is not None:
            response = await http.get(f"{url}/accreditations/{published}")
            assert response.status_code == 200, response.text
            await trust.add_accreditation(response.json())
        return await offline_cache(http, trust=trust, insecure_http_hosts=LOOPBACK_HOSTS)


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Caches:
    home = tmp_path_factory.mktemp("offline-status")
    env = env_for(home / "operator", MYDATA_ADMIN_TOKEN=TOKEN)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mydata("operator", "init", "--base-url", url, env=env)
    hospital, citizen = asyncio.run(_parties(home))
    shown = mydata("operator", "accredit", hospital.did, "--role", ROLE, env=env).stdout
    found = re.search(r"urn:uuid:[0-9a-f-]+", shown)
    assert found is not None, shown
    operator = Service("operator", env, port, "--insecure-http-host", "127.0.0.1")
    try:
        did = httpx.get(f"{url}/operator").json()["did"]
        before = asyncio.run(_sync(url, did))
        mydata("operator", "suspend", found.group(0), env=env)
        after = asyncio.run(_sync(url, did, published=found.group(0)))
    finally:
        operator.stop()
    return Caches(url, hospital, citizen, found.group(0), before, after)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP client created from here on fails the test (the operator is stopped too)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an HTTP client was created while offline")

    monkeypatch.setattr(httpx.AsyncClient, "__init__", refuse)
    monkeypatch.setattr(httpx.Client, "__init__", refuse)


async def _trust_result(caches: Caches, cache: dict[str, Any], hours: int) -> Any:
    loaded = await load_offline_cache(cache)
    assert loaded.trust is not None
    later = parse_datetime(cache["savedAt"]) + timedelta(hours=hours)
    report = await verify_credential(
        allergy_credential(caches.hospital, caches.citizen),
        resolver=loaded.resolver,
        status_checker=loaded.status_checker,
        trust=loaded.trust,
        now=later,
    )
    result = report.result(Check.TRUST)
    assert result is not None, report.to_dict()
    return result


def test_the_cache_holds_the_accreditation_and_its_status_lists(caches: Caches) -> None:
    for cache in (caches.before, caches.after):
        [accreditation] = cache["trust"]["accreditations"]
        assert accreditation["document"]["id"] == caches.accreditation_id
        named = {
            entry["statusListCredential"] for entry in accreditation["document"]["credentialStatus"]
        }
        assert named
        assert named == set(cache["statusLists"])
        for url, item in cache["statusLists"].items():
            assert url.startswith(f"{caches.operator_url}/status-lists/")
            assert "BitstringStatusListCredential" in item["credential"]["type"]
            assert parse_datetime(item["fetchedAt"]) <= parse_datetime(cache["savedAt"])
    # After the suspension the operator's trust list no longer names the hospital.
    [entry] = caches.before["trust"]["trustLists"][0]["document"]["credentialSubject"][
        "trustListEntry"
    ]
    assert entry["id"] == caches.hospital.did
    after_list = caches.after["trust"]["trustLists"][0]["document"]["credentialSubject"]
    assert after_list["trustListEntry"] == []


async def test_a_suspension_after_the_sync_is_not_seen_and_the_age_is_shown(
    caches: Caches, no_network: None
) -> None:
    result = await _trust_result(caches, caches.before, hours=3)
    assert result.status is CheckStatus.PASSED, result
    assert "accredited as AccreditedHealthcareProvider" in result.message
    assert "(trust data from 3 h" in result.message
    assert 3 * 3600 <= result.details["ageSeconds"] < 3 * 3600 + 600

    loaded = await load_offline_cache(caches.before)
    [accreditation] = caches.before["trust"]["accreditations"]
    later = parse_datetime(caches.before["savedAt"]) + timedelta(hours=3)
    statuses = await loaded.status_checker.check(accreditation["document"], now=later)
    assert statuses
    assert not any(s.set for s in statuses)
    assert all(s.age is not None and s.age >= timedelta(hours=3) for s in statuses)
    assert set(loaded.status_lists) == set(caches.before["statusLists"])


async def test_a_cache_made_after_the_suspension_refuses_with_the_reason(
    caches: Caches, no_network: None
) -> None:
    result = await _trust_result(caches, caches.after, hours=1)
    assert result.status is CheckStatus.FAILED, result
    assert result.code == str(ErrorCode.CREDENTIAL_SUSPENDED)
    assert "suspended the issuer's accreditation" in result.message
    assert result.details["ageSeconds"] >= 3600


async def test_without_its_status_lists_the_signed_trust_list_decides_and_says_so(
    caches: Caches, no_network: None
) -> None:
    """The trust list is the operator's signed statement of the accreditations in force (it is
    re-signed when one is revoked, and valid for a day): when only an accreditation's status
    list is missing, the list decides, and the result says that the status was not checked.
    Refusing every hospital instead would stop emergency care on a partial cache."""
    stripped = {**caches.before, "statusLists": {}}
    result = await _trust_result(caches, stripped, hours=1)
    assert result.status is CheckStatus.PASSED, result
    assert "status list could not be fetched" in result.message
    # With no trust list to vouch for it, an accreditation of unknown status is not trusted.
    without_list = {**stripped, "trust": {**stripped["trust"], "trustLists": []}}
    refused = await _trust_result(caches, without_list, hours=1)
    assert refused.status is CheckStatus.FAILED, refused
    assert refused.code == str(ErrorCode.STATUS_RETRIEVAL_ERROR)


async def test_a_tampered_or_malformed_status_list_entry_is_refused(
    caches: Caches, no_network: None
) -> None:
    url, item = next(iter(caches.before["statusLists"].items()))
    tampered = {**item["credential"], "validFrom": "2020-01-01T00:00:00Z"}
    with pytest.raises(StatusError) as raised:
        await load_offline_cache(
            {**caches.before, "statusLists": {url: {**item, "credential": tampered}}}
        )
    assert raised.value.code is ErrorCode.STATUS_VERIFICATION_ERROR
    with pytest.raises(InvalidInputError) as malformed:
        await load_offline_cache(
            {**caches.before, "statusLists": {url: {**item, "fetchedAt": "yesterday"}}}
        )
    assert malformed.value.code is ErrorCode.PARSING_ERROR
