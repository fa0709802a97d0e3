"""The ``mydata`` command: a typer app whose sub-commands each party registers.

Parties register through the ``mydata.commands`` entry-point group (see pyproject.toml): each
entry point is a function ``register(app: typer.Typer) -> None``. This keeps the parties from
importing each other; only this package and :mod:`mydata.demo` see them all.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import typer
from rich.markup import escape

from agent.console import error_console

__all__ = ["app", "build_app", "main"]


def build_app() -> typer.Typer:
    """The root app with every registered party's commands attached."""
    root = typer.Typer(
        name="mydata",
        help="health-mydata: verifiable health records that the citizen controls.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for entry in sorted(entry_points(group="mydata.commands"), key=lambda e: e.name):
        register = entry.load()
        register(root)
    from mydata.demo import register as register_demo
    from mydata.serve import register as register_serve

    register_demo(root)
    register_serve(root)
    return root


app = build_app()


def main() -> None:
    """Console-script entry point: no command ends in a traceback.

    Every party's command turns our own errors into ``error: [code] message``; here a file
    the user named that cannot be read or written becomes the same kind of line (exit 2), and
    anything else a short message (exit 70) with the traceback only under ``MYDATA_DEBUG=1``.
    """
    try:
        app()
    except OSError as exc:
        target = f" {exc.filename}" if exc.filename else ""
        error_console().print(f"[red]error:[/] {escape(exc.strerror or str(exc))}{escape(target)}")
        sys.exit(2)
    except Exception:
        if os.environ.get("MYDATA_DEBUG"):
            raise
        error_console().print(
            "[red]error:[/] an internal error stopped the command; run it again with "
            "MYDATA_DEBUG=1 to see where, and report it"
        )
        sys.exit(70)
