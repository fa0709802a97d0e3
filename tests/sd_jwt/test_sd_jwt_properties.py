"""Hypothesis: any subset presented verifies and reveals exactly it; issuing round-trips."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.credentials.sd_jwt import issue_sd_jwt, parse_sd_jwt, present, verify_sd_jwt
from tests.sd_jwt.helpers import JwkCallback, KeySigner

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ISS = "https://hospital.example"
ISSUER = KeySigner.generate("EdDSA")
HOLDERS = {"EdDSA": KeySigner.generate("EdDSA"), "ES256": KeySigner.generate("ES256")}

# Twenty top-level claims, all selectively disclosable; c05 hides its members one by one, c10
# its elements, c15 is an array of objects whose members are hidden (recursive disclosures).
CLAIMS: dict[str, Any] = {f"c{i:02d}": f"value-{i}" for i in range(20)}
CLAIMS["c05"] = {"system": "http://loinc.org", "code": "8480-6", "value": 120}
CLAIMS["c10"] = ["penicillin", "peanut", "latex"]
CLAIMS["c15"] = [{"dose": 1, "lot": "A1"}, {"dose": 2, "lot": "B2"}]
DISCLOSABLE = [(name,) for name in CLAIMS] + [
    ("c05", None),
    ("c10", None),
    ("c15", None, "lot"),
]


def _issue(holder: KeySigner) -> str:
    return issue_sd_jwt(
        CLAIMS,
        ISSUER,
        iss=ISS,
        iat=NOW,
        disclosable=DISCLOSABLE,
        holder_jwk=holder.public_jwk,
        vct="https://health.example/vct/test",
        decoys=2,
    )


ISSUED = {alg: _issue(holder) for alg, holder in HOLDERS.items()}
PARSED = {alg: parse_sd_jwt(issued) for alg, issued in ISSUED.items()}
PATHS = sorted(PARSED["EdDSA"].paths.values(), key=str)


def _expected(value: Any, path: tuple[Any, ...], hidden: set[tuple[Any, ...]]) -> Any:
    """The holder's claims without the hidden disclosures: an independent model of section 7."""
    if isinstance(value, dict):
        return {
            key: _expected(item, (*path, key), hidden)
            for key, item in value.items()
            if (*path, key) not in hidden
        }
    if isinstance(value, list):
        return [
            _expected(item, (*path, index), hidden)
            for index, item in enumerate(value)
            if (*path, index) not in hidden
        ]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chosen=st.sets(st.sampled_from(PATHS)),
    algorithm=st.sampled_from(sorted(HOLDERS)),
)
def test_any_subset_verifies_and_reveals_exactly_it(
    chosen: set[tuple[Any, ...]], algorithm: str
) -> None:
    parsed = PARSED[algorithm]
    presentation = present(
        parsed,
        disclose=sorted(chosen, key=str),
        holder_signer=HOLDERS[algorithm],
        nonce="nonce",
        aud="aud",
        iat=NOW,
    )
    verified = asyncio.run(
        verify_sd_jwt(
            presentation,
            issuer_key_resolver=JwkCallback(ISS, ISSUER.public_jwk),
            now=NOW,
            expected_aud="aud",
            expected_nonce="nonce",
        )
    )
    # A chosen claim comes with everything inside it and every disclosure around it.
    shown = {
        p
        for p in parsed.paths.values()
        if any(p[: len(c)] == c or c[: len(p)] == p for c in chosen)
    }
    hidden = set(parsed.paths.values()) - shown
    assert verified.payload == _expected(parsed.claims, (), hidden)
    assert len(verified.disclosed_paths) == len(shown)
    assert presentation.count("~") == len(shown) + 1


json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    claims=st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=6), json_values, min_size=1, max_size=6
    ),
    data=st.data(),
)
def test_issue_then_parse_gives_back_the_claims(
    claims: dict[str, Any], data: st.DataObject
) -> None:
    hidden = data.draw(st.sets(st.sampled_from(sorted((name,) for name in claims))))
    nested = [
        (name, None) for name, value in claims.items() if isinstance(value, dict | list) and value
    ]
    hidden |= set(data.draw(st.sets(st.sampled_from(nested)))) if nested else set()
    issued = issue_sd_jwt(
        claims, ISSUER, iss=ISS, iat=NOW, disclosable=hidden, typ="example+sd-jwt"
    )
    parsed = parse_sd_jwt(issued)
    assert parsed.claims == {"iss": ISS, "iat": int(NOW.timestamp()), **claims}
    assert len(parsed.disclosures) == len(parsed.paths)
    assert all(len(p) <= 2 for p in parsed.paths.values())
