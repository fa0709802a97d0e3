"""``mydata verify FILE``: verify a credential or presentation and print the report.

Exit codes: 0 verified, 1 rejected (a check failed), 2 unusable input (not readable, not JSON,
not a credential or presentation at all, or an unknown check name).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.cli import InsecureHosts, loopback_hint
from agent.cliutil import looks_like_inline_text, looks_like_jws, shown_argument
from agent.console import error_console, print_error, stdout_console
from agent.credentials.emergency_qr import (
    EMERGENCY_AUDIENCE,
    EMERGENCY_NONCE,
    MAX_CARD_LIFETIME,
    decode_emergency_qr,
)
from agent.credentials.model import type_values
from agent.dids import DIDResolver
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.jsonio import DEFAULT_MAX_BYTES, parse_json_object
from agent.status import StatusChecker
from agent.storage import open_store
from agent.storeconfig import resolve_store, store_key
from agent.trustsync import LOOPBACK_HOSTS, sources_from
from verifier.offline import load_offline_cache
from verifier.policy import (
    Decision,
    EmergencyPolicy,
    InsurerClaimPolicy,
    check_claim,
    evidence_key,
    with_claim_check,
)
from verifier.qrimage import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_BYTES,
    decode_qr_image,
    looks_like_image,
    read_qr_image,
)
from verifier.report import CheckStatus, VerificationReport
from verifier.sdjwt import (
    TokenStatusCache,
    http_token_fetcher,
    looks_like_sd_jwt,
    verify_sd_jwt_presentation,
)
from verifier.shc import verify_smart_health_card
from verifier.trust import TrustRegistry
from verifier.trustsync import write_caches
from verifier.verify import verify_credential, verify_presentation

__all__ = [
    "argument_label",
    "decode_card",
    "emergency_lines",
    "looks_like_inline_text",
    "looks_like_jws",
    "read_card_text",
    "read_text_argument",
    "register",
    "register_er",
    "register_insurer",
    "render_report",
    "scan_emergency_card",
    "verify_document",
    "verify_text",
]

EXIT_VERIFIED, EXIT_REJECTED, EXIT_UNUSABLE = 0, 1, 2
_STYLE = {CheckStatus.PASSED: "green", CheckStatus.FAILED: "bold red", CheckStatus.SKIPPED: "dim"}
#: Seconds for one DID document fetch (did:web), for both the HTTP client and the resolver.
RESOLVE_TIMEOUT = 5.0

_log = logging.getLogger(__name__)


def _unwrap(document: dict[str, Any]) -> dict[str, Any]:
    """A VC-API response (``{"verifiableCredential": ...}``) stands for the credential in it."""
    if "type" not in document and len(document) == 1:
        ((key, value),) = document.items()
        if key in {"verifiableCredential", "verifiablePresentation"} and isinstance(value, dict):
            return value
    return document


async def verify_document(
    document: dict[str, Any],
    *,
    checks: list[str] | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    check_status: bool = True,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> VerificationReport:
    """Verify a parsed credential or presentation, telling them apart by ``type``.

    DID documents (did:web) and status lists are fetched over HTTPS, or plain HTTP on
    ``insecure_http_hosts``; ``check_status=False`` skips status lists (reported as such).

    :raises InvalidInputError: when the document is neither.
    """
    document = _unwrap(document)
    kinds = type_values(document)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(RESOLVE_TIMEOUT), follow_redirects=False
    ) as http:
        resolver = DIDResolver(
            http_client=http, timeout=RESOLVE_TIMEOUT, insecure_http_hosts=insecure_http_hosts
        )
        status = (
            StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts)
            if check_status
            else None
        )
        if "VerifiablePresentation" in kinds:
            return await verify_presentation(
                document,
                resolver=resolver,
                challenge=challenge,
                domain=domain,
                checks=checks,
                status_checker=status,
            )
        if "VerifiableCredential" in kinds:
            return await verify_credential(
                document, resolver=resolver, checks=checks, status_checker=status
            )
    raise InvalidInputError(
        "the document is neither a VerifiableCredential nor a VerifiablePresentation "
        "(its 'type' names neither)",
        code=ErrorCode.PARSING_ERROR,
    )


def render_report(console: Console, report: VerificationReport, *, title: str = "") -> None:
    """Print a report as a table of named checks, then the verdict."""
    table = Table(title=escape(title or f"{report.kind} verification"), title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for result in report.results:
        detail = escape(f"[{result.code}] {result.message}" if result.code else result.message)
        table.add_row(str(result.check), f"[{_STYLE[result.status]}]{result.status}", detail)
    console.print(table)
    for index, nested in enumerate(report.credentials):
        render_report(console, nested, title=f"credential {index} in the presentation")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if report.verified:
        console.print("[bold green]VERIFIED[/]")
    else:
        failed = ", ".join(str(r.check) for r in report.failed) or "no check ran"
        console.print(f"[bold red]REJECTED[/] (failed: {failed})")


def _split_checks(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    register_er(app)
    register_insurer(app)

    @app.command("verify")
    def verify(
        file: Annotated[
            str,
            typer.Argument(
                help="A credential or presentation (JSON), an SD-JWT VC or a SMART Health Card:"
                " a file, - for stdin, or the text itself."
            ),
        ],
        checks: Annotated[
            list[str] | None,
            typer.Option(
                "--checks",
                help="Run only these checks (repeat or comma-separate), as VC-API options.checks."
                " Credentials: format, proof, issuer, validity, status. Presentations: format,"
                " challenge, proof, holder, credentials. Without issuer (holder) a valid"
                " signature is not shown to be the issuer's (holder's).",
            ),
        ] = None,
        challenge: Annotated[
            str | None, typer.Option(help="Expected presentation challenge.")
        ] = None,
        domain: Annotated[str | None, typer.Option(help="Expected presentation domain.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        offline: Annotated[
            bool, typer.Option(help="Do not fetch status lists (the status check is skipped).")
        ] = False,
        jwks: Annotated[
            str | None,
            typer.Option(help="The issuer's JWKS file, for a SMART Health Card (ES256)."),
        ] = None,
        insecure_http_host: Annotated[
            list[str] | None,
            typer.Option(
                help="A host whose did:web documents and status lists may be fetched over plain"
                " http (local testing; repeat). Default: loopback only."
            ),
        ] = None,
    ) -> None:
        """Verify a credential, presentation, SD-JWT VC or SMART Health Card; exit 0 verified,
        1 rejected, 2 unusable input."""
        console = stdout_console()
        err = error_console()
        insecure = frozenset(insecure_http_host or ()) or LOOPBACK_HOSTS
        try:
            text = read_text_argument(
                file,
                "the document",
                text="JSON, an SD-JWT or a SMART Health Card",
                stdin=True,
            )
        except HealthMyDataError as exc:
            if as_json:
                console.print_json(json.dumps({"verified": False, "error": exc.to_dict()}))
            else:
                print_error(err, exc)
            raise typer.Exit(EXIT_UNUSABLE) from None
        try:
            if text.startswith("{"):
                document = parse_json_object(text)
                report = asyncio.run(
                    verify_document(
                        document,
                        checks=_split_checks(checks),
                        challenge=challenge,
                        domain=domain,
                        check_status=not offline,
                        insecure_http_hosts=insecure,
                    )
                )
            else:
                report = asyncio.run(
                    verify_text(
                        text,
                        checks=_split_checks(checks),
                        challenge=challenge,
                        domain=domain,
                        check_status=not offline,
                        jwks=_load_json_file(jwks),
                        insecure_http_hosts=insecure,
                    )
                )
            body = json.dumps(report.to_dict()) if as_json else ""
        except HealthMyDataError as exc:
            if as_json:
                console.print_json(json.dumps({"verified": False, "error": exc.to_dict()}))
            else:
                print_error(err, exc)
            raise typer.Exit(EXIT_UNUSABLE) from None
        except Exception:
            # A bug, not a verdict: never a traceback (it could quote the document) and never
            # exit 0 or 1. The traceback is for whoever turns on debug logging.
            _log.debug("unexpected error while verifying", exc_info=True)
            internal = HealthMyDataError(
                "the document could not be verified because of an internal error; "
                "run with debug logging to see it, and report it",
                code=ErrorCode.INVALID_INPUT,
                details={"internal": True},
            )
            if as_json:
                console.print_json(json.dumps({"verified": False, "error": internal.to_dict()}))
            else:
                print_error(err, internal)
            raise typer.Exit(EXIT_UNUSABLE) from None
        if as_json:
            console.print_json(body)
        else:
            render_report(console, report, title=f"{report.kind} {argument_label(file)}")
        hint = None if report.verified else loopback_hint(_report_texts(report), insecure)
        if hint:
            err.print(f"[yellow]hint:[/] {escape(hint)}")
        raise typer.Exit(EXIT_VERIFIED if report.verified else EXIT_REJECTED)


# --- SD-JWT and SMART Health Cards in `mydata verify`; `mydata er`; `mydata insurer` ------------


async def verify_text(
    text: str,
    *,
    checks: list[str] | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    check_status: bool = True,
    jwks: dict[str, Any] | None = None,
    insecure_http_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> VerificationReport:
    """Verify a compact SD-JWT VC (with or without KB-JWT) or a SMART Health Card.

    :raises InvalidInputError: neither, or a SMART Health Card without ``jwks``.
    """
    stripped = text.strip()
    if stripped.startswith("shc:/") or (looks_like_jws(stripped) and jwks is not None):
        if jwks is None:
            raise InvalidInputError(
                "a SMART Health Card needs its issuer's JWKS: pass --jwks FILE",
                code=ErrorCode.PARSING_ERROR,
            )
        return await verify_smart_health_card(stripped, jwks=jwks)
    if not looks_like_sd_jwt(stripped):
        raise InvalidInputError(
            "the text is neither JSON, a compact SD-JWT ('<JWT>~...~') nor a SMART Health Card",
            code=ErrorCode.PARSING_ERROR,
        )
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(RESOLVE_TIMEOUT), follow_redirects=False
    ) as http:
        resolver = DIDResolver(
            http_client=http, timeout=RESOLVE_TIMEOUT, insecure_http_hosts=insecure_http_hosts
        )
        tokens = (
            TokenStatusCache(http_token_fetcher(http, insecure_http_hosts=insecure_http_hosts))
            if check_status
            else None
        )
        return await verify_sd_jwt_presentation(
            stripped,
            resolver=resolver,
            checks=checks,
            expected_nonce=challenge,
            audience=domain,
            status=tokens,
            require_key_binding=challenge is not None or domain is not None,
        )


#: Largest text file read as a command's text (a card holds at most a few thousand
#: characters; a credential or presentation's JSON is refused over the same size).
_MAX_TEXT_FILE = DEFAULT_MAX_BYTES
_CARD_TEXT = "a card's text (HM1:... or an SD-JWT)"


def _argument_file(source: str) -> Path | None:
    """The file a "file or text" argument names, or ``None`` when the argument is the text
    itself: it looks like one (:func:`looks_like_inline_text`), or it cannot be a file's name
    (too long for one, ENAMETOOLONG, or holding a NUL)."""
    if looks_like_inline_text(source):
        return None
    path = Path(source)
    try:
        path.stat()
    except ValueError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return None
    return path


def _unreadable(what: str, source: str, exc: OSError, text: str = "") -> InvalidInputError:
    """``cannot read`` ``what`` ``source``, and why; for a file that does not exist, that the
    argument is not ``text`` either (it was looked for as a file because it did not look
    like text)."""
    reason = exc.strerror or type(exc).__name__
    if text and isinstance(exc, FileNotFoundError):
        reason += f", and the argument is not {text} either"
    return InvalidInputError(
        f"cannot read {what} {shown_argument(source)}: {reason}",
        code=ErrorCode.PARSING_ERROR,
        details={"reason": "unreadable"},
    )


def _read_bounded(path: Path, what: str, limit: int, text: str = "") -> bytes:
    """At most ``limit`` + 1 bytes of ``path``.

    :raises InvalidInputError: ``PARSING_ERROR`` naming the file when it cannot be read.
    """
    try:
        with path.open("rb") as file:
            return file.read(limit + 1)
    except OSError as exc:
        raise _unreadable(what, str(path), exc, text) from None


def read_text_argument(source: str, what: str, *, text: str = "", stdin: bool = False) -> str:
    """The text a "file or text" command-line argument stands for: the argument itself when
    it is the text (:func:`_argument_file`), else the UTF-8 text of the file it names, or of
    standard input for ``-`` when ``stdin``.

    :param what: what the argument is meant to be, for errors ("the evidence").
    :param text: the text forms it may take, for the error when no such file exists ("an
        SD-JWT or a presentation's JSON").
    :raises InvalidInputError: ``PARSING_ERROR`` naming the file when it cannot be read or is
        not UTF-8 text; ``INPUT_TOO_LARGE`` over 1 MiB.
    """
    if stdin and source == "-":
        data = sys.stdin.buffer.read(_MAX_TEXT_FILE + 1)
    else:
        path = _argument_file(source)
        if path is None:
            return source.strip()
        data = _read_bounded(path, what, _MAX_TEXT_FILE, text)
    if len(data) > _MAX_TEXT_FILE:
        raise InvalidInputError(
            f"{what} {source} is over the limit of {_MAX_TEXT_FILE} bytes",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "textTooLarge", "limit": _MAX_TEXT_FILE},
        )
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"{what} {source} is not UTF-8 text" + (f" ({text})" if text else ""),
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "notText"},
        ) from None


def argument_label(source: str) -> str:
    """How a report's title names a "file or text" argument: the file's name, or
    ``(inline text)`` (never the text, which may be a whole credential)."""
    return "(inline text)" if _argument_file(source) is None else source


def read_card_text(source: str) -> str:
    """The emergency card's text from ``source``: an image of its QR code (PNG, JPEG, GIF,
    BMP, WebP; :mod:`verifier.qrimage`), a file holding the QR's text, or the text itself
    (as :func:`read_text_argument` tells them apart).

    A file is an image when its name ends in an image suffix or its bytes start like one.

    :raises InvalidInputError: an unreadable image or no single QR code in it
        (``details['reason']``, see :mod:`verifier.qrimage`); a file that is not UTF-8 text;
        ``PARSING_ERROR`` (reason ``unreadable``) naming a file that cannot be read.
    """
    if source == "-":  # standard input: what a QR reader or another program hands over
        data = sys.stdin.buffer.read(max(_MAX_TEXT_FILE, MAX_IMAGE_BYTES) + 1)
        return _card_bytes(data)
    path = _argument_file(source)
    if path is None:
        return source.strip()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            return read_qr_image(path)
        except OSError as exc:
            raise _unreadable("the card", source, exc) from None
    data = _read_bounded(path, "the card", max(_MAX_TEXT_FILE, MAX_IMAGE_BYTES), _CARD_TEXT)
    return _card_bytes(data)


def _card_bytes(data: bytes) -> str:
    """The card's text from a file's or standard input's bytes: an image's QR code, or text."""
    if looks_like_image(data):
        return decode_qr_image(data)
    if len(data) > _MAX_TEXT_FILE:
        raise InvalidInputError(
            "the file is too large for an emergency card's text; pass the card's QR text",
            code=ErrorCode.INPUT_TOO_LARGE,
            details={"reason": "textTooLarge", "limit": _MAX_TEXT_FILE},
        )
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidInputError(
            "the file is neither an image (PNG, JPEG, GIF, BMP, WebP) nor UTF-8 text; pass an "
            "image of the card's QR code, or the text a QR reader shows",
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "notTextOrImage"},
        ) from None


def decode_card(text: str) -> str:
    """The SD-JWT of an emergency card: ``HM1:`` packed digits, or a plain compact SD-JWT.

    :raises InvalidInputError: anything else.
    """
    if text.startswith("HM"):
        return decode_emergency_qr(text)
    if looks_like_sd_jwt(text):
        return text
    raise InvalidInputError(
        "not an emergency card: expected 'HM1:' followed by digits, or an SD-JWT",
        code=ErrorCode.PARSING_ERROR,
    )


async def scan_emergency_card(
    text: str,
    *,
    offline_cache: dict[str, Any] | None,
    operator_dids: frozenset[str] = frozenset(),
    now: datetime | None = None,
    insecure_http_hosts: frozenset[str] = frozenset(),
) -> tuple[VerificationReport, Decision]:
    """Decode, verify and decide an emergency card; offline from ``offline_cache`` when given
    (no network at all), else online (https, or plain http on ``insecure_http_hosts``).
    """
    presentation = decode_card(text)
    kwargs: dict[str, Any] = {
        "require_key_binding": False,
        "audience": EMERGENCY_AUDIENCE,
        "expected_nonce": EMERGENCY_NONCE,
        "max_kb_age": MAX_CARD_LIFETIME,
        "now": now,
    }
    if offline_cache is not None:
        offline = await load_offline_cache(offline_cache, operator_dids=operator_dids or None)
        report = await verify_sd_jwt_presentation(
            presentation,
            resolver=offline.resolver,
            status=offline.token_status,
            trust=offline.trust,
            **kwargs,
        )
    else:
        async with httpx.AsyncClient(timeout=httpx.Timeout(RESOLVE_TIMEOUT)) as http:
            resolver = DIDResolver(
                http_client=http, timeout=RESOLVE_TIMEOUT, insecure_http_hosts=insecure_http_hosts
            )
            trust = (
                TrustRegistry(
                    operator_dids,
                    resolver,
                    StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts),
                )
                if operator_dids
                else None
            )
            report = await verify_sd_jwt_presentation(
                presentation,
                resolver=resolver,
                status=TokenStatusCache(
                    http_token_fetcher(http, insecure_http_hosts=insecure_http_hosts)
                ),
                trust=trust,
                **kwargs,
            )
    return report, await EmergencyPolicy().decide(report)


_SECTION_LABELS = {
    "bloodType": "Blood type",
    "allergies": "Allergies",
    "problems": "Active problems",
    "medications": "Current medication",
    "advanceDirective": "Advance directive",
    "emergencyContact": "Emergency contact",
}


def emergency_lines(show: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The emergency facts as labelled lines, in the order a doctor reads them."""

    def item(value: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        text = value.get("text") or value.get("name") or value.get("code") or ""
        extra = [
            str(value[k])
            for k in ("criticality", "dose", "provision", "phone", "date")
            if value.get(k)
        ]
        code = f" [{value['code']}]" if value.get("code") and value.get("text") else ""
        return f"{text}{' - ' + ', '.join(extra) if extra else ''}{code}"

    lines: list[tuple[str, list[str]]] = []
    for key, label in _SECTION_LABELS.items():
        if key not in show:
            continue
        value = show[key]
        items = value if isinstance(value, list) else [value]
        lines.append((label, [item(v) for v in items] or ["none recorded"]))
    return lines


def _render_decision(
    console: Console, decision: Decision, shown_warnings: Iterable[str] = ()
) -> None:
    """The decision; ``shown_warnings`` (the report's, printed with it) are not repeated."""
    shown = set(shown_warnings)
    for label, items in emergency_lines(decision.show) if decision.role == "emergency" else []:
        console.print(f"[bold]{escape(label)}[/]")
        for line in items:
            console.print(f"  {escape(line)}")
    if decision.role != "emergency":
        for key, value in decision.show.items():
            console.print(f"[bold]{escape(key)}[/]: {escape(json.dumps(value))}")
    for warning in decision.warnings:
        if warning not in shown:
            console.print(f"[yellow]warning:[/] {escape(warning)}")
    if decision.accepted:
        console.print(f"[bold green]ACCEPTED[/] ({escape('; '.join(decision.reasons))})")
    else:
        console.print("[bold red]REJECTED[/]")
        for reason in decision.reasons:
            console.print(f"  - {escape(reason)}")


def _load_json_file(path: str | None) -> dict[str, Any] | None:
    return parse_json_object(Path(path).read_bytes()) if path else None


def _read_file(path: str, what: str) -> bytes:
    """The bytes of ``path``; an error naming it (``what`` it was meant to be) if unreadable.

    :raises InvalidInputError: ``PARSING_ERROR``, naming the file and why.
    """
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}",
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "unreadable"},
        ) from None


