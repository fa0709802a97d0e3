"""w3c/vc-data-model-2.0-test-suite, presentation cases: `tests/20-contexts.js` (VP),
`tests/4.05-types.js` (VP), `tests/4.13-verifiable-presentations.js`.

`TestEndpoints.verifyVp(vp, options = {checks: []})` posts `{verifiablePresentation, options}`
to the VP verifier; a refusal is any HTTP error or a non-empty `errors`. `createVp`
(data-generator.js) signs each embedded credential without a proof (issuer = its key's DID,
eddsa-2022 Data Integrity) and then the presentation (`vc.signPresentation`, authentication).
The suite's fixed did:key (`z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj`) is replaced
by the test's own `SuiteKey`, in the fixtures' `holder` too. See SOURCE.md.
"""

from __future__ import annotations

import base64
import copy
import os
from typing import Any

import pytest

from tests.w3c_suites.conftest import Endpoint, Result, SuiteKey, sign

V2 = "https://www.w3.org/ns/credentials/v2"
SUITE_DID = "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"
VP_TYPE = ["VerifiablePresentation"]

# data-generator.js: "use base64 encoded 128 bit number as the challenge"
CHALLENGE = "u" + base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _vc(**extra: Any) -> dict[str, Any]:
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        **extra,
    }


# tests/input/*.json, verbatim (commit per file in SOURCE.md)
FIXTURES: dict[str, dict[str, Any]] = {
    "presentation-ok.json": {"@context": [V2], "type": VP_TYPE, "verifiableCredential": []},
    "presentation-no-context-fail.json": {"type": VP_TYPE, "verifiableCredential": []},
    "presentation-missing-base-context-fail.json": {"@context": [], "type": VP_TYPE},
    "presentation-context-combo2-ok.json": {
        "@context": [
            V2,
            {"ExampleVerifiablePresentation": "https://example.org/#ExampleVerifiablePresentation"},
        ],
        "type": ["VerifiablePresentation", "ExampleVerifiablePresentation"],
        "holder": SUITE_DID,
        "verifiableCredential": [
            _vc(issuer="did:example:issuer", credentialSubject={"id": "did:example:subject"})
        ],
    },
    "presentation-vc-ok.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "verifiableCredential": [
            _vc(
                validFrom="2023-02-27T05:03:28Z",
                issuer="did:example:issuer",
                credentialSubject={"id": "did:example:subject"},
            )
        ],
    },
    "presentation-no-type-fail.json": {"@context": [V2], "verifiableCredential": []},
    "presentation-optional-type-ok.json": {
        "@context": [
            V2,
            {
                "CredentialManagerPresentation": (
                    "https://example.org/examples#CredentialManagerPresentation"
                )
            },
        ],
        "type": ["VerifiablePresentation", "CredentialManagerPresentation"],
        "verifiableCredential": [],
    },
    "presentation-missing-required-type-fail.json": {
        "@context": [
            V2,
            {
                "CredentialManagerPresentation": (
                    "https://example.org/examples#CredentialManagerPresentation"
                )
            },
        ],
        "type": ["CredentialManagerPresentation"],
        "verifiableCredential": [],
    },
    "presentation-id-ok.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "id": "urn:uuid:9c9a36f8-518f-4976-a934-6649502d0008",
    },
    "presentation-multiple-vc-ok.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "verifiableCredential": [
            _vc(
                validFrom="2023-02-27T05:15:42Z",
                issuer="did:example:issuer",
                credentialSubject={"id": "did:example:subject"},
            ),
            _vc(
                validFrom="2023-02-27T05:15:57Z",
                issuer="did:example:issuer",
                credentialSubject={"id": "did:example:other-subject"},
            ),
        ],
    },
    "presentation-holder-ok.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "holder": SUITE_DID,
        "verifiableCredential": [
            _vc(issuer="did:example:issuer", credentialSubject={"id": "did:example:subject"})
        ],
    },
    "presentation-holder-object-ok.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "holder": {"id": SUITE_DID},
        "verifiableCredential": [
            _vc(issuer="did:example:issuer", credentialSubject={"id": "did:example:subject"})
        ],
    },
    "presentation-holder-object-fail.json": {
        "@context": [V2],
        "type": VP_TYPE,
        "holder": {"id": "z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"},
        "verifiableCredential": [
            _vc(issuer="did:example:issuer", credentialSubject={"id": "did:example:subject"})
        ],
    },
}


