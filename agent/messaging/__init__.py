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
0.3.2 package is not used (reference/packages.md section 6). Transports, out-of-band invitations,
routing (``forward``) and protocols are built on top of this package, not in it.
"""

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

__all__ = [
    "ContentEncryption",
    "DIDCommResolver",
    "InMemorySecrets",
    "JwkKey",
    "KeyStoreRecipientKeys",
    "KeyWrapping",
    "Layer",
    "Message",
    "RecipientKeys",
    "UnpackResult",
    "pack_encrypted",
    "pack_plaintext",
    "pack_signed",
    "parse_message",
    "unpack",
]
