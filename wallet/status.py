"""Is a stored SD-JWT VC still valid? Its Token Status List entry, read before the wallet uses it.

The wallet checks status where using a revoked credential would hurt the citizen: making an
emergency card (:func:`wallet.api.make_emergency_card`). A card of a revoked EmergencySummary is
refused by every emergency department, so the citizen would carry a card that fails exactly
when it is needed; better to say so when it is made and send them to the hospital for a new
summary.

:func:`sd_jwt_status` fetches the Status List Token at the credential's
``status.status_list.uri`` with the wallet's HTTP client (https; plain http only for the hosts
given, as for did:web) and verifies it with :func:`agent.credentials.token_status_list.
check_token_status` (signed by the credential's issuer). It never raises for a list it cannot
fetch or verify: offline is normal for a phone, so the answer is then ``UNCHECKED`` with the
reason, and the caller goes on with a warning.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

import httpx

from agent.credentials.sd_jwt import parse_sd_jwt
from agent.credentials.token_status_list import TokenStatus, check_token_status
from agent.errors import HealthMyDataError, StatusError
from agent.keys.signer import KeyResolver
from agent.status.token_fetch import http_token_fetcher

__all__ = ["CredentialStatus", "StatusOutcome", "sd_jwt_status"]

_TIMEOUT: Final = 10.0


class CredentialStatus(StrEnum):
    """What the issuer's status list says about a credential."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    #: the credential has no ``status`` claim: nothing to check.
    NO_STATUS = "noStatus"
    #: the list could not be fetched or verified (offline, the issuer unreachable).
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """:param reason: why the status is ``UNCHECKED`` (no health data: a URL and an error)."""

    status: CredentialStatus
    reason: str | None = None


async def sd_jwt_status(
    sd_jwt_credential: str,
    *,
    resolver: KeyResolver,
    http_client: httpx.AsyncClient | None,
    now: datetime,
    insecure_http_hosts: Collection[str] = frozenset(),
) -> StatusOutcome:
    """The status of an issuer-signed SD-JWT VC (see the module docstring); never raises for a
    status list that cannot be fetched or verified (``UNCHECKED``, with the reason)."""
    payload = parse_sd_jwt(sd_jwt_credential).payload
    reference = payload.get("status")
    if reference is None:
        return StatusOutcome(CredentialStatus.NO_STATUS)
    if http_client is None:
        return StatusOutcome(CredentialStatus.UNCHECKED, "the wallet has no network client")
    entry = reference.get("status_list") if isinstance(reference, dict) else None
    uri = entry.get("uri") if isinstance(entry, dict) else None
    if not isinstance(uri, str):
        return StatusOutcome(CredentialStatus.UNCHECKED, "the status claim has no list uri")
    fetch = http_token_fetcher(
        http_client, insecure_http_hosts=insecure_http_hosts, timeout=_TIMEOUT
    )
    try:
        token = await fetch(uri)
    except StatusError as exc:
        return StatusOutcome(CredentialStatus.UNCHECKED, exc.message)
    issuer = payload.get("iss")
    try:
        result = await check_token_status(
            reference,
            token,
            issuer_key_resolver=resolver,
            now=now,
            expected_issuer=issuer if isinstance(issuer, str) else None,
        )
    except HealthMyDataError as exc:
        return StatusOutcome(
            CredentialStatus.UNCHECKED,
            f"the status list {uri[:200]} does not verify ({exc.code})",
        )
    if result.status == TokenStatus.INVALID:
        return StatusOutcome(CredentialStatus.REVOKED)
    if result.status == TokenStatus.SUSPENDED:
        return StatusOutcome(CredentialStatus.SUSPENDED)
    if not result.valid:
        return StatusOutcome(
            CredentialStatus.UNCHECKED, f"the status list gives status {result.status}"
        )
    return StatusOutcome(CredentialStatus.VALID)
