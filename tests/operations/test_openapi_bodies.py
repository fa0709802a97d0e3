"""Every operation that takes a JSON body documents it in the service's OpenAPI, and the
documented bodies are what the handlers accept.

Most routes parse their bodies themselves (strictly, :mod:`agent.jsonio`), so FastAPI cannot see
them: each declares its body with :func:`agent.openapi.json_body`. The operations come from each
app's own OpenAPI, so a new POST, PUT or PATCH route without a documented body fails here unless
it is listed in :data:`NO_JSON_BODY` with the reason. The second half sends the documented
examples, or the smallest bodies the schemas allow, to the running services: the schema's
required members must be enough to get past parsing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI

from agent.errors import ErrorCode
from tests.operations.conftest import (
    SAMPLES,
    SERVICES,
    Running,
    StartService,
    allergy_resource,
    build_app,
)

BODY_METHODS = ("post", "put", "patch")
#: The services that run a DIDComm agent (agent.service.create_agent_app): all but the vault.
AGENTS = tuple(service for service in SERVICES if service != "vault")
#: Operations that take no JSON body, on purpose: ``(service, or "agents" for every one of
#: :data:`AGENTS`, "METHOD /path")``.
NO_JSON_BODY: dict[tuple[str, str], str] = {
    ("agents", "POST /didcomm"): "DIDComm envelopes in their own media types (the transport)",
    ("agents", "POST /admin/connections/{connection_id}/ping"): "an action: a trust ping",
    ("operator", "POST /registrations/challenge"): "an action: issues a fresh challenge",
    ("verifier", "POST /admin/trust/refresh"): "an action: fetches the trust lists now",
    ("wallet", "POST /wallet/trust/refresh"): "an action: fetches the trust lists now",
    ("wallet", "POST /wallet/offers/{thread_id}/accept"): "an action on the offer named",
    ("wallet", "POST /wallet/offers/{thread_id}/decline"): "an action on the offer named",
    ("wallet", "POST /wallet/requests/{thread_id}/decline"): "an action on the request named",
    ("vault", "PUT /vault/{slot_id}"): "an opaque encrypted blob (application/octet-stream)",
}
_UNOPENED = Path("/nonexistent-openapi-bodies-test")  # the apps are not started


def _openapi(service: str) -> dict[str, Any]:
    app: FastAPI = build_app(service, _UNOPENED, "unused-key", "unused-key")
    document: dict[str, Any] = app.openapi()
    return document


DOCUMENTS = {service: _openapi(service) for service in SERVICES}


def _body_operations(service: str) -> dict[str, dict[str, Any]]:
    """``"METHOD /path"`` -> operation, for every operation of a body-taking method."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in DOCUMENTS[service]["paths"].items()
        for method, operation in item.items()
        if method in BODY_METHODS
    }


def _applies(where: str, service: str) -> bool:
    return where == service or (where == "agents" and service in AGENTS)


def _listed(table: dict[tuple[str, str], str], service: str, label: str) -> bool:
    return any(_applies(where, service) and name == label for where, name in table)