def _own_key(value: Any, key: SuiteKey) -> Any:
    """The suite's fixed DID, wherever a fixture names it, becomes the test's own."""
    if value == SUITE_DID:
        return key.did
    if isinstance(value, dict):
        return {k: _own_key(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_own_key(v, key) for v in value]
    return value


def create_vp(presentation: dict[str, Any], key: SuiteKey) -> dict[str, Any]:
    """data-generator.js createVp: sign each credential (issuer = the key's DID), then the VP."""
    vp = _own_key(copy.deepcopy(presentation), key)
    if vp.get("verifiableCredential"):
        signed = []
        for credential in vp["verifiableCredential"]:
            if "proof" in credential:
                signed.append(credential)
                continue
            credential["issuer"] = key.did
            signed.append(sign(credential, key, cryptosuite="eddsa-rdfc-2022"))
        vp["verifiableCredential"] = signed
    return sign(
        vp,
        key,
        cryptosuite="eddsa-rdfc-2022",
        proof_purpose="authentication",
        challenge=CHALLENGE,
    )


#: options per mode: `suite` is verifyVp's default exactly (`checks: []`, which the verifier
#: reads as "no selection": its default checks, decision 0007); `all-checks` (`{}`) names
#: no checks at all. Both must give the same verdicts.
MODES = {"suite": {"checks": []}, "all-checks": {}}


def create_local_vp(presentation: dict[str, Any], key: SuiteKey) -> dict[str, Any]:
    """4.13's `createLocalVp` for "Presentations Including Holder Claims" (not stored; see
    SOURCE.md): the credentials are left as given, "only secured using the same mechanism as
    the verifiable presentation" (no proof of their own), and the VP is signed as by
    `createVp`."""
    vp = _own_key(copy.deepcopy(presentation), key)
    return sign(
        vp,
        key,
        cryptosuite="eddsa-rdfc-2022",
        proof_purpose="authentication",
        challenge=CHALLENGE,
    )


def nested_failed_checks(result: Result, index: int) -> set[str]:
    """The failed checks of the embedded credential at ``index``."""
    nested = result.data["credentialResults"][index]
    return {r["check"] for r in nested["results"] if r["status"] == "failed"}


class Run:
    """verifyVp with one mode's options."""

    def __init__(self, verifier: dict[str, Endpoint], mode: str) -> None:
        self.verifier = verifier
        self.mode = mode

    def verify_vp(self, vp: Any) -> Result:
        """TestEndpoints.verifyVp(vp, options = {checks: []})."""
        return self.verifier["presentations"].post(
            {"verifiablePresentation": vp, "options": copy.deepcopy(MODES[self.mode])}
        )

    def accepts(self, vp: Any, message: str) -> Result:
        result = self.verify_vp(vp)
        assert not rejected(result), (message, result)
        # a verified answer names the checks that ran: `checks: []` must not mean "none"
        assert {"format", "proof"} <= set(result.data["checks"]), result
        return result

    def rejects(self, vp: Any, message: str) -> Result:
        result = self.verify_vp(vp)
        assert rejected(result), (message, result)
        return result


def rejected(result: Result) -> bool:
    """`post` throws on status >= 400; `verifyVp` throws on a non-empty `errors`."""
    errors = result.data.get("errors") if isinstance(result.data, dict) else None
    return not result.ok or bool(errors)


def failed_checks(result: Result) -> set[str]:
    """The names of the checks a refusal reports as failed."""
    assert isinstance(result.data, dict), result
    return {r["check"] for r in result.data.get("results", []) if r["status"] == "failed"}


def test_contexts_vp_must_include_context(
    verifier: dict[str, Endpoint], suite_key: SuiteKey
) -> None:
    """Verifiable presentations MUST include a @context property."""
    vp = create_vp(FIXTURES["presentation-ok.json"], suite_key)
    assert isinstance(vp.get("@context"), list), (
        "Failed to respond with a VP with intact `@context`."
    )
    for mode in MODES:
        refused = Run(verifier, mode).rejects(
            FIXTURES["presentation-no-context-fail.json"],
            "Failed to reject a VP without an `@context`.",
        )
        assert "format" in failed_checks(refused), refused


def test_contexts_vp_first_item_base_context(
    verifier: dict[str, Endpoint], suite_key: SuiteKey
) -> None:
    """Verifiable presentations: The value of the @context property MUST be an ordered set
    where the first item is a URL with the value https://www.w3.org/ns/credentials/v2."""
    vp = create_vp(FIXTURES["presentation-ok.json"], suite_key)
    assert isinstance(vp["@context"], list), "Failed to support `@context` as an Array."
    assert vp["@context"][0] == V2, "Failed to keep `@context` order intact."
    for mode in MODES:
        Run(verifier, mode).rejects(
            FIXTURES["presentation-missing-base-context-fail.json"],
            "Failed to reject a VP that lacked the VC base context URL.",
        )


@pytest.mark.parametrize("mode", list(MODES))
def test_contexts_vp_subsequent_items(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str
) -> None:
    """Verifiable Presentation `@context`: "Subsequent items in the ordered set MUST be
    composed of any combination of URLs and/or objects where each is processable as a JSON-LD
    Context.\""""
    run = Run(verifier, mode)
    # presentation-context-combo1-ok.json is not stored in the index (SOURCE.md).
    accepted = run.accepts(
        create_vp(FIXTURES["presentation-context-combo2-ok.json"], suite_key),
        "Failed to support objects in the `@context` Array in a VP.",
    )
    assert accepted.data["verified"] is True, accepted
    vp = create_vp(FIXTURES["presentation-vc-ok.json"], suite_key)
    # JS `vp['@context'][1] = ...` on a one-item array appends
    vp["@context"].append("https ://not-a-url/contexts/example/v1")
    bad_url = run.rejects(vp, "Failed to reject a VP with an invalid `@context` URL.")
    vp["@context"][1] = 123192875
    bad_type = run.rejects(
        vp, "Failed to reject a VP with an unsupported `@context` value type (number)."
    )
    for refused in (bad_url, bad_type):
        assert refused.data["verified"] is False, refused


@pytest.mark.parametrize("mode", list(MODES))
def test_types_vp_must_contain_type(verifier: dict[str, Endpoint], mode: str) -> None:
    """Verifiable presentations MUST contain a type property with an associated value."""
    refused = Run(verifier, mode).rejects(
        FIXTURES["presentation-no-type-fail.json"], "Failed to reject a VP without a type."
    )
    assert refused.data["verified"] is False, refused


@pytest.mark.parametrize("mode", list(MODES))
def test_types_vp_objects_must_have_type(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str
) -> None:
    """Verifiable Presentation objects MUST have a type specified."""
    run = Run(verifier, mode)
    accepted = run.accepts(
        create_vp(FIXTURES["presentation-optional-type-ok.json"], suite_key),
        "Failed to accept VP with `@context` mapped type.",
    )
    assert accepted.data["verified"] is True, accepted
    refused = run.rejects(
        FIXTURES["presentation-missing-required-type-fail.json"],
        "Failed to reject VP missing `VerifiableCredential` type.",
    )
    assert refused.data["verified"] is False, refused


@pytest.mark.parametrize("mode", list(MODES))
def test_vp_id(verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str) -> None:
    """If [the `id` field is] present, the normative guidance in Section 4.4 Identifiers MUST
    be followed."""
    run = Run(verifier, mode)
    accepted = run.accepts(
        create_vp(FIXTURES["presentation-id-ok.json"], suite_key),
        "Expected verifier to verify a VP with a valid id.",
    )
    assert accepted.data["verified"] is True, accepted


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    "title",
    [
        "The type property MUST be present.",
        "One value of this property MUST be VerifiablePresentation, but additional types MAY be "
        "included.The related normative guidance in Section 4.5 Types MUST be followed.",
    ],
    ids=["type-present", "type-verifiable-presentation"],
)
def test_vp_type(verifier: dict[str, Endpoint], suite_key: SuiteKey, title: str, mode: str) -> None:
    run = Run(verifier, mode)
    accepted = run.accepts(
        create_vp(FIXTURES["presentation-ok.json"], suite_key),
        "Expected verifier to verify a VP with initial type VerifiablePresentation.",
    )
    assert accepted.data["verified"] is True, accepted


