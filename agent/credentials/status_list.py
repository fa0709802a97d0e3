"""Bitstring Status List v1.0: the bitstring codec, entry and list builders, and validation.

W3C Recommendation, https://www.w3.org/TR/vc-bitstring-status-list/ (sections cited below as
"BSL"). An issuer gives each credential a position (``statusListIndex``) in a list of bits that
it publishes as a signed ``BitstringStatusListCredential``; a verifier fetches the list and
reads the bit. One list covers at least 131,072 credentials, so fetching it says little about
which one is checked (BSL Privacy Considerations, "Revocation Bitstring Length").

This module is pure: no network, no store, no clock. It holds

* :class:`Bitstring` and the codec :func:`encode_list` / :func:`decode_list`: GZIP (RFC 1952)
  then multibase base64url without padding, prefix ``u`` (BSL section 2.2 ``encodedList``,
  sections 3.3 and 3.4). Index 0 is the left-most (most significant) bit of the first byte
  (BSL Security Considerations, "Bitstring Encoding").
* :func:`status_entry` and :func:`status_list_credential`: the two documents of BSL
  sections 2.1 and 2.2, unsigned; ``agent.credentials.proofs.add_proof`` signs the list.
* :func:`check_status`: the Validate Algorithm of BSL section 3.2 from step 5 on, for an entry
  and a list credential whose proofs the caller has verified (``agent.status.checker`` fetches
  and verifies). It raises :class:`agent.errors.StatusError` with the spec's codes:
  ``STATUS_VERIFICATION_ERROR`` (wrong purpose, wrong issuer, not a status list, expired),
  ``STATUS_LIST_LENGTH_ERROR`` (fewer than 131,072 entries), ``RANGE_ERROR`` (index outside the
  list) and ``MALFORMED_VALUE_ERROR`` (a property breaking a MUST, BSL section 3 preamble).

Decoding is bounded: a list that inflates beyond ``max_bytes`` (2 MiB, 16.7 million entries, by
default) is refused before it is fully inflated, so a small "gzip bomb" cannot exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from agent.clock import DEFAULT_MAX_CLOCK_SKEW
from agent.credentials.model import build_credential, check_validity_period
from agent.errors import DataModelError, ErrorCode, InvalidInputError, StatusError
from agent.types import JSONObject

__all__ = [
    "DEFAULT_MAX_DECODED_BYTES",
    "ENTRY_TYPE",
    "FINAL_PURPOSES",
    "LIST_CREDENTIAL_TYPE",
    "LIST_TYPE",
    "MIN_ENTRIES",
    "Bitstring",
    "StatusEntry",
    "StatusPurpose",
    "StatusResult",
    "check_status",
    "credential_issuer",
    "decode_list",
    "encode_list",
    "parse_status_entries",
    "parse_status_entry",
    "status_entry",
    "status_list_credential",
]

#: The minimum number of entries of a list (BSL section 3.2 step 2): 16 KB of one-bit entries.
MIN_ENTRIES: Final = 131_072
#: The largest inflated bitstring :func:`decode_list` accepts by default (16,777,216 bits).
DEFAULT_MAX_DECODED_BYTES: Final = 2 * 1024 * 1024
#: ``credentialStatus.type`` (BSL section 2.1).
ENTRY_TYPE: Final = "BitstringStatusListEntry"
#: The list credential's ``type`` value (BSL section 2.2).
LIST_CREDENTIAL_TYPE: Final = "BitstringStatusListCredential"
#: The list credential's ``credentialSubject.type`` (BSL section 2.2).
LIST_TYPE: Final = "BitstringStatusList"

#: The largest ``statusSize`` accepted: ``statusMessage`` must then list 2**size messages.
_MAX_STATUS_SIZE: Final = 16
#: More digits than this cannot index any list this module would decode.
_MAX_INDEX_DIGITS: Final = 12
_DIGITS = re.compile(r"[0-9]+")
_HEX_STATUS = re.compile(r"0x[0-9a-fA-F]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_LEGACY_BASE64 = re.compile(r"[A-Za-z0-9_+/-]*={0,2}")
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_CHUNK: Final = 64 * 1024


class StatusPurpose(StrEnum):
    """The ``statusPurpose`` values BSL section 2.1 defines; others are allowed but opaque."""

    REFRESH = "refresh"  # Not reversible; does not invalidate the credential.
    REVOCATION = "revocation"  # Not reversible.
    SUSPENSION = "suspension"  # Reversible.
    MESSAGE = "message"  # statusSize and statusMessage carry the meaning.


#: Purposes whose status, once set, is never cleared (BSL section 2.1 table).
FINAL_PURPOSES: Final = frozenset({StatusPurpose.REVOCATION, StatusPurpose.REFRESH})


class Bitstring:
    """A fixed-length string of bits, index 0 being the left-most bit of the first byte.

    Why a class and not a bare ``bytearray``: the bit order is the one thing BSL's "Bitstring
    Encoding" section warns implementers get wrong, so it is written once, here.

    :param length: the number of bits; a multiple of 8 and, unless ``min_length`` is lowered,
        at least :data:`MIN_ENTRIES` (BSL section 3.3 step 1: "a minimum size of 16KB").
    :param min_length: the smallest length accepted. Lower it only to read short lists in
        tests or to report their length; a published list must keep the default.
    :raises InvalidInputError: the length is not a positive multiple of 8 or is too short.
    """

    __slots__ = ("_data",)

    def __init__(self, length: int = MIN_ENTRIES, *, min_length: int = MIN_ENTRIES) -> None:
        _check_length(length, min_length)
        self._data = bytearray(length // 8)

    @classmethod
    def from_bytes(cls, data: bytes, *, min_length: int = MIN_ENTRIES) -> Bitstring:
        """The bitstring whose bytes are ``data`` (the inflated ``encodedList``).

        :raises InvalidInputError: as the constructor, for ``len(data) * 8`` bits.
        """
        _check_length(len(data) * 8, min_length)
        bits = cls.__new__(cls)
        bits._data = bytearray(data)
        return bits

    def __len__(self) -> int:
        return len(self._data) * 8

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitstring):
            return NotImplemented
        return self._data == other._data

    def __hash__(self) -> int:  # Mutable, like bytearray.
        raise TypeError("Bitstring is mutable and cannot be hashed")

    def __repr__(self) -> str:
        return f"Bitstring(length={len(self)}, set={self.count()})"

    def to_bytes(self) -> bytes:
        """The raw bytes, first index in the most significant bit of byte 0."""
        return bytes(self._data)

    def get(self, index: int) -> bool:
        """Whether bit ``index`` is set.

        :raises StatusError: ``RANGE_ERROR`` when ``index`` is outside the bitstring.
        """
        self._check_index(index, 1)
        return bool(self._data[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        """Set (or with ``value=False`` clear) bit ``index``.

        :raises StatusError: ``RANGE_ERROR`` when ``index`` is outside the bitstring.
        """
        self._check_index(index, 1)
        mask = 0x80 >> (index & 7)
        if value:
            self._data[index >> 3] |= mask
        else:
            self._data[index >> 3] &= ~mask & 0xFF

    def get_status(self, index: int, status_size: int = 1) -> int:
        """The ``status_size``-bit value of entry ``index``, most significant bit first.

        The entry starts at bit ``index * status_size`` (BSL section 3.3 step 2).

        :raises StatusError: ``RANGE_ERROR`` when the entry does not fit in the bitstring.
        """
        _check_status_size(status_size)
        self._check_index(index, status_size)
        start = index * status_size
        value = 0
        for bit in range(start, start + status_size):
            value = (value << 1) | ((self._data[bit >> 3] >> (7 - (bit & 7))) & 1)
        return value

    def set_status(self, index: int, status: int, status_size: int = 1) -> None:
        """Write the ``status_size``-bit ``status`` of entry ``index``.

        :raises StatusError: ``RANGE_ERROR`` when the entry does not fit in the bitstring.
        :raises InvalidInputError: ``status`` does not fit in ``status_size`` bits.
        """
        _check_status_size(status_size)
        self._check_index(index, status_size)
        if not 0 <= status < (1 << status_size):
            raise InvalidInputError(
                f"status {status} does not fit in statusSize {status_size} bits",
                details={"status": status, "statusSize": status_size},
            )
        start = index * status_size
        for offset in range(status_size):
            self.set(start + offset, bool((status >> (status_size - 1 - offset)) & 1))

    def entries(self, status_size: int = 1) -> int:
        """How many entries of ``status_size`` bits the bitstring holds."""
        _check_status_size(status_size)
        return len(self) // status_size

    def count(self) -> int:
        """How many bits are set."""
        return int.from_bytes(self._data, "big").bit_count()

    def set_indexes(self) -> Iterator[int]:
        """The indexes of the set bits, ascending."""
        for position, byte in enumerate(self._data):
            if byte:
                base = position * 8
                for offset in range(8):
                    if byte & (0x80 >> offset):
                        yield base + offset

    def _check_index(self, index: int, status_size: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidInputError(f"a status list index is an integer, not {index!r}")
        if index < 0 or (index + 1) * status_size > len(self):
            raise StatusError(
                f"index {index} (statusSize {status_size}) is outside the status list of "
                f"{len(self)} bits; the entry does not belong to this list",
                code=ErrorCode.RANGE_ERROR,
                details={"statusListIndex": index, "length": len(self)},
            )


def _check_length(length: int, min_length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0 or length % 8:
        raise InvalidInputError(
            f"a bitstring length is a positive multiple of 8 bits, not {length!r}",
            details={"length": length},
        )
    if length < min_length:
        raise InvalidInputError(
            f"a status list of {length} bits is shorter than the {min_length} entries that give "
            "herd privacy (Bitstring Status List section 3.3); use the default length",
            details={"length": length, "minimum": min_length},
        )


def _check_status_size(status_size: int) -> None:
    if (
        isinstance(status_size, bool)
        or not isinstance(status_size, int)
        or not 1 <= status_size <= _MAX_STATUS_SIZE
    ):
        raise InvalidInputError(
            f"statusSize must be an integer from 1 to {_MAX_STATUS_SIZE}, not {status_size!r}",
            details={"statusSize": status_size},
        )


# --- codec: BSL sections 3.3 and 3.4 --------------------------------------------------------


def encode_list(bits: Bitstring) -> str:
    """The ``encodedList`` of ``bits``: ``u`` + base64url, no padding, of the GZIP of the bytes.

    BSL section 3.3 step 3. The GZIP header carries no timestamp, so equal bitstrings encode
    to equal strings (stable ETags, reproducible list credentials).
    """
    compressed = gzip.compress(bits.to_bytes(), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_list(
    encoded: object,
    *,
    min_entries: int = MIN_ENTRIES,
    status_size: int = 1,
    max_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> Bitstring:
    """The bitstring of an ``encodedList`` (BSL section 3.4, and section 3.2 step 9).

    Accepts the multibase form (``u`` + base64url, no padding) and, for the W3C test suite's
    older fixtures and StatusList2021 lists, the same base64 without the multibase prefix
    (recognised by the GZIP magic, ``H4sI``). Inflation stops at ``max_bytes``.

    :param min_entries: entries of ``status_size`` bits the list must hold at least.
    :raises StatusError: ``STATUS_LIST_LENGTH_ERROR`` when the list holds fewer than
        ``min_entries`` entries; ``MALFORMED_VALUE_ERROR`` when it is not base64url, not GZIP,
        truncated, several GZIP members, or not a whole number of bytes;
        ``inputTooLarge`` when it inflates beyond ``max_bytes``.
    """
    compressed = _multibase_decode(encoded)
    data = _gunzip(compressed, max_bytes)
    _check_entries(len(data) * 8, status_size, min_entries)
    return Bitstring.from_bytes(data, min_length=8)


def _check_entries(bit_count: int, status_size: int, min_entries: int) -> None:
    """What :func:`decode_list` requires of an inflated list of ``bit_count`` bits."""
    _check_status_size(status_size)
    entries = bit_count // status_size
    if entries < min_entries:
        raise StatusError(
            f"the status list has {entries} entries, fewer than the {min_entries} required for "
            "herd privacy (Bitstring Status List section 3.2 step 9); the issuer must publish "
            "a longer list",
            code=ErrorCode.STATUS_LIST_LENGTH_ERROR,
            details={"entries": entries, "minimum": min_entries},
        )
    if not bit_count:
        raise _malformed("the encodedList inflates to an empty bitstring", "encodedList")


def _multibase_decode(encoded: object) -> bytes:
    if not isinstance(encoded, str) or not encoded:
        raise _malformed("encodedList must be a non-empty string", "encodedList")
    if encoded.startswith("u"):
        body = encoded[1:]
        if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
            raise _malformed(
                "encodedList is not multibase base64url without padding ('u' prefix, "
                "characters A-Z a-z 0-9 - _)",
                "encodedList",
            )
    elif encoded.startswith("H4sI"):
        # The pre-Recommendation form: base64 (url or standard alphabet) with no prefix.
        if not _LEGACY_BASE64.fullmatch(encoded):
            raise _malformed("encodedList is not base64", "encodedList")
        body = encoded.rstrip("=").replace("+", "-").replace("/", "_")
    else:
        raise _malformed(
            "encodedList must be multibase base64url (prefix 'u', Bitstring Status List "
            f"section 2.2), not a string starting with {encoded[:1]!r}",
            "encodedList",
        )
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _malformed("encodedList is not valid base64url", "encodedList") from exc


def _gunzip(compressed: bytes, max_bytes: int) -> bytes:
    """Inflate one GZIP member, refusing output beyond ``max_bytes`` before producing it."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    out = bytearray()
    pending = compressed
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise StatusError(
                    f"the status list inflates to more than {max_bytes} bytes; it was not read "
                    "further (a list this large is implausible and may be a compression bomb)",
                    code=ErrorCode.INPUT_TOO_LARGE,
                    details={"limit": max_bytes},
                )
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise _malformed(f"encodedList is not valid GZIP data ({exc})", "encodedList") from exc
    if not inflater.eof:
        raise _malformed("encodedList is truncated GZIP data", "encodedList")
    if inflater.unused_data:
        raise _malformed(
            "encodedList has data after its GZIP member; a list is one GZIP member",
            "encodedList",
        )
    return bytes(out)


