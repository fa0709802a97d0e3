"""Answer a verifier's DCQL query with the minimum, after the citizen has seen the plan.

Two steps, so that nothing leaves the wallet before the citizen agrees:

1. :func:`plan_presentation` matches the query against the stored credentials and returns a
   :class:`wallet.plan.PresentationPlan`: per credential, exactly the claims the verifier will
   see. For an SD-JWT VC these are only the requested claims (and, as RFC 9901 requires, the
   Disclosures of the objects around them); when ``claim_sets`` offers alternatives, the one
   revealing the fewest Disclosures is chosen; among several matching credentials, the one
   revealing least (then the newest). A W3C VC signed with ``eddsa-jcs-2022`` cannot reveal
   parts of itself, so it goes whole, and the plan says so.
2. :func:`present` makes the presentation and the signed consent record:

   * SD-JWT VC: the issuer-signed JWT, the chosen Disclosures and a Key Binding JWT (ES256,
     the holder's P-256 key of ``cnf``) with the verifier's ``nonce`` and ``aud``;
   * W3C: a Verifiable Presentation (``holder`` = the holder DID) with an ``eddsa-jcs-2022``
     proof of purpose ``authentication`` carrying ``challenge`` = nonce and ``domain`` =
     audience.

   The result is an OpenID4VP ``vp_token``: an object keyed by Credential Query id, each an
   array of presentations.

Only credentials bound to this wallet's holder keys match: an SD-JWT VC whose ``cnf.jwk`` is
the holder JWK, a W3C VC whose subject is the holder DID. SMART Health Cards are kept but not
presented through DCQL (they are shown as issued, as a QR code or file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from agent.credentials.jcs import canonicalize
from agent.credentials.proofs import add_proof
from agent.credentials.sd_jwt import ClaimPath, parse_sd_jwt
from agent.credentials.sd_jwt import present as sd_jwt_present
from agent.errors import ErrorCode
from agent.types import JSONObject
from wallet.consent import ConsentRecord, record_consent
from wallet.errors import PresentationQueryError
from wallet.holder import CredentialFormat, StoredCredential, Wallet
from wallet.plan import PlannedCredential, PresentationPlan, Recipient
from wallet.query import CredentialQuery, DcqlQuery, parse_dcql, pointer, select

__all__ = ["Presentation", "plan_presentation", "present"]

_VP_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"


@dataclass(frozen=True, slots=True)
class Presentation:
    """What goes to the verifier, and the consent it was made under.

    :param vp_token: Credential Query id -> presentations (SD-JWT+KB strings, VP objects).
    :param digest: ``sha-256:<hex>`` of the JCS of ``vp_token``, kept in the consent record.
    :param consent: the signed consent record.
    """

    vp_token: dict[str, list[str | JSONObject]]
    digest: str
    consent: ConsentRecord


def _satisfied(cq: CredentialQuery, claims: Any) -> list[tuple[str | int, ...]] | None:
    """The concrete claim paths answering ``cq`` in ``claims`` with the fewest paths, or None."""
    if not cq.claims:
        return []
    found: dict[str | None, list[tuple[str | int, ...]] | None] = {}
    by_index: list[list[tuple[str | int, ...]] | None] = []
    for claim in cq.claims:
        hits = select(claims, claim.path)
        if claim.values is not None:
            hits = [(p, v) for p, v in hits if v in claim.values]
        paths = [p for p, _ in hits] or None
        by_index.append(paths)
        if claim.id is not None:
            found[claim.id] = paths
    if cq.claim_sets is None:
        if any(p is None for p in by_index):
            return None
        return [p for paths in by_index if paths for p in paths]
    options: list[list[tuple[str | int, ...]]] = []
    for option in cq.claim_sets:
        chosen = [found[cid] for cid in option]
        if all(c is not None for c in chosen):
            options.append([p for paths in chosen if paths for p in paths])
    return min(options, key=len) if options else None


def _requested(paths: list[tuple[str | int, ...]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(pointer(p) for p in paths))


def _plan_sd_jwt(
    cq: CredentialQuery, meta: StoredCredential, token: str, holder_jwk: Mapping[str, Any]
) -> PlannedCredential | None:
    if cq.vct_values is not None and not set(meta.types) & set(cq.vct_values):
        return None
    parsed = parse_sd_jwt(token)
    cnf = parsed.claims.get("cnf")
    if not isinstance(cnf, dict) or cnf.get("jwk") != dict(holder_jwk):
        return None  # not bound to this wallet's key: no Key Binding JWT possible
    paths = _satisfied(cq, parsed.claims)
    if paths is None:
        return None
    shown = parse_sd_jwt(sd_jwt_present(parsed, disclose=paths))
    disclosed = tuple(sorted(pointer(p) for p in shown.paths.values()))
    # Top-level claims shown whatever is chosen: neither disclosed nor a container of one.
    roots = {p[0] for p in shown.paths.values()}
    always = tuple(sorted(pointer((k,)) for k in shown.claims if k not in roots))
    return PlannedCredential(
        query_id=cq.id,
        credential=meta,
        requested=_requested(paths),
        disclosed=disclosed,
        always_shown=always,
        whole_credential=False,
        shown=shown.claims,
        disclose_paths=tuple(tuple(p) for p in paths),
    )


def _plan_w3c(
    cq: CredentialQuery, meta: StoredCredential, document: JSONObject, holder: str
) -> PlannedCredential | None:
    if cq.type_values is not None and not any(t <= set(meta.types) for t in cq.type_values):
        return None
    subject = document.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    if not subjects or any(not isinstance(s, dict) or s.get("id") != holder for s in subjects):
        return None  # the holder binding a verifier checks would fail
    paths = _satisfied(cq, document)
    if paths is None:
        return None
    return PlannedCredential(
        query_id=cq.id,
        credential=meta,
        requested=_requested(paths),
        disclosed=(),
        always_shown=("/",),
        whole_credential=True,
        shown=document,
        disclose_paths=(),
    )


async def _answers(wallet: Wallet, cq: CredentialQuery) -> list[PlannedCredential]:
    if cq.format == CredentialFormat.SD_JWT_VC and cq.vct_values is not None:
        candidates: dict[str, StoredCredential] = {}
        for vct in cq.vct_values:
            for meta in await wallet.search(type=vct, format=cq.format):
                candidates[meta.id] = meta
        metas = list(candidates.values())
    else:
        metas = await wallet.search(format=cq.format)
    holder = await wallet.holder_did()
    holder_jwk = await wallet.holder_jwk()
    planned: list[PlannedCredential] = []
    for meta in metas:
        content = await wallet.content(meta.id)
        if meta.format is CredentialFormat.SD_JWT_VC and isinstance(content, str):
            item = _plan_sd_jwt(cq, meta, content, holder_jwk)
        elif meta.format is CredentialFormat.W3C_VC and isinstance(content, dict):
            item = _plan_w3c(cq, meta, content, holder)
        else:
            item = None
        if item is not None:
            planned.append(item)
    planned.sort(
        key=lambda p: (
            len(p.disclosed),
            -(p.credential.issued.timestamp() if p.credential.issued else 0.0),
        )
    )
    return planned if cq.multiple else planned[:1]


def _choose(dcql: DcqlQuery, answers: dict[str, list[PlannedCredential]]) -> list[str]:
    answered = {qid for qid, items in answers.items() if items}
    if dcql.credential_sets is None:
        missing = [c.id for c in dcql.credentials if c.id not in answered]
        if missing:
            raise PresentationQueryError(
                "no stored credential answers the query",
                code=ErrorCode.PRESENTATION_NO_MATCH,
                details={"credentialQueries": missing},
            )
        return [c.id for c in dcql.credentials]
    chosen: list[str] = []
    for index, cset in enumerate(dcql.credential_sets):
        options = [o for o in cset.options if set(o) <= answered]
        if not options:
            if cset.required:
                raise PresentationQueryError(
                    "no stored credentials answer a required credential set of the query",
                    code=ErrorCode.PRESENTATION_NO_MATCH,
                    details={"credentialSet": index},
                )
            continue
        best = min(options, key=lambda o: sum(len(answers[q][0].disclosed) for q in o))
        chosen.extend(q for q in best if q not in chosen)
    return [c.id for c in dcql.credentials if c.id in chosen]


async def plan_presentation(
    wallet: Wallet, query: Mapping[str, Any], *, verifier: Recipient, purpose: str
) -> PresentationPlan:
    """What the wallet would present for ``query``: see the module docstring.

    :raises PresentationQueryError: ``presentationQueryInvalid`` for a malformed query;
        ``presentationNoMatch`` when no stored credentials answer it.
    """
    dcql = parse_dcql(query)
    answers = {cq.id: await _answers(wallet, cq) for cq in dcql.credentials}
    chosen = _choose(dcql, answers)
    items = tuple(item for qid in chosen for item in answers[qid])
    return PresentationPlan(verifier, purpose, items, wallet.clock())


async def present(
    wallet: Wallet,
    plan: PresentationPlan,
    *,
    nonce: str,
    audience: str,
    legal_basis: str = "consent",
    retention: str = "P30D",
) -> Presentation:
    """Make the presentation the citizen agreed to in ``plan`` and record the consent.

    :param nonce: the verifier's nonce (KB-JWT ``nonce``; VP proof ``challenge``).
    :param audience: the verifier's identifier (KB-JWT ``aud``; VP proof ``domain``).
    :param legal_basis: kept in the consent record.
    :param retention: how long the recipient may keep the data (ISO 8601 duration).
    :raises agent.errors.HealthMyDataError: signing or storage failures.
    """
    now = wallet.clock()
    token: dict[str, list[str | JSONObject]] = {}
    w3c: dict[str, list[JSONObject]] = {}
    for item in plan.items:
        content = await wallet.content(item.credential.id)
        if item.format is CredentialFormat.SD_JWT_VC:
            disclose: list[ClaimPath] = list(item.disclose_paths)
            token.setdefault(item.query_id, []).append(
                sd_jwt_present(
                    content,
                    disclose=disclose,
                    holder_signer=await wallet.jwk_signer(),
                    nonce=nonce,
                    aud=audience,
                    iat=now,
                )
            )
        else:
            w3c.setdefault(item.query_id, []).append(content)
    if w3c:
        holder = await wallet.holder_did()
        signer = await wallet.holder_signer()
        for query_id, credentials in w3c.items():
            vp: JSONObject = {
                "@context": [_VP_CONTEXT],
                "type": ["VerifiablePresentation"],
                "holder": holder,
                "verifiableCredential": credentials,
            }
            signed = add_proof(
                vp,
                signer,
                created=now,
                proof_purpose="authentication",
                challenge=nonce,
                domain=audience,
            )
            token.setdefault(query_id, []).append(signed)
    digest = "sha-256:" + hashlib.sha256(canonicalize(token)).hexdigest()
    consent = await record_consent(
        wallet, plan, presentation_digest=digest, legal_basis=legal_basis, retention=retention
    )
    return Presentation(token, digest, consent)
