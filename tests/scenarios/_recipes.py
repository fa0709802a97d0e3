"""Build and run the scenarios of tests/scenarios/<name>/scenario.json.

A scenario names a pipeline and a recipe; artefacts that must be signed fresh (keys are made per
run) are built here from the recipe, static inputs are files in the scenario's folder. Every
pipeline ends in the real verifier code: :func:`verifier.submit.verify_submission` and
:class:`verifier.policy.InsurerClaimPolicy` (``insurer``), the offline cache and
:class:`verifier.policy.EmergencyPolicy` (``emergency``), :func:`verifier.verify.verify_credential`
(``credential``), :func:`verifier.verify.verify_presentation` (``presentation``),
:class:`verifier.trust.TrustRegistry` (``accreditation``), and the verifier's HTTP service
(``http``, see test_scenarios.py).

Pipelines and their recipe members (all optional unless said otherwise):

``insurer``       ``credential``: {``issuer``, ``signer``, ``holder``, ``exp_days``, ``nbf_days``,
                  ``status_idx``, ``claim_type``}; ``submissions``: a list of {``claim_id``,
                  ``claim_type``, ``request_purpose``, ``holder``, ``disclose``, ``aud``
                  (``verifier`` or a DID),
                  ``reuse`` (submit the previous text again), ``mutation``, ``expect``}
``emergency``     ``credential`` as above; the verifier runs on an offline cache file only
``credential``    ``credential``: {``issuer``, ``signer``, ``valid_from_days``,
                  ``valid_until_days``}; ``mutation``
``presentation``  ``credential`` as for ``credential``; ``presenter``, ``holder``
``accreditation`` ``signer`` of the hospital's accreditation

Parties: ``hospital`` (accredited by ``operator``), ``citizen``, ``stranger`` (a key, no
accreditation), ``operator``. Time is fixed at :data:`tests.verifier.world.NOW`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agent.credentials.jose import b64url_decode, b64url_encode, sign_jws
from agent.credentials.proofs import add_proof
from agent.credentials.sd_jwt import issue_sd_jwt
from agent.credentials.token_status_list import TokenStatus
from agent.dids import DIDResolver
from agent.errors import HealthMyDataError
from agent.storage import Store
from tests.verifier.conftest import Party
from tests.verifier.test_verify import allergy_credential
from tests.verifier.world import (
    CLAIM,
    NOW,
    STATUS_URI,
    SUMMARY,
    accreditation,
    jwk_of,
    presentation,
    status_token,
)
from verifier.nonces import NonceStore
from verifier.offline import export_offline_cache, load_offline_cache
from verifier.policy import (
    CLAIM_FIELDS,
    VCT_CLAIM_EVIDENCE,
    VCT_EMERGENCY_SUMMARY,
    EmergencyPolicy,
    InsurerClaimPolicy,
    evidence_key,
)
from verifier.report import VerificationReport
from verifier.request import create_presentation_request
from verifier.sdjwt import TokenStatusCache, verify_sd_jwt_presentation
from verifier.submit import verify_submission
from verifier.trust import TrustRegistry
from verifier.verify import verify_credential, verify_presentation

#: The verifier's audience (its DID in a deployment) and the purpose it acts for.
AUDIENCE = "did:key:z6MkScenarioVerifierAudience"
PURPOSE = "claims"
#: Status list indexes the scenarios' hospital has revoked and suspended.
REVOKED_IDX, SUSPENDED_IDX = 5, 6

CLAIM_DEFINITION: dict[str, Any] = {
    "id": "institutional-claim",
    "input_descriptors": [
        {
            "id": "claim",
            "constraints": {
                "limit_disclosure": "required",
                "fields": [{"path": [f"$.{name}"]} for name in CLAIM_FIELDS["institutional"]],
            },
        }
    ],
}


@dataclass
class World:
    hospital: Party
    citizen: Party
    stranger: Party
    operator: Party
    resolver: DIDResolver
    store: Store

    def party(self, name: str) -> Party:
        party: Party = getattr(self, name)
        return party

    async def trust(self) -> TrustRegistry:
        registry = TrustRegistry({self.operator.did}, self.resolver, clock=lambda: NOW)
        await registry.add_accreditation(accreditation(self.operator, self.hospital.did))
        return registry

    def status(self) -> TokenStatusCache:
        cache = TokenStatusCache(offline=True, clock=lambda: NOW)
        token = status_token(
            self.hospital, {REVOKED_IDX: TokenStatus.INVALID, SUSPENDED_IDX: TokenStatus.SUSPENDED}
        )
        cache.seed(STATUS_URI, token, fetched_at=NOW - timedelta(hours=1))
        return cache


def failed_checks(report: VerificationReport) -> dict[str, str | None]:
    """``{check: code}`` of every failure, nested credentials' as ``credentials[i].check``."""
    found: dict[str, str | None] = {str(r.check): r.code for r in report.failed}
    for index, nested in enumerate(report.credentials):
        for result in nested.failed:
            found[f"credentials[{index}].{result.check}"] = result.code
    return found


