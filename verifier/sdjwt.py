"""SD-JWT VC presentations as a report of named checks; Token Status List caching.

:func:`verify_sd_jwt_presentation` runs, in order (each reported by name, never stopping at the
first failure where a later check can still say something):

=============  ==============================================================================
``format``     RFC 9901 structure: the Issuer-signed JWT, ``typ`` (``dc+sd-jwt``), ``alg``,
               ``vct``, every Disclosure against the digests (``parse_sd_jwt``)
``proof``      the issuer's signature, with the key the ``kid`` (a DID URL) dereferences
``issuer``     the ``kid`` is a key of the DID in ``iss``, listed for ``assertionMethod``
``trust``      (with a :class:`verifier.trust.TrustRegistry`) ``iss`` is accredited
``validity``   ``exp``, ``nbf`` and ``iat`` against the clock, with skew
``status``     the Token Status List entry (``status.status_list``) via
               :class:`TokenStatusCache`: valid, else revoked or suspended; offline the age
``holder``     the KB-JWT: signed by ``cnf.jwk``, ``typ`` ``kb+jwt``, fresh ``iat``,
               ``sd_hash`` over exactly these Disclosures, ``exp`` (if any) not passed;
               the same check as ``verify_sd_jwt``'s (``agent.credentials.sd_jwt``)
``challenge``  KB-JWT ``aud`` is this verifier, ``nonce`` issued here and consumed now
               (single use, :class:`verifier.nonces.NonceStore`)
``fields``     the presentation definition's required fields are disclosed; anything
               disclosed beyond them is a warning
``purpose``    the nonce was issued for a request with the purpose expected
=============  ==============================================================================

The nonce is consumed only once the holder's signature (KB-JWT) verified: an attacker
without the holder key cannot burn other people's nonces.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.clock import DEFAULT_MAX_CLOCK_SKEW, Clock, format_datetime, parse_datetime, utcnow
from agent.credentials.jose import (
    ALGORITHM_KEY_TYPES,
    decode_jws,
    key_from_resolved,
)
from agent.credentials.sd_jwt import (
    DEFAULT_MAX_KB_AGE,
    SD_JWT_VC_TYPES,
    KeyBinding,
    SdJwt,
    check_key_binding,
    parse_sd_jwt,
)
from agent.credentials.token_status_list import TokenStatus, check_token_status
from agent.errors import (
    CredentialError,
    CryptosuiteError,
    ErrorCode,
    HealthMyDataError,
    InvalidInputError,
    ProofError,
    StatusError,
)
from agent.keys.signer import KeyResolver, ResolvedKey
from agent.status.token_fetch import TokenFetcher, http_token_fetcher, retrieval_error
from verifier.nonces import NonceRecord, NonceStore
from verifier.report import Check, CheckResult, CheckStatus, VerificationReport
from verifier.request import match_definition
from verifier.trust import DEFAULT_ROLE, TrustRegistry, age_text, trust_check_result

__all__ = [
    "SD_JWT_CHECKS",
    "TokenStatusCache",
    "http_token_fetcher",
    "looks_like_sd_jwt",
    "verify_sd_jwt_presentation",
]

#: The checks run on an SD-JWT VC presentation, in order.
SD_JWT_CHECKS: tuple[Check, ...] = (
    Check.FORMAT,
    Check.PROOF,
    Check.ISSUER,
    Check.TRUST,
    Check.VALIDITY,
    Check.STATUS,
    Check.HOLDER,
    Check.CHALLENGE,
    Check.FIELDS,
    Check.PURPOSE,
)


def looks_like_sd_jwt(text: str) -> bool:
    """Whether ``text`` has the shape of a compact SD-JWT: ``<JWS>~...~`` (or ``~<KB-JWT>``)."""
    stripped = text.strip()
    if "~" not in stripped or stripped.startswith("{"):
        return False
    return stripped.split("~", 1)[0].count(".") == 2


# --- Token Status List fetch and cache -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CachedToken:
    token: str
    fetched_at: datetime


class TokenStatusCache:
    """Status List Tokens by ``uri``: fetched through ``fetch`` and reused for ``ttl``, or
    seeded (synced before going offline, or stapled by a holder) and, offline, used however
    old. Verification of the token happens at each check, not here.

    :param fetch: ``await fetch(uri) -> token``; ``None`` for an offline cache.
    :param ttl: how long a fetched token is reused online.
    :param offline: never fetch.
    """

    def __init__(
        self,
        fetch: TokenFetcher | None = None,
        *,
        ttl: timedelta = timedelta(minutes=5),
        offline: bool = False,
        clock: Clock = utcnow,
    ) -> None:
        if fetch is None and not offline:
            raise InvalidInputError("an online TokenStatusCache needs fetch; or pass offline=True")
        self._fetch = fetch
        self._ttl = ttl
        self._offline = offline
        self._clock = clock
        self._tokens: dict[str, _CachedToken] = {}

    @property
    def offline(self) -> bool:
        return self._offline

    def seed(self, uri: str, token: str, *, fetched_at: datetime | None = None) -> None:
        """Keep ``token`` for ``uri`` as obtained at ``fetched_at`` (default now)."""
        self._tokens[uri] = _CachedToken(token, fetched_at or self._clock())

    async def get(self, uri: str) -> tuple[str, datetime]:
        """The token for ``uri`` and when it was obtained.

        :raises StatusError: ``STATUS_RETRIEVAL_ERROR`` when it is not cached offline, or
            cannot be fetched.
        """
        cached = self._tokens.get(uri)
        now = self._clock()
        if cached is not None and (self._offline or now - cached.fetched_at < self._ttl):
            return cached.token, cached.fetched_at
        if self._offline or self._fetch is None:
            raise retrieval_error(
                f"the status list {uri} is not available offline; sync it first", uri, "notSeeded"
            )
        token = await self._fetch(uri)
        self._tokens[uri] = _CachedToken(token, now)
        return token, now

    def export(self) -> dict[str, Any]:
        """The cached tokens, with when each was fetched, as JSON."""
        return {
            uri: {"token": c.token, "fetchedAt": format_datetime(c.fetched_at)}
            for uri, c in self._tokens.items()
        }

    def import_(self, data: Mapping[str, Any]) -> None:
        """Seed from an :meth:`export` (tokens are verified when used, not here)."""
        for uri, item in data.items():
            self.seed(uri, str(item["token"]), fetched_at=parse_datetime(item["fetchedAt"]))


# --- the pipeline ----------------------------------------------------------------------------


def _numeric(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    kind = type(value)
    if (
        kind is not int
        and kind is not float
        and (kind is bool or not isinstance(value, int | float))
    ):
        raise CryptosuiteError(
            f"the issuerJwt {name} is not a NumericDate",
            code=ErrorCode.MALFORMED_PROOF_ERROR,
            details={"part": "issuerJwt", "claim": name},
        )
    return float(value)


def _check_validity(payload: Mapping[str, Any], at: float, allowance: float) -> str:
    exp, nbf, iat = _numeric(payload, "exp"), _numeric(payload, "nbf"), _numeric(payload, "iat")
    if exp is not None and at - allowance > exp:
        raise CredentialError(
            "the SD-JWT has expired; ask the issuer for a new one",
            code=ErrorCode.RANGE_ERROR,
            details={"claim": "exp", "reason": "expired"},
        )
    if nbf is not None and at + allowance < nbf:
        raise CredentialError(
            "the SD-JWT is not valid yet (nbf is in the future)",
            code=ErrorCode.RANGE_ERROR,
            details={"claim": "nbf", "reason": "notYetValid"},
        )
    if iat is not None and at + allowance < iat:
        raise CredentialError(
            "the SD-JWT claims to be issued in the future; check the clocks",
            code=ErrorCode.RANGE_ERROR,
            details={"claim": "iat", "reason": "issuedInFuture"},
        )
    return "within its validity period" if exp is not None else "valid (it has no exp)"


def _pointer(path: Iterable[str | int]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _covered(disclosed: tuple[str | int, ...], requested: Iterable[tuple[str | int, ...]]) -> bool:
    return any(disclosed[: len(r)] == r or r[: len(disclosed)] == disclosed for r in requested)


async def verify_sd_jwt_presentation(
    text: object,
    *,
    resolver: KeyResolver,
    now: datetime | None = None,
    audience: str | None = None,
    nonces: NonceStore | None = None,
    expected_nonce: str | None = None,
    definition: Mapping[str, Any] | None = None,
    purpose: str | None = None,
    status: TokenStatusCache | None = None,
    trust: TrustRegistry | None = None,
    required_role: str = DEFAULT_ROLE,
    require_key_binding: bool = True,
    checks: Iterable[str] | None = None,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
    max_kb_age: timedelta = DEFAULT_MAX_KB_AGE,
    accepted_algorithms: Collection[str] = frozenset(ALGORITHM_KEY_TYPES),
) -> VerificationReport:
    """Verify an SD-JWT VC presentation (see the module docstring for the checks).

    :param resolver: dereferences the issuer's ``kid`` (DID URL) and status list keys; a
        :class:`agent.dids.DIDResolver`, seeded with cached documents when offline.
    :param audience: this verifier's identifier, the KB-JWT ``aud`` expected.
    :param nonces: where nonces were issued; the KB-JWT's nonce is consumed there. Its record
        also supplies the request's definition and purpose when not given here.
    :param expected_nonce: instead of ``nonces``, a nonce to compare with (no single use).
    :param definition: a PE 2.0 presentation definition whose fields must be disclosed.
    :param purpose: the purpose this verifier acts for; the request's must be the same.
    :param status: Status List Tokens; without one a ``status`` claim is not checked (warning).
    :param trust: the trust registry; without one the ``trust`` check does not run (warning).
    :param require_key_binding: ``False`` for the emergency card, shown without a KB-JWT.
    :param checks: names of the checks to run (default: all of :data:`SD_JWT_CHECKS`).
    :raises InvalidInputError: ``text`` is not a string, or a check name is unknown; every
        other problem is a failed check.
    """
    if not isinstance(text, str):
        raise InvalidInputError("an SD-JWT presentation is a string", code=ErrorCode.PARSING_ERROR)
    text = text.strip()
    selected = _select(checks)
    at = now or utcnow()
    results: dict[Check, CheckResult] = {}
    warnings: list[str] = []
    algorithms = (
        accepted_algorithms
        if type(accepted_algorithms) is frozenset
        else frozenset(accepted_algorithms)
    )

    def skip_all(message: str) -> VerificationReport:
        for check in selected:
            results.setdefault(check, CheckResult.skipped(check, message))
        return _report(selected, results, warnings, None, None)

    # format
    parsed: SdJwt | None = None
    try:
        parsed = parse_sd_jwt(text)
        typ = str(parsed.header.get("typ", "")).lower().removeprefix("application/")
        if typ not in SD_JWT_VC_TYPES:
            raise CryptosuiteError(
                f"the issuerJwt typ must be one of {sorted(SD_JWT_VC_TYPES)} (SD-JWT VC)",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
                details={"part": "issuerJwt", "reason": "typ"},
            )
        if parsed.header.get("alg") not in algorithms:
            raise CryptosuiteError(
                f"the issuerJwt alg is not one of {sorted(algorithms)}",
                code=ErrorCode.UNSUPPORTED_CRYPTOSUITE,
                details={"part": "issuerJwt", "reason": "alg"},
            )
        if not isinstance(parsed.payload.get("vct"), str) or not isinstance(
            parsed.payload.get("iss"), str
        ):
            raise CryptosuiteError(
                "an SD-JWT VC carries vct and iss strings in its Issuer-signed JWT",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
                details={"part": "issuerJwt", "reason": "missingClaim"},
            )
        results[Check.FORMAT] = CheckResult.passed(
            Check.FORMAT,
            f"an SD-JWT VC with {len(parsed.disclosures)} Disclosure(s)"
            + (" and a Key Binding JWT" if parsed.key_binding_jwt else ""),
        )
    except HealthMyDataError as error:
        results[Check.FORMAT] = CheckResult.failed(Check.FORMAT, error)
        if parsed is None:
            return skip_all("not checked: the SD-JWT could not be parsed")
    assert parsed is not None
    iss = str(parsed.payload.get("iss"))
    claims = parsed.claims
    # POSIX seconds once, for the validity and holder checks.
    at_ts, skew = at.timestamp(), max_clock_skew.total_seconds()

    # proof
    kid = parsed.header.get("kid")
    if isinstance(kid, str) and kid.startswith("#"):
        kid = iss + kid
    signature_ok = False
    issuer_key: ResolvedKey | None = None  # resolved once, for proof and issuer
    try:
        if not isinstance(kid, str) or not kid.startswith("did:") or "#" not in kid:
            raise CryptosuiteError(
                "the issuerJwt kid must be a DID URL ('did:...#key') to find the issuer's key",
                code=ErrorCode.MALFORMED_PROOF_ERROR,
                details={"part": "issuerJwt", "reason": "kidNotDidUrl"},
            )
        issuer_key = await resolver.resolve_key(kid, "assertionMethod")
        key_from_resolved(issuer_key).verify(
            parsed.header.get("alg"), parsed.signing_input, parsed.signature, "issuerJwt"
        )
        signature_ok = True
        results[Check.PROOF] = CheckResult.passed(
            Check.PROOF, f"{parsed.header.get('alg')} signature verifies ({kid[-24:]})"
        )
    except HealthMyDataError as error:
        results[Check.PROOF] = CheckResult.failed(Check.PROOF, error)

    # issuer
    if Check.ISSUER in selected:
        try:
            if not isinstance(kid, str) or kid.partition("#")[0] != iss:
                raise ProofError(
                    "the issuerJwt is signed with a key of another DID than its iss",
                    code=ErrorCode.PROOF_VERIFICATION_ERROR,
                    details={"part": "issuerJwt", "reason": "issuerKeyMismatch"},
                )
            key = issuer_key or await resolver.resolve_key(kid, "assertionMethod")
            if key.controller != iss:
                raise ProofError(
                    "the issuerJwt key is not controlled by the issuer DID",
                    code=ErrorCode.PROOF_VERIFICATION_ERROR,
                    details={"part": "issuerJwt", "reason": "issuerKeyMismatch"},
                )
            results[Check.ISSUER] = CheckResult.passed(
                Check.ISSUER, f"the signing key belongs to the issuer {iss[:48]}"
            )
        except HealthMyDataError as error:
            results[Check.ISSUER] = CheckResult.failed(Check.ISSUER, error)

    # trust
    if Check.TRUST in selected:
        if trust is None:
            results[Check.TRUST] = CheckResult.skipped(
                Check.TRUST, "no trust registry: the issuer's accreditation was not checked"
            )
            warnings.append("the issuer's accreditation was not checked (no trust registry)")
        else:
            results[Check.TRUST] = trust_check_result(
                await trust.check_issuer(iss, required_role, now=at), required_role
            )

    # validity
    try:
        results[Check.VALIDITY] = CheckResult.passed(
            Check.VALIDITY, _check_validity(claims, at_ts, skew)
        )
    except HealthMyDataError as error:
        results[Check.VALIDITY] = CheckResult.failed(Check.VALIDITY, error)

    # status
    if Check.STATUS in selected:
        reference = claims.get("status")
        if reference is None:
            results[Check.STATUS] = CheckResult.skipped(
                Check.STATUS, "the credential has no status claim"
            )
        elif status is None:
            warnings.append("credential has a status claim that this verifier did not check")
            results[Check.STATUS] = CheckResult.skipped(
                Check.STATUS, "status lists are not checked by this verifier"
            )
        else:
            results[Check.STATUS] = await _status_result(
                reference, status, resolver, iss, at, max_clock_skew
            )

    # holder
    binding: KeyBinding | None = None
    kb = parsed.key_binding_jwt
    if not require_key_binding and kb is None:
        results[Check.HOLDER] = CheckResult.skipped(
            Check.HOLDER, "no Key Binding asked for: anyone holding a copy could show it"
        )
    else:
        try:
            if kb is None:
                raise ProofError(
                    "the presentation has no Key Binding JWT, so nothing shows the holder "
                    "presented it",
                    code=ErrorCode.SD_JWT_KEY_BINDING_MISSING,
                    details={"part": "keyBindingJwt", "reason": "absent"},
                )
            # aud and nonce are left to the challenge check, so the report says which failed.
            binding = check_key_binding(
                kb,
                text,
                claims,
                parsed.sd_alg,
                algorithms=algorithms,
                now=at_ts,
                skew=skew,
                max_age=max_kb_age.total_seconds(),
                expected_aud=None,
                expected_nonce=None,
            )
            results[Check.HOLDER] = CheckResult.passed(
                Check.HOLDER, "the Key Binding JWT is signed by the holder key (cnf)"
            )
        except HealthMyDataError as error:
            results[Check.HOLDER] = CheckResult.failed(Check.HOLDER, error)

    # challenge (and the request the nonce stands for)
    request: NonceRecord | None = None
    if Check.CHALLENGE in selected:
        results[Check.CHALLENGE], request = await _challenge_result(
            parsed,
            binding,
            audience,
            nonces,
            expected_nonce,
            at,
            consume=signature_ok and results[Check.HOLDER].status is CheckStatus.PASSED,
        )
        if results[Check.CHALLENGE].status is CheckStatus.SKIPPED and require_key_binding:
            warnings.append(
                "no nonce was checked: the presentation is not bound to a request of this "
                "verifier and could be a replay"
            )

    # fields
    wanted = definition
    if wanted is None and request is not None:
        found = request.request.get("presentation_definition")
        wanted = found if isinstance(found, dict) else None
    if Check.FIELDS in selected:
        if wanted is None:
            results[Check.FIELDS] = CheckResult.skipped(Check.FIELDS, "no fields were requested")
        else:
            results[Check.FIELDS] = _fields_result(wanted, claims, parsed, warnings)

    # purpose
    if Check.PURPOSE in selected:
        if purpose is None:
            results[Check.PURPOSE] = CheckResult.skipped(
                Check.PURPOSE, "no purpose is expected by this verifier"
            )
        elif request is None:
            results[Check.PURPOSE] = CheckResult.skipped(
                Check.PURPOSE,
                "no request of this verifier could be matched to the presentation (see the "
                "challenge check), so its purpose is not known",
            )
        elif request.purpose != purpose:
            results[Check.PURPOSE] = CheckResult.failed(
                Check.PURPOSE,
                ProofError(
                    "the presentation was made for a request of another purpose",
                    code=ErrorCode.PURPOSE_MISMATCH,
                    details={"expected": purpose, "requested": request.purpose},
                ),
            )
        else:
            results[Check.PURPOSE] = CheckResult.passed(
                Check.PURPOSE, f"made for a request with purpose {purpose!r}"
            )

    return _report(selected, results, warnings, claims if signature_ok else None, iss)


def _select(checks: Iterable[str] | None) -> tuple[Check, ...]:
    if checks is None:
        return SD_JWT_CHECKS
    wanted = list(checks)
    unknown = sorted(set(wanted) - {str(c) for c in SD_JWT_CHECKS})
    if unknown:
        raise InvalidInputError(
            f"unknown check(s) {', '.join(unknown)}; available: "
            + ", ".join(str(c) for c in SD_JWT_CHECKS)
        )
    return tuple(c for c in SD_JWT_CHECKS if str(c) in wanted)


def _report(
    selected: tuple[Check, ...],
    results: Mapping[Check, CheckResult],
    warnings: list[str],
    claims: dict[str, Any] | None,
    issuer: str | None,
) -> VerificationReport:
    return VerificationReport(
        "sd-jwt",
        tuple([results[c] for c in selected if c in results]),
        tuple(warnings),
        claims=claims,
        issuer=issuer,
    )


async def _status_result(
    reference: object,
    cache: TokenStatusCache,
    resolver: KeyResolver,
    iss: str,
    at: datetime,
    skew: timedelta,
) -> CheckResult:
    try:
        uri = reference.get("status_list", {}).get("uri") if isinstance(reference, dict) else None
        if not isinstance(uri, str):
            raise StatusError(
                "the status claim has no status_list.uri",
                code=ErrorCode.MALFORMED_VALUE_ERROR,
            )
        token, fetched_at = await cache.get(uri)
        result = await check_token_status(
            reference,
            token,
            issuer_key_resolver=resolver,
            now=at,
            expected_issuer=iss,
            max_clock_skew=skew,
        )
    except HealthMyDataError as error:
        return CheckResult.failed(Check.STATUS, error)
    age = at - fetched_at
    details = {"ageSeconds": int(age.total_seconds()), "uri": uri}
    if result.status == TokenStatus.INVALID:
        return CheckResult(
            Check.STATUS,
            CheckStatus.FAILED,
            "the issuer has revoked this credential",
            str(ErrorCode.CREDENTIAL_REVOKED),
            details,
        )
    if result.status == TokenStatus.SUSPENDED:
        return CheckResult(
            Check.STATUS,
            CheckStatus.FAILED,
            "the issuer has suspended this credential",
            str(ErrorCode.CREDENTIAL_SUSPENDED),
            details,
        )
    if not result.valid:
        return CheckResult(
            Check.STATUS,
            CheckStatus.FAILED,
            f"the status list gives status {result.status}, not VALID",
            str(ErrorCode.STATUS_VERIFICATION_ERROR),
            details,
        )
    message = "not revoked, not suspended"
    if age >= timedelta(minutes=1):
        message += f" (status list fetched {age_text(age)} ago)"
    return CheckResult(Check.STATUS, CheckStatus.PASSED, message, None, details)


async def _challenge_result(
    parsed: SdJwt,
    binding: KeyBinding | None,
    audience: str | None,
    nonces: NonceStore | None,
    expected_nonce: str | None,
    at: datetime,
    *,
    consume: bool,
) -> tuple[CheckResult, NonceRecord | None]:
    if parsed.key_binding_jwt is None:
        return CheckResult.skipped(Check.CHALLENGE, "no Key Binding JWT to carry a nonce"), None
    if nonces is None and expected_nonce is None and audience is None:
        return CheckResult.skipped(Check.CHALLENGE, "no nonce or audience was expected"), None
    if binding is None:
        # The KB-JWT did not verify: read its claims only to report on the request, and
        # consume nothing.
        try:
            _, kb_claims, _, _ = decode_jws(parsed.key_binding_jwt, "keyBindingJwt")
            record = await nonces.peek(kb_claims.get("nonce"), now=at) if nonces else None
        except HealthMyDataError:
            record = None
        return (
            CheckResult.skipped(
                Check.CHALLENGE,
                "the nonce was not consumed: the holder's signature (KB-JWT) did not verify",
            ),
            record,
        )
    try:
        if audience is not None and binding.aud != audience:
            raise ProofError(
                "the Key Binding JWT aud is not this verifier: it was made for another one",
                code=ErrorCode.INVALID_DOMAIN_ERROR,
                details={"part": "keyBindingJwt", "claim": "aud"},
            )
        record = None
        if nonces is not None:
            record = await nonces.consume(binding.nonce, audience=audience, now=at)
        elif expected_nonce is not None and binding.nonce != expected_nonce:
            raise ProofError(
                "the Key Binding JWT nonce is not the one this verifier asked for (a replay?)",
                code=ErrorCode.INVALID_CHALLENGE_ERROR,
                details={"part": "keyBindingJwt", "claim": "nonce"},
            )
    except HealthMyDataError as error:
        return CheckResult.failed(Check.CHALLENGE, error), None
    message = "audience matches"
    if nonces is not None:
        message += "; the nonce was issued here and is now used"
    elif expected_nonce is not None:
        message += "; nonce matches"
    return CheckResult.passed(Check.CHALLENGE, message), record


def _fields_result(
    definition: Mapping[str, Any], claims: dict[str, Any], parsed: SdJwt, warnings: list[str]
) -> CheckResult:
    try:
        match = match_definition(definition, [claims])
    except HealthMyDataError as error:
        return CheckResult.failed(Check.FIELDS, error)
    if match.missing:
        missing = [{"inputDescriptor": d, "path": list(p)} for d, p in match.missing]
        return CheckResult(
            Check.FIELDS,
            CheckStatus.FAILED,
            "requested field(s) missing: "
            + ", ".join(f"{d}: {' | '.join(p)}" for d, p in match.missing),
            str(ErrorCode.FIELD_MISSING),
            {"missing": missing},
        )
    requested = match.matched[0] if match.matched else ()
    extra = sorted(
        {_pointer(path) for path in parsed.paths.values() if not _covered(tuple(path), requested)}
    )
    if extra:
        warnings.append(
            "disclosed beyond what was requested: "
            + ", ".join(extra[:20])
            + (" (limit_disclosure is required)" if match.limit_disclosure else "")
        )
    return CheckResult.passed(
        Check.FIELDS, f"all requested fields present ({len(requested)} disclosed value(s))"
    )
