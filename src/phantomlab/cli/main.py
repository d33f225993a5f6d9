"""Entry point of the ``phantomlab`` command.

Every user error reaches the terminal as one line per problem (field, value,
limit, source) and exit code 2; no traceback. Set ``PHANTOMLAB_DEBUG=1`` to see
tracebacks of internal errors.
"""

from __future__ import annotations

import os
import sys

import typer

from phantomlab import __version__
from phantomlab.exceptions import InputError, PhantomLabError

app = typer.Typer(
    name="phantomlab",
    help="PhantomLab: neuromodulation of phantom limb pain, in silico and in evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    """Attach one sub-application per domain (``phantomlab <domain> <verb>``)."""
    from importlib import import_module

    for name, module in _DOMAINS:
        sub = import_module(f"phantomlab.cli.{module}")
        app.add_typer(sub.app, name=name)


#: (command name, module in phantomlab.cli) for each domain; add a line per domain.
_DOMAINS: list[tuple[str, str]] = [
    ("trial", "trial"),
    ("meta", "meta"),
    ("evidence", "evidence"),
    ("field", "fields"),
    ("protocol", "protocol"),
    ("therapy", "therapy"),
    ("optimize", "optimize"),
    ("patient", "patient"),
    ("bci", "bci"),
    ("report", "report"),
]


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """PhantomLab command-line interface."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def main() -> None:
    """Run the command line; map PhantomLab errors to one line each and exit code 2."""
    _register()
    try:
        app()
    except InputError as exc:
        for p in exc.problems:
            typer.echo(f"error: {p.line()}", err=True)
        sys.exit(2)
    except PhantomLabError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except Exception as exc:  # last resort: internal error, not bad input
        if os.environ.get("PHANTOMLAB_DEBUG"):
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc} "
            "(set PHANTOMLAB_DEBUG=1 for a traceback and please report it)",
            err=True,
        )
        sys.exit(1)
