"""Import and export of extraction data: a long-format sheet and RevMan 5 analysis CSV.

Long-format extraction sheet
    One row per study x arm x outcome x time point, with the columns of the evidence
    base (:data:`~phantomlab.evidence.records.COLUMNS`, described in
    ``docs/evidence.md``). :func:`read_extraction` accepts the columns in any order and
    lets optional columns be absent (:data:`REQUIRED` must be there); every row is
    validated as the shipped table is (one message per problem, naming file, line,
    study and field). :func:`write_extraction` writes a table back; the round trip
    gives the same records.

RevMan 5 analysis data (CSV)
    The layout of RevMan 5's "File - Export - Data and analyses" CSV, as read from the
    example export ``inst/extdata/Fleiss93_CR.csv`` and the importer ``R/read.rm5.R`` of
    the R package *meta* (guido-s/meta on GitHub): header :data:`REVMAN_COLUMNS`; a
    comparison row (``Outcome Number`` 0), then per outcome a header row (``Data Type``
    ``DIC`` dichotomous or ``CON`` continuous, ``Statistical Method``, ``Effect
    Measure``, ``Analysis Model``, pooled numbers, group and graph labels) followed by
    one row per study (``Events 1``, ``Mean 1``, ``SD 1``, ``Total 1`` for the
    experimental arm, ``... 2`` for the control arm, ``Effect Estimate``, ``SE``,
    ``CI Start``, ``CI End``, ``Weight`` (%), ``Year of study``). RevMan writes 0 in the
    cells a data type does not use, as the example does. Ratio measures (OR, RR) are
    written on the ratio scale, their ``SE`` on the log scale (as in the example).
    :func:`write_revman` writes the pooled groups of a
    :class:`~phantomlab.evidence.synthesis.SynthesisResult` (one comparison per
    analysis, one outcome per group); :func:`read_revman` reads such a file (ours or
    RevMan's) into one row per study with the arm data, ready for ``escalc``.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab.evidence.records import COLUMNS, StudyRecord, StudyTable, load_studies
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from phantomlab.evidence.synthesis import SynthesisResult

__all__ = [
    "REQUIRED",
    "analysis_table",
    "journal_forest",
    "REVMAN_COLUMNS",
    "read_extraction",
    "read_revman",
    "write_extraction",
    "write_revman",
]

_SOURCE = "docs/evidence.md (long-format extraction sheet)"
_RM_SOURCE = "RevMan 5 data-and-analyses CSV (layout of meta's Fleiss93_CR.csv export)"

#: Columns a long-format sheet must have (the others may be left out).
REQUIRED: tuple[str, ...] = tuple(
    dict.fromkeys(
        [c for c in COLUMNS if StudyRecord.model_fields[c].is_required()]
        + ["patient_group", "population", "design_role"]
    )
)

#: The header of a RevMan 5 "Data and analyses" CSV export, in its order.
REVMAN_COLUMNS: tuple[str, ...] = (
    "Comparison Number",
    "Outcome Number",
    "Subgroup Number",
    "Name",
    "Data Type",
    "Statistical Method",
    "Effect Measure",
    "Analysis Model",
    "Events 1",
    "Mean 1",
    "SD 1",
    "Total 1",
    "Events 2",
    "Mean 2",
    "SD 2",
    "Total 2",
    "Effect Estimate",
    "SE",
    "CI Start",
    "CI End",
    "Weight",
    "Q",
    "P(Q)",
    "I²(Q)",
    "Tau²",
    "Z",
    "P(Z)",
    "Qint",
    "P(Qint)",
    "I²(Qint)",
    "df",
    "Group Label 1",
    "Group Label 2",
    "Left Graph Label",
    "Right Graph Label",
    "Year of study",
    "User defined order",
)

_RM_MEASURE = {"RR": "RR", "OR": "OR", "RD": "RD", "MD": "MD", "SMD": "SMD"}
_RATIO = ("RR", "OR")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, tuple):
        return ";".join(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_extraction(table: StudyTable, path: str | Path) -> Path:
    """Write a table as a long-format extraction sheet (the evidence CSV layout).

    Parameters
    ----------
    table : StudyTable
        The records (e.g. :func:`~phantomlab.evidence.records.load_studies`).
    path : str or Path
        Output CSV (UTF-8).

    Returns
    -------
    Path
        The file written.
    """
    p = Path(path)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in table:
        d = r.model_dump()
        w.writerow([_cell(d[c]) for c in COLUMNS])
    p.write_text(buf.getvalue(), encoding="utf-8")
    return p


def read_extraction(path: str | Path) -> StudyTable:
    """Read and validate a long-format extraction sheet.

    Parameters
    ----------
    path : str or Path
        CSV with at least the :data:`REQUIRED` columns, in any order; the other
        columns of :data:`~phantomlab.evidence.records.COLUMNS` may be absent.

    Returns
    -------
    StudyTable
        The validated records (``source`` is the file).

    Raises
    ------
    InputError
        One problem per missing or unknown column, or per bad field of a row (file,
        line, study and field named, as for the shipped table).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(Problem("--data", str(p), "an existing CSV file", "", "file not found"))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(p.name, f"byte {exc.start}", "UTF-8 text", _SOURCE, "file is not UTF-8")
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(
            Problem(p.name, "", "a CSV table", _SOURCE, f"unreadable: {exc}")
        ) from None
    if not rows:
        raise InputError(Problem(p.name, "empty", "a header and rows", _SOURCE, "empty file"))
    header = [h.strip() for h in rows[0]]
    probs = [
        Problem(
            f"{p.name}:1 (header)", c, "a column of the sheet", _SOURCE, "required column missing"
        )
        for c in REQUIRED
        if c not in header
    ]
    probs += [
        Problem(f"{p.name}:1 (header)", c, "a column of records.COLUMNS", _SOURCE, "unknown column")
        for c in header
        if c not in COLUMNS
    ]
    dup = sorted({c for c in header if header.count(c) > 1})
    probs += [
        Problem(f"{p.name}:1 (header)", c, "each column once", _SOURCE, "duplicated column")
        for c in dup
    ]
    if probs:
        raise InputError(probs)
    pos = {c: i for i, c in enumerate(header)}
    with tempfile.TemporaryDirectory() as tmp:
        norm = Path(tmp) / p.name  # same name, so messages name the user's file
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for row in rows[1:]:
            if len(row) != len(header):
                w.writerow(row)  # let the loader report the wrong cell count on its line
                continue
            w.writerow([row[pos[c]] if c in pos else "" for c in COLUMNS])
        norm.write_text(buf.getvalue(), encoding="utf-8")
        tab = load_studies(norm)
    return StudyTable(list(tab), str(p))