def _load_offline_cache_file(path: str | None) -> dict[str, Any] | None:
    """The offline cache in ``path`` (``--cache``), refused with what to do instead when it is
    not one: a trust cache (``er sync --trust-out``, for ``serve verifier --trust-cache``)
    has the right version but no issuer keys or status, so every check would fail offline.

    :raises InvalidInputError: ``PARSING_ERROR``, naming the file.
    """
    if path is None:
        return None
    try:
        data = parse_json_object(_read_file(path, "the offline cache"))
    except InvalidInputError as exc:
        if exc.details.get("reason") == "unreadable":
            raise
        raise InvalidInputError(
            f"the offline cache {path} is not usable: {exc.message}; make one with "
            "mydata er sync -o FILE",
            code=exc.code,
        ) from None
    is_trust_cache = "trustLists" in data and not {"trust", "didDocuments", "statusTokens"} & set(
        data
    )
    if is_trust_cache:
        raise InvalidInputError(
            f"{path} is a trust cache (for mydata serve verifier --trust-cache), not an offline "
            "cache: it holds no issuer keys or status lists; make an offline cache with "
            "mydata er sync --operator DID --operator-url URL -o FILE",
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "trustCacheNotOfflineCache"},
        )
    if data.get("version") != 1 or not {"didDocuments", "statusTokens", "trust"} & set(data):
        raise InvalidInputError(
            f"{path} is not an offline cache; make one with mydata er sync "
            "--operator DID --operator-url URL -o FILE",
            code=ErrorCode.PARSING_ERROR,
            details={"reason": "notOfflineCache"},
        )
    return data


