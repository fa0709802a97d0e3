"""The verifier service over HTTP (uvicorn in a subprocess): VC-API status codes, requests,
submissions, every rejection named by its check, and never a 500."""

from __future__ import annotations

import asyncio
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from agent.clock import utcnow
from agent.credentials.proofs import add_proof
from agent.credentials.token_status_list import TokenStatus
from agent.dids import DIDResolver
from agent.storage import generate_raw_key, open_store
from tests.verifier.conftest import Party, _party
from tests.verifier.service import VerifierService, free_port
from tests.verifier.test_verify import allergy_credential
from tests.verifier.world import (
    accreditation,
    claim_evidence,
    emergency_card,
    presentation,
    status_token,
)
from verifier.policy import CLAIM_FIELDS as POLICY_FIELDS
from verifier.policy import CLAIM_TYPE_MISMATCH
from verifier.request import verify_presentation_request
from verifier.trust import TrustRegistry

DEFINITION = {
    "id": "institutional-claim",
    "input_descriptors": [
        {
            "id": "claim",
            "constraints": {
                "limit_disclosure": "required",
                "fields": [
                    {"path": ["$.claimType"]},
                    {"path": ["$.diagnoses"]},
                    {"path": ["$.chargeTotal"]},
                    {"path": ["$.encounter"]},
                    {"path": ["$.procedures"]},
                    {"path": ["$.charges"]},
                ],
            },
        }
    ],
}
CLAIM_FIELDS = list(POLICY_FIELDS["institutional"])


@dataclass
class World:
    hospital: Party
    citizen: Party
    operator: Party
    stranger: Party
    service: VerifierService
    did: str
    status_url: str
    statuses: dict[int, int]


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    tokens: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        body = type(self).tokens.get(self.path, "").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/statuslist+jwt")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("verifier-api")

    async def parties() -> tuple[Party, Party, Party, Party, dict[str, Any]]:
        store = await open_store(home / "parties.sqlite", raw_key=generate_raw_key())
        hospital, citizen, operator, stranger = [await _party(store) for _ in range(4)]
        trust = TrustRegistry({operator.did}, DIDResolver())
        await trust.add_accreditation(accreditation(operator, hospital.did))
        return hospital, citizen, operator, stranger, trust.export()

    hospital, citizen, operator, stranger, exported = asyncio.run(parties())
    (home / "trust.json").write_text(json.dumps(exported))
    status_port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", status_port), _StatusHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service = VerifierService(
        f"sqlite://{home / 'verifier.sqlite'}",
        generate_raw_key(),
        home,
        VERIFIER_OPERATORS=operator.did,
        VERIFIER_TRUST_CACHE=str(home / "trust.json"),
        VERIFIER_PURPOSE="claims",
        VERIFIER_ROLE="insurer",
        VERIFIER_INSECURE_HOSTS="127.0.0.1",
    )
    try:
        did = service.client.get("/verifier").json()["did"]
        world = World(
            hospital,
            citizen,
            operator,
            stranger,
            service,
            did,
            f"http://127.0.0.1:{status_port}/lists/1",
            {},
        )
        _StatusHandler.tokens["/lists/1"] = status_token(
            hospital, {}, iat=utcnow(), uri=world.status_url
        )
        yield world
    finally:
        service.stop()
        server.shutdown()
        server.server_close()
    assert "Traceback" not in service.log(), service.log()


