"""Packing and unpacking DIDComm v2 messages: plaintext, signed, anoncrypt, authcrypt, nested.

DIDComm Messaging v2, section "Message Formats" / "IANA Media Types": a plaintext message may be
signed, and a plaintext or signed message may be encrypted; the sender may also wrap an
authcrypt envelope in anoncrypt to hide its identity (section "Protecting the Sender
Identity"). The signature is always inside the encryption, never outside it ("the signer
committed to opaque data" is unsafe). :func:`unpack` therefore accepts exactly these layerings,
outermost first::

    plaintext
    signed(plaintext)
    anoncrypt(plaintext)             anoncrypt(signed(plaintext))
    authcrypt(plaintext)             authcrypt(signed(plaintext))
    anoncrypt(authcrypt(plaintext))  anoncrypt(authcrypt(signed(plaintext)))

and refuses anything else (``didcommBadNesting``).

What :func:`unpack` checks beyond the cryptography:

* the JWS signer's DID and the authcrypt sender's (``skid``) DID both equal the plaintext
  ``from`` (spec "Message Signing / Verification"; "Message Headers", ``from``: "the sender key
  MUST be authorized for encryption by this DID");
* when the plaintext has ``to``, the DID of every recipient key that opened a layer is in it, so
  a signed message cannot be re-encrypted to someone it was not written for (surreptitious
  forwarding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from agent.errors import ErrorCode, MessagingError
from agent.keys.signer import Signer
from agent.messaging._askar import JoseKey
from agent.messaging._common import (
    DEFAULT_MAX_ENVELOPE_BYTES,
    did_of_kid,
    dumps,
    loads,
    malformed,
)
from agent.messaging.jwe import ContentEncryption, content_encryption, decrypt_jwe, encrypt_jwe
from agent.messaging.jws import sign_jws, verify_jws
from agent.messaging.keys import DIDCommResolver, RecipientKeys, resolve_public_key
from agent.messaging.message import Message, parse_message
from agent.types import JSONObject

__all__ = [
    "Layer",
    "UnpackResult",
    "pack_encrypted",
    "pack_plaintext",
    "pack_signed",
    "unpack",
]


class Layer(StrEnum):
    """One protective layer of an unpacked message."""

    ANONCRYPT = "anoncrypt"
    AUTHCRYPT = "authcrypt"
    SIGNED = "signed"


# Which layer may sit directly inside which (None: the plaintext message).
_ALLOWED_INSIDE: dict[Layer | None, frozenset[Layer | None]] = {
    None: frozenset({None, Layer.SIGNED, Layer.ANONCRYPT, Layer.AUTHCRYPT}),
    Layer.ANONCRYPT: frozenset({None, Layer.SIGNED, Layer.AUTHCRYPT}),
    Layer.AUTHCRYPT: frozenset({None, Layer.SIGNED}),
    Layer.SIGNED: frozenset({None}),
}
_ENCRYPTION = frozenset({Layer.ANONCRYPT, Layer.AUTHCRYPT})


@dataclass(frozen=True, slots=True)
class UnpackResult:
    """The plaintext message and what protected it on the way.

    :param message: the plaintext message.
    :param layers: the layers, outermost first (empty for a plaintext message).
    :param encrypted: at least one encryption layer.
    :param authenticated: the sender is proven to us by authcrypt or a signature, and equals
        ``message.from_``.
    :param non_repudiation: signed: the origin is provable to third parties.
    :param anonymous_sender: the outermost layer is anoncrypt, so an observer of the envelope
        cannot see who sent it.
    :param sender_kid: the authcrypt sender key (``skid``), if any.
    :param signer_kid: the JWS signer key, if any.
    :param recipient_kid: our key that opened the innermost encryption layer, if any.
    :param enc: the content encryption of the innermost encryption layer, if any.
    """

    message: Message
    layers: tuple[Layer, ...]
    encrypted: bool
    authenticated: bool
    non_repudiation: bool
    anonymous_sender: bool
    sender_kid: str | None = None
    signer_kid: str | None = None
    recipient_kid: str | None = None
    enc: ContentEncryption | None = None


def pack_plaintext(message: Message) -> bytes:
    """The message as ``application/didcomm-plain+json`` bytes (no protection at all)."""
    return message.to_bytes()


def _check_signer(message: Message, signer: Signer) -> None:
    did = did_of_kid(signer.verification_method, "kid")
    if message.from_ != did:
        raise MessagingError(
            f"the signer {signer.verification_method} is not a key of the message's from "
            f"({message.from_}); set from to the signer's DID",
            code=ErrorCode.DIDCOMM_SENDER_MISMATCH,
        )


def pack_signed(message: Message, signer: Signer) -> bytes:
    """Sign the message: ``application/didcomm-signed+json`` (spec "Message Signing").

    :param signer: a key of the ``authentication`` section of ``message.from_``'s DID document.
    :raises MessagingError: ``didcommSenderMismatch`` when the signer's DID is not
        ``message.from_``; ``didcommUnsupportedAlg`` for an algorithm DIDComm does not allow.
    :raises agent.errors.ProofError: when the signer fails.
    """
    _check_signer(message, signer)
    return dumps(sign_jws(message.to_bytes(), signer))


async def pack_encrypted(
    message: Message,
    *,
    to: Sequence[str],
    resolver: DIDCommResolver,
    frm: str | None = None,
    sender_keys: RecipientKeys | None = None,
    sign_with: Signer | None = None,
    enc: ContentEncryption | str = ContentEncryption.A256CBC_HS512,
    protect_sender: bool = False,
) -> bytes:
    """Encrypt the message (optionally signed first) to the ``keyAgreement`` keys ``to``.

    * ``frm`` is ``None``: anoncrypt (``ECDH-ES+A256KW``) with ``enc``.
    * ``frm`` is our key agreement ``kid``: authcrypt (``ECDH-1PU+A256KW``, A256CBC-HS512); with
      ``protect_sender`` the authcrypt envelope is wrapped in anoncrypt with ``enc`` to the same
      keys, so the ``skid`` is hidden from observers.
    * ``sign_with``: the plaintext is signed first (non-repudiation).

    :param to: recipient key ids, e.g. every ``keyAgreement`` key of the recipient's DID
        document (spec: "the default recipients of the envelope MUST include all the
        KeyAgreement entries"); all on one curve.
    :param resolver: dereferences ``to`` (and ``frm``) for ``keyAgreement``.
    :param sender_keys: holds the private key for ``frm``; required with ``frm``.
    :param enc: the content encryption of the outermost layer. Authcrypt allows only
        ``A256CBC-HS512``; ``XC20P`` or ``A256GCM`` with ``frm`` need ``protect_sender``.
    :raises MessagingError: ``didcommSenderMismatch`` when ``frm`` or the signer is not a key of
        ``message.from_``; ``didcommRecipientsMismatch`` when the message has ``to`` and a
        recipient key's DID is not in it; ``didcommUnsupportedAlg`` for a disallowed ``enc`` or
        mixed curves; ``didcommKeyNotAuthorized`` when a key is not a ``keyAgreement`` key of
        its DID, or ``frm``'s private key does not match its DID document;
        ``didcommMalformed`` for malformed ``kid`` values or missing arguments.
    :raises agent.errors.DIDResolutionError: when a DID cannot be resolved.
    """
    enc = content_encryption(enc)
    if not to:
        raise malformed("pack_encrypted needs at least one recipient kid", field="to")
    for kid in to:
        did = did_of_kid(kid, "to")
        if message.to is not None and did not in message.to:
            raise MessagingError(
                f"recipient key {kid} belongs to {did}, which is not in the message's to",
                code=ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH,
            )
    if protect_sender and frm is None:
        raise malformed("protect_sender hides an authcrypt sender; it needs frm", field="frm")
    if frm is not None and not protect_sender and enc is not ContentEncryption.A256CBC_HS512:
        raise MessagingError(
            f"authcrypt requires A256CBC-HS512, not {enc.value}; use protect_sender=True to "
            f"apply {enc.value} in an outer anoncrypt layer",
            code=ErrorCode.DIDCOMM_UNSUPPORTED_ALG,
        )
    recipients = [(kid, await resolve_public_key(resolver, kid, "keyAgreement")) for kid in to]

    payload = message.to_bytes()
    if sign_with is not None:
        _check_signer(message, sign_with)
        payload = dumps(sign_jws(payload, sign_with))
    if frm is None:
        return dumps(encrypt_jwe(payload, recipients, enc=enc))

    sender = await _sender_key(message, frm, resolver, sender_keys)
    inner = encrypt_jwe(
        payload, recipients, enc=ContentEncryption.A256CBC_HS512, sender=(frm, sender)
    )
    if not protect_sender:
        return dumps(inner)
    return dumps(encrypt_jwe(dumps(inner), recipients, enc=enc))


async def _sender_key(
    message: Message, frm: str, resolver: DIDCommResolver, sender_keys: RecipientKeys | None
) -> JoseKey:
    did = did_of_kid(frm, "frm")
    if message.from_ != did:
        raise MessagingError(
            f"the authcrypt sender key {frm} is not a key of the message's from "
            f"({message.from_}); set from to the sender's DID",
            code=ErrorCode.DIDCOMM_SENDER_MISMATCH,
        )
    if sender_keys is None:
        raise malformed("authcrypt (frm) needs sender_keys holding frm's private key", field="frm")
    handle = await sender_keys.agreement_key(frm)
    if handle is None:
        raise MessagingError(
            f"we hold no private key for {frm}",
            code=ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED,
            details={"kid": frm},
        )
    private = JoseKey.from_handle(handle)
    public = await resolve_public_key(resolver, frm, "keyAgreement")
    if private.public_jwk() != public.public_jwk():
        raise MessagingError(
            f"our key for {frm} is not the key its DID document publishes; recipients would "
            "fail to decrypt",
            code=ErrorCode.DIDCOMM_KEY_NOT_AUTHORIZED,
            details={"kid": frm},
        )
    return private


def _is_jwe(obj: JSONObject) -> bool:
    """A JWE in JSON serialization (RFC 7516 section 7.2) rather than a plaintext message."""
    return "ciphertext" in obj and "protected" in obj


def _is_jws(obj: JSONObject) -> bool:
    """A JWS in JSON serialization (RFC 7515 section 7.2) rather than a plaintext message."""
    return "payload" in obj and ("signatures" in obj or "signature" in obj)


def _check_nesting(outer: Layer | None, inner: Layer | None) -> None:
    if outer is not None and inner not in _ALLOWED_INSIDE[outer]:
        name = inner.value if inner is not None else "plaintext"
        raise MessagingError(
            f"a {name} message inside a {outer.value} envelope is not a DIDComm layering "
            "(allowed: signed inside encryption, authcrypt inside anoncrypt)",
            code=ErrorCode.DIDCOMM_BAD_NESTING,
            details={"outer": outer.value, "inner": name},
        )


async def unpack(
    envelope: bytes | str,
    *,
    resolver: DIDCommResolver,
    recipient_keys: RecipientKeys | None = None,
    max_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES,
) -> UnpackResult:
    """Open every layer of a DIDComm message and report what protected it.

    :param envelope: the message as received (JSON bytes or text).
    :param resolver: dereferences the signer's ``kid`` (``authentication``) and the authcrypt
        ``skid`` (``keyAgreement``).
    :param recipient_keys: our private key agreement keys; needed for encrypted messages.
    :param max_bytes: the largest envelope (and inner layer) read.
    :raises MessagingError: ``inputTooLarge`` over ``max_bytes``; ``didcommBadNesting`` for a
        layering the spec does not allow; ``didcommSenderMismatch`` when the signer or the
        authcrypt sender is not the plaintext ``from``; ``didcommRecipientsMismatch`` when our
        key's DID is not in the plaintext ``to``; and every error of
        :func:`agent.messaging.jws.verify_jws` and :func:`agent.messaging.jwe.decrypt_jwe`.
    :raises agent.errors.DIDResolutionError: when a DID cannot be resolved.
    """
    obj = loads(envelope, max_bytes=max_bytes, what="the DIDComm message")
    layers: list[Layer] = []
    recipient_kids: list[str] = []
    enc: ContentEncryption | None = None
    sender_kid: str | None = None
    signer_kid: str | None = None
    outer: Layer | None = None
    while _is_jwe(obj) or _is_jws(obj):
        if _is_jws(obj):
            _check_nesting(outer, Layer.SIGNED)
            verified = await verify_jws(obj, resolver, max_bytes=max_bytes)
            signer_kid = verified.kid
            layer = Layer.SIGNED
            inner = verified.payload
        else:
            # Refuse before decrypting when no encryption layer may sit here at all.
            if outer is not None and not _ENCRYPTION & _ALLOWED_INSIDE[outer]:
                _check_nesting(outer, Layer.ANONCRYPT)
            if recipient_keys is None:
                raise MessagingError(
                    "the message is encrypted; pass recipient_keys to unpack it",
                    code=ErrorCode.DIDCOMM_RECIPIENT_NOT_FOUND,
                )
            opened = await decrypt_jwe(obj, recipient_keys, resolver, max_bytes=max_bytes)
            layer = Layer.AUTHCRYPT if opened.sender_kid is not None else Layer.ANONCRYPT
            _check_nesting(outer, layer)
            if opened.sender_kid is not None:
                sender_kid = opened.sender_kid
            recipient_kids.append(opened.recipient_kid)
            enc = opened.enc
            inner = opened.plaintext
        layers.append(layer)
        outer = layer
        obj = loads(inner, max_bytes=max_bytes, what=f"the content of the {layer.value} layer")

    message = parse_message(obj)
    _check_sender(message, "JWS signer", signer_kid)
    _check_sender(message, "authcrypt sender (skid)", sender_kid)
    if message.to is not None:
        for kid in recipient_kids:
            if did_of_kid(kid, "kid") not in message.to:
                raise MessagingError(
                    f"our key {kid} opened the message, but its DID is not in the message's to; "
                    "it was written for someone else and re-encrypted (forwarded)",
                    code=ErrorCode.DIDCOMM_RECIPIENTS_MISMATCH,
                    details={"kid": kid},
                )
    return UnpackResult(
        message=message,
        layers=tuple(layers),
        encrypted=bool(recipient_kids),
        authenticated=sender_kid is not None or signer_kid is not None,
        non_repudiation=signer_kid is not None,
        anonymous_sender=bool(layers) and layers[0] is Layer.ANONCRYPT,
        sender_kid=sender_kid,
        signer_kid=signer_kid,
        recipient_kid=recipient_kids[-1] if recipient_kids else None,
        enc=enc,
    )


def _check_sender(message: Message, role: str, kid: str | None) -> None:
    if kid is None:
        return
    did = did_of_kid(kid, "kid")
    if message.from_ != did:
        raise MessagingError(
            f"the {role} {kid} is not a key of the message's from ({message.from_}); the "
            "message claims a sender other than the one that protected it",
            code=ErrorCode.DIDCOMM_SENDER_MISMATCH,
            details={"kid": kid, "from": str(message.from_)},
        )
