"""The hospital's accreditation: registering with the public operator, and keeping the result.

Onboarding (DESIGN.md story 1), seen from the hospital, over HTTP only (the operator is
another party; see ``docs/operator.md`` for its API):

1. ``POST <operator>/registrations/challenge`` gives a single-use challenge and the operator's
   DID (the ``domain``);
2. the hospital proves it controls its DID: a ``VerifiablePresentation`` with ``holder`` = its
   DID, signed by its active key for ``authentication`` over that challenge and domain
   (a did:web not served yet sends its DID document along); ``POST <operator>/registrations``;
3. the operator's administrator approves (``--operator-token`` does it at once, for a single
   administration or a demo), and ``GET <operator>/registrations/<id>`` then carries the
   accreditation credential, which the hospital checks (issued by that operator, for this
   DID, signature valid) and keeps in its store.

The service publishes what it keeps at ``GET /accreditation`` so that verifiers and
``mydata selftest`` find it. The record holds the operator URL, the registration id and the
credential: identifiers and a public document, no secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx

from agent.credentials import CREDENTIALS_V2_CONTEXT, add_proof, verify_proofs
from agent.dids import DIDResolver
from agent.errors import ErrorCode, InvalidInputError
from agent.jsonio import parse_json_object
from issuer.hospital import Hospital

__all__ = [
    "HOSPITAL_ROLE",
    "AccreditationLink",
    "approve_at_operator",
    "fetch_accreditation",
    "load_link",
    "register_with_operator",
    "store_accreditation",
]

#: The role a hospital asks the operator for.
HOSPITAL_ROLE: Final = "AccreditedHealthcareProvider"
_LINK = ("hospital", "accreditation")


@dataclass(frozen=True)
class AccreditationLink:
    """The hospital's registration with an operator and, once approved, its accreditation."""

    operator_url: str
    operator_did: str
    registration_id: str
    state: str
    credential: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "operatorUrl": self.operator_url,
            "operatorDid": self.operator_did,
            "registrationId": self.registration_id,
            "state": self.state,
            "credential": self.credential,
        }


def _operator_error(response: httpx.Response, what: str) -> InvalidInputError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code", "httpError") if isinstance(body, dict) else "httpError"
    message = body.get("message", "") if isinstance(body, dict) else ""
    return InvalidInputError(
        f"the operator refused to {what} (HTTP {response.status_code}, {code}): {message}"[:500],
        details={"operatorCode": str(code)[:60], "status": response.status_code},
    )


async def _call(
    http: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any
) -> dict[str, Any]:
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise InvalidInputError(
            f"could not reach the operator at {url} to {what}: {type(exc).__name__}; check the "
            "URL and that its service runs"
        ) from None
    if response.status_code >= 400:
        raise _operator_error(response, what)
    return parse_json_object(response.content)


async def load_link(hospital: Hospital) -> AccreditationLink | None:
    """The hospital's registration and accreditation, or ``None`` before it registered."""
    async with hospital.store.session() as session:
        record = await session.fetch(*_LINK)
    if record is None:
        return None
    data = record.json()
    return AccreditationLink(
        operator_url=str(data["operatorUrl"]),
        operator_did=str(data["operatorDid"]),
        registration_id=str(data["registrationId"]),
        state=str(data["state"]),
        credential=data.get("credential"),
    )


async def _save(hospital: Hospital, link: AccreditationLink) -> None:
    async with hospital.store.transaction() as txn:
        if await txn.fetch(*_LINK, for_update=True) is None:
            await txn.insert(*_LINK, link.to_json())
        else:
            await txn.replace(*_LINK, link.to_json())
        await txn.commit()


