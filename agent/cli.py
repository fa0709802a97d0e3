"""``mydata did ...``."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    did = typer.Typer(help="Create and resolve DIDs.", no_args_is_help=True)
    app.add_typer(did, name="did")
