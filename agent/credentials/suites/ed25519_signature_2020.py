"""The ``Ed25519Signature2020`` Linked Data proof (W3C CCG), as ACA-Py and Aries deployments
issue it; verification first, creation for tests and vectors.

https://w3c-ccg.github.io/lds-ed25519-2020/ and digitalbazaar/ed25519-signature-2020. It is the
predecessor of ``eddsa-rdfc-2022`` and signs the same bytes in the same way:

* the proof is ``{"type": "Ed25519Signature2020", "created", "verificationMethod",
  "proofPurpose", "proofValue"}`` (no ``cryptosuite``), and the document's ``@context`` must
  include ``https://w3id.org/security/suites/ed25519-2020/v1``, which defines those terms;
* the data signed is ``sha256(URDNA2015(proof options without proofValue, with the document's
  @context)) || sha256(URDNA2015(document without proof))``;
* ``proofValue`` is multibase base58btc (``z...``) of the 64-byte Ed25519 signature.

Canonicalisation is :func:`agent.credentials.suites.eddsa_rdfc_2022.canonicalize`, with its
limits on blank nodes and work and the pinned contexts only. Proof sets, purposes, challenge
and domain are checked by :func:`verify_ed25519_signature_2020` the way
:func:`agent.credentials.proofs.verify_proofs` checks Data Integrity proofs.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timedelta
from typing import Final

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, format_datetime, parse_datetime
from agent.credentials.suites import _common
from agent.credentials.suites.eddsa_rdfc_2022 import canonicalize
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, ProofError
from agent.keys.signer import KeyResolver, ResolvedKey, Signer
from agent.types import JSONObject

__all__ = [
    "PROOF_TYPE",
    "SUITE_CONTEXT",
    "add_ed25519_signature_2020",
    "hash_data",
    "verify_ed25519_signature_2020",
    "verify_proof",
]

PROOF_TYPE: Final = "Ed25519Signature2020"
SUITE_CONTEXT: Final = "https://w3id.org/security/suites/ed25519-2020/v1"


def _contexts(document: JSONObject) -> list[object]:
    context = document.get("@context")
    return context if isinstance(context, list) else [context]


def hash_data(document: JSONObject, options: JSONObject, *, code: ErrorCode) -> bytes:
    """``sha256(canon(options + document @context)) || sha256(canon(document))``.

    :raises CryptosuiteError: ``code`` when the options or the document cannot be
        canonicalised (a term no pinned context defines, the suite context missing).
    """
    if SUITE_CONTEXT not in _contexts(document):
        raise CryptosuiteError(
            f"an {PROOF_TYPE} proof needs the document's @context to include {SUITE_CONTEXT}",
            code=code,
            details={"property": "@context"},
        )
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = document["@context"]
    proof_hash = hashlib.sha256(canonicalize(config, code=code).encode("utf-8")).digest()
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    canonical = canonicalize(unsecured, code=ErrorCode.PROOF_TRANSFORMATION_ERROR)
    return proof_hash + hashlib.sha256(canonical.encode("utf-8")).digest()


def verify_proof(document: JSONObject, proof: JSONObject, public_key: ResolvedKey) -> None:
    """Check one ``Ed25519Signature2020`` proof over ``document`` (its other proofs ignored).

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed proof or a document
        that cannot be canonicalised.
    :raises agent.errors.SignatureError: the signature does not verify.
    """
    if proof.get("type") != PROOF_TYPE:
        raise CryptosuiteError(
            f"proof type is not {PROOF_TYPE}", code=ErrorCode.MALFORMED_PROOF_ERROR
        )
    data = hash_data(document, proof, code=ErrorCode.MALFORMED_PROOF_ERROR)
    _common.verify(proof, public_key, data)


def add_ed25519_signature_2020(
    document: JSONObject,
    signer: Signer,
    *,
    created: datetime,
    proof_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
) -> JSONObject:
    """A copy of ``document`` with an ``Ed25519Signature2020`` proof (tests and vectors: new
    credentials are issued with ``eddsa-rdfc-2022``, its standardised successor).

    :raises CryptosuiteError: ``PROOF_GENERATION_ERROR`` when the document cannot be signed.
    """
    options: JSONObject = {
        "type": PROOF_TYPE,
        "created": format_datetime(created),
        "verificationMethod": signer.verification_method,
        "proofPurpose": proof_purpose,
    }
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    data = hash_data(unsecured, options, code=ErrorCode.PROOF_GENERATION_ERROR)
    signed = copy.deepcopy(unsecured)
    signed["proof"] = {**options, "proofValue": _common.sign(signer, data)}
    return signed


async def verify_ed25519_signature_2020(
    document: JSONObject,
    proofs: list[JSONObject],
    resolver: KeyResolver,
    *,
    now: datetime,
    expected_purpose: str,
    challenge: str | None = None,
    domain: str | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> list[str]:
    """Verify the ``Ed25519Signature2020`` proofs of ``document``; returns their methods.

    Per proof: purpose, ``created`` not in the future, challenge and domain, the key
    dereferenced for the purpose, then the signature over the document without any proof.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR``, ``MISMATCHED_PROOF_PURPOSE_ERROR``.
    :raises ProofError: ``INVALID_PROOF_DATETIME``, ``INVALID_CHALLENGE_ERROR``,
        ``INVALID_DOMAIN_ERROR``.
    :raises agent.errors.SignatureError: a signature does not verify.
    :raises agent.errors.DIDError: the key cannot be resolved for the purpose.
    """
    if now.tzinfo is None:
        raise InvalidInputError("now must be a timezone-aware datetime")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    methods: list[str] = []
    for proof in proofs:
        if proof.get("proofPurpose") != expected_purpose:
            raise CryptosuiteError(
                f"proof purpose does not match the expected {expected_purpose!r}",
                code=ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
                details={"expected": expected_purpose},
            )
        method = proof.get("verificationMethod")
        if not isinstance(method, str):
            raise CryptosuiteError(
                "proof verificationMethod must be a DID URL string",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        created = proof.get("created")
        if created is not None:
            try:
                when = parse_datetime(created, require_zone=True)
            except ValueError:
                raise CryptosuiteError(
                    "proof created must be an XML Schema dateTimeStamp",
                    code=ErrorCode.MALFORMED_PROOF_ERROR,
                    details={"property": "created"},
                ) from None
            if when > now + max_clock_skew:
                raise ProofError(
                    f"the proof claims to be created in the future ({created})",
                    code=ErrorCode.INVALID_PROOF_DATETIME,
                )
        if challenge is not None and proof.get("challenge") != challenge:
            raise ProofError(
                "the proof's challenge does not equal the one this verifier issued",
                code=ErrorCode.INVALID_CHALLENGE_ERROR,
            )
        if domain is not None and proof.get("domain") != domain:
            raise ProofError(
                "the proof's domain is not this verifier's",
                code=ErrorCode.INVALID_DOMAIN_ERROR,
                details={"expected": domain},
            )
        key = await resolver.resolve_key(method, expected_purpose)
        verify_proof(unsecured, proof, key)
        methods.append(method)
    return methods
