"""``mydata selftest URL``: the onboarding kit's check of a running hospital deployment.

It talks to the hospital's service over HTTP only, as a verifier would, and reports one named
check per row (DESIGN.md story 1):

==================  ==========================================================================
``service``         ``GET /healthz`` answers
``did-document``    the hospital's DID resolves (did:web: from its own ``/.well-known/did.json``)
``issue-verify``    with the admin token: ``POST /credentials/issue`` signs a test credential
                    whose proof verifies against the resolved DID document (the keys the
                    service signs with are the ones it publishes), issuer = the DID
``status-list``     the test credential's status lists are served (``Cache-Control``), signed
                    by the hospital, at least 131,072 entries; revoking the test credential
                    shows in the list (a real round trip; the credential is revoked afterwards
                    in any case)
``accreditation``   ``GET /accreditation`` holds an accreditation credential for this DID as
                    ``AccreditedHealthcareProvider``, signature valid, in its validity period
``operator``        its issuer is an operator given with ``--operator``
``accreditation-    its revocation and suspension entries (the operator's status list) are
status``            not set
==================  ==========================================================================

A check that cannot run says why and is ``skip`` (no token: no issuance; no ``--operator``:
no operator pin); one that depends on a failed check is ``skip`` too, and when the service
does not answer every other check is listed as ``skip``. The command exits 0 only when no check
failed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import httpx
import typer
from rich.table import Table

from agent.clock import utcnow
from agent.console import escape, stdout_console
from agent.credentials import (
    CREDENTIALS_V2_CONTEXT,
    MIN_ENTRIES,
    check_validity_period,
    decode_list,
    type_values,
    validate_credential,
    verify_proofs,
)
from agent.dids import DIDResolver
from agent.errors import HealthMyDataError
from agent.jsonio import parse_json_object
from agent.status import StatusChecker

__all__ = ["CheckOutcome", "SelftestCheck", "SelftestReport", "register", "run_selftest"]

_ROLE: Final = "AccreditedHealthcareProvider"
#: Every check, in the order the report lists them.
_CHECKS: Final = (
    "service",
    "did-document",
    "issue-verify",
    "status-list",
    "accreditation",
    "operator",
    "accreditation-status",
)


class CheckOutcome(StrEnum):
    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class SelftestCheck:
    name: str
    outcome: CheckOutcome
    message: str


@dataclass
class SelftestReport:
    """Every check run against one deployment."""

    url: str
    did: str | None = None
    checks: list[SelftestCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No check failed (skipped checks are listed, and say why)."""
        return all(c.outcome is not CheckOutcome.FAIL for c in self.checks)

    def add(self, name: str, outcome: CheckOutcome, message: str) -> bool:
        self.checks.append(SelftestCheck(name, outcome, message))
        return outcome is CheckOutcome.PASS

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "did": self.did,
            "passed": self.passed,
            "checks": [
                {"name": c.name, "status": str(c.outcome), "message": c.message}
                for c in self.checks
            ],
        }


def _why(exc: Exception) -> str:
    if isinstance(exc, HealthMyDataError):
        return f"[{exc.code}] {exc.message}"
    return f"{type(exc).__name__}: {exc}"


async def _get_json(http: httpx.AsyncClient, url: str) -> tuple[str, dict[str, Any] | None]:
    """The JSON object at ``url``, or ``None`` and what came instead ("HTTP 404", "HTTP 200
    but not a JSON object", no answer): a service that is not a hospital's is reported, never
    raised."""
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})", None
    if response.status_code != 200:
        return f"HTTP {response.status_code}", None
    try:
        return "HTTP 200", parse_json_object(response.content)
    except HealthMyDataError:
        return "HTTP 200 but not a JSON object", None


def _subject_id(document: dict[str, Any]) -> str | None:
    subject = document.get("credentialSubject")
    value = subject.get("id") if isinstance(subject, dict) else None
    return value if isinstance(value, str) else None


