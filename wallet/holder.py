"""The citizen's wallet: holder keys, and credentials accepted, verified, kept and found.

A :class:`Wallet` works on one askar store and profile (a parent keeps a child's records in a
profile of their own; profiles are keyed separately by askar). Open one with
:func:`open_wallet`.

Holder keys are made on first use and never leave askar:

* an Ed25519 key as ``did:key`` (:meth:`Wallet.holder_did`): the subject of W3C credentials
  and the signer of W3C presentations (``authentication``) and of consent records
  (``assertionMethod``);
* a P-256 key (:meth:`Wallet.holder_jwk`): the ``cnf.jwk`` of SD-JWT VCs, which signs the
  ES256 Key Binding JWT (widely supported, unlike EdDSA KB-JWTs). It is also bound to a
  ``did:key`` of its own so that it can be looked up like any other key.

Three formats are accepted, each verified before it is stored and kept exactly as received:

=====================  =====================================================================
format                 verified with
=====================  =====================================================================
W3C VC (``ldp_vc``)    :func:`agent.credentials.verify_proofs` (issuer's key via the DID
                       resolver; the key must be the issuer's), then the validity period
                       (:func:`agent.credentials.check_validity_period`)
SD-JWT VC              :func:`agent.credentials.sd_jwt.verify_sd_jwt` without Key Binding
(``dc+sd-jwt``)        (``exp``/``nbf``/``iat`` checked; the issuer-signed SD-JWT with all
                       its Disclosures is kept)
SMART Health Card      ES256 against the issuer's JWKS (given, or fetched from
                       ``iss/.well-known/jwks.json`` with the injected HTTP client)
=====================  =====================================================================

Records (category / name), all encrypted: ``credential / <id>`` (the credential as received),
``credential-meta / <id>`` (a :class:`StoredCredential`, with the search tags of
:mod:`wallet.search`), ``credential-words / <id>`` (its free-text tags), ``wallet / identity``
(holder DIDs and the search secret), ``wallet-index / generation`` (a random token replaced by
every write of credentials, see :mod:`wallet.index`; not backed up).
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import dataclasses
import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Final

import httpx

from agent.clock import Clock, format_datetime, parse_datetime, utcnow
from agent.credentials.jcs import canonicalize
from agent.credentials.model import check_validity_period, type_values, validate_credential
from agent.credentials.proofs import verify_proofs
from agent.credentials.sd_jwt import IssuerKeyCallback, parse_sd_jwt, verify_sd_jwt
from agent.dids import DIDResolver, did_key_from_public
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StorageError
from agent.jsonio import parse_json_object
from agent.keys import AskarKeyStore, AskarSigner, KeyResolver, KeyType, decode_multikey
from agent.keys.convert import public_key_to_jwk
from agent.storage import Record, Store, open_store, single_valued
from wallet import shc
from wallet._extract import fhir_codes, words_of
from wallet.errors import CredentialImportError, CredentialNotFoundError, DuplicateCredentialError
from wallet.index import (
    IndexEntry,
    SearchIndex,
    current_generation,
    index_query,
    mark_changed,
    tag_keys,
)
from wallet.search import META_CATEGORY, WORDS_CATEGORY, build_filter, credential_tags, word_tags

__all__ = [
    "CREDENTIAL_CATEGORY",
    "CredentialFormat",
    "StoredCredential",
    "Wallet",
    "holder_claims",
    "open_wallet",
    "wallet_on",
]

#: The record category of credentials as received.
CREDENTIAL_CATEGORY: Final = "credential"
#: The record category and name of the wallet's identity (holder DIDs, search secret).
IDENTITY: Final = ("wallet", "identity")
#: The version of the labels stored with the credentials (:meth:`Wallet.relabel`): 2 names a
#: summary by its sections, a record and a SMART Health Card's resources by their codes.
LABELS_VERSION: Final = 2
_LABELS: Final = ("wallet", "labels")

log = logging.getLogger(__name__)

Importable = Mapping[str, Any] | str | bytes | Sequence[str]


class CredentialFormat(StrEnum):
    """The formats kept, named by their OpenID4VP / DCQL format identifiers."""

    W3C_VC = "ldp_vc"
    SD_JWT_VC = "dc+sd-jwt"
    SMART_HEALTH_CARD = "smart-health-card"


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """What the wallet knows about one stored credential, without its content.

    :param id: the credential's own ``id`` (W3C ``id``, SD-JWT ``jti``) or, when it has none,
        ``urn:sha256:<hex>`` of its content.
    :param format: the format.
    :param types: W3C ``type`` values, the SD-JWT ``vct``, or the SHC ``vc.type`` values.
    :param issuer: the issuer (DID or URL).
    :param issued: ``validFrom``/``issuanceDate``, ``iat`` or ``nbf``.
    :param valid_until: ``validUntil``/``expirationDate`` or ``exp``.
    :param codes: FHIR codings found in the claims, ``system|code``.
    :param summary: a short line for lists: the credential's name, then what it is about
        (:meth:`Wallet.relabel` says how it is made).
    :param added: when the wallet stored it.
    """

    id: str
    format: CredentialFormat
    types: tuple[str, ...]
    issuer: str | None
    issued: datetime | None
    valid_until: datetime | None
    codes: tuple[str, ...]
    summary: str
    added: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": str(self.format),
            "types": list(self.types),
            "issuer": self.issuer,
            "issued": _fmt(self.issued),
            "validUntil": _fmt(self.valid_until),
            "codes": list(self.codes),
            "summary": self.summary,
            "added": format_datetime(self.added),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredCredential:
        return cls(
            id=str(data["id"]),
            format=CredentialFormat(data["format"]),
            types=tuple(data["types"]),
            issuer=data.get("issuer"),
            issued=_parse(data.get("issued")),
            valid_until=_parse(data.get("validUntil")),
            codes=tuple(data["codes"]),
            summary=str(data["summary"]),
            added=parse_datetime(data["added"]),
        )


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def _parse(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value, require_zone=False)
    except ValueError:
        return None


def _from_numeric(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None


def _first_display(claims: Any, *, sort_keys: bool = False) -> str | None:
    """The first ``display`` or ``text`` found breadth-first, for a credential's label.

    :param sort_keys: visit object members by name, not in document order: an SD-JWT's
        disclosed claims come in the order of their (salted, so random) digests, and the
        label must not change from one issuance to the next.
    """
    stack = [claims]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key in ("display", "text"):
                if isinstance(node.get(key), str) and node[key]:
                    return str(node[key])[:80]
            stack.extend([node[k] for k in sorted(node)] if sort_keys else node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


#: Characters of a label's section list before the rest are counted ("+2 more").
_SECTIONS_SHOWN: Final = 60
#: Members that are about the credential, not sections of its record: the subject's id; an
#: SD-JWT VC's holder key (RFC 7800 ``cnf``), status reference and digests; the FHIR resource a
#: W3C record credential carries and the resources it refers to (one record, named by them).
_NOT_SECTIONS: Final = frozenset(
    {"id", "cnf", "status", "_sd", "fhirVersion", "fhirResource", "fhirIncluded"}
)


#: The members of a FHIR resource that say what it is about, in the order they are tried.
_FHIR_SUBJECT_CODES: Final = ("code", "medicationCodeableConcept", "vaccineCode")


def _label_detail(claims: Any, *, sort_keys: bool = False) -> str | None:
    """What a credential's label says after its title.

    A summary (claims with several sections, an emergency summary's allergies, medications,
    advance directive ...) is named by its sections, in name order whatever the format: the
    first display found in one of them would stand for the whole, and read alone it can say
    the opposite of the record ("Cardiopulmonary resuscitation" for a directive refusing it).
    A FHIR record is named by its code's display (:func:`_code_display`), anything else by its
    first display (:func:`_first_display`).
    """
    if isinstance(claims, dict):
        sections = sorted(
            name
            for name, value in claims.items()
            if name not in _NOT_SECTIONS and isinstance(value, dict | list)
        )
        if len(sections) > 1:
            shown: list[str] = []
            for name in sections:
                if shown and len(", ".join([*shown, name])) > _SECTIONS_SHOWN:
                    break
                shown.append(name)
            rest = len(sections) - len(shown)
            return ", ".join(shown) + (f", +{rest} more" if rest else "")
        # A FHIR record is named by what it is about (its code), not by the first display in
        # it, which can be its severity ("Moderate") or its category.
        display = _code_display(claims.get("fhirResource"))
        if display is not None:
            return display
    return _first_display(claims, sort_keys=sort_keys)


def _code_display(resource: Any) -> str | None:
    """The display of what a FHIR resource is about (:data:`_FHIR_SUBJECT_CODES`), if any."""
    if isinstance(resource, dict):
        for member in _FHIR_SUBJECT_CODES:
            display = _first_display(resource.get(member))
            if display is not None:
                return display
    return None


def _tail(value: str) -> str:
    """``.../vct/Allergy/v1`` -> ``Allergy``; ``https://smarthealth.cards#immunization`` ->
    ``immunization``."""
    parts = [p for p in value.replace("#", "/").split("/") if p]
    if len(parts) > 1 and parts[-1][:1] == "v" and parts[-1][1:].isdigit():
        parts.pop()
    return parts[-1] if parts else value


def _labelled(title: str, detail: str | None) -> str:
    return f"{title}: {detail}" if detail else title


def _w3c_label(document: Mapping[str, Any]) -> str:
    """A W3C credential's label: its ``name`` or its first type but ``VerifiableCredential``,
    and what its subject is about (:func:`_label_detail`)."""
    name = document.get("name")
    types = sorted(type_values(document))
    title = (
        name
        if isinstance(name, str)
        else next((t for t in types if t != "VerifiableCredential"), "Credential")
    )
    return _labelled(title, _label_detail(document.get("credentialSubject")))


def _sd_jwt_label(claims: dict[str, Any]) -> str:
    """An SD-JWT VC's label, from its claims as the holder sees them (every Disclosure
    applied): the last part of its ``vct`` and what it is about."""
    vct = claims.get("vct")
    title = _tail(vct) if isinstance(vct, str) else "SD-JWT credential"
    return _labelled(title, _label_detail(claims, sort_keys=True))


def _shc_contents(cards: Sequence[Any]) -> tuple[tuple[str, ...], list[Any]]:
    """The ``vc.type`` values of a SMART Health Card's JWSs (in order, once each) and their
    FHIR bundles."""
    types: dict[str, None] = {}
    bundles = []
    for card in cards:
        vc = card.payload["vc"]
        for value in vc.get("type", []) if isinstance(vc.get("type"), list) else []:
            if isinstance(value, str):
                types.setdefault(value, None)
        subject = vc.get("credentialSubject")
        bundles.append(subject.get("fhirBundle") if isinstance(subject, dict) else None)
    return tuple(types), bundles


def holder_claims(format: str, kept: Any) -> Any:
    """What a credential kept as received (``kept``, as :meth:`Wallet.content` returns it)
    says, as its holder sees it: a W3C VC is itself; an SD-JWT VC is its processed payload,
    every Disclosure applied and the digests gone (the encoded form shows none of its
    selectively disclosable claims); a SMART Health Card is the list of its JWS payloads,
    decoded and inflated (``iss``, ``nbf``, ``vc`` with the FHIR bundle). Not verified again:
    the credential was verified when stored.

    :raises CredentialImportError: ``kept`` is not a credential of ``format``.
    """
    try:
        if format == CredentialFormat.SD_JWT_VC and isinstance(kept, str):
            return parse_sd_jwt(kept).claims
        if format == CredentialFormat.SMART_HEALTH_CARD and isinstance(kept, str | dict):
            return [shc.decode_shc_jws(jws).payload for jws in shc.jws_list(kept)]
        if format == CredentialFormat.W3C_VC and isinstance(kept, dict):
            return kept
    except HealthMyDataError as exc:
        raise CredentialImportError(
            f"the stored {format} credential cannot be read ({exc.code})"
        ) from None
    raise CredentialImportError(f"the stored credential is not a {format[:50]} credential")


def _stored_label(format: str, kept: Any) -> tuple[str, Any] | None:
    """The label of a credential as stored (its ``kept`` content) and its claims, made again
    without verifying it (it was verified when stored); ``None`` when it cannot be read."""
    try:
        if format == CredentialFormat.W3C_VC and isinstance(kept, dict):
            return _w3c_label(kept), kept.get("credentialSubject")
        if format == CredentialFormat.SD_JWT_VC and isinstance(kept, str):
            claims = parse_sd_jwt(kept).claims
            return _sd_jwt_label(claims), claims
        if format == CredentialFormat.SMART_HEALTH_CARD and isinstance(kept, str | dict):
            types, bundles = _shc_contents([shc.decode_shc_jws(j) for j in shc.jws_list(kept)])
            return _shc_label(types, bundles), bundles
    except (HealthMyDataError, KeyError, TypeError, AttributeError):
        return None
    return None


def _shc_label(types: Sequence[str], bundles: list[Any]) -> str:
    kinds = [_tail(t) for t in types if not t.endswith("#health-card")]
    title = "SMART Health Card" + (f" ({', '.join(kinds)})" if kinds else "")
    return _labelled(title, _bundles_detail(bundles))


def _bundles_detail(bundles: list[Any]) -> str | None:
    """What a SMART Health Card's FHIR bundles are about: the codes' displays of their
    resources but the Patient (each once), else their resource types counted ("Immunization
    x3"); never the first display found, which is a performer's or a specimen tube's name."""
    displays: dict[str, None] = {}
    counts: dict[str, int] = {}
    for bundle in bundles:
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(resource, dict) or not isinstance(kind, str) or kind == "Patient":
                continue
            counts[kind] = counts.get(kind, 0) + 1
            display = _code_display(resource)
            if display is not None:
                displays.setdefault(display, None)
    if displays:
        return ", ".join(displays)[:80]
    if counts:
        return ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in counts.items())
    return _first_display(bundles)


