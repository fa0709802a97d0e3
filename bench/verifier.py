"""Verifier throughput: presentations verified per second, one core, in process (issues 6, 8).

(a) An SD-JWT VC with a Key Binding JWT disclosing 5 of its 20 claims, signed EdDSA by a
    did:web hospital (the DIDResolver is seeded with its document: no network, no status list,
    no trust registry), with an ES256 and an EdDSA holder key: through
    ``agent.credentials.sd_jwt.verify_sd_jwt`` and through the verifier's pipeline
    ``verifier.sdjwt.verify_sd_jwt_presentation``; beside them the sd-jwt 0.10.4 reference
    implementation (``SDJWTVerifier``, whose KB-JWT must be ES256) on the same bytes, and on a
    presentation it issued itself of the same claims with the same keys.
(b) A W3C VP (eddsa-jcs-2022, holder did:key) of one 3 KB credential (eddsa-jcs-2022, the
    did:web hospital) through ``verifier.verify.verify_presentation``; the credential has no
    status entry, so every check but status runs.
(c) The six-section emergency card (``mydata/samples/ips-emergency-bundle.json``): QR text
    decode, then the offline verify of ``tests/emergency/helpers.verify_card`` (decode,
    ``verify_sd_jwt``, card expiry) and the verifier pipeline as ``mydata er scan`` runs it,
    without status and trust.

Every figure has a ratio to a *floor* measured in the same run: the public-key operations and
hashes the format cannot avoid (signing inputs, Disclosures and DER signatures prepared in
advance). The (a) figures also have a row against the reference implementation (ours/ref).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import zlib
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aries_askar import Key, KeyAlg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto.jwk import JWK
from nacl.signing import SigningKey, VerifyKey
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from agent.credentials import add_proof
from agent.credentials.contexts import check_terms
from agent.credentials.emergency_qr import (
    EMERGENCY_AUDIENCE,
    EMERGENCY_NONCE,
    MAX_CARD_LIFETIME,
    ZDICT,
    card_expiry,
    decode_emergency_qr,
)
from agent.credentials.emergency_qr import _from_digits as from_digits  # digits to bytes
from agent.credentials.jose import b64url_decode, b64url_encode
from agent.credentials.sd_jwt import issue_sd_jwt, parse_sd_jwt, present, verify_sd_jwt
from agent.dids import DIDResolver, build_did_web_document, did_key_from_public
from agent.errors import CredentialError, ErrorCode
from agent.keys.convert import public_key_to_jwk
from agent.keys.multikey import KeyType, encode_multikey
from bench.harness import Results, measure, measure_async, measure_paired
from bench.proofs import credential_3kb
from issuer.fhir import read_fhir_input
from issuer.issue import sd_jwt_credential
from issuer.templates import emergency_summary
from verifier.sdjwt import verify_sd_jwt_presentation
from verifier.verify import verify_presentation
from wallet.emergency import SECTIONS, emergency_card, emergency_sections

__all__ = ["CLAIMS", "DISCLOSED", "run"]

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
CARD_BUNDLE = ROOT / "mydata" / "samples" / "ips-emergency-bundle.json"
HOSPITAL = "did:web:hospital.example"
AUDIENCE = "did:web:verifier.example"
NONCE = "Wq3n5oRk1lH3pD2nH8qT0g"
VCT = "https://w3id.org/health-mydata/vct/PatientSummary/v1"
# The card's Token Status List entry, as issuer.hospital writes it (not checked here).
CARD_STATUS = {"status_list": {"idx": 94567, "uri": "https://hospital.example/status-lists/r-1"}}
W3C_NOW = datetime(2026, 11, 29, tzinfo=UTC)  # after the 3 KB credential's validFrom
CARD_NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

#: Twenty claims of a patient summary, every one selectively disclosable.
CLAIMS: dict[str, Any] = {
    "given_name": "Kari",
    "family_name": "Nordmann",
    "birthdate": "1971-04-12",
    "gender": "female",
    "bloodType": {"code": "sct|278149003", "text": "Blood group A Rh(D) positive"},
    "allergy": {
        "system": "http://snomed.info/sct",
        "code": "373270004",
        "display": "Substance with penicillin structure and antibacterial mechanism of action",
        "text": "Penicillin",
    },
    "allergyCriticality": "high",
    "allergyReaction": {
        "manifestation": "sct|39579001",
        "text": "Anaphylaxis",
        "severity": "severe",
    },
    "problem": {"code": "icd10|E11.9", "text": "Type 2 diabetes mellitus without complications"},
    "problemOnset": "2015-06",
    "medication": {"code": "atc|A10BA02", "text": "metformin", "dose": "500 mg 2/d"},
    "medicationStart": "2015-07-01",
    "immunization": {"code": "cvx|213", "text": "SARS-COV-2 vaccine", "date": "2024-10-03"},
    "advanceDirective": {"code": "sct|89666000", "provision": "deny", "date": "2023-09-12"},
    "emergencyContact": {"name": "Ola Nordmann", "relationship": "spouse", "phone": "+4791234567"},
    "organDonor": True,
    "language": "nb-NO",
    "pregnancyStatus": {"code": "ln|LA26683-5", "text": "Not pregnant"},
    "insuranceNumber": "NO-HELFO-12044718",
    "primaryCareProvider": {"name": "Dr. Lege", "organization": "Storgata legekontor"},
}
#: The five a verifier asks for.
DISCLOSED = ("bloodType", "allergy", "allergyCriticality", "medication", "emergencyContact")


class _Signer:
    """An askar key as a :class:`agent.keys.Signer` (the issuer and wallet use askar)."""

    def __init__(self, key: Key, algorithm: str, verification_method: str = "") -> None:
        self.key = key
        self.algorithm = algorithm
        self.verification_method = verification_method

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign_message(data))

    @property
    def public_jwk(self) -> dict[str, str]:
        if self.algorithm == "EdDSA":
            return public_key_to_jwk(KeyType.ED25519_PUB, bytes(self.key.get_public_bytes()))
        jwk = json.loads(self.key.get_jwk_public())
        return {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def _p256_public(jwk: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    x, y = (int.from_bytes(b64url_decode(jwk[c], "jwk"), "big") for c in ("x", "y"))
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def _jws_parts(jws: str) -> tuple[bytes, bytes]:
    """Signing input and raw signature of a compact JWS."""
    head, payload, signature = jws.split(".")
    return f"{head}.{payload}".encode("ascii"), b64url_decode(signature, "jws")


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class _Hospital:
    """The did:web hospital: one Ed25519 key, held by askar and known to the reference lib."""

    def __init__(self) -> None:
        seed = SigningKey.generate()
        self.verify_key = seed.verify_key
        public = bytes(self.verify_key)
        key = Key.from_secret_bytes(KeyAlg.ED25519, bytes(seed))
        assert bytes(key.get_public_bytes()) == public
        kid = f"{HOSPITAL}#{encode_multikey(KeyType.ED25519_PUB, public)}"
        self.signer = _Signer(key, "EdDSA", kid)
        self.document = build_did_web_document(HOSPITAL, [(KeyType.ED25519_PUB, public)])
        x, d = b64url_encode(public), b64url_encode(bytes(seed))
        self.reference_key = JWK(kty="OKP", crv="Ed25519", x=x, d=d)
        self.reference_public = JWK(kty="OKP", crv="Ed25519", x=x)

    def resolver(self) -> DIDResolver:
        """Offline: the hospital's document is seeded; there is no HTTP client at all."""
        resolver = DIDResolver()
        resolver.add_document(self.document)
        return resolver


