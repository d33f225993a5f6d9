"""Reading the evidence CSV and the checks that span rows (used by :mod:`.records`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phantomlab.exceptions import InputError, Problem

__all__ = ["read_rows", "table_problems"]


def read_rows(
    p: Path, columns: tuple[str, ...], source: str
) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Read a CSV whose header must be ``columns``; return its rows and row-shape problems.

    Parameters
    ----------
    p : Path
        The file (UTF-8, a byte-order mark is tolerated).
    columns : tuple of str
        The exact header expected.
    source : str
        Where the format is defined (shown in messages).

    Returns
    -------
    rows : list of (int, dict)
        Line number and the non-empty cells (stripped) of each well-shaped row;
        an empty cell is left out, so that required fields read as missing.
    problems : list of Problem
        One per row with a wrong number of cells.

    Raises
    ------
    InputError
        If the file is not UTF-8, not readable as CSV, or the header differs.
    """
    name = p.name
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(name, f"byte {exc.start}", "UTF-8 text", source, "file is not UTF-8 text")
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    raw_rows: list[tuple[int, dict[Any, Any]]] = []
    try:
        header = tuple(reader.fieldnames or ())
        for raw in reader:
            raw_rows.append((reader.line_num, raw))
    except csv.Error as exc:
        raise InputError(
            Problem(f"{name}:{reader.line_num + 1}", "", "a CSV row", source, f"unreadable: {exc}")
        ) from None
    if header != columns:
        missing = [c for c in columns if c not in header]
        extra = [c for c in header if c not in columns]
        what = "; ".join(
            s
            for s in (
                f"missing: {', '.join(missing)}" if missing else "",
                f"unknown: {', '.join(extra)}" if extra else "",
                "columns out of order" if not (missing or extra) else "",
            )
            if s
        )
        raise InputError(
            Problem(f"{name}:1 (header)", ",".join(header), ", ".join(columns), source, what)
        )
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    for line, raw in raw_rows:
        if None in raw or any(v is None for v in raw.values()):
            sid = (raw.get("study_id") or "").strip() or "?"
            cells = len([v for k, v in raw.items() if k is not None and v is not None])
            extra_cells = len(raw.get(None) or [])
            problems.append(
                Problem(
                    f"{name}:{line} ({sid})",
                    f"{cells + extra_cells} cells",
                    f"{len(columns)} cells",
                    source,
                    "wrong number of cells in the row",
                )
            )
            continue
        rows.append((line, {k: v.strip() for k, v in raw.items() if v.strip()}))
    return rows, problems


def table_problems(
    records: Sequence[Any], name: str, fields: Sequence[str], source: str
) -> list[Problem]:
    """Check rules that span rows: one citation and patient group per study, no duplicates.

    Parameters
    ----------
    records : sequence of StudyRecord
        Validated rows (with ``line`` set).
    name : str
        File name for the messages.
    fields : sequence of str
        Citation fields every row of one study must share.
    source : str
        Where the rules are defined.

    Returns
    -------
    list of Problem
        Empty when the table is consistent.
    """
    problems: list[Problem] = []
    first: dict[str, Any] = {}
    seen: dict[tuple[str, ...], int | None] = {}
    for r in records:
        f = first.setdefault(r.study_id, r)
        for fld in fields:
            if getattr(r, fld) != getattr(f, fld):
                problems.append(
                    Problem(
                        f"{name}:{r.line} ({r.study_id}).{fld}",
                        getattr(r, fld),
                        f"{getattr(f, fld)!r} as on line {f.line}",
                        source,
                        "rows of one study must share its citation",
                    )
                )
        for fld in ("patient_group",):
            if getattr(r, fld) != getattr(f, fld):
                problems.append(
                    Problem(
                        f"{name}:{r.line} ({r.study_id}).{fld}",
                        getattr(r, fld),
                        f"{getattr(f, fld)!r} as on line {f.line}",
                        source,
                        "rows of one study report on its patients: one patient group per study",
                    )
                )
        key = (r.study_id, r.modality, r.arm, r.outcome, r.timepoint, r.stat)
        if key in seen:
            problems.append(
                Problem(
                    f"{name}:{r.line} ({r.study_id})",
                    " | ".join(key[2:]),
                    "one row per study, modality, arm, outcome, time point and stat",
                    source,
                    f"duplicates line {seen[key]}",
                )
            )
        else:
            seen[key] = r.line
    return problems