@dataclass(frozen=True, slots=True)
class _Parsed:
    own_id: str | None
    format: CredentialFormat
    types: tuple[str, ...]
    issuer: str | None
    issued: datetime | None
    valid_until: datetime | None
    claims: Any
    summary: str
    kept: Any
    content_hash: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Wallet:
    """A citizen's wallet on an open store; see the module docstring.

    :param store: an open store (closed by :meth:`close` only when ``close_store``).
    :param profile: the store profile of this wallet (``None``: the store's default).
    :param resolver: resolves issuers' DIDs for W3C and SD-JWT verification (default: a
        :class:`agent.dids.DIDResolver` using ``http_client`` for did:web).
    :param http_client: for did:web and SMART Health Card issuer JWKS.
    :param clock: the current time (STYLE 9).
    :param sd_jwt_issuer_key: an issuer key callback for SD-JWT VCs whose issuer is not a DID.
    """

    __slots__ = (
        "_clock",
        "_close_store",
        "_http_client",
        "_identity_cache",
        "_identity_lock",
        "_index",
        "_index_lock",
        "_keys",
        "_profile",
        "_resolver",
        "_sd_jwt_issuer_key",
        "_store",
    )

    def __init__(
        self,
        store: Store,
        *,
        profile: str | None = None,
        resolver: KeyResolver | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock = utcnow,
        sd_jwt_issuer_key: IssuerKeyCallback | None = None,
        close_store: bool = False,
    ) -> None:
        self._store = store
        self._profile = profile if profile is not None else store.profile
        self._keys = AskarKeyStore(store, profile=self._profile)
        self._http_client = http_client
        self._resolver: KeyResolver = resolver or DIDResolver(http_client=http_client)
        self._clock = clock
        self._sd_jwt_issuer_key = sd_jwt_issuer_key
        self._close_store = close_store
        self._identity_cache: dict[str, Any] | None = None
        self._identity_lock = asyncio.Lock()
        self._index: SearchIndex[StoredCredential] | None = None
        self._index_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Wallet(store={self._store.uri!r}, profile={self._profile!r})"

    async def __aenter__(self) -> Wallet:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the store if this wallet opened it (:func:`open_wallet`)."""
        if self._close_store:
            await self._store.close()

    # --- properties ----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    @property
    def profile(self) -> str | None:
        return self._profile

    @property
    def keys(self) -> AskarKeyStore:
        return self._keys

    @property
    def resolver(self) -> KeyResolver:
        return self._resolver

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The client for did:web, SMART Health Card JWKS and status lists (``None``: offline)."""
        return self._http_client

    # --- holder keys ---------------------------------------------------------------------------

    async def _identity(self) -> dict[str, Any]:
        if self._identity_cache is not None:
            return self._identity_cache
        async with self._identity_lock:
            return await self._load_identity()

    async def _load_identity(self) -> dict[str, Any]:
        """Read (or make) the identity; called under the lock, so made at most once here."""
        if self._identity_cache is not None:
            return self._identity_cache
        async with self._store.session(self._profile) as session:
            record = await session.fetch(*IDENTITY)
        if record is None:
            identity = await self._create_identity()
            try:
                async with self._store.session(self._profile) as session:
                    await session.insert(*IDENTITY, identity)
            except StorageError as exc:  # another process made one first
                if exc.code is not ErrorCode.STORE_DUPLICATE:
                    raise
                async with self._store.session(self._profile) as session:
                    identity = (await session.get(*IDENTITY)).json()
        else:
            identity = record.json()
        self._identity_cache = identity
        return identity

    async def _bound_did(self, key_type: KeyType) -> tuple[str, str]:
        multikey = await self._keys.create_key(key_type)
        did = did_key_from_public(key_type, decode_multikey(multikey)[1])
        vm = f"{did}#{multikey}"
        await self._keys.bind(
            multikey,
            did=did,
            verification_method=vm,
            relationships=["authentication", "assertionMethod"],
        )
        return did, vm

    async def _create_identity(self) -> dict[str, Any]:
        did, vm = await self._bound_did(KeyType.ED25519_PUB)
        jwk_did, jwk_vm = await self._bound_did(KeyType.P256_PUB)
        raw = decode_multikey(jwk_vm.rpartition("#")[2])[1]
        return {
            "holderDid": did,
            "holderVerificationMethod": vm,
            "jwkDid": jwk_did,
            "jwkVerificationMethod": jwk_vm,
            "jwk": public_key_to_jwk(KeyType.P256_PUB, raw),
            "searchSecret": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        }

    async def holder_did(self) -> str:
        """The citizen's holder ``did:key`` (Ed25519), created on first use."""
        return str((await self._identity())["holderDid"])

    async def holder_jwk(self) -> dict[str, str]:
        """The public P-256 JWK to put in an SD-JWT VC's ``cnf``, created on first use."""
        return dict((await self._identity())["jwk"])

    async def holder_signer(self) -> AskarSigner:
        """The Ed25519 signer of :meth:`holder_did` (W3C presentations, consent records)."""
        return await self._keys.signer((await self._identity())["holderVerificationMethod"])

    async def jwk_signer(self) -> AskarSigner:
        """The ES256 signer of :meth:`holder_jwk` (SD-JWT Key Binding JWTs)."""
        return await self._keys.signer((await self._identity())["jwkVerificationMethod"])

    async def _search_secret(self) -> bytes:
        return base64.b64decode((await self._identity())["searchSecret"])

    # --- import --------------------------------------------------------------------------------

    async def add_credential(
        self, item: Importable, *, jwks: Mapping[str, Any] | None = None
    ) -> StoredCredential:
        """Verify a credential and store it as received.

        :param item: a W3C VC (dict or JSON text), an SD-JWT VC (compact, ending in ``~``), a
            SMART Health Card (compact JWS, ``.smart-health-card`` file object or JSON text,
            ``shc:/`` QR text, or a list of ``shc:/`` chunks).
        :param jwks: the SHC issuer's JWKS; fetched with the wallet's HTTP client when omitted.
        :raises CredentialImportError: ``walletUnsupportedFormat`` for anything else;
            ``walletIssuerKeyNotFound`` when a SHC issuer's key cannot be found.
        :raises DuplicateCredentialError: the same id or the same content is stored already.
        :raises agent.errors.HealthMyDataError: the verification errors of each format
            (``SignatureError``, ``ProofError``, ``DataModelError``, ``DIDError``, ...); an
            expired or not yet valid W3C VC or SD-JWT VC is ``RANGE_ERROR`` (the same clock
            skew, :data:`agent.clock.DEFAULT_MAX_CLOCK_SKEW`, for both).
        """
        parsed = await self._verify(item, jwks)
        identifier = parsed.own_id or f"urn:sha256:{parsed.content_hash}"
        meta = StoredCredential(
            id=identifier,
            format=parsed.format,
            types=parsed.types,
            issuer=parsed.issuer,
            issued=parsed.issued,
            valid_until=parsed.valid_until,
            codes=tuple(fhir_codes(parsed.claims)),
            summary=parsed.summary,
            added=self._clock().replace(microsecond=0),
        )
        tags = credential_tags(
            credential_id=identifier,
            types=meta.types,
            issuer=meta.issuer,
            format=str(meta.format),
            codes=meta.codes,
            issued=meta.issued,
            valid_until=meta.valid_until,
            content_hash=parsed.content_hash,
        )
        words = word_tags(
            words_of(parsed.claims, meta.summary, *meta.types), await self._search_secret()
        )
        async with self._store.transaction(self._profile) as txn:
            same_id = await txn.fetch(META_CATEGORY, identifier)
            if same_id is not None:
                raise DuplicateCredentialError(
                    "a credential with this id is stored already",
                    details={"id": identifier, "reason": "sameId"},
                )
            same = await txn.fetch_all(META_CATEGORY, {"hash": parsed.content_hash}, limit=1)
            if same:
                raise DuplicateCredentialError(
                    "this very credential is stored already (under another id)",
                    details={"id": same[0].name, "reason": "sameContent"},
                )
            await txn.insert(
                CREDENTIAL_CATEGORY, identifier, {"format": str(parsed.format), "kept": parsed.kept}
            )
            await txn.insert(META_CATEGORY, identifier, meta.to_json(), tags)
            await txn.insert(WORDS_CATEGORY, identifier, b"", words)
            replaced, generation = await mark_changed(txn)
            await txn.commit()
        index = self._index
        if index is not None:
            if index.generation == replaced:
                index.add(_index_entry(identifier, meta, tags, words))
                index.generation = generation
            else:  # another writer came first: rebuild at the next search
                index.generation = _STALE
        return meta

    async def _verify(self, item: Importable, jwks: Mapping[str, Any] | None) -> _Parsed:
        value = _normalise_input(item)
        if isinstance(value, dict):
            if shc.SHC_FILE_MEMBER in value and "@context" not in value:
                return await self._verify_shc(value, jwks)
            if "@context" in value:
                return await self._verify_w3c(value)
            raise CredentialImportError(
                "a JSON credential must be a W3C VC (with @context) or a .smart-health-card file"
            )
        if isinstance(value, list):
            return await self._verify_shc(value, jwks)
        if "~" in value:
            return await self._verify_sd_jwt(value)
        return await self._verify_shc(value, jwks)

    async def _verify_w3c(self, document: dict[str, Any]) -> _Parsed:
        validate_credential(document, allow_v1=True)
        now = self._clock()
        await verify_proofs(document, self._resolver, now=now)
        # As an SD-JWT's exp and nbf (verify_sd_jwt): after the proof, with the same clock
        # skew; an expired or not yet valid credential is refused (RANGE_ERROR).
        check_validity_period(document, now=now)
        issuer = document.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        subject = document.get("credentialSubject")
        types = tuple(sorted(type_values(document)))
        own_id = document.get("id")
        return _Parsed(
            own_id=own_id if isinstance(own_id, str) else None,
            format=CredentialFormat.W3C_VC,
            types=types,
            issuer=issuer_id if isinstance(issuer_id, str) else None,
            issued=_parse(document.get("validFrom", document.get("issuanceDate"))),
            valid_until=_parse(document.get("validUntil", document.get("expirationDate"))),
            claims=subject,
            summary=_w3c_label(document),
            kept=document,
            content_hash=_sha256(canonicalize(document)),
        )

    async def _verify_sd_jwt(self, text: str) -> _Parsed:
        parsed = parse_sd_jwt(text)
        if parsed.key_binding_jwt is not None:
            raise CredentialImportError(
                "this SD-JWT carries a Key Binding JWT: it is a presentation, not a credential "
                "to keep; import the SD-JWT the issuer issued"
            )
        resolver = self._sd_jwt_issuer_key or self._resolver
        verified = await verify_sd_jwt(
            text, issuer_key_resolver=resolver, now=self._clock(), require_key_binding=False
        )
        payload = verified.payload
        vct = payload.get("vct")
        types = (vct,) if isinstance(vct, str) else ()
        jti = payload.get("jti")
        return _Parsed(
            own_id=jti if isinstance(jti, str) else None,
            format=CredentialFormat.SD_JWT_VC,
            types=types,
            issuer=verified.issuer,
            issued=_from_numeric(payload.get("iat")),
            valid_until=_from_numeric(payload.get("exp")),
            claims=parsed.claims,
            summary=_sd_jwt_label(parsed.claims),
            kept=text,
            # The issuer-signed JWT identifies the credential, whatever the Disclosure order.
            content_hash=_sha256(parsed.issuer_jwt.encode("ascii")),
        )

    async def _verify_shc(
        self, item: dict[str, Any] | list[str] | str, jwks: Mapping[str, Any] | None
    ) -> _Parsed:
        source: str | dict[str, Any] = "\n".join(item) if isinstance(item, list) else item
        cards = [shc.decode_shc_jws(jws) for jws in shc.jws_list(source)]
        fetched: dict[str, Mapping[str, Any]] = {}
        for card in cards:
            iss = str(card.payload["iss"])
            keys = jwks
            if keys is None:
                if iss not in fetched:
                    if self._http_client is None:
                        raise CredentialImportError(
                            "the SMART Health Card issuer's keys are needed: pass jwks=, or give "
                            "the wallet an http_client to fetch them",
                            code=ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND,
                            details={"iss": iss[:200]},
                        )
                    fetched[iss] = await shc.fetch_jwks(iss, self._http_client)
                keys = fetched[iss]
            shc.verify_shc_jws(card, keys)
        first = cards[0].payload
        types, bundles = _shc_contents(cards)
        return _Parsed(
            own_id=None,
            format=CredentialFormat.SMART_HEALTH_CARD,
            types=types,
            issuer=str(first["iss"]),
            issued=_from_numeric(first.get("nbf")),
            valid_until=_from_numeric(first.get("exp")),
            claims=bundles,
            summary=_shc_label(types, bundles),
            kept=source,
            content_hash=_sha256("\n".join(c.jws for c in cards).encode("ascii")),
        )

    # --- keep and find -------------------------------------------------------------------------

    async def get(self, credential_id: str) -> StoredCredential:
        """The stored credential's metadata.

        :raises CredentialNotFoundError: no such credential in this wallet (profile).
        """
        async with self._store.session(self._profile) as session:
            record = await session.fetch(META_CATEGORY, credential_id)
        if record is None:
            raise _not_found(credential_id)
        return StoredCredential.from_json(record.json())

    async def content(self, credential_id: str) -> Any:
        """The credential exactly as received: a dict (W3C VC, SHC file) or a string (SD-JWT,
        SHC JWS or QR text).

        :raises CredentialNotFoundError: no such credential.
        """
        async with self._store.session(self._profile) as session:
            record = await session.fetch(CREDENTIAL_CATEGORY, credential_id)
        if record is None:
            raise _not_found(credential_id)
        return record.json()["kept"]

    async def list(self) -> list[StoredCredential]:
        """Every stored credential, in the order they were added."""
        async with self._store.session(self._profile) as session:
            records = await session.fetch_all(META_CATEGORY, order_by="id")
        return [StoredCredential.from_json(r.json()) for r in records]

    async def remove(self, credential_id: str) -> None:
        """Delete a credential and its metadata.

        :raises CredentialNotFoundError: no such credential.
        """
        async with self._store.transaction(self._profile) as txn:
            if await txn.fetch(META_CATEGORY, credential_id, for_update=True) is None:
                raise _not_found(credential_id)
            await txn.remove(META_CATEGORY, credential_id)
            await txn.remove(CREDENTIAL_CATEGORY, credential_id)
            await txn.remove(WORDS_CATEGORY, credential_id)
            replaced, generation = await mark_changed(txn)
            await txn.commit()
        index = self._index
        if index is not None:
            if index.generation == replaced:
                index.remove(credential_id)
                index.generation = generation
            else:
                index.generation = _STALE

    async def search(
        self,
        *,
        type: str | None = None,
        issuer: str | None = None,
        code: str | None = None,
        text: str | None = None,
        date_from: date | datetime | None = None,
        date_to: date | datetime | None = None,
        format: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[StoredCredential]:
        """The stored credentials matching every criterion given (see :mod:`wallet.search`).

        :param code: ``system|code``, or a bare code in any system.
        :param text: words that must all occur in the credential (case and accents as in
            Unicode case folding; whole words).
        :param date_from: first issuance day, inclusive; ``date_to`` the last.
        :raises agent.errors.InvalidInputError: ``text`` without a word, a naive datetime, a
            format that is not one of :class:`CredentialFormat` (it could match nothing).
        """
        if format is not None and format not in set(CredentialFormat):
            raise InvalidInputError(
                f"unknown credential format {format[:50]!r}; use one of "
                + ", ".join(sorted(CredentialFormat)),
                details={"format": format[:50]},
            )
        filters = build_filter(
            secret=await self._search_secret(),
            type=type,
            issuer=issuer,
            code=code,
            text=text,
            date_from=date_from,
            date_to=date_to,
            format=format,
        )
        if self._index is not None:
            index = await self._fresh_index()
            return index.search(index_query(filters.meta, filters.words), limit=limit)
        async with self._store.session(self._profile) as session:
            wql = filters.meta
            if filters.words is not None:
                hits = await session.fetch_all(WORDS_CATEGORY, filters.words, order_by="id")
                if not hits:
                    return []
                names = [r.name for r in hits]
                if wql is None:  # by name: faster than an $in query over encrypted ids
                    found = [await session.fetch(META_CATEGORY, n) for n in names[:limit]]
                    return [StoredCredential.from_json(r.json()) for r in found if r is not None]
                wql = {"$and": [wql, {"id": {"$in": names}}]}
            records = await session.fetch_all(META_CATEGORY, wql, limit=limit, order_by="id")
        return [StoredCredential.from_json(r.json()) for r in records]

    async def relabel(self) -> int:
        """Make the stored labels (each credential's ``summary``) again where an earlier
        version of this code made them otherwise, and record :data:`LABELS_VERSION`; returns
        how many changed. Runs when the wallet opens (:func:`wallet_on`); once done, an open
        only reads the version. Why: labels are made when a credential is stored, and one made
        before this version could misname a record (an emergency summary labelled
        "Cardiopulmonary resuscitation", its advance directive refusing it)."""
        async with self._store.session(self._profile) as session:
            recorded = await session.fetch(*_LABELS)
            if recorded is not None and _labels_version(recorded) >= LABELS_VERSION:
                return 0
            # Nothing to relabel, and nothing written: a store a restore is about to fill
            # must stay empty (wallet.backup.profile_is_empty).
            if not await session.count(META_CATEGORY):
                return 0
        changed = 0
        secret = await self._search_secret()
        async with self._store.transaction(self._profile) as txn:
            recorded = await txn.fetch(*_LABELS, for_update=True)
            if recorded is not None and _labels_version(recorded) >= LABELS_VERSION:
                return 0  # another process did it meanwhile
            for meta_record in await txn.fetch_all(META_CATEGORY):
                content = await txn.fetch(CREDENTIAL_CATEGORY, meta_record.name)
                try:
                    meta = StoredCredential.from_json(meta_record.json())
                    stored = content.json() if content is not None else None
                except (HealthMyDataError, KeyError, TypeError, ValueError):
                    continue  # not this code's to mend: left as it is
                labelled = (
                    _stored_label(str(stored.get("format")), stored.get("kept"))
                    if isinstance(stored, dict)
                    else None
                )
                if labelled is None or labelled[0] == meta.summary:
                    continue
                summary, claims = labelled
                renamed = dataclasses.replace(meta, summary=summary)
                await txn.replace(META_CATEGORY, meta.id, renamed.to_json(), meta_record.tags)
                words = word_tags(words_of(claims, summary, *meta.types), secret)
                await txn.replace(WORDS_CATEGORY, meta.id, b"", words)
                changed += 1
            version = {"version": LABELS_VERSION}
            if recorded is None:
                await txn.insert(*_LABELS, version)
            else:
                await txn.replace(*_LABELS, version)
            if changed:
                await mark_changed(txn)  # a search index open elsewhere is rebuilt
            await txn.commit()
        if changed:  # an index loaded here is rebuilt too: mark_changed moved the generation
            log.info("relabelled %d stored credential(s)", changed)
        return changed

    async def load_search_index(self) -> None:
        """Read every credential's search tags and metadata into memory (:mod:`wallet.index`):
        from now on :meth:`search` answers from it, after checking that no other writer
        changed the store. Seconds at 10,000 credentials; worth it in a long-lived process."""
        async with self._index_lock:
            self._index = await self._build_index()

    async def _fresh_index(self) -> SearchIndex[StoredCredential]:
        async with self._index_lock:
            index = self._index
            assert index is not None
            async with self._store.session(self._profile) as session:
                generation = await current_generation(session)
            if index.generation != generation:
                index = self._index = await self._build_index()
            return index

    async def _build_index(self) -> SearchIndex[StoredCredential]:
        async with self._store.session(self._profile) as session:
            # The token first: a write between it and the reads makes the index newer than
            # its token says, and it is rebuilt once more; never older.
            generation = await current_generation(session)
            metas = await session.fetch_all(META_CATEGORY, order_by="id")
            words = {r.name: r.tags for r in await session.fetch_all(WORDS_CATEGORY)}
        return SearchIndex(
            (
                _index_entry(
                    r.name,
                    StoredCredential.from_json(r.json()),
                    single_valued(r.tags),
                    single_valued(words.get(r.name, {})),
                )
                for r in metas
            ),
            generation=generation,
        )


#: An index generation no store has (tokens are hex): the index is rebuilt at the next search.
_STALE: Final = "stale"


def _labels_version(record: Record) -> int:
    value = record.json()
    version = value.get("version") if isinstance(value, dict) else None
    return version if isinstance(version, int) else 0


def _index_entry(
    identifier: str, meta: StoredCredential, tags: Mapping[str, str], words: Mapping[str, str]
) -> IndexEntry[StoredCredential]:
    return IndexEntry(
        id=identifier,
        value=meta,
        keys=tag_keys(tags) | tag_keys(words),
        issued_day=tags.get("~issued"),
    )


def _not_found(credential_id: str) -> CredentialNotFoundError:
    return CredentialNotFoundError(
        "no credential with this id in this wallet (profile)", details={"id": credential_id}
    )


def _unwrap(value: dict[str, Any]) -> dict[str, Any] | str:
    """A VC-API response ``{"verifiableCredential": ...}`` (what ``POST /credentials/issue``
    answers, and what ``mydata verify`` accepts) stands for the credential in it, which is
    what the wallet keeps. Not to be confused with a SMART Health Card file, whose
    ``verifiableCredential`` is a list of JWS: that stays as it is."""
    if "@context" in value or set(value) != {"verifiableCredential"}:
        return value
    inner = value["verifiableCredential"]
    if isinstance(inner, dict):
        return inner
    if isinstance(inner, str) and inner.strip():
        return inner.strip()
    # A list is a SMART Health Card file ({"verifiableCredential": ["<JWS>", ...]}).
    return value


def _normalise_input(item: Importable) -> dict[str, Any] | list[str] | str:
    if isinstance(item, bytes):
        try:
            item = item.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialImportError("the credential file is not UTF-8 text") from None
    if isinstance(item, Mapping):
        return _unwrap(dict(item))
    if isinstance(item, str):
        text = item.strip()
        if text.startswith("{"):
            try:
                return _unwrap(parse_json_object(text))
            except InvalidInputError as exc:
                raise CredentialImportError(
                    f"the credential is not valid JSON ({exc.message})"
                ) from None
        if not text:
            raise CredentialImportError("the credential is empty")
        return text
    if isinstance(item, Sequence) and all(isinstance(x, str) for x in item):
        return [str(x) for x in item]
    raise CredentialImportError(
        "a credential is a JSON object, a string (SD-JWT, JWS, shc:/ text) or a list of shc:/ "
        "chunks"
    )


async def open_wallet(
    uri: str,
    *,
    passphrase: str | None = None,
    raw_key: str | None = None,
    profile: str | None = None,
    create: bool = True,
    resolver: KeyResolver | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock = utcnow,
    sd_jwt_issuer_key: IssuerKeyCallback | None = None,
    search_index: bool = False,
) -> Wallet:
    """Open (or create) the wallet store at ``uri`` with a passphrase (Argon2) or a raw device
    key, on ``profile`` (created when missing). Close it with :meth:`Wallet.close`.

    ``search_index``: load the in-memory search index at once
    (:meth:`Wallet.load_search_index`), for a long-lived process.

    :raises agent.errors.StorageError: ``storeWrongKey`` for a wrong secret, and as
        :func:`agent.storage.open_store`.
    """
    store = await open_store(
        uri, passphrase=passphrase, raw_key=raw_key, profile=profile, create=create
    )
    return await wallet_on(
        store,
        profile=profile,
        resolver=resolver,
        http_client=http_client,
        clock=clock,
        sd_jwt_issuer_key=sd_jwt_issuer_key,
        search_index=search_index,
    )


async def wallet_on(
    store: Store,
    *,
    profile: str | None = None,
    resolver: KeyResolver | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock = utcnow,
    sd_jwt_issuer_key: IssuerKeyCallback | None = None,
    search_index: bool = False,
) -> Wallet:
    """The wallet on a store opened already (as :func:`open_wallet` opens it), which it then
    owns: :meth:`Wallet.close` closes it, and so does a failure here.

    :raises agent.errors.StorageError: loading the search index failed.
    """
    wallet = Wallet(
        store,
        profile=profile,
        resolver=resolver,
        http_client=http_client,
        clock=clock,
        sd_jwt_issuer_key=sd_jwt_issuer_key,
        close_store=True,
    )
    try:
        await wallet.relabel()
    except StorageError as exc:
        # Another process opening the wallet at the same moment, say: the labels stay as
        # they are until the next open, which tries again; never a reason not to open.
        log.warning("stored labels not remade this time (%s); the next open tries again", exc.code)
    except BaseException:
        await wallet.close()
        raise
    if search_index:
        try:
            await wallet.load_search_index()
        except BaseException:
            await wallet.close()
            raise
    return wallet