def run(results: Results, *, repeats: int, min_time: float) -> None:
    hospital = _Hospital()
    opts: dict[str, Any] = {"repeats": repeats, "min_time": min_time}
    primitives = {**opts, "group": "primitives (verifier)"}
    nacl_key = SigningKey.generate()
    nacl_public = nacl_key.verify_key
    ed_signature = nacl_key.sign(b"x" * 64).signature
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_public = p256.public_key()
    p256_signature = p256.sign(b"x" * 64, ec.ECDSA(hashes.SHA256()))
    ecdsa = ec.ECDSA(hashes.SHA256())
    results.add(
        measure(
            "ed25519 verify, 64 B (pynacl)",
            lambda: nacl_public.verify(b"x" * 64, ed_signature),
            **primitives,
        )
    )
    results.add(
        measure(
            "p-256 ES256 verify, 64 B (cryptography)",
            lambda: p256_public.verify(p256_signature, b"x" * 64, ecdsa),
            **primitives,
        )
    )
    three_kb = bytes(range(256)) * 12
    sha256 = hashlib.sha256
    results.add(measure("sha256 of 3,072 bytes", lambda: sha256(three_kb).digest(), **primitives))

    # Each case measures its floor (primitives only) first, in its own group, then the figures.
    _sd_jwt(results, hospital, opts)
    _w3c(results, hospital, opts)
    _card(results, hospital, opts)


