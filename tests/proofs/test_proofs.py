"""add_proof / verify_proofs: tampering, purposes, challenge/domain, time, binding, round trips."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.credentials import contexts
from agent.credentials.proofs import ProofResult, add_proof, verify_proofs
from agent.credentials.suites import get_suite
from agent.errors import (
    CryptosuiteError,
    DIDDocumentError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
    SignatureError,
)
from tests.proofs.helpers import AskarSigner, DidKeyResolver

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ISSUER = AskarSigner.generate()
HOLDER = AskarSigner.generate()
OTHER = AskarSigner.generate()
SUITES = ["eddsa-jcs-2022", "eddsa-rdfc-2022"]


def credential() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", contexts.HEALTH_V1],
        "id": "urn:uuid:3f1c0c52-5a55-4a4e-9d0b-7e5d3f6b8a01",
        "type": ["VerifiableCredential", "AllergyIntoleranceCredential"],
        "issuer": ISSUER.did,
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "id": HOLDER.did,
            "fhirVersion": "4.0.1",
            "allergies": [
                {
                    "resourceType": "AllergyIntolerance",
                    "code": {"text": "Penicillin"},
                    "criticality": "high",
                    "reaction": [{"severity": "severe", "onsetAge": {"value": 4.5}}],
                }
            ],
        },
    }


def presentation(vc: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": HOLDER.did,
        "verifiableCredential": [vc],
    }


def sign(document: dict[str, Any], suite: str = "eddsa-jcs-2022", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("created", NOW - timedelta(days=1))
    return add_proof(document, ISSUER, cryptosuite=suite, **kwargs)


async def verify(document: dict[str, Any], **kwargs: Any) -> list[ProofResult]:
    return await verify_proofs(document, DidKeyResolver(), now=NOW, **kwargs)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
async def test_sign_and_verify(suite: str) -> None:
    vc = credential()
    signed = sign(vc, suite)
    assert vc == credential(), "add_proof must not modify its input"
    assert signed["proof"]["verificationMethod"] == ISSUER.verification_method
    [result] = await verify(signed)
    assert result == ProofResult(
        suite=suite,
        verification_method=ISSUER.verification_method,
        purpose="assertionMethod",
        controller=ISSUER.did,
        created=(NOW - timedelta(days=1)).replace(microsecond=0),
    )


@pytest.mark.parametrize("suite", SUITES)
async def test_proof_set_keeps_existing_proofs(suite: str) -> None:
    once = sign(credential(), suite, proof_id="urn:uuid:first")
    twice = sign(once, suite, proof_id="urn:uuid:second")
    assert [p["id"] for p in twice["proof"]] == ["urn:uuid:first", "urn:uuid:second"]
    # Each proof of a set covers only the document, so either can be verified alone.
    only_second = {**twice, "proof": twice["proof"][1]}
    assert len(await verify(only_second)) == 1
    assert len(await verify(twice)) == 2


@pytest.mark.parametrize("suite", SUITES)
async def test_proof_chain(suite: str) -> None:
    first = sign(credential(), suite, proof_id="urn:uuid:first")
    chained = sign(first, suite, previous_proof="urn:uuid:first")
    assert len(await verify(chained)) == 2
    # Dropping the proof the chain builds on is detected...
    broken = {**chained, "proof": [chained["proof"][1]]}
    with pytest.raises(ProofError) as caught:
        await verify(broken)
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    # ...and so is changing it (the chained signature covers it).
    tampered = copy.deepcopy(chained)
    tampered["proof"][0]["created"] = "2020-01-01T00:00:00Z"
    with pytest.raises(SignatureError):
        await verify(tampered)


def test_previous_proof_must_exist_when_adding() -> None:
    with pytest.raises(ProofError) as caught:
        sign(credential(), previous_proof="urn:uuid:nope")
    assert caught.value.code is ErrorCode.PROOF_GENERATION_ERROR


# --- tampering ---------------------------------------------------------------------------


def _flip(text: str) -> str:
    last = text[-1]
    return text[:-1] + ("B" if last != "B" else "C")


TAMPERS: list[tuple[str, Any, type[HealthMyDataError], ErrorCode]] = [
    (
        "claim",
        lambda d: d["credentialSubject"]["allergies"][0]["code"].update(text="Penicillim"),
        SignatureError,
        ErrorCode.PROOF_VERIFICATION_ERROR,
    ),
    (
        "issuer-date",
        lambda d: d.update(validFrom="2024-01-02T00:00:00Z"),
        SignatureError,
        ErrorCode.PROOF_VERIFICATION_ERROR,
    ),
    (
        "created",
        lambda d: d["proof"].update(created="2024-05-30T12:00:01Z"),
        SignatureError,
        ErrorCode.PROOF_VERIFICATION_ERROR,
    ),
    (
        "verificationMethod",
        lambda d: d["proof"].update(verificationMethod=OTHER.verification_method),
        ProofError,
        ErrorCode.PROOF_VERIFICATION_ERROR,
    ),
    (
        "proofPurpose",
        lambda d: d["proof"].update(proofPurpose="authentication"),
        CryptosuiteError,
        ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
    ),
    (
        "cryptosuite-unknown",
        lambda d: d["proof"].update(cryptosuite="eddsa-2022"),
        CryptosuiteError,
        ErrorCode.UNSUPPORTED_CRYPTOSUITE,
    ),
    (
        "proofValue",
        lambda d: d["proof"].update(proofValue=_flip(d["proof"]["proofValue"])),
        SignatureError,
        ErrorCode.PROOF_VERIFICATION_ERROR,
    ),
    (
        "proofValue-not-base58",
        lambda d: d["proof"].update(proofValue="z0OIl"),
        CryptosuiteError,
        ErrorCode.MALFORMED_PROOF_ERROR,
    ),
    (
        "type",
        lambda d: d["proof"].update(type="Ed25519Signature2020"),
        CryptosuiteError,
        ErrorCode.MALFORMED_PROOF_ERROR,
    ),
    (
        "created-malformed",
        lambda d: d["proof"].update(created="yesterday"),
        CryptosuiteError,
        ErrorCode.MALFORMED_PROOF_ERROR,
    ),
    ("no-proof", lambda d: d.pop("proof"), CryptosuiteError, ErrorCode.MALFORMED_PROOF_ERROR),
]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(
    ("change", "error", "code"), [t[1:] for t in TAMPERS], ids=[t[0] for t in TAMPERS]
)
async def test_tampering_raises_the_specific_error(
    suite: str, change: Any, error: type[HealthMyDataError], code: ErrorCode
) -> None:
    signed = sign(credential(), suite)
    change(signed)
    with pytest.raises(error) as caught:
        await verify(signed)
    assert caught.value.code is code


@pytest.mark.parametrize("suite", SUITES)
async def test_other_key_without_binding_is_a_signature_error(suite: str) -> None:
    signed = sign(credential(), suite)
    signed["proof"]["verificationMethod"] = OTHER.verification_method
    with pytest.raises(SignatureError):
        await verify(signed, bind_controller=False)


async def test_switching_suite_is_a_signature_error() -> None:
    signed = sign(credential(), "eddsa-jcs-2022")
    signed["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    del signed["proof"]["@context"]
    with pytest.raises(SignatureError):
        await verify(signed)


async def test_suite_can_be_refused_by_the_verifier() -> None:
    signed = sign(credential(), "eddsa-rdfc-2022")
    with pytest.raises(CryptosuiteError) as caught:
        await verify(signed, accepted_suites={"eddsa-jcs-2022"})
    assert caught.value.code is ErrorCode.UNSUPPORTED_CRYPTOSUITE


def test_unknown_suite_cannot_sign() -> None:
    with pytest.raises(CryptosuiteError) as caught:
        sign(credential(), "rsa-2018")
    assert caught.value.code is ErrorCode.UNSUPPORTED_CRYPTOSUITE
    with pytest.raises(CryptosuiteError):
        get_suite(None)


def test_rdfc_refuses_undefined_terms_instead_of_dropping_them() -> None:
    vc = credential()
    vc["credentialSubject"]["unsignedClaim"] = "would not be covered by RDF"
    with pytest.raises(CryptosuiteError) as caught:
        sign(vc, "eddsa-rdfc-2022")
    assert caught.value.code is ErrorCode.PROOF_TRANSFORMATION_ERROR
    assert caught.value.details["terms"] == ["unsignedClaim"]


def test_rdfc_refuses_unknown_contexts() -> None:
    vc = credential()
    vc["@context"].append("https://example.com/evil")
    with pytest.raises(CryptosuiteError) as caught:
        sign(vc, "eddsa-rdfc-2022")
    assert isinstance(caught.value.__cause__, contexts.ContextError)


# --- purposes, challenge, domain, time, binding ------------------------------------------


async def test_resolver_is_asked_for_the_proof_purpose() -> None:
    signed = sign(credential())
    resolver = DidKeyResolver(relationships=frozenset({"authentication"}))
    with pytest.raises(DIDDocumentError):
        await verify_proofs(signed, resolver, now=NOW)
    assert resolver.calls == [(ISSUER.verification_method, "assertionMethod")]


@pytest.mark.parametrize("suite", SUITES)
async def test_presentation_challenge_and_domain(suite: str) -> None:
    vp = add_proof(
        presentation(sign(credential())),
        HOLDER,
        cryptosuite=suite,
        created=NOW,
        proof_purpose="authentication",
        challenge="nonce-123",
        domain="https://er.hospital.example",
    )
    options = {"expected_purpose": "authentication", "binding": "holder"}
    [result] = await verify(
        vp, challenge="nonce-123", domain="https://er.hospital.example", **options
    )
    assert result.controller == HOLDER.did
    with pytest.raises(ProofError) as caught:
        await verify(vp, challenge="nonce-999", **options)
    assert caught.value.code is ErrorCode.INVALID_CHALLENGE_ERROR
    with pytest.raises(ProofError) as caught:
        await verify(vp, challenge="nonce-123", domain="https://insurer.example", **options)
    assert caught.value.code is ErrorCode.INVALID_DOMAIN_ERROR
    with pytest.raises(CryptosuiteError) as caught:
        await verify(vp)  # An authentication proof is not an assertion.
    assert caught.value.code is ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR


async def test_presentation_signed_by_someone_else_than_the_holder() -> None:
    vp = add_proof(presentation(credential()), OTHER, created=NOW, proof_purpose="authentication")
    with pytest.raises(ProofError) as caught:
        await verify(vp, expected_purpose="authentication", binding="holder")
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR


async def test_issuer_object_form_is_bound() -> None:
    vc = credential()
    vc["issuer"] = {"id": ISSUER.did, "name": "Hôpital Example"}
    assert len(await verify(sign(vc))) == 1
    vc["issuer"] = {"id": OTHER.did}
    with pytest.raises(ProofError):
        await verify(sign(vc))


async def test_expired_proof_is_rejected() -> None:
    signed = sign(credential(), expires=NOW - timedelta(hours=1))
    with pytest.raises(ProofError) as caught:
        await verify(signed)
    assert caught.value.code is ErrorCode.INVALID_PROOF_DATETIME
    assert len(await verify(sign(credential(), expires=NOW + timedelta(hours=1)))) == 1


async def test_proof_from_the_future_is_rejected() -> None:
    signed = sign(credential(), created=NOW + timedelta(hours=1))
    with pytest.raises(ProofError) as caught:
        await verify(signed)
    assert caught.value.code is ErrorCode.INVALID_PROOF_DATETIME


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        sign(credential(), created=datetime(2024, 1, 1))


# --- hypothesis: arbitrary credentials -----------------------------------------------------

_keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)
_fhir = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=4)
    ),
    max_leaves=20,
)


def _with_claims(claims: Any) -> dict[str, Any]:
    vc = credential()
    vc["credentialSubject"]["fhirResource"] = claims
    return vc


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every scalar; an empty container counts as a leaf of its own."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    return [path]


def _changed(value: Any) -> Any:
    if value == [] or value == {}:
        return [None] if isinstance(value, list) else {"x": None}
    if value is None:
        return 0
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1 if abs(value) < 2**52 else value / 2
    return value + "x"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=_fhir, data=st.data())
def test_round_trip_and_single_leaf_change(claims: Any, data: st.DataObject) -> None:
    suite = data.draw(st.sampled_from(SUITES))
    signed = sign(_with_claims(claims), suite)
    asyncio.run(verify(signed))
    paths = _leaf_paths(signed["credentialSubject"]["fhirResource"])
    path = data.draw(st.sampled_from(paths))
    tampered = copy.deepcopy(signed)
    if not path:
        tampered["credentialSubject"]["fhirResource"] = _changed(claims)
    else:
        parent = tampered["credentialSubject"]["fhirResource"]
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = _changed(parent[path[-1]])
    with pytest.raises(SignatureError):
        asyncio.run(verify(tampered))
