"""A party's own DID and first key, as the hospital and the operator create them.

Both keep one identity record in their store: the DID (did:web from the party's base URL, or
did:key from the key), the method, the base URL, the active key's Multikey and whatever the
party adds (its name, a jurisdiction, the creation time). The key is made and bound in askar
for ``assertionMethod`` and ``authentication`` before the record is written, so a crash in
between leaves an unbound key at worst, never a record naming a key that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from agent.dids import did_key_from_public, did_web_from_url
from agent.errors import InvalidInputError
from agent.keys import AskarKeyStore, KeyType, decode_multikey
from agent.storage import Store

__all__ = ["DID_METHODS", "check_base_url", "create_identity"]

#: The DID methods a party's own identity may use.
DID_METHODS = ("web", "key")


def check_base_url(base_url: str, *, party: str) -> None:
    """Refuse a base URL that is not an absolute http(s) URL with a host and nothing after its
    path: the party's status lists, DID document and links are made from it, and an identity
    written with a bad one could not be used (nor made again: ``init`` keeps an identity).

    :raises InvalidInputError: ``invalidInput``, with an example of a good one.
    """
    try:
        parts = urlsplit(base_url)
        usable = (
            parts.scheme in ("https", "http")
            and bool(parts.hostname)
            and not parts.query
            and not parts.fragment
            and parts.username is None
        )
        _ = parts.port  # refuses a port that is not a number
    except ValueError:  # a malformed port or IPv6 address
        usable = False
    if not usable:
        raise InvalidInputError(
            f"{party}'s base URL must be an absolute https URL with a host (http for local "
            f"testing), such as https://example.org, not {base_url[:200]!r}",
            details={"baseUrl": base_url[:200]},
        )


async def create_identity(
    store: Store,
    record: tuple[str, str],
    *,
    party: str,
    base_url: str,
    did_method: str,
    insecure_http_hosts: frozenset[str] = frozenset(),
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Create the key, the DID and the identity record ``record`` (category, name).

    :param party: how error messages name the party ("a hospital", "the operator").
    :returns: ``(did, multikey)``.
    :raises InvalidInputError: an unknown DID method, a base URL that is not an http(s) URL
        with a host, or one did:web cannot use; nothing is written then.
    """
    if did_method not in DID_METHODS:
        raise InvalidInputError(
            f"unsupported DID method {did_method!r} for {party}; use 'web' or 'key'"
        )
    # Everything that can be refused is checked before anything is written.
    check_base_url(base_url, party=party)
    web_did = (
        did_web_from_url(base_url, insecure_http_hosts=insecure_http_hosts)
        if did_method == "web"
        else None
    )
    keys = AskarKeyStore(store)
    multikey = await keys.create_key(KeyType.ED25519_PUB)
    if web_did is not None:
        did = web_did
    else:
        did = did_key_from_public(KeyType.ED25519_PUB, decode_multikey(multikey)[1])
    await keys.bind(
        multikey,
        did=did,
        verification_method=f"{did}#{multikey}",
        relationships=["assertionMethod", "authentication"],
    )
    identity = {
        "did": did,
        "method": did_method,
        "base_url": base_url.rstrip("/"),
        "active_key": multikey,
        **(extra or {}),
    }
    async with store.transaction() as txn:
        await txn.insert(*record, identity)
        await txn.commit()
    return did, multikey