# --- (a) SD-JWT VC ------------------------------------------------------------------------------


def _sd_jwt(results: Results, hospital: _Hospital, opts: dict[str, Any]) -> None:
    issued = datetime.now(UTC).replace(microsecond=0)
    at = issued + timedelta(seconds=2)
    resolver = hospital.resolver()
    holders = {
        "ES256": _Signer(Key.generate(KeyAlg.P256), "ES256"),
        "EdDSA": _Signer(Key.generate(KeyAlg.ED25519), "EdDSA"),
    }
    disclosable = [(name,) for name in CLAIMS]
    disclose = [(name,) for name in DISCLOSED]
    texts: dict[str, str] = {}
    for alg, holder in holders.items():
        credential = issue_sd_jwt(
            CLAIMS,
            hospital.signer,
            iss=HOSPITAL,
            iat=issued,
            exp=issued + timedelta(days=365),
            disclosable=disclosable,
            holder_jwk=holder.public_jwk,
            vct=VCT,
        )
        texts[alg] = present(
            credential,
            disclose=disclose,
            holder_signer=holder,
            nonce=NONCE,
            aud=AUDIENCE,
            iat=issued,
        )

    # The reference implementation: the same claims and keys, EdDSA issuer, ES256 KB-JWT.
    es256 = holders["ES256"]
    holder_private = JWK.from_json(es256.key.get_jwk_secret())
    holder_public = JWK(**es256.public_jwk)
    reference_issuance = SDJWTIssuer(
        {
            "iss": HOSPITAL,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(days=365)).timestamp()),
            "vct": VCT,
            **{SDObj(name): value for name, value in CLAIMS.items()},
        },
        hospital.reference_key,
        holder_key=holder_public,
        sign_alg="EdDSA",
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": hospital.signer.verification_method},
    ).sd_jwt_issuance
    reference_holder = SDJWTHolder(reference_issuance)
    reference_holder.create_presentation(
        {name: True for name in DISCLOSED},
        nonce=NONCE,
        aud=AUDIENCE,
        holder_key=holder_private,
        sign_alg="ES256",
    )
    reference_text: str = reference_holder.sd_jwt_presentation

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        return hospital.reference_public

    def reference_verify(text: str) -> dict[str, Any]:
        verifier = SDJWTVerifier(text, issuer_key, expected_aud=AUDIENCE, expected_nonce=NONCE)
        payload: dict[str, Any] = verifier.get_verified_payload()
        return payload

    async def ours(text: str) -> dict[str, Any]:
        verified = await verify_sd_jwt(
            text,
            issuer_key_resolver=resolver,
            now=at,
            expected_aud=AUDIENCE,
            expected_nonce=NONCE,
        )
        return verified.payload

    hospital_jwk = public_key_to_jwk(KeyType.ED25519_PUB, bytes(hospital.verify_key))

    async def callback(iss: str | None, header: Mapping[str, Any]) -> dict[str, str]:
        return hospital_jwk

    async def ours_by_callback(text: str) -> dict[str, Any]:
        verified = await verify_sd_jwt(
            text, issuer_key_resolver=callback, now=at, expected_aud=AUDIENCE, expected_nonce=NONCE
        )
        return verified.payload

    async def pipeline(text: str) -> Any:
        return await verify_sd_jwt_presentation(
            text, resolver=resolver, now=at, audience=AUDIENCE, expected_nonce=NONCE
        )

    # Everything verifies, and all three agree on what was disclosed, before anything is timed.
    wanted = {name: CLAIMS[name] for name in DISCLOSED}
    for text in (texts["ES256"], reference_text):
        mine = _run(ours(text))
        assert {name: mine.get(name) for name in CLAIMS if name in mine} == wanted
        theirs = reference_verify(text)
        assert {name: theirs.get(name) for name in CLAIMS if name in theirs} == wanted
    for text in texts.values():
        report = _run(pipeline(text))
        assert report.verified, report.to_dict()
        assert {k: report.claims[k] for k in CLAIMS if k in report.claims} == wanted
    results.info["verifier.sd_jwt_presentation_bytes"] = len(texts["ES256"])
    results.info["verifier.sd_jwt_reference_presentation_bytes"] = len(reference_text)

    text = texts["ES256"]
    floor_names = {
        "ES256": "floor (a): ed25519 + p-256 verify + 6 sha256",
        "EdDSA": "floor (a): 2 ed25519 verify + 6 sha256",
    }

    group = f"(a) SD-JWT VC + KB-JWT ({len(text)} B), 5 of 20 claims, ES256 holder"
    floor = _sd_jwt_floor(text, hospital.verify_key, holders["ES256"])
    results.add(measure(floor_names["ES256"], floor, **opts, group=group))
    es_opts = {**opts, "group": group, "baseline": floor_names["ES256"]}
    reference = results.add(
        measure(
            "sd-jwt 0.10.4 SDJWTVerifier, same bytes", lambda: reference_verify(text), **es_opts
        )
    )
    results.add(
        measure(
            "sd-jwt 0.10.4 SDJWTVerifier, its own issuance",
            lambda: reference_verify(reference_text),
            **es_opts,
        )
    )
    results.add(measure_async("verify_sd_jwt (agent)", lambda: ours(text), **es_opts))
    results.add(
        measure_async(
            "verify_sd_jwt, issuer JWK by callback (no DID)",
            lambda: ours_by_callback(text),
            **es_opts,
        )
    )
    results.add(
        measure_async(
            "verify_sd_jwt_presentation (verifier pipeline)", lambda: pipeline(text), **es_opts
        )
    )
    # Against the reference, each timed alternately with it (steady ratios on a busy machine).
    # Like for like is the callback: the reference is handed the issuer's key, too.
    paired = {
        "verify_sd_jwt vs the reference": lambda: ours(text),
        "verify_sd_jwt, issuer JWK by callback, vs the reference": lambda: ours_by_callback(text),
        "verify_sd_jwt_presentation vs the reference": lambda: pipeline(text),
    }
    for label, call in paired.items():
        results.add(
            measure_paired(
                label,
                call,
                lambda: reference_verify(text),
                baseline_name=reference.name,
                group=group,
                fn_async=True,
                **opts,
            )
        )
    for label, figure in (
        ("issuer key given (as to the reference)", "verify_sd_jwt, issuer JWK by callback, "),
        ("issuer key from its did:web document", "verify_sd_jwt "),
    ):
        results.faster_than(
            f"SD-JWT VC 5 of 20 + KB-JWT verify, {label}: 2.5x sd-jwt",
            f"{figure}vs the reference",
            reference.name,
            2.5,
        )
    results.faster_than(
        "the same through the verifier pipeline (parse, report): 2.5x sd-jwt",
        "verify_sd_jwt_presentation vs the reference",
        reference.name,
        2.5,
    )

    text_ed = texts["EdDSA"]
    group = f"(a) SD-JWT VC + KB-JWT ({len(text_ed)} B), 5 of 20 claims, EdDSA holder"
    floor = _sd_jwt_floor(text_ed, hospital.verify_key, holders["EdDSA"])
    results.add(measure(floor_names["EdDSA"], floor, **opts, group=group))
    ed_opts = {**opts, "group": group, "baseline": floor_names["EdDSA"]}
    results.add(measure_async("verify_sd_jwt (agent), EdDSA", lambda: ours(text_ed), **ed_opts))
    results.add(
        measure_async(
            "verify_sd_jwt_presentation (pipeline), EdDSA", lambda: pipeline(text_ed), **ed_opts
        )
    )