# --- SD-JWT VC artefacts --------------------------------------------------------------------


def sd_jwt_credential(world: World, recipe: dict[str, Any], kind: str) -> str:
    """An SD-JWT VC (claim evidence or emergency summary) signed as the recipe says."""
    issuer = world.party(recipe.get("issuer", "hospital"))
    signer = world.party(recipe.get("signer", recipe.get("issuer", "hospital")))
    claims = dict(CLAIM if kind == "claim" else SUMMARY)
    if "claim_type" in recipe:
        claims["claimType"] = recipe["claim_type"]
    if "status_idx" in recipe:
        claims["status"] = {"status_list": {"idx": recipe["status_idx"], "uri": STATUS_URI}}
    holder = recipe.get("holder", "citizen" if kind == "claim" else None)
    return issue_sd_jwt(
        claims,
        signer.signer,
        iss=issuer.did,
        iat=NOW - timedelta(days=2),
        exp=NOW + timedelta(days=recipe["exp_days"]) if "exp_days" in recipe else None,
        nbf=NOW + timedelta(days=recipe["nbf_days"]) if "nbf_days" in recipe else None,
        disclosable=[(name,) for name in claims if name != "status"],
        holder_jwk=jwk_of(world.party(holder)) if holder else None,
        vct=VCT_CLAIM_EVIDENCE if kind == "claim" else VCT_EMERGENCY_SUMMARY,
    )


def _disclosure(salt: str, name: str, value: Any) -> str:
    return b64url_encode(json.dumps([salt, name, value]).encode("utf-8"))


def _decode_disclosure(text: str) -> list[Any]:
    value: list[Any] = json.loads(b64url_decode(text, "disclosure"))
    return value


def _key_binding(holder: Party, parts: list[str], nonce: str, aud: str) -> str:
    """A fresh KB-JWT over exactly ``parts`` (the issuer JWT and its Disclosures)."""
    body = "~".join(parts) + "~"
    sd_hash = b64url_encode(hashlib.sha256(body.encode("ascii")).digest())
    return sign_jws(
        {"alg": "EdDSA", "typ": "kb+jwt"},
        {"iat": int(NOW.timestamp()), "aud": aud, "nonce": nonce, "sd_hash": sd_hash},
        holder.signer,
    )


