"""DIDComm Messaging v2 envelopes: plaintext, signed (JWS), anoncrypt and authcrypt (JWE).

Spec: DIDComm Messaging v2 (https://identity.foundation/didcomm-messaging/spec/; source
decentralized-identity/didcomm-messaging ``docs/spec-files/``), sections "Message Formats",
"Plaintext Message Structure", "Message Signing" and "Message Encryption". Vectors: the spec's
Appendix C, in ``tests/vectors/didcomm/``.

- :mod:`agent.messaging.message`: the plaintext :class:`Message` and its strict parser.
- :mod:`agent.messaging.jws`: signed messages (EdDSA, ES256, ES256K).
- :mod:`agent.messaging.jwe`: ECDH-ES+A256KW and ECDH-1PU+A256KW with A256CBC-HS512, A256GCM and
  XC20P content encryption (authcrypt with A256CBC-HS512 only).
- :mod:`agent.messaging.envelope`: :func:`pack_plaintext`, :func:`pack_signed`,
  :func:`pack_encrypted` and :func:`unpack` with its :class:`UnpackResult`.
- :mod:`agent.messaging.keys`: where keys come from (:class:`DIDCommResolver`,
  :class:`RecipientKeys`).

The cryptography is aries-askar's, behind :mod:`agent.messaging._askar` (STYLE 10); the didcomm
0.3.2 package is not used (reference/packages.md section 6). On top of the envelopes:

- :mod:`agent.messaging.transport`: HTTP delivery with retries, the inbound endpoint, and
  idempotency by message id.
- :mod:`agent.messaging.oob`: out-of-band 2.0 invitations as URLs and QR codes.

Routing (``forward``) is not implemented: every party here has a directly reachable endpoint.
"""

import typing

if typing.TYPE_CHECKING:
    from agent.messaging.envelope import (
        Layer,
        UnpackResult,
        pack_encrypted,
        pack_plaintext,
        pack_signed,
        unpack,
    )
    from agent.messaging.jwe import ContentEncryption, KeyWrapping
    from agent.messaging.keys import (
        DIDCommResolver,
        InMemorySecrets,
        JwkKey,
        KeyStoreRecipientKeys,
        RecipientKeys,
    )
    from agent.messaging.message import Message, parse_message
    from agent.messaging.oob import INVITATION_TYPE, Invitation, invitation_qr, parse_invitation_url
    from agent.messaging.transport import (
        ENCRYPTED_MEDIA_TYPE,
        MAX_MESSAGE_BYTES,
        PLAIN_MEDIA_TYPE,
        SIGNED_MEDIA_TYPE,
        SeenMessages,
        deliver,
        inbound_router,
    )
else:
    from agent.lazy import lazy_exports as _lazy_exports

    # Each name is imported from its module on first use (PEP 562), so that a service that
    # needs only the transport and invitations (``agent.service``) does not load the envelope
    # cryptography and the QR code writer at start-up (docs/performance.md).
    _SOURCES = {
        "envelope": (
            "Layer",
            "UnpackResult",
            "pack_encrypted",
            "pack_plaintext",
            "pack_signed",
            "unpack",
        ),
        "jwe": ("ContentEncryption", "KeyWrapping"),
        "keys": (
            "DIDCommResolver",
            "InMemorySecrets",
            "JwkKey",
            "KeyStoreRecipientKeys",
            "RecipientKeys",
        ),
        "message": ("Message", "parse_message"),
        "oob": ("INVITATION_TYPE", "Invitation", "invitation_qr", "parse_invitation_url"),
        "transport": (
            "ENCRYPTED_MEDIA_TYPE",
            "MAX_MESSAGE_BYTES",
            "PLAIN_MEDIA_TYPE",
            "SIGNED_MEDIA_TYPE",
            "SeenMessages",
            "deliver",
            "inbound_router",
        ),
    }
    __getattr__, __dir__ = _lazy_exports(__name__, globals(), _SOURCES)


__all__ = [
    "ENCRYPTED_MEDIA_TYPE",
    "INVITATION_TYPE",
    "MAX_MESSAGE_BYTES",
    "PLAIN_MEDIA_TYPE",
    "SIGNED_MEDIA_TYPE",
    "ContentEncryption",
    "DIDCommResolver",
    "InMemorySecrets",
    "Invitation",
    "JwkKey",
    "KeyStoreRecipientKeys",
    "KeyWrapping",
    "Layer",
    "Message",
    "RecipientKeys",
    "SeenMessages",
    "UnpackResult",
    "deliver",
    "inbound_router",
    "invitation_qr",
    "pack_encrypted",
    "pack_plaintext",
    "pack_signed",
    "parse_invitation_url",
    "parse_message",
    "unpack",
]