# --- documents: BSL sections 2.1 and 2.2 ----------------------------------------------------


def status_entry(
    list_url: str,
    index: int,
    purpose: str,
    *,
    status_size: int = 1,
    status_message: Sequence[Mapping[str, str]] | None = None,
    status_reference: str | Sequence[str] | None = None,
) -> JSONObject:
    """A ``BitstringStatusListEntry`` for ``credentialStatus`` (BSL section 2.1).

    Its ``id`` is ``<list_url>#<index>``: unique per entry and, as the spec requires, not the
    list's URL. ``statusListIndex`` is written as a base-10 string.

    :param status_message: required when ``status_size`` > 1: one ``{"status": "0x..",
        "message": ..}`` per possible value, 2**status_size in all.
    :raises InvalidInputError: a negative index, a bad ``status_size``, or ``status_message``
        missing or of the wrong length.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInputError(f"statusListIndex must be an integer >= 0, not {index!r}")
    if not isinstance(purpose, str) or not purpose:
        raise InvalidInputError("statusPurpose must be a non-empty string")
    _check_status_size(status_size)
    entry: JSONObject = {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": str(purpose),
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
    if status_size != 1:
        entry["statusSize"] = status_size
    if status_message is not None or status_size > 1:
        if status_message is None or len(status_message) != 1 << status_size:
            raise InvalidInputError(
                f"statusMessage must list {1 << status_size} messages for statusSize "
                f"{status_size} (Bitstring Status List section 2.1)",
                details={"statusSize": status_size},
            )
        entry["statusMessage"] = [dict(item) for item in status_message]
    if status_reference is not None:
        entry["statusReference"] = (
            status_reference if isinstance(status_reference, str) else list(status_reference)
        )
    return entry


def status_list_credential(
    list_url: str,
    issuer: str,
    purpose: str | Sequence[str],
    bits: Bitstring | str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    *,
    ttl: timedelta | None = None,
) -> JSONObject:
    """An unsigned ``BitstringStatusListCredential`` (BSL section 2.2), ready for ``add_proof``.

    The credential's ``id`` is ``list_url`` (what entries name in ``statusListCredential``) and
    its subject's ``id`` is ``<list_url>#list``. The v2 base context defines every term.

    :param bits: the bitstring, or its ``encodedList`` as :func:`encode_list` (or the allocator)
        made it; a string is decoded once to check it.
    :param ttl: ``credentialSubject.ttl``, the refresh hint in milliseconds; publish the same
        value as the HTTP ``Cache-Control: max-age``.
    :raises StatusError: ``STATUS_LIST_LENGTH_ERROR`` for fewer than 131,072 entries.
    :raises DataModelError: the result breaks a VC Data Model rule (e.g. a relative URL).
    :raises ValueError: a naive datetime.
    """
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    if not purposes or not all(isinstance(item, str) and item for item in purposes):
        raise InvalidInputError("statusPurpose must be one or more non-empty strings")
    if isinstance(bits, Bitstring):
        if len(bits) < MIN_ENTRIES:
            raise StatusError(
                f"a published status list needs at least {MIN_ENTRIES} entries, not {len(bits)}",
                code=ErrorCode.STATUS_LIST_LENGTH_ERROR,
            )
        encoded = encode_list(bits)
    else:
        decode_list(bits)
        encoded = bits
    subject: JSONObject = {
        "id": f"{list_url}#list",
        "type": LIST_TYPE,
        "statusPurpose": purposes[0] if len(purposes) == 1 else purposes,
        "encodedList": encoded,
    }
    if ttl is not None:
        subject["ttl"] = int(ttl.total_seconds() * 1000)
    return build_credential(
        types=[LIST_CREDENTIAL_TYPE],
        issuer=issuer,
        subject=subject,
        valid_from=valid_from,
        valid_until=valid_until,
        credential_id=list_url,
    )


# --- validation: BSL section 3.2 ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """A parsed ``BitstringStatusListEntry`` (BSL section 2.1).

    :param messages: ``statusMessage`` as ``{status value: message}``; empty when absent.
    """

    list_url: str
    index: int
    purpose: str
    status_size: int = 1
    messages: Mapping[int, str] | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class StatusResult:
    """The status of one entry: BSL section 3.2 steps 11 to 15, plus where it came from.

    :param purpose: the entry's ``statusPurpose``.
    :param index: the entry's ``statusListIndex``.
    :param status: the entry's value (0 or 1 when ``statusSize`` is 1).
    :param set: whether the value is not 0: revoked, suspended, refresh available.
    :param message: the ``statusMessage`` text for the value, when the entry has messages.
    :param list_url: the ``statusListCredential`` read.
    :param list_issuer: the list credential's issuer.
    :param list_valid_until: the list credential's ``validUntil``, when it has one.
    :param fetched_at: when the list was retrieved (or seeded), set by the checker.
    :param age: ``now - fetched_at``: how old the status is, for offline verifiers.
    """

    purpose: str
    index: int
    status: int
    set: bool
    list_url: str
    list_issuer: str
    status_size: int = 1
    message: str | None = None
    list_valid_until: datetime | None = None
    fetched_at: datetime | None = None
    age: timedelta | None = None

    @property
    def valid(self) -> bool:
        """The spec's ``valid`` key (BSL section 3.2 step 13): true when the value is 0."""
        return not self.set


