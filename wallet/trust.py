"""Whether the party asking the citizen for data is accredited by an operator the wallet trusts.

The wallet is configured with operator DIDs and their service URLs (``mydata wallet init
--operator DID --operator-url URL`` or ``mydata wallet trust add``; kept in the wallet agent's
store, category :data:`TRUST_CATEGORY`: operator DIDs and URLs are not health data). The wallet
service fetches their trust lists and accreditations at start-up and keeps them fresh
(:class:`agent.trustsync.TrustSync`).

For each pending presentation request :meth:`WalletTrust.assess` says who the verifier is and
whether it is accredited, for :func:`wallet.didcomm.pending_requests`, ``GET /wallet/requests``
and ``mydata wallet requests``. The verifier's public DID counts only when the request proves
it (``verifier_proof``, :mod:`agent.requestproof`: signed by that DID for this connection and
nonce); the ``audience`` alone is a claim. The roles that count are ``AccreditedDataUser``, and
for a request whose purpose is emergency care also ``AccreditedHealthcareProvider`` and
``LicensedClinician``. Nothing is refused automatically: the citizen decides, and an
unaccredited or unproven verifier is marked ``NOT accredited``.

:meth:`WalletTrust.assess_issuer` answers the same for a hospital
(``AccreditedHealthcareProvider``): the issuer of an EmergencySummary the card is made from
(:func:`wallet.api.make_emergency_card`), and the party offering credentials
(:func:`wallet.didcomm.pending_offers`). An offer proves no public DID; the wallet knows the
issuer of the credentials that came on that connection before (verified when they were
stored), and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import httpx

from agent.clock import Clock, utcnow
from agent.dids import check_did
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.keys.signer import KeyResolver
from agent.requestproof import verify_request_proof
from agent.status import StatusChecker
from agent.storage import Store
from agent.trust import TrustDecision, TrustRegistry, age_text
from agent.trustsync import LOOPBACK_HOSTS, OperatorSource, TrustSync, checked_url
from agent.types import JSONObject

__all__ = [
    "DATA_USER_ROLES",
    "EMERGENCY_ROLES",
    "HOSPITAL_ROLES",
    "TRUST_CATEGORY",
    "IssuerTrust",
    "VerifierTrust",
    "WalletTrust",
    "add_operator",
    "list_operators",
    "remove_operator",
]

log = logging.getLogger(__name__)

TRUST_CATEGORY: Final = "wallet_trust_operator"
_NO_OPERATOR: Final = "this wallet trusts no operator: mydata wallet trust add"
#: The roles that make a verifier accredited for an ordinary request.
DATA_USER_ROLES: Final = ("AccreditedDataUser",)
#: ... and for a request for emergency care.
EMERGENCY_ROLES: Final = ("AccreditedHealthcareProvider", "LicensedClinician", "AccreditedDataUser")
#: The role that makes an issuer an accredited hospital: what an emergency department checks
#: for the EmergencySummary of a card.
HOSPITAL_ROLES: Final = ("AccreditedHealthcareProvider",)
#: Refusals that say the party is not accredited (as opposed to: could not be decided, e.g. an
#: expired trust list or an accreditation status list that could not be fetched).
_DEFINITE: Final = frozenset(
    {
        str(ErrorCode.ISSUER_NOT_TRUSTED),
        str(ErrorCode.CREDENTIAL_REVOKED),
        str(ErrorCode.CREDENTIAL_SUSPENDED),
    }
)


async def add_operator(
    store: Store,
    did: str,
    url: str | None = None,
    *,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> OperatorSource:
    """Trust ``did`` (fetched from ``url``); replaces an earlier entry for the same DID.

    :raises InvalidInputError: ``INVALID_INPUT``: not a DID, or a URL that is not https.
    """
    try:
        check_did(did)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"an operator is given by its DID (did:key:... or did:web:...): {exc.message}",
            code=ErrorCode.INVALID_INPUT,
        ) from None
    if url is not None:
        url = checked_url(url, insecure_http_hosts)
    async with store.transaction() as txn:
        if await txn.fetch(TRUST_CATEGORY, did, for_update=True) is None:
            await txn.insert(TRUST_CATEGORY, did, {"did": did, "url": url})
        else:
            await txn.replace(TRUST_CATEGORY, did, {"did": did, "url": url})
        await txn.commit()
    return OperatorSource(did, url)


async def remove_operator(store: Store, did: str) -> bool:
    """Stop trusting ``did``; whether it was trusted."""
    async with store.transaction() as txn:
        found = await txn.fetch(TRUST_CATEGORY, did)
        if found is None:
            return False
        await txn.remove(TRUST_CATEGORY, did)
        await txn.commit()
    return True


async def list_operators(store: Store) -> list[OperatorSource]:
    """The operators this wallet trusts."""
    async with store.session() as session:
        records = await session.fetch_all(TRUST_CATEGORY)
    sources = []
    for record in records:
        value = record.json()
        if isinstance(value, dict) and isinstance(value.get("did"), str):
            url = value.get("url")
            sources.append(OperatorSource(value["did"], url if isinstance(url, str) else None))
    return sorted(sources, key=lambda s: s.did)


@dataclass(frozen=True, slots=True)
class VerifierTrust:
    """Who asks, and whether an operator the wallet trusts accredits it.

    :param verifier: the verifier's public DID when the request proves it, else ``None``.
    :param claimed: the DID the request names (its ``audience``).
    :param accredited: ``True`` accredited for the request's purpose; ``False`` not (or not
        proven); ``None`` when the wallet trusts no operator (nothing to check against).
    :param decision: the registry's decision (operator, role, age) when one was made.
    """

    verifier: str | None
    claimed: str
    accredited: bool | None
    reason: str
    decision: TrustDecision | None = None

    @property
    def text(self) -> str:
        """One line for a person, e.g. ``verifier: did:... — accredited AccreditedDataUser by
        did:key:... (trust list 3 min old)`` or ``... — NOT accredited (why)``."""
        who = self.verifier or f"{self.claimed} (claimed, not proven)"
        if self.accredited is None:
            return f"verifier: {who} — accreditation not checked ({self.reason})"
        if not self.accredited:
            return f"verifier: {who} — NOT accredited ({self.reason})"
        return f"verifier: {who} — {_accredited_text(self.decision)}"

    def to_json(self) -> JSONObject:
        return {
            "verifier": self.verifier,
            "claimed": self.claimed,
            "accredited": self.accredited,
            **_decision_json(self.decision),
            "reason": self.reason,
            "text": self.text,
        }


def _decision_json(decision: TrustDecision | None) -> JSONObject:
    return {
        "role": decision.role if decision and decision.trusted else None,
        "operator": decision.operator if decision else None,
        "accreditation": decision.accreditation if decision and decision.trusted else None,
        "ageSeconds": int(decision.age.total_seconds())
        if decision and decision.age is not None
        else None,
    }


def _accredited_text(decision: TrustDecision | None) -> str:
    assert decision is not None
    age = f" (trust list {age_text(decision.age)} old)" if decision.age else ""
    return f"accredited {decision.role} by {decision.operator}{age}"


@dataclass(frozen=True, slots=True)
class IssuerTrust:
    """Whether an issuer (a hospital) is accredited as ``AccreditedHealthcareProvider`` by an
    operator the wallet trusts.

    :param issuer: the issuer's public DID; ``None`` when it is not known (an offer on a
        connection that has not issued anything yet: an offer proves no public DID).
    :param peer: the DID the party uses on the DIDComm connection (offers), else ``None``.
    :param accredited: ``True`` accredited and in force; ``False`` not, or not known to be;
        ``None`` when the wallet trusts no operator.
    :param checked: whether the answer is definite: ``False`` when there was nothing to decide
        with (no operator, issuer not known, trust list not fetched or expired, accreditation
        status not fetched).
    """

    issuer: str | None
    peer: str | None
    accredited: bool | None
    checked: bool
    reason: str
    decision: TrustDecision | None = None

    @property
    def text(self) -> str:
        """One line for a person, e.g. ``issuer: did:web:... — accredited
        AccreditedHealthcareProvider by did:key:... (trust list 3 min old)``."""
        if self.issuer is not None:
            who = self.issuer
        else:
            who = f"{self.peer or 'unknown'} (its public DID is not known yet)"
        if self.accredited is None:
            return f"issuer: {who} — accreditation not checked ({self.reason})"
        if self.accredited:
            return f"issuer: {who} — {_accredited_text(self.decision)}"
        if not self.checked:
            return f"issuer: {who} — NOT known to be accredited ({self.reason})"
        return f"issuer: {who} — NOT accredited ({self.reason})"

    def to_json(self) -> JSONObject:
        return {
            "issuer": self.issuer,
            "peer": self.peer,
            "accredited": self.accredited,
            "checked": self.checked,
            **_decision_json(self.decision),
            "reason": self.reason,
            "text": self.text,
        }


class WalletTrust:
    """The wallet's trust data and its answer for one request.

    :param sync: keeps the registry fresh; ``None`` for a wallet that trusts no operator.
    """

    def __init__(
        self,
        registry: TrustRegistry | None,
        resolver: KeyResolver,
        *,
        sync: TrustSync | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.registry = registry
        self.sync = sync
        self._resolver = resolver
        self._clock = clock

    @classmethod
    async def from_store(
        cls,
        store: Store,
        http: httpx.AsyncClient,
        resolver: KeyResolver,
        *,
        insecure_http_hosts: frozenset[str] = frozenset(),
    ) -> WalletTrust:
        """The operators configured in ``store``, fetched once (a failure is logged: requests
        then say the data could not be fetched); call :meth:`start` to keep them fresh."""
        sources = await list_operators(store)
        if not sources:
            return cls(None, resolver)
        checker = StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts)
        registry = TrustRegistry({s.did for s in sources}, resolver, checker)
        sync = TrustSync(
            registry, sources, http, resolver, checker, insecure_http_hosts=insecure_http_hosts
        )
        if sync.sources and not await sync.refresh():
            log.warning("wallet trust data not fetched: %s", sync.last_error)
        return cls(registry, resolver, sync=sync)

    def start(self) -> None:
        if self.sync is not None:
            self.sync.start()

    async def stop(self) -> None:
        if self.sync is not None:
            await self.sync.stop()

    async def assess(
        self,
        *,
        audience: str,
        purpose: str,
        nonce: str,
        verifier_proof: str | None,
        peer_did: str | None,
    ) -> VerifierTrust:
        """Who the request is from and whether it is accredited (never raises for a bad proof:
        the answer says why it does not count). The proof of the verifier's DID is checked
        whether or not the wallet trusts an operator: without one, the DID is still shown as
        proven, and its accreditation as not checked."""
        no_operator = self.registry is None

        def unproven(reason: str) -> VerifierTrust:
            if no_operator:
                return VerifierTrust(None, audience, None, f"{reason}; {_NO_OPERATOR}")
            return VerifierTrust(None, audience, False, reason)

        if verifier_proof is None or peer_did is None:
            if no_operator:
                return VerifierTrust(None, audience, None, _NO_OPERATOR)
            return unproven("the request does not prove the verifier's DID")
        try:
            verifier = await verify_request_proof(
                verifier_proof,
                resolver=self._resolver,
                peer_did=peer_did,
                nonce=nonce,
                now=self._clock(),
            )
        except HealthMyDataError as exc:
            return unproven(f"the verifier's proof of its DID fails: {exc.message}")
        if verifier != audience:
            return unproven(f"the request is proven by {verifier}, not by the audience it names")
        if self.registry is None:
            return VerifierTrust(verifier, audience, None, _NO_OPERATOR)
        if self.registry.fetched_at is None:
            return VerifierTrust(verifier, audience, False, self._not_fetched())
        roles = EMERGENCY_ROLES if "emergency" in purpose.lower() else DATA_USER_ROLES
        decision, reason = await self._decide(verifier, roles)
        return VerifierTrust(verifier, audience, decision.trusted, reason, decision)

    async def assess_issuer(
        self, issuer: str | None, *, peer_did: str | None = None
    ) -> IssuerTrust:
        """Whether ``issuer`` is an accredited hospital (``AccreditedHealthcareProvider``), in
        force now; never raises (the answer says why not).

        :param issuer: the issuer's public DID, ``None`` when not known.
        :param peer_did: the party's DID on the connection (an offer), for the answer.
        """
        if self.registry is None:
            return IssuerTrust(issuer, peer_did, None, False, _NO_OPERATOR)
        if issuer is None:
            return IssuerTrust(
                None,
                peer_did,
                False,
                False,
                "an offer does not prove who issues, and this connection has not issued a "
                "credential yet",
            )
        if self.registry.fetched_at is None:
            return IssuerTrust(issuer, peer_did, False, False, self._not_fetched())
        decision, reason = await self._decide(issuer, HOSPITAL_ROLES)
        definite = decision.trusted or decision.code in _DEFINITE
        return IssuerTrust(issuer, peer_did, decision.trusted, definite, reason, decision)

    def _not_fetched(self) -> str:
        reason = "the trust list could not be fetched"
        if self.sync is not None and self.sync.last_error:
            reason += f" ({self.sync.last_error})"
        return reason

    async def _decide(self, did: str, roles: tuple[str, ...]) -> tuple[TrustDecision, str]:
        """The first decision accrediting ``did`` for one of ``roles``, else the first refusal,
        with the reason to show."""
        assert self.registry is not None
        first: TrustDecision | None = None
        for role in roles:
            decision = await self.registry.check_issuer(did, role)
            if decision.trusted:
                return decision, decision.reason
            first = first or decision
        assert first is not None
        reason = (
            f"no trusted operator accredits it as {' or '.join(roles)}"
            if first.code == str(ErrorCode.ISSUER_NOT_TRUSTED) and first.operator is None
            else first.reason
        )
        return first, reason
