"""Proof of a verifier's public DID in a DIDComm presentation request.

Over DIDComm a verifier talks from a ``did:peer`` made for one relationship, so the wallet
learns nothing from it about who the verifier is; the request's ``audience`` (the verifier's
public DID, which presentations are bound to) is only a claim. A wallet that is to say
"accredited by the operator" needs the public DID proven, so a verifier adds
``verifier_proof`` to its ``health-mydata/dcql-request@v1.0`` attachment: a compact JWS
(``typ`` :data:`REQUEST_PROOF_TYPE`) signed with a key of its public DID (``assertionMethod``)::

    {"iss": "<public DID>", "sub": "<the verifier's peer DID on this connection>",
     "nonce": "<the request's nonce>", "iat": ..., "exp": ...}

``sub`` binds the proof to the relationship and ``nonce`` to the request, so that a proof
copied from one hospital's request into someone else's does not verify.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from agent.credentials.jose import decode_jws, key_from_resolved, sign_jws
from agent.errors import CryptosuiteError, ErrorCode, ProofError
from agent.keys.signer import KeyResolver, Signer

__all__ = [
    "REQUEST_PROOF_LIFETIME",
    "REQUEST_PROOF_TYPE",
    "sign_request_proof",
    "verify_request_proof",
]

REQUEST_PROOF_TYPE: Final = "health-mydata-request-proof+jwt"
REQUEST_PROOF_LIFETIME: Final = timedelta(hours=24)
_PART: Final = "verifierProof"


def sign_request_proof(
    signer: Signer,
    *,
    verifier_did: str,
    peer_did: str,
    nonce: str,
    now: datetime,
    lifetime: timedelta = REQUEST_PROOF_LIFETIME,
) -> str:
    """The ``verifier_proof`` of a request sent from ``peer_did`` with ``nonce``; ``signer``
    holds a key of ``verifier_did``."""
    claims = {
        "iss": verifier_did,
        "sub": peer_did,
        "nonce": nonce,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    header = {"alg": signer.algorithm, "kid": signer.verification_method, "typ": REQUEST_PROOF_TYPE}
    return sign_jws(header, claims, signer)


def _refuse(message: str, reason: str) -> ProofError:
    return ProofError(
        message, code=ErrorCode.PROOF_VERIFICATION_ERROR, details={"part": _PART, "reason": reason}
    )


async def verify_request_proof(
    jws: str,
    *,
    resolver: KeyResolver,
    peer_did: str,
    nonce: str,
    now: datetime,
) -> str:
    """The verifier's public DID, proven by ``jws`` for the request with ``nonce`` that came
    from ``peer_did``.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a malformed JWS or header.
    :raises ProofError: ``PROOF_VERIFICATION_ERROR`` (reason ``issuerKeyMismatch``,
        ``otherConnection``, ``otherRequest`` or ``expired``).
    :raises agent.errors.SignatureError: the signature does not verify.
    :raises agent.errors.DIDResolutionError: the key cannot be resolved.
    """
    header, claims, signing_input, signature = decode_jws(jws, _PART)
    kid, iss = header.get("kid"), claims.get("iss")
    if header.get("typ") != REQUEST_PROOF_TYPE or not isinstance(kid, str):
        raise CryptosuiteError(
            f"a verifier proof has typ {REQUEST_PROOF_TYPE} and a kid",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": _PART},
        )
    if not isinstance(iss, str) or kid.partition("#")[0] != iss:
        raise _refuse("the verifier proof is signed with a key of another DID", "issuerKeyMismatch")
    key = await resolver.resolve_key(kid, "assertionMethod")
    if key.controller != iss:
        raise _refuse("the verifier proof's key is not controlled by its iss", "issuerKeyMismatch")
    key_from_resolved(key).verify(header.get("alg"), signing_input, signature, _PART)
    if claims.get("sub") != peer_did:
        raise _refuse("the verifier proof was made for another connection", "otherConnection")
    if claims.get("nonce") != nonce:
        raise _refuse("the verifier proof was made for another request", "otherRequest")
    exp: Any = claims.get("exp")
    if not isinstance(exp, int) or now.timestamp() >= exp:
        raise _refuse("the verifier proof has expired (or has no exp)", "expired")
    return iss