def _sd_jwt_floor(text: str, issuer: VerifyKey, holder: _Signer) -> Callable[[], None]:
    """The issuer and KB-JWT signatures, the Disclosure digests and ``sd_hash``; nothing else."""
    parts = text.split("~")
    issuer_input, issuer_signature = _jws_parts(parts[0])
    kb_input, kb_signature = _jws_parts(parts[-1])
    disclosures = [part.encode("ascii") for part in parts[1:-1]]
    assert len(disclosures) == len(DISCLOSED)
    hashed = text[: len(text) - len(parts[-1])].encode("ascii")
    sha256 = hashlib.sha256
    if holder.algorithm == "ES256":
        public = _p256_public(holder.public_jwk)
        der = _der(kb_signature)
        ecdsa = ec.ECDSA(hashes.SHA256())

        def holder_verify() -> None:
            public.verify(der, kb_input, ecdsa)

    else:
        holder_key = VerifyKey(b64url_decode(holder.public_jwk["x"], "jwk"))

        def holder_verify() -> None:
            holder_key.verify(kb_input, kb_signature)

    def floor() -> None:
        issuer.verify(issuer_input, issuer_signature)
        holder_verify()
        for disclosure in disclosures:
            sha256(disclosure).digest()
        sha256(hashed).digest()

    return floor


