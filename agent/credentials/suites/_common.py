"""Helpers shared by the EdDSA suites: option checks, proofValue coding, Ed25519 verification.

Private to the ``suites`` package; both ``eddsa-*-2022`` suites use the same proof
configuration rules (vc-di-eddsa section 3.2.5 / 3.3.5), proofValue encoding (multibase
base58btc of the 64-byte Ed25519 signature) and verification step.
"""

from __future__ import annotations

from agent.clock import parse_datetime
from agent.errors import CryptosuiteError, ErrorCode, KeyMaterialError
from agent.keys.ed25519 import Ed25519PublicKey
from agent.keys.multikey import KeyType, decode_multibase_base58btc, encode_multibase_base58btc
from agent.keys.signer import ResolvedKey, Signer
from agent.types import JSONObject


def check_proof_config(config: JSONObject, suite: str, code: ErrorCode) -> None:
    """vc-di-eddsa "Proof Configuration" checks: type, cryptosuite and ``created``.

    :raises CryptosuiteError: with ``code`` (``PROOF_GENERATION_ERROR`` when creating,
        ``MALFORMED_PROOF_ERROR`` when verifying).
    """
    if config.get("type") != "DataIntegrityProof" or config.get("cryptosuite") != suite:
        raise CryptosuiteError(
            f"proof options must have type DataIntegrityProof and cryptosuite {suite}",
            code=code,
            details={
                "property": "type" if config.get("type") != "DataIntegrityProof" else "cryptosuite"
            },
        )
    for name in ("created", "expires"):
        if name not in config:
            continue
        try:
            parse_datetime(config[name], require_zone=True)
        except ValueError:
            raise CryptosuiteError(
                f"proof {name} must be an XML Schema dateTimeStamp such as 2024-01-01T00:00:00Z",
                code=code,
                details={"property": name},
            ) from None


def sign(signer: Signer, data: bytes) -> str:
    """The ``proofValue``: multibase base58btc of the signer's Ed25519 signature."""
    if signer.algorithm != "EdDSA":
        raise CryptosuiteError(
            f"EdDSA cryptosuites need an Ed25519 signer, got algorithm {signer.algorithm}",
            code=ErrorCode.PROOF_GENERATION_ERROR,
        )
    return encode_multibase_base58btc(signer.sign(data))


def verify(proof: JSONObject, public_key: ResolvedKey, data: bytes) -> None:
    """Decode ``proofValue`` and check it over ``data`` with the Ed25519 ``public_key``.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a missing or non-base58btc value,
        or a key that is not Ed25519.
    :raises agent.errors.SignatureError: the signature does not verify.
    """
    value = proof.get("proofValue")
    if not isinstance(value, str):
        raise CryptosuiteError(
            "proof has no proofValue string", code=ErrorCode.MALFORMED_PROOF_ERROR
        )
    try:
        signature = decode_multibase_base58btc(value)
    except KeyMaterialError as exc:
        raise CryptosuiteError(
            "proofValue is not a multibase base58btc ('z...') value",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
        ) from exc
    if public_key.key_type is not KeyType.ED25519_PUB:
        raise CryptosuiteError(
            f"verification method {public_key.id} is a {public_key.key_type} key; "
            "EdDSA cryptosuites need an Ed25519 key",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
        )
    Ed25519PublicKey(public_key.raw).verify(data, signature)
