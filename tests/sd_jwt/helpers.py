"""Helpers for the SD-JWT tests: signers from the spec's example JWKs, vector access.

Tests may import aries_askar; the library code does not. Production signers come from
:class:`agent.keys.AskarKeyStore` (see conftest.py); these build askar keys directly so that
hypothesis and the spec examples need no store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aries_askar import Key, KeyAlg

from agent.keys.convert import public_key_to_jwk
from agent.keys.multikey import KeyType

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "sd-jwt"
EXAMPLES: dict[str, Any] = json.loads((VECTORS / "draft-examples.json").read_text("utf-8"))
SETTINGS: dict[str, Any] = yaml.safe_load((VECTORS / "examples-settings.yml").read_text("utf-8"))

#: KB-JWT values the spec's example presentations use (examples-settings.yml and section 5.2).
EXAMPLE_NONCE = SETTINGS["key_binding_nonce"]
EXAMPLE_AUD = SETTINGS["identifiers"]["verifier"]
EXAMPLE_KB_IAT = 1748536865


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class KeySigner:
    """A :class:`agent.keys.Signer` over an askar key built in memory."""

    key: Key
    algorithm: str
    verification_method: str = "did:example:issuer#key-1"

    @classmethod
    def from_private_jwk(cls, jwk: Mapping[str, Any], verification_method: str = "") -> KeySigner:
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
        key = Key.from_secret_bytes(KeyAlg.P256, b64url_decode(jwk["d"]))
        return cls(key, "ES256", verification_method or "did:example:issuer#key-1")

    @classmethod
    def generate(cls, algorithm: str = "EdDSA", verification_method: str = "") -> KeySigner:
        alg = KeyAlg.ED25519 if algorithm == "EdDSA" else KeyAlg.P256
        return cls(Key.generate(alg), algorithm, verification_method or "did:example:a#k")

    @property
    def public_jwk(self) -> dict[str, str]:
        if self.algorithm == "EdDSA":
            return public_key_to_jwk(KeyType.ED25519_PUB, bytes(self.key.get_public_bytes()))
        jwk: dict[str, str] = json.loads(self.key.get_jwk_public())
        return {name: jwk[name] for name in ("kty", "crv", "x", "y")}

    def sign(self, data: bytes) -> bytes:
        return bytes(self.key.sign_message(data))


def section_items(section: str, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = EXAMPLES["sections"][section]["items"]
    return [item for item in items if item["kind"] == kind]


def all_disclosures() -> Iterator[tuple[str, dict[str, Any]]]:
    for section, body in EXAMPLES["sections"].items():
        for item in body["items"]:
            if item["kind"] == "disclosure":
                yield section, item


class JwkCallback:
    """An issuer-key callback that trusts one issuer and its JWK, recording calls."""

    def __init__(self, iss: str | None, jwk: Mapping[str, Any]) -> None:
        self.iss = iss
        self.jwk = dict(jwk)
        self.calls: list[tuple[str | None, dict[str, Any]]] = []

    async def __call__(self, iss: str | None, header: Mapping[str, Any]) -> Mapping[str, Any]:
        self.calls.append((iss, dict(header)))
        assert iss == self.iss, "untrusted issuer"
        return self.jwk
