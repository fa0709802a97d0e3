"""The ``mydata`` command: a typer app whose sub-commands each party registers.

Parties register through the ``mydata.commands`` entry-point group (see pyproject.toml): each
entry point is a function ``register(app: typer.Typer) -> None``. This keeps the parties from
importing each other; only this package and :mod:`mydata.demo` see them all.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

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
    """Console-script entry point."""
    app()
