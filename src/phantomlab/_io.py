"""Output files: atomic writes, explicit overwrite, private modes, safe CSV, the user data folder.

Every file PhantomLab writes on a user's behalf goes through :func:`atomic_write`:

* the content is written to a temporary file **in the target's folder** (named
  ``.tmp-<random>-<name>`` so that a killed writer never leaves a file at the final
  path), flushed and ``fsync``-ed, then moved into place with ``os.replace`` (or,
  when overwriting is not allowed, linked into place with ``os.link``, which fails
  if the name exists - no check-then-write race); the folder is ``fsync``-ed too;
* an existing file is kept unless ``overwrite=True`` (the CLI's ``--force``);
  :func:`check_output` says so *before* a long computation starts;
* ``private=True`` creates the file with mode 0600 (owner read/write only) for
  anything that holds patient-level data; otherwise the usual ``0666 & ~umask``.

:func:`escape_csv_frame` neutralizes spreadsheet formulas in text cells before a
table is exported as CSV (OWASP ASVS 5.0 requirement 1.2.10, "CSV and Formula
Injection": values whose first character is ``=``, ``+``, ``-``, ``@``, tab or NUL are
escaped with a leading single quote; carriage return is added here as well, as in
the OWASP "CSV Injection" guidance quoted by the issue - that page itself not seen).
Numeric columns stay numbers (a negative number is not text and is not escaped).

:func:`user_data_dir` is where PhantomLab keeps what a user makes (a calibration,
the default optimizer database): ``$PHANTOMLAB_DATA_DIR`` when set, else the
platform's user data folder (``platformdirs.user_data_dir("phantomlab")``: on Linux
``$XDG_DATA_HOME/phantomlab`` or ``~/.local/share/phantomlab``). Nothing is ever
written into the installed package.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATA_DIR_ENV",
    "FORMULA_PREFIXES",
    "atomic_write",
    "check_output",
    "escape_csv_cell",
    "escape_csv_frame",
    "existing",
    "parse_error_text",
    "safe_names",
    "frame_csv_bytes",
    "private_file",
    "save_figure",
    "user_data_dir",
]

#: Environment variable that overrides the user data folder.
DATA_DIR_ENV = "PHANTOMLAB_DATA_DIR"

#: First characters that make a spreadsheet read a CSV cell as a formula
#: (OWASP ASVS 5.0 1.2.10: = + - @ tab NUL; carriage return added, see module doc).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def user_data_dir(*, create: bool = False) -> Path:
    """Return the folder for files a user makes (``$PHANTOMLAB_DATA_DIR`` or platformdirs).

    Parameters
    ----------
    create : bool
        Create it (mode 0700) if missing.

    Returns
    -------
    Path
        The folder.
    """
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("phantomlab", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def check_output(path: str | Path, *, overwrite: bool = False, field: str = "output") -> Path:
    """Check that ``path`` may be written; call it before the work that produces it.

    Parameters
    ----------
    path : str or Path
        Target file.
    overwrite : bool
        Whether an existing file may be replaced (the CLI's ``--force``).
    field : str
        Option name for the message.

    Returns
    -------
    Path
        The path.

    Raises
    ------
    InputError
        If the file exists (and ``overwrite`` is false), the path is a folder, or its
        folder does not exist.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(Problem(field, str(p), "a file path", "", "is a folder"))
    if not p.parent.is_dir():
        raise InputError(
            Problem(field, str(p), "a path in an existing folder", "", "folder not found")
        )
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise InputError(
            Problem(
                field,
                str(p),
                "a new file, or --force to replace it",
                "",
                "exists; kept (give --force to replace it)",
            )
        )
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform / file system allows it
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: str | Path,
    content: bytes | str | Callable[[Path], Any],
    *,
    overwrite: bool = False,
    private: bool = False,
    field: str = "output",
    encoding: str = "utf-8",
) -> Path:
    """Write a file atomically: temporary file in the same folder, fsync, rename.

    Parameters
    ----------
    path : str or Path
        Final file.
    content : bytes, str or callable
        The bytes or text to write, or ``writer(tmp_path)`` that writes the file at
        ``tmp_path`` itself (``DataFrame.to_csv``, ``Figure.savefig``...). The temporary
        name ends with the final name, so suffix-based format detection still works.
    overwrite : bool
        Replace an existing file (otherwise :class:`InputError`, file kept).
    private : bool
        Create the file with mode 0600 (patient-level data).
    field : str
        Option name for error messages.
    encoding : str
        Encoding of text ``content``.

    Returns
    -------
    Path
        The final path.

    Raises
    ------
    InputError
        If the file exists and ``overwrite`` is false, or the folder is missing or not
        writable.
    """
    p = check_output(path, overwrite=overwrite, field=field)
    tmp = p.parent / f".tmp-{secrets.token_hex(4)}-{p.name}"
    mode = 0o600 if private else 0o666 & ~_umask()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(
            Problem(field, str(p), "a writable folder", "", f"cannot write ({exc.strerror})")
        ) from None
    try:
        if callable(content):
            os.close(fd)
            content(tmp)
            fd = os.open(tmp, os.O_RDWR)
        else:
            data = content.encode(encoding) if isinstance(content, str) else bytes(content)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        if overwrite:
            os.replace(tmp, p)
        else:
            try:
                os.link(tmp, p)  # fails if the name appeared meanwhile: nothing replaced
            except FileExistsError:
                check_output(p, overwrite=False, field=field)
                raise
            os.unlink(tmp)
        _fsync_dir(p.parent)
    finally:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return p


