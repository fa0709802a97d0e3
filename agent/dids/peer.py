"""did:peer numalgo 0, 2 and 4: pairwise DIDs whose document travels inside the DID.

Citizens use one did:peer per relationship for DIDComm (DESIGN.md section 2), so that two
verifiers cannot correlate them. Spec: https://identity.foundation/peer-did-method-spec/
(vectors: ``tests/vectors/did-peer/``).

How this project handles the did:peer:2 id schemes
---------------------------------------------------
The spec was "clarified" after the first implementations: a resolved did:peer:2 names its keys
``#key-1``, ``#key-2``, … in the order they appear in the DID, and its services ``#service``,
``#service-1``, … (spec section "Resolving a did:peer:2"), and it encodes each service as its
own ``.S`` element with abbreviations applied recursively. peerdid 0.5.2 predates this: it names
keys by a fingerprint prefix (``#6MkrCD1c``) and services ``#didcommmessaging-0``, joins several
services into one JSON list, abbreviates only top-level names, and its DID regex rejects the
spec's own example (two ``.S`` elements) outright.

Because these ids become DIDComm ``kid`` values and Data Integrity ``verificationMethod``
values, every party must derive the same ones from the same DID. The project therefore follows
the **clarified spec**, implemented here in a few lines over :mod:`agent.keys.multikey`:

- resolving gives ``did:peer:2…#key-N`` and ``did:peer:2…#service[-N]`` (made absolute, see
  :mod:`agent.dids.document`), exactly the spec example's keys, services and ``alsoKnownAs``
  (did:peer:3), and what credo-ts, ACA-Py and the ``did-peer-2`` library produce;
- creating puts signing keys (``V``) before agreement keys (``E``) and abbreviates services as
  the spec shows, so the spec example's inputs give the spec example's DID byte for byte.

peerdid is not imported at run time. DIDs that peerdid created still resolve here (a service
given as a JSON list is accepted on input, for that reason), to the same keys and endpoints, but
with spec ids: a peer that uses peerdid's fingerprint ids as ``kid`` will not match, which is
the library-mixing pitfall of ``reference/packages.md`` section 5. The tests check this
compatibility against peerdid itself.

did:peer:4 uses the ``did_peer_4`` library (spec section "Method 4"): its ids are whatever the
input document says, and :func:`create_did_peer_4` uses the same ``#key-N``/``#service`` names as
did:peer:2. A short-form did:peer:4 carries no document: it resolves only once its long form has
been seen (:class:`agent.dids.resolver.DIDResolver` remembers it).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import did_peer_4

from agent.dids.document import (
    DID_CONTEXT,
    MULTIKEY_CONTEXT,
    multikey_method,
    parse_document,
)
from agent.dids.key import did_key_document
from agent.encoding import b64url_decode, b64url_encode
from agent.errors import (
    DIDDocumentError,
    DIDResolutionError,
    ErrorCode,
    InvalidInputError,
    KeyMaterialError,
)
from agent.jsonio import parse_json
from agent.keys.multikey import (
    KeyType,
    decode_multikey,
    encode_multibase_base58btc,
    encode_multikey,
)
from agent.types import JSONObject

if TYPE_CHECKING:
    from agent.dids.document import DIDDocument

__all__ = [
    "PeerPurpose",
    "create_did_peer_2",
    "create_did_peer_4",
    "did_peer_2_document",
    "did_peer_2_to_3",
    "did_peer_4_from_input_document",
    "did_peer_4_to_short",
    "didcomm_service",
    "encode_did_peer_2",
    "resolve_did_peer",
    "resolve_did_peer_2",
    "resolve_did_peer_4",
    "resolve_did_peer_4_short",
]


class PeerPurpose(StrEnum):
    """did:peer:2 purpose codes and the verification relationship each one grants."""

    ASSERTION = "A"
    ENCRYPTION = "E"
    VERIFICATION = "V"
    CAPABILITY_INVOCATION = "I"
    CAPABILITY_DELEGATION = "D"

    @property
    def relationship(self) -> str:
        """The DID Core property name this purpose adds the key to."""
        return _RELATIONSHIP[self]


_RELATIONSHIP = {
    PeerPurpose.ASSERTION: "assertionMethod",
    PeerPurpose.ENCRYPTION: "keyAgreement",
    PeerPurpose.VERIFICATION: "authentication",
    PeerPurpose.CAPABILITY_INVOCATION: "capabilityInvocation",
    PeerPurpose.CAPABILITY_DELEGATION: "capabilityDelegation",
}
# Key agreement needs an ECDH key; every other purpose needs a signing key.
_ALLOWED_KEYS = {
    PeerPurpose.ENCRYPTION: (KeyType.X25519_PUB, KeyType.P256_PUB),
    PeerPurpose.ASSERTION: (KeyType.ED25519_PUB, KeyType.P256_PUB),
    PeerPurpose.VERIFICATION: (KeyType.ED25519_PUB, KeyType.P256_PUB),
    PeerPurpose.CAPABILITY_INVOCATION: (KeyType.ED25519_PUB, KeyType.P256_PUB),
    PeerPurpose.CAPABILITY_DELEGATION: (KeyType.ED25519_PUB, KeyType.P256_PUB),
}

# Spec table "Common String Abbreviations"; "dm" applies to the value of "type" only.
_ABBREVIATE = {"type": "t", "serviceEndpoint": "s", "routingKeys": "r", "accept": "a"}
_EXPAND = {short: long for long, short in _ABBREVIATE.items()}
_DIDCOMM_MESSAGING = "DIDCommMessaging"

_PEER2 = re.compile(r"^did:peer:2(\.[AEVIDS][A-Za-z0-9_-]+)+$")
_PEER0 = "did:peer:0"


def _invalid(did: str, reason: str) -> DIDResolutionError:
    return DIDResolutionError(
        f"not a valid did:peer: {reason}", code=ErrorCode.INVALID_DID, details={"did": did}
    )


# --- did:peer:2 -------------------------------------------------------------------------------


def didcomm_service(
    uri: str, *, routing_keys: Sequence[str] = (), accept: Sequence[str] = ("didcomm/v2",)
) -> JSONObject:
    """A DIDComm v2 service in its current form (DIDComm Messaging v2.1, section 9.13.1).

    ``serviceEndpoint`` is an object with ``uri``, ``accept`` and ``routingKeys``; the older
    form with a string endpoint and top-level ``routingKeys`` is not produced.
    """
    return {
        "type": _DIDCOMM_MESSAGING,
        "serviceEndpoint": {"uri": uri, "accept": list(accept), "routingKeys": list(routing_keys)},
    }


def _abbreviate(value: Any, *, is_type: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            _ABBREVIATE.get(k, k): _abbreviate(v, is_type=(k == "type")) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_abbreviate(v) for v in value]
    if is_type and value == _DIDCOMM_MESSAGING:
        return "dm"
    return value


def _expand(value: Any, *, is_type: bool = False) -> Any:
    if isinstance(value, dict):
        result: JSONObject = {}
        for k, v in value.items():
            name: str = _EXPAND.get(str(k), str(k))
            result[name] = _expand(v, is_type=(name == "type"))
        return result
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if is_type and value == "dm":
        return _DIDCOMM_MESSAGING
    return value


def encode_did_peer_2(
    keys: Sequence[tuple[PeerPurpose, str]], services: Sequence[Mapping[str, Any]] = ()
) -> str:
    """A did:peer:2 from Multikey values with their purposes, and services, in the given order.

    Follows the spec section "Method 2": each key becomes ``.`` + purpose code + Multikey; each
    service is abbreviated recursively, serialized without whitespace, base64url-encoded without
    padding, and appended as its own ``.S`` element (never as a JSON list).

    :raises KeyMaterialError: when a key is not a supported public Multikey, or its type does not
        fit its purpose (key agreement needs X25519 or P-256; the others Ed25519 or P-256).
    """
    if not keys:
        raise KeyMaterialError(
            "a did:peer:2 needs at least one key", code=ErrorCode.INVALID_MULTIKEY
        )
    parts = ["did:peer:2"]
    for purpose, multikey in keys:
        key_type, _ = decode_multikey(multikey)
        if key_type not in _ALLOWED_KEYS[PeerPurpose(purpose)]:
            raise KeyMaterialError(
                f"a {key_type} key cannot have purpose {purpose.name} "
                f"({PeerPurpose(purpose).relationship})",
                code=ErrorCode.UNSUPPORTED_KEY_TYPE,
            )
        parts.append(f".{purpose}{multikey}")
    for service in services:
        compact = json.dumps(_abbreviate(dict(service)), separators=(",", ":"))
        parts.append(".S" + b64url_encode(compact.encode("utf-8")))
    return "".join(parts)


def create_did_peer_2(
    signing_key: bytes,
    agreement_key: bytes,
    services: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A did:peer:2 for one relationship: an Ed25519 key, an X25519 key and services.

    The signing key comes first, so it resolves to ``#key-1`` (``authentication``) and the
    agreement key to ``#key-2`` (``keyAgreement``), as in the spec example. Use
    :func:`didcomm_service` to build the DIDComm v2 service.

    :raises KeyMaterialError: when a key has the wrong length.
    """
    return encode_did_peer_2(
        [
            (PeerPurpose.VERIFICATION, encode_multikey(KeyType.ED25519_PUB, signing_key)),
            (PeerPurpose.ENCRYPTION, encode_multikey(KeyType.X25519_PUB, agreement_key)),
        ],
        services,
    )