def mutate_sd_jwt(world: World, text: str, mutation: str, *, nonce: str, aud: str) -> str:
    """Apply a named attack to a presentation ``jwt~d1~...~kb``.

    ``tamper-disclosure``: a disclosed value changed in transit (the KB-JWT left as it was);
    ``inject-disclosure``: the holder adds a Disclosure of their own making and signs a
    KB-JWT over it; ``swap-disclosure``: the holder replaces a Disclosure by the same claim's
    Disclosure from another credential and signs a KB-JWT over it;
    ``tamper-payload``: a claim of the Issuer-signed JWT changed (signature kept);
    ``alg-none`` / ``alg-hs256``: the Issuer-signed JWT re-headed with an unsupported or
    downgraded algorithm (payload and signature kept).
    """
    *parts, kb = text.split("~")
    jwt, disclosures = parts[0], parts[1:]
    if mutation == "tamper-disclosure":
        index = next(
            i for i, d in enumerate(disclosures) if _decode_disclosure(d)[1] == "chargeTotal"
        )
        salt, name, _ = _decode_disclosure(disclosures[index])
        disclosures[index] = _disclosure(salt, name, {"value": 24000.0, "currency": "EUR"})
        return "~".join([jwt, *disclosures, kb])
    if mutation in ("inject-disclosure", "swap-disclosure"):
        if mutation == "inject-disclosure":
            extra = _disclosure(secrets.token_urlsafe(16), "diagnoses", [{"code": "FAKE"}])
            disclosures.append(extra)
        else:
            other = sd_jwt_credential(world, {}, "claim").split("~")[1:-1]
            index = next(
                i for i, d in enumerate(disclosures) if _decode_disclosure(d)[1] == "diagnoses"
            )
            disclosures[index] = next(d for d in other if _decode_disclosure(d)[1] == "diagnoses")
        holder = world.citizen
        return "~".join([jwt, *disclosures, _key_binding(holder, [jwt, *disclosures], nonce, aud)])
    header, payload, signature = jwt.split(".")
    if mutation == "tamper-payload":
        claims = json.loads(b64url_decode(payload, "payload"))
        claims["vct"] = VCT_EMERGENCY_SUMMARY
        payload = b64url_encode(json.dumps(claims).encode())
    elif mutation in ("alg-none", "alg-hs256"):
        head = json.loads(b64url_decode(header, "header"))
        head["alg"] = "none" if mutation == "alg-none" else "HS256"
        header = b64url_encode(json.dumps(head).encode())
        if mutation == "alg-none":
            signature = ""
    else:
        raise ValueError(f"unknown mutation {mutation!r}")
    return "~".join([f"{header}.{payload}.{signature}", *disclosures, kb])


# --- pipelines ------------------------------------------------------------------------------


