"""Private keys held by aries-askar: the only key module that imports ``aries_askar``.

Why askar: the secret half of a key is generated, stored (encrypted with the store's key) and
used inside askar. Python code gets a :class:`AskarSigner` or an agreement-key handle, never the
secret as bytes or JWK.

Keys are stored independently of DIDs (STYLE 11, after ACA-Py's ``docs/design/DIDManagement.md``):

* a key's name in the store is its public Multikey (``z6Mk...`` for Ed25519, ``z6LS...`` for
  X25519), so a key is found from any DID document that lists it;
* a *binding* record (category ``key-binding``, one per verification method) ties a key to a
  verification method of a DID and the relationships it serves. A DID may have many keys, and a
  key may serve several DIDs (did:key and did:peer, say); no DID method is assumed;
* rotation marks the old key ``retired``: it no longer signs but stays listed, so that past
  signatures can still be explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aries_askar import AskarError, Key, KeyAlg

from agent.errors import (
    ErrorCode,
    InvalidInputError,
    KeyMaterialError,
    ProofError,
    StorageError,
)
from agent.keys.multikey import KeyType, decode_multikey, encode_multikey
from agent.storage.askar import KeyEntry, Session, Store, Tags

__all__ = ["RELATIONSHIPS", "AskarKeyStore", "AskarSigner", "KeyInfo"]

#: Verification relationships of DID Core 1.0, section 5.3.
RELATIONSHIPS: Final = frozenset(
    {
        "authentication",
        "assertionMethod",
        "keyAgreement",
        "capabilityInvocation",
        "capabilityDelegation",
    }
)

#: The record category of key bindings: name = verification method, value = the binding.
BINDING_CATEGORY: Final = "key-binding"

# Tags this module sets on key entries and binding records; callers' tags may not use them.
_TAG_TYPE: Final = "keyType"
_TAG_RETIRED: Final = "retired"
_TAG_DID: Final = "did"
_TAG_MULTIKEY: Final = "multikey"
_RESERVED_TAGS: Final = frozenset({_TAG_TYPE, _TAG_RETIRED})

# The key pair types this store holds, by the public multicodec that names them.
_ALGORITHMS: Final[dict[KeyType, Any]] = {
    KeyType.ED25519_PUB: KeyAlg.ED25519,
    KeyType.X25519_PUB: KeyAlg.X25519,
    KeyType.P256_PUB: KeyAlg.P256,
}
# Private multicodecs (e.g. the vc-di-eddsa test key ``z3u2...``) name the same key pairs.
_PAIR_TYPE: Final[dict[KeyType, KeyType]] = {
    KeyType.ED25519_PUB: KeyType.ED25519_PUB,
    KeyType.ED25519_PRIV: KeyType.ED25519_PUB,
    KeyType.X25519_PUB: KeyType.X25519_PUB,
    KeyType.X25519_PRIV: KeyType.X25519_PUB,
    KeyType.P256_PUB: KeyType.P256_PUB,
}
# JOSE algorithm names of the key types that sign; X25519 only agrees on keys.
_JOSE_ALGORITHM: Final[dict[KeyType, str]] = {
    KeyType.ED25519_PUB: "EdDSA",
    KeyType.P256_PUB: "ES256",
}
_SECRET_LENGTH: Final = 32


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key as bound to one verification method; no secret material.

    :param multikey: the public key as Multikey, which is also its name in the store.
    :param key_type: the public multicodec key type (``ed25519-pub``, ``x25519-pub``).
    :param did: the DID whose document lists the key.
    :param verification_method: the absolute DID URL of the method (``did:...#fragment``).
    :param relationships: the DID document relationships it serves, sorted.
    :param retired: whether the key was retired by rotation (it no longer signs).
    """

    multikey: str
    key_type: KeyType
    did: str
    verification_method: str
    relationships: tuple[str, ...]
    retired: bool


