"""Attacks on SD-JWT presentations: each is refused with its own code, never quoting health data."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.credentials.jose import b64url_encode, sign_jws
from agent.credentials.sd_jwt import issue_sd_jwt, parse_sd_jwt, present, verify_sd_jwt
from agent.dids.resolver import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError
from agent.keys import Signer
from tests.sd_jwt.conftest import Parties
from tests.sd_jwt.helpers import b64url_decode

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
AUD = "did:web:er.hospital.example"
NONCE = "a4Z-nonce-91"
VCT = "https://health.example/credentials/diagnoses"
#: A claim value that must never show up in an error message or its details.
SECRET = "SECRET-MARKER-hiv-positive-7f3a"
CLAIMS = {
    "given_name": "Erika",
    "diagnosis": SECRET,
    "conditions": [SECRET + "-1", SECRET + "-2"],
    "care": {"team": SECRET + "-team", "ward": "B7"},
}
DISCLOSABLE = [("given_name",), ("diagnosis",), ("conditions", None), ("care",), ("care", "team")]


@dataclass
class Scene:
    parties: Parties
    issued: str
    other_issued: str
    holder: Signer
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def issuer_jwt(self) -> str:
        return self.issued.split("~")[0]

    def disclosures(self, sd_jwt: str | None = None) -> dict[str, str]:
        """Encoded disclosure by the JSON pointer of its claim."""
        parsed = parse_sd_jwt(sd_jwt or self.issued)
        return {
            "/" + "/".join(str(p) for p in parsed.paths[d.digest]): d.encoded
            for d in parsed.disclosures
        }

    def kb(self, sd_jwt: str, signer: Signer | None = None, **claims: Any) -> str:
        """``sd_jwt`` plus a KB-JWT the holder signs over it (an attacking holder re-signs)."""
        from agent.credentials.sd_jwt import _sha256

        body = {
            "iat": int(NOW.timestamp()),
            "aud": AUD,
            "nonce": NONCE,
            "sd_hash": b64url_encode(_sha256(sd_jwt.encode("ascii"))),
        }
        body.update(claims)
        header = {"alg": (signer or self.holder).algorithm, "typ": claims.pop("typ", "kb+jwt")}
        return sd_jwt + sign_jws(header, body, signer or self.holder)

    def issue(self, payload: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """An Issuer-signed JWT with an arbitrary payload, signed by the real issuer key."""
        signer = self.parties.issuer.signer
        return sign_jws(
            header or {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": signer.verification_method},
            {"iss": self.parties.issuer.did, "vct": VCT, **payload},
            signer,
        )


def disclosure(*content: Any) -> str:
    return b64url_encode(json.dumps(list(content)).encode())


def _digest(encoded: str) -> str:
    from agent.credentials.sd_jwt import _sha256

    return b64url_encode(_sha256(encoded.encode("ascii")))


@pytest.fixture
async def scene(parties: Parties) -> Scene:
    holder = parties.holder_ed25519

    def issue() -> str:
        return issue_sd_jwt(
            CLAIMS,
            parties.issuer.signer,
            iss=parties.issuer.did,
            iat=NOW - timedelta(days=1),
            exp=NOW + timedelta(days=30),
            disclosable=DISCLOSABLE,
            holder_jwk=holder.jwk,
            vct=VCT,
        )

    return Scene(parties, issue(), issue(), holder.signer)


def _tampered_disclosure(s: Scene) -> str:
    original = s.disclosures()["/diagnosis"]
    salt, name, _ = json.loads(b64url_decode(original))
    return s.kb(f"{s.issuer_jwt}~{disclosure(salt, name, 'healthy')}~")


def _swapped_disclosure(s: Scene) -> str:
    return s.kb(f"{s.issuer_jwt}~{s.disclosures(s.other_issued)['/diagnosis']}~")


def _injected_disclosure(s: Scene) -> str:
    extra = disclosure("bm90LXJlZmVyZW5jZWQtc2FsdA", "diagnosis", "healthy")
    return s.kb(f"{s.issuer_jwt}~{s.disclosures()['/given_name']}~{extra}~")


def _duplicated_disclosure(s: Scene) -> str:
    d = s.disclosures()["/diagnosis"]
    return s.kb(f"{s.issuer_jwt}~{d}~{d}~")


def _orphan_nested_disclosure(s: Scene) -> str:
    # care/team without the care disclosure that holds its digest (section 4.2.6).
    return s.kb(f"{s.issuer_jwt}~{s.disclosures()['/care/team']}~")


def _present(s: Scene, **kb: Any) -> str:
    arguments: dict[str, Any] = {"nonce": NONCE, "aud": AUD, "iat": NOW}
    arguments.update(kb)
    return present(s.issued, disclose=[("diagnosis",)], holder_signer=s.holder, **arguments)


def _wrong_nonce(s: Scene) -> str:
    return _present(s, nonce="another")


def _wrong_aud(s: Scene) -> str:
    return _present(s, aud="did:web:insurer.example")


def _stale_kb(s: Scene) -> str:
    return _present(s, iat=NOW - timedelta(minutes=11))


def _future_kb(s: Scene) -> str:
    return _present(s, iat=NOW + timedelta(minutes=11))


def _missing_kb(s: Scene) -> str:
    return present(s.issued, disclose=[("diagnosis",)])


def _kb_by_another_key(s: Scene) -> str:
    text = present(s.issued, disclose=[("diagnosis",)])
    return s.kb(text, s.parties.other_holder.signer)


def _kb_by_another_algorithm(s: Scene) -> str:
    text = present(s.issued, disclose=[("diagnosis",)])
    return s.kb(text, s.parties.holder_p256.signer)


def _kb_without_typ(s: Scene) -> str:
    text = present(s.issued, disclose=[("diagnosis",)])
    return s.kb(text, typ="JWT")


def _kb_missing_claim(s: Scene) -> str:
    text = present(s.issued, disclose=[("diagnosis",)])
    return s.kb(text, nonce=None)


def _disclosure_removed_after_kb(s: Scene) -> str:
    presentation = present(
        s.issued,
        disclose=[("diagnosis",), ("given_name",)],
        holder_signer=s.holder,
        nonce=NONCE,
        aud=AUD,
        iat=NOW,
    )
    parts = presentation.split("~")
    return "~".join([parts[0], parts[2], parts[3]])


def _unsigned(header: dict[str, Any], payload_jwt: str) -> str:
    head = b64url_encode(json.dumps(header).encode())
    return f"{head}.{payload_jwt.split('.')[1]}."


def _alg_none(s: Scene) -> str:
    return _unsigned({"alg": "none", "typ": "dc+sd-jwt"}, s.issuer_jwt) + "~"


def _kb_alg_none(s: Scene) -> str:
    text = present(s.issued, disclose=[("diagnosis",)])
    kb = s.kb(text)[len(text) :]
    return text + _unsigned({"alg": "none", "typ": "kb+jwt"}, kb)


def _hs256(s: Scene) -> str:
    _, payload, signature = s.issuer_jwt.split(".")
    header = b64url_encode(json.dumps({"alg": "HS256", "typ": "dc+sd-jwt"}).encode())
    return f"{header}.{payload}.{signature}~"


def _tampered_issuer_payload(s: Scene) -> str:
    head, payload, signature = s.issuer_jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["exp"] += 86400 * 365
    return f"{head}.{b64url_encode(json.dumps(claims).encode())}.{signature}~"


def _tampered_issuer_signature(s: Scene) -> str:
    head, payload, signature = s.issuer_jwt.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[5] ^= 1
    return f"{head}.{payload}.{b64url_encode(bytes(raw))}~"


def _expired(s: Scene) -> str:
    s.overrides["now"] = NOW + timedelta(days=31)
    return present(s.issued, disclose=[("diagnosis",)])


def _not_yet_valid(s: Scene) -> str:
    return s.issue({"iat": int(NOW.timestamp()), "nbf": int(NOW.timestamp()) + 3600}) + "~"


def _issued_in_future(s: Scene) -> str:
    return s.issue({"iat": int(NOW.timestamp()) + 3600}) + "~"


def _no_holder_key(s: Scene) -> str:
    return s.kb(s.issue({"iat": int(NOW.timestamp())}) + "~")


def _claim_name_clash(s: Scene) -> str:
    d = disclosure("c2FsdHNhbHRzYWx0c2FsdA", "diagnosis", SECRET)
    return s.issue({"diagnosis": "x", "_sd": [_digest(d)]}) + f"~{d}~"


def _reserved_claim_name(s: Scene) -> str:
    d = disclosure("c2FsdHNhbHRzYWx0c2FsdA", "_sd", [SECRET])
    return s.issue({"_sd": [_digest(d)]}) + f"~{d}~"


def _duplicate_digest(s: Scene) -> str:
    d = disclosure("c2FsdHNhbHRzYWx0c2FsdA", "diagnosis", SECRET)
    return s.issue({"_sd": [_digest(d)], "care": {"_sd": [_digest(d)]}}) + f"~{d}~"


def _array_disclosure_in_sd(s: Scene) -> str:
    d = disclosure("c2FsdHNhbHRzYWx0c2FsdA", SECRET)
    return s.issue({"_sd": [_digest(d)]}) + f"~{d}~"


def _misplaced_ellipsis(s: Scene) -> str:
    return s.issue({"care": {"...": "abc"}}) + "~"


def _sd_not_a_list(s: Scene) -> str:
    return s.issue({"_sd": "abc"}) + "~"


def _unsupported_sd_alg(s: Scene) -> str:
    return s.issue({"_sd_alg": "md5"}) + "~"


def _duplicate_json_member(s: Scene) -> str:
    head, _, _ = s.issuer_jwt.split(".")
    payload = b64url_encode(b'{"iss":"a","iss":"b"}')
    return f"{head}.{payload}.AAAA~"


def _not_base64url_disclosure(s: Scene) -> str:
    return f"{s.issuer_jwt}~not base64!~"


def _not_json_disclosure(s: Scene) -> str:
    return f"{s.issuer_jwt}~{b64url_encode(SECRET.encode())}~"


def _empty_disclosure(s: Scene) -> str:
    return f"{s.issuer_jwt}~~"


def _not_an_sd_jwt(s: Scene) -> str:
    return s.issuer_jwt


def _crit_header(s: Scene) -> str:
    signer = s.parties.issuer.signer
    header = {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": signer.verification_method, "crit": ["x"]}
    return s.issue({"iat": 1}, header) + "~"


def _no_vct(s: Scene) -> str:
    signer = s.parties.issuer.signer
    return (
        sign_jws(
            {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": signer.verification_method},
            {"iss": s.parties.issuer.did},
            signer,
        )
        + "~"
    )


Attack = Callable[[Scene], str]
ATTACKS: list[tuple[Attack, ErrorCode, str | None, bool]] = [
    # (attack, code, details["reason"] or None, key binding required)
    (_tampered_disclosure, ErrorCode.SD_JWT_DISCLOSURE_MISMATCH, "unreferenced", True),
    (_swapped_disclosure, ErrorCode.SD_JWT_DISCLOSURE_MISMATCH, "unreferenced", True),
    (_injected_disclosure, ErrorCode.SD_JWT_DISCLOSURE_MISMATCH, "unreferenced", True),
    (_duplicated_disclosure, ErrorCode.SD_JWT_DISCLOSURE_MISMATCH, "duplicate", True),
    (_orphan_nested_disclosure, ErrorCode.SD_JWT_DISCLOSURE_MISMATCH, "unreferenced", True),
    (_wrong_nonce, ErrorCode.INVALID_CHALLENGE_ERROR, None, True),
    (_wrong_aud, ErrorCode.INVALID_DOMAIN_ERROR, None, True),
    (_stale_kb, ErrorCode.INVALID_PROOF_DATETIME, "stale", True),
    (_future_kb, ErrorCode.INVALID_PROOF_DATETIME, "issuedInFuture", True),
    (_missing_kb, ErrorCode.SD_JWT_KEY_BINDING_MISSING, "absent", True),
    (_kb_by_another_key, ErrorCode.PROOF_VERIFICATION_ERROR, "badSignature", True),
    (_kb_by_another_algorithm, ErrorCode.PROOF_VERIFICATION_ERROR, "algorithmMismatch", True),
    (_kb_without_typ, ErrorCode.MALFORMED_PROOF_ERROR, "wrongType", True),
    (_kb_missing_claim, ErrorCode.MALFORMED_PROOF_ERROR, "missingClaim", True),
    (_kb_alg_none, ErrorCode.UNSUPPORTED_CRYPTOSUITE, None, True),
    (_disclosure_removed_after_kb, ErrorCode.SD_JWT_KEY_BINDING_MISMATCH, None, True),
    (_no_holder_key, ErrorCode.SD_JWT_KEY_BINDING_MISSING, "noHolderKey", True),
    (_alg_none, ErrorCode.UNSUPPORTED_CRYPTOSUITE, None, False),
    (_hs256, ErrorCode.UNSUPPORTED_CRYPTOSUITE, None, False),
    (_tampered_issuer_payload, ErrorCode.PROOF_VERIFICATION_ERROR, "badSignature", False),
    (_tampered_issuer_signature, ErrorCode.PROOF_VERIFICATION_ERROR, "badSignature", False),
    (_expired, ErrorCode.RANGE_ERROR, "expired", False),
    (_not_yet_valid, ErrorCode.RANGE_ERROR, "notYetValid", False),
    (_issued_in_future, ErrorCode.RANGE_ERROR, "issuedInFuture", False),
    (_claim_name_clash, ErrorCode.MALFORMED_PROOF_ERROR, "claimNameClash", False),
    (_reserved_claim_name, ErrorCode.MALFORMED_PROOF_ERROR, "reservedClaimName", False),
    (_duplicate_digest, ErrorCode.MALFORMED_PROOF_ERROR, "duplicateDigest", False),
    (_array_disclosure_in_sd, ErrorCode.MALFORMED_PROOF_ERROR, "wrongDisclosureKind", False),
    (_misplaced_ellipsis, ErrorCode.MALFORMED_PROOF_ERROR, "misplacedEllipsis", False),
    (_sd_not_a_list, ErrorCode.MALFORMED_PROOF_ERROR, "invalidSd", False),
    (_unsupported_sd_alg, ErrorCode.UNSUPPORTED_CRYPTOSUITE, "unsupportedSdAlg", False),
    (_duplicate_json_member, ErrorCode.MALFORMED_PROOF_ERROR, "duplicateMember", False),
    (_not_base64url_disclosure, ErrorCode.MALFORMED_PROOF_ERROR, "notBase64url", False),
    (_not_json_disclosure, ErrorCode.MALFORMED_PROOF_ERROR, "notJson", False),
    (_empty_disclosure, ErrorCode.MALFORMED_PROOF_ERROR, "empty", False),
    (_not_an_sd_jwt, ErrorCode.MALFORMED_PROOF_ERROR, "notSdJwt", False),
    (_crit_header, ErrorCode.MALFORMED_PROOF_ERROR, "unsupportedCrit", False),
    (_no_vct, ErrorCode.MALFORMED_PROOF_ERROR, "missingVct", False),
]


@pytest.mark.parametrize(
    ("attack", "code", "reason", "require_kb"),
    ATTACKS,
    ids=[attack.__name__.strip("_") for attack, *_ in ATTACKS],
)
async def test_attack_is_refused_with_its_code(
    scene: Scene,
    resolver: DIDResolver,
    attack: Attack,
    code: ErrorCode,
    reason: str | None,
    require_kb: bool,
) -> None:
    presentation = attack(scene)
    arguments: dict[str, Any] = {
        "issuer_key_resolver": resolver,
        "now": NOW,
        "expected_aud": AUD,
        "expected_nonce": NONCE,
        "require_key_binding": require_kb,
    }
    arguments.update(scene.overrides)
    with pytest.raises(HealthMyDataError) as caught:
        await verify_sd_jwt(presentation, **arguments)
    error = caught.value
    assert error.code is code, error
    if reason is not None:
        assert error.details.get("reason") == reason, error.details
    assert "part" in error.details
    for text in (str(error), repr(error.details), json.dumps(error.to_dict())):
        assert "SECRET-MARKER" not in text


async def test_the_honest_presentation_passes(scene: Scene, resolver: DIDResolver) -> None:
    verified = await verify_sd_jwt(
        _present(scene),
        issuer_key_resolver=resolver,
        now=NOW,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    assert verified.payload["diagnosis"] == SECRET
    assert "conditions" in verified.payload
    assert verified.payload["conditions"] == []


async def test_kb_present_but_not_required_is_still_checked(
    scene: Scene, resolver: DIDResolver
) -> None:
    with pytest.raises(HealthMyDataError) as caught:
        await verify_sd_jwt(
            _kb_by_another_key(scene),
            issuer_key_resolver=resolver,
            now=NOW,
            require_key_binding=False,
        )
    assert caught.value.code is ErrorCode.PROOF_VERIFICATION_ERROR


async def test_holder_parse_refuses_what_the_verifier_refuses(scene: Scene) -> None:
    for attack in (_tampered_disclosure, _duplicated_disclosure, _claim_name_clash):
        with pytest.raises(HealthMyDataError) as caught:
            parse_sd_jwt(attack(scene))
        assert SECRET not in str(caught.value)
