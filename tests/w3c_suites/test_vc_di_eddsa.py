"""w3c/vc-di-eddsa-test-suite, ported: both cryptosuites, against our issuer and verifier.

The suite runs `data-integrity-test-suite-assertion` (`checkDataIntegrityProofFormat`,
`checkDataIntegrityProofVerifyErrors`) and its own `tests/suites/{data-model,algorithms}.js`
for each cryptosuite. Test ids are the suites' `it()` titles. See SOURCE.md.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlparse

import pytest
from pyld import jsonld

from agent.credentials.contexts import jsonld_options
from agent.dids import did_key_document
from agent.keys import decode_multikey
from agent.keys.multikey import decode_multibase_base58btc
from tests.w3c_suites.conftest import Endpoint, Hospital, Result, SuiteKey, new_id, sign

CRYPTOSUITES = ["eddsa-rdfc-2022", "eddsa-jcs-2022"]

# tests/vc-generator/validVc.js
VALID_VC: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:86294362-4254-4f36-854f-3952fe42555d",
    "type": ["VerifiableCredential"],
    "credentialSubject": {
        "id": "did:key:z6MktKwz7Ge1Yxzr4JHavN33wiwa8y81QdcMRLXQsrH9T53b",
        "name": "ExampleClaim",
    },
}

# data-integrity-test-suite-assertion inputs/credentials/v1.1/unsecured.json (8e926e6a), the
# `unsecured.get('1.1')` of its fixtures.js (f5eb3742): VC 1.1 input at the issuer
VALID_VC_1_1: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/2018/credentials/v1",
        {"@context": {"name": "https://schema.org/name"}},
    ],
    "id": "urn:uuid:86294362-4254-4f36-854f-3952fe42555d",
    "type": ["VerifiableCredential"],
    "issuanceDate": "2020-03-16T22:37:26.544Z",
    "credentialSubject": {"id": "did:example:credentialSubject", "name": "Example"},
}
INPUTS = {"2.0": VALID_VC, "1.1": VALID_VC_1_1}

# data-integrity-test-suite-assertion assertions.js
BS58 = re.compile(r"^[123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]+$")
DATE_REGEX = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})"
    r"-(0[1-9]|1[0-2])"
    r"-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)


def create_initial_vc(issuer: Endpoint, vc: dict[str, Any], cryptosuite: str) -> dict[str, Any]:
    """helpers.js createInitialVc: a fresh id, the issuer's id, the implementation's options."""
    credential = copy.deepcopy(vc)
    credential["id"] = new_id()
    credential["issuer"] = issuer.settings["id"]
    result = issuer.post({"credential": credential, "options": {"cryptosuite": cryptosuite}})
    assert result.ok, result
    issued: dict[str, Any] = result.data["verifiableCredential"]
    return issued


def proofs_of(vc: dict[str, Any]) -> list[dict[str, Any]]:
    proof = vc.get("proof")
    return proof if isinstance(proof, list) else [proof]


def should_be_url(url: object) -> None:
    assert isinstance(url, str), f"Expected URL {url!r} to be a string."
    parsed = urlparse(url)
    assert parsed.scheme, f"Expected {url!r} to be parsed as a URL."


def expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = jsonld.expand(doc, jsonld_options())
    return result


def should_map_to_url(doc: dict[str, Any], term: str, prop: str) -> None:
    for terms in expand(doc):
        assert terms.get(term), f'Expected property "{term}" to exist.'
        for value in terms[term]:
            should_be_url(value[prop])


def bs58_decode(value: str) -> bytes:
    return decode_multibase_base58btc(value)


def public_key_bytes(verification_method: str) -> bytes:
    """helpers.js getPublicKeyBytes: the did:key's key material without the multicodec."""
    did = verification_method.split("#", 1)[0]
    document = did_key_document(did)
    return decode_multikey(document["verificationMethod"][0]["publicKeyMultibase"])[1]


# ---------------------------------------------------------------------------------------
# Issuer side


@pytest.fixture(
    scope="module",
    params=[(cs, version) for cs in CRYPTOSUITES for version in INPUTS],
    ids=[f"{cs}-vc{version}" for cs in CRYPTOSUITES for version in INPUTS],
)
def issued(request: pytest.FixtureRequest, hospital: Hospital) -> tuple[str, dict[str, Any]]:
    """Every create test runs on VC 2.0 and on VC 1.1 input (the issuer upgrades 1.1 input to
    VCDM 2.0 before signing; `test_vc_1_1_input_is_issued_as_vcdm2`)."""
    cryptosuite, version = request.param
    return cryptosuite, create_initial_vc(hospital.issuer, INPUTS[version], cryptosuite)