# --- (b) W3C VP -------------------------------------------------------------------------------


def _w3c(results: Results, hospital: _Hospital, opts: dict[str, Any]) -> None:
    resolver = hospital.resolver()
    holder_key = Key.generate(KeyAlg.ED25519)
    holder_public = bytes(holder_key.get_public_bytes())
    holder_did = did_key_from_public(KeyType.ED25519_PUB, holder_public)
    holder = _Signer(holder_key, "EdDSA", f"{holder_did}#{holder_did.removeprefix('did:key:')}")
    unsigned = credential_3kb(HOSPITAL)
    unsigned["credentialSubject"]["id"] = holder_did
    credential = add_proof(unsigned, hospital.signer, created=W3C_NOW - timedelta(days=1))
    vp = add_proof(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": holder_did,
            "verifiableCredential": [credential],
        },
        holder,
        created=W3C_NOW,
        proof_purpose="authentication",
        challenge=NONCE,
        domain=AUDIENCE,
    )
    at = W3C_NOW + timedelta(seconds=2)

    async def verify() -> Any:
        return await verify_presentation(
            vp, resolver=resolver, challenge=NONCE, domain=AUDIENCE, now=at
        )

    report = _run(verify())  # also resolves the holder's did:key once, as any verifier caches it
    assert report.verified, report.to_dict()
    results.info["verifier.w3c_credential_bytes"] = len(json.dumps(unsigned).encode())
    results.info["verifier.w3c_presentation_bytes"] = len(json.dumps(vp).encode())

    group = "(b) W3C VP, eddsa-jcs-2022, one 3 KB credential (no status)"
    floor_name = "floor (b): 2x (2 sorted dumps + 2 sha256 + ed25519)"
    results.add(measure(floor_name, _w3c_floor([vp, credential]), **opts, group=group))
    w3c_opts = {**opts, "group": group, "baseline": floor_name}
    results.add(measure_async("verify_presentation (format..credentials)", verify, **w3c_opts))

    def terms() -> None:
        check_terms(vp)
        check_terms(credential)

    # Where the time goes: the format check expands both documents with pyld, every time.
    results.add(measure("of which: check_terms of the VP and the credential", terms, **w3c_opts))


def _w3c_floor(documents: list[dict[str, Any]]) -> Callable[[], None]:
    """Per document: sorted compact dumps of it and of its proof options, two SHA-256 and one
    Ed25519 verify; the eddsa-jcs-2022 cost floor of bench/proofs.py, with a key of its own."""
    dumps, sha256 = json.dumps, hashlib.sha256
    key = SigningKey.generate()
    public = key.verify_key

    def data(unsecured: dict[str, Any], options: dict[str, Any]) -> bytes:
        config = dumps(options, sort_keys=True, separators=(",", ":")).encode()
        body = dumps(unsecured, sort_keys=True, separators=(",", ":")).encode()
        return sha256(config).digest() + sha256(body).digest()

    items = []
    for document in documents:
        options = {k: v for k, v in document["proof"].items() if k != "proofValue"}
        options["@context"] = document["@context"]
        unsecured = {k: copy.deepcopy(v) for k, v in document.items() if k != "proof"}
        items.append((unsecured, options, key.sign(data(unsecured, options)).signature))

    def floor() -> None:
        for unsecured, options, signature in items:
            public.verify(data(unsecured, options), signature)

    return floor


# --- (c) the emergency card -----------------------------------------------------------------------