def _request(world: World, claim_id: str, definition: dict[str, Any] = DEFINITION) -> str:
    response = world.service.admin.post(
        "/presentation-requests",
        json={
            "presentation_definition": definition,
            "role": "insurer",
            "claim_id": claim_id,
            "claim_type": "institutional",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["nonce"])


def _evidence(
    world: World, holder: Party | None = None, issuer: Party | None = None, **kwargs: Any
) -> str:
    return claim_evidence(
        issuer or world.hospital,
        holder or world.citizen,
        iat=utcnow() - timedelta(days=1),
        **kwargs,
    )


def _submit(world: World, text: str | dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = world.service.client.post("/presentations/submit", json={"presentation": text})
    assert response.status_code != 500, response.text
    return response.status_code, response.json()


def _failed(body: dict[str, Any]) -> dict[str, str]:
    return {e.get("check", "?"): e["code"] for e in body["errors"]}


def _present(
    world: World,
    sd: str,
    nonce: str,
    *,
    holder: Party | None = None,
    aud: str | None = None,
    disclose: list[str] = CLAIM_FIELDS,
) -> str:
    return presentation(
        sd,
        holder or world.citizen,
        disclose=disclose,
        nonce=nonce,
        aud=aud or world.did,
        iat=utcnow(),
    )


# --- VC-API ------------------------------------------------------------------------------------


def test_credentials_verify_status_codes(world: World) -> None:
    from tests.verifier.test_verify import NOW  # noqa: F401 - the sample's clock

    client = world.service.client
    credential = allergy_credential(world.hospital, world.citizen)
    ok = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["verified"] is True
    assert body["errors"] == []
    assert {"proof", "issuer", "trust"} <= set(body["checks"])

    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["fhirResource"]["criticality"] = "low"
    bad = client.post("/credentials/verify", json={"verifiableCredential": tampered})
    assert bad.status_code == 400
    assert bad.json()["verified"] is False
    assert _failed(bad.json()) == {"proof": "PROOF_VERIFICATION_ERROR"}

    untrusted = allergy_credential(world.stranger, world.citizen)
    bad = client.post("/credentials/verify", json={"verifiableCredential": untrusted})
    assert bad.status_code == 400
    assert _failed(bad.json()) == {"trust": "issuerNotTrusted"}

    only = client.post(
        "/credentials/verify",
        json={"verifiableCredential": tampered, "options": {"checks": ["format"]}},
    )
    assert only.status_code == 200

    for payload, status in [
        (b"{not json", 400),
        (b"[]", 400),
        (json.dumps({"verifiableCredential": 5}).encode(), 400),
        (
            json.dumps(
                {"verifiableCredential": credential, "options": {"checks": ["nope"]}}
            ).encode(),
            400,
        ),
        (json.dumps({"verifiableCredential": credential, "options": []}).encode(), 400),
        (b'{"verifiableCredential": "' + b"a" * (2 * 1024 * 1024) + b'"}', 413),
    ]:
        response = client.post(
            "/credentials/verify", content=payload, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, (payload[:60], response.text)
        assert response.json()["verified"] is False
        assert response.json()["errors"]


def test_credentials_verify_accepts_an_sd_jwt_vc(world: World) -> None:
    card = emergency_card(world.hospital, iat=utcnow() - timedelta(days=1))
    response = world.service.client.post("/credentials/verify", json={"verifiableCredential": card})
    assert response.status_code == 200, response.text
    assert "allergies" not in response.text  # the report carries no health data


def test_presentations_verify_with_challenge_and_domain(world: World) -> None:
    credential = allergy_credential(world.hospital, world.citizen)
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": world.citizen.did,
        "verifiableCredential": [credential],
    }
    signed = add_proof(
        vp,
        world.citizen.signer,
        created=utcnow(),
        proof_purpose="authentication",
        challenge="c-1",
        domain="https://verifier.example",
    )
    client = world.service.client
    options = {"challenge": "c-1", "domain": "https://verifier.example"}
    ok = client.post(
        "/presentations/verify", json={"verifiablePresentation": signed, "options": options}
    )
    assert ok.status_code == 200, ok.text
    wrong = client.post(
        "/presentations/verify",
        json={"verifiablePresentation": signed, "options": {**options, "challenge": "c-2"}},
    )
    assert wrong.status_code == 400
    assert "challenge" in _failed(wrong.json())
    junk = client.post("/presentations/verify", json={"verifiablePresentation": []})
    assert junk.status_code == 400


# --- requests and submissions ----------------------------------------------------------------


def test_presentation_requests_need_the_admin_token(world: World) -> None:
    response = world.service.client.post(
        "/presentation-requests", json={"presentation_definition": DEFINITION}
    )
    assert response.status_code == 401
    bad = world.service.admin.post("/presentation-requests", json={"presentation_definition": {}})
    assert bad.status_code in (400, 422)


def test_signed_request_verifies_for_the_wallet(world: World) -> None:
    # This verifier's role is the insurer's: a request names the claim it is made for.
    response = world.service.admin.post(
        "/presentation-requests",
        json={"presentation_definition": DEFINITION, "claim_id": "c-0", "claim_type": "oral"},
    )
    body = response.json()
    claims = asyncio.run(
        verify_presentation_request(body["request"], resolver=DIDResolver(), now=utcnow())
    )
    assert claims["nonce"] == body["nonce"]
    assert claims["client_id"] == world.did
    assert claims["purpose"] == "claims"


def test_submission_accepted_then_replay_and_second_claim_refused(world: World) -> None:
    sd = _evidence(world, status_idx=1, status_uri=world.status_url)
    nonce = _request(world, "claim-A")
    text = _present(world, sd, nonce)
    status, body = _submit(world, text)
    assert status == 200, body
    assert body["decision"]["accepted"] is True
    assert set(body["decision"]["show"]) >= {"diagnoses", "chargeTotal"}

    status, body = _submit(world, text)
    assert status == 422
    assert _failed(body) == {"challenge": "nonceReplayed"}

    # The same evidence, freshly presented for another claim: flagged.
    second = _present(world, sd, _request(world, "claim-B"))
    status, body = _submit(world, second)
    assert status == 422, body
    assert body["verified"] is True
    assert body["decision"]["flags"] == ["duplicateClaim"]


def test_an_insurer_request_names_a_known_claim_as_over_didcomm(world: World) -> None:
    """POST /presentation-requests checks the claim as the DIDComm route does (one check)."""
    refused = {
        "insurer role, no claim_id": ({"role": "insurer", "claim_type": "oral"}, "claim_id"),
        "default role (insurer), no claim_id": ({}, "claim_id"),
        "no claim_type": ({"role": "insurer", "claim_id": "C-1"}, "claim_type"),
        "unknown claim_type": (
            {"role": "insurer", "claim_id": "C-1", "claim_type": "nonsense"},
            "claim_type",
        ),
        "a claim for another role": ({"role": "generic", "claim_id": "C-1"}, "claim_id"),
    }
    for case, (extra, field) in refused.items():
        response = world.service.admin.post(
            "/presentation-requests", json={"presentation_definition": DEFINITION, **extra}
        )
        assert response.status_code == 400, (case, response.text)
        error = response.json()
        assert error["code"] == "presentationRequestInvalid", (case, error)
        assert error["details"]["field"] == field, (case, error)


def test_evidence_for_another_claim_type_is_refused_with_its_check(world: World) -> None:
    sd = _evidence(world)  # claimType: institutional
    response = world.service.admin.post(
        "/presentation-requests",
        json={
            "presentation_definition": DEFINITION,
            "role": "insurer",
            "claim_id": "claim-pharmacy",
            "claim_type": "pharmacy",
        },
    )
    assert response.status_code == 201, response.text
    text = _present(world, sd, response.json()["nonce"], disclose=CLAIM_FIELDS)
    status, body = _submit(world, text)
    assert status == 422, body
    assert _failed(body) == {"fields": CLAIM_TYPE_MISMATCH}
    assert body["decision"]["accepted"] is False
    assert any("not for a pharmacy claim" in r for r in body["decision"]["reasons"])


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "expired",
        "not yet valid",
        "revoked",
        "suspended",
        "untrusted issuer",
        "wrong holder",
        "wrong audience",
        "missing requested field",
        "malformed",
    ],
)
def test_every_rejection_names_its_check(world: World, case: str) -> None:
    nonce = _request(world, f"claim-{case}")
    expected: dict[str, str]
    if case == "tampered":
        jwt, rest = _present(world, _evidence(world), nonce).split("~", 1)
        head, body, sig = jwt.split(".")
        flipped = f"{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"
        text: str | dict[str, Any] = f"{head}.{body}.{flipped}~{rest}"
        # The holder signed the original: its sd_hash no longer matches either.
        expected = {"proof": "PROOF_VERIFICATION_ERROR", "holder": "sdJwtKeyBindingMismatch"}
    elif case == "expired":
        text = _present(world, _evidence(world, exp=utcnow() - timedelta(hours=1)), nonce)
        expected = {"validity": "RANGE_ERROR"}
    elif case == "not yet valid":
        text = _present(world, _evidence(world, nbf=utcnow() + timedelta(days=1)), nonce)
        expected = {"validity": "RANGE_ERROR"}
    elif case in ("revoked", "suspended"):
        idx = 5 if case == "revoked" else 6
        uri = world.status_url.replace("/lists/1", "/lists/2")
        _StatusHandler.tokens["/lists/2"] = status_token(
            world.hospital,
            {5: TokenStatus.INVALID, 6: TokenStatus.SUSPENDED},
            iat=utcnow(),
            uri=uri,
        )
        text = _present(world, _evidence(world, status_idx=idx, status_uri=uri), nonce)
        expected = {"status": "credentialRevoked" if case == "revoked" else "credentialSuspended"}
    elif case == "untrusted issuer":
        text = _present(world, _evidence(world, issuer=world.stranger), nonce)
        expected = {"trust": "issuerNotTrusted"}
    elif case == "wrong holder":
        text = _present(world, _evidence(world), nonce, holder=world.stranger)
        expected = {"holder": "PROOF_VERIFICATION_ERROR"}
    elif case == "wrong audience":
        text = _present(world, _evidence(world), nonce, aud="did:key:z6MkSomeoneElse")
        expected = {"challenge": "INVALID_DOMAIN_ERROR"}
    elif case == "missing requested field":
        text = _present(world, _evidence(world), nonce, disclose=["diagnoses"])
        expected = {"fields": "requestedFieldMissing"}
    else:
        text = "eyJhbGciOiJFZERTQSJ9.e30.AAAA~junk~"
        expected = {"format": "MALFORMED_PROOF_ERROR"}
    status, body = _submit(world, text)
    assert status == 422, body
    assert _failed(body) == expected, body
    assert body["decision"]["accepted"] is False