async def register_with_operator(
    hospital: Hospital,
    operator_url: str,
    *,
    http: httpx.AsyncClient,
    name: str = "",
    role: str = HOSPITAL_ROLE,
) -> AccreditationLink:
    """Apply to the operator at ``operator_url`` by DID-auth, and remember the registration.

    :raises InvalidInputError: the operator cannot be reached or refuses (its code in
        ``details``).
    """
    base = operator_url.rstrip("/")
    challenge = await _call(http, "POST", f"{base}/registrations/challenge", "issue a challenge")
    nonce, domain = challenge.get("challenge"), challenge.get("domain")
    if not isinstance(nonce, str) or not isinstance(domain, str):
        raise InvalidInputError("the operator's challenge answer has no challenge and domain")
    signer = await hospital.active_signer()
    presentation = add_proof(
        {
            "@context": [CREDENTIALS_V2_CONTEXT],
            "type": ["VerifiablePresentation"],
            "holder": hospital.did,
        },
        signer,
        created=hospital.clock(),
        proof_purpose="authentication",
        challenge=nonce,
        domain=domain,
    )
    body: dict[str, Any] = {"presentation": presentation, "role": role, "name": name}
    if hospital.did.startswith("did:web:"):
        # The service may not serve it yet (onboarding comes first); the operator notes that
        # it checked the key against this document rather than the domain.
        body["didDocument"] = await hospital.did_document()
    registration = await _call(http, "POST", f"{base}/registrations", "register", json=body)
    link = AccreditationLink(
        operator_url=base,
        operator_did=domain,
        registration_id=str(registration["id"]),
        state=str(registration["state"]),
    )
    await _save(hospital, link)
    return link


async def approve_at_operator(
    link: AccreditationLink, *, http: httpx.AsyncClient, token: str
) -> None:
    """Ask the operator's admin API to approve the registration (the operator's token).

    :raises InvalidInputError: the operator refuses (a wrong token is ``unauthorized``).
    """
    await _call(
        http,
        "POST",
        f"{link.operator_url}/admin/registrations/{link.registration_id}/approve",
        "approve the registration",
        headers={"Authorization": f"Bearer {token}"},
        json={},
    )


async def store_accreditation(
    hospital: Hospital,
    credential: dict[str, Any],
    link: AccreditationLink,
    *,
    resolver: DIDResolver,
) -> AccreditationLink:
    """Check an accreditation credential (issued by the registered operator, for this
    hospital's DID, signature valid) and keep it.

    :raises InvalidInputError: it is not this hospital's accreditation by that operator.
    :raises agent.errors.ProofError: its proof does not verify.
    """
    issuer = credential.get("issuer")
    issuer = issuer.get("id") if isinstance(issuer, dict) else issuer
    subject = credential.get("credentialSubject")
    if issuer != link.operator_did or not (
        isinstance(subject, dict) and subject.get("id") == hospital.did
    ):
        raise InvalidInputError(
            "the operator sent an accreditation that is not for this hospital's DID, or not "
            "issued by the operator registered with",
            code=ErrorCode.TRUST_LIST_INVALID,
        )
    await verify_proofs(credential, resolver, now=hospital.clock(), binding="issuer")
    stored = AccreditationLink(
        operator_url=link.operator_url,
        operator_did=link.operator_did,
        registration_id=link.registration_id,
        state="approved",
        credential=credential,
    )
    await _save(hospital, stored)
    return stored


async def fetch_accreditation(
    hospital: Hospital,
    *,
    http: httpx.AsyncClient,
    insecure_http_hosts: frozenset[str] = frozenset(),
) -> AccreditationLink:
    """Ask the operator how the registration stands; keep the accreditation once approved.

    :raises InvalidInputError: ``notFound`` when the hospital never registered; the operator
        cannot be reached or refuses; the credential is not this hospital's.
    """
    link = await load_link(hospital)
    if link is None:
        raise InvalidInputError(
            "this hospital has not registered with an operator: run 'mydata hospital init "
            "--operator URL'",
            code=ErrorCode.NOT_FOUND,
        )
    registration = await _call(
        http,
        "GET",
        f"{link.operator_url}/registrations/{link.registration_id}",
        "report the registration",
    )
    credential = registration.get("accreditation")
    if not isinstance(credential, dict):
        updated = AccreditationLink(
            link.operator_url,
            link.operator_did,
            link.registration_id,
            str(registration.get("state", link.state)),
            link.credential,
        )
        await _save(hospital, updated)
        return updated
    resolver = DIDResolver(http_client=http, insecure_http_hosts=insecure_http_hosts)
    return await store_accreditation(hospital, credential, link, resolver=resolver)
