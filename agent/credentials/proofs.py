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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, format_datetime, parse_datetime
from agent.credentials.suites import get_suite
from agent.errors import CryptosuiteError, ErrorCode, InvalidInputError, ProofError
from agent.jsonio import json_type
from agent.keys.signer import KeyResolver, Signer
from agent.types import JSONObject

__all__ = [
    "DEFAULT_SUITES",
    "PURPOSE_OF",
    "Binding",
    "ProofResult",
    "add_proof",
    "check_challenge_domain",
    "check_controller_binding",
    "check_proof_controllers",
    "proof_objects",
    "verify_proofs",
]

#: Whose key a proof must be made with: the credential's ``issuer`` or the presentation's
#: ``holder``. Always chosen by the caller (who knows what it asked to verify), never read
#: from the document's own ``type``, which the signer controls.
Binding = Literal["issuer", "holder"]

#: The proof purpose (DID document verification relationship) each binding implies.
PURPOSE_OF: Mapping[str, str] = MappingProxyType(
    {"issuer": "assertionMethod", "holder": "authentication"}
)

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
    try:
        return format_datetime(value, name)
    except ValueError as exc:
        raise InvalidInputError(str(exc), details={"argument": name}) from None


def _proof_datetime(proof: JSONObject, name: str) -> datetime | None:
    """The proof's ``created`` or ``expires`` (VC Data Integrity 1.0 section 2.1: an XML Schema
    ``dateTimeStamp``), or None when absent.

    :raises CryptosuiteError: (``MALFORMED_PROOF_ERROR``) for anything else.
    """
    if name not in proof:
        return None
    try:
        return parse_datetime(proof[name], require_zone=True)
    except ValueError as exc:
        raise CryptosuiteError(
            f"proof {name} {exc} (an XML Schema dateTimeStamp is required)",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"property": name},
        ) from None


