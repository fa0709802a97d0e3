"""The emergency card: an SD-JWT presentation packed losslessly into ONE QR code (``HM1:``).

An emergency card is a presentation of the hospital-signed EmergencySummary SD-JWT VC with the
sections the citizen chose, verified offline by an emergency department. SMART Health Cards
fit a JWS in one QR code of version 22 at error correction level L (1,195 JWS characters, two
digits each in numeric mode); a six-section summary is 1,844 to 2,277 characters as text
(QR versions 32 to 35), so the text itself does not fit. :func:`encode_emergency_qr` packs it
instead, and :func:`decode_emergency_qr` gives back the original SD-JWT string byte for byte,
so the signatures are checked over exactly what the hospital and the citizen signed.

**The format, version 1** (``HM1:`` followed by decimal digits)::

    HM1:<digits( rawDEFLATE( CBOR( pack ), dictionary=ZDICT ) )>

    pack     = [jws, [disclosure, ...], jws / null]        ; the SD-JWT, then its KB-JWT
    jws      = [header, payload, signature, [gap, source, gap, source, ...]]
    header, payload, signature, disclosure: CBOR byte strings, each the base64url-decoded part

1. The SD-JWT (``<JWT>~<D1>~...~<Dn>~<KB-JWT or nothing>``) is split into its parts and each
   base64url part is decoded to its bytes (the JSON of the header, payload and Disclosures, the
   raw signature): base64url costs a third more, and DEFLATE cannot undo that.
2. Digests that can be recomputed are cut out of the payloads: each ``_sd`` digest of a
   Disclosure that travels with the card (SHA-256 of the Disclosure's base64url text, RFC 9901
   section 4.2.3) and the KB-JWT's ``sd_hash`` (SHA-256 of the SD-JWT before it, section
   4.3.1). Random bytes do not compress, so this alone saves 32 bytes per section. The list
   after each JWS says where to put them back: ``gap`` bytes of the cut payload after the
   previous insertion, then the digest of ``source`` (Disclosure ``source``, or the SD-JWT
   itself when ``source`` is the number of Disclosures, KB-JWT only). Anything that is not such
   a digest stays as it is; other ``_sd_alg`` values simply save nothing.
3. The pack is CBOR (RFC 8949: unsigned integers, byte strings, arrays, null) compressed with
   raw DEFLATE (RFC 1951) over a fixed preset dictionary (:data:`ZDICT`: the JOSE headers, the
   EmergencySummary ``vct``, the claim and section names, the KB-JWT claims). The dictionary is
   part of version 1 and never changes; a different one needs ``HM2:``.
4. The compressed bytes become digits as QR numeric mode stores them best: each 7 bytes as
   one 17-digit number (2^56 < 10^17), a last group of 1 to 6 bytes as 3, 5, 8, 10, 13 or 15
   digits. Numeric mode stores 3 digits in 10 bits, so this costs 8.10 bits per byte.

The QR code is two segments: ``HM1:`` in alphanumeric mode and the digits in numeric mode
(:func:`qr_segments`); a scanner returns the text ``HM1:0123...``.

**Measured** (``tests/emergency/test_card.py`` prints these): every section disclosed; a
did:web issuer with its ``#z6Mk...`` key id, a Token Status List ``status``, ``cnf`` and the
KB-JWT (in brackets: a credential without ``cnf``, so no KB-JWT); QR version at level L, where
22 is the SHC limit; random salts and keys move the sizes by a few bytes from run to run:

::

    bundle (sections)                        SD-JWT text     compressed    digits         version
    IPS bundle-minimal.json (3)              1,676 (1,243)   552 (410) B   1,341 (996)    16 (13)
    IPS bundle-no-info-required-sect. (1)    1,194 (762)     389 (245) B     945 (595)    13 (10)
    ips-emergency-bundle.json (6)            2,277 (1,844)   680 (538) B   1,652 (1,307)  18 (16)

As plain text in byte mode the same cards need versions 30, 25 and 35. For the six-section card
without the digest cuts the pack compresses to 930 bytes (version 22, no margin), without the
dictionary to 1,030 (version 23), without either to 1,265 (version 26): both are needed.
Alphanumeric base45 (RFC 9285) needs 8.25 bits per byte against these digits' 8.10; at these sizes
it gives the same versions (16, 13, 18) and never a smaller one, so numeric mode it is, as in
SMART Health Cards. In SHC terms the limit is 2,390 digits (1,195 characters times two,
:data:`MAX_DIGITS`): the six-section card uses 1,652, as much as an 826-character SHC.

**Expiry: a Key Binding JWT the holder signs.** The citizen chooses how long a card is valid,
but the issuer's ``exp`` is signed by the hospital and the wallet cannot change it. An expiry
the wallet wrote anywhere unsigned could be changed or removed by whoever holds the card, so it
is carried in the one place the holder signs: a Key Binding JWT (RFC 9901 section 4.3) made
when the card is made (no nonce exists, since the emergency department is offline; the patient
may be unconscious, so it cannot be made at the scene), with ``aud`` :data:`EMERGENCY_AUDIENCE`,
``nonce`` :data:`EMERGENCY_NONCE`, ``iat`` and ``exp``, signed with the key of the
credential's ``cnf`` (:func:`bind_emergency_card`). Its ``sd_hash`` also fixes the chosen
sections: nobody can drop the allergies from a card and pass on the rest (absence means "no
information" to the doctor). It costs about 140 bytes after compression (``cnf`` and the
KB-JWT; the table), two or three QR versions: even six sections fit. The alternative, the
issuer's ``exp`` alone, lets the citizen choose nothing.

A verifier therefore (``mydata er scan``):

1. ``sd_jwt = decode_emergency_qr(text)``;
2. ``verify_sd_jwt(sd_jwt, issuer_key_resolver=<offline resolver>, now=now,
   require_key_binding="cnf" in <the issuer JWT payload>, expected_aud=EMERGENCY_AUDIENCE,
   expected_nonce=EMERGENCY_NONCE, max_kb_age=MAX_CARD_LIFETIME)``: a card whose credential has
   a holder key must carry the KB-JWT, or removing it would remove the citizen's expiry;
3. refuses the card when :func:`card_expiry` is in the past.

Errors are :class:`agent.errors.InvalidInputError`: ``emergencyQrUnsupported`` (not ``HM1:``;
``details['reason']`` ``prefix`` or ``version``), ``emergencyQrMalformed`` (garbled or
truncated; ``details['reason']`` says where), ``inputTooLarge`` (over :data:`MAX_QR_DIGITS`
digits, or a DEFLATE stream that inflates past :data:`MAX_PACKED_BYTES`: a decompression bomb)
and, when encoding, ``emergencyCardUnencodable`` (not a compact SD-JWT whose base64url parts
round-trip). Messages never quote the content: it is health data.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn

from agent.credentials.jose import (
    b64url_decode,
    b64url_encode,
    decode_jws,
    key_from_jwk,
    sign_jws,
)
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError, ProofError
from agent.keys.signer import Signer

__all__ = [
    "EMERGENCY_AUDIENCE",
    "EMERGENCY_NONCE",
    "EMERGENCY_SUMMARY_VCT",
    "MAX_CARD_LIFETIME",
    "MAX_DIGITS",
    "MAX_PACKED_BYTES",
    "MAX_QR_DIGITS",
    "MAX_QR_VERSION",
    "PREFIX",
    "ZDICT",
    "bind_emergency_card",
    "card_expiry",
    "decode_emergency_qr",
    "encode_emergency_qr",
    "qr_segments",
]

#: The text before the digits: the format and its version. QR alphanumeric mode (upper case).
PREFIX: Final = "HM1:"
#: The largest QR version of a card: SMART Health Cards' single-QR limit (at level L).
MAX_QR_VERSION: Final = 22
#: Digits that fit version 22 at level L after the prefix: SHC's 1,195 characters times two.
MAX_DIGITS: Final = 2 * 1195
#: The most digits :func:`decode_emergency_qr` reads: numeric capacity of version 40 at L.
MAX_QR_DIGITS: Final = 7089
#: The most bytes a card inflates to; more is a decompression bomb, not a card.
MAX_PACKED_BYTES: Final = 32 * 1024
#: ``vct`` of the EmergencySummary SD-JWT VC (``issuer.templates``).
EMERGENCY_SUMMARY_VCT: Final = "https://w3id.org/health-mydata/vct/EmergencySummary/v1"
#: ``aud`` of an emergency card's Key Binding JWT: any emergency department.
EMERGENCY_AUDIENCE: Final = "emergency"
#: ``nonce`` of an emergency card's Key Binding JWT: fixed, since the verifier is offline.
EMERGENCY_NONCE: Final = "emergency-card"
#: The longest lifetime a citizen may give a card; verifiers pass it as ``max_kb_age``.
MAX_CARD_LIFETIME: Final = timedelta(days=5 * 366)

# QR mode indicators (ISO/IEC 18004 table 2), as segno numbers them.
_MODE_NUMERIC: Final = 1
_MODE_ALPHANUMERIC: Final = 2

#: The preset DEFLATE dictionary of version 1 (RFC 1950 FDICT, here with raw DEFLATE): strings
#: an emergency card is likely to repeat, the most frequent last (shortest distances). Frozen:
#: changing one byte changes the meaning of every HM1 card.
ZDICT: Final = b"".join(
    (
        b'{"alg":"ES256","typ":"kb+jwt"}{"alg":"ES256","typ":"dc+sd-jwt","kid":"did:web:',
        b'"cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"","y":"',
        b'"ln|"icd10|"icd10cm|"rxn|"cvx|"ucum|"ips-absent|Rh(D) negative"}',
        b'Blood group O Rh(D) positive"}Blood group B Rh(D) positive"}Blood group AB ',
        b'"severity": "severe"}, "severity": "moderate"}, "severity": "mild"}, ',
        b'"criticality": "low"}, "criticality": "unable-to-assess"}, ',
        b'", "emergencyContact", [{"name": "", "phone": "+',
        b'", "advanceDirective", {"code": "sct|", "text": "", "provision": "permit", ',
        b'"provision": "deny", "date": "20',
        b'", "bloodType", {"code": "sct|", "text": "Blood group A Rh(D) positive"}]',
        b'", "medications", [{"code": "atc|", "text": "", "dose": " mg 1/d"}, {"code": "',
        b'", "problems", [{"code": "sct|", "text": "',
        b'", "allergies", [{"code": "sct|", "text": "", "criticality": "high"}, {"code": "sct|',
        b'{"iat":17,"exp":17,"aud":"emergency","nonce":"emergency-card","sd_hash":""}',
        b'{"alg":"EdDSA","typ":"kb+jwt"}',
        b'{"iss":"did:web:","iat":17,"exp":17,',
        b'"vct":"https://w3id.org/health-mydata/vct/EmergencySummary/v1",',
        b'"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":""}},',
        b'"status":{"status_list":{"idx":1,"uri":"https://hospital/status-lists/1/token"}},',
        b'"_sd":["","","","","",""],"_sd_alg":"sha-256"}',
        b'{"alg":"EdDSA","typ":"dc+sd-jwt","kid":"did:web:',
    )
)

_SEPARATOR: Final = "~"
# Digits of each last group of 1 to 6 bytes (len(str(256**r - 1))), and back.
_GROUP_BYTES: Final = 7
_GROUP_DIGITS: Final = 17
_TAIL_DIGITS: Final = (0, 3, 5, 8, 10, 13, 15)
_TAIL_BYTES: Final = {digits: count for count, digits in enumerate(_TAIL_DIGITS)}
_DIGEST_LENGTH: Final = 43  # base64url of 32 bytes (SHA-256)
_HASHES: Final[dict[str, Callable[[bytes], Any]]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
_DECIMAL: Final = frozenset("0123456789")


# --- errors ----------------------------------------------------------------------------------


def _malformed(message: str, reason: str) -> NoReturn:
    raise InvalidInputError(
        f"not a readable emergency card: {message}; scan it again or ask for a new card",
        code=ErrorCode.EMERGENCY_QR_MALFORMED,
        details={"reason": reason},
    )


def _unencodable(message: str, part: str, reason: str) -> NoReturn:
    raise InvalidInputError(
        f"cannot pack this SD-JWT into an emergency card: {message}",
        code=ErrorCode.EMERGENCY_CARD_UNENCODABLE,
        details={"part": part, "reason": reason},
    )


# --- digits ----------------------------------------------------------------------------------


def _to_digits(data: bytes) -> str:
    """Bytes as decimal digits: 7-byte groups as 17 digits, the last 1 to 6 bytes shorter."""
    out = []
    for start in range(0, len(data), _GROUP_BYTES):
        group = data[start : start + _GROUP_BYTES]
        width = _GROUP_DIGITS if len(group) == _GROUP_BYTES else _TAIL_DIGITS[len(group)]
        out.append(str(int.from_bytes(group, "big")).zfill(width))
    return "".join(out)


def _from_digits(digits: str) -> bytes:
    """The inverse of :func:`_to_digits`; refuses lengths and group values it never makes."""
    full, tail = divmod(len(digits), _GROUP_DIGITS)
    if tail not in _TAIL_BYTES:
        _malformed("the number of digits is not one a card can have (cut off?)", "length")
    out = bytearray()
    widths = [(_GROUP_DIGITS, _GROUP_BYTES)] * full
    if tail:
        widths.append((tail, _TAIL_BYTES[tail]))
    position = 0
    for width, count in widths:
        value = int(digits[position : position + width])
        position += width
        if value >= 1 << (8 * count):
            _malformed("a group of digits is out of range", "digitGroup")
        out += value.to_bytes(count, "big")
    return bytes(out)


# --- a strict CBOR subset (RFC 8949): unsigned integers, byte strings, arrays, null ----------


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")  # pragma: no cover - sizes are capped


def _cbor(value: object) -> bytes:
    if value is None:
        return b"\xf6"
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, int):
        return _cbor_head(0, value)
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(_cbor(item) for item in value)
    raise TypeError(type(value).__name__)  # pragma: no cover - only called on packs


class _CborReader:
    __slots__ = ("data", "position")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def _take(self, count: int) -> bytes:
        end = self.position + count
        if end > len(self.data):
            _malformed("the packed SD-JWT ends early", "cbor")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def _head(self) -> tuple[int, int]:
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info
        if info > 27:
            _malformed("the packed SD-JWT uses CBOR this format does not", "cbor")
        return major, int.from_bytes(self._take(1 << (info - 24)), "big")

    def uint(self) -> int:
        major, value = self._head()
        if major != 0:
            _malformed("an integer was expected in the packed SD-JWT", "cbor")
        return value

    def bytes_(self) -> bytes:
        major, length = self._head()
        if major != 2:
            _malformed("a byte string was expected in the packed SD-JWT", "cbor")
        return self._take(length)

    def array(self) -> int:
        major, length = self._head()
        if major != 4:
            _malformed("an array was expected in the packed SD-JWT", "cbor")
        # Every element takes at least one byte: a longer claim is garbage, not a bomb.
        if length > len(self.data) - self.position:
            _malformed("an array is longer than the packed SD-JWT", "cbor")
        return length

    def null(self) -> bool:
        """Consume a CBOR null if one comes next."""
        if self.data[self.position : self.position + 1] == b"\xf6":
            self.position += 1
            return True
        return False


# --- pack and unpack -------------------------------------------------------------------------


def _b64_part(text: str, part: str) -> bytes:
    try:
        data = b64url_decode(text, part)
    except HealthMyDataError:
        _unencodable(f"the {part} is not base64url", part, "notBase64url")
    if b64url_encode(data) != text:
        _unencodable(
            f"the {part} is not canonical base64url (non-zero trailing bits), so its bytes would "
            "not give back the same text and its signature would no longer verify",
            part,
            "notCanonical",
        )
    return data


def _digest(data: bytes) -> str:
    return b64url_encode(hashlib.sha256(data).digest())


def _cut_digests(payload: bytes, digests: Sequence[str]) -> tuple[bytes, list[int]]:
    """``payload`` without the digests it contains, and ``[gap, source, ...]`` to restore it."""
    found = []
    for source, digest in enumerate(digests):
        at = payload.find(digest.encode("ascii"))
        if at >= 0:
            found.append((at, source))
    found.sort()
    kept, positions, previous = [], [], 0
    for at, source in found:
        if at < previous:  # Overlapping matches: keep the first (never so in an SD-JWT).
            continue
        kept.append(payload[previous:at])
        positions += [at - previous, source]
        previous = at + _DIGEST_LENGTH
    kept.append(payload[previous:])
    return b"".join(kept), positions


def _pack_jws(text: str, part: str, digests: Sequence[str]) -> list[Any]:
    pieces = text.split(".")
    if len(pieces) != 3:
        _unencodable(f"the {part} is not a compact JWS (three parts)", part, "notJws")
    header = _b64_part(pieces[0], part)
    payload = _b64_part(pieces[1], part)
    signature = _b64_part(pieces[2], part)
    cut, positions = _cut_digests(payload, digests)
    return [header, cut, signature, positions]


def encode_emergency_qr(sd_jwt_text: str) -> str:
    """The QR text of an SD-JWT or SD-JWT+KB: ``HM1:`` and digits (the module docstring).

    Lossless for any compact SD-JWT whose base64url parts are canonical: the result decodes to
    ``sd_jwt_text`` byte for byte, which this function checks before returning.

    :raises InvalidInputError: ``emergencyCardUnencodable`` when it is not a compact SD-JWT
        (``<JWT>~<Disclosures>~[KB-JWT]``) of ASCII base64url parts that round-trip.
    """
    if not isinstance(sd_jwt_text, str) or not sd_jwt_text.isascii():
        _unencodable("an SD-JWT is an ASCII string", "sdJwt", "notAscii")
    parts = sd_jwt_text.split(_SEPARATOR)
    if len(parts) < 2 or not parts[0]:
        _unencodable("not '<JWT>~<Disclosures>~[KB-JWT]'", "sdJwt", "notSdJwt")
    disclosures = parts[1:-1]
    if any(not disclosure for disclosure in disclosures):
        _unencodable("an empty Disclosure ('~~')", "disclosure", "empty")
    digests = [_digest(d.encode("ascii")) for d in disclosures]
    packed_disclosures = [_b64_part(d, "disclosure") for d in disclosures]
    issuer = _pack_jws(parts[0], "issuerJwt", digests)
    kb = None
    if parts[-1]:
        sd_hash = _digest(sd_jwt_text[: len(sd_jwt_text) - len(parts[-1])].encode("ascii"))
        kb = _pack_jws(parts[-1], "keyBindingJwt", [*digests, sd_hash])
    packed = _cbor([issuer, packed_disclosures, kb])
    if len(packed) > MAX_PACKED_BYTES:
        raise InvalidInputError(
            f"the SD-JWT packs to {len(packed)} bytes, over the {MAX_PACKED_BYTES} a card may "
            "inflate to; no QR code holds that much",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "packedTooLarge", "bytes": len(packed)},
        )
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    digits = _to_digits(compressor.compress(packed) + compressor.flush())
    # Checked below the QR size limit, which is the caller's to apply (wallet.emergency).
    if _unpack(_inflate(_from_digits(digits))) != sd_jwt_text:  # pragma: no cover - a bug
        raise AssertionError("the emergency card does not round-trip")
    return PREFIX + digits


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-15, ZDICT)
    try:
        out = inflater.decompress(data, MAX_PACKED_BYTES + 1)
    except zlib.error:
        _malformed("the compressed data is corrupt", "deflate")
    if len(out) > MAX_PACKED_BYTES or inflater.unconsumed_tail:
        raise InvalidInputError(
            f"the card inflates to more than {MAX_PACKED_BYTES} bytes: a decompression bomb, "
            "not an emergency card",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "inflatesTooLarge", "limit": MAX_PACKED_BYTES},
        )
    if not inflater.eof:
        _malformed("the compressed data ends early (cut off?)", "truncated")
    if inflater.unused_data:
        _malformed("there is data after the end of the compressed data", "trailingData")
    return out


def _restore(cut: bytes, positions: list[int], sources: Sequence[str]) -> bytes:
    out, previous = [], 0
    for index in range(0, len(positions), 2):
        gap, source = positions[index], positions[index + 1]
        if previous + gap > len(cut) or source >= len(sources):
            _malformed("a digest position is out of range", "digestPosition")
        out += [cut[previous : previous + gap], sources[source].encode("ascii")]
        previous += gap
    out.append(cut[previous:])
    return b"".join(out)


def _read_jws(reader: _CborReader) -> tuple[bytes, bytes, bytes, list[int]]:
    if reader.array() != 4:
        _malformed("a JWS is not [header, payload, signature, digests]", "structure")
    header, payload, signature = reader.bytes_(), reader.bytes_(), reader.bytes_()
    count = reader.array()
    if count % 2:
        _malformed("the digest positions are not pairs", "structure")
    return header, payload, signature, [reader.uint() for _ in range(count)]


def _jws_text(jws: tuple[bytes, bytes, bytes, list[int]], sources: Sequence[str]) -> str:
    header, cut, signature, positions = jws
    payload = _restore(cut, positions, sources)
    return ".".join(b64url_encode(piece) for piece in (header, payload, signature))


def _unpack(pack: bytes) -> str:
    """The SD-JWT of an inflated pack."""
    reader = _CborReader(pack)
    if reader.array() != 3:
        _malformed("the pack is not [issuer JWT, Disclosures, KB-JWT]", "structure")
    issuer = _read_jws(reader)
    disclosures = [b64url_encode(reader.bytes_()) for _ in range(reader.array())]
    kb = None if reader.null() else _read_jws(reader)
    if reader.position != len(reader.data):
        _malformed("there is data after the packed SD-JWT", "trailingData")
    digests = [_digest(d.encode("ascii")) for d in disclosures]
    sd_jwt = _SEPARATOR.join((_jws_text(issuer, digests), *disclosures, ""))
    if kb is None:
        return sd_jwt
    return sd_jwt + _jws_text(kb, [*digests, _digest(sd_jwt.encode("ascii"))])


def decode_emergency_qr(text: str) -> str:
    """The SD-JWT (or SD-JWT+KB) an emergency card's QR text holds, exactly as it was signed.

    Nothing is verified here: pass the result to
    :func:`agent.credentials.sd_jwt.verify_sd_jwt` (the module docstring says how).

    :raises InvalidInputError: ``emergencyQrUnsupported`` (not ``HM1:``), ``emergencyQrMalformed``
        (garbled, truncated, trailing data), ``inputTooLarge`` (too many digits, or a
        decompression bomb).
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"an emergency card is text, got {type(text).__name__}",
            code=ErrorCode.EMERGENCY_QR_MALFORMED,
            details={"reason": "notText"},
        )
    if not text.startswith(PREFIX):
        is_version = text[:2] == "HM" and text[2:3].isdigit()
        raise InvalidInputError(
            "this is an emergency card of a newer format; update the verifier"
            if is_version
            else "not an emergency card: the text does not start with 'HM1:'",
            code=ErrorCode.EMERGENCY_QR_UNSUPPORTED,
            details={"reason": "version" if is_version else "prefix"},
        )
    digits = text[len(PREFIX) :]
    if len(digits) > MAX_QR_DIGITS:
        raise InvalidInputError(
            f"the card has {len(digits)} digits; no QR code holds more than {MAX_QR_DIGITS}",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "textTooLong", "limit": MAX_QR_DIGITS},
        )
    if not _DECIMAL.issuperset(digits):
        _malformed("after 'HM1:' there must be only the digits 0-9", "notDigits")
    return _unpack(_inflate(_from_digits(digits)))


