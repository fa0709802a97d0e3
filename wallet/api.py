"""The wallet's HTTP service: the citizen's own agent, run by ``mydata serve wallet``.

Two stores: the **wallet** (credentials, holder keys, consents; askar encrypted with a key
from the citizen's passphrase, :func:`wallet.open_wallet`) and the **agent** store of the
DIDComm runtime (relationship DIDs and their keys, protocol records, a raw key in a key file
like every party's service). Every ``/wallet`` route sits behind the admin bearer token
(``MYDATA_ADMIN_TOKEN``), and the service binds 127.0.0.1 by default: only the citizen's own
device reaches it. ``POST /didcomm`` is the only open route besides ``/healthz``.

==============================================  ================================================
``GET /wallet/identity``                        holder DID and SD-JWT holder JWK
``GET /wallet/credentials``                     list, or search with ``type``, ``issuer``,
                                                ``code``, ``text``, ``from``, ``to`` (days,
                                                ``YYYY-MM-DD``), ``format``, ``limit``
``GET /wallet/credentials/{id}``                metadata and the credential as received
``DELETE /wallet/credentials/{id}``             delete it (204; 404 unknown id)
``POST /wallet/import``                         body: a credential in any supported format
                                                (W3C VC JSON, SD-JWT VC, SMART Health Card
                                                file, JWS or ``shc:/`` text); 201, 409 duplicate
``GET /wallet/offers``                          offers waiting for the citizen: who offers
                                                (``peer_did``, ``issuer``) and, with trusted
                                                operators, ``issuer_trust``
``POST /wallet/offers/{thread}/accept|decline`` request the offered credentials, or say no
``GET /wallet/requests``, ``.../{thread}``      presentation requests and the plan answering
                                                each: what goes to whom for which purpose,
                                                and ``verifier_trust``: whether the verifier
                                                is accredited (:mod:`wallet.trust`);
                                                ``?state=answered``: those answered, with the
                                                verifier's answer (``outcome``, ``problem``)
``POST /wallet/requests/{thread}/approve``      present (body ``{"digest"?}``: the plan's digest
                                                as shown; 409 ``planChanged`` when it differs;
                                                502 ``didcommDeliveryFailed``: not delivered,
                                                still pending, its consent rolled back)
``POST /wallet/requests/{thread}/decline``      refuse; nothing is presented
``GET /wallet/trust``                           the operators trusted, when their trust lists
                                                were fetched, their age (:mod:`wallet.trust`)
``POST /wallet/trust/refresh``                  fetch now; 502 ``trustStale`` when it fails
``GET /wallet/consents``, ``.../{id}``          consent records and their state
``POST /wallet/consents/{id}/withdraw``         withdraw and notify the recipient
``POST /wallet/emergency-card``                 ``{"sections"?, "lifetime": "365d",
                                                "credential"?}``: payload text, SVG, PNG; from
                                                the newest summary of an accredited hospital
                                                when operators are trusted
==============================================  ================================================

Plus the DIDComm agent's own admin routes (:mod:`agent.service`): ``POST /admin/connections``
accepts a hospital's invitation URL.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from agent.clock import format_datetime
from agent.credentials.emergency_qr import EMERGENCY_SUMMARY_VCT
from agent.dids import DIDResolver
from agent.errors import (
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    MessagingError,
    ProtocolStateError,
)
from agent.jsonio import parse_json_object
from agent.openapi import json_body, object_schema
from agent.runtime import DIDCommAgent
from agent.servenames import WALLET_PASSPHRASE_ENV
from agent.service import AgentServiceConfig, create_agent_app, error_response
from agent.storage import Store, open_store
from agent.storage.opening import StoreOpening
from agent.storeconfig import resolve_store
from agent.types import JSONObject
from wallet.consent import ConsentRecord, ConsentStatus, get_consent, list_consents
from wallet.didcomm import (
    accept_offer,
    answered_requests,
    approve_request,
    decline_offer,
    decline_request,
    pending_offers,
    pending_request,
    pending_requests,
    register_wallet,
    withdraw_consent,
)
from wallet.emergency import SECTIONS, EmergencyCard, emergency_card, emergency_sections
from wallet.errors import CredentialNotFoundError, CredentialStatusError, WalletError
from wallet.holder import CredentialFormat, StoredCredential, Wallet, wallet_on
from wallet.status import CredentialStatus, sd_jwt_status
from wallet.trust import IssuerTrust, WalletTrust

__all__ = [
    "PASSPHRASE_ENV",
    "SummaryChoice",
    "WalletOpenArgs",
    "agent_store_uri",
    "choose_emergency_summary",
    "consent_to_json",
    "create_wallet_app",
    "make_emergency_card",
    "parse_lifetime",
]

#: The wallet store's passphrase (else it is asked for).
PASSPHRASE_ENV = WALLET_PASSPHRASE_ENV

#: The largest credential ``POST /wallet/import`` reads.
MAX_IMPORT_BYTES: Final = 2 * 1024 * 1024

_STATUS: Final[dict[str, int]] = {
    str(ErrorCode.WALLET_CREDENTIAL_NOT_FOUND): 404,
    str(ErrorCode.CONSENT_NOT_FOUND): 404,
    str(ErrorCode.WALLET_DUPLICATE_CREDENTIAL): 409,
    str(ErrorCode.CONSENT_NOT_ACTIVE): 409,
    str(ErrorCode.CONSENT_RECEIPT_MISMATCH): 409,
    str(ErrorCode.CREDENTIAL_REVOKED): 409,
    str(ErrorCode.CREDENTIAL_SUSPENDED): 409,
    str(ErrorCode.ISSUER_NOT_TRUSTED): 409,
    # The other party could not be reached or refused the message: a gateway's failure, not
    # the citizen's request (what was asked for is pending again).
    str(ErrorCode.DIDCOMM_DELIVERY_FAILED): 502,
    str(ErrorCode.DIDCOMM_NO_ENDPOINT): 502,
    str(ErrorCode.PRESENTATION_NO_MATCH): 422,
    str(ErrorCode.PRESENTATION_QUERY_INVALID): 422,
    str(ErrorCode.WALLET_UNSUPPORTED_FORMAT): 422,
    str(ErrorCode.WALLET_ISSUER_KEY_NOT_FOUND): 422,
}
_REASON_STATUS: Final[dict[str, int]] = {
    "unknownThread": 404,
    "unknownConnection": 404,
    "unexpectedState": 409,
    "illegalTransition": 409,
    "planChanged": 409,
    "inFlight": 409,
}
_LIFETIME: Final = re.compile(r"^\s*(\d{1,5})\s*([dhw]?)\s*$")


@dataclass(frozen=True)
class WalletOpenArgs:
    """How the service opens the citizen's wallet store (see :func:`wallet.open_wallet`).

    :param insecure_http_hosts: hosts whose did:web may be fetched over plain http (local
        testing only; e.g. a hospital on ``localhost``).
    :param auto_accept: request every offered credential without asking (demo only).
    """

    uri: str
    passphrase: str | None = None
    raw_key: str | None = None
    profile: str | None = None
    create: bool = False
    insecure_http_hosts: frozenset[str] = frozenset()
    auto_accept: bool = False


def agent_store_uri(wallet_uri: str, agent_store: str | None = None) -> str:
    """The wallet service's DIDComm agent store: ``agent_store``, or beside a SQLite wallet
    (``X.sqlite`` -> ``X.agent.sqlite``).

    :raises InvalidInputError: a PostgreSQL wallet and no ``agent_store``.
    """
    if agent_store:
        return resolve_store(agent_store, "wallet-agent")
    if not wallet_uri.startswith("sqlite://") or wallet_uri == "sqlite://:memory:":
        raise InvalidInputError(
            "give the agent's store with --agent-store: it cannot be derived from this wallet store"
        )
    path = Path(wallet_uri.removeprefix("sqlite://"))
    return f"sqlite://{path.with_name(path.stem + '.agent' + path.suffix)}"


def parse_lifetime(value: str | int) -> timedelta:
    """``365d``, ``12h``, ``52w`` or a number of days.

    :raises InvalidInputError: anything else.
    """
    match = _LIFETIME.match(str(value))
    if match is None or isinstance(value, bool):
        raise InvalidInputError(
            "a lifetime is a number of days, or a number with d, h or w (e.g. 365d)",
            details={"reason": "lifetime"},
        )
    amount, unit = int(match.group(1)), match.group(2) or "d"
    return {
        "d": timedelta(days=amount),
        "h": timedelta(hours=amount),
        "w": timedelta(weeks=amount),
    }[unit]


def consent_to_json(consent: ConsentRecord) -> JSONObject:
    return {
        "id": consent.id,
        "status": str(consent.status),
        "recipient": consent.recipient,
        "purpose": consent.purpose,
        "time": consent.document.get("time"),
        "retention": consent.document.get("retention"),
        "dataCategories": consent.document.get("dataCategories"),
        "fields": consent.document.get("fields"),
        "withdrawn": None if consent.withdrawal is None else consent.withdrawal.get("time"),
        "receipt": consent.receipt,
        "document": consent.document,
    }


@dataclass(frozen=True, slots=True)
class SummaryChoice:
    """The EmergencySummary a card is made from, and why.

    :param issuer_trust: whether its issuer is an accredited hospital; ``None`` when the wallet
        trusts no operator (nothing is checked then).
    :param warning: what the citizen should know (a newer summary passed over, an issuer whose
        accreditation could not be checked or that is not accredited), else ``None``.
    """

    credential_id: str
    issuer: str | None
    issuer_trust: IssuerTrust | None
    warning: str | None = None


async def _hospital(trust: WalletTrust, issuer: str | None) -> IssuerTrust:
    if issuer is None:
        return IssuerTrust(None, None, False, True, "the summary names no issuer")
    return await trust.assess_issuer(issuer)


async def choose_emergency_summary(
    wallet: Wallet, *, trust: WalletTrust | None = None, credential_id: str | None = None
) -> SummaryChoice:
    """Which EmergencySummary SD-JWT VC to make the card from.

    ``credential_id`` when given (the citizen's choice is honoured; with trusted operators a
    warning says when its issuer is not accredited). Otherwise the newest summary; when the
    wallet trusts operators, the newest whose issuer is accredited as
    ``AccreditedHealthcareProvider`` and in force (emergency departments check exactly that),
    with a warning naming any newer one passed over. When no issuer can be checked (trust data
    not fetched) the newest undecided one is used, with a warning.

    :raises CredentialNotFoundError: no EmergencySummary SD-JWT VC is stored, or no credential
        ``credential_id``.
    :raises WalletError: ``issuerNotTrusted``: every summary's issuer is known not to be
        accredited (revoked, suspended, never accredited); no card would be accepted.
    """
    checking = trust is not None and trust.registry is not None
    if credential_id is not None:
        meta = await wallet.get(credential_id)
        if not checking:
            return SummaryChoice(meta.id, meta.issuer, None)
        assert trust is not None
        verdict = await _hospital(trust, meta.issuer)
        warning = None
        if not verdict.accredited:
            warning = (
                f"its issuer is not an accredited hospital ({verdict.reason}): emergency "
                "departments that trust the same operators will refuse this card"
                if verdict.checked
                else f"whether its issuer is an accredited hospital was not checked "
                f"({verdict.reason})"
            )
        return SummaryChoice(meta.id, meta.issuer, verdict, warning)
    found = await wallet.search(type=EMERGENCY_SUMMARY_VCT, format=str(CredentialFormat.SD_JWT_VC))
    if not found:
        raise CredentialNotFoundError(
            "no EmergencySummary SD-JWT VC in this wallet: ask the hospital for one",
            details={"type": EMERGENCY_SUMMARY_VCT},
        )
    newest_first = sorted(
        found, key=lambda m: m.issued.timestamp() if m.issued else 0.0, reverse=True
    )
    if not checking:
        return SummaryChoice(newest_first[0].id, newest_first[0].issuer, None)
    assert trust is not None
    assessed: list[tuple[StoredCredential, IssuerTrust]] = []
    for meta in newest_first:
        assessed.append((meta, await _hospital(trust, meta.issuer)))
        if assessed[-1][1].accredited:
            break
    chosen = next((pair for pair in assessed if pair[1].accredited), None)
    chosen = chosen or next((pair for pair in assessed if not pair[1].checked), None)
    if chosen is None:
        listed = "; ".join(f"{m.id} from {m.issuer}: {v.reason}" for m, v in assessed[:5])
        raise WalletError(
            "no EmergencySummary in this wallet is from a hospital that the operators this "
            f"wallet trusts accredit ({listed}); emergency departments that trust them would "
            "refuse the card, so none was made: ask an accredited hospital for a new summary "
            "(or name a summary with 'credential' to make the card anyway)",
            code=ErrorCode.ISSUER_NOT_TRUSTED,
            details={
                "summaries": [
                    {
                        "credential": m.id,
                        "issuer": m.issuer,
                        "code": v.decision.code if v.decision else None,
                    }
                    for m, v in assessed[:20]
                ]
            },
        )
    meta, verdict = chosen
    notes = []
    if not verdict.accredited:
        notes.append(
            f"whether its issuer {meta.issuer} is an accredited hospital was not checked "
            f"({verdict.reason})"
        )
    passed = assessed[: assessed.index(chosen)]
    if passed:
        notes.append(
            "made from an older summary: a newer one is not from a hospital known to be "
            "accredited ("
            + "; ".join(f"{m.id} from {m.issuer}: {v.reason}" for m, v in passed[:3])
            + ")"
        )
    return SummaryChoice(meta.id, meta.issuer, verdict, "; ".join(notes) or None)


async def make_emergency_card(
    wallet: Wallet,
    *,
    sections: list[str] | None,
    lifetime: timedelta,
    credential_id: str | None = None,
    insecure_http_hosts: Collection[str] = frozenset(),
) -> EmergencyCard:
    """The card from the newest EmergencySummary SD-JWT VC (or ``credential_id``); every
    section it has unless ``sections`` says which. The issuer's accreditation is not checked
    here: :func:`choose_emergency_summary` with the wallet's :class:`WalletTrust` chooses
    ``credential_id`` that way (``POST /wallet/emergency-card`` does).

    The summary's status is checked first (:func:`wallet.status.sd_jwt_status`): emergency
    departments refuse a card of a revoked or suspended summary, so none is made. When the
    status cannot be checked (offline) the card is made and ``status_warning`` says why.

    :param insecure_http_hosts: hosts whose status list may be fetched over plain http.
    :raises CredentialNotFoundError: no EmergencySummary SD-JWT VC is stored.
    :raises CredentialStatusError: ``credentialRevoked`` or ``credentialSuspended``.
    :raises InvalidInputError: as :func:`wallet.emergency.emergency_card`.
    """
    if credential_id is None:
        credential_id = (await choose_emergency_summary(wallet)).credential_id
    content = await wallet.content(credential_id)
    if not isinstance(content, str):
        raise InvalidInputError(
            "an emergency card is made from an SD-JWT VC", details={"reason": "notSdJwt"}
        )
    chosen = sections if sections else emergency_sections(content)
    now = wallet.clock()
    card = emergency_card(
        content,
        sections=chosen,
        holder_signer=await wallet.jwk_signer(),
        lifetime=lifetime,
        now=now,
    )
    # After the card is made (a malformed summary or bad sections fail first, offline too).
    outcome = await sd_jwt_status(
        content,
        resolver=wallet.resolver,
        http_client=wallet.http_client,
        now=now,
        insecure_http_hosts=insecure_http_hosts,
    )
    if outcome.status in (CredentialStatus.REVOKED, CredentialStatus.SUSPENDED):
        revoked = outcome.status is CredentialStatus.REVOKED
        raise CredentialStatusError(
            f"the hospital has {'revoked' if revoked else 'suspended'} this EmergencySummary "
            f"({credential_id}); emergency departments refuse a card made from it, so none was "
            "made: ask the hospital for a new summary"
            + ("" if revoked else " (or make the card again once it is reinstated)"),
            code=ErrorCode.CREDENTIAL_REVOKED if revoked else ErrorCode.CREDENTIAL_SUSPENDED,
            details={"credential": credential_id, "status": str(outcome.status)},
        )
    if outcome.status is CredentialStatus.UNCHECKED:
        return replace(
            card,
            status_warning=f"its status (revoked?) was not checked: {outcome.reason}; make the "
            "card again when online to be sure the hospital has not revoked it",
        )
    return card


def _wallet(request: Request) -> Wallet:
    wallet: Wallet = request.app.state.wallet
    return wallet


def _trust(request: Request) -> WalletTrust | None:
    trust: WalletTrust | None = getattr(request.app.state, "wallet_trust", None)
    return trust


def _agent(request: Request) -> DIDCommAgent:
    agent: DIDCommAgent = request.app.state.agent
    return agent


async def _optional_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    return parse_json_object(raw) if raw.strip() else {}


def _metas(items: list[StoredCredential]) -> list[JSONObject]:
    return [m.to_json() for m in items]


# Request bodies as the handlers read them (agent.openapi): the routes parse their own bodies.
_IMPORT_BODY = json_body(
    {
        "type": "object",
        "description": "a W3C VC, or a SMART Health Card file (.smart-health-card)",
    },
    description="the credential itself, as received: JSON, or as text an SD-JWT VC, a SMART "
    "Health Card JWS or its shc:/ QR text",
    other_media={"text/plain": {"schema": {"type": "string"}}},
)
_APPROVE_BODY = object_schema(
    {"digest": {"type": "string", "description": "the plan's digest, as shown to the citizen"}}
)
_WITHDRAW_BODY = object_schema(
    {"connection_id": {"type": "string", "description": "where to notify the recipient"}}
)
_CARD_BODY = object_schema(
    {
        "sections": {
            "type": "array",
            "items": {"type": "string", "enum": list(SECTIONS)},
            "description": "the sections to put on the card; every one the credential has if none",
        },
        "lifetime": {
            "oneOf": [
                {"type": "string", "pattern": _LIFETIME.pattern},
                {"type": "integer", "minimum": 0, "maximum": 99999},
            ],
            "default": "365d",
            "description": "days, or a number with d, h or w",
        },
        "credential": {
            "type": "string",
            "description": "the EmergencySummary SD-JWT VC's id; the newest if none",
        },
    }
)


def _router() -> APIRouter:
    router = APIRouter(prefix="/wallet", tags=["wallet"])

    @router.get("/identity")
    async def identity(request: Request) -> JSONObject:
        wallet = _wallet(request)
        return {"holder": await wallet.holder_did(), "holderJwk": await wallet.holder_jwk()}

    @router.get("/credentials")
    async def credentials(
        request: Request,
        type: str | None = None,
        issuer: str | None = None,
        code: str | None = None,
        text: str | None = None,
        date_from: Annotated[date | None, Query(alias="from")] = None,
        date_to: Annotated[date | None, Query(alias="to")] = None,
        format: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    ) -> list[JSONObject]:
        """Every stored credential, or those matching all the criteria given."""
        wallet = _wallet(request)
        criteria = (type, issuer, code, text, date_from, date_to, format)
        if all(c is None for c in criteria):
            items = await wallet.list()
            return _metas(items[:limit] if limit else items)
        return _metas(
            await wallet.search(
                type=type,
                issuer=issuer,
                code=code,
                text=text,
                date_from=date_from,
                date_to=date_to,
                format=format,
                limit=limit,
            )
        )

    @router.get("/credentials/{credential_id:path}")
    async def credential(request: Request, credential_id: str) -> JSONObject:
        wallet = _wallet(request)
        meta = await wallet.get(credential_id)
        return {"metadata": meta.to_json(), "credential": await wallet.content(credential_id)}

    @router.delete(
        "/credentials/{credential_id:path}",
        status_code=204,
        response_class=Response,
        responses={404: {"description": "walletCredentialNotFound: no credential with this id"}},
    )
    async def delete_credential(request: Request, credential_id: str) -> Response:
        """Delete a credential, its metadata and its search words (consents naming it stay)."""
        await _wallet(request).remove(credential_id)
        return Response(status_code=204)

    @router.post("/import", status_code=201, openapi_extra=_IMPORT_BODY)
    async def import_credential(request: Request) -> JSONObject:
        """Body: the credential itself (JSON object, or text such as an SD-JWT or shc:/)."""
        body = await request.body()
        if len(body) > MAX_IMPORT_BYTES:
            raise InvalidInputError(
                "the credential is larger than the wallet accepts",
                code=ErrorCode.INPUT_TOO_LARGE,
            )
        return (await _wallet(request).add_credential(body)).to_json()

    @router.get("/offers")
    async def offers(request: Request) -> list[JSONObject]:
        """Offers waiting for the citizen: who offers (``peer_did``; ``issuer``: the issuer of
        what came on that connection before) what, and, with trusted operators, whether that
        issuer is an accredited hospital (``issuer_trust``)."""
        found = await pending_offers(_agent(request), trust=_trust(request))
        return [o.to_json() for o in found]

    @router.post("/offers/{thread_id}/accept", status_code=202)
    async def accept(request: Request, thread_id: str) -> JSONObject:
        """Request the offered credentials; they are stored when the issuer sends them."""
        offer = await accept_offer(_agent(request), _wallet(request), thread_id)
        return {"accepted": offer.to_json()}

    @router.post("/offers/{thread_id}/decline")
    async def decline(request: Request, thread_id: str) -> JSONObject:
        await decline_offer(_agent(request), thread_id)
        return {"declined": thread_id}

    @router.get("/requests")
    async def requests(
        request: Request,
        state: Literal["pending", "answered"] = "pending",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[JSONObject]:
        """Presentation requests waiting for the citizen, each with its plan; or, with
        ``state=answered``, those answered, the most recent first (at most ``limit``), each
        with its ``outcome`` and the verifier's ``problem`` (code and reason) if it refused."""
        if state == "answered":
            return [a.to_json() for a in await answered_requests(_agent(request), limit=limit)]
        found = await pending_requests(_agent(request), _wallet(request), trust=_trust(request))
        return [p.to_json() for p in found]

    @router.get("/requests/{thread_id}")
    async def one_request(request: Request, thread_id: str) -> JSONObject:
        found = await pending_request(
            _agent(request), _wallet(request), thread_id, trust=_trust(request)
        )
        return found.to_json()

    @router.get("/trust")
    async def trust_status(request: Request) -> JSONObject:
        """The operators this wallet trusts and the age of their trust data."""
        trust = _trust(request)
        if trust is None or trust.sync is None:
            return {"operators": [], "sources": [], "entries": 0, "fetchedAt": None}
        return trust.sync.status()

    @router.post(
        "/trust/refresh",
        responses={
            404: {"description": "The wallet trusts no operator"},
            502: {"description": "trustStale: the operator could not be used; last good data kept"},
        },
    )
    async def trust_refresh(request: Request) -> JSONResponse:
        """Fetch the trust lists now; the last good data stays in use when this fails."""
        trust = _trust(request)
        if trust is None or trust.sync is None:
            raise HealthMyDataError(
                "this wallet trusts no operator: mydata wallet trust add",
                code=ErrorCode.NOT_FOUND,
            )
        ok = await trust.sync.refresh()
        body = trust.sync.status()
        if not ok:
            body = {"code": "trustStale", "message": str(trust.sync.last_error), "status": body}
        return JSONResponse(body, status_code=200 if ok else 502)

    @router.post(
        "/requests/{thread_id}/approve",
        openapi_extra=json_body(_APPROVE_BODY, required=False),
        responses={
            409: {"description": "planChanged, or the request is not pending (or being sent)"},
            502: {
                "description": "didcommDeliveryFailed: not delivered; the request is pending "
                "again and its consent rolled back"
            },
        },
    )
    async def approve(request: Request, thread_id: str) -> JSONObject:
        """Present as planned; body ``{"digest": <plan digest shown>}`` (recommended)."""
        body = await _optional_body(request)
        digest = body.get("digest")
        if digest is not None and not isinstance(digest, str):
            raise InvalidInputError("'digest' must be the plan's digest string")
        approval = await approve_request(
            _agent(request), _wallet(request), thread_id, expected_digest=digest
        )
        return approval.to_json()

    @router.post("/requests/{thread_id}/decline")
    async def decline_presentation(request: Request, thread_id: str) -> JSONObject:
        pending = await pending_request(_agent(request), _wallet(request), thread_id)
        await decline_request(_agent(request), thread_id)
        return {"declined": thread_id, "plan": pending.to_json()["plan"]}

    @router.get("/consents")
    async def consents(
        request: Request, status: ConsentStatus | None = None, recipient: str | None = None
    ) -> list[JSONObject]:
        found = await list_consents(_wallet(request), status=status, recipient=recipient)
        return [consent_to_json(c) for c in found]

    @router.get("/consents/{consent_id}")
    async def consent(request: Request, consent_id: str) -> JSONObject:
        return consent_to_json(await get_consent(_wallet(request), consent_id))

    @router.post(
        "/consents/{consent_id}/withdraw",
        openapi_extra=json_body(_WITHDRAW_BODY, required=False),
    )
    async def withdraw(request: Request, consent_id: str) -> JSONObject:
        """Withdraw and notify the recipient (body ``{"connection_id"?}``)."""
        body = await _optional_body(request)
        connection_id = body.get("connection_id")
        if connection_id is not None and not isinstance(connection_id, str):
            raise InvalidInputError("'connection_id' must be a string")
        withdrawn = await withdraw_consent(
            _agent(request), _wallet(request), consent_id, connection_id
        )
        return consent_to_json(withdrawn)

    @router.post("/emergency-card", openapi_extra=json_body(_CARD_BODY, required=False))
    async def card(request: Request) -> JSONObject:
        """Body ``{"sections"?: [...], "lifetime": "365d", "credential"?: id}``."""
        body = await _optional_body(request)
        sections = body.get("sections")
        if sections is not None and (
            not isinstance(sections, list) or not all(isinstance(s, str) for s in sections)
        ):
            raise InvalidInputError("'sections' must be a list of section names")
        credential_id = body.get("credential")
        if credential_id is not None and not isinstance(credential_id, str):
            raise InvalidInputError("'credential' must be a credential id")
        lifetime = parse_lifetime(body.get("lifetime", "365d"))
        wallet = _wallet(request)
        choice = await choose_emergency_summary(
            wallet, trust=_trust(request), credential_id=credential_id
        )
        made = await make_emergency_card(
            wallet,
            sections=sections,
            lifetime=lifetime,
            credential_id=choice.credential_id,
            insecure_http_hosts=getattr(request.app.state, "insecure_http_hosts", frozenset()),
        )
        warnings = [w for w in (choice.warning, made.status_warning) if w]
        return {
            "payload": made.payload_text,
            "svg": made.svg_text,
            "png": base64.b64encode(made.png_bytes).decode("ascii"),
            "qrVersion": made.qr_version,
            "errorLevel": made.error_level,
            "sections": list(made.sections),
            "expires": None if made.expires is None else format_datetime(made.expires),
            "statusChecked": made.status_warning is None,
            "credential": choice.credential_id,
            "issuer": choice.issuer,
            "issuerTrust": None if choice.issuer_trust is None else choice.issuer_trust.to_json(),
            "warning": "; ".join(warnings) or None,
            "warnings": warnings,
        }

    return router


