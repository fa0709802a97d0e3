"""A presentation definition's field filters: every keyword's value is checked when the request
is made (``presentationRequestInvalid`` naming the keyword), evaluation follows JSON Schema
(``true`` is not ``1``), and a definition stored before these checks (a bad ``pattern``, a
non-array ``enum``) never turns a citizen's answer into a 500: the ``fields`` check fails
with ``presentationRequestInvalid`` instead."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import utcnow
from agent.credentials.proofs import add_proof
from agent.errors import ErrorCode, InvalidInputError
from agent.storage import generate_raw_key, open_store
from tests.verifier.conftest import Party, _party
from tests.verifier.service import VerifierService
from tests.verifier.test_verify import allergy_credential
from tests.verifier.world import claim_evidence, presentation
from verifier.nonces import NonceStore
from verifier.report import Check
from verifier.request import (
    MAX_PATTERN_LENGTH,
    _filter_accepts,
    match_definition,
    validate_definition,
)

CLAIM_TYPE_PATH = "$.claimType"
ALLERGY_PATH = "$.credentialSubject.fhirResource.resourceType"


def _definition(filter_: object, path: str = CLAIM_TYPE_PATH) -> dict[str, Any]:
    return {
        "id": "filtered",
        "input_descriptors": [
            {"id": "one", "constraints": {"fields": [{"path": [path], "filter": filter_}]}}
        ],
    }


GOOD_FILTERS = [
    None,
    {},
    {"type": "string"},
    {"type": "integer"},
    {"type": "null"},
    {"const": "institutional"},
    {"const": None},
    {"const": {"nested": [1, True, None]}},
    {"enum": ["institutional", 5, None, {"a": 1}]},
    {"pattern": "^inst"},
    {"pattern": ""},
    {"pattern": "x" * MAX_PATTERN_LENGTH},
    {"type": "string", "enum": ["institutional"], "pattern": "al$", "const": "institutional"},
]

BAD_FILTERS = {
    "pattern unclosed set": ({"pattern": "[unclosed"}, "pattern"),
    "pattern unbalanced group": ({"pattern": "(a"}, "pattern"),
    "pattern bad repeat": ({"pattern": "*a"}, "pattern"),
    "pattern huge repeat": ({"pattern": "a{4294967296}"}, "pattern"),
    "pattern not a string": ({"pattern": 5}, "pattern"),
    "pattern null": ({"pattern": None}, "pattern"),
    "pattern too long": ({"pattern": "x" * (MAX_PATTERN_LENGTH + 1)}, "pattern"),
    "enum a number": ({"enum": 5}, "enum"),
    "enum a string": ({"enum": "institutional"}, "enum"),
    "enum empty": ({"enum": []}, "enum"),
    "enum an object": ({"enum": {"a": 1}}, "enum"),
    "type unknown name": ({"type": "str"}, "type"),
    "type a list": ({"type": ["string", "null"]}, "type"),
    "type a number": ({"type": 1}, "type"),
    "type null": ({"type": None}, "type"),
    "unsupported keyword": ({"minimum": 3}, "minimum"),
}


@pytest.mark.parametrize("filter_", GOOD_FILTERS)
def test_good_filters_are_accepted(filter_: object) -> None:
    assert validate_definition(_definition(filter_))


@pytest.mark.parametrize("case", list(BAD_FILTERS))
def test_bad_filter_values_are_refused_naming_the_keyword(case: str) -> None:
    filter_, keyword = BAD_FILTERS[case]
    with pytest.raises(InvalidInputError) as caught:
        validate_definition(_definition(filter_))
    error = caught.value
    assert error.code is ErrorCode.REQUEST_INVALID
    assert error.details["keyword"] == keyword
    assert error.details["path"] == "input_descriptors[0].constraints.fields[0].filter"
    assert keyword in error.message


@pytest.mark.parametrize("filter_", [[1], "string", 5, True])
def test_a_filter_that_is_not_an_object_is_refused(filter_: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_definition(_definition(filter_))
    assert caught.value.code is ErrorCode.REQUEST_INVALID
    assert "must be an object" in caught.value.message


def test_evaluation_follows_json_schema() -> None:
    cases: list[tuple[dict[str, Any], object, bool]] = [
        ({"const": 1}, 1, True),
        ({"const": 1}, 1.0, True),
        ({"const": 1}, True, False),  # true is not 1 (Python's True == 1)
        ({"const": True}, 1, False),
        ({"const": False}, 0, False),
        ({"const": None}, None, True),
        ({"const": None}, 0, False),
        ({"const": {"a": [1, True]}}, {"a": [1.0, True]}, True),
        ({"const": {"a": [1, True]}}, {"a": [1, 1]}, False),
        ({"enum": [1, "x"]}, True, False),
        ({"enum": [1, "x"]}, "x", True),
        ({"enum": [[0]]}, [False], False),
        ({"type": "integer"}, 2.0, True),
        ({"type": "integer"}, 2.5, False),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"type": "boolean"}, True, True),
        ({"type": "string"}, 5, False),
        ({"pattern": "^inst"}, "institutional", True),
        ({"pattern": "^inst"}, "oral", False),
        ({"pattern": "^5"}, 5, False),  # a pattern applies to strings only
    ]
    for filter_, value, expected in cases:
        assert _filter_accepts(filter_, value) is expected, (filter_, value)


@pytest.mark.parametrize("case", list(BAD_FILTERS))
def test_evaluating_a_bad_filter_never_raises(case: str) -> None:
    """Defence in depth: whatever a stored filter holds, it is 'not satisfied', not an error."""
    filter_, _ = BAD_FILTERS[case]
    for value in ("institutional", 5, None, True, [1], {"a": 1}):
        assert _filter_accepts(filter_, value) in (True, False)
    assert _filter_accepts({"pattern": "[unclosed"}, "[unclosed") is False
    assert _filter_accepts({"enum": 5}, 5) is False
    assert _filter_accepts({"type": ["string"]}, "x") is False
    assert _filter_accepts([1], 1) is False


def test_match_definition_on_a_bad_stored_definition_is_a_typed_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        match_definition(_definition({"pattern": "[unclosed"}), [{"claimType": "x"}])
    assert caught.value.code is ErrorCode.REQUEST_INVALID
    matched = match_definition(_definition({"pattern": "^inst"}), [{"claimType": "institutional"}])
    assert matched.missing == ()
    refused = match_definition(_definition({"pattern": "^inst"}), [{"claimType": "oral"}])
    assert refused.missing == (("one", (CLAIM_TYPE_PATH,)),)


# --- over HTTP: the verifier service on 127.0.0.1 ----------------------------------------------


@dataclass
class Parties:
    hospital: Party
    citizen: Party


@dataclass
class Verifier:
    store_uri: str
    key: str
    home: Path
    service: VerifierService
    did: str

    def restart(self) -> None:
        self.service.stop()
        self.service = VerifierService(self.store_uri, self.key, self.home)
        assert self.service.client.get("/verifier").json()["did"] == self.did


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Parties:
    home = tmp_path_factory.mktemp("filter-parties")

    async def make() -> Parties:
        store = await open_store(home / "parties.sqlite", raw_key=generate_raw_key())
        try:
            return Parties(await _party(store), await _party(store))
        finally:
            await store.close()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifier]:
    home = tmp_path_factory.mktemp("filter-verifier")
    store_uri, key = f"sqlite://{home / 'verifier.sqlite'}", generate_raw_key()
    service = VerifierService(store_uri, key, home)
    running = Verifier(store_uri, key, home, service, service.client.get("/verifier").json()["did"])
    try:
        yield running
    finally:
        running.service.stop()
    for log in home.glob("verifier-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()


def _create(verifier: Verifier, definition: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = verifier.service.admin.post(
        "/presentation-requests", json={"presentation_definition": definition}
    )
    return response.status_code, response.json()


def _submit(verifier: Verifier, answer: str | dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = verifier.service.client.post("/presentations/submit", json={"presentation": answer})
    assert response.status_code != 500, response.text
    return response.status_code, response.json()


def _failed(body: dict[str, Any]) -> dict[str, str]:
    return {e.get("check", "?"): e["code"] for e in body["errors"]}


def _sd_jwt_answer(parties: Parties, verifier: Verifier, nonce: str) -> str:
    evidence = claim_evidence(parties.hospital, parties.citizen, iat=utcnow() - timedelta(days=1))
    return presentation(
        evidence,
        parties.citizen,
        disclose=["claimType"],
        nonce=nonce,
        aud=verifier.did,
        iat=utcnow(),
    )


def _vp_answer(parties: Parties, verifier: Verifier, nonce: str) -> dict[str, Any]:
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": parties.citizen.did,
        "verifiableCredential": [allergy_credential(parties.hospital, parties.citizen)],
    }
    return add_proof(
        vp,
        parties.citizen.signer,
        created=utcnow(),
        proof_purpose="authentication",
        challenge=nonce,
        domain=verifier.did,
    )


@pytest.mark.parametrize("case", list(BAD_FILTERS))
def test_a_request_with_a_bad_filter_is_refused_before_a_nonce(
    verifier: Verifier, case: str
) -> None:
    filter_, keyword = BAD_FILTERS[case]
    status, body = _create(verifier, _definition(filter_))
    assert status == 400, body
    assert body["code"] == "presentationRequestInvalid"
    assert body["details"]["keyword"] == keyword
    assert keyword in body["message"]


def test_good_filters_are_applied_to_the_answer(parties: Parties, verifier: Verifier) -> None:
    status, made = _create(verifier, _definition({"type": "string", "pattern": "^inst"}))
    assert status == 201, made
    status, body = _submit(verifier, _sd_jwt_answer(parties, verifier, made["nonce"]))
    assert status == 200, body
    assert body["decision"]["accepted"] is True

    status, made = _create(verifier, _definition({"enum": ["oral", "pharmacy"]}))
    assert status == 201, made
    status, body = _submit(verifier, _sd_jwt_answer(parties, verifier, made["nonce"]))
    assert status == 422, body
    assert _failed(body) == {"fields": "requestedFieldMissing"}

    status, made = _create(
        verifier, _definition({"const": "AllergyIntolerance"}, path=ALLERGY_PATH)
    )
    assert status == 201, made
    status, body = _submit(verifier, _vp_answer(parties, verifier, made["nonce"]))
    assert status == 200, body
    assert body["decision"]["accepted"] is True


def test_a_stored_definition_with_a_bad_filter_never_500s(
    parties: Parties, verifier: Verifier
) -> None:
    """Requests stored before filter values were checked: the answer is refused by its
    ``fields`` check (``presentationRequestInvalid``), never an internal error."""
    bad = {
        "sd-jwt pattern": (_definition({"pattern": "[unclosed"}), "sd-jwt"),
        "sd-jwt enum": (_definition({"enum": 5}), "sd-jwt"),
        "sd-jwt type": (_definition({"type": ["string"]}), "sd-jwt"),
        "vp pattern": (_definition({"pattern": "(a"}, path=ALLERGY_PATH), "vp"),
        "vp enum": (_definition({"enum": "AllergyIntolerance"}, path=ALLERGY_PATH), "vp"),
    }

    async def store_requests() -> dict[str, str]:
        # As an older verifier stored them: NonceStore.issue checks nothing.
        store = await open_store(verifier.store_uri, raw_key=verifier.key)
        try:
            nonces = NonceStore(store)
            return {
                case: (
                    await nonces.issue(
                        audience=verifier.did,
                        request={"presentation_definition": definition, "context": {}},
                    )
                ).nonce
                for case, (definition, _) in bad.items()
            }
        finally:
            await store.close()

    verifier.service.stop()
    stored = asyncio.run(store_requests())
    verifier.restart()
    for case, (_, kind) in bad.items():
        nonce = stored[case]
        answer = (
            _sd_jwt_answer(parties, verifier, nonce)
            if kind == "sd-jwt"
            else _vp_answer(parties, verifier, nonce)
        )
        status, body = _submit(verifier, answer)
        assert status == 422, (case, body)
        assert _failed(body) == {str(Check.FIELDS): "presentationRequestInvalid"}, (case, body)
        assert body["decision"]["accepted"] is False
        # The request can never be answered; its nonce is spent like any answered one.
        status, body = _submit(verifier, answer)
        assert status == 422, (case, body)
        assert _failed(body)["challenge"] == "nonceReplayed", (case, body)
    assert "Traceback" not in verifier.service.log()


def test_a_purpose_that_is_not_text_is_refused(verifier: Verifier) -> None:
    """It was dropped silently and the request made without one."""
    response = verifier.service.admin.post(
        "/presentation-requests", json={"presentation_definition": {}, "purpose": 5}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "presentationRequestInvalid"
    assert response.json()["details"] == {"field": "purpose"}


def test_a_didcomm_request_without_a_purpose_says_how_to_give_one(verifier: Verifier) -> None:
    """This verifier runs without ``--purpose``: a request must name its purpose, and the
    refusal says the two ways (it said only "purpose must be a non-empty string", QA)."""
    response = verifier.service.admin.post(
        "/admin/connections/no-such-connection/request-presentation", json={}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "presentationRequestInvalid"
    assert body["details"] == {"field": "purpose"}
    assert "--purpose" in body["message"]
    assert '"purpose"' in body["message"]


def test_a_null_purpose_is_the_verifier_s_own(verifier: Verifier) -> None:
    """``"purpose": null`` is as if left out: this verifier has none, so the refusal still
    says how to give one (a configured one would be used: review)."""
    response = verifier.service.admin.post(
        "/admin/connections/no-such-connection/request-presentation", json={"purpose": None}
    )
    assert response.status_code == 400, response.text
    assert "--purpose" in response.json()["message"]
    made = verifier.service.admin.post(
        "/presentation-requests",
        json={"presentation_definition": _definition(None), "purpose": None},
    )
    assert made.status_code == 201, made.text