def did_peer_2_to_3(did: str) -> str:
    """The did:peer:3 short form of a did:peer:2 (spec section "Method 3").

    ``did:peer:3`` + ``z`` + base58btc(multihash sha2-256 of everything after ``did:peer:2``).
    """
    digest = hashlib.sha256(did[len("did:peer:2") :].encode("utf-8")).digest()
    return "did:peer:3" + encode_multibase_base58btc(b"\x12\x20" + digest)


def _decode_services(did: str, encoded: str) -> list[JSONObject]:
    try:
        value = parse_json(b64url_decode(encoded))
    except (binascii.Error, ValueError, InvalidInputError) as exc:
        raise _invalid(did, "a service element is not base64url-encoded JSON") from exc
    # peerdid 0.5.2 encodes several services as one JSON list; the spec forbids producing that,
    # but such DIDs exist, and reading them is unambiguous.
    items = value if isinstance(value, list) else [value]
    services: list[JSONObject] = []
    for item in items:
        if not isinstance(item, dict):
            raise _invalid(did, "a service element is not a JSON object")
        service = _expand(item)
        if "type" not in service or "serviceEndpoint" not in service:
            raise _invalid(did, "a service lacks 'type' or 'serviceEndpoint'")
        services.append(service)
    return services


def did_peer_2_document(did: str) -> JSONObject:
    """The DID document JSON of a did:peer:2, by the spec's resolution algorithm (relative ids).

    :raises DIDResolutionError: (``invalidDid``) for a malformed DID, an unsupported key, a key
        whose type does not fit its purpose, or a service that is not base64url JSON.
    """
    if not isinstance(did, str) or not _PEER2.match(did):
        raise _invalid(
            did,
            "a did:peer:2 is 'did:peer:2' followed by '.'-separated elements, each a purpose "
            "code (A, E, V, I, D) and a 'z' Multikey, or 'S' and a base64url service",
        )
    document: JSONObject = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "alsoKnownAs": [did_peer_2_to_3(did)],
        "verificationMethod": [],
    }
    services: list[JSONObject] = []
    for element in did[len("did:peer:2.") :].split("."):
        code, body = element[0], element[1:]
        if code == "S":
            services.extend(_decode_services(did, body))
            continue
        purpose = PeerPurpose(code)
        try:
            key_type, _ = decode_multikey(body)
        except KeyMaterialError as exc:
            raise _invalid(did, f"key element {element[:12]}…: {exc.message}") from exc
        if key_type not in _ALLOWED_KEYS[purpose]:
            raise _invalid(did, f"a {key_type} key cannot have purpose {purpose.name}")
        fragment = f"key-{len(document['verificationMethod']) + 1}"
        method = multikey_method(did, fragment, body)
        method["id"] = f"#{fragment}"
        document["verificationMethod"].append(method)
        document.setdefault(purpose.relationship, []).append(method["id"])
    unnamed = 0
    for service in services:
        if "id" not in service:
            service["id"] = "#service" if unnamed == 0 else f"#service-{unnamed}"
            unnamed += 1
    if services:
        document["service"] = services
    return document


