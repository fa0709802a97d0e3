"""Whether a string is a DID this project can use, decided without any I/O.

Used where a DID is *named* rather than resolved at once: an operator accrediting a party, a
wallet told which operators to trust, a command line. A malformed one accepted there would sit
in a trust list or a wallet's configuration, where nothing could ever match it, and fail
later, far from the typo. So the syntax is checked (``did:<method>:<id>``, W3C DID Core
section 3.1), and for the methods this project resolves the identifier too: a did:key's
multibase key, a did:web's host, a did:peer's encoded document.
"""

from __future__ import annotations

import re
from typing import Final

from agent.dids.key import parse_did_key
from agent.dids.peer import resolve_did_peer
from agent.dids.web import did_web_to_url
from agent.errors import DIDError, ErrorCode, InvalidInputError

__all__ = ["DID_SYNTAX", "check_did"]

#: ``did:<method>:<method-specific-id>`` of DID Core (percent-encoded characters allowed, no
#: path, query or fragment: a DID, not a DID URL).
DID_SYNTAX: Final = re.compile(r"did:[a-z0-9]+:(?:[A-Za-z0-9._%-]*:)*[A-Za-z0-9._%-]+")
_MAX_LENGTH: Final = 2048
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def check_did(did: object) -> str:
    """``did`` if it is a DID: well formed, and for did:key, did:web and did:peer an identifier
    that method can use (a did:peer:3 or a short-form did:peer:4, which only resolve after
    their long form was seen, pass on syntax alone).

    :raises InvalidInputError: ``invalidDid``, saying what is wrong (a DID URL is named as
        one, with the DID it starts with).
    """
    if not isinstance(did, str) or len(did) > _MAX_LENGTH:
        raise InvalidInputError(
            f"a DID is a string of at most {_MAX_LENGTH} characters", code=ErrorCode.INVALID_DID
        )
    if not DID_SYNTAX.fullmatch(did):
        base = re.split(r"[#?/]", did, maxsplit=1)[0]
        if base != did and DID_SYNTAX.fullmatch(base):
            raise InvalidInputError(
                f"{did[:200]!r} is a DID URL; give the DID alone: {base[:200]}",
                code=ErrorCode.INVALID_DID,
            )
        raise InvalidInputError(
            f"{did[:200]!r} is not a DID: expected did:<method>:<id>, such as did:key:z6Mk..., "
            "did:peer:2... or did:web:example.org",
            code=ErrorCode.INVALID_DID,
        )
    method = did.split(":", 2)[1]
    try:
        if method == "key":
            parse_did_key(did)
        elif method == "web":
            # Loopback hosts pass too: local services and tests name themselves so.
            did_web_to_url(did, insecure_http_hosts=_LOOPBACK)
        elif method == "peer":
            numalgo = did[len("did:peer:") :][:1]
            if numalgo in ("0", "2") or (numalgo == "4" and ":" in did[len("did:peer:4") :]):
                resolve_did_peer(did)
    except DIDError as exc:
        raise InvalidInputError(
            f"{did[:200]!r} is not a usable {method} DID: {exc.message}",
            code=ErrorCode.INVALID_DID,
        ) from None
    return did