def proof_objects(document: JSONObject) -> list[JSONObject]:
    """The document's proofs as a list (``proof`` is one object or a proof set).

    :raises CryptosuiteError: (``MALFORMED_PROOF_ERROR``) when a proof is not a JSON object.
    """
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

    all_proofs = proof_objects(document)
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    signed_input = unsecured
    if previous_proof is not None:
        signed_input = _chain_input(
            unsecured, all_proofs, previous_proof, ErrorCode.PROOF_GENERATION_ERROR
        )
    proof = suite.create_proof(signed_input, options, signer)
    result: JSONObject = _copy_json(unsecured)
    result["proof"] = [*_copy_json(all_proofs), proof] if all_proofs else proof
    return result


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON tree, as :func:`copy.deepcopy` makes it, about three times faster.

    Plain dicts and lists are rebuilt, str/int/float/bool/None are immutable and shared; any
    other value (which the suite's canonicalisation would have refused, or a subclass) goes to
    :func:`copy.deepcopy`.
    """
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)


def _controller_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def check_controller_binding(
    document: JSONObject, verification_method: str, controller: str, *, binding: Binding
) -> None:
    """The key must belong to the document's ``issuer`` (``binding="issuer"``) or ``holder``
    (``binding="holder"``).

    The caller says which: a verifier asked to check a credential passes ``"issuer"`` whatever
    the document's ``type`` claims. A presentation without a ``holder`` cannot be bound, so it
    fails here; whether an unbound presentation is acceptable is the caller's decision (it then
    does not ask for the binding).

    :raises ProofError: (``PROOF_VERIFICATION_ERROR``) when the document names no such party,
        or the key's DID or resolved controller is not that party.
    """
    if binding not in PURPOSE_OF:
        raise InvalidInputError(
            "binding must be 'issuer' or 'holder'", details={"argument": "binding"}
        )
    expected = _controller_of(document.get(binding))
    if expected is None:
        raise ProofError(
            f"the document names no {binding} (a URL, or an object with an id), so the proof "
            f"cannot be shown to be the {binding}'s",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"verificationMethod": verification_method, binding: None},
        )
    vm_did = verification_method.split("#", 1)[0]
    if vm_did != expected or controller != expected:
        raise ProofError(
            f"the proof was made with {verification_method}, which is not a key of the "
            f"document's {binding} {expected!r}",
            code=ErrorCode.PROOF_VERIFICATION_ERROR,
            details={"verificationMethod": verification_method, binding: expected},
        )


def check_challenge_domain(proof: JSONObject, challenge: str | None, domain: str | None) -> None:
    """The proof carries this verifier's ``challenge`` and its ``domain`` includes ours.

    VC Data Integrity 1.0 section 2.1: ``challenge`` is a string that must equal the one the
    verifier issued; ``domain`` is a string or a list of strings, one of which must equal the
    verifier's. ``None`` means "not expected" and is not checked (a verifier that expects no
    challenge accepts replays: its report should say so).

    :raises ProofError: ``INVALID_CHALLENGE_ERROR`` or ``INVALID_DOMAIN_ERROR``.
    """
    if challenge is not None and proof.get("challenge") != challenge:
        raise ProofError(
            "the proof's challenge does not equal the one this verifier issued: it was made "
            "for another request, or replayed",
            code=ErrorCode.INVALID_CHALLENGE_ERROR,
        )
    if domain is not None:
        value = proof.get("domain")
        domains = value if isinstance(value, list) else [value]
        if not any(isinstance(item, str) and item == domain for item in domains):
            raise ProofError(
                "the proof's domain does not include this verifier's domain (audience)",
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
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    binding: Binding = "issuer",
    bind_controller: bool = True,
) -> list[ProofResult]:
    """Verify every proof of ``document`` (a proof set, possibly with chains).

    Per proof, in order: shape (``type`` is ``DataIntegrityProof``, the suite is accepted),
    purpose, ``created``/``expires`` against ``now`` (with ``max_clock_skew``), challenge and
    domain, the ``previousProof`` references, the key (resolved for the proof's purpose as the
    verification relationship), the key's controller, then the signature.
    VC Data Integrity 1.0 sections 4.3 and 4.5.

    ``bind_controller`` checks that the key belongs to the party ``binding`` names: the
    credential's ``issuer`` (the default) or, for a presentation, its ``holder`` (pass
    ``binding="holder"``). The role is the caller's to choose, never read from the document's
    ``type``. Turn the binding off only for documents whose issuer is not a DID (the W3C spec
    vectors), and then check it elsewhere (:func:`check_proof_controllers`).

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
    all_proofs = proof_objects(document)
    if not all_proofs:
        raise CryptosuiteError("the document has no proof", code=ErrorCode.MALFORMED_PROOF_ERROR)
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    results: list[ProofResult] = []
    for proof in all_proofs:
        if proof.get("type") != "DataIntegrityProof":
            raise CryptosuiteError(
                "proof type is not DataIntegrityProof",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
                details={"property": "type"},
            )
        name = proof.get("cryptosuite")
        if not isinstance(name, str):
            raise CryptosuiteError(
                f"proof cryptosuite is a JSON {json_type(name)}, not a suite name",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
                details={"property": "cryptosuite"},
            )
        if name not in accepted:
            raise CryptosuiteError(
                f"cryptosuite {name[:64]!r} is not accepted here; accepted: {sorted(accepted)}",
                code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
                details={"cryptosuite": name[:64]},
            )
        suite = get_suite(name)
        purpose = proof.get("proofPurpose")
        if purpose != expected_purpose:
            raise CryptosuiteError(
                f"proof purpose does not match the expected {expected_purpose!r}",
                code=ErrorCode.MISMATCHED_PROOF_PURPOSE_ERROR,
                details={"expected": expected_purpose},
            )
        verification_method = proof.get("verificationMethod")
        if not isinstance(verification_method, str):
            raise CryptosuiteError(
                "proof verificationMethod must be a DID URL string",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
            )
        created = _proof_datetime(proof, "created")
        expires = _proof_datetime(proof, "expires")
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
        check_challenge_domain(proof, challenge, domain)
        covered = unsecured
        if "previousProof" in proof:
            covered = _chain_input(
                unsecured, all_proofs, proof["previousProof"], ErrorCode.PROOF_VERIFICATION_ERROR
            )
        key = await resolver.resolve_key(verification_method, str(purpose))
        if bind_controller:
            check_controller_binding(document, verification_method, key.controller, binding=binding)
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
    document: JSONObject,
    resolver: KeyResolver,
    *,
    binding: Binding,
    expected_purpose: str | None = None,
) -> list[str]:
    """Check that every proof's key belongs to the ``issuer`` or ``holder`` (as ``binding``
    says), without the signature.

    This is the ``issuer`` (``holder``) check of a verification report, kept apart from the
    signature so that ``--checks proof`` verifies signatures alone (as the W3C vectors need:
    their issuer is an https URL, their key a did:key). ``expected_purpose`` defaults to the
    binding's relationship (:data:`PURPOSE_OF`).

    :returns: the controllers, one per proof.
    :raises CryptosuiteError: ``MALFORMED_PROOF_ERROR`` when there is no proof or it lacks a
        verification method.
    :raises ProofError: ``PROOF_VERIFICATION_ERROR`` when a key is not the issuer's/holder's.
    :raises agent.errors.DIDError: the key cannot be resolved for the purpose.
    """
    if binding not in PURPOSE_OF:
        raise InvalidInputError(
            "binding must be 'issuer' or 'holder'", details={"argument": "binding"}
        )
    proofs = proof_objects(document)
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
        key = await resolver.resolve_key(
            verification_method, expected_purpose or PURPOSE_OF[binding]
        )
        check_controller_binding(document, verification_method, key.controller, binding=binding)
        controllers.append(key.controller)
    return controllers
