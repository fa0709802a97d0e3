"""An offline cache for the emergency department: issuer DID documents, Status List Tokens
and the trust data, in one JSON file synced while online and used with no network at all.

::

    {"version": 1, "savedAt": "...",
     "didDocuments": [{...did:web document...}],
     "statusTokens": {"<uri>": {"token": "...", "fetchedAt": "..."}},
     "trust": {...TrustRegistry.export()...}}

Everything in it is verified again when used (documents are public keys, tokens and trust
lists carry signatures), and every age is reported: a cached status list says how old it is.
did:key needs no entry (its document is its name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.clock import Clock, format_datetime, utcnow
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from agent.status import StatusChecker
from verifier.sdjwt import TokenStatusCache
from verifier.trust import TrustRegistry

__all__ = ["OfflineVerifier", "export_offline_cache", "load_offline_cache"]

_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class OfflineVerifier:
    """What an offline verification needs, built from a cache file."""

    resolver: DIDResolver
    token_status: TokenStatusCache
    status_checker: StatusChecker
    trust: TrustRegistry | None


def export_offline_cache(
    *,
    did_documents: Sequence[Mapping[str, Any]] = (),
    token_status: TokenStatusCache | None = None,
    trust: TrustRegistry | None = None,
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """The cache file's content."""
    return {
        "version": _VERSION,
        "savedAt": format_datetime(clock()),
        "didDocuments": [dict(d) for d in did_documents],
        "statusTokens": token_status.export() if token_status is not None else {},
        "trust": trust.export() if trust is not None else None,
    }


async def load_offline_cache(
    data: Mapping[str, Any], *, operator_dids: frozenset[str] | None = None, clock: Clock = utcnow
) -> OfflineVerifier:
    """An offline verifier from a cache (no HTTP client anywhere: nothing can be fetched).

    :param operator_dids: the operators to trust; default those named in the cache's trust
        export (the cache was written by this verifier's own configuration).
    :raises InvalidInputError: not a cache of this version.
    :raises agent.errors.CredentialError: a cached trust list or accreditation does not verify.
    :raises agent.errors.DIDError: a cached DID document is malformed.
    """
    if not isinstance(data, Mapping) or data.get("version") != _VERSION:
        raise InvalidInputError(
            f"not an offline cache of version {_VERSION}", code=ErrorCode.PARSING_ERROR
        )
    resolver = DIDResolver()
    for document in data.get("didDocuments") or []:
        resolver.add_document(document)
    tokens = TokenStatusCache(offline=True, clock=clock)
    tokens.import_(data.get("statusTokens") or {})
    checker = StatusChecker(None, resolver, offline=True, clock=clock)
    trust_data = data.get("trust")
    trust = None
    if isinstance(trust_data, Mapping):
        operators = operator_dids or frozenset(trust_data.get("operators") or ())
        if operators:
            trust = TrustRegistry(operators, resolver, checker, clock=clock)
            await trust.import_(trust_data)
    return OfflineVerifier(resolver, tokens, checker, trust)
