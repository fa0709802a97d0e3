"""The W3C vc-di-eddsa test vectors (tests/vectors/vc-di-eddsa/SOURCE.md), both suites.

Every intermediate value the spec publishes is reproduced: canonical document and proof
configuration, their hashes, the combined hash, the signature (Ed25519 is deterministic, so
signing the unsigned input with the spec key must give the same bytes) and the signed document.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.credentials import jcs, proofs
from agent.credentials.suites import eddsa_jcs_2022, eddsa_rdfc_2022, get_suite
from agent.errors import ErrorCode, ProofError
from agent.keys.multikey import decode_multibase_base58btc
from tests.conftest import load_vector
from tests.proofs.helpers import AskarSigner, DidKeyResolver

NOW = datetime(2024, 6, 1, tzinfo=UTC)
SPEC_CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)

# (suite name, folder, file suffix)
SUITES = [
    pytest.param("eddsa-jcs-2022", "eddsa-jcs-2022", "JCS", id="eddsa-jcs-2022"),
    pytest.param("eddsa-rdfc-2022", "eddsa-rdfc-2022", "DataInt", id="eddsa-rdfc-2022"),
]


def vector(*parts: str) -> Any:
    return load_vector("vc-di-eddsa", *parts)


def text(*parts: str) -> str:
    return str(vector(*parts)).strip()


def canonical(suite: str, document: dict[str, Any]) -> bytes:
    if suite == "eddsa-jcs-2022":
        return jcs.canonicalize(document)
    code = ErrorCode.PROOF_TRANSFORMATION_ERROR
    return eddsa_rdfc_2022.canonicalize(document, code=code).encode("utf-8")


def hash_data(suite: str, document: dict[str, Any], config: dict[str, Any]) -> bytes:
    module = eddsa_jcs_2022 if suite == "eddsa-jcs-2022" else eddsa_rdfc_2022
    return module.hash_data(document, config, code=ErrorCode.PROOF_GENERATION_ERROR)


@pytest.fixture
def spec_signer() -> AskarSigner:
    return AskarSigner.from_multikey(vector("keyPair.json")["privateKeyMultibase"])


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
def test_canonical_document(suite: str, folder: str, suffix: str) -> None:
    expected = vector(folder, f"canonDoc{suffix}.txt")
    assert canonical(suite, vector("unsigned.json")).decode("utf-8").strip() == expected.strip()


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
def test_canonical_proof_config(suite: str, folder: str, suffix: str) -> None:
    config = vector(folder, f"proofConfig{suffix}.json")
    expected = vector(folder, f"proofCanon{suffix}.txt")
    got = canonical(suite, config).decode("utf-8")
    assert got.strip() == expected.strip()


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
def test_hashes(suite: str, folder: str, suffix: str) -> None:
    config = vector(folder, f"proofConfig{suffix}.json")
    combined = hash_data(suite, vector("unsigned.json"), config)
    assert combined[:32].hex() == text(folder, f"proofHash{suffix}.txt")
    assert combined[32:].hex() == text(folder, f"docHash{suffix}.txt")
    assert combined.hex() == text(folder, f"combinedHash{suffix}.txt")


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
def test_signing_reproduces_the_spec_signature(
    suite: str, folder: str, suffix: str, spec_signer: AskarSigner
) -> None:
    signed = proofs.add_proof(
        vector("unsigned.json"), spec_signer, cryptosuite=suite, created=SPEC_CREATED
    )
    proof_value = signed["proof"]["proofValue"]
    assert proof_value == text(folder, f"sigBTC58{suffix}.txt")
    assert decode_multibase_base58btc(proof_value).hex() == text(folder, f"sigHex{suffix}.txt")
    assert signed == vector(folder, f"signed{suffix}.json")


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
async def test_signed_vector_verifies(
    suite: str, folder: str, suffix: str, resolver: DidKeyResolver
) -> None:
    signed = vector(folder, f"signed{suffix}.json")
    # The spec credential's issuer is an https URL, not the did:key that signed it.
    results = await proofs.verify_proofs(signed, resolver, now=NOW, bind_controller=False)
    assert [(r.suite, r.purpose) for r in results] == [(suite, "assertionMethod")]
    assert results[0].verification_method == signed["proof"]["verificationMethod"]


@pytest.mark.parametrize(("suite", "folder", "suffix"), SUITES)
async def test_suite_verifies_vector_directly(
    suite: str, folder: str, suffix: str, resolver: DidKeyResolver
) -> None:
    signed = vector(folder, f"signed{suffix}.json")
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    key = await resolver.resolve_key(signed["proof"]["verificationMethod"], "assertionMethod")
    get_suite(suite).verify_proof(unsecured, signed["proof"], key)


SET_CHAIN = [
    "signedProofSet1.json",
    "signedProofSet2.json",
    "signedProofChain1.json",
    "signedProofChain2.json",
]


@pytest.mark.parametrize("name", SET_CHAIN)
async def test_proof_set_and_chain_vectors_verify(name: str, resolver: DidKeyResolver) -> None:
    signed = vector("proof-set-chain", name)
    expected = signed["proof"] if isinstance(signed["proof"], list) else [signed["proof"]]
    results = await proofs.verify_proofs(signed, resolver, now=NOW, bind_controller=False)
    assert [r.verification_method for r in results] == [p["verificationMethod"] for p in expected]


def _key_for(public: str) -> AskarSigner:
    for pair in vector("proof-set-chain", "multiKeyPairs.json").values():
        if pair["publicKeyMultibase"] == public:
            return AskarSigner.from_multikey(pair["privateKeyMultibase"])
    raise AssertionError(public)


def _created(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_proof_set_and_chain_signatures_are_reproduced() -> None:
    """Adding the four proofs in order, with the spec's options, rebuilds signedProofChain2."""
    document = vector("proof-set-chain", "unsigned.json")
    target = vector("proof-set-chain", "signedProofChain2.json")
    for proof in target["proof"]:
        signer = _key_for(proof["verificationMethod"].split("#")[1])
        document = proofs.add_proof(
            document,
            signer,
            cryptosuite=proof["cryptosuite"],
            created=_created(proof["created"]),
            proof_id=proof.get("id"),
            previous_proof=proof.get("previousProof"),
        )
    assert document == target
    assert vector("proof-set-chain", "signedProofSet2.json")["proof"] == target["proof"][:2]


async def test_chain_with_missing_previous_proof_is_rejected(resolver: DidKeyResolver) -> None:
    signed = copy.deepcopy(vector("proof-set-chain", "signedProofChain2.json"))
    del signed["proof"][2]  # The proof the last one chains to.
    with pytest.raises(ProofError) as caught:
        await proofs.verify_proofs(signed, resolver, now=NOW, bind_controller=False)
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR
    assert caught.value.details["previousProof"] == "urn:uuid:d94f792a-c546-4d06-b38a-da070ab56c23"