def credential_issuer(credential: Mapping[str, Any]) -> str:
    """The issuer id of a credential, whose ``issuer`` is a URL or an object with an ``id``.

    :raises StatusError: ``MALFORMED_VALUE_ERROR`` when there is no usable issuer.
    """
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise _malformed("the credential has no issuer URL (issuer or issuer.id)", "issuer")
    return issuer


def parse_status_entry(entry: object) -> StatusEntry:
    """Read a ``BitstringStatusListEntry``, checking every MUST of BSL section 2.1.

    :raises StatusError: ``STATUS_VERIFICATION_ERROR`` when the entry is of another type (this
        verifier cannot check it); ``MALFORMED_VALUE_ERROR`` for a property that breaks a MUST
        (``statusListIndex`` not a base-10 string, ``statusSize`` not a positive integer,
        ``statusMessage`` missing or of the wrong length, ...).
    """
    if not isinstance(entry, Mapping):
        raise _malformed("a credentialStatus entry must be a JSON object", "credentialStatus")
    types = entry.get("type")
    if types != ENTRY_TYPE:
        raise StatusError(
            f"credentialStatus type {types!r} is not {ENTRY_TYPE}; this verifier cannot check "
            "the status of such a credential",
            code=ErrorCode.STATUS_VERIFICATION_ERROR,
            details={"path": "credentialStatus.type", "type": str(types)[:80]},
        )
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise _malformed("statusPurpose must be a non-empty string", "statusPurpose")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not _DIGITS.fullmatch(raw_index):
        raise _malformed(
            'statusListIndex must be an integer >= 0 written as a base-10 string, e.g. "94567"',
            "statusListIndex",
        )
    if len(raw_index.lstrip("0")) > _MAX_INDEX_DIGITS:
        raise StatusError(
            "statusListIndex is larger than any status list this verifier reads",
            code=ErrorCode.RANGE_ERROR,
            details={"path": "statusListIndex"},
        )
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or "://" not in url:
        raise _malformed("statusListCredential must be a URL", "statusListCredential")
    size = entry.get("statusSize", 1)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise _malformed("statusSize must be an integer greater than zero", "statusSize")
    if size > _MAX_STATUS_SIZE:
        raise StatusError(
            f"statusSize {size} is larger than the {_MAX_STATUS_SIZE} bits this verifier reads",
            code=ErrorCode.RANGE_ERROR,
            details={"path": "statusSize"},
        )
    messages = _parse_messages(entry.get("statusMessage"), size)
    entry_id = entry.get("id")
    if entry_id is not None and (not isinstance(entry_id, str) or entry_id == url):
        raise _malformed("the entry id must be a URL other than statusListCredential", "id")
    return StatusEntry(
        list_url=url,
        index=int(raw_index),
        purpose=purpose,
        status_size=size,
        messages=messages,
        id=entry_id,
    )


