"""The ``eddsa-jcs-2022`` cryptosuite (vc-di-eddsa 1.0, section 3.3).

https://www.w3.org/TR/vc-di-eddsa/#eddsa-jcs-2022

* Transformation (3.3.3): RFC 8785 JCS of the unsecured document.
* Proof configuration (3.3.5): the proof options without ``proofValue``; on creation the
  document's ``@context`` is copied into the proof (3.3.1 step 2), so it is signed too. On
  verification the document's ``@context`` must *equal* the proof's, not merely start with it
  as 3.3.2 allows: contexts appended after signing would change the document's meaning while
  the signature still verified.
* Hashing (3.3.4): ``sha256(canonical proof config) || sha256(canonical document)``.
* Serialization (3.3.6): Ed25519 over the 64-byte hash data; ``proofValue`` is multibase
  base58btc.

Chains: the caller (:mod:`agent.credentials.proofs`) puts the proofs that ``previousProof``
names into the unsecured document's ``proof`` before calling this suite (VC Data Integrity 1.0,
section 4.1 step 4 and section 4.5), so they are covered by the transformation.
"""

from __future__ import annotations

import hashlib

from agent.credentials import jcs
from agent.credentials.suites import _common
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, SignatureError
from agent.keys.signer import ResolvedKey, Signer
from agent.types import JSONObject

__all__ = ["EddsaJcs2022", "hash_data"]

NAME = "eddsa-jcs-2022"


def _canonical(value: JSONObject, code: ErrorCode) -> bytes:
    try:
        return jcs.canonicalize(value)
    except InvalidInputError as exc:
        raise CryptosuiteError(exc.message, code=code) from exc


def hash_data(document: JSONObject, proof_config: JSONObject, *, code: ErrorCode) -> bytes:
    """The 64 bytes that are signed: sha256(JCS(proof config)) || sha256(JCS(document)).

    ``proof_config`` must not contain ``proofValue``. Exposed for the spec vector tests.
    """
    _common.check_proof_config(proof_config, NAME, code)
    config_hash = hashlib.sha256(_canonical(proof_config, code)).digest()
    document_hash = hashlib.sha256(_canonical(document, ErrorCode.PROOF_TRANSFORMATION_ERROR))
    return config_hash + document_hash.digest()


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


class EddsaJcs2022:
    """``eddsa-jcs-2022``: JCS canonicalisation, SHA-256, Ed25519."""

    @property
    def name(self) -> str:
        return NAME

    def create_proof(self, document: JSONObject, options: JSONObject, signer: Signer) -> JSONObject:
        """vc-di-eddsa 3.3.1 Create Proof.

        :raises CryptosuiteError: ``PROOF_GENERATION_ERROR`` for bad options.
        """
        proof = {key: value for key, value in options.items() if key != "proofValue"}
        if "@context" in document:
            proof["@context"] = document["@context"]
        data = hash_data(document, proof, code=ErrorCode.PROOF_GENERATION_ERROR)
        proof["proofValue"] = _common.sign(signer, data)
        return proof

    def verify_proof(
        self, document: JSONObject, proof: JSONObject, public_key: ResolvedKey
    ) -> None:
        """vc-di-eddsa 3.3.2 Verify Proof.

        :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed proof or a proof
            ``@context`` that the document's ``@context`` does not start with.
        :raises agent.errors.SignatureError: the signature does not verify, or the document's
            ``@context`` is longer than the proof's (entries appended after signing; a
            deliberate deviation from the spec's prefix rule, see the comment in the code).
        """
        options = {key: value for key, value in proof.items() if key != "proofValue"}
        unsecured = dict(document)
        if "@context" in options:
            proof_context = _as_list(options["@context"])
            document_context = _as_list(document.get("@context", []))
            if document_context[: len(proof_context)] != proof_context:
                raise CryptosuiteError(
                    "the proof's @context is not a prefix of the document's @context",
                    code=ErrorCode.MALFORMED_PROOF_ERROR,
                )
            if len(document_context) != len(proof_context):
                # vc-di-eddsa 3.3.2 would verify the document with the proof's @context put
                # back, so contexts appended after signing (a new @base, @language or term
                # definitions) would change what the document means without touching the
                # signature. Such a document is refused: the signed @context must be all of it.
                raise SignatureError(
                    "the document's @context has entries that the proof's @context does not: "
                    "they were added after signing and are not covered by the signature",
                    code=ErrorCode.PROOF_VERIFICATION_ERROR,
                )
            unsecured["@context"] = options["@context"]
        data = hash_data(unsecured, options, code=ErrorCode.MALFORMED_PROOF_ERROR)
        _common.verify(proof, public_key, data)
