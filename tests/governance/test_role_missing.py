"""A registration or accreditation without a role says the role is missing (QA report #20)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.governance.test_operator_api import ADMIN, _app, _serve


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = await _app(tmp_path)
    async for client in _serve(app):
        yield client


@pytest.mark.parametrize("body", [{}, {"presentation": {}}, {"presentation": {}, "role": None}])
async def test_registration_without_a_role_says_it_is_missing(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await http.post("/registrations", json=body)
    assert response.status_code == 422
    message = response.json()["message"]
    assert "no 'role'" in message
    assert "None" not in message
    assert "AccreditedHealthcareProvider" in message


async def test_accreditation_without_a_role_says_it_is_missing(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/admin/accreditations", json={"subject": "did:key:z6Mkexample"}, headers=ADMIN
    )
    assert response.status_code == 422
    assert "no 'role'" in response.json()["message"]


async def test_an_unknown_role_is_still_named(http: httpx.AsyncClient) -> None:
    response = await http.post("/registrations", json={"presentation": {}, "role": "Hospital"})
    assert response.status_code == 422
    assert "unknown accreditation role 'Hospital'" in response.json()["message"]
