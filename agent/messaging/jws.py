"""DIDComm signed messages: JWS JSON serialization (``application/didcomm-signed+json``).

DIDComm Messaging v2, section "Message Signing": the payload is the base64url plaintext; the
``kid`` is a DID URL of a key in the ``authentication`` section of the signer's DID document;
recipients must verify EdDSA (Ed25519), ES256 and ES256K, and accept both the General and the
Flattened JSON serialization (RFC 7515 section 7.2). This project signs with one key, in the
General form the spec's Appendix C.2 shows: ``typ`` and ``alg`` protected, ``kid`` in the
unprotected header.

Refused, because this module does not implement them and they would change what is signed:
``crit``, ``b64`` (RFC 7797), ``jku``/``jwk``/``x5u``/``x5c`` (the key comes from the DID
document only), more than one signature, and a ``kid`` in both headers with two values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from agent.errors import ErrorCode, MessagingError
from agent.keys.signer import Signer
from agent.messaging._askar import verify_signature
from agent.messaging._common import (
    SIGNED_TYP,
    b64url_decode,
    b64url_encode,
    did_of_kid,
    dumps,
    loads,
    malformed,
    require_object,
    same_media_type,
)
from agent.messaging.keys import DIDCommResolver, resolve_public_key
from agent.types import JSONObject

__all__ = ["SIGNING_ALGORITHMS", "VerifiedJws", "sign_jws", "verify_jws"]

#: JOSE algorithms DIDComm recipients must verify (spec section "Message Signing", Algorithms).
SIGNING_ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "ES256K"})

_REFUSED_HEADERS: Final = frozenset({"crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"})
_GENERAL_MEMBERS: Final = frozenset({"payload", "signatures"})
_FLATTENED_MEMBERS: Final = frozenset({"payload", "protected", "header", "signature"})
_SIGNATURE_MEMBERS: Final = frozenset({"protected", "header", "signature"})


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    """A JWS whose signature verified: its payload and the signer's ``kid`` and ``alg``."""

    payload: bytes
    kid: str
    alg: str


def sign_jws(payload: bytes, signer: Signer) -> JSONObject:
    """Sign ``payload`` as a General JSON Serialization JWS (RFC 7515 section 7.2.1).

    :raises MessagingError: ``didcommUnsupportedAlg`` when the signer's algorithm is not one of
        :data:`SIGNING_ALGORITHMS`; ``didcommMalformed`` when its verification method is not a
        DID URL.
    :raises agent.errors.ProofError: when the signer fails.
    """
    alg = signer.algorithm
    if alg not in SIGNING_ALGORITHMS:
        raise MessagingError(
            f"DIDComm signatures use EdDSA, ES256 or ES256K, not {alg!r}",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        )
    kid = signer.verification_method
    did_of_kid(kid, "kid")
    protected = b64url_encode(dumps({"typ": SIGNED_TYP, "alg": alg}))
    encoded_payload = b64url_encode(payload)
    signature = signer.sign(f"{protected}.{encoded_payload}".encode("ascii"))
    return {
        "payload": encoded_payload,
        "signatures": [
            {"protected": protected, "signature": b64url_encode(signature), "header": {"kid": kid}}
        ],
    }


def _only(members: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(members) - allowed)
    if extra:
        raise malformed(f"{where} has members this profile does not allow: {extra}", field=where)


def _single_signature(jws: Mapping[str, Any]) -> Mapping[str, Any]:
    if "signatures" in jws:
        _only(jws, _GENERAL_MEMBERS, "the JWS")
        signatures = jws["signatures"]
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise malformed(
                "a DIDComm signed message carries exactly one signature", field="signatures"
            )
        entry = require_object(signatures[0], "signatures[0]")
        _only(entry, _SIGNATURE_MEMBERS, "signatures[0]")
        return entry
    _only(jws, _FLATTENED_MEMBERS, "the JWS")
    return jws


async def verify_jws(
    jws: Mapping[str, Any], resolver: DIDCommResolver, *, max_bytes: int
) -> VerifiedJws:
    """Verify a DIDComm JWS (General or Flattened) with the ``kid``'s ``authentication`` key.

    The signer-equals-``from`` check of the spec's "Verification" section is the caller's
    (:func:`agent.messaging.unpack`), since only it has the plaintext.

    :raises MessagingError: ``didcommMalformed`` for a malformed JWS or header, a ``typ`` that
        is not ``application/didcomm-signed+json``, or refused header parameters;
        ``didcommUnsupportedAlg`` for an ``alg`` that is not EdDSA/ES256/ES256K or does not fit
        the key; ``didcommKeyNotAuthorized`` when the ``kid`` is not an ``authentication`` key
        of its DID; ``didcommBadSignature`` when the signature does not verify.
    :raises agent.errors.DIDResolutionError: when the signer's DID cannot be resolved.
    """
    entry = _single_signature(jws)
    protected_b64 = entry.get("protected")
    if not isinstance(protected_b64, str):
        raise malformed("the JWS has no protected header", field="protected")
    protected = loads(
        b64url_decode(protected_b64, "protected"),
        max_bytes=max_bytes,
        what="the JWS protected header",
    )
    header = require_object(entry.get("header", {}), "header")
    refused = sorted(
        _REFUSED_HEADERS.intersection(protected) | _REFUSED_HEADERS.intersection(header)
    )
    if refused:
        raise malformed(
            f"the JWS uses header parameters this profile refuses: {refused}", field="protected"
        )
    if "alg" in header or "typ" in header:
        raise malformed("alg and typ must be in the protected header", field="header")
    if not same_media_type(protected.get("typ"), SIGNED_TYP):
        raise malformed(f"the JWS typ must be {SIGNED_TYP}", field="typ")
    alg = protected.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise MessagingError(
            f"JWS alg {str(alg)[:16]!r} is not one of {sorted(SIGNING_ALGORITHMS)}",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
            details={"alg": str(alg)[:16]},
        )
    kids = [h["kid"] for h in (protected, header) if "kid" in h]
    if not kids or not all(isinstance(k, str) for k in kids) or len(set(kids)) != 1:
        raise malformed("the JWS must name exactly one kid, as a string", field="kid")
    kid: str = kids[0]
    payload_b64 = jws.get("payload")
    payload = b64url_decode(payload_b64, "payload")
    signature = b64url_decode(entry.get("signature"), "signature")
    key = await resolve_public_key(resolver, kid, "authentication")
    signing_input = f"{protected_b64}.{payload_b64}".encode("ascii")
    verify_signature(key, str(alg), signing_input, signature)
    return VerifiedJws(payload=payload, kid=kid, alg=str(alg))
