"""DID documents: the pydid adapter, absolute ids, and reading public keys out of methods.

Every resolver in :mod:`agent.dids` returns a :class:`pydid.DIDDocument` whose verification
method, relationship and service ids are *absolute* DID URLs (``did:...#fragment``). DID Core
allows relative ids (section 8.3, https://www.w3.org/TR/did-core/#relative-did-urls), but
DIDComm uses the ids as ``kid`` values and Data Integrity proofs name them in
``verificationMethod``, and both compare strings: making them absolute once, at resolution,
means no caller has to remember to do it.

This is the only module that imports :mod:`pydid`; pydid ships no type information, so the
import is marked for mypy here. pydid is imported on the first document parsed, not with this
module: it builds its pydantic models at import, about 5 % of a service's start-up, and a
service needs none before its first DID resolution (``DIDDocument`` here is looked up then too).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from agent.errors import DIDDocumentError, ErrorCode, KeyMaterialError
from agent.keys.convert import public_key_from_jwk
from agent.keys.multikey import KeyType, decode_multibase_base58btc, decode_multikey
from agent.types import JSONObject

if TYPE_CHECKING:
    from pydid import DIDDocument  # type: ignore[import-untyped]
else:

    def __getattr__(name: str) -> Any:
        """``DIDDocument``: pydid's class, imported on first use (see the module docstring)."""
        if name == "DIDDocument":
            from pydid import DIDDocument

            return DIDDocument
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DID_CONTEXT",
    "MULTIKEY_CONTEXT",
    "DIDDocument",
    "VerificationRelationship",
    "absolutize",
    "iter_relationship",
    "key_from_method",
    "multikey_method",
    "parse_document",
]

#: The DID Core v1 context (DID Core, section 4.1).
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
#: The Multikey context (Controlled Identifiers 1.0, section 2.2.2).
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


class VerificationRelationship(StrEnum):
    """The verification relationships of DID Core, section 5.3, by their property names."""

    AUTHENTICATION = "authentication"
    ASSERTION_METHOD = "assertionMethod"
    KEY_AGREEMENT = "keyAgreement"
    CAPABILITY_INVOCATION = "capabilityInvocation"
    CAPABILITY_DELEGATION = "capabilityDelegation"


_RESOURCE_LISTS = ("verificationMethod", "service", *[r.value for r in VerificationRelationship])

# Legacy verification method types whose key is a multibase Multikey value (Ed25519/X25519
# Signature 2020 suites) or a bare base58 key of a fixed type (the 2018/2019 suites).
_MULTIBASE_TYPES = {"Multikey", "Ed25519VerificationKey2020", "X25519KeyAgreementKey2020"}
_BASE58_TYPES = {
    "Ed25519VerificationKey2018": KeyType.ED25519_PUB,
    "X25519KeyAgreementKey2019": KeyType.X25519_PUB,
}
_EXPECTED_TYPE = {
    "Ed25519VerificationKey2020": KeyType.ED25519_PUB,
    "X25519KeyAgreementKey2020": KeyType.X25519_PUB,
}


def multikey_method(did: str, fragment: str, public_key_multibase: str) -> JSONObject:
    """A ``Multikey`` verification method (Controlled Identifiers 1.0, section 2.2.2)."""
    return {
        "id": f"{did}#{fragment}",
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": public_key_multibase,
    }


def _absolute(did: str, value: str) -> str:
    return did + value if value.startswith("#") else value


def absolutize(document: Mapping[str, Any]) -> JSONObject:
    """A copy of a DID document JSON whose resource ids and references are absolute.

    Relative ids (``#key-1``) are resolved against the document ``id``, per DID Core section
    8.3. Ids that are already absolute are kept as they are.

    :raises DIDDocumentError: (``invalidDidDocument``) when the document has no string ``id``.
    """
    did = document.get("id")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise DIDDocumentError(
            "the DID document has no 'id' DID; it cannot be used to look up keys",
            code=ErrorCode.INVALID_DID_DOCUMENT,
        )
    result: JSONObject = copy.deepcopy(dict(document))
    for name in _RESOURCE_LISTS:
        items = result.get(name)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, str):
                items[index] = _absolute(did, item)
            elif isinstance(item, dict) and isinstance(item.get("id"), str):
                item["id"] = _absolute(did, item["id"])
    return result


