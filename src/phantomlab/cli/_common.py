"""Helpers shared by the CLI modules: JSON output and the one error format.

Import budget: a command module imports only the standard library, ``typer`` and
this module at import time; numpy, pandas, rich consoles and the science packages
load inside the command that uses them (:func:`lazy_module`), so that ``--help``,
``protocol check`` and ``optimize suggest``/``record`` answer at once
(``tests/test_import_time.py``; ``docs/architecture.md``, "Import budget").
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer

from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    err_console: Console

__all__ = [
    "FORCE",
    "check_outputs",
    "console",
    "emit_json",
    "err_console",
    "fail",
    "jsonable",
    "lazy_module",
    "read_table",
    "write_csv",
    "write_figure",
]

_CONSOLES: dict[str, Console] = {}


def __getattr__(name: str) -> Any:
    """``console`` and ``err_console``: rich consoles made on first use (PEP 562)."""
    if name in ("console", "err_console"):
        if name not in _CONSOLES:
            from rich.console import Console

            _CONSOLES[name] = Console(stderr=name == "err_console")
        return _CONSOLES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _LazyModule:
    """Stand-in for a module that is imported on the first attribute read."""

    __slots__ = ("_lazy_target",)

    def __init__(self, name: str) -> None:
        self._lazy_target = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._lazy_target), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_target!r}>"


def lazy_module(name: str) -> ModuleType:
    """Return a module that is imported when one of its attributes is first read.

    ``np = lazy_module("numpy")`` costs nothing until ``np.something`` is read.

    Parameters
    ----------
    name : str
        Dotted module name.

    Returns
    -------
    ModuleType
        The module if it is imported already, else a stand-in that imports it on use.
    """
    loaded = sys.modules.get(name)
    return loaded if loaded is not None else _LazyModule(name)  # type: ignore[return-value]


#: The ``--force`` option of every command that writes files: without it an existing
#: output is kept and the command stops with exit code 2 before doing any work.
FORCE = typer.Option(False, "--force", help="Replace output files that already exist.")


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and NaN into JSON-friendly values.

    Parameters
    ----------
    obj : Any
        Nested structure of dicts, lists, numbers, arrays.

    Returns
    -------
    Any
        The same structure with plain Python types; NaN and inf become ``None``.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    np = sys.modules.get("numpy")  # a numpy value means numpy is imported already
    if np is not None and isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if np is not None and isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON document on standard output.

    Parameters
    ----------
    obj : Any
        JSON-able structure (numpy types are converted).
    """
    typer.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def emit_result(res: Any, as_json: bool) -> None:
    """Print a result: ``res.to_dict()`` as JSON with ``--json``, else ``res.summary()``.

    Parameters
    ----------
    res : Any
        A result object with ``to_dict()`` and ``summary()``.
    as_json : bool
        The command's ``--json`` flag.
    """
    if as_json:
        emit_json(res.to_dict())
    else:
        typer.echo(res.summary())


def fail(problems: list[Problem] | Problem) -> None:
    """Stop the command with these problems (printed one per line, exit code 2).

    Parameters
    ----------
    problems : list of Problem or Problem
        What went wrong.
    """
    raise InputError(problems if isinstance(problems, list) else [problems])


def read_table(path: Path) -> Any:
    """Read a CSV (or TSV) data file into a pandas DataFrame with a clear error.

    Parameters
    ----------
    path : Path
        File to read.

    Returns
    -------
    pandas.DataFrame
        The table.
    """
    import pandas as pd

    if not path.exists():
        raise InputError(Problem("file", str(path), "an existing file", "", "file not found"))
    sep = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        return pd.read_csv(path, sep=sep)
    except Exception as exc:  # pandas raises many parser error types
        raise InputError(
            Problem("file", str(path), "a readable CSV table", "", f"cannot read: {exc}")
        ) from None


def check_outputs(force: bool, **paths: Path | None) -> None:
    """Refuse, before any work, output paths that exist (unless ``force``) or cannot be made.

    Parameters
    ----------
    force : bool
        The command's ``--force``.
    **paths : Path or None
        Option name (``out``, ``plot``...) to path; ``None`` entries are skipped.
    """
    from phantomlab._io import check_output

    problems: list[Problem] = []
    for name, path in paths.items():
        if path is None:
            continue
        try:
            check_output(path, overwrite=force, field=f"--{name.replace('_', '-')}")
        except InputError as exc:
            problems += exc.problems
    if problems:
        fail(problems)


def write_csv(
    path: Path, frame: Any, *, force: bool, field: str = "--out", private: bool = True
) -> Path:
    """Write a table as CSV: atomically, formula-leading text cells escaped, 0600 by default.

    Parameters
    ----------
    path : Path
        Output file.
    frame : pandas.DataFrame
        The table (written without its index).
    force : bool
        Replace an existing file.
    field : str
        Option name for error messages.
    private : bool
        Mode 0600 (exports may hold patient-level rows).

    Returns
    -------
    Path
        The file written.
    """
    from phantomlab._io import atomic_write, frame_csv_bytes

    return atomic_write(path, frame_csv_bytes(frame), overwrite=force, private=private, field=field)


def write_figure(path: Path, fig: Any, *, force: bool, field: str = "--plot", **kw: Any) -> Path:
    """Save a matplotlib Figure atomically (format from the suffix).

    Parameters
    ----------
    path : Path
        Output file.
    fig : matplotlib.figure.Figure
        The figure.
    force : bool
        Replace an existing file.
    field : str
        Option name for error messages.
    **kw
        Passed to ``Figure.savefig`` (``dpi``, ``bbox_inches``).

    Returns
    -------
    Path
        The file written.
    """
    from phantomlab._io import save_figure

    return save_figure(fig, path, overwrite=force, field=field, **kw)
