"""Keys: Multikey encoding, the Signer/Verifier interfaces, askar-held keys, Ed25519 checks.

Private keys stay inside askar (:class:`AskarKeyStore`, :class:`AskarSigner`); public keys are
Multikey strings; signatures are checked by :class:`Ed25519PublicKey`.
"""

from agent.keys.askar import RELATIONSHIPS, AskarKeyStore, AskarSigner, KeyInfo
from agent.keys.ed25519 import Ed25519PublicKey
from agent.keys.multikey import (
    KeyType,
    decode_multibase_base58btc,
    decode_multikey,
    encode_multibase_base58btc,
    encode_multikey,
)
from agent.keys.signer import KeyResolver, ResolvedKey, Signer, Verifier

__all__ = [
    "RELATIONSHIPS",
    "AskarKeyStore",
    "AskarSigner",
    "Ed25519PublicKey",
    "KeyInfo",
    "KeyResolver",
    "KeyType",
    "ResolvedKey",
    "Signer",
    "Verifier",
    "decode_multibase_base58btc",
    "decode_multikey",
    "encode_multibase_base58btc",
    "encode_multikey",
]
