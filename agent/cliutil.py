"""Plumbing shared by the parties' ``mydata`` commands: running async work, creating stores.

Each party's command module (``mydata hospital``, ``mydata operator``, ``mydata wallet``)
does its work in a coroutine and reports a :class:`~agent.errors.HealthMyDataError` as
``error: [code] message`` with exit status 1 (:func:`run_command`). ``init`` commands create
the party's store with a generated key (:func:`with_new_store`) and tell the user where it is
and where its key file went (:func:`print_store`). ``audit verify`` commands report a
hash-chained audit log's verification alike (:func:`report_audit_verification`). Files that
hold health data or secrets are written readable by their owner only (:func:`write_private`).
Commands that take "a file or the text itself" tell the two apart alike
(:func:`looks_like_inline_text`).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import typer
from rich.console import Console

from agent.console import error_console, print_error
from agent.errors import ErrorCode, HealthMyDataError, InvalidInputError
from agent.storage import Store, open_store
from agent.storeconfig import key_file_for, store_key

__all__ = [
    "AuditVerificationResult",
    "check_output_file",
    "looks_like_inline_text",
    "looks_like_jws",
    "print_store",
    "refuse",
    "report_audit_verification",
    "run_command",
    "shown_argument",
    "with_new_store",
    "write_private",
]

_T = TypeVar("_T")

#: The start of an emergency card's QR text (``HM1:``; a later version's number too, so that
#: its text is refused as that version, not looked for as a file).
_CARD_PREFIX = re.compile(r"HM[0-9]+:")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def looks_like_jws(text: str) -> bool:
    """Three base64url parts (ASCII letters, digits, ``-``, ``_``) separated by dots."""
    parts = text.split(".")
    return len(parts) == 3 and all(_BASE64URL.fullmatch(part) for part in parts)


def shown_argument(argument: str) -> str:
    """A "file or text" argument as an error names it: whole up to 120 characters (a file's
    path), else its first 40 (a credential pasted with a typo, health data, is not printed
    whole)."""
    return argument if len(argument) <= 120 else argument[:40] + "..."


def looks_like_inline_text(argument: str) -> bool:
    """Whether a command-line argument is a document's text rather than a file's name: an
    emergency card (``HM1:``...), a SMART Health Card (``shc:/``...), a compact SD-JWT or JWS
    (its header ``eyJ``..., three base64url parts), or a JSON object (``{``...). One rule for
    every command that takes "a file or the text" (``verify``, ``er scan``, ``insurer
    verify``, ``wallet import``); a file whose name starts so is read when given as ``./NAME``.
    """
    text = argument.strip()
    if text.startswith(("shc:/", "{")) or _CARD_PREFIX.match(text):
        return True
    head = text.split("~", 1)[0]
    return head.startswith("eyJ") and looks_like_jws(head)


def run_command(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """``asyncio.run(work())``; a :class:`~agent.errors.HealthMyDataError` is printed on stderr
    (:func:`agent.console.print_error`) and ends the command with exit status 1."""
    try:
        return asyncio.run(work())
    except HealthMyDataError as exc:
        print_error(error_console(), exc)
        raise typer.Exit(1) from None


async def with_new_store(uri: str, action: Callable[[Store], Awaitable[_T]]) -> _T:
    """Open the store at ``uri``, creating it and its key (:func:`agent.storeconfig.store_key`
    with ``create=True``) when it does not exist, run ``action`` on it and close it.

    :raises agent.errors.StorageError: the store does not open (wrong key, unreachable).
    """
    opened = await open_store(uri, raw_key=store_key(uri, create=True))
    try:
        return await action(opened)
    finally:
        await opened.close()


def print_store(out: Console, uri: str) -> None:
    """The ``store`` line of an ``init`` command's summary, then, for a SQLite store, the
    ``store key file`` line naming the key file beside it."""
    out.print(f"store          {uri}")
    key_file = key_file_for(uri)
    if key_file is not None:
        out.print(f"store key file {key_file} (keep it secret; or set MYDATA_STORE_KEY)")


class AuditVerificationResult(Protocol):
    """What a party's audit log ``verify()`` answers (each party has its own log class)."""

    @property
    def ok(self) -> bool: ...
    @property
    def entries(self) -> int: ...
    @property
    def first_bad_seq(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...


def report_audit_verification(out: Console, result: AuditVerificationResult) -> None:
    """Print that the chain is intact, or that it was tampered with and where (then exit 1)."""
    if result.ok:
        out.print(f"[green]audit log intact[/]: {result.entries} entries, chain verified")
        return
    out.print(
        f"[bold red]audit log TAMPERED[/]: {result.reason} at entry {result.first_bad_seq} "
        f"({result.entries} entries verified before it)"
    )
    raise typer.Exit(1)


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to a file only its owner can read: 0600 from its creation (not chmod-ed
    after), and an existing file that is overwritten made 0600 too (it keeps its mode bits
    otherwise). For anything holding health data or a secret: credentials, backups, cards.

    :param replace: ``False`` never overwrites: an existing file is ``FileExistsError``.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def check_output_file(output: Path) -> None:
    """Refuse an ``-o`` file that cannot be written, before the credential it is for is
    issued: one issued and then not written is lost to its holder, yet it was audited and took
    status list indexes (exit 2, nothing done)."""
    if output.is_dir():
        refuse(f"-o {output} is a folder; give the file to write (nothing was issued)")
    parent = output.parent
    if not parent.is_dir():
        refuse(f"-o {output}: the folder {parent} does not exist (nothing was issued)")
    if not os.access(output if output.exists() else parent, os.W_OK):
        refuse(f"-o {output} is not writable (nothing was issued)")


def refuse(message: str, *, code: ErrorCode = ErrorCode.INVALID_INPUT) -> NoReturn:
    """Print ``error: [code] message`` and end with exit status 2: input the command cannot
    use, as a bad option is (nothing was done)."""
    print_error(error_console(), InvalidInputError(message, code=code))
    raise typer.Exit(2)
