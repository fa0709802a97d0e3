"""Out-of-band invitations (DIDComm Messaging v2, section "Out Of Band Messages").

A hospital shows an invitation as a URL (``https://host/path?_oob=<base64url(json)>``) and as
a QR code of that URL; the citizen's wallet scans it, learns the hospital's DID for this
relationship (the invitation's ``from``, a did:peer carrying its DIDComm endpoint), answers
with a message whose ``pthid`` is the invitation's id, and the connection exists.

The invitation is a plaintext message of type
``https://didcomm.org/out-of-band/2.0/invitation`` with ``body.goal_code``, ``body.goal`` and
``body.accept``; nothing in it is secret, and everything in it is checked when parsed.
"""

from __future__ import annotations

import base64
import binascii
import io
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from agent.errors import ErrorCode, HealthMyDataError, MessagingError
from agent.jsonio import parse_json_object
from agent.messaging.message import Message, parse_message

__all__ = [
    "INVITATION_TYPE",
    "Invitation",
    "invitation_qr",
    "parse_invitation_url",
]

INVITATION_TYPE = "https://didcomm.org/out-of-band/2.0/invitation"
#: A scanned URL longer than this is refused before decoding (a did:peer:2 invitation is ~1 KB).
MAX_INVITATION_URL = 8192


@dataclass(frozen=True)
class Invitation:
    """An out-of-band invitation from ``sender`` (a DID whose document has a DIDComm service)."""

    sender: str
    goal_code: str = "connect"
    goal: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accept: tuple[str, ...] = ("didcomm/v2",)
    attachments: tuple[dict[str, Any], ...] = ()

    def to_message(self) -> Message:
        body: dict[str, Any] = {"goal_code": self.goal_code, "accept": list(self.accept)}
        if self.goal:
            body["goal"] = self.goal
        return Message(
            id=self.id,
            type=INVITATION_TYPE,
            body=body,
            from_=self.sender,
            attachments=self.attachments or None,
        )

    def to_url(self, base_url: str) -> str:
        """``base_url?_oob=...``: what a QR code or a link carries."""
        encoded = base64.urlsafe_b64encode(self.to_message().to_bytes()).rstrip(b"=").decode()
        separator = "&" if "?" in base_url else "?"
        return f"{base_url}{separator}{urlencode({'_oob': encoded})}"

    @classmethod
    def from_message(cls, message: Message) -> Invitation:
        """:raises MessagingError: ``didcommInvalidInvitation`` when it is not an invitation."""
        if message.type != INVITATION_TYPE:
            raise _invalid(f"not an out-of-band 2.0 invitation (type {message.type!r})")
        if message.from_ is None:
            raise _invalid("the invitation has no 'from' DID to connect to")
        accept = message.body.get("accept", ["didcomm/v2"])
        if not isinstance(accept, list) or not all(isinstance(a, str) for a in accept):
            raise _invalid("body.accept must be a list of media type profiles")
        if "didcomm/v2" not in accept:
            raise _invalid("the inviter does not accept didcomm/v2, the only profile spoken here")
        goal_code = message.body.get("goal_code", "")
        goal = message.body.get("goal", "")
        if not isinstance(goal_code, str) or not isinstance(goal, str):
            raise _invalid("body.goal_code and body.goal must be strings")
        return cls(
            sender=message.from_,
            goal_code=goal_code,
            goal=goal,
            id=message.id,
            accept=tuple(accept),
            attachments=tuple(message.attachments or ()),
        )


def parse_invitation_url(url: str) -> Invitation:
    """The invitation in a scanned URL (``_oob`` query parameter).

    :raises MessagingError: ``didcommInvalidInvitation`` for anything that is not a well-formed
        invitation URL; the message says what is wrong with it.
    """
    if not isinstance(url, str) or len(url) > MAX_INVITATION_URL:
        raise _invalid(f"an invitation URL is a string of at most {MAX_INVITATION_URL} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http", "didcomm"}:
        raise _invalid("an invitation URL starts with https:// (or didcomm://)")
    values = parse_qs(parts.query).get("_oob", [])
    if len(values) != 1:
        raise _invalid("the URL carries no single _oob parameter: is this a DIDComm invitation?")
    encoded = values[0]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _invalid("the _oob parameter is not base64url") from exc
    try:
        message = parse_message(parse_json_object(raw))
    except HealthMyDataError as exc:
        raise _invalid(f"the _oob parameter is not a DIDComm message: {exc.message}") from exc
    return Invitation.from_message(message)


def invitation_qr(url: str, *, kind: str = "svg", scale: int = 4) -> bytes | str:
    """A QR code of the invitation URL: SVG or PNG bytes, or ``kind="text"`` for a terminal."""
    import segno  # here, not at the top: a service draws no QR code before it is asked to

    code = segno.make(url, error="m", micro=False)
    if kind == "text":
        out = io.StringIO()
        code.terminal(out=out, compact=True)
        return out.getvalue()
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=scale)
    return buffer.getvalue()


def _invalid(message: str) -> MessagingError:
    return MessagingError(message, code=ErrorCode.DIDCOMM_INVALID_INVITATION)
