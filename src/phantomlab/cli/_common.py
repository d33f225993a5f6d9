"""Helpers shared by the CLI modules: JSON output and the one error format."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console

from phantomlab.exceptions import InputError, Problem

console = Console(stderr=False)
err_console = Console(stderr=True)

__all__ = ["console", "emit_json", "err_console", "fail", "jsonable", "read_table"]


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
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
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
