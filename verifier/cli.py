"""``mydata verify``."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify() -> None:
        """Verify a credential or presentation."""
