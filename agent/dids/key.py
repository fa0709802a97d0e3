"""did:key: a DID that *is* a public key (https://w3c-ccg.github.io/did-method-key/).

The DID is ``did:key:`` + the key's Multikey value, so resolving it needs no I/O and always gives
the same document; the resolver caches these documents for good.

The document follows the spec's "Document Creation Algorithm"
(https://w3c-ccg.github.io/did-method-key/#document-creation-algorithm):

- An Ed25519 (or P-256) key becomes one verification method, ``did:key:z…#z…``, listed under
  ``authentication``, ``assertionMethod``, ``capabilityInvocation`` and
  ``capabilityDelegation``.
- For Ed25519 the X25519 key derived from it (``enableEncryptionKeyDerivation``, on by default in
  the spec) becomes a second method, ``did:key:z6Mk…#z6LS…``, under ``keyAgreement``. This is the
  key DIDComm encrypts to.
- An X25519 did:key only has the ``keyAgreement`` method.

Methods are ``Multikey`` (the spec's current representation). ``legacy=True`` produces the older
``Ed25519VerificationKey2020``/``X25519KeyAgreementKey2020`` representation with the same ids and
keys, for verifiers that predate Multikey.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.dids.document import (
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    multikey_method,
    parse_document,
)
from agent.errors import DIDResolutionError, ErrorCode, KeyMaterialError
from agent.keys.convert import ed25519_to_x25519_public
from agent.keys.multikey import KeyType, decode_multikey, encode_multikey
from agent.types import JSONObject

if TYPE_CHECKING:
    from agent.dids.document import DIDDocument

__all__ = ["did_key_document", "did_key_from_public", "parse_did_key", "resolve_did_key"]

_PREFIX = "did:key:"
_SUPPORTED = (KeyType.ED25519_PUB, KeyType.X25519_PUB, KeyType.P256_PUB)
_SIGNING_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)
_LEGACY_TYPE = {
    KeyType.ED25519_PUB: (
        "Ed25519VerificationKey2020",
        "https://w3id.org/security/suites/ed25519-2020/v1",
    ),
    KeyType.X25519_PUB: (
        "X25519KeyAgreementKey2020",
        "https://w3id.org/security/suites/x25519-2020/v1",
    ),
}


def did_key_from_public(key_type: KeyType, raw: bytes) -> str:
    """The did:key of a public key: ``did:key:`` + its Multikey (did:key, section 3.1 "Format").

    :raises KeyMaterialError: ``unsupportedKeyType`` for anything but an Ed25519, X25519 or
        P-256 public key; ``invalidMultikey`` when ``raw`` has the wrong length, or is not a
        valid Ed25519 point (checked now so that the DID can always be resolved later).
    """
    if key_type not in _SUPPORTED:
        raise KeyMaterialError(
            f"did:key supports ed25519-pub, x25519-pub and p256-pub keys, not {key_type}",
            code=ErrorCode.UNSUPPORTED_KEY_TYPE,
        )
    if key_type is KeyType.ED25519_PUB:
        ed25519_to_x25519_public(raw)
    return _PREFIX + encode_multikey(key_type, raw)


def parse_did_key(did: str) -> tuple[KeyType, bytes]:
    """The key type and raw public key a did:key encodes.

    :raises DIDResolutionError: (``invalidDid``) when ``did`` does not start with
        ``did:key:z``, is not base58btc, names a multicodec that is not a supported public key
        (a private key multicodec included), or has the wrong key length.
    """
    if not isinstance(did, str) or not did.startswith(_PREFIX + "z"):
        raise DIDResolutionError(
            "a did:key must start with 'did:key:z' (base58btc Multikey); check for a truncated "
            "or mistyped DID",
            code=ErrorCode.INVALID_DID,
        )
    try:
        key_type, raw = decode_multikey(did[len(_PREFIX) :])
    except KeyMaterialError as exc:
        raise DIDResolutionError(
            f"not a valid did:key: {exc.message}",
            code=ErrorCode.INVALID_DID,
            details={"did": did},
        ) from exc
    if key_type not in _SUPPORTED:
        raise DIDResolutionError(
            f"a did:key must encode a public key; {key_type} is not one this project resolves",
            code=ErrorCode.INVALID_DID,
            details={"did": did},
        )
    return key_type, raw


def _method(did: str, multikey: str, key_type: KeyType, legacy: bool) -> JSONObject:
    method = multikey_method(did, multikey, multikey)
    if legacy and key_type in _LEGACY_TYPE:
        method["type"] = _LEGACY_TYPE[key_type][0]
    return method


def did_key_document(did: str, *, legacy: bool = False) -> JSONObject:
    """The DID document of a did:key as JSON, built by the spec's creation algorithm.

    :param legacy: use the 2020 suite types instead of ``Multikey`` (same ids and keys).
    :raises DIDResolutionError: (``invalidDid``) when the DID is malformed, or its Ed25519 key is
        not a point on the curve.
    """
    key_type, raw = parse_did_key(did)
    multikey = did[len(_PREFIX) :]
    context: list[str] = [DID_CONTEXT]
    if legacy and key_type in _LEGACY_TYPE:
        context.append(_LEGACY_TYPE[key_type][1])
    else:
        context.append(MULTIKEY_CONTEXT)
    document: JSONObject = {"@context": context, "id": did, "verificationMethod": []}
    primary = _method(did, multikey, key_type, legacy)
    document["verificationMethod"].append(primary)

    if key_type is KeyType.X25519_PUB:
        document["keyAgreement"] = [primary["id"]]
        return document

    for relationship in _SIGNING_RELATIONSHIPS:
        document[relationship] = [primary["id"]]
    if key_type is KeyType.ED25519_PUB:
        try:
            x25519 = ed25519_to_x25519_public(raw)
        except KeyMaterialError as exc:
            raise DIDResolutionError(
                f"the did:key's Ed25519 key is invalid: {exc.message}",
                code=ErrorCode.INVALID_DID,
                details={"did": did},
            ) from exc
        agreement_multikey = encode_multikey(KeyType.X25519_PUB, x25519)
        agreement = _method(did, agreement_multikey, KeyType.X25519_PUB, legacy)
        if legacy:
            context.append(_LEGACY_TYPE[KeyType.X25519_PUB][1])
        document["verificationMethod"].append(agreement)
        document["keyAgreement"] = [agreement["id"]]
    return document


def resolve_did_key(did: str, *, legacy: bool = False) -> DIDDocument:
    """Resolve a did:key to a :class:`pydid.DIDDocument` (no I/O).

    :raises DIDResolutionError: (``invalidDid``) as :func:`did_key_document` does.
    """
    return parse_document(did_key_document(did, legacy=legacy))