def _parse_messages(value: object, size: int) -> Mapping[int, str] | None:
    if value is None:
        if size > 1:
            raise _malformed("statusMessage must be present when statusSize > 1", "statusMessage")
        return None
    if not isinstance(value, list) or len(value) != 1 << size:
        raise _malformed(
            f"statusMessage must be an array of {1 << size} entries for statusSize {size}",
            "statusMessage",
        )
    messages: dict[int, str] = {}
    for item in value:
        if not isinstance(item, Mapping):
            raise _malformed("each statusMessage entry must be an object", "statusMessage")
        status, message = item.get("status"), item.get("message")
        if not isinstance(status, str) or not _HEX_STATUS.fullmatch(status):
            raise _malformed(
                "statusMessage status must be a hex string like '0x1'", "statusMessage"
            )
        if not isinstance(message, str):
            raise _malformed("statusMessage message must be a string", "statusMessage")
        messages[int(status, 16)] = message
    return messages


def parse_status_entries(credential: Mapping[str, Any]) -> list[StatusEntry]:
    """The ``credentialStatus`` entries of a credential (an object or an array), parsed.

    :raises StatusError: as :func:`parse_status_entry`, for any entry.
    """
    value = credential.get("credentialStatus")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [parse_status_entry(item) for item in items]


