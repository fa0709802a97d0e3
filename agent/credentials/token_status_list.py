"""IETF Token Status List: the ``status_list`` claim, the Status List Token, and the check.

draft-ietf-oauth-status-list ("TSL", https://datatracker.ietf.org/doc/draft-ietf-oauth-status-list/)
is the status mechanism of SD-JWT VC: a Referenced Token (our SD-JWT credential) carries
``"status": {"status_list": {"idx": 7, "uri": "https://.../lists/1"}}`` (TSL section 6.2), and
the issuer publishes at ``uri`` a JWT with ``typ`` ``statuslist+jwt`` (section 5.1) whose
``status_list`` claim is ``{"bits": 1, "lst": "<base64url of ZLIB-DEFLATE of the bytes>"}``
(section 4.1). W3C credentials use Bitstring Status List (:mod:`agent.credentials.status_list`)
instead. The hospital allocates one index per credential
(:class:`agent.status.StatusListAllocator`) and publishes that list in **both** forms, so the
index means the same status whatever the credential's format.

The two formats order bits differently, the one thing an implementer gets wrong:

* BSL: index 0 is the **most** significant bit of byte 0 (left to right).
* TSL: the status at index ``i`` is in byte ``i * bits // 8``, counted from the **least**
  significant bit (section 4.1: "bits within a byte are counted from least significant").

:func:`from_bitstring` converts with a 256-entry table per byte, so a 131,072-entry list
converts in well under a millisecond. A revocation list becomes ``bits=1`` with status
``0x01`` INVALID; a suspension list becomes ``bits=2`` with ``0x02`` SUSPENDED (section 7.1),
since in one bit a set status can only mean INVALID, which is irreversible.

Verifying (:func:`check_token_status`, TSL section 8.3): the signature (``EdDSA`` or
``ES256``; a MAC algorithm is refused, section 5.1 rule 2), ``typ``, ``sub`` equal to the
Referenced Token's ``uri``, ``iat`` present, ``exp`` not passed, the index inside the list.
Inflation is bounded by ``max_bytes`` before it happens, so a small "zlib bomb" cannot exhaust
memory. Failures raise :class:`agent.errors.StatusError`: ``STATUS_VERIFICATION_ERROR`` for a
token that does not verify or does not belong to the reference, ``MALFORMED_VALUE_ERROR`` for a
malformed claim, ``RANGE_ERROR`` for an index outside the list, ``inputTooLarge`` for a list
inflating beyond ``max_bytes``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, Final, TypeAlias, cast

from agent.clock import DEFAULT_MAX_CLOCK_SKEW
from agent.credentials.jose import (
    ALGORITHM_KEY_TYPES,
    JwsKey,
    b64url_decode,
    b64url_encode,
    decode_jws,
    key_from_jwk,
    key_from_resolved,
    sign_jws,
)
from agent.credentials.status_list import Bitstring
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, StatusError
from agent.keys.signer import KeyResolver, ResolvedKey, Signer
from agent.types import JSONObject

__all__ = [
    "DEFAULT_MAX_LIST_BYTES",
    "STATUS_LIST_JWT_TYPE",
    "VALID_BITS",
    "StatusListKeyCallback",
    "TokenStatus",
    "TokenStatusList",
    "TokenStatusResult",
    "check_token_status",
    "decode_token_status_list",
    "encode_token_status_list",
    "from_bitstring",
    "referenced_status_claim",
    "status_list_token",
]

#: The ``typ`` header of a Status List Token in JWT form (TSL section 5.1).
STATUS_LIST_JWT_TYPE: Final = "statuslist+jwt"
#: The sizes of one status that TSL section 4.1 allows.
VALID_BITS: Final = frozenset({1, 2, 4, 8})
#: The largest inflated list accepted by default: 2 MiB (16.7 million one-bit statuses).
DEFAULT_MAX_LIST_BYTES: Final = 2 * 1024 * 1024

_CHUNK: Final = 64 * 1024
#: ``lst`` longer than this (base64url characters) is refused before decoding: a list that
#: compresses worse than 1:1 would be implausible, so the bound follows ``max_bytes``.
_ZLIB_OVERHEAD: Final = 1024
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")

# BSL byte -> TSL byte for bits=1: the bit order within each byte reversed.
_REVERSED: Final = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def _spread(byte: int, value: int) -> bytes:
    """Two TSL bytes (bits=2) for one BSL byte: each set bit becomes the 2-bit ``value``."""
    out = 0
    for offset in range(8):  # BSL offset 0 is the most significant bit = index 0.
        if byte & (0x80 >> offset):
            out |= value << (2 * offset)
    return out.to_bytes(2, "little")


# BSL byte -> two TSL bytes, for a suspension list published with bits=2 as SUSPENDED (0x02).
_SPREAD_SUSPENDED: Final = tuple(_spread(byte, 0x02) for byte in range(256))


class TokenStatus(IntEnum):
    """The Status Types TSL section 7.1 registers; 0x03 and 0x0B-0x0F are application-specific."""

    VALID = 0x00
    INVALID = 0x01  # Revoked: irreversible.
    SUSPENDED = 0x02  # Reversible.


class TokenStatusList:
    """A list of ``bits``-bit statuses in TSL byte order (section 4.1).

    :param size: how many statuses; the byte array is ``ceil(size * bits / 8)`` bytes.
    :param bits: 1, 2, 4 or 8.
    :raises InvalidInputError: a ``bits`` outside 1, 2, 4, 8 or a negative ``size``.
    """

    __slots__ = ("_bits", "_data")

    def __init__(self, size: int, bits: int = 1) -> None:
        _check_bits(bits)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInputError(f"a status list size is an integer >= 0, not {size!r}")
        self._bits = bits
        self._data = bytearray(-(-size * bits // 8))

    @classmethod
    def from_bytes(cls, data: bytes, bits: int = 1) -> TokenStatusList:
        """The list whose byte array is ``data`` (the inflated ``lst``).

        :raises InvalidInputError: a ``bits`` outside 1, 2, 4, 8.
        """
        _check_bits(bits)
        status_list = cls.__new__(cls)
        status_list._bits = bits
        status_list._data = bytearray(data)
        return status_list

    @property
    def bits(self) -> int:
        """The number of bits of one status."""
        return self._bits

    def __len__(self) -> int:
        """How many statuses the byte array holds (padding bits of the last byte included)."""
        return len(self._data) * 8 // self._bits

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenStatusList):
            return NotImplemented
        return self._bits == other._bits and self._data == other._data

    def __hash__(self) -> int:  # Mutable, like bytearray.
        raise TypeError("TokenStatusList is mutable and cannot be hashed")

    def __repr__(self) -> str:
        return f"TokenStatusList(bits={self._bits}, statuses={len(self)})"

    def to_bytes(self) -> bytes:
        """The byte array, index 0 in the least significant bits of byte 0."""
        return bytes(self._data)

    def get(self, index: int) -> int:
        """The status at ``index`` (TSL section 4.1).

        :raises StatusError: ``RANGE_ERROR`` when ``index`` is outside the list.
        """
        self._check_index(index)
        position = index * self._bits
        mask = (1 << self._bits) - 1
        return (self._data[position >> 3] >> (position & 7)) & mask

    def set(self, index: int, status: int) -> None:
        """Write the status at ``index``.

        :raises StatusError: ``RANGE_ERROR`` when ``index`` is outside the list.
        :raises InvalidInputError: ``status`` does not fit in ``bits`` bits.
        """
        self._check_index(index)
        mask = (1 << self._bits) - 1
        if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= mask:
            raise InvalidInputError(
                f"status {status!r} does not fit in {self._bits} bits",
                details={"bits": self._bits},
            )
        position = index * self._bits
        shift = position & 7
        byte = self._data[position >> 3] & ~(mask << shift) & 0xFF
        self._data[position >> 3] = byte | (status << shift)

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidInputError(f"a status list index is an integer, not {index!r}")
        if not 0 <= index < len(self):
            raise StatusError(
                f"index {index} is outside the status list of {len(self)} statuses; the "
                "Referenced Token does not belong to this list (TSL section 8.3)",
                code=ErrorCode.RANGE_ERROR,
                details={"idx": index, "size": len(self)},
            )


def _check_bits(bits: object) -> None:
    if isinstance(bits, bool) or bits not in VALID_BITS:
        raise InvalidInputError(
            f"bits must be 1, 2, 4 or 8 (TSL section 4.1), not {bits!r}",
            details={"bits": str(bits)[:8]},
        )


# --- the status_list claim: TSL section 4.1 --------------------------------------------------


def encode_token_status_list(
    statuses: TokenStatusList | bytes | Iterable[int], bits: int = 1
) -> JSONObject:
    """The ``status_list`` claim ``{"bits": ..., "lst": ...}`` of a list (TSL section 4.1).

    ``lst`` is base64url (no padding) of the ZLIB (RFC 1950) DEFLATE of the byte array, at the
    highest compression level, as the section recommends; equal lists give equal claims.

    :param statuses: a :class:`TokenStatusList` (its own ``bits`` apply), the byte array
        already in TSL order, or one status per index (``bits`` apply).
    :raises InvalidInputError: a ``bits`` outside 1, 2, 4, 8, or a status that does not fit.
    """
    if isinstance(statuses, TokenStatusList):
        status_list = statuses
    elif isinstance(statuses, bytes | bytearray | memoryview):
        status_list = TokenStatusList.from_bytes(bytes(statuses), bits)
    else:
        values = list(statuses)
        status_list = TokenStatusList(len(values), bits)
        for index, value in enumerate(values):
            if value:
                status_list.set(index, value)
    compressed = zlib.compress(status_list.to_bytes(), 9)
    return {"bits": status_list.bits, "lst": b64url_encode(compressed)}


def decode_token_status_list(
    claim: object, max_bytes: int = DEFAULT_MAX_LIST_BYTES
) -> TokenStatusList:
    """The list of a ``status_list`` claim, inflating at most ``max_bytes`` bytes.

    :raises StatusError: ``MALFORMED_VALUE_ERROR`` when the claim is not an object with
        ``bits`` in 1, 2, 4, 8 and ``lst`` base64url of one complete ZLIB stream;
        ``inputTooLarge`` when it inflates beyond ``max_bytes``.
    """
    if not isinstance(claim, Mapping):
        raise _malformed("the status_list claim must be a JSON object", "status_list")
    bits = claim.get("bits")
    if isinstance(bits, bool) or bits not in VALID_BITS:
        raise _malformed("status_list.bits must be 1, 2, 4 or 8", "status_list.bits")
    lst = claim.get("lst")
    if not isinstance(lst, str) or not lst:
        raise _malformed("status_list.lst must be a non-empty string", "status_list.lst")
    if len(lst) > (max_bytes + _ZLIB_OVERHEAD) * 4 // 3 + 4:
        raise _too_large(max_bytes)
    try:
        compressed = b64url_decode(lst, "status_list.lst")
    except HealthMyDataError as exc:
        raise _malformed("status_list.lst is not unpadded base64url", "status_list.lst") from exc
    return TokenStatusList.from_bytes(_inflate(compressed, max_bytes), cast(int, bits))


def _inflate(compressed: bytes, max_bytes: int) -> bytes:
    """Inflate one ZLIB stream, refusing output beyond ``max_bytes`` before producing it."""
    inflater = zlib.decompressobj()
    out = bytearray()
    pending = compressed
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise _too_large(max_bytes)
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise _malformed(
            "status_list.lst is not a ZLIB (RFC 1950) DEFLATE stream", "status_list.lst"
        ) from exc
    if not inflater.eof or inflater.unused_data:
        raise _malformed(
            "status_list.lst is a truncated ZLIB stream, or has data after it", "status_list.lst"
        )
    return bytes(out)


def from_bitstring(bitstring: Bitstring, purpose: str = "revocation") -> TokenStatusList:
    """The TSL form of a Bitstring Status List, index for index.

    A revocation (or refresh) list becomes ``bits=1``, set meaning ``INVALID``; a suspension
    list becomes ``bits=2``, set meaning ``SUSPENDED`` (TSL section 7.1). So the one index the
    allocator hands out is published under the same number in both formats.

    :raises InvalidInputError: a purpose other than revocation, refresh or suspension
        (``message`` lists carry their own meanings and are not converted).
    """
    data = bitstring.to_bytes()
    if purpose in {"revocation", "refresh"}:
        return TokenStatusList.from_bytes(data.translate(_REVERSED), 1)
    if purpose == "suspension":
        return TokenStatusList.from_bytes(b"".join(_SPREAD_SUSPENDED[byte] for byte in data), 2)
    raise InvalidInputError(
        f"cannot publish a {purpose!r} list as a Token Status List; revocation, refresh and "
        "suspension lists can be",
        details={"statusPurpose": str(purpose)[:40]},
    )


def referenced_status_claim(uri: str, idx: int) -> JSONObject:
    """The Referenced Token's ``status`` claim (TSL section 6.2) for index ``idx`` at ``uri``.

    :raises InvalidInputError: ``idx`` is not an integer >= 0 or ``uri`` is not a URI.
    """
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise InvalidInputError(f"idx must be an integer >= 0, not {idx!r}")
    if not isinstance(uri, str) or not _URI.fullmatch(uri):
        raise InvalidInputError("uri must be an absolute URI (RFC 3986)")
    return {"status_list": {"idx": idx, "uri": uri}}


# --- the Status List Token: TSL section 5.1 --------------------------------------------------


def status_list_token(
    uri: str,
    statuses: TokenStatusList,
    signer: Signer,
    *,
    iat: datetime,
    exp: datetime | None = None,
    ttl: timedelta | None = None,
    issuer: str | None = None,
) -> str:
    """The compact JWT that publishes ``statuses`` at ``uri`` (TSL section 5.1).

    The header carries ``typ`` ``statuslist+jwt`` and ``kid``, the signer's verification
    method (a DID URL), so that a verifier looks the key up in the issuer's DID document.

    :param uri: the ``sub``: where the token is published, equal to the ``uri`` of every
        Referenced Token's ``status_list``.
    :param exp: when the token expires; recommended, so that a stale copy cannot be replayed
        for ever.
    :param ttl: how long a verifier may cache it (a positive whole number of seconds).
    :param issuer: an ``iss`` claim, needed when the Referenced Tokens carry ``iss``.
    :raises InvalidInputError: a naive datetime, ``exp`` not after ``iat``, a ``ttl`` that is
        not positive, or a ``uri`` that is not a URI.
    :raises agent.errors.CryptosuiteError: the signer's algorithm is neither EdDSA nor ES256.
    """
    if not isinstance(uri, str) or not _URI.fullmatch(uri):
        raise InvalidInputError("the Status List Token sub must be an absolute URI")
    payload: JSONObject = {"sub": uri, "iat": _numeric_date(iat, "iat")}
    if issuer is not None:
        payload["iss"] = issuer
    if exp is not None:
        payload["exp"] = _numeric_date(exp, "exp")
        if payload["exp"] <= payload["iat"]:
            raise InvalidInputError("exp must be later than iat")
    if ttl is not None:
        seconds = int(ttl.total_seconds())
        if seconds <= 0:
            raise InvalidInputError("ttl must be a positive number of seconds (TSL section 5.1)")
        payload["ttl"] = seconds
    payload["status_list"] = encode_token_status_list(statuses)
    header = {
        "alg": signer.algorithm,
        "kid": signer.verification_method,
        "typ": STATUS_LIST_JWT_TYPE,
    }
    return sign_jws(header, payload, signer)


def _numeric_date(value: datetime, name: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be timezone-aware (for example datetime.now(UTC))")
    return int(value.timestamp())


# --- checking a Referenced Token's status: TSL section 8.3 -----------------------------------

#: A callback that returns the Status List Token's verification key, given the JWT header and
#: payload: a :class:`ResolvedKey` or a public JWK. For keys that are not in a DID document.
StatusListKeyCallback: TypeAlias = Callable[
    [Mapping[str, Any], Mapping[str, Any]], Awaitable[ResolvedKey | Mapping[str, Any]]
]


@dataclass(frozen=True, slots=True)
class TokenStatusResult:
    """The status of one Referenced Token, read from a verified Status List Token.

    :param idx: the index read.
    :param status: the Status Type value (see :class:`TokenStatus`).
    :param valid: whether the status is ``VALID`` (0x00). Anything else, including an
        application-specific value, is not valid.
    :param uri: the Status List Token's ``sub``.
    :param ttl: the token's ``ttl`` in seconds, when it has one: how long the verifier may
        cache it.
    :param expires: the token's ``exp`` as a UNIX time, when it has one.
    """

    idx: int
    status: int
    valid: bool
    uri: str
    ttl: int | None = None
    expires: int | None = None


async def check_token_status(
    referenced_status_claim: object,
    token: str,
    *,
    issuer_key_resolver: KeyResolver | StatusListKeyCallback,
    now: datetime,
    expected_issuer: str | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    max_bytes: int = DEFAULT_MAX_LIST_BYTES,
    algorithms: frozenset[str] = frozenset(ALGORITHM_KEY_TYPES),
) -> TokenStatusResult:
    """Verify ``token`` as the Status List Token of ``referenced_status_claim`` and read the
    status (TSL section 8.3, from step 3; fetching the token is the caller's).

    :param referenced_status_claim: the Referenced Token's ``status`` claim (or only its
        ``status_list`` member).
    :param issuer_key_resolver: a :class:`KeyResolver`, to which the header's ``kid`` (a DID
        URL) is given for ``assertionMethod``; or a :data:`StatusListKeyCallback`.
    :param expected_issuer: the Referenced Token's issuer DID: with a resolver, the key must
        belong to that DID; an ``iss`` in the token must equal it (section 5.1).
    :raises StatusError: ``STATUS_VERIFICATION_ERROR`` when the token is malformed, its
        signature, ``typ``, algorithm, key, ``sub`` or ``iss`` is wrong, or it has expired;
        ``MALFORMED_VALUE_ERROR`` for a malformed ``status`` claim or ``status_list``;
        ``RANGE_ERROR`` for an index outside the list; ``inputTooLarge`` for a list
        inflating beyond ``max_bytes``.
    """
    idx, uri = _parse_reference(referenced_status_claim)
    payload = await _verify_token(
        token, issuer_key_resolver, expected_issuer=expected_issuer, algorithms=algorithms
    )
    if payload.get("sub") != uri:
        raise _verification(
            "the Status List Token's sub is not the uri of the Referenced Token: it publishes "
            "another list (TSL section 5.1)",
            "subMismatch",
        )
    if expected_issuer is not None and "iss" in payload and payload["iss"] != expected_issuer:
        raise _verification(
            "the Status List Token's iss is not the Referenced Token's issuer", "issMismatch"
        )
    instant = now.timestamp()
    skew = max_clock_skew.total_seconds()
    iat = _time_claim(payload, "iat")
    if iat is None:
        raise _verification("the Status List Token has no iat (TSL section 5.1)", "missingIat")
    if instant + skew < iat:
        raise _verification("the Status List Token is issued in the future", "issuedInFuture")
    exp = _time_claim(payload, "exp")
    if exp is not None and instant - skew >= exp:
        raise _verification(
            "the Status List Token has expired; fetch a fresh one from its uri", "expired"
        )
    ttl = payload.get("ttl")
    if ttl is not None and (type(ttl) not in (int, float) or ttl <= 0):
        raise _verification("the Status List Token's ttl is not a positive number", "invalidTtl")
    statuses = decode_token_status_list(payload.get("status_list"), max_bytes)
    status = statuses.get(idx)
    return TokenStatusResult(
        idx=idx,
        status=status,
        valid=status == TokenStatus.VALID,
        uri=uri,
        ttl=None if ttl is None else int(ttl),
        expires=None if exp is None else int(exp),
    )


def _parse_reference(claim: object) -> tuple[int, str]:
    if isinstance(claim, Mapping) and "status_list" in claim:
        claim = claim["status_list"]
    if not isinstance(claim, Mapping):
        raise _malformed(
            "the Referenced Token's status claim has no status_list object (TSL section 6.2)",
            "status.status_list",
        )
    idx, uri = claim.get("idx"), claim.get("uri")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise _malformed("status_list.idx must be an integer >= 0", "status.status_list.idx")
    if not isinstance(uri, str) or not _URI.fullmatch(uri):
        raise _malformed("status_list.uri must be a URI", "status.status_list.uri")
    return idx, uri


async def _verify_token(
    token: object,
    resolver: KeyResolver | StatusListKeyCallback,
    *,
    expected_issuer: str | None,
    algorithms: frozenset[str],
) -> dict[str, Any]:
    part = "statusListToken"
    if not isinstance(token, str):
        raise _verification("the Status List Token must be a compact JWT string", "notJwt")
    try:
        header, payload, signing_input, signature = decode_jws(token, part)
        typ = header.get("typ")
        if isinstance(typ, str) and typ[:12].lower() == "application/":
            typ = typ[12:]
        if typ != STATUS_LIST_JWT_TYPE:
            raise _verification(
                f"the Status List Token typ must be {STATUS_LIST_JWT_TYPE} (TSL section 5.1)",
                "wrongType",
            )
        algorithm = header.get("alg")
        if algorithm not in algorithms:
            raise _verification(
                f"the Status List Token alg {str(algorithm)[:16]!r} is not accepted; a MAC or "
                "'none' never is (TSL section 5.1 rule 2)",
                "algorithmNotAccepted",
            )
        if "crit" in header:
            raise _verification(
                "the Status List Token has a crit header, and no extension is understood here",
                "unsupportedCrit",
            )
        key = await _token_key(resolver, header, payload, expected_issuer)
        key.verify(algorithm, signing_input, signature, part)
    except StatusError:
        raise
    except HealthMyDataError as exc:
        raise StatusError(
            f"the Status List Token does not verify ({exc.code}): {exc.message}",
            code=ErrorCode.STATUS_VERIFICATION_ERROR,
            details={"part": part, "reason": exc.details.get("reason", str(exc.code))},
        ) from exc
    return payload


async def _token_key(
    resolver: KeyResolver | StatusListKeyCallback,
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    expected_issuer: str | None,
) -> JwsKey:
    if not hasattr(resolver, "resolve_key"):
        found = await resolver(header, payload)
        if isinstance(found, ResolvedKey):
            return key_from_resolved(found)
        return key_from_jwk(found, "statusListToken")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid.startswith("did:") or "#" not in kid:
        raise _verification(
            "the Status List Token kid must be a DID URL ('did:...#key') to find its key",
            "kidNotDidUrl",
        )
    did = kid.partition("#")[0]
    if expected_issuer is not None and did != expected_issuer:
        raise _verification(
            "the Status List Token is signed by another DID than the Referenced Token's issuer",
            "issuerKeyMismatch",
        )
    resolved = await cast(KeyResolver, resolver).resolve_key(kid, "assertionMethod")
    if resolved.controller != did:
        raise _verification(
            "the Status List Token key is not controlled by the DID of its kid",
            "issuerKeyMismatch",
        )
    return key_from_resolved(resolved)


def _time_claim(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if type(value) not in (int, float):
        raise _verification(f"the Status List Token {name} is not a NumericDate", "invalidDate")
    return cast(float, value)


def _verification(message: str, reason: str) -> StatusError:
    return StatusError(
        message,
        code=ErrorCode.STATUS_VERIFICATION_ERROR,
        details={"part": "statusListToken", "reason": reason},
    )


def _malformed(message: str, path: str) -> StatusError:
    return StatusError(message, code=ErrorCode.MALFORMED_VALUE_ERROR, details={"path": path})


def _too_large(max_bytes: int) -> StatusError:
    return StatusError(
        f"the status list inflates to more than {max_bytes} bytes; it was not read further (a "
        "list this large is implausible and may be a compression bomb)",
        code=ErrorCode.INPUT_TOO_LARGE,
        details={"maxBytes": max_bytes},
    )