async def run_selftest(
    url: str,
    *,
    http: httpx.AsyncClient,
    operators: Collection[str] = (),
    token: str | None = None,
    insecure_http_hosts: frozenset[str] = frozenset(),
) -> SelftestReport:
    """Run every check against the hospital service at ``url``; never raises for what the
    deployment gets wrong (the report says it)."""
    base = url.rstrip("/")
    report = SelftestReport(base)
    resolver = DIDResolver(http_client=http, insecure_http_hosts=insecure_http_hosts, cache_ttl=0)
    checker = StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts, ttl=0)
    try:
        response = await http.get(f"{base}/healthz")
        if not report.add(
            "service",
            CheckOutcome.PASS if response.status_code == 200 else CheckOutcome.FAIL,
            f"GET /healthz: HTTP {response.status_code}",
        ):
            return _skip_the_rest(report, f"GET /healthz gave HTTP {response.status_code}")
    except httpx.HTTPError as exc:
        report.add("service", CheckOutcome.FAIL, f"{base} cannot be reached: {_why(exc)}")
        return _skip_the_rest(report, "the service cannot be reached")

    # Where the DID comes from: the served did:web document, else the accreditation's subject.
    served_status, served = await _get_json(http, f"{base}/.well-known/did.json")
    accreditation_status, accreditation = await _get_json(http, f"{base}/accreditation")
    did = served.get("id") if served else None
    if not isinstance(did, str) and accreditation is not None:
        did = _subject_id(accreditation)
    issued: dict[str, Any] | None = None
    if not isinstance(did, str) and token:
        issued = await _issue(http, base, token, report)
        did = _issuer(issued) if issued else None
    report.did = did if isinstance(did, str) else None

    await _check_did(report, resolver, served_status, accreditation_status, accreditation, token)
    if token and issued is None and report.did:
        issued = await _issue(http, base, token, report)
    await _check_issued(report, resolver, issued, token)
    await _check_status_lists(report, http, checker, base, issued, token)
    await _check_accreditation(report, resolver, accreditation_status, accreditation)
    operator = _issuer(accreditation) if accreditation else None
    _check_operator(report, operator, operators)
    await _check_accreditation_status(report, checker, accreditation)
    # A check that ran early (issuing, to learn the DID) is still listed in its place.
    report.checks.sort(key=lambda check: _CHECKS.index(check.name))
    return report


def _skip_the_rest(report: SelftestReport, why: str) -> SelftestReport:
    """List every check not run yet as skipped, saying why (the service did not answer)."""
    done = {check.name for check in report.checks}
    for name in _CHECKS:
        if name not in done:
            report.add(name, CheckOutcome.SKIP, f"not run: {why}")
    return report


def _issuer(document: dict[str, Any] | None) -> str | None:
    value = document.get("issuer") if document else None
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


async def _check_did(
    report: SelftestReport,
    resolver: DIDResolver,
    served_status: str,
    accreditation_status: str,
    accreditation: dict[str, Any] | None,
    token: str | None,
) -> None:
    if report.did is None:
        held = (
            f"GET /accreditation gave {accreditation_status}"
            if accreditation is None
            else "the accreditation names no subject"
        )
        if not token:
            issuing = (
                "no admin token was given (--token or MYDATA_ADMIN_TOKEN) to learn it from a "
                "test credential"
            )
        else:
            issuing = (
                "the admin token given (--token or MYDATA_ADMIN_TOKEN) issued no test "
                "credential to learn it from (issue-verify)"
            )
        report.add(
            "did-document",
            CheckOutcome.FAIL,
            f"no DID found: /.well-known/did.json gave {served_status}, {held}, and "
            f"{issuing}; is {report.url} a hospital's service?",
        )
        return
    try:
        document = await resolver.resolve(report.did)
    except HealthMyDataError as exc:
        report.add("did-document", CheckOutcome.FAIL, f"{report.did}: {_why(exc)}")
        return
    methods = len(document.verification_method or [])
    where = "its /.well-known/did.json" if report.did.startswith("did:web:") else "the DID itself"
    report.add(
        "did-document",
        CheckOutcome.PASS,
        f"{report.did} resolves from {where} ({methods} verification method(s))",
    )