def check_status(
    entry: StatusEntry | Mapping[str, Any],
    list_credential: Mapping[str, Any],
    *,
    issuer: str,
    now: datetime,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    min_entries: int = MIN_ENTRIES,
    max_bytes: int = DEFAULT_MAX_DECODED_BYTES,
    bits: Bitstring | None = None,
    fetched_at: datetime | None = None,
) -> StatusResult:
    """Read an entry's status from a list credential whose proofs the caller verified.

    BSL section 3.2, steps 5 to 15: the list is a ``BitstringStatusListCredential`` with a
    ``BitstringStatusList`` subject, valid at ``now`` (its ``validFrom``/``validUntil``, VC Data
    Model section 4.9), whose ``statusPurpose`` includes the entry's; its bitstring holds at
    least ``min_entries`` entries and the entry's index. Two checks go beyond the algorithm:
    the list's ``issuer`` must be ``issuer`` (the credential's), since the spec leaves trust in
    a different list issuer to the verifier (BSL section 3.2, note) and this project has no
    such trust rule; and a list credential ``id``, when present, must be the URL the entry
    names, so that one list of the issuer cannot stand in for another.

    :param issuer: the issuer of the credential being checked.
    :param bits: the bitstring :func:`decode_list` made of this list credential's
        ``encodedList`` earlier (a verifier's cache); it is then not decoded again, but its
        length is checked against ``min_entries`` and the entry's ``statusSize`` all the same.
    :param fetched_at: when the caller obtained the list: the result carries it and its age.
    :raises StatusError: ``STATUS_VERIFICATION_ERROR`` (not a status list, purpose mismatch,
        issuer mismatch, list id mismatch, list not valid at ``now``),
        ``STATUS_LIST_LENGTH_ERROR``, ``RANGE_ERROR``, ``MALFORMED_VALUE_ERROR``.
    """
    parsed = entry if isinstance(entry, StatusEntry) else parse_status_entry(entry)
    if not isinstance(list_credential, Mapping):
        raise _malformed("the status list credential must be a JSON object", "")
    types = list_credential.get("type")
    type_list = types if isinstance(types, list) else [types]
    if LIST_CREDENTIAL_TYPE not in type_list:
        raise _verification(
            f"the document at {parsed.list_url} is not a {LIST_CREDENTIAL_TYPE} (type "
            f"{types!r}); statusListCredential must name a status list credential",
            parsed,
            reason="notStatusList",
        )
    list_id = list_credential.get("id")
    if list_id is not None and list_id != parsed.list_url:
        raise _verification(
            f"the status list credential's id {list_id!r} is not the URL the entry names",
            parsed,
            reason="listIdMismatch",
        )
    list_issuer = credential_issuer(list_credential)
    if list_issuer != issuer:
        raise _verification(
            f"the status list is issued by {list_issuer}, not by the credential's issuer "
            f"{issuer}; only the credential's issuer may state its status here",
            parsed,
            reason="issuerMismatch",
        )
    try:
        check_validity_period(list_credential, now=now, max_clock_skew=max_clock_skew)
    except DataModelError as exc:
        raise _verification(
            f"the status list credential is not valid now: {exc.message}",
            parsed,
            reason=str(exc.details.get("reason", "validityPeriod")),
        ) from exc
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise _malformed(
            "the status list's credentialSubject must be one object", "credentialSubject"
        )
    if subject.get("type") != LIST_TYPE:
        raise _verification(
            f"the status list's credentialSubject type is {subject.get('type')!r}, not {LIST_TYPE}",
            parsed,
            reason="notStatusList",
        )
    purposes = subject.get("statusPurpose")
    purpose_list = purposes if isinstance(purposes, list) else [purposes]
    if not purpose_list or not all(isinstance(item, str) for item in purpose_list):
        raise _malformed(
            "the status list's statusPurpose must be one or more strings", "statusPurpose"
        )
    if parsed.purpose not in purpose_list:
        raise _verification(
            f"the entry's statusPurpose {parsed.purpose!r} is not a purpose of the status list "
            f"({', '.join(map(str, purpose_list))})",
            parsed,
            reason="purposeMismatch",
        )
    list_size = subject.get("statusSize")
    if list_size is not None and list_size != parsed.status_size:
        raise _verification(
            f"the entry's statusSize {parsed.status_size} differs from the list's {list_size!r}",
            parsed,
            reason="statusSizeMismatch",
        )
    if bits is None:
        bits = decode_list(
            subject.get("encodedList"),
            min_entries=min_entries,
            status_size=parsed.status_size,
            max_bytes=max_bytes,
        )
    else:
        _check_entries(len(bits), parsed.status_size, min_entries)
    status = bits.get_status(parsed.index, parsed.status_size)
    message = None if parsed.messages is None else parsed.messages.get(status)
    end = list_credential.get("validUntil")
    return StatusResult(
        purpose=parsed.purpose,
        index=parsed.index,
        status=status,
        set=status != 0,
        status_size=parsed.status_size,
        message=message,
        list_url=parsed.list_url,
        list_issuer=list_issuer,
        list_valid_until=_parse_end(end),
        fetched_at=fetched_at,
        age=None if fetched_at is None else now - fetched_at,
    )


def _parse_end(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None


def _verification(message: str, entry: StatusEntry, *, reason: str) -> StatusError:
    return StatusError(
        message,
        code=ErrorCode.STATUS_VERIFICATION_ERROR,
        details={"statusListCredential": entry.list_url, "reason": reason},
    )


def _malformed(message: str, path: str) -> StatusError:
    return StatusError(message, code=ErrorCode.MALFORMED_VALUE_ERROR, details={"path": path})