def _report_texts(report: VerificationReport) -> list[str]:
    return [r.message for r in report.failed] + [
        text for nested in report.credentials for text in _report_texts(nested)
    ]


def register_er(app: typer.Typer) -> None:
    er = typer.Typer(help="Emergency department: read emergency cards.", no_args_is_help=True)

    @er.command("scan")
    def scan(
        source: Annotated[
            str,
            typer.Argument(
                help="The card's QR text, a file holding it, an image of the QR code "
                "(PNG, JPEG, GIF, BMP, WebP), or - for standard input."
            ),
        ],
        cache: Annotated[
            str | None,
            typer.Option("--cache", help="Offline cache file (issuer keys, status, trust)."),
        ] = None,
        operator: Annotated[
            list[str] | None, typer.Option("--operator", help="A trusted operator DID.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        insecure_http_host: InsecureHosts = None,
    ) -> None:
        """Decode and verify an emergency card; exit 0 accepted, 1 rejected, 2 unusable."""
        console, err = stdout_console(), error_console()
        insecure = frozenset(insecure_http_host or ())
        try:
            offline_cache = _load_offline_cache_file(cache)
            text = read_card_text(source)
            report, decision = asyncio.run(
                scan_emergency_card(
                    text,
                    offline_cache=offline_cache,
                    operator_dids=frozenset(operator or ()),
                    insecure_http_hosts=insecure,
                )
            )
        except HealthMyDataError as exc:
            print_error(err, exc)
            raise typer.Exit(EXIT_UNUSABLE) from None
        if as_json:
            console.print_json(
                json.dumps({"report": report.to_dict(), "decision": decision.to_dict()})
            )
        else:
            render_report(console, report, title="emergency card")
            _render_decision(console, decision, report.warnings)
        hint = None if decision.accepted else loopback_hint(_report_texts(report), insecure)
        if hint:
            err.print(f"[yellow]hint:[/] {escape(hint)}")
        raise typer.Exit(EXIT_VERIFIED if decision.accepted else EXIT_REJECTED)

    @er.command("sync")
    def sync(
        operator: Annotated[
            list[str], typer.Option("--operator", help="A trusted operator DID (repeat).")
        ],
        operator_url: Annotated[
            list[str],
            typer.Option(
                "--operator-url", help="The service URL of the --operator of the same position."
            ),
        ],
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                help="Write the offline cache here (er scan / insurer verify --cache).",
            ),
        ] = None,
        trust_out: Annotated[
            Path | None,
            typer.Option(help="Write the trust cache here (serve verifier --trust-cache)."),
        ] = None,
        issuer: Annotated[
            list[str] | None,
            typer.Option(
                help="An issuer's service URL: its DID document and accreditation go in (repeat)."
            ),
        ] = None,
        status_list: Annotated[
            list[str] | None,
            typer.Option(help="A Status List Token URL (.../status-lists/ID/token; repeat)."),
        ] = None,
        insecure_http_host: Annotated[
            list[str] | None,
            typer.Option(help="A host that may be fetched over plain http (default loopback)."),
        ] = None,
    ) -> None:
        """While online: fetch the operator's signed trust list (verified against --operator)
        and the accreditations it names, issuers' DID documents and accreditations, and the
        status lists, into an offline cache and/or a trust cache."""
        if out is None and trust_out is None:
            error_console().print("[red]error:[/] give --out, --trust-out or both")
            raise typer.Exit(2)
        insecure = frozenset(insecure_http_host or ()) or LOOPBACK_HOSTS

        try:
            done = asyncio.run(
                write_caches(
                    sources_from(operator, operator_url),
                    out=out,
                    trust_out=trust_out,
                    issuers=issuer or [],
                    status_lists=status_list or [],
                    insecure_http_hosts=insecure,
                )
            )
        except HealthMyDataError as exc:
            print_error(error_console(), exc)
            raise typer.Exit(1) from None
        table = Table("file", "holds")
        for path, what in done:
            table.add_row(escape(path), escape(what))
        stdout_console().print(table)

    app.add_typer(er, name="er")