def resolve_did_peer_2(did: str) -> DIDDocument:
    """Resolve a did:peer:2 to a :class:`pydid.DIDDocument` with absolute ids (no I/O).

    :raises DIDResolutionError: (``invalidDid``) as :func:`did_peer_2_document` does.
    :raises DIDDocumentError: (``invalidDidDocument``) when a decoded service is not a valid
        DID Core service.
    """
    return parse_document(did_peer_2_document(did))


# --- did:peer:0 -------------------------------------------------------------------------------


def _resolve_did_peer_0(did: str) -> DIDDocument:
    # Method 0 is did:key with another prefix (spec section "Method 0").
    multikey = did[len(_PEER0) :]
    as_key = "did:key:" + multikey
    try:
        document = did_key_document(as_key)
    except DIDResolutionError as exc:
        raise _invalid(did, exc.message) from exc
    text = json.dumps(document).replace(as_key, _PEER0 + multikey)
    return parse_document(json.loads(text))


# --- did:peer:4 -------------------------------------------------------------------------------


def did_peer_4_from_input_document(document: Mapping[str, Any]) -> str:
    """The long-form did:peer:4 of an input document (spec section "Method 4").

    :raises DIDDocumentError: (``invalidDidDocument``) when the input document breaks a rule of
        the spec: it has an ``id``, a resource without a relative ``id`` or ``type``, and so on.
    """
    try:
        return str(did_peer_4.encode(dict(document)))
    except ValueError as exc:
        raise DIDDocumentError(
            f"not a valid did:peer:4 input document: {exc}", code=ErrorCode.INVALID_DID_DOCUMENT
        ) from exc


