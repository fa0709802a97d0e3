"""SD-JWT (RFC 9901) and SD-JWT VC: issue, present with Key Binding, verify.

The three roles are three plain functions, in the order of the spec's flow (section 2):

* :func:`issue_sd_jwt` (Issuer, section 4): hides the claims named by *claim paths* behind
  salted digests and signs the Issuer-signed JWT; returns ``<JWT>~<D1>~...~<Dn>~``.
* :func:`parse_sd_jwt` and :func:`present` (Holder, section 7.2): parse an SD-JWT strictly,
  then keep only the Disclosures of the claims chosen (and those of their parents) and append a
  Key Binding JWT (section 4.3) signed with EdDSA or ES256.
* :func:`verify_sd_jwt` (Verifier, sections 7.1 and 7.3): checks the header, the issuer's
  signature, every Disclosure against the digests, the validity claims and the Key Binding JWT,
  and returns the Processed SD-JWT Payload as :class:`VerifiedSdJwt`.

**Claim paths** name claims the way SD-JWT VC's claims path pointer does
(draft-ietf-oauth-sd-jwt-vc, section "Claims Path Pointer"): a tuple of object member names
(``str``), array indexes (``int``) and ``None`` for "every element of this array", e.g.
``("address", "street_address")`` or ``("nationalities", None)``; here ``None`` also means
"every member" of an object. A JSON Pointer string (RFC 6901, ``"/address/street_address"``)
is accepted too. For the Issuer a path is selectively disclosable; naming a path and one
inside it gives a recursive disclosure (section 4.2.6). For the Holder a path selects that
claim with all it contains; the Disclosures of the objects around it are added, since a
Disclosure the Verifier cannot place is refused.

**Errors** all carry a code and ``details['part']`` (``issuerJwt``, ``disclosure``,
``keyBindingJwt``) and, where useful, ``details['reason']``. Messages name claim *paths* at most,
never a claim value: SD-JWT carries health data.

=====================================  ===================================================
code                                   cause
=====================================  ===================================================
``MALFORMED_PROOF_ERROR``              not an SD-JWT: bad base64url or JSON, wrong ``typ``,
                                       a misplaced ``_sd``/``...``, a digest used twice,
                                       a disclosed claim name that exists already
``unsupportedCryptosuite``             ``alg`` not allowed (``none`` never is) or an
                                       ``_sd_alg`` that is not supported
``PROOF_VERIFICATION_ERROR``           a signature does not verify, or the key does not
                                       belong to the issuer (``SignatureError`` for the former)
``sdJwtDisclosureMismatch``            a Disclosure no digest refers to (tampered, taken
                                       from another SD-JWT, injected) or sent twice
``sdJwtKeyBindingMissing``             Key Binding is required but there is no KB-JWT,
                                       or the SD-JWT has no ``cnf`` holder key
``sdJwtKeyBindingMismatch``            the KB-JWT's ``sd_hash`` covers other Disclosures
``INVALID_DOMAIN_ERROR``               KB-JWT ``aud`` is not this verifier
``INVALID_CHALLENGE_ERROR``            KB-JWT ``nonce`` is not the one asked for
``INVALID_PROOF_DATETIME``             KB-JWT ``iat`` is too old or in the future
``RANGE_ERROR``                        the SD-JWT is expired (``exp``), not yet valid
                                       (``nbf``) or issued in the future (``iat``); as for
                                       a VC's validity period, ``details['reason']`` says which;
                                       or the KB-JWT's own ``exp`` has passed (or its ``nbf``
                                       has not come)
=====================================  ===================================================
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple, NoReturn, TypeAlias, cast

from agent.clock import DEFAULT_MAX_CLOCK_SKEW
from agent.credentials.jose import (
    ALGORITHM_KEY_TYPES,
    JwsKey,
    b64url_encode,
    b64url_json,
    decode_jws,
    key_from_jwk,
    key_from_resolved,
    sign_jws,
)
from agent.errors import (
    CredentialError,
    CryptosuiteError,
    ErrorCode,
    InvalidInputError,
    ProofError,
)
from agent.jsonio import DEFAULT_MAX_BYTES
from agent.keys.signer import KeyResolver, ResolvedKey, Signer

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_MAX_KB_AGE",
    "KB_JWT_TYPE",
    "SD_JWT_VC_TYPES",
    "ClaimPath",
    "Disclosure",
    "IssuerKey",
    "IssuerKeyCallback",
    "KeyBinding",
    "PathSpec",
    "SdJwt",
    "VerifiedSdJwt",
    "check_key_binding",
    "issue_sd_jwt",
    "parse_sd_jwt",
    "present",
    "verify_sd_jwt",
]

#: A claim path: member names, array indexes, and ``None`` for every element or member.
ClaimPath: TypeAlias = tuple[str | int | None, ...]
#: A claim path, or the same as a JSON Pointer string (RFC 6901).
PathSpec: TypeAlias = ClaimPath | str
#: The issuer's public key as a callback returns it: a public JWK, or a key from a DID document.
IssuerKey: TypeAlias = Mapping[str, Any] | ResolvedKey
#: ``await callback(iss, header)``: the issuer's key, chosen by the application's trust rules.
IssuerKeyCallback: TypeAlias = Callable[[str | None, Mapping[str, Any]], Awaitable[IssuerKey]]

#: ``typ`` values of SD-JWT VC: ``dc+sd-jwt`` (current) and ``vc+sd-jwt`` (drafts before -06).
SD_JWT_VC_TYPES: Final = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
#: ``typ`` of a Key Binding JWT (section 4.3).
KB_JWT_TYPE: Final = "kb+jwt"
#: JWS algorithms accepted by default; ``none`` can never be accepted (section 4.1).
DEFAULT_ALGORITHMS: Final = frozenset(ALGORITHM_KEY_TYPES)
#: How old a Key Binding JWT may be by default (section 7.3, step 5.5).
DEFAULT_MAX_KB_AGE: Final = timedelta(minutes=5)
_NO_TIME: Final = timedelta(0)

_SD: Final = "_sd"
_ELLIPSIS: Final = "..."
_SD_ALG: Final = "_sd_alg"
_DEFAULT_SD_ALG: Final = "sha-256"
_MIN_SALT_BYTES: Final = 16  # 128 bits, section 9.3.
# Claims set by keyword arguments of issue_sd_jwt, so never taken from ``claims``.
_KEYWORD_CLAIMS: Final = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", _SD_ALG})
# SD-JWT VC: these claims MUST NOT be selectively disclosable.
_VC_NEVER_DISCLOSABLE: Final = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"}
)
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


# Hash Name Strings of the IANA "Named Information Hash Algorithm" registry (section 4.1.1).
_HASHES: Final[Mapping[str, Callable[[bytes], bytes]]] = {
    "sha-256": _sha256,
    "sha-384": _sha384,
    "sha-512": _sha512,
}


def _random_salt() -> bytes:
    return secrets.token_bytes(_MIN_SALT_BYTES)


# --- results ---------------------------------------------------------------------------------


class Disclosure(NamedTuple):
    """One Disclosure (section 4.2), decoded.

    Immutable, as the other results; a named tuple because a parse builds one per Disclosure and
    a tuple costs less than half of a frozen dataclass to build.

    :param encoded: the base64url string as it travels; its digest is taken over these bytes.
    :param digest: base64url of the hash of ``encoded`` (section 4.2.3).
    :param salt: the salt.
    :param name: the claim name, or ``None`` for an array element (section 4.2.2).
    :param value: the claim value or array element, as disclosed (digests not yet replaced).
    """

    encoded: str
    digest: str
    salt: str
    name: str | None
    value: Any


@dataclass(frozen=True, slots=True)
class SdJwt:
    """An SD-JWT or SD-JWT+KB, parsed strictly but **not** signature-checked.

    :param issuer_jwt: the compact Issuer-signed JWT.
    :param header: its JOSE header.
    :param payload: its payload as signed, digests in place.
    :param disclosures: the Disclosures in the order they came.
    :param key_binding_jwt: the KB-JWT, or ``None`` for a plain SD-JWT.
    :param sd_alg: the hash algorithm of the digests (``_sd_alg``, default ``sha-256``).
    :param claims: the payload with every Disclosure given applied: what the Holder sees. A
        disclosed object or array that holds no digests is the same object as its
        :attr:`Disclosure.value` (not copied).
    :param paths: where each Disclosure sits in ``claims``, by digest.
    :param signing_input: the Issuer-signed JWT's JWS signing input, and ``signature`` its
        decoded signature: what a verifier checks, so that it need not decode the JWS again.
    """

    issuer_jwt: str
    header: dict[str, Any]
    payload: dict[str, Any]
    disclosures: tuple[Disclosure, ...]
    key_binding_jwt: str | None
    sd_alg: str
    claims: dict[str, Any]
    paths: dict[str, tuple[str | int, ...]]
    signing_input: bytes = b""
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class KeyBinding:
    """The checked claims of a Key Binding JWT."""

    aud: str
    nonce: str
    iat: int
    algorithm: str


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """The result of :func:`verify_sd_jwt`.

    :param payload: the Processed SD-JWT Payload (section 7.1): disclosed claims in place,
        ``_sd``, ``_sd_alg`` and undisclosed array elements removed.
    :param disclosed_paths: the path in ``payload`` of each claim a Disclosure revealed, sorted
        (array indexes count the elements of the processed array).
    :param issuer: the ``iss`` claim, if any.
    :param holder_jwk: the holder key of ``cnf.jwk``, if any.
    :param header: the Issuer-signed JWT's header.
    :param key_binding: the checked KB-JWT claims, or ``None`` when there was no KB-JWT.
    """

    payload: dict[str, Any]
    disclosed_paths: tuple[tuple[str | int, ...], ...]
    issuer: str | None
    holder_jwk: dict[str, Any] | None
    header: dict[str, Any]
    key_binding: KeyBinding | None


# --- errors ----------------------------------------------------------------------------------


def _malformed(message: str, part: str, reason: str, **details: Any) -> NoReturn:
    raise CryptosuiteError(
        message,
        code=ErrorCode.MALFORMED_PROOF_ERROR,
        details={"part": part, "reason": reason, **details},
    )


def _pointer(path: Iterable[str | int | None]) -> str:
    """A path as a JSON Pointer for messages; ``None`` shows as ``*``, long names are cut."""
    segments = (
        "*" if segment is None else str(segment)[:64].replace("~", "~0").replace("/", "~1")
        for segment in path
    )
    return "/" + "/".join(segments)


# --- claim paths -----------------------------------------------------------------------------


def _pointer_tokens(pointer: str) -> list[str]:
    if pointer == "" or not pointer.startswith("/"):
        raise InvalidInputError(
            f"claim path {pointer[:80]!r} is not a JSON Pointer to a claim (RFC 6901): it must "
            "start with '/', e.g. '/address/street_address'",
            details={"path": pointer[:80]},
        )
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _resolve_paths(spec: PathSpec, document: Any) -> list[tuple[str | int, ...]]:
    """The concrete paths ``spec`` names in ``document``; wildcards expand to every element.

    :raises InvalidInputError: the path is malformed or names a claim that is not there.
    """
    from_pointer = isinstance(spec, str)
    if isinstance(spec, str):
        segments: Iterable[str | int | None] = _pointer_tokens(spec)
    elif isinstance(spec, tuple) and spec:
        segments = spec
    else:
        raise InvalidInputError(
            "a claim path is a non-empty tuple of names, indexes and None, or a JSON Pointer",
            details={"type": type(spec).__name__},
        )
    found: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    for segment in segments:
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for prefix, node in found:
            if isinstance(node, list):
                if segment is None:
                    following.extend(((*prefix, i), item) for i, item in enumerate(node))
                    continue
                if from_pointer and isinstance(segment, str) and _ARRAY_INDEX.fullmatch(segment):
                    segment = int(segment)
                if (
                    isinstance(segment, int)
                    and not isinstance(segment, bool)
                    and 0 <= segment < len(node)
                ):
                    following.append(((*prefix, segment), node[segment]))
                    continue
            elif isinstance(node, dict):
                if segment is None:
                    following.extend(((*prefix, name), item) for name, item in node.items())
                    continue
                if isinstance(segment, str) and segment in node:
                    following.append(((*prefix, segment), node[segment]))
                    continue
            raise InvalidInputError(
                f"claim path {_pointer(spec if isinstance(spec, tuple) else segments)} names "
                f"no claim: nothing at {_pointer((*prefix, segment))}",
                details={"path": _pointer((*prefix, segment))},
            )
        found = following
    return [path for path, _ in found]


# --- issuer ----------------------------------------------------------------------------------


class _Issuance:
    __slots__ = ("decoys", "disclosures", "hash", "salt")

    def __init__(self, salt: Callable[[], bytes], hash_fn: Callable[[bytes], bytes], decoys: int):
        self.salt = salt
        self.hash = hash_fn
        self.decoys = decoys
        self.disclosures: list[str] = []

    def new_salt(self) -> str:
        value = self.salt()
        if not isinstance(value, bytes) or len(value) < _MIN_SALT_BYTES:
            raise InvalidInputError(
                f"the salt generator must return at least {_MIN_SALT_BYTES} random bytes "
                "(128 bits, RFC 9901 section 9.3)"
            )
        return b64url_encode(value)

    def digest(self, encoded: str) -> str:
        return b64url_encode(self.hash(encoded.encode("ascii")))

    def disclose(self, content: list[Any], path: tuple[str | int, ...]) -> str:
        # The spec's examples use Python's default separators; matching them lets the tests
        # reproduce the examples' Disclosures byte for byte.
        try:
            text = json.dumps(content, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"the claim at {_pointer(path)} is not JSON (only str, int, float, bool, None, "
                "list and dict with str keys are)",
                details={"path": _pointer(path)},
            ) from exc
        encoded = b64url_encode(text.encode("ascii"))
        self.disclosures.append(encoded)
        return self.digest(encoded)

    def decoy(self) -> str:
        return self.digest(self.new_salt())

    def build(
        self, value: Any, path: tuple[str | int, ...], hidden: set[tuple[str | int, ...]]
    ) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            digests: list[str] = []
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(
                        f"claim names must be strings, got a {type(key).__name__} in "
                        f"{_pointer(path)}",
                        details={"path": _pointer(path)},
                    )
                if key in (_SD, _ELLIPSIS):
                    raise InvalidInputError(
                        f"{key!r} is reserved by SD-JWT and cannot be a claim name "
                        f"(found at {_pointer((*path, key))})",
                        details={"path": _pointer((*path, key))},
                    )
                child = (*path, key)
                built = self.build(item, child, hidden)
                if child in hidden:
                    digests.append(self.disclose([self.new_salt(), key, built], child))
                else:
                    out[key] = built
            if digests:
                digests.extend(self.decoy() for _ in range(self.decoys))
                # Sorted, so that the order does not reveal the claims' order (section 4.2.4.1).
                out[_SD] = sorted(digests)
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for index, item in enumerate(value):
                child = (*path, index)
                built = self.build(item, child, hidden)
                if child in hidden:
                    items.append({_ELLIPSIS: self.disclose([self.new_salt(), built], child)})
                else:
                    items.append(built)
            return items
        return value


def _numeric_date(value: datetime, name: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime")
    return int(value.timestamp())


def _hash_function(name: object, part: str) -> Callable[[bytes], bytes]:
    hash_fn = _HASHES.get(name) if isinstance(name, str) else None
    if hash_fn is None:
        raise CryptosuiteError(
            f"_sd_alg {str(name)[:32]!r} is not supported; supported: {', '.join(_HASHES)}",
            code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            details={"part": part, "reason": "unsupportedSdAlg"},
        )
    return hash_fn


def issue_sd_jwt(
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    iss: str,
    iat: datetime,
    disclosable: Iterable[PathSpec] = (),
    holder_jwk: Mapping[str, Any] | None = None,
    vct: str | None = None,
    exp: datetime | None = None,
    nbf: datetime | None = None,
    typ: str = "dc+sd-jwt",
    kid: str | None = None,
    decoys: int = 0,
    salt: Callable[[], bytes] = _random_salt,
    sd_alg: str = _DEFAULT_SD_ALG,
) -> str:
    """Issue an SD-JWT (section 4): ``<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~``.

    :param claims: the claims; ``iss``, ``iat``, ``nbf``, ``exp``, ``vct``, ``cnf`` and
        ``_sd_alg`` come from the keyword arguments, not from here.
    :param signer: signs the JWT; its ``algorithm`` (EdDSA or ES256) becomes ``alg``.
    :param disclosable: claim paths to make selectively disclosable; a path inside another
        gives a recursive disclosure (section 4.2.6).
    :param holder_jwk: the holder's public JWK (Ed25519 or P-256) for ``cnf`` (section 4.1.2),
        which Key Binding needs.
    :param vct: the SD-JWT VC type; required when ``typ`` is an SD-JWT VC type.
    :param typ: the ``typ`` header (section 9.11).
    :param kid: the ``kid`` header; defaults to ``signer.verification_method``.
    :param decoys: decoy digests added to each ``_sd`` array (section 4.2.5).
    :param salt: returns random salt bytes (at least 16); injected so tests are repeatable.
    :param sd_alg: the digest hash (``sha-256``, ``sha-384`` or ``sha-512``).
    :raises InvalidInputError: a path names no claim, a reserved claim name is used, a claim is
        not JSON, a claim SD-JWT VC forbids hiding is in ``disclosable``, or ``vct`` is missing.
    :raises CryptosuiteError: ``unsupportedCryptosuite`` for another algorithm or ``sd_alg``;
        ``MALFORMED_PROOF_ERROR`` or ``unsupportedCryptosuite`` for an unusable ``holder_jwk``.
    """
    if not isinstance(claims, Mapping):
        raise InvalidInputError("claims must be a JSON object")
    claims = dict(claims)
    reserved = sorted(_KEYWORD_CLAIMS.intersection(claims))
    if reserved:
        raise InvalidInputError(
            f"claims {', '.join(reserved)} are set by keyword arguments of issue_sd_jwt "
            "(iss=, iat=, nbf=, exp=, vct=, holder_jwk=, sd_alg=); remove them from claims",
            details={"claims": reserved},
        )
    if decoys < 0:
        raise InvalidInputError(f"decoys must be 0 or more, got {decoys}")
    is_vc = _media_type(typ) in SD_JWT_VC_TYPES
    if is_vc and not vct:
        raise InvalidInputError(f"an SD-JWT VC (typ {typ!r}) needs a vct (credential type)")
    hidden: set[tuple[str | int, ...]] = set()
    for spec in disclosable:
        hidden.update(_resolve_paths(spec, claims))
    if is_vc:
        forbidden = sorted(
            str(path[0]) for path in hidden if len(path) == 1 and path[0] in _VC_NEVER_DISCLOSABLE
        )
        if forbidden:
            raise InvalidInputError(
                f"SD-JWT VC forbids making {', '.join(forbidden)} selectively disclosable",
                details={"claims": forbidden},
            )
    issuance = _Issuance(salt, _hash_function(sd_alg, "issuerJwt"), decoys)
    payload: dict[str, Any] = {"iss": iss, "iat": _numeric_date(iat, "iat")}
    if nbf is not None:
        payload["nbf"] = _numeric_date(nbf, "nbf")
    if exp is not None:
        payload["exp"] = _numeric_date(exp, "exp")
    if vct is not None:
        payload["vct"] = vct
    if holder_jwk is not None:
        key_from_jwk(holder_jwk, "cnf")  # Refuse a key no KB-JWT could be checked with.
        payload["cnf"] = {"jwk": dict(holder_jwk)}
    payload.update(issuance.build(claims, (), hidden))
    payload[_SD_ALG] = sd_alg
    header = {
        "alg": signer.algorithm,
        "typ": typ,
        "kid": signer.verification_method if kid is None else kid,
    }
    jwt = sign_jws(header, payload, signer)
    return "~".join((jwt, *issuance.disclosures, ""))


# --- parsing and processing (sections 4 and 7.1) ---------------------------------------------


def _split(text: object, max_bytes: int) -> tuple[str, list[str], str | None]:
    """Issuer-signed JWT, Disclosures and the KB-JWT (``None`` when the last part is empty)."""
    if not isinstance(text, str):
        raise InvalidInputError(
            f"an SD-JWT is a string, got {type(text).__name__}", code=ErrorCode.PARSING_ERROR
        )
    if len(text) > max_bytes:
        raise InvalidInputError(
            f"the SD-JWT is {len(text)} characters, over the limit of {max_bytes}",
            code=ErrorCode.INPUT_TOO_LARGE,
        )
    parts = text.split("~")
    if len(parts) < 2 or not parts[0]:
        _malformed(
            "not an SD-JWT: expected '<Issuer-signed JWT>~<Disclosures>~' with a final '~' or "
            "a Key Binding JWT after it (RFC 9901, section 4)",
            "issuerJwt",
            "notSdJwt",
        )
    kb = parts[-1]
    return parts[0], parts[1:-1], (kb or None)


# A decoded Disclosure on the hot path: (claim name or None, value, salt, encoded, plain). Plain
# tuples cost a fraction of a frozen dataclass; parse_sd_jwt builds Disclosure objects from them.
# ``plain`` is true when the Disclosure's JSON holds no ``_sd``, no ``...`` and no backslash:
# then no string in its value can be ``_sd`` or ``...`` (a JSON string can only spell them
# literally or with an escape), so the value holds no digests and needs no processing.
_Decoded: TypeAlias = tuple[str | None, Any, str, str, bool]
_CONTAINERS: Final = (dict, list)


def _decode_disclosures(
    encoded: list[str], hash_fn: Callable[[bytes], bytes]
) -> dict[str, _Decoded]:
    by_digest: dict[str, _Decoded] = {}
    for index, text in enumerate(encoded):
        if not text:
            _malformed(
                f"Disclosure {index} is empty ('~~' in the SD-JWT)",
                "disclosure",
                "empty",
                index=index,
            )
        content, json_text = b64url_json(text, "disclosure")
        if (
            type(content) is not list
            or len(content) not in (2, 3)
            or type(content[0]) is not str
            or (len(content) == 3 and type(content[1]) is not str)
        ):
            _malformed(
                f"Disclosure {index} is not [salt, name, value] or [salt, value] "
                "(RFC 9901, section 4.2)",
                "disclosure",
                "notDisclosure",
                index=index,
            )
        name: str | None = content[1] if len(content) == 3 else None
        if name in (_SD, _ELLIPSIS):
            _malformed(
                f"Disclosure {index} uses the reserved claim name {name!r} (section 7.1)",
                "disclosure",
                "reservedClaimName",
                index=index,
            )
        # b64url_json accepted it, so it is ASCII.
        digest = b64url_encode(hash_fn(text.encode("ascii")))
        if digest in by_digest:
            raise ProofError(
                f"Disclosure {index} is sent twice; a Holder must send each Disclosure once "
                "(section 4)",
                code=ErrorCode.SD_JWT_DISCLOSURE_MISMATCH,
                details={"part": "disclosure", "reason": "duplicate", "index": index},
            )
        value = content[-1]
        plain = type(value) not in _CONTAINERS or (
            "_sd" not in json_text and "..." not in json_text and "\\" not in json_text
        )
        by_digest[digest] = (name, value, content[0], text, plain)
    return by_digest


class _Processor:
    """Replaces digests by disclosed claims (section 7.1, step 3), recording where each went."""

    __slots__ = ("by_digest", "paths", "seen")

    def __init__(self, by_digest: dict[str, _Decoded]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.paths: dict[str, tuple[str | int, ...]] = {}

    @staticmethod
    def _repeated(path: tuple[str | int, ...]) -> NoReturn:
        _malformed(
            f"a digest appears more than once in the SD-JWT (at {_pointer(path)}); an Issuer "
            "must not repeat digests (section 7.1, step 4)",
            "issuerJwt",
            "duplicateDigest",
            path=_pointer(path),
        )

    def disclosed(self, disclosure: _Decoded, path: tuple[str | int, ...]) -> Any:
        """A disclosed value, processed unless it cannot hold digests (``plain``)."""
        value = disclosure[1]
        if disclosure[4]:
            return value
        kind = type(value)
        if kind is dict:
            return self.object(value, path)
        if kind is list:
            return self.array(value, path)
        return value

    def _check_digests(self, digests: Any, path: tuple[str | int, ...]) -> None:
        """``_sd`` is an array of strings, none seen before in this SD-JWT (section 7.1)."""
        if type(digests) is not list:
            _malformed(
                f"_sd at {_pointer(path)} is not an array of digests",
                "issuerJwt",
                "invalidSd",
                path=_pointer(path),
            )
        seen = self.seen
        before = len(seen)
        # One C-level pass for the usual case; the loop below finds and names a problem.
        if set(map(type, digests)) <= {str}:
            seen.update(digests)
            if len(seen) != before + len(digests):
                self._repeated(path)  # Twice in this _sd, or seen elsewhere already.
            return
        for digest in digests:
            if type(digest) is not str:
                _malformed(
                    f"_sd at {_pointer(path)} holds a non-string digest",
                    "issuerJwt",
                    "invalidSd",
                    path=_pointer(path),
                )
            if digest in seen:
                self._repeated(path)
            seen.add(digest)

    def object(self, obj: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        digests: Any = None
        for key, item in obj.items():
            if key == _SD:
                digests = item
            elif key == _ELLIPSIS:
                _malformed(
                    f"'...' is only allowed alone in an object in an array (at {_pointer(path)})",
                    "issuerJwt",
                    "misplacedEllipsis",
                    path=_pointer(path),
                )
            else:
                kind = type(item)
                if kind is dict:
                    out[key] = self.object(item, (*path, key))
                elif kind is list:
                    out[key] = self.array(item, (*path, key))
                else:
                    out[key] = item
        if digests is None:
            return out
        self._check_digests(digests, path)
        by_digest = self.by_digest
        # The others are undisclosed or decoys; filter skips them without a Python step each.
        for digest in filter(by_digest.__contains__, digests):
            disclosure = by_digest[digest]
            name = disclosure[0]
            if name is None:
                _malformed(
                    f"an array-element Disclosure is referenced from _sd at {_pointer(path)}",
                    "disclosure",
                    "wrongDisclosureKind",
                    path=_pointer(path),
                )
            child = (*path, name)
            if name in out:
                _malformed(
                    f"a Disclosure sets {_pointer(child)}, which exists already (section 7.1)",
                    "disclosure",
                    "claimNameClash",
                    path=_pointer(child),
                )
            self.paths[digest] = child
            out[name] = self.disclosed(disclosure, child)
        return out

    def array(self, items: list[Any], path: tuple[str | int, ...]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            kind = type(item)
            if kind is dict and _ELLIPSIS in item:
                digest = item[_ELLIPSIS]
                if len(item) != 1 or type(digest) is not str:
                    _malformed(
                        f"an array element at {_pointer(path)} uses '...' but is not "
                        '{"...": "<digest>"}',
                        "issuerJwt",
                        "invalidArrayDigest",
                        path=_pointer(path),
                    )
                if digest in self.seen:
                    self._repeated(path)
                self.seen.add(digest)
                disclosure = self.by_digest.get(digest)
                if disclosure is None:
                    continue  # Section 7.1, step 3.4: drop undisclosed elements.
                if disclosure[0] is not None:
                    _malformed(
                        f"an object-property Disclosure is referenced from {_pointer(path)}",
                        "disclosure",
                        "wrongDisclosureKind",
                        path=_pointer(path),
                    )
                child = (*path, len(out))
                self.paths[digest] = child
                out.append(self.disclosed(disclosure, child))
            elif kind is dict:
                out.append(self.object(item, (*path, len(out))))
            elif kind is list:
                out.append(self.array(item, (*path, len(out))))
            else:
                out.append(item)
        return out


def _process(
    payload: dict[str, Any], by_digest: dict[str, _Decoded]
) -> tuple[dict[str, Any], dict[str, tuple[str | int, ...]]]:
    """The Processed SD-JWT Payload and the path of each used Disclosure (section 7.1, 3-5).

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a broken structure.
    :raises ProofError: ``sdJwtDisclosureMismatch`` for a Disclosure no digest refers to.
    """
    processor = _Processor(by_digest)
    try:
        processed = processor.object(payload, ())
    except RecursionError as exc:
        raise CryptosuiteError(
            "the SD-JWT nests too deeply to process",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": "issuerJwt", "reason": "tooDeep"},
        ) from exc
    processed.pop(_SD_ALG, None)
    if len(processor.paths) != len(by_digest):
        index = next(i for i, digest in enumerate(by_digest) if digest not in processor.paths)
        raise ProofError(
            f"Disclosure {index} is not referenced by any digest of this SD-JWT: it was changed, "
            "taken from another SD-JWT, or added (section 7.1, step 5)",
            code=ErrorCode.SD_JWT_DISCLOSURE_MISMATCH,
            details={"part": "disclosure", "reason": "unreferenced", "index": index},
        )
    return processed, processor.paths


def parse_sd_jwt(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SdJwt:
    """Parse an SD-JWT or SD-JWT+KB strictly, **without** checking any signature.

    Every Disclosure is decoded and hashed and the digests are processed as in section 7.1:
    a Disclosure that no digest refers to, a Disclosure sent twice, a digest used twice, a
    disclosed claim that exists already and the reserved names ``_sd`` and ``...`` are refused.
    Verify with :func:`verify_sd_jwt` before trusting anything in the result.

    :raises InvalidInputError: not a string, or over ``max_bytes``.
    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` or ``unsupportedCryptosuite``
        (``_sd_alg``).
    :raises ProofError: ``sdJwtDisclosureMismatch``.
    """
    issuer_jwt, encoded, kb = _split(text, max_bytes)
    header, payload, signing_input, signature = decode_jws(issuer_jwt, "issuerJwt")
    sd_alg = payload.get(_SD_ALG, _DEFAULT_SD_ALG)
    by_digest = _decode_disclosures(encoded, _hash_function(sd_alg, "issuerJwt"))
    claims, paths = _process(payload, by_digest)
    return SdJwt(
        issuer_jwt=issuer_jwt,
        header=header,
        payload=payload,
        disclosures=tuple(
            [
                Disclosure(encoded, digest, salt, name, value)
                for digest, (name, value, salt, encoded, _) in by_digest.items()
            ]
        ),
        key_binding_jwt=kb,
        sd_alg=sd_alg,
        claims=claims,
        paths=paths,
        signing_input=signing_input,
        signature=signature,
    )


# --- holder (section 7.2) --------------------------------------------------------------------


def present(
    sd_jwt: str | SdJwt,
    *,
    disclose: Iterable[PathSpec],
    holder_signer: Signer | None = None,
    nonce: str | None = None,
    aud: str | None = None,
    iat: datetime | None = None,
) -> str:
    """A presentation revealing the claims at ``disclose`` and nothing else (section 7.2).

    Each path selects that claim with everything in it. The Disclosures of the objects and
    arrays around a selected claim are added too (section 4.2.6: every Disclosure must connect
    to the Issuer-signed JWT). With ``holder_signer`` a Key Binding JWT (section 4.3) over the
    presentation is appended, signed with EdDSA or ES256.

    :param disclose: claim paths into :attr:`SdJwt.claims` (array indexes count what the
        holder sees).
    :param holder_signer: the key of the SD-JWT's ``cnf``; omit for a presentation without
        Key Binding.
    :param nonce: the verifier's nonce; with ``aud`` and ``iat`` required for Key Binding.
    :raises InvalidInputError: the input is an SD-JWT+KB (section 7.2), a path names no claim,
        or Key Binding arguments are missing or given without a signer.
    """
    parsed = sd_jwt if isinstance(sd_jwt, SdJwt) else parse_sd_jwt(sd_jwt)
    if parsed.key_binding_jwt is not None:
        raise InvalidInputError(
            "this is an SD-JWT+KB, a presentation; present from the SD-JWT the Issuer issued "
            "(RFC 9901, section 7.2)"
        )
    wanted: list[tuple[str | int, ...]] = []
    for spec in disclose:
        wanted.extend(_resolve_paths(spec, parsed.claims))
    selected = []
    for disclosure in parsed.disclosures:
        where = parsed.paths[disclosure.digest]
        for path in wanted:
            # The claim itself, one inside it, or one around it.
            if where[: len(path)] == path or path[: len(where)] == where:
                selected.append(disclosure.encoded)
                break
    text = "~".join((parsed.issuer_jwt, *selected, ""))
    if holder_signer is None:
        if nonce is not None or aud is not None or iat is not None:
            raise InvalidInputError(
                "nonce, aud and iat are for the Key Binding JWT: pass holder_signer too"
            )
        return text
    if not isinstance(nonce, str) or not isinstance(aud, str) or iat is None:
        raise InvalidInputError(
            "a Key Binding JWT needs nonce (str), aud (str) and iat (datetime) (section 4.3)"
        )
    sd_hash = b64url_encode(_hash_function(parsed.sd_alg, "issuerJwt")(text.encode("ascii")))
    kb_payload = {"iat": _numeric_date(iat, "iat"), "aud": aud, "nonce": nonce, "sd_hash": sd_hash}
    header = {"alg": holder_signer.algorithm, "typ": KB_JWT_TYPE}
    return text + sign_jws(header, kb_payload, holder_signer)


# --- verifier (sections 7.1 and 7.3) ---------------------------------------------------------


def _algorithms(accepted: Collection[str]) -> frozenset[str]:
    """``accepted`` as a frozenset, checked to be a non-empty subset of the default."""
    if accepted is DEFAULT_ALGORITHMS:
        return DEFAULT_ALGORITHMS
    algorithms = frozenset(accepted)
    if not algorithms or not algorithms <= DEFAULT_ALGORITHMS:
        raise InvalidInputError(
            f"accepted_algorithms must be a non-empty subset of {sorted(DEFAULT_ALGORITHMS)}"
        )
    return algorithms


def _media_type(value: object) -> object:
    """``typ`` without the optional ``application/`` prefix (RFC 7515, section 4.1.9)."""
    if isinstance(value, str) and value[:12].lower() == "application/":
        return value[12:]
    return value


def _check_header(
    header: dict[str, Any], part: str, types: Collection[str], algorithms: Collection[str]
) -> tuple[str, str]:
    """``typ`` (explicit typing), ``alg`` (allow-list) and no ``crit``; the alg and the typ."""
    typ = _media_type(header.get("typ"))
    if typ not in types:
        _malformed(
            f"the {part} typ is {str(typ)[:40]!r}, expected {' or '.join(sorted(types))} "
            "(explicit typing, RFC 9901 section 9.11)",
            part,
            "wrongType",
        )
    algorithm = header.get("alg")
    if algorithm not in algorithms:
        raise CryptosuiteError(
            f"the {part} alg {str(algorithm)[:16]!r} is not accepted; accepted: "
            f"{', '.join(sorted(algorithms))} ('none' never is)",
            code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
            details={"part": part, "alg": str(algorithm)[:16]},
        )
    if "crit" in header:
        _malformed(
            f"the {part} has a 'crit' header, and no extension is understood here "
            "(RFC 7515, section 4.1.11)",
            part,
            "unsupportedCrit",
        )
    return cast(str, algorithm), cast(str, typ)


async def _issuer_key(
    resolver: KeyResolver | IssuerKeyCallback, iss: str | None, header: dict[str, Any]
) -> JwsKey:
    if not hasattr(resolver, "resolve_key"):
        found = await resolver(iss, header)
        if isinstance(found, ResolvedKey):
            return key_from_resolved(found)
        return key_from_jwk(found, "issuerJwt")
    kid = header.get("kid")
    if isinstance(kid, str) and kid.startswith("#") and iss is not None:
        kid = iss + kid
    if not isinstance(kid, str) or not kid.startswith("did:") or "#" not in kid:
        _malformed(
            "the issuerJwt kid must be a DID URL ('did:...#key') to look the key up in the "
            "issuer's DID document",
            "issuerJwt",
            "kidNotDidUrl",
        )
    did = kid.partition("#")[0]
    if iss != did:
        raise ProofError(
            "the issuerJwt is signed with a key of another DID than its iss; only the issuer's "
            "own keys may sign (RFC 9901, section 7.1 step 2.3)",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"part": "issuerJwt", "reason": "issuerKeyMismatch", "kid": kid[:200]},
        )
    resolved = await cast(KeyResolver, resolver).resolve_key(kid, "assertionMethod")
    if resolved.controller != iss:
        raise ProofError(
            "the issuerJwt key is not controlled by the issuer DID",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"part": "issuerJwt", "reason": "issuerKeyMismatch", "kid": kid[:200]},
        )
    return key_from_resolved(resolved)


def _time_claim(payload: Mapping[str, Any], name: str, part: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if type(value) not in (int, float):
        _malformed(f"the {part} {name} is not a NumericDate (RFC 7519)", part, "invalidDate")
    return cast(float, value)


def _check_validity(payload: Mapping[str, Any], now: float, skew: float) -> None:
    """Section 7.1 step 6: ``exp``, ``nbf`` and ``iat`` of the processed payload."""
    exp = _time_claim(payload, "exp", "issuerJwt")
    if exp is not None and now - skew > exp:
        raise CredentialError(
            "the SD-JWT has expired (exp is earlier than now minus the allowed clock skew); "
            "ask the issuer for a new one",
            code=ErrorCode.RANGE_ERROR,
            details={"part": "issuerJwt", "claim": "exp", "reason": "expired"},
        )
    nbf = _time_claim(payload, "nbf", "issuerJwt")
    if nbf is not None and now + skew < nbf:
        raise CredentialError(
            "the SD-JWT is not valid yet (nbf is later than now plus the allowed clock skew)",
            code=ErrorCode.RANGE_ERROR,
            details={"part": "issuerJwt", "claim": "nbf", "reason": "notYetValid"},
        )
    iat = _time_claim(payload, "iat", "issuerJwt")
    if iat is not None and now + skew < iat:
        raise CredentialError(
            "the SD-JWT claims to be issued in the future (iat is later than now plus the "
            "allowed clock skew); check the clocks",
            code=ErrorCode.RANGE_ERROR,
            details={"part": "issuerJwt", "claim": "iat", "reason": "issuedInFuture"},
        )


def check_key_binding(
    kb: str,
    presentation: str,
    claims: Mapping[str, Any],
    sd_alg: str,
    *,
    algorithms: Collection[str],
    now: float,
    skew: float,
    max_age: float,
    expected_aud: str | None,
    expected_nonce: str | None,
) -> KeyBinding:
    """Section 7.3 step 5: the one Key Binding JWT check of :func:`verify_sd_jwt` and of the
    verifier service's pipeline (``verifier.sdjwt``), so that both give the same verdict and code.

    In the spec's order: the holder key from ``cnf.jwk`` (5.1), ``alg`` allowed and ``typ``
    ``kb+jwt`` (5.2, 5.4; before the signature so that ``none`` is never tried), the signature
    (5.3), ``iat`` within ``max_age`` (5.5), ``aud`` and ``nonce`` (5.6), ``sd_hash`` (5.7), and
    ``exp`` and ``nbf`` when present (5.8: a valid JWT per RFC 7519; the emergency card's
    expiry is there).

    Times are POSIX seconds, converted once by the caller rather than on every check.

    :param kb: the KB-JWT, the last part of ``presentation``.
    :param presentation: the whole SD-JWT+KB; ``sd_hash`` covers it up to the KB-JWT.
    :param claims: the processed Issuer-signed JWT payload, for ``cnf``.
    :param sd_alg: the ``_sd_alg``, already checked to be supported.
    :param expected_aud: ``None`` when the caller checks ``aud`` itself (the pipeline's
        challenge check, so that its report names the check that failed); likewise
        ``expected_nonce``.
    :returns: what the KB-JWT binds: ``aud``, ``nonce``, ``iat`` and the algorithm.
    """
    part = "keyBindingJwt"
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise ProofError(
            "the SD-JWT has no holder key (cnf.jwk), so its Key Binding JWT cannot be checked",
            code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
            details={"part": "issuerJwt", "reason": "noHolderKey"},
        )
    holder_key = key_from_jwk(cnf["jwk"], part)
    header, kb_claims, signing_input, signature = decode_jws(kb, part)
    algorithm = _check_header(header, part, (KB_JWT_TYPE,), algorithms)[0]
    holder_key.verify(algorithm, signing_input, signature, part)
    iat, aud, nonce = kb_claims.get("iat"), kb_claims.get("aud"), kb_claims.get("nonce")
    sd_hash = kb_claims.get("sd_hash")
    if (
        type(iat) is not int
        or not isinstance(aud, str)
        or not isinstance(nonce, str)
        or not isinstance(sd_hash, str)
    ):
        _malformed(
            "the Key Binding JWT needs iat (NumericDate), aud, nonce and sd_hash (strings) "
            "(section 4.3)",
            part,
            "missingClaim",
        )
    if now + skew < iat:
        raise ProofError(
            "the Key Binding JWT claims to be created in the future; check the clocks",
            code=ErrorCode.INVALID_PROOF_DATETIME,
            details={"part": part, "claim": "iat", "reason": "issuedInFuture"},
        )
    if now - skew - max_age > iat:
        raise ProofError(
            "the Key Binding JWT is too old; ask the holder for a new presentation",
            code=ErrorCode.INVALID_PROOF_DATETIME,
            details={"part": part, "claim": "iat", "reason": "stale"},
        )
    if expected_aud is not None and aud != expected_aud:
        raise ProofError(
            "the Key Binding JWT is for another audience (aud) than this verifier",
            code=ErrorCode.INVALID_DOMAIN_ERROR,
            details={"part": part, "claim": "aud"},
        )
    if expected_nonce is not None and nonce != expected_nonce:
        raise ProofError(
            "the Key Binding JWT nonce is not the one this verifier asked for (a replay?)",
            code=ErrorCode.INVALID_CHALLENGE_ERROR,
            details={"part": part, "claim": "nonce"},
        )
    covered = presentation[: len(presentation) - len(kb)].encode("ascii")
    if b64url_encode(_HASHES[sd_alg](covered)) != sd_hash:
        raise ProofError(
            "the Key Binding JWT's sd_hash does not cover this presentation: Disclosures were "
            "added, removed or reordered after the holder signed (section 4.3.1)",
            code=ErrorCode.SD_JWT_KEY_BINDING_MISMATCH,
            details={"part": part, "claim": "sd_hash"},
        )
    exp = _time_claim(kb_claims, "exp", part)
    if exp is not None and now - skew > exp:
        # RANGE_ERROR as for the SD-JWT's own exp: here the holder chose the expiry.
        raise CredentialError(
            "the holder's Key Binding JWT has expired (exp is earlier than now minus the "
            "allowed clock skew)",
            code=ErrorCode.RANGE_ERROR,
            details={"part": part, "claim": "exp", "reason": "expired"},
        )
    nbf = _time_claim(kb_claims, "nbf", part)
    if nbf is not None and now + skew < nbf:
        raise CredentialError(
            "the holder's Key Binding JWT is not valid yet (nbf is later than now plus the "
            "allowed clock skew); check the clocks",
            code=ErrorCode.RANGE_ERROR,
            details={"part": part, "claim": "nbf", "reason": "notYetValid"},
        )
    return KeyBinding(aud=aud, nonce=nonce, iat=iat, algorithm=algorithm)


async def verify_sd_jwt(
    presentation: str,
    *,
    issuer_key_resolver: KeyResolver | IssuerKeyCallback,
    now: datetime,
    expected_aud: str | None = None,
    expected_nonce: str | None = None,
    require_key_binding: bool = True,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    max_kb_age: timedelta = DEFAULT_MAX_KB_AGE,
    accepted_types: Collection[str] = SD_JWT_VC_TYPES,
    accepted_algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB and return the Processed SD-JWT Payload.

    In the order of sections 7.3 and 7.1: Key Binding present if required; ``typ`` and ``alg``
    of the Issuer-signed JWT; the issuer's key and signature; ``_sd_alg``; every Disclosure
    against the digests; ``exp``/``nbf``/``iat``; then the KB-JWT: holder key from ``cnf.jwk``
    (Ed25519 or P-256), ``typ`` ``kb+jwt``, ``alg``, signature, ``iat`` within ``max_kb_age``,
    ``aud``, ``nonce``, ``sd_hash``, and ``exp`` and ``nbf`` if it has them. A KB-JWT that is
    present is checked even when not required.

    :param issuer_key_resolver: a :class:`agent.keys.signer.KeyResolver` (the ``kid`` must then
        be a DID URL of the DID in ``iss``, resolved for ``assertionMethod``), or an async
        ``callback(iss, header)`` returning the issuer's public JWK or a
        :class:`agent.keys.signer.ResolvedKey`; the callback decides whom to trust.
    :param now: the current instant, timezone-aware (STYLE 9).
    :param expected_aud: this verifier's identifier; required with Key Binding.
    :param expected_nonce: the nonce this verifier issued; required with Key Binding.
    :param accepted_types: ``typ`` values accepted for the Issuer-signed JWT.
    :param accepted_algorithms: JWS algorithms accepted, a subset of EdDSA and ES256.
    :raises InvalidInputError: bad arguments, a non-string or oversized presentation.
    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR``, ``unsupportedCryptosuite``.
    :raises agent.errors.SignatureError: ``PROOF_VERIFICATION_ERROR``.
    :raises ProofError: ``PROOF_VERIFICATION_ERROR`` (issuer key mismatch),
        ``sdJwtDisclosureMismatch``, ``sdJwtKeyBindingMissing``, ``sdJwtKeyBindingMismatch``,
        ``INVALID_DOMAIN_ERROR``, ``INVALID_CHALLENGE_ERROR``, ``INVALID_PROOF_DATETIME``.
    :raises CredentialError: ``RANGE_ERROR`` (expired, not yet valid, issued in the future;
        or the KB-JWT expired).
    :raises agent.errors.DIDError: the key resolver cannot find the issuer's key.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError("now must be a timezone-aware datetime")
    if max_clock_skew < _NO_TIME or max_kb_age < _NO_TIME:
        raise InvalidInputError("max_clock_skew and max_kb_age must not be negative")
    algorithms = _algorithms(accepted_algorithms)
    if require_key_binding and (expected_aud is None or expected_nonce is None):
        raise InvalidInputError(
            "Key Binding is required, so pass expected_aud and expected_nonce (or set "
            "require_key_binding=False for a policy that does not need it)"
        )
    issuer_jwt, encoded, kb = _split(presentation, max_bytes)
    if kb is None and require_key_binding:
        raise ProofError(
            "Key Binding is required but the presentation has no Key Binding JWT (it ends with "
            "'~'); the holder must sign the presentation (RFC 9901, section 7.3 step 2)",
            code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
            details={"part": "keyBindingJwt", "reason": "absent"},
        )
    header, payload, signing_input, signature = decode_jws(issuer_jwt, "issuerJwt")
    algorithm, typ = _check_header(header, "issuerJwt", accepted_types, algorithms)
    iss = payload.get("iss")
    if iss is not None and not isinstance(iss, str):
        _malformed("the issuerJwt iss is not a string", "issuerJwt", "invalidIss")
    key = await _issuer_key(issuer_key_resolver, iss, header)
    key.verify(algorithm, signing_input, signature, "issuerJwt")
    if typ in SD_JWT_VC_TYPES and type(payload.get("vct")) is not str:
        _malformed(
            "an SD-JWT VC must carry vct in the Issuer-signed JWT (draft-ietf-oauth-sd-jwt-vc)",
            "issuerJwt",
            "missingVct",
        )
    sd_alg = payload.get(_SD_ALG, _DEFAULT_SD_ALG)
    by_digest = _decode_disclosures(encoded, _hash_function(sd_alg, "issuerJwt"))
    processed, paths = _process(payload, by_digest)
    now_ts = now.timestamp()
    skew = max_clock_skew.total_seconds()
    _check_validity(processed, now_ts, skew)
    binding = None
    if kb is not None:
        binding = check_key_binding(
            kb,
            presentation,
            processed,
            sd_alg,
            algorithms=algorithms,
            now=now_ts,
            skew=skew,
            max_age=max_kb_age.total_seconds(),
            expected_aud=expected_aud,
            expected_nonce=expected_nonce,
        )
    cnf = processed.get("cnf")
    holder_jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    return VerifiedSdJwt(
        payload=processed,
        # Plain sorting is safe: two paths first differ below one container, so at the same
        # position both hold member names or both hold indexes.
        disclosed_paths=tuple(sorted(paths.values())),
        issuer=iss,
        holder_jwk=holder_jwk if isinstance(holder_jwk, dict) else None,
        header=header,
        key_binding=binding,
    )
