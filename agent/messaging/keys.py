"""Where the DIDComm layer gets keys: public keys from DID documents, private ones from a store.

DIDComm Messaging v2, section "Key IDs kid and skid headers references in the DID document":
every ``kid``/``skid`` is a DID URL; sender and recipient agreement keys "MUST be retrieved from
the DID document's KeyAgreement verification section"; a signer's key must be in the
``authentication`` section of the DID in ``from`` (section "Message Signing", "Verification").

* :class:`DIDCommResolver` dereferences a DID URL for a relationship.
  :class:`agent.dids.DIDResolver` implements it (it returns :class:`agent.keys.ResolvedKey`);
  a resolver may also return a :class:`JwkKey`, for keys on curves the project's Multikey types
  do not cover (the spec's test vectors use P-384 and secp256k1 keys as ``JsonWebKey2020``).
* :class:`RecipientKeys` gives our own private key agreement key for a ``kid``, or ``None``
  when the key is not ours. :class:`KeyStoreRecipientKeys` reads an
  :class:`agent.keys.AskarKeyStore`; :class:`InMemorySecrets` holds private JWKs (tests and the
  spec's vectors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.errors import DIDDocumentError, ErrorCode, KeyMaterialError, MessagingError
from agent.keys.askar import AskarKeyStore
from agent.keys.convert import public_key_to_jwk
from agent.keys.signer import ResolvedKey
from agent.messaging._askar import JoseKey
from agent.messaging._common import did_of_kid, malformed

__all__ = [
    "DIDCommResolver",
    "InMemorySecrets",
    "JwkKey",
    "KeyStoreRecipientKeys",
    "RecipientKeys",
]


@dataclass(frozen=True, slots=True)
class JwkKey:
    """A public key found by dereferencing a DID URL, as a JWK (``publicKeyJwk``).

    :param id: the absolute DID URL of the verification method.
    :param controller: the DID that controls the key.
    :param jwk: the public JWK.
    """

    id: str
    controller: str
    jwk: Mapping[str, Any] = field(repr=False)


class DIDCommResolver(Protocol):
    """Dereferences a verification method's DID URL for a verification relationship.

    ``relationship`` is ``authentication`` (JWS signers) or ``keyAgreement`` (``kid``, ``skid``).

    :raises agent.errors.DIDResolutionError: the DID cannot be resolved.
    :raises agent.errors.DIDDocumentError: no such method, or not authorised for
        ``relationship``.
    """

    async def resolve_key(
        self, verification_method: str, relationship: str
    ) -> ResolvedKey | JwkKey: ...


class RecipientKeys(Protocol):
    """Our private key agreement keys, looked up by ``kid``.

    ``agreement_key`` returns the ``aries_askar.Key`` (with its secret) for a ``kid`` we hold,
    or ``None`` when the ``kid`` is not ours, so that unpacking can try the next recipient.
    """

    async def agreement_key(self, kid: str) -> object | None: ...


class InMemorySecrets:
    """:class:`RecipientKeys` over private JWKs held in memory, by ``kid``.

    Why: the spec's Appendix A secrets are JWKs, and some of their curves (P-256, P-384) are
    not kept by :class:`agent.keys.AskarKeyStore`. Production agents use
    :class:`KeyStoreRecipientKeys`.

    :param secrets: ``kid`` to private JWK (with ``d``).
    :raises MessagingError: ``didcommMalformed`` when a ``kid`` is not a DID URL;
        ``didcommUnsupportedAlg`` for a curve askar does not have (P-521): such a secret is
        skipped only when ``skip_unsupported`` is true.
    """

    __slots__ = ("_keys", "_unsupported")

    def __init__(
        self, secrets: Mapping[str, Mapping[str, Any]], *, skip_unsupported: bool = False
    ) -> None:
        self._keys: dict[str, JoseKey] = {}
        self._unsupported: set[str] = set()
        for kid, jwk in secrets.items():
            did_of_kid(kid, "kid")
            try:
                self._keys[kid] = JoseKey.from_jwk(jwk, private=True)
            except MessagingError as exc:
                if not (skip_unsupported and exc.code is ErrorCode.DIDCOMM_UNSUPPORTED_ALG):
                    raise
                self._unsupported.add(kid)

    def __repr__(self) -> str:
        return f"InMemorySecrets(kids={sorted(self._keys)!r})"

    @classmethod
    def from_jwks(
        cls, jwks: Iterable[Mapping[str, Any]], *, skip_unsupported: bool = False
    ) -> InMemorySecrets:
        """From private JWKs that each carry their ``kid``.

        :raises MessagingError: ``didcommMalformed`` for a JWK without a string ``kid``.
        """
        secrets: dict[str, Mapping[str, Any]] = {}
        for jwk in jwks:
            kid = jwk.get("kid")
            if not isinstance(kid, str):
                raise malformed("each secret JWK needs a string 'kid'", field="kid")
            secrets[kid] = jwk
        return cls(secrets, skip_unsupported=skip_unsupported)

    @property
    def skipped(self) -> frozenset[str]:
        """The ``kid`` values skipped because askar lacks their curve."""
        return frozenset(self._unsupported)

    async def agreement_key(self, kid: str) -> object | None:
        """The key for ``kid``, or ``None``."""
        return self._keys.get(kid)


class KeyStoreRecipientKeys:
    """:class:`RecipientKeys` over an :class:`agent.keys.AskarKeyStore`.

    A ``kid`` is ours when a key is bound to that verification method for ``keyAgreement``
    (:meth:`agent.keys.AskarKeyStore.bind`) and is not retired.
    """

    __slots__ = ("_store",)

    def __init__(self, store: AskarKeyStore) -> None:
        self._store = store

    async def agreement_key(self, kid: str) -> object | None:
        """The askar key bound to ``kid`` for ``keyAgreement``, or ``None``.

        :raises agent.errors.StorageError: when the store fails.
        """
        did = did_of_kid(kid, "kid")
        for info in await self._store.keys_for(did, relationship="keyAgreement"):
            if info.verification_method == kid and not info.retired:
                try:
                    key: object = await self._store.agreement_key(info.multikey)
                except KeyMaterialError:
                    return None
                return key
        return None


async def resolve_public_key(resolver: DIDCommResolver, kid: str, relationship: str) -> JoseKey:
    """The public key ``kid`` names, if its DID authorises it for ``relationship``.

    :raises MessagingError: ``didcommMalformed`` when ``kid`` is not a DID URL;
        ``didcommKeyNotAuthorized`` when the DID document lacks the method or lists it under
        other relationships only; ``didcommUnsupportedAlg`` for a key type askar lacks.
    :raises agent.errors.DIDResolutionError: when the DID cannot be resolved.
    """
    did = did_of_kid(kid, "kid")
    try:
        resolved = await resolver.resolve_key(kid, relationship)
    except DIDDocumentError as exc:
        raise MessagingError(
            f"{kid} is not a {relationship} key of {did}: {exc.message}",
            code=ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED,
            details={"kid": kid, "relationship": relationship, "cause": str(exc.code)},
        ) from exc
    if resolved.id != kid or resolved.controller != did:
        raise MessagingError(
            f"the resolver returned {resolved.id} (controlled by {resolved.controller}) for "
            f"{kid}; a key must be controlled by the DID that names it",
            code=ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED,
            details={"kid": kid},
        )
    if isinstance(resolved, JwkKey):
        return JoseKey.from_jwk(resolved.jwk)
    try:
        jwk = public_key_to_jwk(resolved.key_type, resolved.raw)
    except KeyMaterialError as exc:
        raise MessagingError(
            f"{kid} has a {resolved.key_type} key, which DIDComm cannot use",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
            details={"kid": kid},
        ) from exc
    return JoseKey.from_jwk(jwk)