def parse_document(document: Mapping[str, Any]) -> DIDDocument:
    """Parse DID document JSON into a :class:`pydid.DIDDocument`, strictly, with absolute ids.

    Strict means that anything pydid cannot read as a DID Core document is an error rather than
    a "non-conformant" document (see STYLE.md, section 14).

    :raises DIDDocumentError: (``invalidDidDocument``) with pydid's reason when the JSON is not
        a valid DID document.
    """
    if not isinstance(document, Mapping):
        raise DIDDocumentError(
            "a DID document must be a JSON object", code=ErrorCode.INVALID_DID_DOCUMENT
        )
    absolute = absolutize(document)
    from pydid import DIDDocument
    from pydid import DIDDocumentError as _PydidDocumentError
    from pydid import DIDError as _PydidError

    try:
        return DIDDocument.deserialize(absolute)
    except (ValueError, TypeError, _PydidError, _PydidDocumentError) as exc:
        raise DIDDocumentError(
            f"the DID document for {absolute['id']} is not a valid DID Core document: {exc}",
            code=ErrorCode.INVALID_DID_DOCUMENT,
            details={"did": absolute["id"]},
        ) from exc


def iter_relationship(document: Mapping[str, Any], relationship: str) -> Iterator[str | JSONObject]:
    """The entries (references or embedded methods) listed under a relationship property."""
    entries = document.get(relationship)
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, str | dict):
                yield entry


def key_from_method(method: Mapping[str, Any]) -> tuple[KeyType, bytes]:
    """The key type and raw public key of a verification method's JSON.

    Accepted representations, newest first: ``Multikey`` with ``publicKeyMultibase``
    (Controlled Identifiers 1.0, section 2.2.2); ``JsonWebKey``/``JsonWebKey2020`` with
    ``publicKeyJwk`` (OKP Ed25519/X25519, EC P-256); and the legacy
    ``Ed25519VerificationKey2020``/``X25519KeyAgreementKey2020`` (multibase) and
    ``Ed25519VerificationKey2018``/``X25519KeyAgreementKey2019`` (base58) suite types that older
    did:key and did:peer documents still use.

    :raises DIDDocumentError: (``invalidDidDocument``) when the method has no usable key
        material, its type and key disagree, or the key itself is malformed (the
        :class:`KeyMaterialError` is chained as the cause).
    """
    vm_id = method.get("id", "?")
    vm_type = method.get("type")
    try:
        if "publicKeyJwk" in method:
            jwk = method["publicKeyJwk"]
            if not isinstance(jwk, Mapping):
                raise KeyMaterialError("publicKeyJwk must be a JSON object")
            return public_key_from_jwk(jwk)
        if vm_type in _MULTIBASE_TYPES and "publicKeyMultibase" in method:
            key_type, raw = decode_multikey(method["publicKeyMultibase"])
            expected = _EXPECTED_TYPE.get(str(vm_type))
            if expected is not None and key_type is not expected:
                raise KeyMaterialError(f"{vm_type} must hold a {expected} key, not {key_type}")
            if key_type not in (KeyType.ED25519_PUB, KeyType.X25519_PUB, KeyType.P256_PUB):
                raise KeyMaterialError(f"{key_type} is not a public key type")
            return key_type, raw
        if isinstance(vm_type, str) and vm_type in _BASE58_TYPES and "publicKeyBase58" in method:
            value = method["publicKeyBase58"]
            if not isinstance(value, str):
                raise KeyMaterialError("publicKeyBase58 must be a string")
            raw = decode_multibase_base58btc("z" + value)
            if len(raw) != 32:
                raise KeyMaterialError(f"{vm_type} key must be 32 bytes, got {len(raw)}")
            return _BASE58_TYPES[vm_type], raw
    except KeyMaterialError as exc:
        raise DIDDocumentError(
            f"verification method {vm_id} has unusable key material: {exc.message}",
            code=ErrorCode.INVALID_DID_DOCUMENT,
            details={"verificationMethod": vm_id},
        ) from exc
    raise DIDDocumentError(
        f"verification method {vm_id} of type {vm_type!r} has no key this project can read; "
        "publish it as a Multikey with publicKeyMultibase",
        code=ErrorCode.INVALID_DID_DOCUMENT,
        details={"verificationMethod": vm_id},
    )
