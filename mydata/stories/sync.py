"""The fetching helpers the stories use (``mydata er sync`` is the command); the
implementation is :mod:`verifier.trustsync`.

* :func:`fetch_trust`: the operator's trust list (and the accreditations it names), verified,
  as a :class:`TrustRegistry` (:func:`verifier.trustsync.fetch_registry` for one operator);
* :func:`offline_cache`: :func:`verifier.trustsync.offline_cache` (issuers' DID documents and
  accreditations, Status List Tokens, the trust list, the accreditations' Bitstring Status
  Lists).
"""

from __future__ import annotations

import httpx

from agent.trustsync import LOOPBACK_HOSTS, OperatorSource
from verifier.trust import TrustRegistry
from verifier.trustsync import fetch_registry, offline_cache

__all__ = ["LOOPBACK_HOSTS", "fetch_trust", "offline_cache"]


async def fetch_trust(
    http: httpx.AsyncClient,
    operator_url: str,
    operator_did: str,
    *,
    accreditations: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> TrustRegistry:
    """The trust list at ``operator_url`` (and the accreditations it names), verified: only
    what ``operator_did`` signed loads (the URL only says where to fetch).

    :raises agent.errors.InvalidInputError: the operator cannot be reached; a non-https URL.
    :raises agent.errors.CredentialError: ``issuerNotTrusted`` when the list is not signed by
        ``operator_did``; ``trustListInvalid`` when it does not verify.
    """
    return await fetch_registry(
        http,
        [OperatorSource(operator_did, operator_url)],
        accreditations=accreditations,
        insecure_http_hosts=insecure_http_hosts,
    )
