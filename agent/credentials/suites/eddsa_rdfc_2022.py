"""The ``eddsa-rdfc-2022`` cryptosuite (vc-di-eddsa 1.0, section 3.2).

https://www.w3.org/TR/vc-di-eddsa/#eddsa-rdfc-2022

* Transformation (3.2.3): RDF Dataset Canonicalization (RDFC-1.0) of the unsecured document as
  N-Quads. pyld 3.3 names the algorithm ``URDNA2015``; RDFC-1.0 is its standardised version
  and produces the same output for the SHA-256 variant (RDFC-1.0, Appendix "Changes since
  URDNA2015"). Contexts come only from :mod:`agent.credentials.contexts`, and expansion runs
  in safe mode (``strict=False``): a dropped term is an error, never silently unsigned.
* Proof configuration (3.2.5): the proof options with the document's ``@context``; the proof
  itself does not carry ``@context``.
* Hashing (3.2.4): ``sha256(canonical proof config) || sha256(canonical document)``.
* Serialization (3.2.6): Ed25519; ``proofValue`` is multibase base58btc.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped,unused-ignore]

from agent.credentials import contexts
from agent.credentials.suites import _common
from agent.errors import ContextError, CryptosuiteError, ErrorCode
from agent.keys.signer import ResolvedKey, Signer
from agent.types import JSONObject

__all__ = ["EddsaRdfc2022", "canonicalize", "hash_data"]

NAME = "eddsa-rdfc-2022"


def canonicalize(document: JSONObject, *, code: ErrorCode) -> str:
    """RDFC-1.0 canonical N-Quads of ``document`` using only the pinned contexts.

    :raises CryptosuiteError: ``code`` for a term that would be dropped or any JSON-LD error
        (the :class:`~agent.errors.ContextError` is chained as ``__cause__``).
    """
    try:
        expanded = contexts.expand(document, strict=False)
        options: dict[str, Any] = {
            **contexts.jsonld_options(strict=False),
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
        }
        nquads: str = jsonld.normalize(expanded, options)
    except ContextError as exc:
        raise CryptosuiteError(
            f"cannot canonicalise the document as RDF: {exc.message}",
            code=code,
            details=exc.details,
        ) from exc
    except jsonld.JsonLdError as exc:
        raise CryptosuiteError(
            f"cannot canonicalise the document as RDF: {exc.type}", code=code
        ) from exc
    return nquads


def hash_data(document: JSONObject, proof_config: JSONObject, *, code: ErrorCode) -> bytes:
    """sha256(RDFC(proof config with the document's @context)) || sha256(RDFC(document)).

    ``proof_config`` must not contain ``proofValue``; its ``@context`` is replaced by the
    document's (3.2.5 step 4).
    """
    _common.check_proof_config(proof_config, NAME, code)
    config = {key: value for key, value in proof_config.items() if key != "@context"}
    if "@context" in document:
        config["@context"] = document["@context"]
    config_hash = hashlib.sha256(canonicalize(config, code=code).encode("utf-8")).digest()
    document_nquads = canonicalize(document, code=ErrorCode.PROOF_TRANSFORMATION_ERROR)
    return config_hash + hashlib.sha256(document_nquads.encode("utf-8")).digest()


class EddsaRdfc2022:
    """``eddsa-rdfc-2022``: RDFC-1.0 canonicalisation, SHA-256, Ed25519."""

    @property
    def name(self) -> str:
        return NAME

    def create_proof(self, document: JSONObject, options: JSONObject, signer: Signer) -> JSONObject:
        """vc-di-eddsa 3.2.1 Create Proof.

        :raises CryptosuiteError: ``PROOF_GENERATION_ERROR`` for bad options or terms the
            contexts do not define.
        """
        proof = {key: value for key, value in options.items() if key != "proofValue"}
        data = hash_data(document, proof, code=ErrorCode.PROOF_GENERATION_ERROR)
        proof["proofValue"] = _common.sign(signer, data)
        return proof

    def verify_proof(
        self, document: JSONObject, proof: JSONObject, public_key: ResolvedKey
    ) -> None:
        """vc-di-eddsa 3.2.2 Verify Proof.

        :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed proof,
            ``PROOF_TRANSFORMATION_ERROR`` when the document cannot be canonicalised.
        :raises agent.errors.SignatureError: the signature does not verify.
        """
        options = {key: value for key, value in proof.items() if key != "proofValue"}
        data = hash_data(document, options, code=ErrorCode.MALFORMED_PROOF_ERROR)
        _common.verify(proof, public_key, data)
