"""The ``mydata`` command: a typer app whose sub-commands each party registers.

Parties register through the ``mydata.commands`` entry-point group (see pyproject.toml): each
entry point is a function ``register(app: typer.Typer) -> None``. This keeps the parties from
importing each other; only this package and :mod:`mydata.demo` see them all.
"""

from __future__ import annotations

import os
import sys

import typer

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
    # Imported here, not at the top: ``mydata serve`` needs neither the entry points (their
    # metadata scan) nor the other commands (start-up time, docs/performance.md).
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="mydata.commands"), key=lambda e: e.name):
        register = entry.load()
        register(root)
    from mydata.apidocs import register as register_docs
    from mydata.demo import register as register_demo

    register_demo(root)
    register_docs(root)
    register_serve(root)
    return root


def _skip_httpx_command_line() -> None:
    """Keep httpx from importing its own command-line client (``httpx._main``).

    ``import httpx`` imports ``httpx._main`` only to offer ``httpx.main``, the ``httpx``
    console script, and that module imports click, rich (its progress bars, tables and syntax
    highlighting) and pygments: about 200 M instructions, 5 % of a service's start-up, for a
    function this program never calls. Marked as absent, the import fails and httpx falls back
    to its own stub ``main`` (what it does when its ``cli`` extra is not installed); nothing
    else in httpx changes. Done only before httpx is first imported.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _configure_store_runtime() -> None:
    """One askar runtime thread (:func:`agent.storage.configure_runtime`), or a clear error
    for a bad ``TOKIO_WORKER_THREADS`` instead of askar aborting the process later."""
    from agent.errors import InvalidInputError
    from agent.storage import configure_runtime

    try:
        configure_runtime()
    except InvalidInputError as exc:
        from agent.console import error_console, print_error

        print_error(error_console(), exc)
        sys.exit(2)


def main() -> None:
    """Console-script entry point: no command ends in a traceback.

    Every party's command turns our own errors into ``error: [code] message``; here a file
    the user named that cannot be read or written becomes the same kind of line (exit 2), a
    Ctrl-C ``interrupted`` (exit 130), and anything else a short message (exit 70) with the
    traceback only under ``MYDATA_DEBUG=1``.
    """
    _skip_httpx_command_line()
    _configure_store_runtime()
    try:
        build_app(serve_only=sys.argv[1:2] == ["serve"])()
    except OSError as exc:
        # rich is imported only when there is an error to print (start-up time).
        from agent.console import error_console, escape

        target = f" {exc.filename}" if exc.filename else ""
        error_console().print(f"[red]error:[/] {escape(exc.strerror or str(exc))}{escape(target)}")
        sys.exit(2)
    except KeyboardInterrupt:
        # Ctrl-C before a command's own handling took over (while modules load, say).
        if os.environ.get("MYDATA_DEBUG"):
            raise
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    except Exception:
        if os.environ.get("MYDATA_DEBUG"):
            raise
        from agent.console import error_console

        error_console().print(
            "[red]error:[/] an internal error stopped the command; run it again with "
            "MYDATA_DEBUG=1 to see where, and report it"
        )
        sys.exit(70)