def _error(exc: Exception) -> JSONResponse:
    if not isinstance(exc, HealthMyDataError):  # pragma: no cover - registered for those only
        raise exc
    code = _STATUS.get(str(exc.code)) or _REASON_STATUS.get(str(exc.details.get("reason")))
    if code is None:
        return error_response(exc)
    return JSONResponse(exc.to_dict(), status_code=code)


def create_wallet_app(
    config: AgentServiceConfig,
    wallet_args: WalletOpenArgs,
    *,
    opening: StoreOpening | None = None,
) -> FastAPI:
    """The wallet service: the DIDComm agent on ``config``'s store, the wallet on
    ``wallet_args``'s (opened at start-up, closed at shutdown).

    :param opening: the wallet store's opening begun already with ``wallet_args``'s uri,
        secret and profile (``mydata serve wallet``, before this module is even imported),
        which the first start-up takes instead of opening the store itself.
    :raises ValueError: no admin token and no insecure mode (as :func:`create_agent_app`).
    """

    async def configure(app: FastAPI, agent: DIDCommAgent) -> None:
        resolver = DIDResolver(
            http_client=agent.http, insecure_http_hosts=wallet_args.insecure_http_hosts
        )
        store = None if opening is None else await opening.store()
        if store is None:
            store = await open_store(
                wallet_args.uri,
                passphrase=wallet_args.passphrase,
                raw_key=wallet_args.raw_key,
                profile=wallet_args.profile,
                create=wallet_args.create,
            )
        wallet = await wallet_on(
            store,
            profile=wallet_args.profile,
            resolver=resolver,
            http_client=agent.http,
            clock=agent.clock,
            search_index=True,  # a long-lived process: searches answer from memory
        )
        await wallet.holder_did()  # the identity exists before the first offer
        app.state.wallet = wallet
        app.state.insecure_http_hosts = wallet_args.insecure_http_hosts
        trust = await WalletTrust.from_store(
            agent.store,
            agent.http,
            resolver,
            insecure_http_hosts=wallet_args.insecure_http_hosts,
        )
        trust.start()
        app.state.wallet_trust = trust
        register_wallet(agent, wallet, auto_accept=wallet_args.auto_accept)

    def wallet_store(app: FastAPI) -> Store | None:
        wallet: Wallet | None = getattr(app.state, "wallet", None)
        return wallet.store if wallet is not None else None

    app = create_agent_app(
        config, configure=configure, admin_routers=[_router()], other_store=wallet_store
    )

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return _error(exc)

    app.add_exception_handler(WalletError, handler)
    app.add_exception_handler(ProtocolStateError, handler)
    app.add_exception_handler(MessagingError, handler)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with inner(served):
            try:
                yield
            finally:
                trust: WalletTrust | None = getattr(served.state, "wallet_trust", None)
                if trust is not None:
                    await trust.stop()
                wallet: Wallet | None = getattr(served.state, "wallet", None)
                if wallet is not None:
                    await wallet.close()

    app.router.lifespan_context = lifespan
    return app
