"""w3c/vc-data-model-2.0-test-suite: `tests/1.03-conformance.js` (2b3e240c),
`tests/412-securing-mechanisms.js` (32aaeff6) and `tests/7-algorithms.js` (1b025091), with
`shouldBeSecured`, `shouldHaveEmbeddedProof` and `checkRequiredProperties` of
`tests/assertions.js` (05f9ae3e) and `TestEndpoints.verify` (001ff0b5: `options.checks:
['proof']`) / `verifyVp` (`options.checks: []`). `credential-ok.json` is not stored: the shape
the other fixtures share is used, as in test_vc_data_model_2.py. See SOURCE.md.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.w3c_suites.conftest import Endpoint, Hospital, Result, SuiteKey
from tests.w3c_suites.test_vc_data_model_2 import FIXTURES, create_request_body
from tests.w3c_suites.test_vc_data_model_2_vp import FIXTURES as VP_FIXTURES
from tests.w3c_suites.test_vc_data_model_2_vp import create_vp, rejected


def verify(verifier: dict[str, Endpoint], vc: Any) -> Result:
    """TestEndpoints.verify: createVerifyRequestBody's `checks: ['proof']`."""
    return verifier["credentials"].post(
        {"verifiableCredential": vc, "options": {"checks": ["proof"]}}
    )


def verify_vp(verifier: dict[str, Endpoint], vp: Any) -> Result:
    """TestEndpoints.verifyVp(vp, options = {checks: []})."""
    return verifier["presentations"].post({"verifiablePresentation": vp, "options": {"checks": []}})


def should_be_secured(issued_vc: dict[str, Any]) -> None:
    """assertions.js shouldBeSecured: an embedded proof (our issuer does not envelope)."""
    assert "proof" in issued_vc, "Expected VC to have a `proof`."
    assert "VerifiableCredential" in issued_vc["type"]
    proof = issued_vc["proof"]
    assert not isinstance(proof, str), "Expected VC to have a `proof`."
    if isinstance(proof, list):
        assert len(proof) > 0, "Expected at least one `proof`."
        assert all(isinstance(p, dict) for p in proof)
    else:
        assert isinstance(proof, dict), "Expected `proof` to be an object."


def check_required_properties(issued_vc: dict[str, Any]) -> None:
    """assertions.js checkRequiredProperties (embedded-proof branch)."""
    for prop in ("@context", "type", "issuer", "credentialSubject", "proof"):
        assert prop in issued_vc, prop


@pytest.fixture(scope="module")
def issued_vc(hospital: Hospital) -> dict[str, Any]:
    """`before`: endpoints.issue(credential-ok.json)."""
    result = hospital.issuer.post(
        create_request_body(hospital.issuer, copy.deepcopy(FIXTURES["credential-ok.json"]))
    )
    assert result.status == 201, result
    vc: dict[str, Any] = result.data["verifiableCredential"]
    return vc


# --- 1.03-conformance.js -----------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "A conforming document MUST be secured by at least one securing mechanism as described "
        "in Section 4.12 Securing Mechanisms.",
        "A conforming issuer implementation MUST secure the conforming documents it produces "
        "using a securing mechanismdescribed in Section 4.12 Securing Mechanisms.",
    ],
    ids=["document-secured", "issuer-secures"],
)
def test_conformance_secured(issued_vc: dict[str, Any], title: str) -> None:
    should_be_secured(issued_vc)
    assert issued_vc["proof"], title


def test_conformance_required_properties(issued_vc: dict[str, Any]) -> None:
    """A conforming issuer implementation MUST include all required properties in the
    conforming documents it produces."""
    check_required_properties(issued_vc)


def test_conformance_verifier_verifies(
    verifier: dict[str, Endpoint], issued_vc: dict[str, Any]
) -> None:
    """A conforming verifier implementation MUST perform verification on a conforming
    document as described inSection 4.12 Securing Mechanisms."""
    result = verify(verifier, issued_vc)
    assert not rejected(result), result


def test_conformance_verifier_errors_on_nonconforming(verifier: dict[str, Endpoint]) -> None:
    """A conforming verifier implementation MUST produce errors when non-conforming
    documents are detected."""
    doc = {"type": ["NonconformingDocument"]}
    for result in (verify(verifier, doc), verify_vp(verifier, doc)):
        assert rejected(result), "Failed to reject malformed VC / VP."
        assert result.status == 400, result
        assert result.data["errors"], result


# --- 412-securing-mechanisms.js ----------------------------------------------------------


def test_securing_document_secured(issued_vc: dict[str, Any]) -> None:
    """A conforming document MUST be secured by at least one securing mechanism as
    described in Section 4.12 Securing Mechanisms."""
    should_be_secured(issued_vc)
    assert issued_vc["proof"]


def test_securing_issuer_produces_secured(issued_vc: dict[str, Any]) -> None:
    """A conforming issuer implementation produces conforming documents, MUST include all
    required properties in the conforming documents that it produces, and MUST secure the
    conforming documents it produces using a securing mechanism as described in Section 4.12
    Securing Mechanisms."""
    assert "VerifiableCredential" in issued_vc["type"]
    assert not isinstance(issued_vc.get("proof"), str | None)


def test_securing_verifier(verifier: dict[str, Endpoint], issued_vc: dict[str, Any]) -> None:
    """A conforming verifier implementation consumes conforming documents, MUST perform
    verification on a conforming document as described in Section 4.12 Securing Mechanisms,
    MUST check that each required property satisfies the normative requirements for that
    property, and MUST produce errors when non-conforming documents are detected."""
    assert not rejected(verify(verifier, issued_vc)), "Failed to verify credential."
    result = verify(verifier, FIXTURES["credential-ok.json"])
    assert rejected(result), "Failed to reject a VC missing a `proof`."
    assert result.status == 400, result  # the suite: {name: 'HTTPError'}


# --- 7-algorithms.js ---------------------------------------------------------------------


def test_algorithms_verifier_runs_the_algorithm(
    verifier: dict[str, Endpoint], issued_vc: dict[str, Any], suite_key: SuiteKey
) -> None:
    """This section contains an algorithm that conforming verifier implementations MUST run
    when verifying a verifiable credential or a verifiable presentation."""
    assert not rejected(verify(verifier, issued_vc)), "Failed to verify a valid VC."
    # createLocalVp is not stored: createVp (eddsa-rdfc-2022, authentication) as in 4.13
    vp = create_vp(VP_FIXTURES["presentation-ok.json"], suite_key)
    assert not rejected(verify_vp(verifier, vp)), "Failed to verify a valid VP."
    vp["proof"]["proofValue"] = "z5nmMBw2u9TGKd9NxxHJtyZKgjN2Eh"
    result = verify_vp(verifier, vp)
    assert rejected(result), "Failed to reject an invalid VP."
    assert "proof" in {e["check"] for e in result.data["errors"]}, result
