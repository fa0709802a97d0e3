"""Security headers chosen deliberately: nosniff, no-referrer, a CSP that allows nothing, no
caching of personal data but the public caching of status lists kept, HSTS over HTTPS, and no
CORS at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operations.conftest import SERVICES, allergy_resource

API_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def assert_api_headers(headers: Any) -> None:
    for name, expected in API_HEADERS.items():
        assert headers.get(name) == expected, name
    assert "strict-transport-security" not in headers  # plain http here


@pytest.mark.parametrize("service", SERVICES)
async def test_every_answer_carries_the_security_headers(start: Any, service: str) -> None:
    running = await start(service)
    for response in (
        await running.client.get("/healthz"),
        await running.client.get("/metrics"),  # a 401
        await running.client.get("/no/such/route"),  # a 404
    ):
        assert_api_headers(response.headers)
        assert response.headers["cache-control"] == "no-store"


async def test_personal_data_is_not_cached_but_status_lists_are(start: Any) -> None:
    hospital = await start("hospital")
    body = {"fhir": allergy_resource(), "subject": "did:example:citizen", "formats": ["vc"]}
    issued = await hospital.client.post("/fhir/import", json=body, headers=hospital.admin)
    assert issued.status_code == 201
    assert_api_headers(issued.headers)
    assert issued.headers["cache-control"] == "no-store"

    credential = issued.json()["credentials"][0]["credential"]
    url = credential["credentialStatus"][0]["statusListCredential"]
    listed = await hospital.client.get("/status-lists/" + url.rsplit("/", 1)[-1])
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "public, max-age=300"
    assert_api_headers(listed.headers)


async def test_wallet_answers_are_not_cached(start: Any) -> None:
    wallet = await start("wallet")
    response = await wallet.client.get("/wallet/credentials", headers=wallet.admin)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert_api_headers(response.headers)


async def test_hsts_over_https(start: Any) -> None:
    running = await start("verifier", base_url="https://verifier.test")
    response = await running.client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize("service", SERVICES)
async def test_no_cors(start: Any, service: str) -> None:
    running = await start(service)
    origin = {"Origin": "https://evil.example"}
    simple = await running.client.get("/healthz", headers=origin)
    preflight = await running.client.options(
        "/healthz",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    for response in (simple, preflight):
        assert not [h for h in response.headers if h.startswith("access-control-")]
    assert preflight.status_code == 405


async def test_the_openapi_page_may_load_its_scripts(start: Any) -> None:
    # /docs is HTML that loads Swagger UI: the API's CSP would blank it, so it has none.
    running = await start("hospital")
    docs = await running.client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
