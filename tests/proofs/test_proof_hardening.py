"""Regressions from the foundation review: forged bindings, poison graphs, tracebacks, leaks.

Each test failed (or hung, or raised something other than a HealthMyDataError) before the fix
it names.
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from agent.credentials import contexts, jcs
from agent.credentials.proofs import (
    add_proof,
    check_challenge_domain,
    check_controller_binding,
    check_proof_controllers,
    verify_proofs,
)
from agent.credentials.suites.eddsa_rdfc_2022 import canonicalize
from agent.errors import (
    ContextError,
    CryptosuiteError,
    ErrorCode,
    InvalidInputError,
    ProofError,
)
from tests.conftest import load_vector
from tests.proofs.helpers import AskarSigner, DidKeyResolver
from tests.proofs.test_proofs import HOLDER, ISSUER, NOW, OTHER, credential, presentation

SECRET = "secret-marker-7f3a"


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body runs longer than ``seconds``."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- C1: the binding is the caller's choice, never the document's type ----------------------


def _vc_typed_as_presentation(signer: AskarSigner) -> dict[str, Any]:
    vc = credential()
    vc["type"] = ["VerifiableCredential", "VerifiablePresentation", "AllergyIntoleranceCredential"]
    return add_proof(vc, signer, created=NOW)


async def test_credential_typed_as_presentation_still_needs_the_issuers_key() -> None:
    """OTHER signs a credential naming ISSUER as issuer and adds "VerifiablePresentation" to
    its type; before, the binding check read the type, looked for a holder, found none and
    passed."""
    forged = _vc_typed_as_presentation(OTHER)
    with pytest.raises(ProofError) as caught:
        await verify_proofs(forged, DidKeyResolver(), now=NOW)
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    with pytest.raises(ProofError) as caught:
        await check_proof_controllers(forged, DidKeyResolver(), binding="issuer")
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR


def test_controller_binding_takes_the_role_from_the_caller() -> None:
    vc = credential()
    vm = ISSUER.verification_method
    check_controller_binding(vc, vm, ISSUER.did, binding="issuer")
    with pytest.raises(ProofError) as caught:  # A credential has no holder to bind to.
        check_controller_binding(vc, vm, ISSUER.did, binding="holder")
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    vp = presentation(vc)
    check_controller_binding(vp, HOLDER.verification_method, HOLDER.did, binding="holder")
    del vp["holder"]
    with pytest.raises(ProofError):  # An unbound presentation is not silently accepted.
        check_controller_binding(vp, HOLDER.verification_method, HOLDER.did, binding="holder")


async def test_presentation_without_holder_fails_holder_binding() -> None:
    vp = presentation(credential())
    del vp["holder"]
    signed = add_proof(vp, OTHER, created=NOW, proof_purpose="authentication")
    with pytest.raises(ProofError) as caught:
        await verify_proofs(
            signed, DidKeyResolver(), now=NOW, expected_purpose="authentication", binding="holder"
        )
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR


# --- C2: RDFC poison graphs are refused quickly ---------------------------------------------


def _rdfc_vector() -> dict[str, Any]:
    signed: dict[str, Any] = load_vector("vc-di-eddsa", "eddsa-rdfc-2022", "signedDataInt.json")
    return signed


def _poison(nodes: int) -> list[dict[str, Any]]:
    """``nodes`` blank nodes, each "knowing" every other one (through ``_:`` labels)."""
    return [
        {"@id": f"_:b{i}", "knows": [{"@id": f"_:b{j}"} for j in range(nodes) if j != i]}
        for i in range(nodes)
    ]


async def test_poison_graph_is_refused_before_canonicalisation() -> None:
    """/tmp/rev/t7.py: 8 mutually-referencing blank nodes (2 KB) kept pyld busy for hours."""
    document = _rdfc_vector()
    document["credentialSubject"]["knows"] = _poison(8)
    # The deadline turns a hang into a failure; how fast the refusal is belongs in bench/.
    with deadline(10), pytest.raises(CryptosuiteError) as caught:
        await verify_proofs(document, DidKeyResolver(), now=NOW, bind_controller=False)
    assert caught.value.code is ErrorCode.PROOF_TRANSFORMATION_ERROR
    assert caught.value.details["reason"] == "blankNodeCycle"


def test_two_blank_nodes_in_a_cycle_are_refused() -> None:
    document = _rdfc_vector()
    del document["proof"]
    document["credentialSubject"]["knows"] = {
        "@id": "_:a",
        "knows": {"@id": "_:b", "knows": {"@id": "_:a"}},
    }
    with pytest.raises(CryptosuiteError) as caught:
        canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR)
    assert caught.value.details["reason"] == "blankNodeCycle"


def test_acyclic_poison_is_refused_by_the_work_budget() -> None:
    """No cycle and few blank nodes, but identical siblings make N-degree hashing factorial."""
    document = _rdfc_vector()
    del document["proof"]
    document["credentialSubject"]["knows"] = [
        {"knows": [{"name": "x"} for _ in range(9)]} for _ in range(2)
    ]
    with deadline(10), pytest.raises(CryptosuiteError) as caught:
        canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR)
    assert caught.value.code is ErrorCode.PROOF_TRANSFORMATION_ERROR
    assert caught.value.details["reason"] == "canonicalizationTooComplex"


def test_too_many_blank_nodes_are_refused() -> None:
    document = _rdfc_vector()
    del document["proof"]
    document["credentialSubject"]["knows"] = [{"name": f"n{i}"} for i in range(10)]
    canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR)  # Within the default.
    with pytest.raises(CryptosuiteError) as caught:
        canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR, max_blank_nodes=5)
    assert caught.value.details["reason"] == "tooManyBlankNodes"


def test_bounded_canonicalisation_still_matches_the_spec_vector() -> None:
    expected = load_vector("vc-di-eddsa", "eddsa-rdfc-2022", "canonDocDataInt.txt")
    document = _rdfc_vector()
    del document["proof"]
    assert canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR) == expected


# --- C3: malformed proof fields are typed errors, never tracebacks ---------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30T00:00:00Z",  # /tmp/rev/feb30.json: ValueError from fromisoformat
        "0000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2023-01-01T00:00:00",  # a dateTime without a zone is not a dateTimeStamp
        5,
        None,
        ["2023-01-01T00:00:00Z"],
    ],
)
@pytest.mark.parametrize("name", ["created", "expires"])
async def test_bad_proof_dates_are_malformed_proofs(name: str, value: Any) -> None:
    signed: dict[str, Any] = load_vector("vc-di-eddsa", "eddsa-jcs-2022", "signedJCS.json")
    signed["proof"][name] = value
    with pytest.raises(CryptosuiteError) as caught:
        await verify_proofs(signed, DidKeyResolver(), now=NOW, bind_controller=False)
    assert caught.value.code is ErrorCode.MALFORMED_PROOF_ERROR
    assert caught.value.details == {"property": name}


@pytest.mark.parametrize("value", [["eddsa-jcs-2022"], {"name": "eddsa-jcs-2022"}, 5, None])
async def test_non_string_cryptosuite_is_a_malformed_proof(value: Any) -> None:
    """/tmp/rev/cs.json: a list cryptosuite raised TypeError (unhashable) from a set lookup."""
    signed: dict[str, Any] = load_vector("vc-di-eddsa", "eddsa-jcs-2022", "signedJCS.json")
    signed["proof"]["cryptosuite"] = value
    with pytest.raises(CryptosuiteError) as caught:
        await verify_proofs(signed, DidKeyResolver(), now=NOW, bind_controller=False)
    assert caught.value.code is ErrorCode.MALFORMED_PROOF_ERROR


# --- I2: one challenge/domain check, domain may be a list ------------------------------------


def test_domain_list_includes_the_verifiers_domain() -> None:
    proof = {"challenge": "abc", "domain": ["x.example", "v.example"]}
    check_challenge_domain(proof, "abc", "v.example")
    check_challenge_domain(proof, None, None)
    with pytest.raises(ProofError) as caught:
        check_challenge_domain(proof, "abc", "w.example")
    assert caught.value.code is ErrorCode.INVALID_DOMAIN_ERROR
    with pytest.raises(ProofError) as caught:
        check_challenge_domain({**proof, "challenge": [1]}, "abc", None)
    assert caught.value.code is ErrorCode.INVALID_CHALLENGE_ERROR


# --- I3: errors name paths and JSON types, never values --------------------------------------


def test_jcs_error_names_the_path_not_the_integer() -> None:
    secret = 98765432109876543210
    with pytest.raises(InvalidInputError) as caught:
        jcs.canonicalize({"credentialSubject": {"reading": [1, secret]}})
    assert str(secret) not in str(caught.value)
    assert caught.value.details["path"] == "$.credentialSubject.reading[1]"


def test_jcs_lone_surrogate_error_names_the_path() -> None:
    with pytest.raises(InvalidInputError) as caught:
        jcs.canonicalize({"a": {"b": SECRET + "\ud800"}})
    assert SECRET not in str(caught.value)
    assert caught.value.details["path"] == "$.a.b"


def test_relative_id_error_does_not_echo_the_identifier() -> None:
    document = credential()
    document["credentialSubject"]["id"] = SECRET
    with pytest.raises(ContextError) as caught:
        contexts.check_terms(document)
    assert caught.value.code is ErrorCode.UNDEFINED_TERM
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.details)
    assert caught.value.details["paths"] == ["$.credentialSubject.id"]


def test_non_url_context_entry_is_described_by_type_only() -> None:
    document = credential()
    document["@context"].append(SECRET)
    with pytest.raises(ContextError) as caught:
        contexts.check_contexts(document)
    assert caught.value.code is ErrorCode.CONTEXT_NOT_ALLOWED
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.details)
    assert caught.value.details == {"path": "$.@context[2]", "type": "string"}


# --- minor: contexts appended to a jcs credential after signing --------------------------------


@pytest.mark.parametrize(
    "extra",
    [{"@language": "fr"}, {"@base": "https://evil.example/"}, contexts.HEALTH_V1],
)
async def test_jcs_context_appended_after_signing_fails(extra: Any) -> None:
    vc = credential()
    vc["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    vc["credentialSubject"] = {"id": HOLDER.did}
    signed = add_proof(vc, ISSUER, created=NOW)
    assert len(await verify_proofs(signed, DidKeyResolver(), now=NOW)) == 1
    tampered = copy.deepcopy(signed)
    tampered["@context"] = [*tampered["@context"], extra]
    with pytest.raises(ProofError) as caught:
        await verify_proofs(tampered, DidKeyResolver(), now=NOW)
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR


# --- I4: the clock skew is the caller's ------------------------------------------------------


async def test_clock_skew_is_passed_through() -> None:
    signed = add_proof(credential(), ISSUER, created=NOW + timedelta(minutes=2))
    assert len(await verify_proofs(signed, DidKeyResolver(), now=NOW)) == 1  # default 5 min
    with pytest.raises(ProofError) as caught:
        await verify_proofs(signed, DidKeyResolver(), now=NOW, max_clock_skew=timedelta(0))
    assert caught.value.code is ErrorCode.INVALID_PROOF_DATETIME


def test_add_proof_refuses_naive_datetimes() -> None:
    with pytest.raises(InvalidInputError):
        add_proof(credential(), ISSUER, created=datetime(2024, 1, 1))
    with pytest.raises(InvalidInputError):
        add_proof(credential(), ISSUER, created=NOW, expires=datetime(2024, 1, 1))
