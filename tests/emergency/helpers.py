"""Shared pieces of the emergency card tests: a did:web hospital, a citizen, the bundles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from agent.credentials.emergency_qr import (
    EMERGENCY_AUDIENCE,
    EMERGENCY_NONCE,
    MAX_CARD_LIFETIME,
    card_expiry,
    decode_emergency_qr,
)
from agent.credentials.sd_jwt import VerifiedSdJwt, parse_sd_jwt, verify_sd_jwt
from agent.dids import DIDResolver, build_did_web_document
from agent.errors import CredentialError, ErrorCode
from agent.keys.multikey import KeyType, encode_multikey
from issuer.fhir import read_fhir_input
from issuer.issue import sd_jwt_credential
from issuer.templates import RecordClaims, emergency_summary
from tests.issuer.conftest import IPS, SAMPLES, load
from tests.sd_jwt.helpers import KeySigner

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOSPITAL = "did:web:hospital.example"
#: As issuer.hospital writes it: the revocation index in a Token Status List.
STATUS = {"status_list": {"idx": 94567, "uri": "https://hospital.example/status-lists/r-1/token"}}

#: Both IPS example bundles and the six-section sample.
BUNDLES = [
    IPS / "bundle-minimal.json",
    IPS / "bundle-no-info-required-sections.json",
    SAMPLES / "ips-emergency-bundle.json",
]


def _hospital_signer() -> KeySigner:
    signer = KeySigner.generate()
    multikey = encode_multikey(KeyType.ED25519_PUB, bytes(signer.key.get_public_bytes()))
    # As issuer.hospital: the key id is the key's own Multikey (the longer, realistic kid).
    signer.verification_method = f"{HOSPITAL}#{multikey}"
    return signer


HOSPITAL_SIGNER = _hospital_signer()
CITIZEN = KeySigner.generate()
OTHER_CITIZEN = KeySigner.generate()


def hospital_document() -> dict[str, Any]:
    public = bytes(HOSPITAL_SIGNER.key.get_public_bytes())
    return build_did_web_document(HOSPITAL, [(KeyType.ED25519_PUB, public)])


def summary(path: Path) -> RecordClaims:
    parsed = read_fhir_input(load(path))
    return emergency_summary(parsed.resources, index=parsed.index)


def credential(
    path: Path, *, bound: bool = True, exp: datetime | None = None, holder: KeySigner = CITIZEN
) -> str:
    """The EmergencySummary SD-JWT VC as the hospital issues it (bound to the citizen's key)."""
    return sd_jwt_credential(
        summary(path),
        signer=HOSPITAL_SIGNER,
        issuer=HOSPITAL,
        holder_jwk=holder.public_jwk if bound else None,
        iat=NOW,
        exp=exp,
        status=STATUS,
    )


class NoNetwork(httpx.AsyncBaseTransport):
    """No network: every request fails as it would offline, and is recorded so that a test
    can assert there was none."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        raise httpx.ConnectError("offline: no network", request=request)


def offline_resolver() -> tuple[DIDResolver, NoNetwork]:
    """A resolver whose only did:web knowledge is the hospital's cached document."""
    transport = NoNetwork()
    resolver = DIDResolver(http_client=httpx.AsyncClient(transport=transport))
    resolver.add_document(hospital_document())
    return resolver, transport


async def verify_card(text: str, resolver: DIDResolver, now: datetime) -> VerifiedSdJwt:
    """What an emergency department's verifier does (agent.credentials.emergency_qr docs)."""
    sd_jwt = decode_emergency_qr(text)
    bound = "cnf" in parse_sd_jwt(sd_jwt).payload
    verified = await verify_sd_jwt(
        sd_jwt,
        issuer_key_resolver=resolver,
        now=now,
        require_key_binding=bound,
        expected_aud=EMERGENCY_AUDIENCE,
        expected_nonce=EMERGENCY_NONCE,
        max_kb_age=MAX_CARD_LIFETIME,
    )
    expires = card_expiry(sd_jwt)
    if expires is not None and now >= expires:
        raise CredentialError(
            "the emergency card has expired",
            code=ErrorCode.RANGE_ERROR,
            details={"part": "keyBindingJwt", "claim": "exp", "reason": "expired"},
        )
    return verified
