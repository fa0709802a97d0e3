"""Add and verify Data Integrity proofs: proof sets, proof chains, purposes, challenge, domain.

VC Data Integrity 1.0 (https://www.w3.org/TR/vc-data-integrity/):

* section 4.1 Add Proof and section 4.2 Add Proof Set/Chain: a new proof signs the document
  without its existing proofs (a *proof set*), or, when ``previousProof`` names earlier proofs,
  the document with exactly those proofs in ``proof`` (a *proof chain*);
* section 4.3 Verify Proof and section 4.5 Verify Proof Sets and Chains: every proof must
  verify, and every id a ``previousProof`` names must exist in the set;
* section 2.2 Proofs / 2.2.2 Proof Purposes: the purpose selects the DID document
  verification relationship the key must be listed under (``assertionMethod`` for issuers,
  ``authentication`` for holders), and ``challenge``/``domain`` bind an authentication proof to
  one verifier request.

The suite (how to canonicalise, hash and sign) lives in :mod:`agent.credentials.suites`; this
module only decides *which* bytes a proof covers and *whether* the key may make it. It raises
on the first failure, with the specific error; the verifier turns that into a report.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent.credentials.suites import get_suite
from agent.credentials.suites._common import XSD_DATETIME
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, ProofError
from agent.keys.signer import KeyResolver, Signer
from agent.types import JSONObject

__all__ = [
    "DEFAULT_SUITES",
    "ProofResult",
    "add_proof",
    "check_controller_binding",
    "check_proof_controllers",
    "verify_proofs",
]

#: The suites :func:`verify_proofs` accepts unless told otherwise.
DEFAULT_SUITES: frozenset[str] = frozenset({"eddsa-jcs-2022", "eddsa-rdfc-2022"})


@dataclass(frozen=True, slots=True)
class ProofResult:
    """One proof that verified.

    :param suite: the ``cryptosuite`` name.
    :param verification_method: the DID URL of the key that made the proof.
    :param purpose: the ``proofPurpose``.
    :param controller: the DID that controls the key (as resolved).
    :param proof_id: the proof's ``id``, when it has one.
    :param created: the proof's ``created`` timestamp, when it has one.
    """

    suite: str
    verification_method: str
    purpose: str
    controller: str
    proof_id: str | None = None
    created: datetime | None = None


def _xsd_datetime(value: datetime, name: str) -> str:
    if value.tzinfo is None:
        raise InvalidInputError(
            f"{name} must be a timezone-aware datetime (use datetime.now(UTC))",
            details={"argument": name},
        )
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(proof: JSONObject, name: str) -> datetime | None:
    value = proof.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not XSD_DATETIME.match(value):
        raise CryptosuiteError(
            f"proof {name} is not an XML Schema dateTime",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"property": name},
        )
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _proof_list(document: JSONObject) -> list[JSONObject]:
    proofs = document.get("proof")
    if proofs is None:
        return []
    items = proofs if isinstance(proofs, list) else [proofs]
    for item in items:
        if not isinstance(item, dict):
            raise CryptosuiteError(
                "every proof must be a JSON object", code=ErrorCode.MALFORMED_PROOF_ERROR
            )
    return items


def _previous(value: object) -> list[str]:
    ids = value if isinstance(value, list) else [value]
    if not ids or not all(isinstance(item, str) for item in ids):
        raise CryptosuiteError(
            "previousProof must be a proof id or a list of proof ids",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
        )
    return [str(item) for item in ids]


def _chain_input(
    unsecured: JSONObject, all_proofs: list[JSONObject], previous: object, code: ErrorCode
) -> JSONObject:
    """The document a chained proof covers: ``unsecured`` with the proofs it names.

    VC Data Integrity 1.0 section 4.2 step 4 (adding) and section 4.5 step 3 (verifying).

    :raises ProofError: (``code``) when a named proof is not in the set.
    """
    by_id = {proof["id"]: proof for proof in all_proofs if isinstance(proof.get("id"), str)}
    matching = []
    for proof_id in _previous(previous):
        if proof_id not in by_id:
            raise ProofError(
                f"previousProof names {proof_id!r}, which is not a proof of this document; "
                "a proof chain must keep every proof it builds on",
                code=code,
                details={"previousProof": proof_id},
            )
        matching.append(by_id[proof_id])
    return {**unsecured, "proof": matching}


def add_proof(
    document: JSONObject,
    signer: Signer,
    *,
    created: datetime | None,
    cryptosuite: str = "eddsa-jcs-2022",
    proof_purpose: str = "assertionMethod",
    expires: datetime | None = None,
    challenge: str | None = None,
    domain: str | list[str] | None = None,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
) -> JSONObject:
    """A new document: ``document`` with one more Data Integrity proof made by ``signer``.

    Existing proofs are kept, forming a proof set; with ``previous_proof`` the new proof also
    covers the proofs named (a proof chain). ``created=None`` omits ``created``, which the spec
    allows; pass the issuance time otherwise (never read from a global clock here).
    VC Data Integrity 1.0 sections 4.1 and 4.2.

    :raises agent.errors.CryptosuiteError: ``unsupportedCryptosuite`` for an unknown suite,
        ``PROOF_GENERATION_ERROR`` when the suite cannot sign the document.
    :raises ProofError: (``PROOF_GENERATION_ERROR``) when ``previous_proof`` names a proof the
        document does not have.
    :raises InvalidInputError: for a naive datetime.
    """
    suite = get_suite(cryptosuite)
    options: JSONObject = {"type": "DataIntegrityProof", "cryptosuite": suite.name}
    if proof_id is not None:
        options["id"] = proof_id
    if created is not None:
        options["created"] = _xsd_datetime(created, "created")
    if expires is not None:
        options["expires"] = _xsd_datetime(expires, "expires")
    options["verificationMethod"] = signer.verification_method
    options["proofPurpose"] = proof_purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    if previous_proof is not None:
        options["previousProof"] = previous_proof

    all_proofs = _proof_list(document)
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    signed_input = unsecured
    if previous_proof is not None:
        signed_input = _chain_input(
            unsecured, all_proofs, previous_proof, ErrorCode.PROOF_GENERATION_ERROR
        )
    proof = suite.create_proof(signed_input, options, signer)
    result = copy.deepcopy(unsecured)
    result["proof"] = [*copy.deepcopy(all_proofs), proof] if all_proofs else proof
    return result


def _controller_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _types(document: JSONObject) -> set[str]:
    value = document.get("type", [])
    items = value if isinstance(value, list) else [value]
    return {item for item in items if isinstance(item, str)}


def check_controller_binding(
    document: JSONObject, verification_method: str, controller: str
) -> None:
    """The key must belong to the issuer (credentials) or the holder (presentations)."""
    if "VerifiablePresentation" in _types(document):
        expected = _controller_of(document.get("holder"))
        role = "holder"
        if expected is None:
            return  # VC Data Model 2.0 section 4.13: holder is optional on presentations.
    else:
        expected = _controller_of(document.get("issuer"))
        role = "issuer"
    vm_did = verification_method.split("#", 1)[0]
    if expected is None or vm_did != expected or controller != expected:
        raise ProofError(
            f"the proof was made with {verification_method}, which is not a key of the "
            f"document's {role} {expected!r}",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"verificationMethod": verification_method, role: expected},
        )


def _check_challenge_domain(proof: JSONObject, challenge: str | None, domain: str | None) -> None:
    if challenge is not None and proof.get("challenge") != challenge:
        raise ProofError(
            "the proof's challenge does not equal the one this verifier issued (replay?)",
            code=ErrorCode.INVALID_CHALLENGE_ERROR,
        )
    if domain is not None:
        value = proof.get("domain")
        domains = value if isinstance(value, list) else [value]
        if domain not in domains:
            raise ProofError(
                "the proof's domain does not include this verifier's domain",
                code=ErrorCode.INVALID_DOMAIN_ERROR,
                details={"expected": domain},
            )


async def verify_proofs(
    document: JSONObject,
    resolver: KeyResolver,
    *,
    now: datetime,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    accepted_suites: Iterable[str] = DEFAULT_SUITES,
    max_clock_skew: timedelta = timedelta(minutes=5),
    bind_controller: bool = True,
) -> list[ProofResult]:
    """Verify every proof of ``document`` (a proof set, possibly with chains).

    Per proof, in order: shape (``type`` is ``DataIntegrityProof``, the suite is accepted),
    purpose, ``created``/``expires`` against ``now`` (with ``max_clock_skew``), challenge and
    domain, the ``previousProof`` references, the key (resolved for the proof's purpose as the
    verification relationship), the key's controller, then the signature.
    VC Data Integrity 1.0 sections 4.3 and 4.5.

    ``bind_controller`` checks that the key belongs to the credential's ``issuer`` (or the
    presentation's ``holder``); turn it off only for documents whose issuer is not a DID (the
    W3C spec vectors), and then check the issuer binding elsewhere.

    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` (no proof, wrong type, bad fields),
        ``unsupportedCryptosuite``, ``MISMATCHED_PROOF_PURPOSE_ERROR``.
    :raises ProofError: ``INVALID_PROOF_DATETIME`` (expired or created in the future),
        ``INVALID_CHALLENGE_ERROR``, ``INVALID_DOMAIN_ERROR``, ``PROOF_VERIFICATION_ERROR``
        (missing previousProof, key not the issuer's/holder's).
    :raises agent.errors.SignatureError: a signature does not verify.
    :raises agent.errors.DIDError: the resolver cannot find the key for the purpose.
    """
    if now.tzinfo is None:
        raise InvalidInputError("now must be a timezone-aware datetime")
    accepted = frozenset(accepted_suites)
    all_proofs = _proof_list(document)
    if not all_proofs:
        raise CryptosuiteError("the document has no proof", code=ErrorCode.MALFORMED_PROOF_ERROR)
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    results: list[ProofResult] = []
    for proof in all_proofs:
        if proof.get("type") != "DataIntegrityProof":
            raise CryptosuiteError(
                f"proof type {proof.get('type')!r} is not DataIntegrityProof",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        name = proof.get("cryptosuite")
        if name not in accepted:
            raise CryptosuiteError(
                f"cryptosuite {name!r} is not accepted here; accepted: {sorted(accepted)}",
                code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
                details={"cryptosuite": name},
            )
        suite = get_suite(name)
        purpose = proof.get("proofPurpose")
        if purpose != expected_purpose:
            raise CryptosuiteError(
                f"proof purpose {purpose!r} does not match the expected {expected_purpose!r}",
                code=ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
            )
        verification_method = proof.get("verificationMethod")
        if not isinstance(verification_method, str):
            raise CryptosuiteError(
                "proof verificationMethod must be a DID URL string",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        created = _parse_datetime(proof, "created")
        expires = _parse_datetime(proof, "expires")
        if expires is not None and expires < now - max_clock_skew:
            raise ProofError(
                f"the proof expired at {proof['expires']}",
                code=ErrorCode.INVALID_PROOF_DATETIME,
            )
        if created is not None and created > now + max_clock_skew:
            raise ProofError(
                f"the proof claims to be created in the future ({proof['created']})",
                code=ErrorCode.INVALID_PROOF_DATETIME,
            )
        _check_challenge_domain(proof, challenge, domain)
        covered = unsecured
        if "previousProof" in proof:
            covered = _chain_input(
                unsecured, all_proofs, proof["previousProof"], ErrorCode.PROOF_VERIFICATION_ERROR
            )
        key = await resolver.resolve_key(verification_method, str(purpose))
        if bind_controller:
            check_controller_binding(document, verification_method, key.controller)
        suite.verify_proof(covered, proof, key)
        results.append(
            ProofResult(
                suite=suite.name,
                verification_method=verification_method,
                purpose=str(purpose),
                controller=key.controller,
                proof_id=proof.get("id") if isinstance(proof.get("id"), str) else None,
                created=created,
            )
        )
    return results


async def check_proof_controllers(
    document: JSONObject, resolver: KeyResolver, *, expected_purpose: str = "assertionMethod"
) -> list[str]:
    """Check that every proof's key belongs to the issuer (or holder), without the signature.

    This is the ``issuer`` check of a verification report, kept apart from the signature so
    that ``--checks proof`` verifies signatures alone (as the W3C vectors need: their issuer is
    an https URL, their key a did:key).

    :returns: the controllers, one per proof.
    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` when there is no proof or it lacks a
        verification method.
    :raises ProofError: ``PROOF_VERIFICATION_ERROR`` when a key is not the issuer's/holder's.
    :raises agent.errors.DIDError: the key cannot be resolved for the purpose.
    """
    proofs = _proof_list(document)
    if not proofs:
        raise CryptosuiteError("the document has no proof", code=ErrorCode.MALFORMED_PROOF_ERROR)
    controllers: list[str] = []
    for proof in proofs:
        verification_method = proof.get("verificationMethod")
        if not isinstance(verification_method, str):
            raise CryptosuiteError(
                "proof verificationMethod must be a DID URL string",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        key = await resolver.resolve_key(verification_method, expected_purpose)
        check_controller_binding(document, verification_method, key.controller)
        controllers.append(key.controller)
    return controllers