def qr_segments(text: str) -> list[tuple[str, int]]:
    """The QR segments of a card's text for ``segno.make``: the prefix, then numeric digits.

    One alphanumeric segment would store each digit in 5.5 bits instead of 3.33.

    :raises InvalidInputError: ``emergencyQrUnsupported`` when ``text`` is not ``HM1:...``.
    """
    if not text.startswith(PREFIX):
        raise InvalidInputError(
            "not an emergency card: the text does not start with 'HM1:'",
            code=ErrorCode.EMERGENCY_QR_UNSUPPORTED,
            details={"reason": "prefix"},
        )
    return [(PREFIX, _MODE_ALPHANUMERIC), (text[len(PREFIX) :], _MODE_NUMERIC)]


# --- the card's Key Binding JWT --------------------------------------------------------------


def _numeric_date(value: datetime, name: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime")
    return int(value.timestamp())


def _issuer_payload(presentation: str) -> dict[str, Any]:
    _, payload, _, _ = decode_jws(presentation.split(_SEPARATOR, 1)[0], "issuerJwt")
    return payload


def bind_emergency_card(
    presentation: str, holder_signer: Signer, *, iat: datetime, exp: datetime
) -> str:
    """Append the card's Key Binding JWT: ``aud`` :data:`EMERGENCY_AUDIENCE`, ``nonce``
    :data:`EMERGENCY_NONCE`, ``iat``, ``exp`` (the citizen's expiry) and ``sd_hash``.

    :param presentation: an SD-JWT presentation without a KB-JWT (ends with ``~``) whose
        issuer-signed JWT has ``cnf.jwk``.
    :param holder_signer: the key of ``cnf.jwk``; checked by verifying the KB-JWT with it.
    :raises InvalidInputError: the presentation has a KB-JWT already, bad times, or ``exp`` is
        not after ``iat`` or more than :data:`MAX_CARD_LIFETIME` after it.
    :raises ProofError: ``sdJwtKeyBindingMissing`` when the SD-JWT has no ``cnf.jwk``;
        ``PROOF_VERIFICATION_ERROR`` when ``holder_signer`` is not that key.
    :raises CryptosuiteError: a malformed SD-JWT, or a signer algorithm other than EdDSA/ES256.
    """
    if not presentation.endswith(_SEPARATOR):
        raise InvalidInputError(
            "the presentation has a Key Binding JWT already (it must end with '~')"
        )
    issued, expires = _numeric_date(iat, "iat"), _numeric_date(exp, "exp")
    if not issued < expires <= issued + int(MAX_CARD_LIFETIME.total_seconds()):
        raise InvalidInputError(
            f"a card's expiry must be after it is made and at most {MAX_CARD_LIFETIME.days} "
            "days later",
            details={"reason": "lifetime"},
        )
    payload = _issuer_payload(presentation)
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise ProofError(
            "the credential has no holder key (cnf.jwk), so the card cannot carry a signed "
            "expiry; ask the hospital to issue it bound to your key",
            code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
            details={"part": "issuerJwt", "reason": "noHolderKey"},
        )
    hash_fn = _HASHES.get(str(payload.get("_sd_alg", "sha-256")))
    if hash_fn is None:
        raise InvalidInputError("the SD-JWT's _sd_alg is not supported")
    claims = {
        "iat": issued,
        "exp": expires,
        "aud": EMERGENCY_AUDIENCE,
        "nonce": EMERGENCY_NONCE,
        "sd_hash": b64url_encode(hash_fn(presentation.encode("ascii")).digest()),
    }
    kb = sign_jws({"alg": holder_signer.algorithm, "typ": "kb+jwt"}, claims, holder_signer)
    _, _, signing_input, signature = decode_jws(kb, "keyBindingJwt")
    try:
        key_from_jwk(cnf["jwk"], "cnf").verify(
            holder_signer.algorithm, signing_input, signature, "keyBindingJwt"
        )
    except ProofError as exc:
        raise ProofError(
            "the holder signer is not the key the credential is bound to (cnf.jwk)",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"part": "keyBindingJwt", "reason": "holderKeyMismatch"},
        ) from exc
    return presentation + kb


def card_expiry(presentation: str) -> datetime | None:
    """When a card expires: the earlier of the issuer's ``exp`` and its KB-JWT's ``exp``.

    Reads without verifying: call it on a presentation :func:`verify_sd_jwt` accepted.
    ``None`` when neither has an ``exp`` (a card of a credential without holder key and
    without expiry: valid until the hospital revokes it).

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` for a part that is not a JWS.
    """
    found = [_issuer_payload(presentation).get("exp")]
    kb = presentation.rsplit(_SEPARATOR, 1)[-1]
    if kb:
        found.append(decode_jws(kb, "keyBindingJwt")[1].get("exp"))
    times = [float(t) for t in found if isinstance(t, int | float) and not isinstance(t, bool)]
    return datetime.fromtimestamp(min(times), UTC) if times else None
