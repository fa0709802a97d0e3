"""Two hospital replicas on one PostgreSQL, issuing concurrently: no status index twice."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agent.storage import generate_raw_key
from tests.conftest import UNSIGNED_ALLERGY
from tests.hospital.conftest import HospitalService, free_port, hospital_env, mydata

PER_REPLICA = 150


def test_two_replicas_never_share_a_status_index(postgres_url: str, tmp_path: Path) -> None:
    env = hospital_env(tmp_path, MYDATA_STORE_KEY=generate_raw_key())
    port_a, port_b = free_port(), free_port()
    public_url = "https://hospital.example"  # both replicas serve one public name
    mydata("hospital", "init", "--base-url", public_url, "--store", postgres_url, env=env)
    replicas = [HospitalService(env, postgres_url, port, public_url) for port in (port_a, port_b)]
    try:

        def issue_many(service: HospitalService) -> list[dict[str, Any]]:
            issued = []
            for _ in range(PER_REPLICA):
                response = service.admin.post(
                    "/credentials/issue", json={"credential": copy.deepcopy(UNSIGNED_ALLERGY)}
                )
                assert response.status_code == 201, response.text
                issued.append(response.json()["verifiableCredential"])
            return issued

        with ThreadPoolExecutor(max_workers=4) as pool:
            batches = list(pool.map(issue_many, replicas * 2))
    finally:
        for service in replicas:
            service.stop()
    credentials = [c for batch in batches for c in batch]
    assert len(credentials) == 4 * PER_REPLICA
    assert len({c["id"] for c in credentials}) == len(credentials)
    entries = [
        (entry["statusPurpose"], entry["statusListCredential"], entry["statusListIndex"])
        for c in credentials
        for entry in c["credentialStatus"]
    ]
    assert len(entries) == 2 * len(credentials)
    assert len(set(entries)) == len(entries), "a status index was given twice"


@pytest.fixture(autouse=True)
def _drop_database(postgres_url: str) -> Any:
    yield
    import asyncio

    from agent.storage import remove_store

    asyncio.run(remove_store(postgres_url))
