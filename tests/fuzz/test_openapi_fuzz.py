"""Schemathesis against every service's own OpenAPI, over a real uvicorn server on 127.0.0.1,
with the admin token, so that generated requests reach the handlers.

Properties, per operation: no 500 (``not_a_server_error``), every response that the schema
documents conforms to it (``response_schema_conformance``), and no hang (each call has a
timeout; a timeout is a failure). Generation is derandomized: the same examples on every run.

Bounded for CI (``MYDATA_FUZZ_EXAMPLES``, default 12 per operation and per body strategy);
the bigger run is ``python -m bench.fuzz`` (200 by default). Each failure is reported with a
curl reproducer. Routes that parse their body themselves declare it (``agent.openapi``), so
schemathesis generates bodies from those schemas; they also get JSON objects built from the
member names the services read (``VOCABULARY``), which reach further into the handlers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.services import TOKEN, PartyService

#: Member names the services read from bodies they parse themselves (no body schema in their
#: OpenAPI): generated bodies use them so that they get past "unknown member" to the handlers.
VOCABULARY = (
    "verifiableCredential",
    "verifiablePresentation",
    "presentation",
    "credential",
    "options",
    "checks",
    "challenge",
    "domain",
    "expectedProofPurpose",
    "credentialId",
    "credentialStatus",
    "status",
    "presentation_definition",
    "input_descriptors",
    "role",
    "purpose",
    "claim_id",
    "claim_type",
    "dcql_query",
    "credentials",
    "resource",
    "resourceType",
    "patients",
    "format",
    "id",
    "type",
    "@context",
    "issuer",
    "proof",
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(VOCABULARY)
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
JSON_BODIES = st.dictionaries(st.sampled_from(VOCABULARY), JSON_VALUES, max_size=5)

EXAMPLES = int(os.environ.get("MYDATA_FUZZ_EXAMPLES", "12"))
#: Hypothesis settings of every fuzzing run: repeatable examples, no deadline, no example database.
_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
TIMEOUT = 20.0  # seconds: a request slower than this is reported as a hang
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Operations not fuzzed, and why.
SKIPPED = {
    # Sends DIDComm messages to URLs taken from the request: the fuzzer would make the
    # service call out to arbitrary hosts. Covered by the DIDComm tests.
    "POST /admin/connections/{connection_id}/send-message",
}


@pytest.fixture(scope="module", params=["hospital", "verifier", "wallet", "vault", "operator"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PartyService]:
    party = str(request.param)
    if party == "operator" and not Path(__file__).parents[2].joinpath("governance/api.py").exists():
        pytest.skip("no operator service (governance/api.py) in this checkout")
    running = PartyService(party, tmp_path_factory.mktemp(f"fuzz-{party}"))
    yield running
    running.stop()


def _fuzz(service: PartyService) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", headers=AUTH)
    session = requests.Session()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the service documents no operation"
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIPPED:
            continue
        _fuzz_documented(service, session, operation, label, failures)
        if operation.method.upper() in ("POST", "PUT") and not operation.body:
            _fuzz_undocumented_body(service, session, operation, label, failures)
    return failures


def _fuzz_documented(
    service: PartyService,
    session: requests.Session,
    operation: schemathesis.APIOperation,
    label: str,
    failures: list[str],
) -> None:
    """Schemathesis cases from the operation's own schema: no 500, documented answers
    conform, no hang."""

    @_SETTINGS
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call(
                base_url=service.url, session=session, headers=AUTH, timeout=TIMEOUT
            )
        except requests.Timeout:
            failures.append(f"{label}: no answer within {TIMEOUT} s\n  {_curl(case)}")
            return
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance],
                headers=AUTH,
            )
        except AssertionError as error:  # schemathesis failures are AssertionErrors
            failures.append(f"{label}: {response.status_code} {str(error)[:600]}\n  {_curl(case)}")

    run()


def _fuzz_undocumented_body(
    service: PartyService,
    session: requests.Session,
    operation: schemathesis.APIOperation,
    label: str,
    failures: list[str],
) -> None:
    """A route that parses its body itself documents none, so schemathesis sends none:
    send it JSON objects made of the services' member names instead (no 500, no hang)."""

    @_SETTINGS
    @given(case=operation.as_strategy(), body=JSON_BODIES)
    def run(case: schemathesis.Case, body: dict[str, object]) -> None:
        url = service.url + case.formatted_path
        try:
            response = session.request(
                case.method, url, json=body, headers=AUTH, params=case.query, timeout=TIMEOUT
            )
        except requests.Timeout:
            failures.append(f"{label}: no answer within {TIMEOUT} s (body {body!r:.300})")
            return
        if response.status_code >= 500:
            failures.append(
                f"{label}: {response.status_code} {response.text[:300]}\n"
                f"  curl -X {case.method} '{url}' -H 'Authorization: Bearer {TOKEN}' "
                f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'"
            )

    run()


def _curl(case: schemathesis.Case) -> str:
    try:
        return case.as_curl_command(headers=AUTH)
    except Exception as error:
        return f"(no curl command: {error})"


def test_no_500_no_schema_violation_no_hang(service: PartyService) -> None:
    failures = _fuzz(service)
    log = service.log()
    if "Traceback" in log:
        failures.append(f"the service logged a traceback:\n{log[log.index('Traceback') :][:3000]}")
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failure(s) on {service.party}:\n" + "\n".join(unique[:40])
