"""What each party sees and decides, printed with rich; and what the demo expected.

A decision is printed as one line, ``decision: <party> <VERDICT> <what>``, whatever else the
story shows, so that a reader (and ``tests/demo``) finds every verdict the same way. An
expectation that does not hold is printed in red and fails the story, without stopping it:
the rest of the story still shows what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["Narrator", "Shared"]

_VERDICT_STYLE = {
    "ACCEPTED": "bold green",
    "VERIFIED": "bold green",
    "PASSED": "bold green",
    "STORED": "bold green",
    "REJECTED": "bold red",
    "REFUSED": "bold red",
    "FLAGGED": "bold yellow",
    "FAILED": "bold red",
}


@dataclass
class Narrator:
    """Prints a story's steps and keeps count of unmet expectations per story."""

    console: Console
    story: str = ""
    failures: dict[str, list[str]] = field(default_factory=dict)

    def begin(self, number: int, title: str) -> None:
        self.story = f"story {number}"
        self.failures.setdefault(self.story, [])
        self.console.print()
        self.console.rule(f"[bold]Story {number}. {escape(title)}", align="left")

    def says(self, party: str, text: str) -> None:
        """``party`` does or sees something (``text`` may hold rich markup)."""
        self.console.print(f"  [bold cyan]{escape(party):>10}[/]  {text}", soft_wrap=True)

    def detail(self, text: str) -> None:
        self.console.print(f"              [dim]{escape(text)}[/]", soft_wrap=True)

    def table(self, table: Table) -> None:
        self.console.print(table)

    def decision(self, party: str, verdict: str, what: str) -> None:
        """One verdict, on a line of its own: ``decision: <party> <VERDICT> <what>``."""
        style = _VERDICT_STYLE.get(verdict, "bold")
        self.console.print(
            f"  [bold]decision:[/] {escape(party)} [{style}]{verdict}[/] {escape(what)}",
            soft_wrap=True,
        )

    def expect(self, holds: bool, what: str) -> bool:
        """Record ``what`` as unmet when it does not hold."""
        if not holds:
            self.failures.setdefault(self.story, []).append(what)
            self.console.print(f"  [bold red]unexpected:[/] {escape(what)}", soft_wrap=True)
        return holds

    def failed(self, error: BaseException) -> None:
        """The story stopped with ``error``."""
        message = f"{type(error).__name__}: {error}"
        self.failures.setdefault(self.story, []).append(message)
        self.console.print(f"  [bold red]the story stopped:[/] {escape(message)}", soft_wrap=True)

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())


@dataclass
class Shared:
    """What one story leaves for the next (connection ids, what the wallet holds)."""

    operator_did: str = ""
    #: the verifiers' trust cache (:meth:`verifier.trust.TrustRegistry.save`), from story 1
    trust_cache: Path | None = None
    accreditation_id: str = ""
    #: the wallet's connection to each party, and that party's connection to the wallet
    wallet_connections: dict[str, str] = field(default_factory=dict)
    peer_connections: dict[str, str] = field(default_factory=dict)
    #: stored credentials' metadata by kind and format, e.g. ("EmergencySummary", "dc+sd-jwt")
    held: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: the emergency card's QR text, the ER's offline cache, the summary's status list
    card: str = ""
    er_cache: dict[str, Any] | None = None
    status_uri: str = ""
