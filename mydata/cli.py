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

__all__ = ["build_app", "main"]


def build_app(*, serve_only: bool = False) -> typer.Typer:
    """The root app with every registered party's commands attached.

    ``serve_only``: just ``mydata serve``, for a service's start-up, which then imports only
    its own party's modules, not every party's commands (a quarter of its start-up).
    """
    root = typer.Typer(
        name="mydata",
        help="health-mydata: verifiable health records that the citizen controls.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    from mydata.serve import register as register_serve

    if serve_only:
        # A callback keeps the group: with one command typer would run it as the root.
        root.callback()(lambda: None)
        register_serve(root)
        return root
    for entry in sorted(entry_points(group="mydata.commands"), key=lambda e: e.name):
        register = entry.load()
        register(root)
    from mydata.apidocs import register as register_docs
    from mydata.demo import register as register_demo

    register_demo(root)
    register_docs(root)
    register_serve(root)
    return root


def main() -> None:
    """Console-script entry point: no command ends in a traceback.

    Every party's command turns our own errors into ``error: [code] message``; here a file
    the user named that cannot be read or written becomes the same kind of line (exit 2), and
    anything else a short message (exit 70) with the traceback only under ``MYDATA_DEBUG=1``.
    """
    try:
        build_app(serve_only=sys.argv[1:2] == ["serve"])()
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