def _json_media(operation: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = operation["requestBody"]["content"]["application/json"]
    return media


def _documented(service: str) -> dict[str, dict[str, Any]]:
    """``"METHOD /path"`` -> JSON media type object, for each operation that declares one."""
    return {
        label: _json_media(operation)
        for label, operation in _body_operations(service).items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_body_operation_documents_a_json_body(service: str) -> None:
    missing = []
    for label, operation in _body_operations(service).items():
        if _listed(NO_JSON_BODY, service, label):
            continue
        content = operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if not isinstance(schema, dict) or not schema:
            missing.append(label)
    assert not missing, f"{service}: no application/json request body schema: {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_exceptions_are_current(service: str) -> None:
    """Each operation listed as taking no JSON body exists and documents none."""
    operations = _body_operations(service)
    documented = _documented(service)
    for (where, label), reason in NO_JSON_BODY.items():
        if not _applies(where, service):
            continue
        assert label in operations, f"{service}: {label} is listed but is not a route"
        assert label not in documented, f"{service}: {label} documents a body ({reason})"


def _schemas() -> list[Any]:
    return [
        pytest.param(service, label, media, id=f"{service}:{label}")
        for service in SERVICES
        for label, media in _documented(service).items()
    ]


@pytest.mark.parametrize(("service", "label", "media"), _schemas())
def test_each_schema_is_sound_and_its_example_fits(
    service: str, label: str, media: dict[str, Any]
) -> None:
    schema = media["schema"]
    jsonschema_rs.meta.validate(schema)  # a valid JSON Schema (2020-12, as OpenAPI 3.1 uses)
    if "$ref" in schema:  # a pydantic model's, among the components
        schema = DOCUMENTS[service]["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert schema.get("type") == "object", "a JSON body is an object"
    properties = schema.get("properties", {})
    assert set(schema.get("required", ())) <= set(properties)
    if "example" in media:
        jsonschema_rs.validate(schema, media["example"])


def test_the_schemas_refuse_what_the_handlers_refuse() -> None:
    """A check that the schemas are not vacuous: a body without a required member, or with a
    member of the wrong type, does not fit."""
    issue = _documented("hospital")["POST /credentials/issue"]["schema"]
    assert not jsonschema_rs.is_valid(issue, {"options": {}})
    assert not jsonschema_rs.is_valid(issue, {"credential": "text"})
    assert not jsonschema_rs.is_valid(
        issue, {"credential": {}, "options": {"credentialStatus": "yes"}}
    )
    verify = _documented("verifier")["POST /credentials/verify"]["schema"]
    assert jsonschema_rs.is_valid(verify, {"verifiableCredential": "eyJ...~"})
    assert not jsonschema_rs.is_valid(verify, {"verifiableCredential": 1})
    assert not jsonschema_rs.is_valid(verify, {"verifiableCredential": {}, "options": []})
    card = _documented("wallet")["POST /wallet/emergency-card"]["schema"]
    assert jsonschema_rs.is_valid(card, {"lifetime": "12h"})
    assert jsonschema_rs.is_valid(card, {"lifetime": 30})
    assert not jsonschema_rs.is_valid(card, {"lifetime": "a year"})
    assert not jsonschema_rs.is_valid(card, {"sections": ["shoeSize"]})


# --- the documented bodies against the running services ---------------------------------------

JSON_TYPE = {"content-type": "application/json"}


def _example(service: str, label: str) -> Any:
    media = _documented(service)[label]
    assert "example" in media, f"{service}: {label} documents no example"
    return media["example"]


async def _post(
    running: Running, path: str, body: Any | None, *, admin: bool = True
) -> tuple[int, Any]:
    headers = {**(running.admin if admin else {}), **JSON_TYPE}
    content = b"" if body is None else json.dumps(body).encode()
    response = await running.client.post(path, content=content, headers=headers)
    return response.status_code, response.json()


def _body_required(service: str, label: str) -> bool:
    required: bool = _body_operations(service)[label]["requestBody"]["required"]
    return required


def _codes(answer: Any) -> set[str]:
    """The error codes of an answer: ``{"code"}`` or the VC-API ``{"errors": [...]}``."""
    errors = answer.get("errors") or [answer]
    return {str(error.get("code")) for error in errors if isinstance(error, dict)}


def _required_only(service: str, label: str, values: dict[str, Any]) -> dict[str, Any]:
    """A body of exactly the schema's required members, taken from ``values``."""
    schema = _documented(service)[label]["schema"]
    body = {name: values[name] for name in schema.get("required", ())}
    jsonschema_rs.validate(schema, body)
    return body


async def test_hospital_accepts_its_documented_bodies(start: StartService) -> None:
    hospital: Running = await start("hospital")
    status, answer = await _post(
        hospital, "/credentials/issue", _example("hospital", "POST /credentials/issue")
    )
    assert status == 201, answer
    credential_id = answer["verifiableCredential"]["id"]

    # The example names an id never issued: parsed, then not found.
    status, answer = await _post(
        hospital, "/credentials/status", _example("hospital", "POST /credentials/status")
    )
    assert status == 404, answer
    changes = {"credentialId": credential_id, "credentialStatus": [{"status": "suspended"}]}
    status, answer = await _post(
        hospital,
        "/credentials/status",
        _required_only("hospital", "POST /credentials/status", changes),
    )
    assert status == 200, answer

    subject = "did:example:citizen"
    fhir = {"fhir": allergy_resource(), "subject": subject}
    status, answer = await _post(
        hospital, "/fhir/import", _required_only("hospital", "POST /fhir/import", fhir)
    )
    assert status == 201, answer
    assert [c["format"] for c in answer["credentials"]] == ["vc"]

    patient = json.loads((SAMPLES / "allergy-intolerance.json").read_text(encoding="utf-8"))
    batch = {"patients": [{"subject": subject, "fhir": patient}]}
    status, answer = await _post(
        hospital, "/batches", _required_only("hospital", "POST /batches", batch)
    )
    assert status == 202, answer
    assert answer["total"] == 1


async def test_verifier_accepts_its_documented_bodies(start: StartService) -> None:
    verifier: Running = await start("verifier")
    label = "POST /presentation-requests"
    status, answer = await _post(verifier, "/presentation-requests", _example("verifier", label))
    assert status == 201, answer
    assert answer["nonce"]

    label = "POST /admin/connections/{connection_id}/request-presentation"
    path = "/admin/connections/no-such-connection/request-presentation"
    status, answer = await _post(verifier, path, _example("verifier", label))
    # The query was read and found good; only then was the connection looked for.
    assert status == 404, answer

    # The VC-API routes answer 400 for a document that does not verify too: the required
    # member alone must get past parsing to the checks.
    for path, member in (
        ("/credentials/verify", "verifiableCredential"),
        ("/presentations/verify", "verifiablePresentation"),
        ("/presentations/submit", "presentation"),
    ):
        body = _required_only("verifier", f"POST {path}", {member: {}})
        status, answer = await _post(verifier, path, body, admin=False)
        assert status in (400, 422), answer
        assert answer["verified"] is False
        assert str(ErrorCode.PARSING_ERROR) not in _codes(answer), (path, answer)
        status, answer = await _post(verifier, path, {}, admin=False)
        assert str(ErrorCode.PARSING_ERROR) in _codes(answer), (path, answer)


async def test_operator_accepts_its_documented_bodies(start: StartService) -> None:
    operator: Running = await start("operator")
    label = "POST /admin/accreditations"
    status, answer = await _post(operator, "/admin/accreditations", _example("operator", label))
    assert status == 201, answer
    accreditation_id = answer["accreditation"]["id"]

    change = {"id": accreditation_id, "status": "suspended"}
    body = _required_only("operator", "POST /admin/accreditations/status", change)
    status, answer = await _post(operator, "/admin/accreditations/status", body)
    assert status == 200, answer
    assert answer["state"] == "suspended"

    # Optional bodies: none at all is read as {} (the registration is unknown, not the body).
    for action in ("approve", "reject"):
        label = f"POST /admin/registrations/{{registration_id}}/{action}"
        assert _body_required("operator", label) is False
        status, answer = await _post(operator, f"/admin/registrations/nobody/{action}", None)
        assert str(ErrorCode.PARSING_ERROR) not in _codes(answer), (action, answer)
        assert status != 400, answer


async def test_wallet_reads_a_missing_optional_body_as_empty(start: StartService) -> None:
    wallet: Running = await start("wallet")
    for label, path in (
        ("POST /wallet/requests/{thread_id}/approve", "/wallet/requests/nothing/approve"),
        ("POST /wallet/consents/{consent_id}/withdraw", "/wallet/consents/nothing/withdraw"),
        ("POST /wallet/emergency-card", "/wallet/emergency-card"),
    ):
        assert _body_required("wallet", label) is False
        bodies: tuple[dict[str, Any] | None, ...] = (None, {})
        for body in bodies:
            status, answer = await _post(wallet, path, body)
            # Nothing to approve, withdraw or make a card from: the body itself was fine.
            assert status == 404, (path, body, answer)