def test_vp_submission_with_nonce(world: World) -> None:
    nonce = _request(
        world,
        "claim-vp",
        {
            "id": "a",
            "input_descriptors": [
                {
                    "id": "allergy",
                    "constraints": {"fields": [{"path": ["$.credentialSubject.fhirResource"]}]},
                }
            ],
        },
    )
    credential = allergy_credential(world.hospital, world.citizen)
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": world.citizen.did,
        "verifiableCredential": [credential],
    }
    signed = add_proof(
        vp,
        world.citizen.signer,
        created=utcnow(),
        proof_purpose="authentication",
        challenge=nonce,
        domain=world.did,
    )
    status, body = _submit(world, signed)
    # Verified; the insurer policy refuses an allergy as claim evidence (fields missing).
    assert body["verified"] is True, body
    assert status == 422
    assert body["decision"]["accepted"] is False
    status, body = _submit(world, signed)
    assert _failed(body) == {"challenge": "nonceReplayed"}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"null",
        b'{"presentation": 5}',
        b'{"presentation": "x"}',
        b'{"presentation": {}}',
        b'{"presentation": "a.b.c~"}',
        b'{"presentation": {"type": "VerifiablePresentation"}}',
    ],
)
def test_garbage_submissions_never_500(world: World, payload: bytes) -> None:
    response = world.service.client.post(
        "/presentations/submit", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 413, 422), response.text
