"""w3c/vc-data-model-2.0-test-suite `tests/4.13.2-envelopes.js` (1c08b758) with `vc_jwt` /
`vp_jwt` of `tests/fixtures.js` (00572169), for a verifier that does not implement an
enveloping securing mechanism.

The suite runs these tests only against implementations tagged `EnvelopingProof`. Ours secure
with Data Integrity and SD-JWT VC and do not verify VC-JOSE-COSE `data:` URLs, so the
`doesNotReject(verifyCredential(envelope))` steps are not ported (the suite's `vc_jwt` has no
`kid` and an `https://example.edu` issuer: no verifier could check its ES256 signature
without out-of-band keys). What is ported: every negative fixture of those tests is refused,
and so is the envelope itself, with a report of named checks and no check passed that would
vouch for it. See SOURCE.md.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.w3c_suites.conftest import Endpoint, Result

V2 = "https://www.w3.org/ns/credentials/v2"
VC_JWT = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJ2YyI6eyJAY29udGV4dCI6WyJodHRwczovL3d3dy53My5vcmc"
    "vbnMvY3JlZGVudGlhbHMvdjIiLCJodHRwczovL3d3dy53My5vcmcvbnMvY3JlZGVudGlhbHMvZXhhbXBsZXMvdjI"
    "iXSwiaWQiOiJodHRwOi8vZXhhbXBsZS5lZHUvY3JlZGVudGlhbHMvMzczMiIsInR5cGUiOlsiVmVyaWZpYWJsZUN"
    "yZWRlbnRpYWwiLCJVbml2ZXJzaXR5RGVncmVlQ3JlZGVudGlhbCJdLCJpc3N1ZXIiOiJodHRwczovL2V4YW1wbGU"
    "uZWR1L2lzc3VlcnMvNTY1MDQ5IiwidmFsaWRGcm9tIjoiMjAxMC0wMS0wMVQwMDowMDowMFoiLCJjcmVkZW50aWF"
    "sU3ViamVjdCI6eyJpZCI6ImRpZDpleGFtcGxlOmViZmViMWY3MTJlYmM2ZjFjMjc2ZTEyZWMyMSIsImRlZ3JlZSI"
    "6eyJ0eXBlIjoiQmFjaGVsb3JEZWdyZWUiLCJuYW1lIjoiQmFjaGVsb3Igb2YgU2NpZW5jZSBhbmQgQXJ0cyJ9fX0"
    "sImlzcyI6Imh0dHBzOi8vZXhhbXBsZS5lZHUvaXNzdWVycy81NjUwNDkiLCJqdGkiOiJodHRwOi8vZXhhbXBsZS5"
    "lZHUvY3JlZGVudGlhbHMvMzczMiIsInN1YiI6ImRpZDpleGFtcGxlOmViZmViMWY3MTJlYmM2ZjFjMjc2ZTEyZWM"
    "yMSJ9.0fkQPZOKlD0Sl0A798KBUNMOdGq90McQQIEtKU9tgSd9K1kRcxWVKDXQJcn_FJqLvo2bk793EHk-RTeEL1"
    "HyAQ"
)
VP_JWT = (
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJFZERTQSIsICJraWQiOiAiZGlkOmtleTp6Nk1rajhoM2t6V1pyUGl1Y295"
    "WTlMR0NUcFhoQ3FCb1gzZG9EbUh6NU1hUHhudmkjejZNa2o4aDNreldaclBpdWNveVk5TEdDVHBYaENxQm9YM2Rv"
    "RG1IejVNYVB4bnZpIn0.eyJpc3MiOiAiZGlkOmtleTp6Nk1rajhoM2t6V1pyUGl1Y295WTlMR0NUcFhoQ3FCb1gz"
    "ZG9EbUh6NU1hUHhudmkiLCAiYXVkIjogImV4YW1wbGUuY29tIiwgIm5vbmNlIjogIjEyMzQ1Njc4OSIsICJ2cCI6"
    "IHsiQGNvbnRleHQiOiBbImh0dHBzOi8vd3d3LnczLm9yZy9ucy9jcmVkZW50aWFscy92MiJdLCAidHlwZSI6IFsi"
    "VmVyaWZpYWJsZVByZXNlbnRhdGlvbiJdLCAiaG9sZGVyIjogImRpZDprZXk6ejZNa2o4aDNreldaclBpdWNveVk5"
    "TEdDVHBYaENxQm9YM2RvRG1IejVNYVB4bnZpIiwgInZlcmlmaWFibGVDcmVkZW50aWFsIjogW3siQGNvbnRleHQi"
    "OiAiaHR0cHM6Ly93d3cudzMub3JnL25zL2NyZWRlbnRpYWxzL3YyIiwgInR5cGUiOiAiRW52ZWxvcGVkVmVyaWZp"
    "YWJsZUNyZWRlbnRpYWwiLCAiaWQiOiAiZGF0YTphcHBsaWNhdGlvbi9qd3QsZXlKaGJHY2lPaUpGVXpJMU5pSXNJ"
    "bXRwWkNJNkltUnBaRHByWlhrNmVrUnVZV1ZVVVV0RVlsaFJWRFJpWVhSNFMyTnVUVkZaVVRoS2VXNXFjVU0xV0hv"
    "eGRVMXJOV1YxUnpKb2REaHVjU042Ukc1aFpWUlJTMFJpV0ZGVU5HSmhkSGhMWTI1TlVWbFJPRXA1Ym1weFF6Vlll"
    "akYxVFdzMVpYVkhNbWgwT0c1eEluMC5leUpwYzNNaU9pSmthV1E2YTJWNU9ucEVibUZsVkZGTFJHSllVVlEwWW1G"
    "MGVFdGpiazFSV1ZFNFNubHVhbkZETlZoNk1YVk5helZsZFVjeWFIUTRibkVpTENKemRXSWlPaUprYVdRNlpYaGhi"
    "WEJzWlRwaGJHbGpaU0lzSW5aaklqcDdJa0JqYjI1MFpYaDBJanBiSW1oMGRIQnpPaTh2ZDNkM0xuY3pMbTl5Wnk5"
    "dWN5OWpjbVZrWlc1MGFXRnNjeTkyTWlKZExDSjBlWEJsSWpwYklsWmxjbWxtYVdGaWJHVkRjbVZrWlc1MGFXRnNJ"
    "bDBzSW1OeVpXUmxiblJwWVd4VGRXSnFaV04wSWpwN0ltbGtJam9pWkdsa09tVjRZVzF3YkdVNllXeHBZMlVpTENK"
    "dVlXMWxJam9pUVd4cFkyVWlmU3dpYVhOemRXVnlJam9pWkdsa09tdGxlVHA2Ukc1aFpWUlJTMFJpV0ZGVU5HSmhk"
    "SGhMWTI1TlVWbFJPRXA1Ym1weFF6VlllakYxVFdzMVpYVkhNbWgwT0c1eEluMTkucUU4VVliU0pmSWRZVV9MU3d4"
    "TEVJRHRqVHBMTGFwNkVZNTNKR3dhZy1UM3dyX2FROVNRem1pcUZFMUZQWEZnZkFVOEdIT2tTWTdBUm1feDVBRnZP"
    "TkEifV19fQ.9L0gNj8NbDTMZhCCNDL-q6aSKEddxuJKsX0FGGb7qooHsQQ7i_ZHQEo3hL2jzowWvHzrX4PGTrAhc"
    "8j4SIkFCg"
)


def generate_envelope(kind: str, data_url: str) -> dict[str, Any]:
    """helpers.js generateEnvelope (the base context, the type, the data: URL id)."""
    return {"@context": V2, "type": kind, "id": data_url}


def _refused(result: Result) -> None:
    """`assert.rejects(...)`: HTTP >= 400 (a non-empty `errors`), and nothing vouched for."""
    assert result.status == 400, result
    assert result.data["verified"] is False, result
    assert result.data["errors"], result
    assert not {"proof", "issuer", "holder"} & set(result.data["checks"]), result


def _variants(envelope: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The suite's negative fixtures of each `it()`, by name."""
    out: dict[str, dict[str, Any]] = {}
    out["context-empty"] = {**copy.deepcopy(envelope), "@context": []}
    bad_context: Any = "https://www.w3.org/ns/credentials/examples/v2"
    if kind == "EnvelopedVerifiablePresentation":
        bad_context = [bad_context]
    out["context-invalid"] = {**copy.deepcopy(envelope), "@context": bad_context}
    out["id-not-data-url"] = {**copy.deepcopy(envelope), "id": envelope["id"].split(",")[-1]}
    if kind == "EnvelopedVerifiableCredential":
        no_type = copy.deepcopy(envelope)
        del no_type["type"]
        out["type-missing"] = no_type
        out["type-invalid"] = {**copy.deepcopy(envelope), "type": "VerifiableCredential"}
    else:
        out["type-invalid"] = {**copy.deepcopy(envelope), "type": ["VerifiablePresentation"]}
    return out