def _suite_proofs(issued: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    cryptosuite, vc = issued
    proofs = [p for p in proofs_of(vc) if p.get("cryptosuite") == cryptosuite]
    assert len(proofs) >= 1, f"Expected at least one {cryptosuite} cryptosuite."
    return proofs


# data-integrity-test-suite-assertion suites/create.js (checkDataIntegrityProofFormat)


@pytest.mark.parametrize(
    "title",
    ["When expressing a data integrity proof on an object, a proof property MUST be used."],
)
def test_di_create_proof_property(issued: tuple[str, dict[str, Any]], title: str) -> None:
    assert issued[1].get("proof") is not None, "Expected proof to exist."


def test_di_create_proof_object_or_set(issued: tuple[str, dict[str, Any]]) -> None:
    """If present (proof), its value MUST be either a single object, or an unordered set of
    objects"""
    proof = issued[1]["proof"]
    items = proof if isinstance(proof, list) else [proof]
    assert all(isinstance(p, dict) for p in items)


def test_di_create_proof_id_url(issued: tuple[str, dict[str, Any]]) -> None:
    """("proof.id") An optional identifier for the proof, which MUST be a URL."""
    proofs = proofs_of(issued[1])
    assert proofs, issued[1]
    assert all(isinstance(proof, dict) for proof in proofs), issued[1]
    for proof in proofs:
        if proof.get("id"):
            should_be_url(proof["id"])


def test_di_create_type_maps_to_url(issued: tuple[str, dict[str, Any]]) -> None:
    """The specific proof type used for the cryptographic proof MUST be specified as a string
    that maps to a URL."""
    vc = issued[1]
    for proof in proofs_of(vc):
        assert isinstance(proof.get("type"), str)
        for term in expand({"@context": vc["@context"], "type": proof["type"]}):
            assert term.get("@type"), "Expected @type to exist."
            for url in term["@type"]:
                should_be_url(url)


def test_di_create_type_and_contexts(issued: tuple[str, dict[str, Any]]) -> None:
    """ "proof.type" field MUST be "DataIntegrityProof" and the associated document MUST
    include expected contexts."""
    vc = issued[1]
    for proof in proofs_of(vc):
        assert proof["type"] == "DataIntegrityProof"
        assert any(
            c in vc["@context"]
            for c in (
                "https://www.w3.org/ns/credentials/v2",
                "https://w3id.org/security/data-integrity/v2",
            )
        )


def test_di_create_cryptosuite_string(issued: tuple[str, dict[str, Any]]) -> None:
    """If the proof type is DataIntegrityProof, cryptosuite MUST be specified; otherwise,
    cryptosuite MAY be specified. If specified, its value MUST be a string."""
    for proof in proofs_of(issued[1]):
        if proof.get("type") == "DataIntegrityProof":
            assert isinstance(proof.get("cryptosuite"), str)


@pytest.mark.parametrize("field", ["created", "expires"])
def test_di_create_datetime(issued: tuple[str, dict[str, Any]], field: str) -> None:
    """if "proof.created" / "proof.expires" field exists, it MUST be a valid XMLSCHEMA-11
    dateTimeStamp value."""
    for proof in proofs_of(issued[1]):
        if proof.get(field):
            assert DATE_REGEX.search(proof[field])


def test_di_create_verification_method_url(issued: tuple[str, dict[str, Any]]) -> None:
    """A verification method is the means and information needed to verify the proof. If
    included, the value MUST be a string that maps to a [URL]"""
    vc = issued[1]
    proofs = proofs_of(vc)
    assert proofs, vc
    assert all("verificationMethod" in proof for proof in proofs), vc
    for proof in proofs:
        should_map_to_url(
            {"@context": vc["@context"], **proof},
            "https://w3id.org/security#verificationMethod",
            "@id",
        )


def test_di_create_proof_purpose_url(issued: tuple[str, dict[str, Any]]) -> None:
    """The reason the proof was created ("proof.proofPurpose") MUST be specified as a string
    that maps to a URL"""
    vc = issued[1]
    for proof in proofs_of(vc):
        assert isinstance(proof.get("proofPurpose"), str)
        should_map_to_url(
            {"@context": vc["@context"], **proof}, "https://w3id.org/security#proofPurpose", "@id"
        )


def test_di_create_proof_value_string(issued: tuple[str, dict[str, Any]]) -> None:
    """ "proof.proofValue" field MUST exist and be a string."""
    for proof in proofs_of(issued[1]):
        assert isinstance(proof.get("proofValue"), str)


def test_di_create_proof_value_multibase(issued: tuple[str, dict[str, Any]]) -> None:
    """The contents of the value ("proof.proofValue") MUST be expressed with a header and
    encoding as described in Section 2.4 Multibase."""
    for proof in proofs_of(issued[1]):
        assert proof["proofValue"][:1] == "z"
        assert BS58.match(proof["proofValue"])


def test_di_create_domain_challenge_previous_nonce(issued: tuple[str, dict[str, Any]]) -> None:
    """The domain property is OPTIONAL ... if "proof.challenge" / "proof.previousProof" /
    "proof.nonce" field exists, it MUST be a string."""
    for proof in proofs_of(issued[1]):
        if proof.get("domain"):
            domain = proof["domain"]
            assert isinstance(domain, str) or all(isinstance(d, str) for d in domain)
        if proof.get("challenge"):
            assert proof.get("domain") is not None
            assert isinstance(proof["challenge"], str)
        if proof.get("previousProof"):
            assert isinstance(proof["previousProof"], str)
        if proof.get("nonce"):
            assert isinstance(proof["nonce"], str)


def test_di_create_cryptosuite_identifies_suite(issued: tuple[str, dict[str, Any]]) -> None:
    """The value of the cryptosuite property MUST be a string that identifies the
    cryptographic suite. If the processing environment supports subtypes of string, the type
    of the cryptosuite value MUST be the https://w3id.org/security#cryptosuiteString subtype
    of string."""
    cryptosuite, vc = issued
    assert any(p.get("cryptosuite") == cryptosuite for p in proofs_of(vc))
    for proof in proofs_of(vc):
        expanded = expand(
            {"@context": vc["@context"], "cryptosuite": proof["cryptosuite"], "type": proof["type"]}
        )
        for terms in expanded:
            values = terms.get("https://w3id.org/security#cryptosuite")
            assert values, "Expected property https://w3id.org/security#cryptosuite to exist."
            assert any(
                v.get("@type") == "https://w3id.org/security#cryptosuiteString"
                and v.get("@value") == cryptosuite
                for v in values
            )


# tests/10-create.js (eddsa-2022 (issuer))


def test_eddsa_create_cryptosuite_field(issued: tuple[str, dict[str, Any]]) -> None:
    """The field "cryptosuite" MUST be "eddsa-rdfc-2022" or "eddsa-jcs-2022" """
    assert any(p.get("cryptosuite") in CRYPTOSUITES for p in proofs_of(issued[1]))


def test_eddsa_create_proof_value_length(issued: tuple[str, dict[str, Any]]) -> None:
    """ "proofValue" field when decoded to raw bytes, MUST be 64 bytes in length if the
    associated public key is 32 bytes or 114 bytes in length if the public key is 57 bytes."""
    for proof in _suite_proofs(issued):
        value = bs58_decode(proof["proofValue"])
        key = public_key_bytes(proof["verificationMethod"])
        assert len(key) in (32, 57)
        assert len(value) == (64 if len(key) == 32 else 114)


def test_eddsa_create_proof_verifies(
    issued: tuple[str, dict[str, Any]], verifier: dict[str, Endpoint]
) -> None:
    """ "proof" MUST verify when using a conformant verifier."""
    result = verifier["credentials"].post(
        {"verifiableCredential": issued[1], "options": {"checks": ["proof"]}}
    )
    assert result.status == 200, result


# tests/suites/data-model.js


def test_dm_public_key_multibase(issued: tuple[str, dict[str, Any]]) -> None:
    """The publicKeyMultibase value of the verification method MUST start with the
    base-58-btc prefix (z), as defined in the Multibase section of Controller Documents 1.0.
    (and: Any other encoding MUST NOT be allowed.)"""
    documents = []
    for proof in proofs_of(issued[1]):
        did = proof["verificationMethod"].split("#", 1)[0]
        methods = did_key_document(did)["verificationMethod"]
        documents += [m for m in methods if m["id"].endswith(proof["verificationMethod"][-20:])]
    assert documents, 'Expected at least one "verificationMethodDocument".'
    for document in documents:
        value = document["publicKeyMultibase"]
        assert value.startswith("z")
        assert BS58.match(value)


def test_dm_di_proofs(issued: tuple[str, dict[str, Any]]) -> None:
    """The type property MUST be DataIntegrityProof. / The cryptosuite property of the proof
    MUST be eddsa-rdfc-2022 or eddsa-jcs-2022. / The proofValue property of the proof MUST be
    a detached EdDSA signature ... encoded using the base-58-btc header and alphabet"""
    for proof in _suite_proofs(issued):
        assert proof["type"] == "DataIntegrityProof"
        assert proof["cryptosuite"] in CRYPTOSUITES
        assert bs58_decode(proof["proofValue"])


# tests/suites/algorithms.js (jcs() and rdfc())


def test_algorithms_transformation_and_proof_configuration(
    issued: tuple[str, dict[str, Any]],
) -> None:
    """The transformation options MUST contain a type identifier for the cryptographic suite
    (type) and a cryptosuite identifier (cryptosuite). / Whenever this algorithm encodes
    strings, it MUST use UTF-8 encoding. / If options.type is not set to the string
    DataIntegrityProof and options.cryptosuite is not set to the string <suite>, an error
    MUST be raised ... / If proofConfig.created is set to a value that is not a valid
    [XMLSCHEMA11-2] datetime, an error MUST be raised ... / The proof options MUST contain a
    type identifier for the cryptographic suite (type) and MAY contain a cryptosuite
    identifier (cryptosuite)."""
    cryptosuite = issued[0]
    for proof in _suite_proofs(issued):
        assert proof.get("type")
        assert proof.get("cryptosuite")
        proof["proofValue"].encode("utf-8")
        assert proof["type"] == "DataIntegrityProof"
        assert proof["cryptosuite"] == cryptosuite
        if proof.get("created"):
            assert DATE_REGEX.fullmatch(proof["created"])


# ---------------------------------------------------------------------------------------
# Verifier side: data-integrity-test-suite-assertion suites/verify.js
# (checkDataIntegrityProofVerifyErrors) with its vc-generator/generators.js mutations.


def _generate(key: SuiteKey, cryptosuite: str, name: str) -> dict[str, Any]:
    """vc-generator generators.js: the suite signs `validVc` with its own did:key."""
    credential = copy.deepcopy(VALID_VC)
    credential["id"] = new_id()
    credential["issuer"] = key.did
    if name == "issuedVc":
        return sign(credential, key, cryptosuite=cryptosuite)
    if name == "invalidProofType":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        vc["proof"]["type"] = "UnknownProofType"
        return vc
    if name == "noVm":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        del vc["proof"]["verificationMethod"]
        return vc
    if name == "invalidVm":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        vc["proof"]["verificationMethod"] = "did:key:invalidVm"
        return vc
    if name == "noProofPurpose":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        del vc["proof"]["proofPurpose"]
        return vc
    if name == "invalidProofPurpose":
        if cryptosuite == "eddsa-jcs-2022":
            return sign(credential, key, cryptosuite=cryptosuite, proof_purpose="invalidPurpose")
        # Our RDFC signer refuses an undefined proofPurpose term (the suite's jsigs does not):
        # the purpose is changed after signing instead (see SOURCE.md).
        vc = sign(credential, key, cryptosuite=cryptosuite)
        vc["proof"]["proofPurpose"] = "invalidPurpose"
        return vc
    if name == "invalidCryptosuite":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        vc["proof"]["cryptosuite"] = "UnknownCryptosuite"
        return vc
    if name == "invalidDomain":
        return sign(
            credential,
            key,
            cryptosuite=cryptosuite,
            proof_purpose="authentication",
            domain="invalid-vc-domain.example.com",
            challenge="1235abcd6789",
        )
    if name == "invalidChallenge":
        return sign(
            credential,
            key,
            cryptosuite=cryptosuite,
            proof_purpose="authentication",
            domain="domain.example",
            challenge="invalid-challenge",
        )
    if name == "invalidCreated":
        vc = sign(credential, key, cryptosuite=cryptosuite)
        vc["proof"]["created"] = "invalidDate"
        return vc
    raise AssertionError(name)


def verification_fail(verifier: Endpoint, credential: Any, **options: Any) -> Result:
    """assertions.js verificationFail: no result, an error with status 400 or 422."""
    result = verifier.post(
        {"verifiableCredential": credential, "options": {"checks": ["proof"], **options}}
    )
    assert result.status in (400, 422), result
    return result


VERIFY_CASES: list[Any] = [
    # suites/verify.js optionalTests.authentication (001e58a4), generators.js invalidDomain /
    # invalidChallenge: implementations tagged for it; our verifier honours options.domain and
    # options.challenge on credentials (VC-API), so they are run.
    (
        'If the "options.domain" is set and it does not match "proof.domain", an error MUST be '
        "raised.",
        "invalidDomain",
        "options.domain",
    ),
    (
        'If the "options.challenge" is set and it does not match "proof.challenge", an error '
        "MUST be raised.",
        "invalidChallenge",
        "options.challenge",
    ),
    ('If the "proof" field is missing, an error MUST be raised.', "issuedVc", "delete proof"),
    ('If the "proof" field is invalid, an error MUST be raised.', "issuedVc", "proof null"),
    ('If the "proof.type" field is missing, an error MUST be raised.', "issuedVc", "delete type"),
    (
        'If the "proof.type" field is not the string "DataIntegrityProof", an error MUST be '
        "raised.",
        "invalidProofType",
        None,
    ),
    (
        'If the "proof.verificationMethod" field is missing, an error MUST be raised.',
        "noVm",
        None,
    ),
    (
        'If the "proof.verificationMethod" field is invalid, an error MUST be raised.',
        "invalidVm",
        None,
    ),
    (
        'If the "proof.proofPurpose" field is missing, an error MUST be raised.',
        "noProofPurpose",
        None,
    ),
    (
        'If the "proof.proofPurpose" field is invalid, an error MUST be raised.',
        "invalidProofPurpose",
        None,
    ),
    (
        'If the "proof.proofPurpose" value does not match "options.expectedProofPurpose", an '
        "error MUST be raised.",
        "issuedVc",
        "expectedProofPurpose",
    ),
    (
        'If the "proof.proofValue" field is missing, an error MUST be raised.',
        "issuedVc",
        "delete proofValue",
    ),
    (
        'If the "proof.proofValue" field is invalid, an error MUST be raised.',
        "issuedVc",
        "proofValue null",
    ),
    (
        "The date and time the proof was created is OPTIONAL and, if included, MUST be specified "
        "as an [XMLSCHEMA11-2] dateTimeStamp string, either in Universal Coordinated Time (UTC), "
        "denoted by a Z at the end of the value, or with a time zone offset relative to UTC.",
        "invalidCreated",
        None,
    ),
    (
        'If the "proof.proofValue" field is not multibase-encoded, an error MUST be raised.',
        "issuedVc",
        "strip multibase",
    ),
    (
        "The value of the cryptosuite property MUST be a string that identifies the "
        "cryptographic suite. If the processing environment supports subtypes of string, the "
        "type of the cryptosuite value MUST be the https://w3id.org/security#cryptosuiteString "
        "subtype of string.",
        "invalidCryptosuite",
        None,
    ),
]


@pytest.mark.parametrize("cryptosuite", CRYPTOSUITES)
@pytest.mark.parametrize(
    ("title", "vector", "mutation"),
    VERIFY_CASES,
    ids=[c.values[0] if hasattr(c, "values") else c[0] for c in VERIFY_CASES],
)
def test_di_verify_errors(
    verifier: dict[str, Endpoint],
    suite_key: SuiteKey,
    cryptosuite: str,
    title: str,
    vector: str,
    mutation: str | None,
) -> None:
    credential = _generate(suite_key, cryptosuite, vector)
    options: dict[str, Any] = {}
    if mutation == "delete proof":
        del credential["proof"]
    elif mutation == "proof null":
        credential["proof"] = None
    elif mutation == "delete type":
        del credential["proof"]["type"]
    elif mutation == "delete proofValue":
        del credential["proof"]["proofValue"]
    elif mutation == "proofValue null":
        credential["proof"]["proofValue"] = None
    elif mutation == "strip multibase":
        credential["proof"]["proofValue"] = credential["proof"]["proofValue"][1:]
    elif mutation == "expectedProofPurpose":
        options["expectedProofPurpose"] = "authentication"
    elif mutation == "options.domain":
        options["domain"] = "domain.example"
    elif mutation == "options.challenge":
        options.update(domain="domain.example", challenge="1235abcd6789")
    verification_fail(verifier["credentials"], credential, **options)
    if mutation in ("options.domain", "options.challenge"):
        # The suite's vectors also carry the authentication purpose the verifier's default
        # (assertionMethod) refuses: with the purpose expected, the domain or challenge alone
        # must still fail the proof check, and the matching ones verify.
        options["expectedProofPurpose"] = "authentication"
        result = verifier["credentials"].post(
            {"verifiableCredential": credential, "options": {"checks": ["proof"], **options}}
        )
        assert result.status == 400, result
        [error] = result.data["errors"]
        wanted = "INVALID_DOMAIN_ERROR" if vector == "invalidDomain" else "INVALID_CHALLENGE_ERROR"
        assert error["code"] == wanted, result
        proof = credential["proof"]
        options.update(domain=proof["domain"], challenge=proof["challenge"])
        result = verifier["credentials"].post(
            {"verifiableCredential": credential, "options": {"checks": ["proof"], **options}}
        )
        assert result.status == 200, result


@pytest.mark.parametrize("cryptosuite", CRYPTOSUITES)
def test_verify_valid_vc(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, cryptosuite: str
) -> None:
    """MUST verify a valid VC with an eddsa-2022 proof (tests/20-verify.js, the baseline the
    negative tests above are mutations of)."""
    credential = _generate(suite_key, cryptosuite, "issuedVc")
    result = verifier["credentials"].post(
        {"verifiableCredential": credential, "options": {"checks": ["proof"]}}
    )
    assert result.status == 200, result


# tests/20-verify.js (eddsa-2022 cryptosuite (verifier)), still in the suite's tree


@pytest.mark.parametrize("cryptosuite", CRYPTOSUITES)
@pytest.mark.parametrize(
    "title",
    [
        'If the "proofValue" field is not a multibase-encoded base58-btc value, an '
        "INVALID_PROOF_VALUE error MUST be returned.",
        'If the "proofValue" field, when decoded to raw bytes, is not 64 bytes in length if the '
        "associated public key is 32 bytes in length, or 114 bytes in length if the public key "
        "is 57 bytes in length, an INVALID_PROOF_LENGTH error MUST be returned.",
        'If the "cryptosuite" field is not the string "eddsa-2022", an UNKNOWN_CRYPTOSUITE_TYPE '
        "error MUST be returned.",
        "tampered credential (credentialSubject changed after signing)",
    ],
)
def test_eddsa_verify_errors(
    verifier: dict[str, Endpoint], suite_key: SuiteKey, cryptosuite: str, title: str
) -> None:
    from agent.keys.multikey import encode_multibase_base58btc

    credential = _generate(suite_key, cryptosuite, "issuedVc")
    if "multibase-encoded base58-btc" in title:
        credential["proof"]["proofValue"] = "not-multibase-bs58-encoded!!"
    elif "INVALID_PROOF_LENGTH" in title:
        raw = bs58_decode(credential["proof"]["proofValue"])
        credential["proof"]["proofValue"] = encode_multibase_base58btc(raw + bytes(range(32)))
    elif "UNKNOWN_CRYPTOSUITE_TYPE" in title:
        credential["proof"]["cryptosuite"] = "eddsa-2022"
    else:
        credential["credentialSubject"]["name"] = "Tampered"
    refused = verification_fail(verifier["credentials"], credential)
    assert refused.data["verified"] is False, refused


@pytest.mark.parametrize("cryptosuite", CRYPTOSUITES)
def test_vc_1_1_input_is_issued_as_vcdm2(
    hospital: Hospital, verifier: dict[str, Endpoint], cryptosuite: str
) -> None:
    """VC 1.1 input at the issuer (issue #6): the claims and the extra context are kept, the
    VC 1.1 context and `issuanceDate` become VCDM 2.0's, and the result verifies."""
    vc = create_initial_vc(hospital.issuer, VALID_VC_1_1, cryptosuite)
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2", vc["@context"]
    assert {"@context": {"name": "https://schema.org/name"}} in vc["@context"]
    assert "https://www.w3.org/2018/credentials/v1" not in vc["@context"]
    assert "issuanceDate" not in vc
    assert vc["validFrom"].startswith("2020-03-16T22:37:26"), vc
    assert vc["credentialSubject"] == VALID_VC_1_1["credentialSubject"]
    result = verifier["credentials"].post({"verifiableCredential": vc})
    assert result.status == 200, result