def save_figure(
    fig: Any,
    path: str | Path,
    *,
    overwrite: bool = True,
    field: str = "path",
    **kwargs: Any,
) -> Path:
    """Save a matplotlib Figure atomically; the format comes from the suffix (PNG if none).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Target file.
    overwrite : bool
        Replace an existing file (the API default; the CLI passes its ``--force``).
    field : str
        Option name for error messages.
    **kwargs
        Passed to ``Figure.savefig`` (``dpi``, ``bbox_inches``...).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        For an image format matplotlib cannot write, or an existing file without
        ``overwrite``.
    """
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise InputError(
            Problem(field, str(p), "a file name ending in " + ", ".join(sorted(supported)),
                    "", "unknown image format")
        )  # fmt: skip
    return atomic_write(
        p, lambda tmp: fig.savefig(tmp, format=fmt, **kwargs), overwrite=overwrite, field=field
    )


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (existing files kept as are).

    Parameters
    ----------
    path : str or Path
        File to create (e.g. an SQLite database before the driver opens it).

    Returns
    -------
    Path
        The path.
    """
    p = Path(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return p


def escape_csv_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula.

    Parameters
    ----------
    value : Any
        A cell; only ``str`` values are changed.

    Returns
    -------
    Any
        The escaped cell.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and column names cannot run as formulas.

    Parameters
    ----------
    frame : pandas.DataFrame
        Table to export.

    Returns
    -------
    pandas.DataFrame
        Text (object, string, category) columns escaped with :func:`escape_csv_cell`;
        numeric columns unchanged.
    """
    out = frame.copy()
    for col in out.columns:
        kind = out[col].dtype.kind
        if kind in "OSU" or str(out[col].dtype) in ("string", "category"):
            out[col] = out[col].astype(object).map(escape_csv_cell)
    out.columns = [escape_csv_cell(c) for c in out.columns]
    return out


def frame_csv_bytes(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    """Return ``frame`` as escaped CSV bytes (UTF-8, LF line ends, no index by default).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table.
    **kwargs
        Passed to ``DataFrame.to_csv``.

    Returns
    -------
    bytes
        The CSV file content.
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\n")
    return str(escape_csv_frame(frame).to_csv(**kwargs)).encode("utf-8")


def parse_error_text(exc: BaseException) -> str:
    """Describe a YAML/JSON parse error by position and problem only, never the file's text.

    ``str(yaml.YAMLError)`` quotes the offending line (a snippet of the file); error
    messages must not echo what a file holds, so only the line, column and the parser's
    problem statement are kept.

    Parameters
    ----------
    exc : BaseException
        A ``yaml.YAMLError`` (``problem`` and ``problem_mark``), a
        ``json.JSONDecodeError`` (``msg``, ``lineno``, ``colno``) or any exception.

    Returns
    -------
    str
        E.g. ``"syntax error at line 1, column 18: mapping values are not allowed here"``.
    """
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f" at line {mark.line + 1}, column {mark.column + 1}"
    elif hasattr(exc, "lineno") and hasattr(exc, "colno"):
        where = f" at line {exc.lineno}, column {exc.colno}"
    else:
        where = ""
    problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or type(exc).__name__
    return f"syntax error{where}: {str(problem)[:120]}"


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,39}$")


def safe_names(names: Iterable[Any], *, limit: int = 12) -> str:
    """List column names for an error message without echoing file content.

    Only identifier-like names (letters, digits, ``_``, ``.``; up to 40 characters) are
    shown, at most ``limit`` of them; the others are counted. A file that is not a
    table would otherwise have its first line echoed as "column names".

    Parameters
    ----------
    names : iterable
        Column names.
    limit : int
        Most names shown.

    Returns
    -------
    str
        E.g. ``"yi, vi, study and 2 other(s)"`` or ``"1 column(s) not shown"``.
    """
    items = [str(n) for n in names]
    shown = [n for n in items if _NAME.match(n)][:limit]
    rest = len(items) - len(shown)
    if not shown:
        return f"{rest} column(s) not shown; is it a CSV table with a header row?"
    return ", ".join(shown) + (f" and {rest} other(s)" if rest else "")


def existing(paths: Iterable[str | Path]) -> list[str]:
    """Return those of ``paths`` that exist (files, folders or dangling links)."""
    return [str(p) for p in paths if Path(p).exists() or Path(p).is_symlink()]
