"""One Key Binding JWT check (RFC 9901 section 7.3 step 5) for the library and the verifier.

``verify_sd_jwt`` raises; the verifier service's pipeline reports by check. Both run the same
KB-JWT check, so for each broken KB-JWT they must give the same code and details: the holder
check for what the KB-JWT itself gets wrong, the challenge check for ``aud`` and ``nonce``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.credentials.jose import b64url_encode, sign_jws
from agent.credentials.sd_jwt import _sha256, issue_sd_jwt, present, verify_sd_jwt
from agent.dids.resolver import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError
from agent.keys import Signer
from tests.sd_jwt.conftest import Parties
from verifier.report import Check, CheckStatus
from verifier.sdjwt import verify_sd_jwt_presentation

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
AUD = "did:web:er.hospital.example"
NONCE = "kb-shared-nonce-5"
VCT = "https://health.example/credentials/diagnoses"
CLAIMS = {"given_name": "Erika", "diagnosis": "J45"}


@dataclass
class Scene:
    parties: Parties
    bound: str  # an SD-JWT with cnf.jwk of the Ed25519 holder, one Disclosure kept
    unbound: str  # the same without cnf
    algorithms: frozenset[str] = frozenset({"EdDSA", "ES256"})

    def kb(
        self,
        sd_jwt: str,
        *,
        signer: Signer | None = None,
        header: dict[str, Any] | None = None,
        drop: str | None = None,
        **claims: Any,
    ) -> str:
        """``sd_jwt`` plus a KB-JWT signed by ``signer`` (default the holder) with changes."""
        signer = signer or self.parties.holder_ed25519.signer
        body: dict[str, Any] = {
            "iat": int(NOW.timestamp()),
            "aud": AUD,
            "nonce": NONCE,
            "sd_hash": b64url_encode(_sha256(sd_jwt.encode("ascii"))),
            **claims,
        }
        if drop is not None:
            del body[drop]
        return sd_jwt + sign_jws(
            {"alg": signer.algorithm, "typ": "kb+jwt", **(header or {})}, body, signer
        )


@pytest.fixture
async def scene(parties: Parties) -> Scene:
    def issue(holder_jwk: dict[str, str] | None) -> str:
        issued = issue_sd_jwt(
            CLAIMS,
            parties.issuer.signer,
            iss=parties.issuer.did,
            iat=NOW - timedelta(days=1),
            exp=NOW + timedelta(days=30),
            disclosable=[("given_name",), ("diagnosis",)],
            holder_jwk=holder_jwk,
            vct=VCT,
        )
        return present(issued, disclose=[("diagnosis",)])

    return Scene(parties, issue(parties.holder_ed25519.jwk), issue(None))


def _unsigned_kb(s: Scene) -> str:
    signed = s.kb(s.bound)[len(s.bound) :]
    head = b64url_encode(json.dumps({"alg": "none", "typ": "kb+jwt"}).encode())
    return f"{s.bound}{head}.{signed.split('.')[1]}."


def _p256_holder_not_accepted(s: Scene) -> str:
    # The issuer's EdDSA stays accepted; the KB-JWT's ES256 is not.
    s.algorithms = frozenset({"EdDSA"})
    return s.kb(s.bound, signer=s.parties.holder_p256.signer)


def _without(claim: str) -> Callable[[Scene], str]:
    return lambda s: s.kb(s.bound, drop=claim)


Case = tuple[Callable[[Scene], str], Check, ErrorCode, dict[str, Any]]
KB = "keyBindingJwt"
CASES: dict[str, Case] = {
    "wrong typ": (
        lambda s: s.kb(s.bound, header={"typ": "JWT"}),
        Check.HOLDER,
        ErrorCode.MALFORMED_PROOF_ERROR,
        {"part": KB, "reason": "wrongType"},
    ),
    "alg none": (
        _unsigned_kb,
        Check.HOLDER,
        ErrorCode.UNSUPPORTED_CRYPTOSUITE,
        {"part": KB, "alg": "none"},
    ),
    "alg not accepted": (
        _p256_holder_not_accepted,
        Check.HOLDER,
        ErrorCode.UNSUPPORTED_CRYPTOSUITE,
        {"part": KB, "alg": "ES256"},
    ),
    "crit header": (
        lambda s: s.kb(s.bound, header={"crit": ["x"]}),
        Check.HOLDER,
        ErrorCode.MALFORMED_PROOF_ERROR,
        {"part": KB, "reason": "unsupportedCrit"},
    ),
    **{
        f"missing {name}": (
            _without(name),
            Check.HOLDER,
            ErrorCode.MALFORMED_PROOF_ERROR,
            {"part": KB, "reason": "missingClaim"},
        )
        for name in ("sd_hash", "iat", "aud", "nonce")
    },
    "iat not an integer": (
        lambda s: s.kb(s.bound, iat="yesterday"),
        Check.HOLDER,
        ErrorCode.MALFORMED_PROOF_ERROR,
        {"part": KB, "reason": "missingClaim"},
    ),
    "iat in the future": (
        lambda s: s.kb(s.bound, iat=int((NOW + timedelta(minutes=11)).timestamp())),
        Check.HOLDER,
        ErrorCode.INVALID_PROOF_DATETIME,
        {"part": KB, "claim": "iat", "reason": "issuedInFuture"},
    ),
    "stale iat": (
        lambda s: s.kb(s.bound, iat=int((NOW - timedelta(minutes=11)).timestamp())),
        Check.HOLDER,
        ErrorCode.INVALID_PROOF_DATETIME,
        {"part": KB, "claim": "iat", "reason": "stale"},
    ),
    "wrong sd_hash": (
        lambda s: s.kb(s.bound, sd_hash=b64url_encode(_sha256(b"another presentation~"))),
        Check.HOLDER,
        ErrorCode.SD_JWT_KEY_BINDING_MISMATCH,
        {"part": KB, "claim": "sd_hash"},
    ),
    "signed by another key": (
        lambda s: s.kb(s.bound, signer=s.parties.other_holder.signer),
        Check.HOLDER,
        ErrorCode.PROOF_VERIFICATION_ERROR,
        {"part": KB, "reason": "badSignature"},
    ),
    "no cnf.jwk": (
        lambda s: s.kb(s.unbound),
        Check.HOLDER,
        ErrorCode.SD_JWT_KEY_BINDING_MISSING,
        {"part": "issuerJwt", "reason": "noHolderKey"},
    ),
    "expired (exp)": (
        lambda s: s.kb(s.bound, exp=int((NOW - timedelta(minutes=10)).timestamp())),
        Check.HOLDER,
        ErrorCode.RANGE_ERROR,
        {"part": KB, "claim": "exp", "reason": "expired"},
    ),
    "exp not a NumericDate": (
        lambda s: s.kb(s.bound, exp="tomorrow"),
        Check.HOLDER,
        ErrorCode.MALFORMED_PROOF_ERROR,
        {"part": KB, "reason": "invalidDate"},
    ),
    "not valid yet (nbf)": (
        lambda s: s.kb(s.bound, nbf=int((NOW + timedelta(minutes=10)).timestamp())),
        Check.HOLDER,
        ErrorCode.RANGE_ERROR,
        {"part": KB, "claim": "nbf", "reason": "notYetValid"},
    ),
    "wrong aud": (
        lambda s: s.kb(s.bound, aud="did:web:insurer.example"),
        Check.CHALLENGE,
        ErrorCode.INVALID_DOMAIN_ERROR,
        {"part": KB, "claim": "aud"},
    ),
    "wrong nonce": (
        lambda s: s.kb(s.bound, nonce="another"),
        Check.CHALLENGE,
        ErrorCode.INVALID_CHALLENGE_ERROR,
        {"part": KB, "claim": "nonce"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_library_and_pipeline_give_the_same_verdict(
    scene: Scene, resolver: DIDResolver, name: str
) -> None:
    make, check, code, details = CASES[name]
    text = make(scene)

    with pytest.raises(HealthMyDataError) as caught:
        await verify_sd_jwt(
            text,
            issuer_key_resolver=resolver,
            now=NOW,
            expected_aud=AUD,
            expected_nonce=NONCE,
            accepted_algorithms=scene.algorithms,
        )
    assert (caught.value.code, dict(caught.value.details)) == (code, details)

    report = await verify_sd_jwt_presentation(
        text,
        resolver=resolver,
        now=NOW,
        audience=AUD,
        expected_nonce=NONCE,
        accepted_algorithms=scene.algorithms,
    )
    failed = {str(r.check): (r.code, r.details) for r in report.failed}
    assert failed == {str(check): (str(code), details)}, report.to_dict()
    if check is Check.CHALLENGE:
        holder = report.result(Check.HOLDER)
        assert holder is not None
        assert holder.status is CheckStatus.PASSED


async def test_the_honest_presentation_passes_both(scene: Scene, resolver: DIDResolver) -> None:
    text = scene.kb(scene.bound, exp=int((NOW + timedelta(days=1)).timestamp()))
    verified = await verify_sd_jwt(
        text, issuer_key_resolver=resolver, now=NOW, expected_aud=AUD, expected_nonce=NONCE
    )
    assert verified.key_binding is not None
    assert (verified.key_binding.aud, verified.key_binding.nonce) == (AUD, NONCE)
    report = await verify_sd_jwt_presentation(
        text, resolver=resolver, now=NOW, audience=AUD, expected_nonce=NONCE
    )
    assert report.failed == (), report.to_dict()
    for check in (Check.HOLDER, Check.CHALLENGE):
        result = report.result(check)
        assert result is not None
        assert result.status is CheckStatus.PASSED


async def test_typ_with_the_media_type_prefix_is_accepted_by_both(
    scene: Scene, resolver: DIDResolver
) -> None:
    # RFC 7515 section 4.1.9: "application/kb+jwt" is the same media type as "kb+jwt".
    text = scene.kb(scene.bound, header={"typ": "application/kb+jwt"})
    await verify_sd_jwt(
        text, issuer_key_resolver=resolver, now=NOW, expected_aud=AUD, expected_nonce=NONCE
    )
    report = await verify_sd_jwt_presentation(
        text, resolver=resolver, now=NOW, audience=AUD, expected_nonce=NONCE
    )
    assert report.failed == (), report.to_dict()
