"""Entry point of the ``phantomlab`` command.

Every user error reaches the terminal as one line per problem (field, value,
limit, source) and exit code 2; no traceback. Set ``PHANTOMLAB_DEBUG=1`` to see
tracebacks of internal errors.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from phantomlab import __version__
from phantomlab.exceptions import InputError, PhantomLabError, one_line

app = typer.Typer(
    name="phantomlab",
    help="PhantomLab: neuromodulation of phantom limb pain, in silico and in evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    """Attach one sub-application per domain (``phantomlab <domain> <verb>``), once."""
    from importlib import import_module

    attached = {g.name for g in app.registered_groups}
    for name, module in _DOMAINS:
        if name not in attached:
            module, _, attr = module.partition(":")
            sub = import_module(f"phantomlab.cli.{module}")
            app.add_typer(getattr(sub, attr or "app"), name=name)
    commands = {c.name for c in app.registered_commands}
    for name, target in _COMMANDS:
        if name not in commands:
            module, _, attr = target.partition(":")
            app.command(name)(getattr(import_module(f"phantomlab.cli.{module}"), attr))


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
    ("admin", "clinic:admin_app"),
    ("audit", "clinic:audit_app"),
]
#: (command name, "module:function") of top-level commands.
_COMMANDS: list[tuple[str, str]] = [("serve", "clinic:serve")]


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


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Format a warning that reaches the terminal as one ``warning:`` line (no source line)."""
    return f"warning: {category.__name__}: {one_line(message)}\n"


def _usage_error(exc: typer.TyperException) -> int:
    """Print a command-line usage error (unknown option, bad type) as one line."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message()
    if ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":
        typer.echo(ctx.get_help())  # a bare group: its help page is the answer
        return 0
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    typer.echo(f"error: {one_line(message)}{hint}", err=True)
    return int(getattr(exc, "exit_code", 2))


def main(argv: list[str] | None = None) -> None:
    """Run the command line; map PhantomLab errors to one line each and exit code 2.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).
    """
    _register()
    shown = warnings.formatwarning
    warnings.formatwarning = _warning_line  # a library warning is one line too
    try:
        code = app(args=argv, prog_name="phantomlab", standalone_mode=False)
    except InputError as exc:
        for p in exc.problems:
            typer.echo(f"error: {p.line()}", err=True)
        sys.exit(2)
    except PhantomLabError as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    except typer.TyperException as exc:  # click's usage errors: unknown option, bad integer ...
        sys.exit(_usage_error(exc))
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except UnicodeDecodeError as exc:  # an input file that is not UTF-8 text
        typer.echo(
            f"error: an input file is not UTF-8 text (byte {exc.start}: {exc.reason})", err=True
        )
        sys.exit(2)
    except OSError as exc:  # the file system refused: missing folder, name too long, disk full
        where = f"{one_line(exc.filename, 160)}: " if exc.filename is not None else ""
        typer.echo(f"error: {where}{one_line(exc.strerror or exc)}", err=True)
        sys.exit(2)
    except MemoryError:
        typer.echo(
            "error: out of memory: the request is larger than this machine can hold "
            "(use smaller sizes)",
            err=True,
        )
        sys.exit(2)
    except Exception as exc:  # last resort: internal error, not bad input
        if os.environ.get("PHANTOMLAB_DEBUG"):
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {one_line(exc)} "
            "(set PHANTOMLAB_DEBUG=1 for a traceback and please report it)",
            err=True,
        )
        sys.exit(1)
    finally:
        warnings.formatwarning = shown
    sys.exit(code if isinstance(code, int) else 0)
