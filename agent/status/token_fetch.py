"""Fetching a Status List Token (IETF Token Status List, ``application/statuslist+jwt``).

One fetcher for every party that reads an issuer's token list: the verifier (through its
``TokenStatusCache``) and the wallet (before it makes an emergency card). HTTPS only (plain HTTP
only for the hosts given, for local testing), no redirects, and the body read as a stream and
given up past ``max_bytes``: the URL is the issuer's, and a hostile or broken endpoint must not
make the reader download without limit. Verifying the token is not done here
(:func:`agent.credentials.token_status_list.check_token_status`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from agent.errors import ErrorCode, StatusError

__all__ = ["DEFAULT_MAX_TOKEN_BYTES", "TokenFetcher", "http_token_fetcher", "retrieval_error"]

#: ``await fetch(uri) -> token``.
TokenFetcher = Callable[[str], Awaitable[str]]

#: The largest Status List Token read (a 2-bit list of a million entries is about 300 KB).
DEFAULT_MAX_TOKEN_BYTES: Final = 3 * 1024 * 1024
_MEDIA: Final = "application/statuslist+jwt"


def http_token_fetcher(
    client: httpx.AsyncClient,
    *,
    insecure_http_hosts: Collection[str] = frozenset(),
    max_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    timeout: float | None = None,
) -> TokenFetcher:
    """A fetcher that GETs a Status List Token over HTTPS (plain HTTP only for
    ``insecure_http_hosts``) with the injected client.

    :param timeout: seconds per request; ``None`` keeps the client's own.
    The fetcher raises :class:`StatusError` (``STATUS_RETRIEVAL_ERROR``, ``details['reason']``
    ``scheme``, ``network``, ``httpStatus`` or ``tooLarge``).
    """
    insecure = frozenset(insecure_http_hosts)
    request_timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout

    async def fetch(uri: str) -> str:
        parts = urlsplit(uri)
        if not (
            (parts.scheme == "https" and parts.hostname)
            or (parts.scheme == "http" and parts.hostname in insecure)
        ):
            raise retrieval_error(
                f"status list uri {uri[:200]!r} is not an https URL", uri, "scheme"
            )
        body = bytearray()
        try:
            async with client.stream(
                "GET",
                uri,
                headers={"Accept": _MEDIA},
                follow_redirects=False,
                timeout=request_timeout,
            ) as response:
                if response.status_code != 200:
                    raise retrieval_error(
                        f"fetching the status list {uri[:200]} gave HTTP {response.status_code}",
                        uri,
                        "httpStatus",
                    )
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise retrieval_error(
                            f"the status list {uri[:200]} is larger than {max_bytes} bytes",
                            uri,
                            "tooLarge",
                        )
        except httpx.HTTPError as exc:
            raise retrieval_error(
                f"the status list {uri[:200]} could not be fetched ({type(exc).__name__})",
                uri,
                "network",
            ) from exc
        return body.decode("utf-8", errors="replace").strip()

    return fetch


def retrieval_error(message: str, uri: str, reason: str) -> StatusError:
    """A ``STATUS_RETRIEVAL_ERROR`` naming the list (its first 200 characters) and why."""
    return StatusError(
        message,
        code=ErrorCode.STATUS_RETRIEVAL_ERROR,
        details={"uri": uri[:200], "reason": reason},
    )
