"""JSON logs: one object per line, a request id on every line of a request, echoed to the
client; no health datum, token or query string in any line."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from agent.observability import QUIET_LOGGERS, JsonFormatter, configure_logging, redact
from agent.service import create_agent_app
from agent.storage import generate_raw_key
from tests.operations.conftest import (
    ADMIN_TOKEN,
    MARKER,
    SERVICES,
    LogCapture,
    allergy_resource,
    config,
)

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("service", SERVICES)
async def test_a_sane_request_id_is_echoed_and_logged(
    start: Any, json_logs: LogCapture, service: str
) -> None:
    running = await start(service)
    response = await running.client.get("/healthz", headers={"X-Request-ID": "trace-4711-abcd"})
    assert response.headers["x-request-id"] == "trace-4711-abcd"
    access = [line for line in json_logs.lines() if line["logger"] == "mydata.access"]
    assert access, json_logs.text
    line = access[-1]
    assert line["request_id"] == "trace-4711-abcd"
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/healthz",
        "/healthz",
        200,
    )
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= set(line)


@pytest.mark.parametrize("given", [None, "short", "has spaces in it", "x" * 200, "ünïcode-id-123"])
async def test_a_missing_or_odd_request_id_is_replaced(
    start: Any, json_logs: LogCapture, given: str | None
) -> None:
    running = await start("vault")
    headers = {} if given is None else {"X-Request-ID": given.encode()}
    first = await running.client.get("/healthz", headers=headers)
    second = await running.client.get("/healthz", headers=headers)
    made = first.headers["x-request-id"]
    assert HEX_ID.fullmatch(made)
    assert second.headers["x-request-id"] != made  # one per request
    assert made in json_logs.text
    if given:
        assert given not in json_logs.text


async def test_every_line_of_a_request_carries_its_id(start: Any, json_logs: LogCapture) -> None:
    running = await start("hospital")
    response = await running.client.get(
        "/status-lists/0000000000000000", headers={"X-Request-ID": "req-unknown-list-1"}
    )
    assert response.status_code == 404
    mine = [line for line in json_logs.lines() if line.get("request_id") == "req-unknown-list-1"]
    loggers = {line["logger"] for line in mine}
    # The refusal the service logs and the access line, both with the id.
    assert "agent.service" in loggers
    assert "mydata.access" in loggers
    access = next(line for line in mine if line["logger"] == "mydata.access")
    assert access["route"] == "/status-lists/{list_id}"


async def test_no_health_datum_token_or_query_in_the_hospital_logs(
    start: Any, json_logs: LogCapture
) -> None:
    running = await start("hospital")
    body = {"fhir": allergy_resource(), "subject": "did:example:citizen", "formats": ["vc"]}
    issued = await running.client.post(
        f"/fhir/import?note={MARKER}", json=body, headers=running.admin
    )
    assert issued.status_code == 201, issued.text
    assert MARKER in issued.text  # the credential carries it; the logs must not
    refused = await running.client.post(
        "/fhir/import", json=body, headers={"Authorization": f"Bearer {MARKER}"}
    )
    assert refused.status_code == 401
    invalid = await running.client.post(
        "/fhir/import", json={**body, "subject": MARKER}, headers=running.admin
    )
    assert invalid.status_code in (400, 422)
    text = json_logs.text
    assert "/fhir/import" in text  # the requests were logged
    assert MARKER not in text
    assert ADMIN_TOKEN not in text
    assert "?" not in "".join(line.get("path", "") for line in json_logs.lines())


async def test_no_health_datum_in_the_verifier_logs(start: Any, json_logs: LogCapture) -> None:
    hospital = await start("hospital")
    verifier = await start("verifier")
    body = {"fhir": allergy_resource(), "subject": "did:example:citizen", "formats": ["vc"]}
    issued = await hospital.client.post("/fhir/import", json=body, headers=hospital.admin)
    credential = issued.json()["credentials"][0]["credential"]
    tampered = json.loads(json.dumps(credential).replace(MARKER, MARKER + "-CHANGED"))
    answer = await verifier.client.post(
        "/credentials/verify",
        json={"verifiableCredential": tampered},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert answer.status_code == 400
    assert "/credentials/verify" in json_logs.text
    assert MARKER not in json_logs.text
    assert ADMIN_TOKEN not in json_logs.text


def test_a_bearer_token_in_a_message_is_redacted() -> None:
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "upstream said %s",
        ("Authorization: Bearer abc.def",),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert "abc.def" not in line["message"]
    assert line["message"] == "upstream said Authorization: Bearer [redacted]"
    assert redact("basic dXNlcjpwYXNz and more") == "basic [redacted] and more"


def test_text_format_stays_available(capsys: pytest.CaptureFixture[str]) -> None:
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in loggers]
    handler = configure_logging("info", "text")
    try:
        logging.getLogger("ops.test").info("plain line with Bearer sekret")
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    err = capsys.readouterr().err
    assert "INFO ops.test [-] plain line with Bearer [redacted]" in err
    assert not err.lstrip().startswith("{")


async def test_an_unhandled_error_is_a_bare_500_logged_once_with_its_id(
    tmp_path: Path, json_logs: LogCapture
) -> None:
    router = APIRouter()

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError(f"internal detail {MARKER[:3]}-not-for-clients")

    app = create_agent_app(
        config(f"sqlite://{tmp_path / 'agent.db'}", generate_raw_key()), public_routers=[router]
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service.test") as client,
    ):
        response = await client.get("/broken", headers={"X-Request-ID": "broken-request-1"})
    assert response.status_code == 500
    assert response.json() == {
        "code": "internalError",
        "message": "internal error; see the service's logs",
    }
    assert response.headers["x-request-id"] == "broken-request-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    mine = [line for line in json_logs.lines() if line.get("request_id") == "broken-request-1"]
    tracebacks = [line for line in mine if "exception" in line]
    assert len(tracebacks) == 1
    assert "not-for-clients" in tracebacks[0]["exception"]
    assert [line["status"] for line in mine if line.get("status")] == [500]