async def run_insurer(world: World, recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """Each submission through verify_submission and the insurer policy, on one store."""
    nonces = NonceStore(world.store, clock=lambda: NOW)
    trust, status = await world.trust(), world.status()
    policy = InsurerClaimPolicy(world.store)
    credential = sd_jwt_credential(world, recipe.get("credential", {}), "claim")
    outcomes: list[dict[str, Any]] = []
    text = ""
    for submission in recipe["submissions"]:
        if not submission.get("reuse"):
            made = await create_presentation_request(
                nonces,
                world.hospital.signer,  # any key: the request's signature is the wallet's concern
                audience=AUDIENCE,
                definition=CLAIM_DEFINITION,
                purpose=submission.get("request_purpose", PURPOSE),
                now=NOW,
            )
            aud = submission.get("aud", "verifier")
            aud = AUDIENCE if aud == "verifier" else aud
            text = presentation(
                credential,
                world.party(submission.get("holder", "citizen")),
                disclose=submission.get("disclose", list(CLAIM_FIELDS["institutional"])),
                nonce=made.nonce,
                aud=aud,
            )
            if "mutation" in submission:
                text = mutate_sd_jwt(world, text, submission["mutation"], nonce=made.nonce, aud=aud)
        report = await verify_submission(
            text,
            resolver=world.resolver,
            nonces=nonces,
            audience=AUDIENCE,
            purpose=PURPOSE,
            token_status=status,
            trust=trust,
            now=NOW,
        )
        decision = await policy.decide(
            report,
            claim_id=submission.get("claim_id", "claim-1"),
            claim_type=submission.get("claim_type", "institutional"),
            evidence_key=evidence_key(text),
            now=NOW,
        )
        outcomes.append(_outcome(report, decision.to_dict()))
    return outcomes


async def run_emergency(world: World, recipe: dict[str, Any]) -> dict[str, Any]:
    """The emergency department: a card scanned with no network, on a cache file synced
    earlier (issuer keys are did:key; trust and status come from the file)."""
    cache_file = json.dumps(
        export_offline_cache(
            token_status=world.status(), trust=await world.trust(), clock=lambda: NOW
        )
    )
    offline = await load_offline_cache(json.loads(cache_file), clock=lambda: NOW)
    card = sd_jwt_credential(world, recipe.get("credential", {}), "emergency")
    report = await verify_sd_jwt_presentation(
        card,
        resolver=offline.resolver,
        now=NOW,
        status=offline.token_status,
        trust=offline.trust,
        require_key_binding=False,
    )
    decision = await EmergencyPolicy().decide(report)
    return _outcome(report, decision.to_dict())


def w3c_credential(world: World, recipe: dict[str, Any]) -> dict[str, Any]:
    """The hospital's AllergyIntolerance credential for the citizen (W3C VC, eddsa-jcs-2022)."""
    issuer = world.party(recipe.get("issuer", "hospital"))
    kwargs: dict[str, Any] = {}
    if "valid_until_days" in recipe:
        kwargs["valid_until"] = NOW + timedelta(days=recipe["valid_until_days"])
    credential = allergy_credential(issuer, world.citizen, **kwargs)
    if "valid_from_days" in recipe:
        unsigned = {k: v for k, v in credential.items() if k != "proof"}
        unsigned["validFrom"] = (NOW + timedelta(days=recipe["valid_from_days"])).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        credential = add_proof(unsigned, issuer.signer, created=NOW - timedelta(days=1))
    if "signer" in recipe:  # claims to be the issuer, signed by someone else
        unsigned = {k: v for k, v in credential.items() if k != "proof"}
        credential = add_proof(
            unsigned, world.party(recipe["signer"]).signer, created=NOW - timedelta(days=1)
        )
    return credential


def mutate_w3c(credential: dict[str, Any], mutation: str) -> dict[str, Any]:
    """``tamper-claim``: the allergy's criticality lowered; ``cryptosuite:<name>`` /
    ``proof-type:<name>``: the proof relabelled (signature kept) as another suite."""
    changed = copy.deepcopy(credential)
    if mutation == "tamper-claim":
        changed["credentialSubject"]["fhirResource"]["criticality"] = "low"
    elif mutation.startswith("cryptosuite:"):
        changed["proof"]["cryptosuite"] = mutation.split(":", 1)[1]
    elif mutation.startswith("proof-type:"):
        changed["proof"]["type"] = mutation.split(":", 1)[1]
        changed["proof"].pop("cryptosuite", None)
    else:
        raise ValueError(f"unknown mutation {mutation!r}")
    return changed


async def run_credential(world: World, recipe: dict[str, Any]) -> dict[str, Any]:
    credential = w3c_credential(world, recipe.get("credential", {}))
    if "mutation" in recipe:
        credential = mutate_w3c(credential, recipe["mutation"])
    report = await verify_credential(
        credential, resolver=world.resolver, now=NOW, trust=await world.trust()
    )
    return _outcome(report, None)


async def run_presentation(world: World, recipe: dict[str, Any]) -> dict[str, Any]:
    """A VP with the citizen's credential, made and signed by ``presenter`` naming ``holder``."""
    credential = w3c_credential(world, recipe.get("credential", {}))
    presenter = world.party(recipe.get("presenter", "citizen"))
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": world.party(recipe.get("holder", recipe.get("presenter", "citizen"))).did,
        "verifiableCredential": [credential],
    }
    challenge = secrets.token_urlsafe(16)
    signed = add_proof(
        vp,
        presenter.signer,
        created=NOW,
        proof_purpose="authentication",
        challenge=challenge,
        domain=AUDIENCE,
    )
    report = await verify_presentation(
        signed,
        resolver=world.resolver,
        challenge=challenge,
        domain=AUDIENCE,
        now=NOW,
        trust=await world.trust(),
    )
    return _outcome(report, None)


async def run_accreditation(world: World, recipe: dict[str, Any]) -> dict[str, Any]:
    """The operator's trust: an accreditation of the hospital signed by ``signer`` is offered
    to the registry; then the hospital's credential is verified with that registry."""
    registry = TrustRegistry({world.operator.did}, world.resolver, clock=lambda: NOW)
    forged = accreditation(world.party(recipe["signer"]), world.hospital.did)
    if recipe.get("relabel_issuer"):
        forged = {**forged, "issuer": world.operator.did}
    load_error: str | None = None
    try:
        await registry.add_accreditation(forged)
    except HealthMyDataError as error:
        load_error = str(error.code)
    report = await verify_credential(
        w3c_credential(world, {}), resolver=world.resolver, now=NOW, trust=registry
    )
    return {**_outcome(report, None), "load_error": load_error}


def _outcome(report: VerificationReport, decision: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "verified": report.verified,
        "failed": failed_checks(report),
        "warnings": list(report.warnings),
        "decision": decision,
        "report": report.to_dict(),
    }
