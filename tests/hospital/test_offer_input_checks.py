"""``POST /admin/connections/{id}/offer`` checks its body as ``POST /fhir/import`` does
(issuer/requests.py): its flags are JSON booleans (``"false"`` offered the summary), its
formats known strings (``[{}]`` was a 500), the body declared as JSON (it parsed any), all
before the connection is looked up or anything is offered (QA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage import generate_raw_key
from tests.operations.conftest import ADMIN_TOKEN, build_app, provision

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FHIR = {
    "resourceType": "AllergyIntolerance",
    "patient": {"reference": "Patient/p"},
    "code": {"text": "penicillin"},
}
PATH = "/admin/connections/no-such-connection/offer"


async def _post(directory: Path, **kwargs: Any) -> httpx.Response:
    key = generate_raw_key()
    await provision("hospital", directory, key)
    app = build_app("hospital", directory, key)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        return await client.post(PATH, headers={**ADMIN, **kwargs.pop("headers", {})}, **kwargs)


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ({"fhir": FHIR, "emergencySummary": "false"}, "emergencySummary", "notABoolean"),
        ({"fhir": FHIR, "topics": 0}, "topics", "notABoolean"),
        ({"fhir": FHIR, "claimEvidence": None}, "claimEvidence", "notABoolean"),
        ({"fhir": FHIR, "formats": [{}]}, "formats", "unknownFormat"),
        ({"fhir": FHIR, "formats": ["vc", "vc"]}, "formats", "unknownFormat"),
        ({"fhir": FHIR, "formats": "vc"}, "formats", "unknownFormat"),
    ],
)
async def test_a_bad_selection_is_refused_naming_the_member(
    tmp_path: Path, body: dict[str, Any], path: str, reason: str
) -> None:
    response = await _post(tmp_path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["details"] == {**response.json()["details"], "path": path}
    assert response.json()["details"]["reason"] == reason


async def test_the_body_must_be_declared_as_json(tmp_path: Path) -> None:
    response = await _post(tmp_path, content=b"{}", headers={"content-type": "text/plain"})
    assert response.status_code == 415, response.text


async def test_a_good_selection_reaches_the_connection_check(tmp_path: Path) -> None:
    response = await _post(tmp_path, json={"fhir": FHIR, "emergencySummary": False})
    assert response.status_code == 404, response.text