async def _issue(
    http: httpx.AsyncClient, base: str, token: str, report: SelftestReport
) -> dict[str, Any] | None:
    credential = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "type": ["VerifiableCredential"],
        "name": "mydata selftest",
        "credentialSubject": {"id": f"urn:uuid:{uuid.uuid4()}"},
    }
    response = await http.post(
        f"{base}/credentials/issue",
        json={"credential": credential},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 201:
        report.add(
            "issue-verify",
            CheckOutcome.FAIL,
            f"POST /credentials/issue gave HTTP {response.status_code}: "
            + " ".join(response.text.split())[:200],
        )
        return None
    signed = parse_json_object(response.content).get("verifiableCredential")
    return signed if isinstance(signed, dict) else None


async def _check_issued(
    report: SelftestReport,
    resolver: DIDResolver,
    issued: dict[str, Any] | None,
    token: str | None,
) -> None:
    if not token:
        report.add(
            "issue-verify",
            CheckOutcome.SKIP,
            "needs the hospital's admin token (--token) to issue a test credential",
        )
        return
    if any(c.name == "issue-verify" for c in report.checks):
        return  # issuing failed, and said so
    if issued is None:
        report.add("issue-verify", CheckOutcome.FAIL, "the issue answer holds no credential")
        return
    try:
        validate_credential(issued)
        if _issuer(issued) != report.did:
            raise ValueError(f"issued as {_issuer(issued)}, not as {report.did}")
        results = await verify_proofs(issued, resolver, now=utcnow(), binding="issuer")
    except (HealthMyDataError, ValueError) as exc:
        report.add("issue-verify", CheckOutcome.FAIL, _why(exc))
        return
    keys = ", ".join(r.verification_method.rsplit("#", 1)[-1][:16] + "…" for r in results)
    report.add(
        "issue-verify",
        CheckOutcome.PASS,
        f"issued {issued.get('id')} and verified it against the DID document (key {keys})",
    )


async def _check_status_lists(
    report: SelftestReport,
    http: httpx.AsyncClient,
    checker: StatusChecker,
    base: str,
    issued: dict[str, Any] | None,
    token: str | None,
) -> None:
    if issued is None or not token:
        report.add(
            "status-list",
            CheckOutcome.SKIP,
            "needs a test credential (issue-verify) to find the status lists",
        )
        return
    entries = issued.get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries] if entries else []
    if not entries:
        report.add("status-list", CheckOutcome.FAIL, "the test credential has no credentialStatus")
        return
    try:
        sizes = []
        for entry in entries:
            list_url = str(entry["statusListCredential"])
            response = await http.get(list_url)
            if response.status_code != 200:
                raise ValueError(f"{list_url}: HTTP {response.status_code}")
            if "cache-control" not in response.headers:
                raise ValueError(f"{list_url} is served without Cache-Control")
            document = parse_json_object(response.content)
            subject = document.get("credentialSubject", {})
            bits = decode_list(subject.get("encodedList"))
            if len(bits) < MIN_ENTRIES:  # pragma: no cover - decode_list refuses it already
                raise ValueError(f"{list_url} has {len(bits)} entries, fewer than {MIN_ENTRIES}")
            sizes.append(len(bits))
        before = await checker.check(issued, now=utcnow())
        if any(r.set for r in before):
            raise ValueError("the fresh test credential is already revoked or suspended")
        await _revoke(http, base, token, str(issued["id"]))
        for entry in entries:
            checker.forget(str(entry["statusListCredential"]))
        after = await checker.check(issued, now=utcnow())
        if not any(r.set and r.purpose == "revocation" for r in after):
            raise ValueError("revoking the test credential did not show in its status list")
    except (HealthMyDataError, ValueError, KeyError, httpx.HTTPError) as exc:
        report.add("status-list", CheckOutcome.FAIL, _why(exc))
        await _revoke(http, base, token, str(issued.get("id")), quiet=True)
        return
    report.add(
        "status-list",
        CheckOutcome.PASS,
        f"{len(entries)} list(s) served with Cache-Control, signed by the hospital, "
        f"{min(sizes):,} entries; the test credential's revocation showed up",
    )