def register_insurer(app: typer.Typer) -> None:
    insurer = typer.Typer(help="Insurer: verify claim evidence.", no_args_is_help=True)

    @insurer.command("verify")
    def verify_claim(
        file: Annotated[
            str,
            typer.Argument(
                help="The presentation: SD-JWT text or VP JSON, a file holding either, or - "
                "for standard input."
            ),
        ],
        claim_type: Annotated[str, typer.Option("--claim-type", help="e.g. institutional.")],
        claim_id: Annotated[str, typer.Option("--claim-id", help="The insurer's claim id.")],
        store: Annotated[
            str | None, typer.Option(help="The insurer's store (duplicate detection).")
        ] = None,
        operator: Annotated[
            list[str] | None, typer.Option("--operator", help="A trusted operator DID.")
        ] = None,
        cache: Annotated[
            str | None, typer.Option("--cache", help="Offline cache (keys, status, trust).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        insecure_http_host: InsecureHosts = None,
    ) -> None:
        """Verify claim evidence; exit 0 accepted, 1 rejected or duplicate, 2 unusable."""
        console, err = stdout_console(), error_console()
        insecure = frozenset(insecure_http_host or ())
        try:
            # Unusable input before anything is read or stored: a claim type the insurer
            # does not define is never verified against another type's fields.
            check_claim(
                claim_id,
                claim_type,
                code=ErrorCode.INVALID_INPUT,
                names=("--claim-id", "--claim-type"),
            )
            text = read_text_argument(
                file, "the evidence", text="an SD-JWT or a presentation's JSON", stdin=True
            )
            offline_cache = _load_offline_cache_file(cache)
            uri = resolve_store(store, "insurer")
            report, decision = asyncio.run(
                _insurer_verify(
                    text,
                    claim_type=claim_type,
                    claim_id=claim_id,
                    store_uri=uri,
                    operator_dids=frozenset(operator or ()),
                    offline_cache=offline_cache,
                    insecure_http_hosts=insecure,
                )
            )
        except (HealthMyDataError, OSError) as exc:
            error = (
                exc
                if isinstance(exc, HealthMyDataError)
                else InvalidInputError(
                    f"cannot open the insurer's store: {exc.strerror or type(exc).__name__}",
                    code=ErrorCode.PARSING_ERROR,
                )
            )
            print_error(err, error)
            raise typer.Exit(EXIT_UNUSABLE) from None
        if as_json:
            console.print_json(
                json.dumps({"report": report.to_dict(), "decision": decision.to_dict()})
            )
        else:
            render_report(console, report, title=f"claim evidence {argument_label(file)}")
            _render_decision(console, decision, report.warnings)
        hint = None if decision.accepted else loopback_hint(_report_texts(report), insecure)
        if hint:
            err.print(f"[yellow]hint:[/] {escape(hint)}")
        raise typer.Exit(EXIT_VERIFIED if decision.accepted else EXIT_REJECTED)

    app.add_typer(insurer, name="insurer")


async def _insurer_verify(
    text: str,
    *,
    claim_type: str,
    claim_id: str,
    store_uri: str,
    operator_dids: frozenset[str],
    offline_cache: dict[str, Any] | None,
    insecure_http_hosts: frozenset[str] = frozenset(),
) -> tuple[VerificationReport, Decision]:
    presentation: str | dict[str, Any] = (
        text.strip() if looks_like_sd_jwt(text) else parse_json_object(text)
    )
    store = await open_store(store_uri, raw_key=store_key(store_uri, create=True))
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(RESOLVE_TIMEOUT)) as http:
            if offline_cache is not None:
                offline = await load_offline_cache(
                    offline_cache, operator_dids=operator_dids or None
                )
                resolver, tokens, checker, trust = (
                    offline.resolver,
                    offline.token_status,
                    offline.status_checker,
                    offline.trust,
                )
            else:
                resolver = DIDResolver(
                    http_client=http,
                    timeout=RESOLVE_TIMEOUT,
                    insecure_http_hosts=insecure_http_hosts,
                )
                tokens = TokenStatusCache(
                    http_token_fetcher(http, insecure_http_hosts=insecure_http_hosts)
                )
                checker = StatusChecker(http, resolver, insecure_http_hosts=insecure_http_hosts)
                trust = TrustRegistry(operator_dids, resolver, checker) if operator_dids else None
            if isinstance(presentation, str):
                report = await verify_sd_jwt_presentation(
                    presentation,
                    resolver=resolver,
                    status=tokens,
                    trust=trust,
                    require_key_binding=False,
                )
            else:
                report = await verify_presentation(
                    presentation, resolver=resolver, status_checker=checker, trust=trust
                )
                if report.verified:
                    creds = presentation.get("verifiableCredential")
                    first = creds[0] if isinstance(creds, list) and creds else creds
                    subject = first.get("credentialSubject") if isinstance(first, dict) else None
                    report = replace(report, claims=subject if isinstance(subject, dict) else None)
        policy = InsurerClaimPolicy(store)
        report = with_claim_check(policy, report, claim_type)
        decision = await policy.decide(
            report,
            claim_type=claim_type,
            claim_id=claim_id,
            evidence_key=evidence_key(presentation),
        )
    finally:
        await store.close()
    return report, decision
