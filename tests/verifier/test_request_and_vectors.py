"""Presentation requests (PE 2.0, JSONPath, signed JWS) and the foreign proof formats:
Ed25519Signature2020 (ACA-Py) and SMART Health Cards (ES256), driven by published vectors."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.credentials.suites.ed25519_signature_2020 import add_ed25519_signature_2020
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError, ProofError, SignatureError
from agent.keys import AskarKeyStore, decode_multikey
from agent.storage import generate_raw_key, open_store
from tests.verifier.conftest import Party
from tests.verifier.world import NOW
from verifier.nonces import NonceStore
from verifier.report import Check, CheckStatus
from verifier.request import (
    create_presentation_request,
    json_path,
    match_definition,
    validate_definition,
    verify_presentation_request,
)
from verifier.shc import decode_shc_numeric, verify_smart_health_card
from verifier.verify import verify_credential

DATA = Path(__file__).parent / "data"


def test_json_path_subset() -> None:
    doc = {"a": {"b": [1, {"c": 2}]}, "x y": 3}
    assert json_path(doc, "$.a.b[1].c") == [(("a", "b", 1, "c"), 2)]
    assert json_path(doc, "$['x y']") == [(("x y",), 3)]
    assert [p for p, _ in json_path(doc, "$.a.b[*]")] == [("a", "b", 0), ("a", "b", 1)]
    assert json_path(doc, "$.nothing") == []
    for bad in ["a.b", "$..a", "$[?(@.a)]", "$.a[-1]", 7]:
        with pytest.raises(InvalidInputError) as caught:
            json_path(doc, bad)  # type: ignore[arg-type]
        assert caught.value.code is ErrorCode.REQUEST_INVALID


@pytest.mark.parametrize(
    "definition",
    [
        {},
        {"id": "x", "input_descriptors": []},
        {"id": "x", "input_descriptors": [{"id": "a", "constraints": {"fields": [{}]}}]},
        {
            "id": "x",
            "input_descriptors": [
                {
                    "id": "a",
                    "constraints": {"fields": [{"path": ["$.a"], "filter": {"minimum": 3}}]},
                }
            ],
        },
        {"id": "x", "input_descriptors": [{"id": "a"}, {"id": "a"}]},
    ],
)
def test_malformed_definitions_are_refused(definition: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_definition(definition)
    assert caught.value.code is ErrorCode.REQUEST_INVALID


def test_match_definition_filters_and_optional() -> None:
    definition = {
        "id": "d",
        "input_descriptors": [
            {
                "id": "a",
                "constraints": {
                    "fields": [
                        {"path": ["$.vct"], "filter": {"type": "string", "pattern": "Emergency"}},
                        {"path": ["$.allergies", "$.credentialSubject.allergies"]},
                        {"path": ["$.bloodType"], "optional": True},
                    ]
                },
            }
        ],
    }
    ok = match_definition(definition, [{"vct": "x/EmergencySummary/v1", "allergies": []}])
    assert ok.missing == ()
    assert ok.matched[0] == (("allergies",), ("vct",))
    w3c = match_definition(
        definition, [{"vct": "Emergency", "credentialSubject": {"allergies": 1}}]
    )
    assert w3c.missing == ()
    wrong = match_definition(definition, [{"vct": "Claim", "allergies": []}])
    assert wrong.missing == (("a", ("$.vct",)),)


async def test_signed_request_round_trip(hospital: Party, tmp_path: Path) -> None:
    store = await open_store(tmp_path / "v.sqlite", raw_key=generate_raw_key())
    try:
        nonces = NonceStore(store, clock=lambda: NOW)
        definition = {
            "id": "e",
            "input_descriptors": [
                {"id": "a", "constraints": {"fields": [{"path": ["$.allergies"]}]}}
            ],
        }
        made = await create_presentation_request(
            nonces,
            hospital.signer,
            audience=hospital.did,
            definition=definition,
            purpose="emergency-care",
            now=NOW,
        )
        claims = await verify_presentation_request(made.jws, resolver=DIDResolver(), now=NOW)
        assert claims["nonce"] == made.nonce
        assert claims["purpose"] == "emergency-care"
        assert claims["presentation_definition"] == definition
        record = await nonces.peek(made.nonce, now=NOW)
        assert record.purpose == "emergency-care"
        assert record.audience == hospital.did
        head, body, sig = made.jws.split(".")
        forged = f"{head}.{body}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"
        with pytest.raises(SignatureError):
            await verify_presentation_request(forged, resolver=DIDResolver(), now=NOW)
        with pytest.raises(ProofError) as caught:
            await verify_presentation_request(
                made.jws, resolver=DIDResolver(), now=NOW + timedelta(hours=1)
            )
        assert caught.value.code is ErrorCode.NONCE_EXPIRED
    finally:
        await store.close()


# --- Ed25519Signature2020 ----------------------------------------------------------------------


def _vector_2020() -> dict[str, Any]:
    return json.loads((DATA / "ed25519-signature-2020" / "signed-credential.json").read_text())


async def test_ed25519_signature_2020_vector_verifies(resolver: DIDResolver) -> None:
    report = await verify_credential(_vector_2020(), resolver=resolver, now=NOW, checks=["proof"])
    assert report.verified, report.to_dict()
    proof = report.result(Check.PROOF)
    assert proof is not None
    assert "Ed25519Signature2020" in proof.message


async def test_ed25519_signature_2020_tampered_fails_proof(resolver: DIDResolver) -> None:
    tampered = _vector_2020()
    tampered["credentialSubject"]["alumniOf"] = "Another School"
    report = await verify_credential(tampered, resolver=resolver, now=NOW, checks=["proof"])
    assert [(str(r.check), r.code) for r in report.failed] == [
        ("proof", ErrorCode.PROOF_VERIFICATION_ERROR)
    ]
    no_context = _vector_2020()
    no_context["@context"] = no_context["@context"][:2]
    report = await verify_credential(no_context, resolver=resolver, now=NOW, checks=["proof"])
    assert report.failed[0].code == ErrorCode.MALFORMED_PROOF_ERROR


async def test_ed25519_signature_2020_signing_reproduces_the_vector(tmp_path: Path) -> None:
    key = json.loads((DATA / "ed25519-signature-2020" / "key.json").read_text())
    store = await open_store(tmp_path / "k.sqlite", raw_key=generate_raw_key())
    try:
        keys = AskarKeyStore(store)
        key_type, secret = decode_multikey(key["secretKeyMultibase"])
        multikey = await keys.import_secret(key_type, secret)
        did = f"did:key:{multikey}"
        await keys.bind(
            multikey,
            did=did,
            verification_method=f"{did}#{multikey}",
            relationships=["assertionMethod"],
        )
        signer = await keys.signer(f"{did}#{multikey}")
        vector = _vector_2020()
        unsigned = {k: v for k, v in vector.items() if k != "proof"}
        from agent.clock import parse_datetime

        signed = add_ed25519_signature_2020(
            unsigned, signer, created=parse_datetime(vector["proof"]["created"])
        )
        assert signed == vector
    finally:
        await store.close()


# --- SMART Health Cards ------------------------------------------------------------------------


def _card() -> tuple[str, dict[str, Any]]:
    jws = (DATA / "smart-health-cards" / "example-00-d-jws.txt").read_text().strip()
    jwks = json.loads((DATA / "smart-health-cards" / "jwks.json").read_text())
    return jws, jwks


async def test_smart_health_card_vector_verifies() -> None:
    jws, jwks = _card()
    report = await verify_smart_health_card(jws, jwks=jwks, now=NOW)
    assert report.verified, report.to_dict()
    assert report.claims is not None
    assert report.claims["fhirBundle"]["resourceType"] == "Bundle"
    # The same card as QR numeric text.
    numeric = "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in jws)
    assert decode_shc_numeric(numeric) == jws
    assert (await verify_smart_health_card(numeric, jwks=jwks, now=NOW)).verified


async def test_smart_health_card_rejections() -> None:
    jws, jwks = _card()
    head, body, sig = jws.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    report = await verify_smart_health_card(f"{head}.{body}.{flipped}", jwks=jwks, now=NOW)
    assert [str(r.check) for r in report.failed] == ["proof"]
    other = copy.deepcopy(jwks)
    other["keys"][0]["kid"] = "another"
    report = await verify_smart_health_card(jws, jwks=other, now=NOW)
    assert report.failed[0].details["reason"] == "unknownKid"
    report = await verify_smart_health_card("a.b.c", jwks=jwks, now=NOW)
    assert [str(r.check) for r in report.failed] == ["format"]
    skipped = report.result(Check.PROOF)
    assert skipped is not None
    assert skipped.status is CheckStatus.SKIPPED
