"""DIDComm encrypted messages: JWE JSON serialization (``application/didcomm-encrypted+json``).

DIDComm Messaging v2, section "Message Encryption":

* anoncrypt is ``ECDH-ES+A256KW`` (RFC 7518 section 4.6) with ``A256CBC-HS512``, ``A256GCM``
  or ``XC20P`` content encryption;
* authcrypt is ``ECDH-1PU+A256KW`` (draft-madden-jose-ecdh-1pu-04) with ``A256CBC-HS512``
  only: the draft mandates AES-CBC-HMAC, and the content ``tag`` is an input of the key
  derivation (``cc_tag``, section 2.3), so the content is encrypted first and the CEK wrapped
  afterwards. askar does not enforce this pairing; :func:`encrypt_jwe` and
  :func:`decrypt_jwe` do;
* ``epk``, ``apu``, ``apv`` and ``alg`` are common to all recipients and protected (section
  "ECDH-1PU key wrapping and common protected headers"); ``apv`` is
  base64url(SHA-256(the recipients' ``kid`` values, sorted, joined with ``.``)); for authcrypt,
  ``skid`` is the sender's key id and ``apu`` is base64url(``skid``), and a recipient must be
  able to find the sender from ``apu`` when ``skid`` is absent;
* keys are X25519, P-256 or P-384 (section "Curves and Content Encryption Algorithms"); P-521 is
  listed for key wrapping but askar 0.5.0 lacks it (see :mod:`agent.messaging._askar`).

Refused on input, because they are not part of the DIDComm profile and would change what is
authenticated or how: a shared ``unprotected`` header, an ``aad`` member, ``crit``, ``zip``,
per-recipient header parameters other than ``kid``, duplicate ``kid`` values, ``skid`` in an
anoncrypt header, and the JOSE key-carrying parameters (``jku``, ``jwk``, ``x5u``, ``x5c``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from agent.errors import ErrorCode, MessagingError
from agent.messaging._askar import (
    JoseKey,
    decrypt_content,
    encrypt_content,
    unwrap_1pu,
    unwrap_es,
    wrap_1pu,
    wrap_es,
)
from agent.messaging._common import (
    ENCRYPTED_TYP,
    b64url_decode,
    b64url_encode,
    did_of_kid,
    dumps,
    loads,
    malformed,
    require_object,
    same_media_type,
)
from agent.messaging.keys import DIDCommResolver, RecipientKeys, resolve_public_key
from agent.types import JSONObject

__all__ = [
    "MAX_RECIPIENTS",
    "ContentEncryption",
    "DecryptedJwe",
    "KeyWrapping",
    "content_encryption",
    "decrypt_jwe",
    "encrypt_jwe",
    "recipients_apv",
]


class ContentEncryption(StrEnum):
    """Content encryption algorithms (JOSE ``enc``) DIDComm allows."""

    A256CBC_HS512 = "A256CBC-HS512"
    A256GCM = "A256GCM"
    XC20P = "XC20P"


class KeyWrapping(StrEnum):
    """Key agreement with key wrapping (JOSE ``alg``): anoncrypt and authcrypt."""

    ECDH_ES_A256KW = "ECDH-ES+A256KW"
    ECDH_1PU_A256KW = "ECDH-1PU+A256KW"


#: The most recipients one JWE may list; each is a key lookup when unpacking.
MAX_RECIPIENTS: Final = 256

# Nonce and tag lengths of each content algorithm (RFC 7518 5.2.5 and 5.3; draft-amringer XC20P).
_LENGTHS: Final[dict[ContentEncryption, tuple[int, int]]] = {
    ContentEncryption.A256CBC_HS512: (16, 32),
    ContentEncryption.A256GCM: (12, 16),
    ContentEncryption.XC20P: (24, 16),
}
_REFUSED_HEADERS: Final = frozenset({"crit", "zip", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"})
_GENERAL_MEMBERS: Final = frozenset({"protected", "recipients", "iv", "ciphertext", "tag"})
_FLATTENED_MEMBERS: Final = frozenset(
    {"protected", "header", "encrypted_key", "iv", "ciphertext", "tag"}
)


@dataclass(frozen=True, slots=True)
class DecryptedJwe:
    """A JWE opened with one of our keys.

    :param plaintext: the decrypted content (a DIDComm message or an inner envelope).
    :param alg: anoncrypt (``ECDH-ES+A256KW``) or authcrypt (``ECDH-1PU+A256KW``).
    :param enc: the content encryption algorithm.
    :param recipient_kid: our key that opened it.
    :param sender_kid: the authcrypt sender's key (``skid``), ``None`` for anoncrypt.
    :param recipient_kids: every recipient ``kid`` the JWE lists.
    """

    plaintext: bytes
    alg: KeyWrapping
    enc: ContentEncryption
    recipient_kid: str
    sender_kid: str | None
    recipient_kids: tuple[str, ...]


def recipients_apv(kids: Sequence[str]) -> bytes:
    """The ``apv`` (before base64url): SHA-256 of the ``kid`` values, sorted, joined by ``.``."""
    return hashlib.sha256(".".join(sorted(kids)).encode("utf-8")).digest()


def encrypt_jwe(
    plaintext: bytes,
    recipients: Sequence[tuple[str, JoseKey]],
    *,
    enc: ContentEncryption,
    sender: tuple[str, JoseKey] | None = None,
) -> JSONObject:
    """Encrypt ``plaintext`` to every recipient key: anoncrypt, or authcrypt with ``sender``.

    :param recipients: ``(kid, public key)`` pairs, all on one curve (one ``epk`` serves all).
    :param sender: ``(skid, private key)`` for authcrypt; the key must be on the same curve.
    :raises MessagingError: ``didcommUnsupportedAlg`` for authcrypt with an ``enc`` other than
        ``A256CBC-HS512``, keys on different curves or a key that cannot do ECDH;
        ``didcommMalformed`` for no recipients, duplicate or malformed ``kid`` values.
    """
    enc = content_encryption(enc)
    if not recipients:
        raise malformed("an encrypted message needs at least one recipient", field="recipients")
    kids = [kid for kid, _ in recipients]
    for kid in kids:
        did_of_kid(kid, "kid")
    if len(set(kids)) != len(kids):
        raise malformed("a recipient kid is listed twice", field="recipients")
    curves = {key.crv for _, key in recipients}
    if sender is not None:
        curves.add(sender[1].crv)
    if len(curves) != 1 or not all(key.is_agreement_key for _, key in recipients):
        raise MessagingError(
            f"all recipient (and sender) keys must be key agreement keys on one curve, got "
            f"{sorted(curves)}; pack once per curve",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        )
    alg = KeyWrapping.ECDH_ES_A256KW if sender is None else KeyWrapping.ECDH_1PU_A256KW
    _check_pairing(alg, enc)
    epk = JoseKey.ephemeral(curves.pop())
    apv = recipients_apv(kids)
    header: JSONObject = {
        "typ": ENCRYPTED_TYP,
        "alg": alg.value,
        "enc": enc.value,
        "epk": epk.public_jwk(),
        "apv": b64url_encode(apv),
    }
    apu = b""
    if sender is not None:
        skid, sender_key = sender
        did_of_kid(skid, "skid")
        if not sender_key.is_agreement_key:
            raise MessagingError(
                "the authcrypt sender key must be a key agreement key",
                code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
            )
        apu = skid.encode("utf-8")
        header["skid"] = skid
        header["apu"] = b64url_encode(apu)
    protected = b64url_encode(dumps(header))
    content = encrypt_content(enc.value, plaintext, protected.encode("ascii"))
    entries: list[JSONObject] = []
    for kid, key in recipients:
        if sender is None:
            wrapped = wrap_es(alg.value, apv, epk, key, content.cek)
        else:
            wrapped = wrap_1pu(alg.value, apu, apv, epk, sender[1], key, content.cek, content.tag)
        entries.append({"header": {"kid": kid}, "encrypted_key": b64url_encode(wrapped)})
    return {
        "protected": protected,
        "recipients": entries,
        "iv": b64url_encode(content.iv),
        "ciphertext": b64url_encode(content.ciphertext),
        "tag": b64url_encode(content.tag),
    }


def content_encryption(value: object) -> ContentEncryption:
    """``value`` as a :class:`ContentEncryption`.

    :raises MessagingError: ``didcommUnsupportedAlg`` for anything else.
    """
    try:
        return ContentEncryption(str(value))
    except ValueError:
        raise MessagingError(
            f"content encryption {str(value)[:32]!r} is not allowed; use A256CBC-HS512, "
            "A256GCM or XC20P",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
            details={"enc": str(value)[:32]},
        ) from None


def _check_pairing(alg: KeyWrapping, enc: ContentEncryption) -> None:
    if alg is KeyWrapping.ECDH_1PU_A256KW and enc is not ContentEncryption.A256CBC_HS512:
        raise MessagingError(
            f"authcrypt (ECDH-1PU) requires A256CBC-HS512 content encryption, not {enc.value} "
            "(draft-madden-jose-ecdh-1pu-04 section 2.1); use anoncrypt for "
            f"{enc.value}",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
            details={"alg": alg.value, "enc": enc.value},
        )


@dataclass(frozen=True, slots=True)
class _Recipient:
    kid: str
    encrypted_key: object


def _recipients(jwe: Mapping[str, Any]) -> list[_Recipient]:
    """The recipients of a General or Flattened JWE, shape-checked."""
    if "recipients" in jwe:
        extra = sorted(set(jwe) - _GENERAL_MEMBERS)
        entries = jwe["recipients"]
        if not isinstance(entries, list) or not 0 < len(entries) <= MAX_RECIPIENTS:
            raise malformed(
                f"recipients must be a list of 1 to {MAX_RECIPIENTS} entries", field="recipients"
            )
    else:
        extra = sorted(set(jwe) - _FLATTENED_MEMBERS)
        entries = [{"header": jwe.get("header"), "encrypted_key": jwe.get("encrypted_key")}]
    if extra:
        raise malformed(f"the JWE has members this profile does not allow: {extra}", field="jwe")
    result: list[_Recipient] = []
    for index, raw in enumerate(entries):
        where = f"recipients[{index}]"
        entry = require_object(raw, where)
        if set(entry) != {"header", "encrypted_key"}:
            raise malformed(f"{where} must have exactly header and encrypted_key", field=where)
        header = require_object(entry["header"], f"{where}.header")
        if set(header) != {"kid"}:
            raise malformed(f"{where}.header must hold only kid", field=f"{where}.header")
        kid = header["kid"]
        did_of_kid(kid, f"{where}.header.kid")
        result.append(_Recipient(kid, entry["encrypted_key"]))
    kids = [r.kid for r in result]
    if len(set(kids)) != len(kids):
        raise malformed("a recipient kid is listed twice", field="recipients")
    return result


def _epk(header: Mapping[str, Any]) -> JoseKey:
    epk = JoseKey.from_jwk(require_object(header.get("epk"), "epk"))
    if not epk.is_agreement_key:
        raise MessagingError(
            f"epk is a {epk.crv} key, which cannot do key agreement",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        )
    return epk


def _same_curve(key: JoseKey, epk: JoseKey, role: str, kid: str) -> None:
    if key.crv != epk.crv:
        raise malformed(
            f"the {role} key {kid} is on {key.crv} but the epk is on {epk.crv}; they must match",
            field="epk",
        )


async def decrypt_jwe(
    jwe: Mapping[str, Any],
    recipient_keys: RecipientKeys,
    resolver: DIDCommResolver,
    *,
    max_bytes: int,
) -> DecryptedJwe:
    """Open a DIDComm JWE with the first listed recipient whose key we hold.

    For authcrypt the sender's key is dereferenced from ``skid`` (or ``apu``) in the sender's
    ``keyAgreement`` section. The sender-equals-``from`` check is the caller's
    (:func:`agent.messaging.unpack`), since only it has the plaintext.

    :raises MessagingError: ``didcommMalformed`` for a malformed JWE or header, or a refused
        member; ``didcommUnsupportedAlg`` for an ``alg``, ``enc`` or curve outside the profile
        (including authcrypt with anything but A256CBC-HS512); ``didcommRecipientsMismatch``
        when ``apv`` does not hash the listed ``kid`` values; ``didcommSenderMismatch`` when
        ``skid`` and ``apu`` disagree; ``didcommRecipientNotFound`` when no ``kid`` is ours;
        ``didcommKeyNotAuthorized`` when ``skid`` is not a ``keyAgreement`` key of its DID;
        ``didcommDecryptFailed`` when the key does not unwrap or the content does not decrypt.
    :raises agent.errors.DIDResolutionError: when the sender's DID cannot be resolved.
    """
    recipients = _recipients(jwe)
    protected_b64 = jwe.get("protected")
    if not isinstance(protected_b64, str):
        raise malformed("the JWE has no protected header", field="protected")
    header = loads(
        b64url_decode(protected_b64, "protected"),
        max_bytes=max_bytes,
        what="the JWE protected header",
    )
    refused = sorted(_REFUSED_HEADERS.intersection(header))
    if refused:
        raise malformed(
            f"the JWE uses header parameters this profile refuses: {refused}", field="protected"
        )
    if not same_media_type(header.get("typ"), ENCRYPTED_TYP):
        raise malformed(f"the JWE typ must be {ENCRYPTED_TYP}", field="typ")
    try:
        alg = KeyWrapping(str(header.get("alg")))
    except ValueError:
        raise MessagingError(
            f"JWE alg {str(header.get('alg'))[:32]!r} is not ECDH-ES+A256KW or ECDH-1PU+A256KW",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        ) from None
    enc = content_encryption(header.get("enc"))
    _check_pairing(alg, enc)
    epk = _epk(header)

    kids = tuple(r.kid for r in recipients)
    if "apv" not in header:
        raise malformed("the JWE protected header has no apv", field="apv")
    apv = b64url_decode(header["apv"], "apv")
    if apv != recipients_apv(kids):
        raise MessagingError(
            "apv does not match the listed recipients: a recipient was added, removed or "
            "renamed after encryption",
            code=ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH,
        )
    apu = b64url_decode(header["apu"], "apu") if "apu" in header else b""
    sender_kid: str | None = None
    if alg is KeyWrapping.ECDH_1PU_A256KW:
        sender_kid = _sender_kid(header, apu)
    elif "skid" in header:
        raise malformed("an anoncrypt (ECDH-ES) header must not name a sender (skid)", field="skid")

    ours: tuple[_Recipient, JoseKey] | None = None
    for recipient in recipients:
        handle = await recipient_keys.agreement_key(recipient.kid)
        if handle is not None:
            ours = (recipient, JoseKey.from_handle(handle))
            break
    if ours is None:
        raise MessagingError(
            "none of the recipient kids is one of our key agreement keys; the message is for "
            "someone else, or our key was rotated away",
            code=ErrorCode.DIDCOMM_RECIPIENT_NOT_FOUND,
            details={"kids": list(kids)},
        )
    recipient, our_key = ours
    _same_curve(our_key, epk, "recipient", recipient.kid)

    iv_len, tag_len = _LENGTHS[enc]
    iv = b64url_decode(jwe.get("iv"), "iv")
    tag = b64url_decode(jwe.get("tag"), "tag")
    if len(iv) != iv_len or len(tag) != tag_len:
        raise malformed(
            f"{enc.value} needs a {iv_len}-byte iv and a {tag_len}-byte tag", field="iv"
        )
    ciphertext = b64url_decode(jwe.get("ciphertext"), "ciphertext")
    encrypted_key = b64url_decode(recipient.encrypted_key, "encrypted_key")

    if sender_kid is None:
        cek = unwrap_es(alg.value, enc.value, apu, apv, epk, our_key, encrypted_key, recipient.kid)
    else:
        sender_key = await resolve_public_key(resolver, sender_kid, "keyAgreement")
        _same_curve(sender_key, epk, "sender", sender_kid)
        cek = unwrap_1pu(
            alg.value,
            enc.value,
            apu,
            apv,
            epk,
            sender_key,
            our_key,
            encrypted_key,
            tag,
            recipient.kid,
        )
    plaintext = decrypt_content(enc.value, cek, iv, ciphertext, tag, protected_b64.encode("ascii"))
    return DecryptedJwe(
        plaintext=plaintext,
        alg=alg,
        enc=enc,
        recipient_kid=recipient.kid,
        sender_kid=sender_kid,
        recipient_kids=kids,
    )


def _sender_kid(header: Mapping[str, Any], apu: bytes) -> str:
    """The authcrypt sender's ``kid``: ``skid``, which must agree with ``apu``, or ``apu``."""
    if not apu:
        raise malformed("an authcrypt (ECDH-1PU) header needs apu = base64url(skid)", field="apu")
    try:
        from_apu = apu.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed("apu is not a UTF-8 key id", field="apu") from None
    skid = header.get("skid", from_apu)
    if skid != from_apu:
        raise MessagingError(
            "skid and apu name different sender keys",
            code=ErrorCode.DIDCOMM_SENDER_MISMATCH,
        )
    did_of_kid(skid, "skid")
    return from_apu