def create_did_peer_4(
    signing_key: bytes,
    agreement_key: bytes,
    services: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A long-form did:peer:4 for one relationship: an Ed25519 key, an X25519 key and services.

    The input document uses ``Multikey`` methods ``#key-1`` (``authentication``,
    ``assertionMethod``) and ``#key-2`` (``keyAgreement``), and names services without an id
    ``#service``, ``#service-1``, …, like a did:peer:2.

    :raises KeyMaterialError: when a key has the wrong length.
    """
    document: JSONObject = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "verificationMethod": [
            {
                "id": "#key-1",
                "type": "Multikey",
                "publicKeyMultibase": encode_multikey(KeyType.ED25519_PUB, signing_key),
            },
            {
                "id": "#key-2",
                "type": "Multikey",
                "publicKeyMultibase": encode_multikey(KeyType.X25519_PUB, agreement_key),
            },
        ],
        "authentication": ["#key-1"],
        "assertionMethod": ["#key-1"],
        "keyAgreement": ["#key-2"],
    }
    named: list[JSONObject] = []
    unnamed = 0
    for service in services:
        entry = dict(service)
        if "id" not in entry:
            entry["id"] = "#service" if unnamed == 0 else f"#service-{unnamed}"
            unnamed += 1
        named.append(entry)
    if named:
        document["service"] = named
    return did_peer_4_from_input_document(document)


def did_peer_4_to_short(did: str) -> str:
    """The short form (``did:peer:4zQm…``) of a long-form did:peer:4.

    :raises DIDResolutionError: (``invalidDid``) when ``did`` is not a long-form did:peer:4.
    """
    try:
        return str(did_peer_4.long_to_short(did))
    except ValueError as exc:
        raise _invalid(did, "expected a long-form did:peer:4 ('did:peer:4zQm…:z…')") from exc


def _decode_did_peer_4(did: str, short: bool) -> JSONObject:
    if did_peer_4.SHORT_PATTERN.match(did):
        raise DIDResolutionError(
            "a short-form did:peer:4 carries no document: resolve its long form first "
            "(peers send it in their first message), after which the short form resolves",
            code=ErrorCode.NOT_FOUND,
            details={"did": did},
        )
    try:
        resolved = did_peer_4.resolve_short(did) if short else did_peer_4.resolve(did)
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid(
            did, f"the long-form did:peer:4 does not decode or its hash does not match ({exc})"
        ) from exc
    if not isinstance(resolved, dict):
        raise _invalid(did, "the encoded document is not a JSON object")
    return resolved


def resolve_did_peer_4(did: str) -> DIDDocument:
    """Resolve a long-form did:peer:4 to a :class:`pydid.DIDDocument` with absolute ids.

    :raises DIDResolutionError: ``invalidDid`` for a malformed DID or a hash that does not match
        the encoded document; ``notFound`` for a short-form DID (see
        :func:`resolve_did_peer_4_short`).
    :raises DIDDocumentError: (``invalidDidDocument``) when the encoded document is not a valid
        DID Core document.
    """
    return parse_document(_decode_did_peer_4(did, short=False))


def resolve_did_peer_4_short(long_did: str) -> DIDDocument:
    """The document of the *short* form of a long-form did:peer:4, with absolute ids.

    Its ``id`` is the short DID and ``alsoKnownAs`` the long one (spec section "Method 4",
    "Resolving a short form").

    :raises DIDResolutionError: as :func:`resolve_did_peer_4`.
    """
    return parse_document(_decode_did_peer_4(long_did, short=True))


# --- dispatch ---------------------------------------------------------------------------------


def resolve_did_peer(did: str) -> DIDDocument:
    """Resolve a did:peer of numalgo 0, 2 or long-form 4 (no I/O).

    :raises DIDResolutionError: ``invalidDid`` for a malformed DID; ``notFound`` for a
        short-form did:peer:4 or a did:peer:3, which only resolve through a resolver that has
        seen their long form; ``methodNotSupported`` for numalgo 1.
    """
    numalgo = did[len("did:peer:") : len("did:peer:") + 1] if did.startswith("did:peer:") else ""
    if numalgo == "0":
        return _resolve_did_peer_0(did)
    if numalgo == "2":
        return resolve_did_peer_2(did)
    if numalgo == "4":
        return resolve_did_peer_4(did)
    if numalgo == "3":
        raise DIDResolutionError(
            "a did:peer:3 is a hash of a did:peer:2: resolve the did:peer:2 first (peers send it "
            "in their first message), after which the did:peer:3 resolves",
            code=ErrorCode.NOT_FOUND,
            details={"did": did},
        )
    if numalgo == "1":
        raise DIDResolutionError(
            "did:peer:1 (documents exchanged out of band) is not supported; use did:peer:2 or 4",
            code=ErrorCode.METHOD_NOT_SUPPORTED,
            details={"did": did},
        )
    raise _invalid(did, "expected 'did:peer:' followed by numalgo 0, 2 or 4")