class AskarSigner:
    """A :class:`agent.keys.signer.Signer` whose private key stays inside askar.

    Get one from :meth:`AskarKeyStore.signer`. It holds askar's key handle, which stays valid
    after the store is closed; it offers no way to read the secret.
    """

    __slots__ = ("_key", "_key_type", "_multikey", "_verification_method")

    def __init__(
        self, key: Any, *, key_type: KeyType, multikey: str, verification_method: str
    ) -> None:
        if key_type not in _JOSE_ALGORITHM:
            raise KeyMaterialError(
                f"a {key_type} key cannot sign; use an Ed25519 or P-256 key",
                code=ErrorCode.UNSUPPORTED_KEY_TYPE,
                details={"multikey": multikey},
            )
        self._key = key
        self._key_type = key_type
        self._multikey = multikey
        self._verification_method = verification_method

    def __repr__(self) -> str:
        return (
            f"AskarSigner(verification_method={self._verification_method!r}, "
            f"algorithm={self.algorithm!r})"
        )

    @property
    def verification_method(self) -> str:
        """The DID URL a verifier dereferences to find the public key."""
        return self._verification_method

    @property
    def algorithm(self) -> str:
        """The JOSE algorithm name: ``EdDSA`` for Ed25519, ``ES256`` for P-256."""
        return _JOSE_ALGORITHM[self._key_type]

    @property
    def multikey(self) -> str:
        """The public key as Multikey."""
        return self._multikey

    @property
    def key_type(self) -> KeyType:
        """The public multicodec key type."""
        return self._key_type

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: 64 bytes (Ed25519 per RFC 8032; P-256 as raw ``r || s``).

        :raises ProofError: ``PROOF_GENERATION_ERROR`` when askar fails to sign.
        """
        try:
            return bytes(self._key.sign_message(bytes(data)))
        except AskarError as exc:
            raise ProofError(
                f"askar could not sign with {self._verification_method}",
                code=ErrorCode.PROOF_GENERATION_ERROR,
                details={"verificationMethod": self._verification_method},
            ) from exc


class AskarKeyStore:
    """Creates, binds, lists and hands out keys kept in a :class:`agent.storage.Store`.

    :param store: an open store; this object does not close it.
    :param profile: the store profile keys live in (e.g. a child's); defaults to the store's.
    """

    __slots__ = ("_profile", "_store")

    def __init__(self, store: Store, *, profile: str | None = None) -> None:
        self._store = store
        self._profile = profile

    async def create_key(
        self, key_type: KeyType, *, seed: bytes | None = None, tags: Tags | None = None
    ) -> str:
        """Generate and store a key pair; returns its public Multikey, which is its name.

        :param key_type: the pair to make, named by its public multicodec: ``ED25519_PUB``
            (signing) or ``X25519_PUB`` (key agreement); ``P256_PUB`` for ES256 holders.
        :param seed: 32 bytes used as the secret key (the RFC 8032 seed for Ed25519, as in the
            did:key test vectors), for deterministic keys in tests. Omit it in production.
        :param tags: extra tags for the key entry (not ``keyType`` or ``retired``).
        :raises KeyMaterialError: ``unsupportedKeyType`` for other key types;
            ``invalidMultikey`` for a seed that is not 32 bytes.
        :raises StorageError: ``storeDuplicate`` when the key is stored already.
        """
        pair_type = _pair_type(key_type)
        if seed is not None:
            return await self.import_secret(pair_type, seed, tags=tags)
        key = Key.generate(_ALGORITHMS[pair_type])
        return await self._insert(pair_type, key, tags)

    async def import_secret(
        self, key_type: KeyType, secret: bytes, *, tags: Tags | None = None
    ) -> str:
        """Store a key pair given its secret key bytes; returns its public Multikey.

        Why: spec test vectors (vc-di-eddsa's ``privateKeyMultibase``) and migrations. Private
        multicodec types are accepted too, so ``import_secret(*decode_multikey(private))`` works.

        :raises KeyMaterialError: ``unsupportedKeyType`` for key types this store does not hold;
            ``invalidMultikey`` when the secret has the wrong length or is not a valid key.
        :raises StorageError: ``storeDuplicate`` when the key is stored already.
        """
        pair_type = _pair_type(key_type)
        key = self._key_from_secret(pair_type, bytes(secret))
        return await self._insert(pair_type, key, tags)

    async def import_secrets_in(
        self, txn: Session, items: Iterable[tuple[KeyType, bytes, Tags | None, bool]]
    ) -> list[str]:
        """Store several key pairs ``(type, secret, tags, retired)`` in the caller's transaction.

        Why: a restore writes keys and records in one transaction, so a crash leaves either
        the whole wallet or nothing (never keys without their records).

        :raises KeyMaterialError: as :meth:`import_secret`.
        :raises StorageError: ``storeDuplicate`` when a key is stored already.
        """
        imported: list[str] = []
        for key_type, secret, tags, retired in items:
            pair_type = _pair_type(key_type)
            key = self._key_from_secret(pair_type, bytes(secret))
            multikey = encode_multikey(pair_type, bytes(key.get_public_bytes()))
            entry_tags = _entry_tags(pair_type, tags)
            if retired:
                entry_tags[_TAG_RETIRED] = "true"
            await txn.insert_key(multikey, key, tags=entry_tags)
            imported.append(multikey)
        return imported

    @staticmethod
    def _key_from_secret(pair_type: KeyType, secret: bytes) -> Any:
        if len(secret) != _SECRET_LENGTH:
            raise KeyMaterialError(
                f"a {pair_type} secret key must be {_SECRET_LENGTH} bytes, got {len(secret)}",
                code=ErrorCode.INVALID_MULTIKEY,
            )
        try:
            return Key.from_secret_bytes(_ALGORITHMS[pair_type], secret)
        except AskarError as exc:
            raise KeyMaterialError(
                f"the bytes are not a valid {pair_type} secret key",
                code=ErrorCode.INVALID_MULTIKEY,
            ) from exc

    async def bind(
        self,
        multikey: str,
        *,
        did: str,
        verification_method: str,
        relationships: Sequence[str],
    ) -> None:
        """Bind ``multikey`` as ``verification_method`` of ``did``, for ``relationships``.

        Binding the same method to the same key again replaces its relationships.

        :param verification_method: the absolute DID URL, ``{did}#fragment``.
        :param relationships: DID Core relationship names; ``keyAgreement`` needs an X25519 key,
            the others a signing key.
        :raises KeyMaterialError: ``keyNotFound`` when the key is not stored;
            ``unsupportedKeyType`` when the key's type cannot serve a relationship.
        :raises InvalidInputError: the method is not a DID URL of ``did``, or a relationship is
            unknown or none is given.
        :raises StorageError: ``storeDuplicate`` when the method is bound to another key.
        """
        rels = _check_binding(did, verification_method, relationships)
        async with self._store.transaction(self._profile) as txn:
            entry = await _require_key(txn, multikey)
            key_type = _entry_type(entry)
            _check_relationships(key_type, rels, multikey)
            binding = {
                "multikey": multikey,
                "did": did,
                "verificationMethod": verification_method,
                "relationships": list(rels),
            }
            tags = {_TAG_DID: did, _TAG_MULTIKEY: multikey}
            existing = await txn.fetch(BINDING_CATEGORY, verification_method, for_update=True)
            if existing is None:
                await txn.insert(BINDING_CATEGORY, verification_method, binding, tags)
            elif existing.tags.get(_TAG_MULTIKEY) == multikey:
                await txn.replace(BINDING_CATEGORY, verification_method, binding, tags)
            else:
                raise StorageError(
                    f"{verification_method} is bound to another key already; a verification "
                    "method names exactly one key (rotate by adding a new method)",
                    code=ErrorCode.STORE_DUPLICATE,
                    details={"verificationMethod": verification_method},
                )
            await txn.commit()

    async def keys_for(self, did: str, *, relationship: str | None = None) -> list[KeyInfo]:
        """The keys bound to ``did`` (retired ones included), in verification method order.

        :param relationship: only keys serving this relationship, e.g. ``assertionMethod``.
        :raises StorageError: ``storeBackendError`` when the store fails.
        """
        async with self._store.session(self._profile) as session:
            bindings = await session.fetch_all(BINDING_CATEGORY, {_TAG_DID: did})
            infos: list[KeyInfo] = []
            for record in bindings:
                value = record.json()
                rels = tuple(value["relationships"])
                if relationship is not None and relationship not in rels:
                    continue
                entry = await session.fetch_key(value["multikey"])
                if entry is None:  # The key was removed; its binding is stale.
                    continue
                infos.append(_info(entry, value, rels))
        return sorted(infos, key=lambda info: info.verification_method)

    async def signer(
        self, multikey_or_vm: str, *, verification_method: str | None = None
    ) -> AskarSigner:
        """A signer for a stored key, named by its Multikey or by a bound verification method.

        Given a Multikey, the signer's ``verification_method`` is ``verification_method`` or,
        when that is omitted, the key's only binding.

        :raises KeyMaterialError: ``keyNotFound`` when the key or binding is missing, the key is
            retired, or a Multikey has no single binding and no ``verification_method`` is
            given; ``unsupportedKeyType`` for a key that cannot sign (X25519).
        :raises InvalidInputError: both a method and a different ``verification_method``.
        """
        async with self._store.session(self._profile) as session:
            if multikey_or_vm.startswith("did:"):
                if verification_method not in (None, multikey_or_vm):
                    raise InvalidInputError(
                        "give the verification method once: as the first argument or as "
                        "verification_method=, not two different ones"
                    )
                vm = multikey_or_vm
                binding = await session.fetch(BINDING_CATEGORY, vm)
                if binding is None:
                    raise KeyMaterialError(
                        f"no key is bound to {vm}; create one and bind() it first",
                        code=ErrorCode.KEY_NOT_FOUND,
                        details={"verificationMethod": vm},
                    )
                multikey = str(binding.json()["multikey"])
            else:
                multikey = multikey_or_vm
                vm = verification_method or await _sole_binding(session, multikey)
            entry = await _require_key(session, multikey)
        if entry.tags.get(_TAG_RETIRED) == "true":
            raise KeyMaterialError(
                f"key {multikey} is retired and no longer signs; use its successor",
                code=ErrorCode.KEY_NOT_FOUND,
                details={"multikey": multikey, "reason": "retired"},
            )
        return AskarSigner(
            entry.key, key_type=_entry_type(entry), multikey=multikey, verification_method=vm
        )

    async def public_key(self, multikey: str) -> bytes:
        """The raw public key of a stored key (32 bytes for Ed25519/X25519).

        :raises KeyMaterialError: ``keyNotFound`` when the key is not stored.
        """
        async with self._store.session(self._profile) as session:
            entry = await _require_key(session, multikey)
        return bytes(entry.key.get_public_bytes())

    async def agreement_key(self, multikey: str) -> Any:
        """The ``aries_askar.Key`` handle of a stored X25519 key, for the DIDComm layer's ECDH.

        :raises KeyMaterialError: ``keyNotFound`` when the key is not stored or retired;
            ``unsupportedKeyType`` when it is not an X25519 key.
        """
        async with self._store.session(self._profile) as session:
            entry = await _require_key(session, multikey)
        if _entry_type(entry) is not KeyType.X25519_PUB:
            raise KeyMaterialError(
                f"key {multikey} is not an X25519 key and cannot be used for key agreement",
                code=ErrorCode.UNSUPPORTED_KEY_TYPE,
                details={"multikey": multikey},
            )
        if entry.tags.get(_TAG_RETIRED) == "true":
            raise KeyMaterialError(
                f"key {multikey} is retired; use its successor",
                code=ErrorCode.KEY_NOT_FOUND,
                details={"multikey": multikey, "reason": "retired"},
            )
        return entry.key

    async def retire(self, multikey: str) -> None:
        """Mark a key retired after rotation: it stops signing but stays listed and bound.

        :raises KeyMaterialError: ``keyNotFound`` when the key is not stored.
        """
        async with self._store.transaction(self._profile) as txn:
            entry = await _require_key(txn, multikey, for_update=True)
            tags = dict(entry.tags)
            tags[_TAG_RETIRED] = "true"
            await txn.update_key(multikey, tags=tags, metadata=entry.metadata)
            await txn.commit()

    async def _insert(self, key_type: KeyType, key: Any, tags: Tags | None) -> str:
        multikey = encode_multikey(key_type, bytes(key.get_public_bytes()))
        entry_tags = _entry_tags(key_type, tags)
        async with self._store.session(self._profile) as session:
            await session.insert_key(multikey, key, tags=entry_tags)
        return multikey


# Helpers.


def _pair_type(key_type: KeyType) -> KeyType:
    try:
        return _PAIR_TYPE[key_type]
    except KeyError:
        raise KeyMaterialError(
            f"this key store holds Ed25519, X25519 and P-256 key pairs, not {key_type}",
            code=ErrorCode.UNSUPPORTED_KEY_TYPE,
        ) from None


def _entry_tags(key_type: KeyType, tags: Tags | None) -> dict[str, str | list[str]]:
    extra = dict(tags or {})
    clash = _RESERVED_TAGS.intersection(extra)
    if clash:
        raise InvalidInputError(
            f"tag names {sorted(clash)} are reserved by the key store",
            details={"tags": sorted(clash)},
        )
    return {**extra, _TAG_TYPE: str(key_type), _TAG_RETIRED: "false"}


def _entry_type(entry: KeyEntry) -> KeyType:
    """The public key type, read from the Multikey that names the entry."""
    key_type, _ = decode_multikey(entry.name)
    return key_type


async def _require_key(session: Session, multikey: str, *, for_update: bool = False) -> KeyEntry:
    entry = await session.fetch_key(multikey, for_update=for_update)
    if entry is None:
        raise KeyMaterialError(
            f"no key {multikey} in this store (profile); create or import it first",
            code=ErrorCode.KEY_NOT_FOUND,
            details={"multikey": multikey},
        )
    return entry


async def _sole_binding(session: Session, multikey: str) -> str:
    bindings = await session.fetch_all(BINDING_CATEGORY, {_TAG_MULTIKEY: multikey})
    if len(bindings) != 1:
        found = "no verification method" if not bindings else "several verification methods"
        raise KeyMaterialError(
            f"key {multikey} is bound to {found}; pass verification_method= to say which DID "
            "URL the signature names",
            code=ErrorCode.KEY_NOT_FOUND,
            details={"multikey": multikey, "bindings": len(bindings)},
        )
    return bindings[0].name


def _check_binding(
    did: str, verification_method: str, relationships: Iterable[str]
) -> tuple[str, ...]:
    if not did.startswith("did:") or "#" in did:
        raise InvalidInputError(
            f"{did!r} is not a DID (expected did:<method>:<id>, without a fragment)",
            code=ErrorCode.INVALID_DID,
        )
    if not verification_method.startswith(did + "#") or verification_method == did + "#":
        raise InvalidInputError(
            f"verification method {verification_method!r} must be an absolute DID URL of "
            f"{did}, i.e. {did}#<fragment>",
            code=ErrorCode.INVALID_DID_URL,
        )
    if isinstance(relationships, str):
        raise InvalidInputError("relationships must be a list of names, not one string")
    rels = tuple(sorted(set(relationships)))
    unknown = [rel for rel in rels if rel not in RELATIONSHIPS]
    if not rels or unknown:
        raise InvalidInputError(
            f"relationships must name at least one of {sorted(RELATIONSHIPS)}"
            + (f"; unknown: {unknown}" if unknown else ""),
        )
    return rels


def _check_relationships(key_type: KeyType, rels: tuple[str, ...], multikey: str) -> None:
    signing = key_type in _JOSE_ALGORITHM
    for rel in rels:
        if (rel == "keyAgreement") == signing:
            need = "an X25519 key" if rel == "keyAgreement" else "a signing key"
            raise KeyMaterialError(
                f"{rel} needs {need}; {multikey} is a {key_type} key",
                code=ErrorCode.UNSUPPORTED_KEY_TYPE,
                details={"multikey": multikey, "relationship": rel},
            )


def _info(entry: KeyEntry, binding: dict[str, Any], rels: tuple[str, ...]) -> KeyInfo:
    return KeyInfo(
        multikey=entry.name,
        key_type=_entry_type(entry),
        did=str(binding["did"]),
        verification_method=str(binding["verificationMethod"]),
        relationships=rels,
        retired=entry.tags.get(_TAG_RETIRED) == "true",
    )
