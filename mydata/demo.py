"""``mydata demo``: the stories end to end on embedded SQLite stores in a temporary folder."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Run the end-to-end demo."""
        typer.echo("demo: not yet")
