"""Terminal output shared by every party's commands (rich, with no markup or emoji surprises)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from agent.errors import HealthMyDataError

__all__ = ["error_console", "escape", "print_error", "stdout_console"]


def stdout_console() -> Console:
    """A console for results. Emoji codes are off: ``did:key:`` must not become a key glyph."""
    return Console(emoji=False, highlight=False)


def error_console() -> Console:
    """A console on stderr for errors and progress."""
    return Console(stderr=True, emoji=False, highlight=False)


def print_error(console: Console, error: HealthMyDataError) -> None:
    """``error: [code] message`` with the message escaped, then what to do next if known."""
    console.print(f"[red]error:[/] {escape(f'[{error.code}]')} {escape(error.message)}")
