"""/metrics: Prometheus text from each app's own registry; requests by route template,
verifications by outcome and failed check, issuance by format, status-list fill."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.operations.conftest import ADMIN_TOKEN, MARKER, SERVICES, allergy_resource


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def issue(hospital: Any, **options: Any) -> dict[str, Any]:
    body = {"fhir": allergy_resource(), "subject": "did:example:citizen", "formats": ["vc"]}
    response = await hospital.client.post("/fhir/import", json=body, headers=hospital.admin)
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["credentials"][0]["credential"]
    return credential


async def test_a_failed_verification_is_counted_by_outcome_and_check(start: Any) -> None:
    hospital = await start("hospital")
    verifier = await start("verifier")
    credential = await issue(hospital)
    tampered = json.loads(json.dumps(credential).replace(MARKER, MARKER + "-CHANGED"))
    before = await verifier.metrics()
    assert value(before, "mydata_verifications_total", outcome="rejected") is None

    answer = await verifier.client.post(
        "/credentials/verify",
        json={"verifiableCredential": tampered, "options": {"checks": ["proof"]}},
    )
    assert answer.status_code == 400
    failed = {r["check"] for r in answer.json()["results"] if r["status"] == "failed"}
    assert "proof" in failed

    after = await verifier.metrics()
    assert value(after, "mydata_verifications_total", outcome="rejected") == 1.0
    assert value(after, "mydata_verifications_total", outcome="verified") is None
    for check in failed:
        assert value(after, "mydata_verification_failures_total", check=check) == 1.0

    good = await verifier.client.post(
        "/credentials/verify",
        json={"verifiableCredential": credential, "options": {"checks": ["proof"]}},
    )
    assert good.status_code == 200, good.text
    last = await verifier.metrics()
    assert value(last, "mydata_verifications_total", outcome="verified") == 1.0
    assert value(last, "mydata_verifications_total", outcome="rejected") == 1.0
    # The hospital's registry is its own: it verified nothing.
    assert value(await hospital.metrics(), "mydata_verifications_total", outcome="rejected") is None


async def test_issuance_and_status_list_fill(start: Any) -> None:
    hospital = await start("hospital")
    empty = await hospital.metrics()
    assert value(empty, "mydata_credentials_issued_total", format="vc") is None
    assert not [key for key in samples(empty) if key[0] == "mydata_status_list_allocated"]

    credential = await issue(hospital)
    await issue(hospital)
    text = await hospital.metrics()
    assert value(text, "mydata_credentials_issued_total", format="vc") == 2.0
    lists = {
        entry["statusPurpose"]: entry["statusListCredential"].rsplit("/", 1)[-1]
        for entry in credential["credentialStatus"]
    }
    assert set(lists) == {"revocation", "suspension"}
    for purpose, list_id in lists.items():
        labels = {"purpose": purpose, "list": list_id}
        allocated = value(text, "mydata_status_list_allocated", **labels)
        size = value(text, "mydata_status_list_size", **labels)
        # Taken indexes: the two issued, or a whole block a process reserved for them.
        assert allocated is not None
        assert size == 131072.0
        assert 2 <= allocated <= size
        assert value(text, "mydata_status_lists", purpose=purpose) == 1.0


async def test_requests_are_counted_by_route_template(start: Any) -> None:
    hospital = await start("hospital")
    for list_id in ("aaaa1111aaaa1111", "bbbb2222bbbb2222"):
        response = await hospital.client.get(f"/status-lists/{list_id}")
        assert response.status_code == 404
    missing = await hospital.client.get("/no/such/path/cccc3333")
    assert missing.status_code == 404
    text = await hospital.metrics()
    labels = {"method": "GET", "route": "/status-lists/{list_id}", "status": "404"}
    assert value(text, "mydata_http_requests_total", **labels) == 2.0
    assert value(text, "mydata_http_requests_total", method="GET", route="unmatched", status="404")
    assert (
        value(
            text,
            "mydata_http_request_duration_seconds_count",
            method="GET",
            route="/status-lists/{list_id}",
        )
        == 2.0
    )
    # Raw paths (ids) never become label values.
    for raw in ("aaaa1111aaaa1111", "bbbb2222bbbb2222", "cccc3333"):
        assert raw not in text


@pytest.mark.parametrize("service", SERVICES)
async def test_metrics_need_the_metrics_or_admin_token(start: Any, service: str) -> None:
    running = await start(service)
    assert (await running.client.get("/metrics")).status_code == 401
    wrong = await running.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    by_admin = await running.client.get(
        "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert by_admin.status_code == 200
    assert by_admin.headers["content-type"].startswith("text/plain")
    text = await running.metrics()
    # The scrape itself is counted on the next scrape, by its route.
    assert value(text, "mydata_http_requests_total", method="GET", route="/metrics", status="200")
    assert value(text, "process_resident_memory_bytes") is not None
