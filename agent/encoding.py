"""base64url without padding (RFC 4648 section 5, as JOSE and did:peer use it): one helper pair.

Kept here so that every module encodes the same way; the callers add their own typed errors.
"""

from __future__ import annotations

import base64

__all__ = ["b64url_decode", "b64url_encode"]


def b64url_encode(data: bytes) -> str:
    """base64url of ``data`` without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of a base64url string, with or without padding.

    :raises ValueError: (``binascii.Error``) when ``text`` is not base64url.
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