def _card(results: Results, hospital: _Hospital, opts: dict[str, Any]) -> None:
    citizen = _Signer(Key.generate(KeyAlg.ED25519), "EdDSA")
    parsed = read_fhir_input(json.loads(CARD_BUNDLE.read_text("utf-8")))
    summary = emergency_summary(parsed.resources, index=parsed.index)
    credential = sd_jwt_credential(
        summary,
        signer=hospital.signer,
        issuer=HOSPITAL,
        holder_jwk=citizen.public_jwk,
        iat=CARD_NOW,
        status=CARD_STATUS,
    )
    sections = emergency_sections(credential)
    assert sorted(sections) == sorted(SECTIONS), sections
    card = emergency_card(
        credential,
        sections=sections,
        holder_signer=citizen,
        lifetime=timedelta(days=365),
        now=CARD_NOW,
    )
    text = card.payload_text
    at = CARD_NOW + timedelta(days=1)
    resolver = hospital.resolver()

    async def verify_card() -> Any:
        # tests/emergency/helpers.verify_card, as agent.credentials.emergency_qr documents it.
        sd_jwt = decode_emergency_qr(text)
        bound = "cnf" in parse_sd_jwt(sd_jwt).payload
        verified = await verify_sd_jwt(
            sd_jwt,
            issuer_key_resolver=resolver,
            now=at,
            require_key_binding=bound,
            expected_aud=EMERGENCY_AUDIENCE,
            expected_nonce=EMERGENCY_NONCE,
            max_kb_age=MAX_CARD_LIFETIME,
        )
        expires = card_expiry(sd_jwt)
        if expires is not None and at >= expires:
            raise CredentialError("the emergency card has expired", code=ErrorCode.RANGE_ERROR)
        return verified

    async def scan() -> Any:
        # verifier.cli.scan_emergency_card without the status list, trust and policy.
        return await verify_sd_jwt_presentation(
            decode_emergency_qr(text),
            resolver=resolver,
            now=at,
            require_key_binding=False,
            audience=EMERGENCY_AUDIENCE,
            expected_nonce=EMERGENCY_NONCE,
            max_kb_age=MAX_CARD_LIFETIME,
        )

    presentation = decode_emergency_qr(text)
    assert presentation == card.presentation
    verified = _run(verify_card())
    assert verified.key_binding is not None
    assert set(SECTIONS) <= set(verified.payload)
    report = _run(scan())
    assert report.verified, report.to_dict()
    parts = presentation.split("~")
    results.info["verifier.card_digits"] = len(text) - 4
    results.info["verifier.card_qr_version"] = card.qr_version
    results.info["verifier.card_sd_jwt_bytes"] = len(presentation)
    results.info["verifier.card_disclosures"] = len(parts) - 2

    group = f"(c) emergency card, six sections, {len(text) - 4} digits (QR v{card.qr_version})"
    floor_name = f"floor (c): inflate + 2 ed25519 + {len(parts) - 1} sha256"
    floor = _card_floor(text, presentation, hospital.verify_key, citizen)
    results.add(measure(floor_name, floor, **opts, group=group))
    card_opts = {**opts, "group": group, "baseline": floor_name}
    results.add(
        measure(
            "decode_emergency_qr (HM1: digits to SD-JWT)",
            lambda: decode_emergency_qr(text),
            **card_opts,
        )
    )
    results.add(
        measure_async("decode + offline verify (helpers.verify_card)", verify_card, **card_opts)
    )
    results.add(measure_async("decode + verify_sd_jwt_presentation (er scan)", scan, **card_opts))
    results.under(
        "emergency QR decode + verify offline under 5 ms",
        "decode + offline verify (helpers.verify_card)",
        5.0,
    )


def _card_floor(
    text: str, presentation: str, issuer: VerifyKey, citizen: _Signer
) -> Callable[[], None]:
    """Inflate the card's DEFLATE stream, verify both signatures, hash each Disclosure and the
    SD-JWT for ``sd_hash``: what a decoder and verifier cannot skip."""
    compressed = from_digits(text[4:])
    parts = presentation.split("~")
    issuer_input, issuer_signature = _jws_parts(parts[0])
    kb_input, kb_signature = _jws_parts(parts[-1])
    holder = VerifyKey(b64url_decode(citizen.public_jwk["x"], "jwk"))
    disclosures = [part.encode("ascii") for part in parts[1:-1]]
    hashed = presentation[: len(presentation) - len(parts[-1])].encode("ascii")
    sha256 = hashlib.sha256

    def floor() -> None:
        zlib.decompressobj(-15, zdict=ZDICT).decompress(compressed)
        issuer.verify(issuer_input, issuer_signature)
        holder.verify(kb_input, kb_signature)
        for disclosure in disclosures:
            sha256(disclosure).digest()
        sha256(hashed).digest()

    return floor
