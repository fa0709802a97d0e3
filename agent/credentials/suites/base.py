"""The cryptosuite interface: one module per suite, nothing else in common.

A Data Integrity cryptosuite (VC Data Integrity 1.0, section 3,
https://www.w3.org/TR/vc-data-integrity/#cryptographic-suites) turns an unsecured document and
proof options into a proof (``createProof``) and checks one proof against its unsecured document
(``verifyProof``). Proof sets, chains, purposes, challenge and domain are handled once, in
:mod:`agent.credentials.proofs`, not by each suite.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agent.keys.signer import ResolvedKey, Signer
from agent.types import JSONObject

__all__ = ["Cryptosuite"]


@runtime_checkable
class Cryptosuite(Protocol):
    """A Data Integrity cryptosuite such as ``eddsa-jcs-2022``."""

    @property
    def name(self) -> str:
        """The ``cryptosuite`` value of the proofs this suite makes and checks."""
        ...

    def create_proof(self, document: JSONObject, options: JSONObject, signer: Signer) -> JSONObject:
        """The proof (``options`` plus ``proofValue``) over the unsecured ``document``.

        :raises agent.errors.CryptosuiteError: (``PROOF_GENERATION_ERROR``) bad options.
        """
        ...

    def verify_proof(
        self, document: JSONObject, proof: JSONObject, public_key: ResolvedKey
    ) -> None:
        """Check ``proof`` over the unsecured ``document`` (no ``proof`` member, or only the
        proofs a chain's ``previousProof`` names).

        :raises agent.errors.CryptosuiteError: the proof is malformed.
        :raises agent.errors.SignatureError: the signature does not verify.
        """
        ...