VC_ENVELOPE = generate_envelope("EnvelopedVerifiableCredential", f"data:application/jwt,{VC_JWT}")
VP_ENVELOPE = generate_envelope("EnvelopedVerifiablePresentation", f"data:application/jwt,{VP_JWT}")


@pytest.mark.parametrize(
    "variant",
    ["envelope", *_variants(VC_ENVELOPE, "EnvelopedVerifiableCredential")],
)
def test_enveloped_vc_is_refused(verifier: dict[str, Endpoint], variant: str) -> None:
    """4.12.1 Enveloped Verifiable Credentials: "@context ... MUST be present", "The id value
    ... MUST be a data: URL", "The type value ... MUST be EnvelopedVerifiableCredential"
    (each negative fixture is refused; the envelope too, as this verifier cannot check it)."""
    document = (
        VC_ENVELOPE
        if variant == "envelope"
        else _variants(VC_ENVELOPE, "EnvelopedVerifiableCredential")[variant]
    )
    _refused(verifier["credentials"].post({"verifiableCredential": document}))


@pytest.mark.parametrize(
    "variant",
    ["envelope", *_variants(VP_ENVELOPE, "EnvelopedVerifiablePresentation")],
)
def test_enveloped_vp_is_refused(verifier: dict[str, Endpoint], variant: str) -> None:
    """4.12.2 Enveloped Verifiable Presentations: the same three statements for
    EnvelopedVerifiablePresentation (the suite's `verifyPresentation` posts
    `{verifiablePresentation}`)."""
    document = (
        VP_ENVELOPE
        if variant == "envelope"
        else _variants(VP_ENVELOPE, "EnvelopedVerifiablePresentation")[variant]
    )
    result = verifier["presentations"].post({"verifiablePresentation": document})
    _refused(result)
    assert result.data["verified"] is False, result