async def _revoke(
    http: httpx.AsyncClient, base: str, token: str, credential_id: str, *, quiet: bool = False
) -> None:
    """Revoke the test credential so that it never counts as valid."""
    try:
        response = await http.post(
            f"{base}/credentials/status",
            json={"credentialId": credential_id, "credentialStatus": [{"status": "revoked"}]},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError:
        if quiet:
            return
        raise
    if response.status_code != 200 and not quiet:
        raise ValueError(f"revoking the test credential gave HTTP {response.status_code}")


async def _check_accreditation(
    report: SelftestReport,
    resolver: DIDResolver,
    status: str,
    accreditation: dict[str, Any] | None,
) -> None:
    if accreditation is None:
        report.add(
            "accreditation",
            CheckOutcome.FAIL,
            f"GET /accreditation gave {status}: the hospital holds no accreditation "
            "(mydata hospital init --operator URL, then mydata hospital accreditation fetch)",
        )
        return
    try:
        validate_credential(accreditation)
        if _ROLE not in type_values(accreditation):
            raise ValueError(f"it is not an {_ROLE} accreditation")
        if _subject_id(accreditation) != report.did:
            raise ValueError(f"it accredits {_subject_id(accreditation)}, not {report.did}")
        now = utcnow()
        check_validity_period(accreditation, now=now)
        await verify_proofs(accreditation, resolver, now=now, binding="issuer")
    except (HealthMyDataError, ValueError) as exc:
        report.add("accreditation", CheckOutcome.FAIL, _why(exc))
        return
    report.add(
        "accreditation",
        CheckOutcome.PASS,
        f"{accreditation.get('id')} as {_ROLE}, signed by {_issuer(accreditation)}, valid "
        f"until {accreditation.get('validUntil', 'no end')}",
    )


def _check_operator(
    report: SelftestReport, operator: str | None, operators: Collection[str]
) -> None:
    if operator is None:
        report.add("operator", CheckOutcome.SKIP, "no accreditation to take the operator from")
    elif not operators:
        report.add(
            "operator",
            CheckOutcome.SKIP,
            f"issued by {operator}; pass --operator DID to check it is an operator you trust",
        )
    elif operator in operators:
        report.add("operator", CheckOutcome.PASS, f"{operator} is a trusted operator")
    else:
        report.add(
            "operator",
            CheckOutcome.FAIL,
            f"issued by {operator}, which is not among the trusted operators given",
        )


async def _check_accreditation_status(
    report: SelftestReport, checker: StatusChecker, accreditation: dict[str, Any] | None
) -> None:
    if not any(c.name == "accreditation" and c.outcome is CheckOutcome.PASS for c in report.checks):
        report.add("accreditation-status", CheckOutcome.SKIP, "no valid accreditation to check")
        return
    assert accreditation is not None
    try:
        results = await checker.check(accreditation, now=utcnow())
    except HealthMyDataError as exc:
        report.add("accreditation-status", CheckOutcome.FAIL, _why(exc))
        return
    for result in results:
        if result.set:
            verb = {"revocation": "revoked", "suspension": "suspended"}.get(
                result.purpose, f"set the {result.purpose} status of"
            )
            report.add(
                "accreditation-status",
                CheckOutcome.FAIL,
                f"the operator has {verb} this accreditation ({result.list_url})",
            )
            return
    if not results:
        report.add(
            "accreditation-status",
            CheckOutcome.FAIL,
            "the accreditation has no credentialStatus: it could not be revoked",
        )
        return
    report.add(
        "accreditation-status",
        CheckOutcome.PASS,
        "neither revoked nor suspended (" + ", ".join(r.purpose for r in results) + " checked)",
    )


def _render(report: SelftestReport) -> Table:
    table = Table(title=f"selftest of {report.url}" + (f" ({report.did})" if report.did else ""))
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    colours = {CheckOutcome.PASS: "green", CheckOutcome.FAIL: "bold red", CheckOutcome.SKIP: "dim"}
    for check in report.checks:
        colour = colours[check.outcome]
        # The detail is text (error codes in brackets, another service's answer), not markup.
        table.add_row(check.name, f"[{colour}]{check.outcome}[/]", escape(check.message))
    return table


def register(app: typer.Typer) -> None:
    @app.command("selftest")
    def selftest(
        url: Annotated[str, typer.Argument(help="The hospital service's URL.")],
        operator: Annotated[
            list[str] | None,
            typer.Option("--operator", help="A trusted operator DID (repeat)."),
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                envvar="MYDATA_ADMIN_TOKEN",
                help="The hospital's admin token: also test issuing, verifying and revoking.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        insecure_http_host: Annotated[
            list[str] | None,
            typer.Option(
                help="A host reached over plain http (testing only); the URL's own host is "
                "allowed when the URL is http."
            ),
        ] = None,
        timeout: Annotated[float, typer.Option(help="Seconds per HTTP request.")] = 10.0,
    ) -> None:
        """Check a running hospital deployment: DID document, issue-then-verify, status lists,
        accreditation. Exits 0 only when no check failed (2: unusable input)."""
        # Unusable input is a command-line error (exit 2), not a failed check (exit 1).
        if not timeout > 0:  # also NaN
            raise typer.BadParameter("must be a number of seconds above 0", param_hint="--timeout")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise typer.BadParameter(
                f"{url!r} is not an http(s) URL, e.g. https://hospital.example",
                param_hint="URL",
            )
        hosts = set(insecure_http_host or ())
        if parts.scheme == "http" and parts.hostname:
            hosts.add(parts.hostname)

        async def work() -> SelftestReport:
            async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as http:
                return await run_selftest(
                    url,
                    http=http,
                    operators=frozenset(operator or ()),
                    token=token,
                    insecure_http_hosts=frozenset(hosts),
                )

        report = asyncio.run(work())
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            out = stdout_console()
            out.print(_render(report))
            summary = "[green]all checks passed[/]" if report.passed else "[bold red]FAILED[/]"
            failed = sum(c.outcome is CheckOutcome.FAIL for c in report.checks)
            skipped = sum(c.outcome is CheckOutcome.SKIP for c in report.checks)
            out.print(f"{summary} ({failed} failed, {skipped} skipped)")
        if not report.passed:
            raise typer.Exit(1)