@pytest.mark.parametrize("mode", list(MODES))
def test_vp_verifiable_credential(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str
) -> None:
    """The verifiableCredential property MAY be present. The value MUST beone or more
    verifiable credential and/or enveloped verifiable credential objects (the values MUST NOT
    be non-object values such as numbers, strings, or URLs)."""
    run = Run(verifier, mode)
    accepted = run.accepts(
        create_vp(FIXTURES["presentation-multiple-vc-ok.json"], suite_key),
        "Failed to verify a valid VP.",
    )
    assert accepted.data["verified"] is True, accepted


@pytest.mark.parametrize("mode", list(MODES))
def test_vp_holder(verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str) -> None:
    """If present (holder), the value MUST be either a URL or an object containing an id
    property."""
    run = Run(verifier, mode)
    for name, message in (
        ("presentation-holder-ok.json", "Failed to verify a valid VP with holder."),
        ("presentation-holder-object-ok.json", "Failed to verify a valid VP with holder object."),
    ):
        accepted = run.accepts(create_vp(FIXTURES[name], suite_key), message)
        assert accepted.data["verified"] is True, accepted
    # Our RDFC signer refuses to sign a relative `holder.id` (PROOF_TRANSFORMATION_ERROR), so
    # the VP is signed with the fixture's holder as a DID and the bad id is put back after.
    invalid = copy.deepcopy(FIXTURES["presentation-holder-object-fail.json"])
    bad_holder = invalid["holder"]
    invalid["holder"] = {"id": SUITE_DID}
    vp = create_vp(invalid, suite_key)
    vp["holder"] = bad_holder
    refused = run.rejects(vp, "Failed to reject a VP with an invalid holder.")
    assert refused.data["verified"] is False, refused