def _num(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else repr(float(x))


def write_revman(result: SynthesisResult, path: str | Path) -> Path:
    """Write the two-arm analyses of a synthesis as a RevMan 5 analysis-data CSV.

    Parameters
    ----------
    result : SynthesisResult
        From :func:`~phantomlab.evidence.synthesis.synthesize`. Groups whose measure
        RevMan has no two-arm equivalent for (PLO, PR, MN: single-arm series) are
        left out.
    path : str or Path
        Output CSV.

    Returns
    -------
    Path
        The file written.
    """
    out: list[list[str]] = [list(REVMAN_COLUMNS)]
    analyses: dict[str, list[Any]] = {}
    for g in result.groups:
        if g.measure in _RM_MEASURE:
            analyses.setdefault(g.outcome, []).append(g)
    blank = [""] * len(REVMAN_COLUMNS)
    col = {c: i for i, c in enumerate(REVMAN_COLUMNS)}
    order = 0
    for ci, (outcome, groups) in enumerate(analyses.items(), start=1):
        row = blank.copy()
        row[col["Comparison Number"]], row[col["Outcome Number"]] = str(ci), "0"
        row[col["Subgroup Number"]], row[col["Name"]] = "0", f"Active vs control: {outcome}"
        out.append(row)
        for oi, g in enumerate(groups, start=1):
            dich = g.measure in ("RR", "OR", "RD")
            est, lb, ub = g.estimate()
            tr = np.exp if g.measure in _RATIO else (lambda x: x)
            w = np.asarray(g.fit.weights, dtype=float) if g.fit is not None else np.array([100.0])
            row = blank.copy()
            vals = {
                "Comparison Number": str(ci),
                "Outcome Number": str(oi),
                "Subgroup Number": "0",
                "Name": f"{outcome}: {g.group}",
                "Data Type": "DIC" if dich else "CON",
                "Statistical Method": "IV",
                "Effect Measure": g.measure,
                "Analysis Model": "Random",
                "Effect Estimate": _num(float(tr(est))),
                "CI Start": _num(float(tr(lb))),
                "CI End": _num(float(tr(ub))),
                "Weight": "100",
                "Tau²": _num(g.fit.tau2) if g.fit is not None else "",
                "Group Label 1": "Active",
                "Group Label 2": "Control",
                "Left Graph Label": "Favours active",
                "Right Graph Label": "Favours control",
            }
            for k, v in vals.items():
                row[col[k]] = v
            out.append(row)
            lo, hi = g.study_ci()
            for j, c in enumerate(g.comparisons):
                a = c.inputs
                order += 1
                row = blank.copy()
                if dich:
                    arm = {
                        "Events 1": a["ai"],
                        "Total 1": a["n1i"],
                        "Events 2": a["ci"],
                        "Total 2": a["n2i"],
                        "Mean 1": 0,
                        "SD 1": 0,
                        "Mean 2": 0,
                        "SD 2": 0,
                    }
                else:
                    arm = {
                        "Events 1": 0,
                        "Mean 1": a["m1i"],
                        "SD 1": a["sd1i"],
                        "Total 1": a["n1i"],
                        "Events 2": 0,
                        "Mean 2": a["m2i"],
                        "SD 2": a["sd2i"],
                        "Total 2": a["n2i"],
                    }
                vals = {
                    "Comparison Number": str(ci),
                    "Outcome Number": str(oi),
                    "Subgroup Number": "0",
                    "Name": c.label,
                    **{k: _num(float(v)) for k, v in arm.items()},
                    "Effect Estimate": _num(float(tr(g.yi[j]))),
                    "SE": _num(float(np.sqrt(g.vi[j]))),
                    "CI Start": _num(float(tr(lo[j]))),
                    "CI End": _num(float(tr(hi[j]))),
                    "Weight": _num(float(w[j])),
                    "Year of study": str(c.rows[0].year),
                    "User defined order": str(order),
                }
                for k, v in vals.items():
                    row[col[k]] = v
                out.append(row)
    p = Path(path)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(out)
    p.write_text(buf.getvalue(), encoding="utf-8")
    return p


def read_revman(path: str | Path) -> pd.DataFrame:
    """Read a RevMan 5 analysis-data CSV into one row per study and outcome.

    Parameters
    ----------
    path : str or Path
        CSV exported by RevMan 5 ("Data and analyses", with the fields Comparison,
        Outcome and Subgroup Number) or by :func:`write_revman`.

    Returns
    -------
    DataFrame
        Columns comparison, outcome, subgroup, outcome_name, data_type, measure, study,
        year and the arm data in metafor's names: ``ai, n1i, ci, n2i`` (dichotomous,
        ``DIC``) or ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (continuous, ``CON``).

    Raises
    ------
    InputError
        Missing mandatory columns, or a study row without an outcome header row.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(Problem("path", str(p), "an existing CSV file", "", "file not found"))
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    need = ("Comparison Number", "Outcome Number", "Subgroup Number", "Name", "Data Type")
    miss = [c for c in need + ("Events 1", "Total 1", "Events 2", "Total 2") if c not in df]
    if miss:
        raise InputError(
            [
                Problem(f"{p.name}:1 (header)", c, ", ".join(need), _RM_SOURCE, "missing")
                for c in miss
            ]
        )

    def f(x: str) -> float:
        try:
            return float(x) if x.strip() else float("nan")
        except ValueError:
            return float("nan")

    heads: dict[tuple[str, str], dict[str, str]] = {}
    rows: list[dict[str, Any]] = []
    probs: list[Problem] = []
    for i, r in df.iterrows():
        key = (r["Comparison Number"], r["Outcome Number"])
        if r["Outcome Number"] == "0":
            continue
        if r["Data Type"].strip():
            heads[key] = dict(r)
            continue
        if key not in heads:
            probs.append(
                Problem(
                    f"{p.name}:{int(str(i)) + 2}",
                    r["Name"],
                    "an outcome header row before it",
                    _RM_SOURCE,
                    "study row without its outcome",
                )
            )
            continue
        h = heads[key]
        dtype = h["Data Type"].strip().upper()
        nums = [f(r[c]) for c in ("Comparison Number", "Outcome Number")]
        nums.append(f(r["Subgroup Number"] or "0"))
        if not all(math.isfinite(x) for x in nums):
            probs.append(
                Problem(
                    f"{p.name}:{int(str(i)) + 2}",
                    str(nums),
                    "whole numbers",
                    _RM_SOURCE,
                    "comparison, outcome or subgroup number is not a number",
                )
            )
            continue
        row: dict[str, Any] = {
            "comparison": int(nums[0]),
            "outcome": int(nums[1]),
            "subgroup": int(nums[2]),
            "outcome_name": h["Name"],
            "data_type": dtype,
            "measure": h.get("Effect Measure", ""),
            "study": r["Name"],
            "year": f(r.get("Year of study", "")),
        }
        if dtype.startswith("DIC"):
            row.update(
                ai=f(r["Events 1"]), n1i=f(r["Total 1"]), ci=f(r["Events 2"]), n2i=f(r["Total 2"])
            )
        else:
            row.update(
                m1i=f(r["Mean 1"]),
                sd1i=f(r["SD 1"]),
                n1i=f(r["Total 1"]),
                m2i=f(r["Mean 2"]),
                sd2i=f(r["SD 2"]),
                n2i=f(r["Total 2"]),
            )
        rows.append(row)
    if probs:
        raise InputError(probs)
    return pd.DataFrame(rows)


def analysis_table(result: SynthesisResult, outcome: str) -> pd.DataFrame:
    """One row per study of one two-arm analysis, with its arm data and effect size.

    Parameters
    ----------
    result : SynthesisResult
        From :func:`~phantomlab.evidence.synthesis.synthesize`.
    outcome : str
        A two-arm analysis (``"pain"`` or ``"responders"``).

    Returns
    -------
    DataFrame
        Columns study_id, label, group, measure, outcome_label (the outcome as
        published, of the treatment arm), yi, vi and the arm data
        (``events1, n1, events2, n2`` or ``mean1, sd1, n1, mean2, sd2, n2``).

    Raises
    ------
    InputError
        If the result holds no two-arm group of that analysis.
    """
    rows = []
    for g in result.groups:
        if g.outcome != outcome or g.measure not in _RM_MEASURE:
            continue
        for j, c in enumerate(g.comparisons):
            a = c.inputs
            arm = (
                {"events1": a["ai"], "n1": a["n1i"], "events2": a["ci"], "n2": a["n2i"]}
                if "ai" in a
                else {
                    "mean1": a["m1i"],
                    "sd1": a["sd1i"],
                    "n1": a["n1i"],
                    "mean2": a["m2i"],
                    "sd2": a["sd2i"],
                    "n2": a["n2i"],
                }
            )
            rows.append(
                {
                    "study_id": c.study_id,
                    "label": c.label,
                    "group": g.group,
                    "measure": g.measure,
                    "outcome_label": c.rows[0].outcome,
                    "yi": float(g.yi[j]),
                    "vi": float(g.vi[j]),
                    **arm,
                }
            )
    if not rows:
        raise InputError(
            Problem(
                "outcome",
                outcome,
                "a two-arm analysis the result holds (pain, responders)",
                "",
                "no two-arm group of this analysis",
            )
        )
    return pd.DataFrame(rows)


def journal_forest(
    result: SynthesisResult,
    outcome: str,
    *,
    rob: Any = None,
    favours: tuple[str, str] = ("favours stimulation", "favours control"),
    path: str | Path | None = None,
) -> Any:
    """Journal-style forest plot of one analysis of the PLP synthesis.

    Studies grouped by the synthesis' groups (modality; for responders also by the
    responder threshold, 30 % and 50 % responders being different outcomes), each with
    its own diamond and weights; no overall diamond (the synthesis never pools different
    modalities or thresholds into one number);
    arm data, weights, estimate [CI] and, given ``rob``, RoB traffic lights (domains
    D1... and the overall judgement of the study's record; each record judges one
    named result of the study, see ``phantomlab evidence rob``).

    Parameters
    ----------
    result : SynthesisResult
        The synthesis.
    outcome : str
        ``"pain"`` or ``"responders"``.
    rob : RiskOfBias, optional
        Risk-of-bias records (:func:`~phantomlab.evidence.rob.load_rob`).
    favours : (str, str)
        Labels left and right of the null line.
    path : str or Path, optional
        Save to this file (.png, .pdf or .svg).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (see :func:`~phantomlab.meta.forest.forest_table`).
    """
    from phantomlab.meta.escalc_paired import responder_threshold
    from phantomlab.meta.forest import forest_table

    tab = analysis_table(result, outcome)
    measure = str(tab["measure"].iloc[0])
    groups = list(tab["group"])
    if outcome == "responders":
        thr = [responder_threshold(o) for o in tab["outcome_label"]]
        groups = [
            g if t is None or "responders >=" in g else f"{g}, responders >= {t:g} %"
            for g, t in zip(groups, thr, strict=True)
        ]
    ratio = measure in _RATIO
    cols: dict[str, list[str | None]] | None = None
    if rob is not None:
        per: list[dict[str, str]] = []
        for sid in tab["study_id"]:
            ds = rob.domains(sid)  # one judged result per study in the records
            row = {f"D{d.domain}": d.judgement for d in ds}
            if ds:
                row["All"] = str(rob.overall(sid))
            per.append(row)
        heads = sorted({h for r in per for h in r if h != "All"}, key=lambda h: int(h[1:]))
        heads += ["All"] if any("All" in r for r in per) else []
        cols = {h: [r.get(h) for r in per] for h in heads}
    xl = {"RR": "Risk ratio", "OR": "Odds ratio", "SMD": "Hedges' g", "MD": "Mean difference"}
    return forest_table(
        tab["yi"],
        tab["vi"],
        list(tab["label"]),
        groups=groups,
        overall=False,
        arms=tab,
        arm_names=("Stimulation", "Control"),
        transf="exp" if ratio else None,
        xlabel=f"{xl.get(measure, measure)} ({outcome})",
        favours=(favours[1], favours[0]) if ratio and outcome == "responders" else favours,
        rob=cols,
        method=str(result.settings.get("method", "REML")),
        level=float(result.settings.get("level", 95.0)),
        path=path,
    )
