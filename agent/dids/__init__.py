"""DIDs for health-mydata: did:key, did:peer (0, 2, 4) and did:web, and one resolver for all.

- :mod:`agent.dids.key`: did:key from a public key, and its document (with the derived X25519
  key agreement key for Ed25519).
- :mod:`agent.dids.peer`: pairwise did:peer:2 and did:peer:4 for DIDComm; see its docstring for
  how the project handles the did:peer:2 key id schemes (spec ``#key-N``, not peerdid's).
- :mod:`agent.dids.web`: a hospital's did:web, its URL and the document it serves.
- :mod:`agent.dids.resolver`: :class:`DIDResolver`, the cached resolver and
  :class:`agent.keys.signer.KeyResolver` every verifier uses.

Resolved documents are :class:`pydid.DIDDocument` values with absolute ids. pydid is imported
on the first document parsed (start-up time), so ``DIDDocument`` is looked up only when used.
"""

import typing

from agent.dids.check import check_did
from agent.dids.document import (
    VerificationRelationship,
    key_from_method,
    parse_document,
)
from agent.dids.key import did_key_document, did_key_from_public, parse_did_key, resolve_did_key
from agent.dids.peer import (
    PeerPurpose,
    create_did_peer_2,
    create_did_peer_4,
    did_peer_2_document,
    did_peer_2_to_3,
    did_peer_4_from_input_document,
    did_peer_4_to_short,
    didcomm_service,
    encode_did_peer_2,
    resolve_did_peer,
    resolve_did_peer_2,
    resolve_did_peer_4,
    resolve_did_peer_4_short,
)
from agent.dids.resolver import DIDResolver
from agent.dids.web import (
    build_did_web_document,
    did_web_from_url,
    did_web_to_url,
    resolve_did_web,
)

if typing.TYPE_CHECKING:
    from agent.dids.document import DIDDocument
else:

    def __getattr__(name: str) -> typing.Any:
        if name == "DIDDocument":
            from agent.dids import document

            return document.DIDDocument
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DIDDocument",
    "DIDResolver",
    "PeerPurpose",
    "VerificationRelationship",
    "build_did_web_document",
    "check_did",
    "create_did_peer_2",
    "create_did_peer_4",
    "did_key_document",
    "did_key_from_public",
    "did_peer_2_document",
    "did_peer_2_to_3",
    "did_peer_4_from_input_document",
    "did_peer_4_to_short",
    "did_web_from_url",
    "did_web_to_url",
    "didcomm_service",
    "encode_did_peer_2",
    "key_from_method",
    "parse_did_key",
    "parse_document",
    "resolve_did_key",
    "resolve_did_peer",
    "resolve_did_peer_2",
    "resolve_did_peer_4",
    "resolve_did_peer_4_short",
    "resolve_did_web",
]