@pytest.mark.parametrize("mode", list(MODES))
def test_vp_self_asserted_requires_holder(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str
) -> None:
    """A verifiable presentation that includes a self-asserted verifiable credential that is
    only secured using the same mechanism as the verifiable presentation MUST include a holder
    property."""
    presentation = copy.deepcopy(FIXTURES["presentation-vc-ok.json"])
    presentation["verifiableCredential"][0]["issuer"] = suite_key.did
    refused = Run(verifier, mode).rejects(
        create_local_vp(presentation, suite_key),
        "Failed to reject a VP with self-asserted VC without holder.",
    )
    holder = next(r for r in refused.data["results"] if r["check"] == "holder")
    assert holder["status"] == "failed", refused
    assert holder["details"] == {"reason": "noHolder"}, refused
    # without a holder the claim is not the holder's: it is a credential without a proof
    assert failed_checks(refused) == {"holder", "credentials"}, refused
    assert "proof" in nested_failed_checks(refused, 0), refused


@pytest.mark.parametrize("mode", list(MODES))
def test_vp_self_asserted_issuer_is_holder(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, mode: str
) -> None:
    """When a self-asserted verifiable credential is secured using the same mechanism as the
    verifiable presentation, the value of the issuer property of the verifiable credential
    MUST be identical to the holder property of the verifiable presentation."""
    run = Run(verifier, mode)
    presentation = copy.deepcopy(FIXTURES["presentation-vc-ok.json"])
    presentation["verifiableCredential"][0]["issuer"] = suite_key.did
    presentation["holder"] = suite_key.did
    accepted = run.accepts(
        create_local_vp(presentation, suite_key),
        "Failed to verify a VP containing a self-asserted VC.",
    )
    assert "credentials" in accepted.data["checks"], accepted
    presentation["verifiableCredential"][0]["issuer"] = suite_key.did
    presentation["holder"] = "did:example:acme"
    refused = run.rejects(
        create_local_vp(presentation, suite_key),
        "Failed to reject a VP with self-asserted VC with a holder/issuer mismatch.",
    )
    # the VP's key is not did:example:acme's, and the claim is then nobody's
    assert failed_checks(refused) == {"holder", "credentials"}, refused
    presentation["verifiableCredential"][0]["issuer"] = "did:example:acme"
    presentation["holder"] = suite_key.did
    refused = run.rejects(
        create_local_vp(presentation, suite_key),
        "Failed to reject a VP with self-asserted VC with a holder/issuer mismatch.",
    )
    # the holder's proof verifies; a credential another issuer "issued" has no proof
    assert failed_checks(refused) == {"credentials"}, refused
    assert "proof" in nested_failed_checks(refused, 0), refused
