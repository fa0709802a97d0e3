"""Mutation fuzzing of the verifier over the W3C vectors: typed errors only, no forgeries.

Each run applies seeded random mutations (deterministic, so a failure reproduces) to a signed
spec vector: a node replaced by JSON of another type, a huge integer, deep nesting or an odd
string; a member deleted or added; an array item duplicated. Every mutant goes through
:func:`verifier.verify.verify_credential` and :func:`verifier.verify.verify_presentation`, and:

* only :class:`~agent.errors.HealthMyDataError` may escape (``InvalidInputError`` for input
  that is not an object at all); anything else is a bug the reviewer's fuzzer found before
  (``ValueError`` from dates, ``TypeError`` from a list ``cryptosuite``, ``RecursionError``);
* a mutant may pass the ``proof`` check only if the mutation was neutral for the signature:
  the bytes the suite hashes (canonical proof configuration and document) are unchanged.

The whole file stays well under 20 seconds.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.credentials.suites import eddsa_jcs_2022, eddsa_rdfc_2022
from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from tests.conftest import load_vector
from verifier.verify import verify_credential, verify_presentation

NOW = datetime(2024, 1, 1, tzinfo=UTC)
BASES = {
    "eddsa-jcs-2022": ("vc-di-eddsa", "eddsa-jcs-2022", "signedJCS.json"),
    "eddsa-rdfc-2022": ("vc-di-eddsa", "eddsa-rdfc-2022", "signedDataInt.json"),
}
#: Mutants per suite; RDFC costs more per document than JCS.
ROUNDS = {"eddsa-jcs-2022": 1500, "eddsa-rdfc-2022": 600}

ODD_STRINGS = [
    "",
    "x",
    "\ud800",
    "\u0000",
    "\u2028",
    "a" * 20_000,
    "did:key:z",
    "did:key:z6Mk",
    "did:web:..",
    "did:peer:2.Vz",
    "#frag",
    "_:b0",
    "@context",
    "https://www.w3.org/ns/credentials/v2",
    "2023-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2023-01-01T24:00:00Z",
    "2023-01-01T00:00:00+14:00",
    "DataIntegrityProof",
    "eddsa-rdfc-2022",
    "eddsa-jcs-2022",
    "VerifiablePresentation",
    "authentication",
]


def _deep(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _random_json(rng: random.Random, avoid: type | None) -> Any:
    """A JSON value whose Python type differs from ``avoid`` (when it can)."""
    makers: list[Any] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.choice([0, -1, 7, 2**53, 2**64, -(2**70), 10**400]),
        lambda: rng.choice([1.5, -0.0, 1e308, 5e-324, 1e21]),
        lambda: rng.choice(ODD_STRINGS),
        lambda: rng.choice([[], [None], [1], ["x"], [[]], [{}]]),
        lambda: rng.choice([{}, {"id": 5}, {"id": []}, {"@value": 1}, {"@context": 1}]),
        lambda: _deep(rng.choice([30, 100, 3000])),
    ]
    for _ in range(10):
        value = rng.choice(makers)()
        if avoid is None or type(value) is not avoid:
            return value
    return value


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


def _mutate(base: dict[str, Any], rng: random.Random) -> tuple[str, Any]:
    """One random mutation of a copy of ``base``: (description, mutant)."""
    document = copy.deepcopy(base)
    paths = list(_paths(document))
    path = rng.choice(paths)
    operation = rng.choice(["replace", "replace", "replace", "delete", "add", "duplicate"])
    if not path:
        return "root replaced", _random_json(rng, dict)
    parent = _parent(document, path)
    key = path[-1]
    if operation == "replace":
        parent[key] = _random_json(rng, type(parent[key]))
    elif operation == "delete":
        del parent[key]
    elif operation == "add" and isinstance(parent[key], dict):
        parent[key][rng.choice(["@id", "@type", "@context", "id", "type", "extra"])] = _random_json(
            rng, None
        )
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = [parent[key]]
    return f"{operation} at {list(path)}", document


def _signed_bytes(suite: str, document: dict[str, Any]) -> list[bytes] | None:
    """What each proof's signature covers (the suite's hash data), or None when it cannot be
    computed for this document."""
    proofs = document.get("proof")
    items = proofs if isinstance(proofs, list) else [proofs]
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    covered: list[bytes] = []
    for proof in items:
        if not isinstance(proof, dict):
            return None
        options = {key: value for key, value in proof.items() if key != "proofValue"}
        signed = dict(unsecured)
        try:
            if suite == "eddsa-jcs-2022":
                if "@context" in options:
                    signed["@context"] = options["@context"]
                covered.append(
                    eddsa_jcs_2022.hash_data(signed, options, code=ErrorCode.MALFORMED_PROOF_ERROR)
                )
            else:
                covered.append(
                    eddsa_rdfc_2022.hash_data(signed, options, code=ErrorCode.MALFORMED_PROOF_ERROR)
                )
        except HealthMyDataError:
            return None
    return covered


async def _verify(mutant: Any) -> list[Any]:
    resolver = DIDResolver()  # did:key only: nothing leaves the process.
    reports = []
    for checks in (None, ["proof"]):
        reports.append(await verify_credential(mutant, resolver=resolver, now=NOW, checks=checks))
    reports.append(
        await verify_presentation(mutant, resolver=resolver, now=NOW, challenge="c", domain="d")
    )
    return reports


@pytest.mark.parametrize("suite", sorted(BASES))
async def test_mutants_raise_only_typed_errors_and_never_verify(suite: str) -> None:
    base: dict[str, Any] = load_vector(*BASES[suite])
    original = _signed_bytes(suite, base)
    assert original is not None
    rng = random.Random(f"fuzz-{suite}")
    verified_neutral = 0
    for round_ in range(ROUNDS[suite]):
        label, mutant = _mutate(base, rng)
        where = f"round {round_}: {label}"
        try:
            full, proof_only, presentation = await _verify(mutant)
        except InvalidInputError:
            assert not isinstance(mutant, dict) or label.startswith(("replace", "add")), where
            continue
        except HealthMyDataError as error:  # pragma: no cover - the report should catch these
            pytest.fail(f"{where}: {error.code} escaped the report")
        except Exception as error:
            pytest.fail(f"{where}: {type(error).__name__} escaped the verifier")
        # The vector's issuer is an https URL, its key a did:key: the issuer check fails.
        assert not full.verified, where
        assert not presentation.verified, where
        if proof_only.verified:
            covered = _signed_bytes(suite, mutant)
            assert covered is not None, f"{where}: verified, yet its signed bytes are unknown"
            assert set(covered) == set(original), f"{where}: forged mutant verified"
            verified_neutral += 1
    # Most mutations change what is signed; a few (e.g. a one-item array for a string in
    # JSON-LD) do not, and those may verify.
    assert verified_neutral < ROUNDS[suite] // 4


@pytest.mark.parametrize("value", [None, 5, "x", [], [{}], True])
async def test_non_objects_are_invalid_input(value: Any) -> None:
    resolver = DIDResolver()
    with pytest.raises(InvalidInputError):
        await verify_credential(value, resolver=resolver, now=NOW)
    with pytest.raises(InvalidInputError):
        await verify_presentation(value, resolver=resolver, now=NOW)


async def test_deep_nesting_is_invalid_input_not_a_recursion_error() -> None:
    document: dict[str, Any] = load_vector(*BASES["eddsa-rdfc-2022"])
    document["credentialSubject"]["alumniOf"] = _deep(5000)
    with pytest.raises(InvalidInputError) as caught:
        await verify_credential(document, resolver=DIDResolver(), now=NOW)
    assert caught.value.code is ErrorCode.PARSING_ERROR


def test_mutations_are_deterministic() -> None:
    base: dict[str, Any] = load_vector(*BASES["eddsa-jcs-2022"])
    first = [json.dumps(_mutate(base, random.Random(7))[1], default=str) for _ in range(3)]
    again = [json.dumps(_mutate(base, random.Random(7))[1], default=str) for _ in range(3)]
    assert first == again
